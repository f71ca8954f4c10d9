"""`zeroserve build` as a user runs it: a subprocess, a real registry, buildah's lines on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.images import REPO_ROOT, Registry
from zeroserve.cli.context import Context


def zeroserve(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", "--data-dir", str(data), *args],
        cwd=REPO_ROOT, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_build_prints_the_pinned_reference_and_shows_progress(
    tmp_path: Path, hello_source: Path, registry: Registry
) -> None:
    done = zeroserve(tmp_path, "build", str(hello_source), "-t", "cli/hello:v1", "--registry", registry.host)
    assert done.returncode == 0, done.stderr
    pinned = done.stdout.strip()
    assert pinned.startswith(f"{registry.host}/cli/hello@sha256:")
    err = done.stderr.splitlines()
    assert err[0] == f"Building {hello_source} as {registry.host}/cli/hello:v1:"
    assert "  STEP 1/5: FROM scratch" in err
    assert f"  Pushing {registry.host}/cli/hello:v1" in err
    assert err[-2].endswith(f": {pinned}") and err[-2].startswith("Built in ")


def test_the_registry_up_recorded_and_the_directory_name(
    tmp_path: Path, hello_source: Path, registry: Registry
) -> None:
    (tmp_path / "endpoints.json").write_text(json.dumps({"registry": f"{registry.host}/recorded"}))
    done = zeroserve(tmp_path, "build", str(hello_source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{registry.host}/recorded/hello-image@sha256:")
    done = zeroserve(tmp_path, "build", str(hello_source), "-t", "x/y", env={"ZEROSERVE_REGISTRY": registry.host})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{registry.host}/x/y@sha256:")


def test_errors_are_one_line_and_exit_1(tmp_path: Path, hello_source: Path) -> None:
    done = zeroserve(tmp_path, "build", str(hello_source), "-t", "hello:v1")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("error: no registry to push to: run `zeroserve up --serve-registry`")
    done = zeroserve(tmp_path, "build", str(tmp_path / "nope"), "-t", "127.0.0.1:5000/hello:v1")
    assert (done.returncode, done.stderr) == (1, f"error: {tmp_path / 'nope'}: not a directory\n")


def test_context_registry_from_env_then_endpoints(tmp_path: Path) -> None:
    assert Context.from_env(tmp_path, {}).registry == ""
    (tmp_path / "endpoints.json").write_text(json.dumps({"registry": "127.0.0.1:5000"}))
    assert Context.from_env(tmp_path, {}).registry == "127.0.0.1:5000"
    assert Context.from_env(tmp_path, {"ZEROSERVE_REGISTRY": "127.0.0.1:5001/x"}).registry == "127.0.0.1:5001/x"
