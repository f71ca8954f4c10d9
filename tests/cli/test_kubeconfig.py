"""DATA/kubeconfig: what up writes, and --merge into a user's kubeconfig without clobbering it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from zeroserve.cli import kubeconfig
from zeroserve.cli.main import app

OURS = kubeconfig.render("https://127.0.0.1:8001", b"-----BEGIN CERTIFICATE-----\n", "tok")


def test_render_names_everything_zeroserve() -> None:
    assert OURS["current-context"] == "zeroserve"
    cluster = OURS["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:8001"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"-----BEGIN CERTIFICATE-----\n"
    assert OURS["users"] == [{"name": "zeroserve", "user": {"token": "tok"}}]
    assert OURS["contexts"][0]["context"] == {"cluster": "zeroserve", "user": "zeroserve", "namespace": "default"}


def test_merge_keeps_other_entries_and_replaces_ours() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod"}}, {"name": "zeroserve", "cluster": {}}],
        "users": [{"name": "prod", "user": {"token": "p"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
        "current-context": "prod",
        "preferences": {"colors": True},
    }
    merged = kubeconfig.merge(existing, OURS)
    assert [c["name"] for c in merged["clusters"]] == ["prod", "zeroserve"]
    assert merged["clusters"][1] == OURS["clusters"][0]
    assert [u["name"] for u in merged["users"]] == ["prod", "zeroserve"]
    assert [c["name"] for c in merged["contexts"]] == ["prod", "zeroserve"]
    assert merged["current-context"] == "zeroserve"
    assert merged["preferences"] == {"colors": True}
    assert existing["current-context"] == "prod"  # the input is not changed


def test_merge_into_files(tmp_path: Path) -> None:
    target = tmp_path / "kube" / "config"
    assert kubeconfig.merge_into(target, OURS) == ""
    assert yaml.safe_load(target.read_text())["current-context"] == "zeroserve"
    assert target.stat().st_mode & 0o777 == 0o600
    target.write_text("apiVersion: v1\nclusters: []\ncurrent-context: other\n")
    assert kubeconfig.merge_into(target, OURS) == "other"
    target.write_text("- a list\n")
    with pytest.raises(kubeconfig.KubeconfigError, match="not a kubeconfig"):
        kubeconfig.merge_into(target, OURS)
    target.write_text("clusters: {}\n")
    with pytest.raises(kubeconfig.KubeconfigError, match="clusters must be a list"):
        kubeconfig.merge_into(target, OURS)


def test_user_kubeconfig_is_kubectls_choice(tmp_path: Path) -> None:
    assert kubeconfig.user_kubeconfig({}, tmp_path) == tmp_path / ".kube" / "config"
    assert kubeconfig.user_kubeconfig({"KUBECONFIG": f"/a:{tmp_path}/b"}, tmp_path) == Path("/a")
    assert kubeconfig.user_kubeconfig({"KUBECONFIG": ":/b"}, tmp_path) == Path("/b")


@pytest.mark.parametrize(
    ("command", "flag"),
    [(("up",), "--api-insecure-port"), (("kubeconfig",), "--merge"), (("build",), "--registry")],
)
def test_help_renders(command: tuple[str, ...], flag: str) -> None:
    """Rich markup: a ``[/PATH]`` in a help text ended ``up --help`` with a traceback."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert flag in result.output
