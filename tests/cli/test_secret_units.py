"""``secret create`` / ``configmap create`` sources, kubectl describe layouts, server Tables and the
apply merge of non-``spec`` content (pure, or reading files under tmp_path)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zeroserve import errors
from zeroserve.cli import sources
from zeroserve.cli.describe import config_map_lines, namespace_lines, secret_lines, tabbed
from zeroserve.cli.main import app
from zeroserve.cli.resources import LAST_APPLIED, _applied, _merged, server_table
from zeroserve.cli.secret import SecretOptions, build_config_map, build_secret


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_secret_from_literals_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "id_rsa").write_text("KEY")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.txt").write_text("A")
    (tmp_path / "dir" / "b.bin").write_bytes(b"\xff\x00")
    (tmp_path / "dir" / "sub").mkdir()
    opts = SecretOptions(
        literals=("user=admin,password=s3cret", "dsn=host=db"),
        files=(f"ssh={tmp_path / 'id_rsa'}", str(tmp_path / "dir")),
    )
    secret = build_secret("db", "ns", opts, {})
    assert secret["metadata"] == {"name": "db", "namespace": "ns"}
    assert "type" not in secret  # the server's default, Opaque
    assert secret["data"] == {
        "user": _b64("admin"),
        "password": _b64("s3cret"),
        "dsn": _b64("host=db"),
        "ssh": _b64("KEY"),
        "a.txt": _b64("A"),
        "b.bin": _b64(b"\xff\x00"),
    }


def test_secret_tls_and_docker_registry(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("CERT")
    (tmp_path / "k.pem").write_text("KEY")
    tls = build_secret("t", "ns", SecretOptions(tls_cert=str(tmp_path / "c.pem"), tls_key=str(tmp_path / "k.pem")), {})
    assert tls["type"] == "kubernetes.io/tls"
    assert tls["data"] == {"tls.crt": _b64("CERT"), "tls.key": _b64("KEY")}
    docker = build_secret("r", "ns", SecretOptions(docker_username="u", docker_password="p"), {})
    assert docker["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(docker["data"][".dockerconfigjson"]))
    assert config == {"auths": {"https://index.docker.io/v1/": {"username": "u", "password": "p", "auth": _b64("u:p")}}}
    typed = build_secret("x", "ns", SecretOptions(literals=("username=u",), type="kubernetes.io/basic-auth"), {})
    assert typed["type"] == "kubernetes.io/basic-auth"


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (SecretOptions(literals=("k=v",), tls_cert="c"), "TLS flags can't be combined with other options"),
        (SecretOptions(tls_cert="c"), "both --tls-cert and --tls-key flags are required"),
        (SecretOptions(files=("f",), tls_cert="c", tls_key="k"), "TLS flags can't be combined with other options"),
        (SecretOptions(literals=("k=v",), docker_username="u"), "--docker-* flags can't be combined"),
        (SecretOptions(docker_username="u"), "both --docker-username and --docker-password are required"),
        (SecretOptions(literals=("k=v",), env_files=("e",)), "from-env-file cannot be combined"),
        (SecretOptions(literals=("novalue",)), 'Argument requires a value that contains the "=" character'),
        (SecretOptions(literals=("=v",)), "The key is empty"),
        (SecretOptions(literals=("k=1,k=2",)), 'The key "k" has been duplicate in [k=1 k=2]'),
        (SecretOptions(literals=("bad key=1",)), '"bad key" is not valid key name for a Secret a valid config key'),
        (SecretOptions(literals=("..x=1",)), "must not start with '..'"),
        (SecretOptions(files=("/nonexistent/x",)), "error reading /nonexistent/x"),
        (SecretOptions(files=("a=b=c",)), "key names or file paths cannot contain '='"),
        (SecretOptions(files=("=p",)), "key name for file path p missing"),
    ],
)
def test_secret_errors(opts: SecretOptions, message: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        build_secret("db", "ns", opts, {})
    assert message in e.value.message


def test_secret_literal_and_file_with_one_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("x")
    with pytest.raises(errors.BadRequest, match="cannot add key k, another key by that name already exists"):
        build_secret("db", "ns", SecretOptions(literals=("k=v",), files=(str(tmp_path / "k"),)), {})


def test_kn_literals_split_on_commas_unless_quoted() -> None:
    assert sources.kn_literals(['"a=1,2",b=3']) == [("a", "1,2"), ("b", "3")]


def test_env_file_as_kubectl(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_bytes(b"\xef\xbb\xbfA=1\n  # comment\n\nB=x=y\r\nFROM_ENV\n")
    assert sources.env_file(path.read_bytes(), str(path), {"FROM_ENV": "e"}) == [
        ("A", "1"),
        ("B", "x=y"),
        ("FROM_ENV", "e"),
    ]
    with pytest.raises(errors.BadRequest, match='"1A" is not a valid key name: a valid environment variable name'):
        sources.env_file(b"1A=x\n", "f", {})
    with pytest.raises(errors.BadRequest, match="contains invalid utf8 bytes at line 2"):
        sources.env_file(b"A=1\nB=\xff\n", "f", {})


def test_config_map_text_binary_and_env_file(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("port=8080\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\xff")
    cm = build_config_map(
        "app", "ns", ("greeting=hello, world",), (str(tmp_path / "app.conf"), str(tmp_path / "logo.png")), (), {}
    )
    assert cm["data"] == {"app.conf": "port=8080\n", "greeting": "hello, world"}
    assert cm["binaryData"] == {"logo.png": _b64(b"\x89PNG\xff")}
    (tmp_path / "e.env").write_text("A=1\n")
    assert build_config_map("e", "ns", (), (), (str(tmp_path / "e.env"),), {})["data"] == {"A": "1"}
    with pytest.raises(errors.BadRequest, match="invalid literal source novalue, expected key=value"):
        build_config_map("app", "ns", ("novalue",), (), (), {})
    with pytest.raises(errors.BadRequest, match='cannot add key "g", another key by that name already exists in Data'):
        build_config_map("app", "ns", ("g=1", "g=2"), (), (), {})
    with pytest.raises(errors.BadRequest, match="env config file cannot be a directory"):
        build_config_map("app", "ns", (), (), (str(tmp_path),), {})


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "default", "labels": {"app": "web", "tier": "db"}},
    "type": "Opaque",
    "data": {"password": _b64("s3cret"), "user": _b64("admin")},
}


def test_describe_secret_shows_sizes_never_values() -> None:
    text = tabbed(secret_lines(SECRET))
    assert text == "\n".join([
        "Name:         db",
        "Namespace:    default",
        "Labels:       app=web",
        "              tier=db",
        "Annotations:  <none>",
        "",
        "Type:  Opaque",
        "",
        "Data",
        "====",
        "password:  6 bytes",
        "user:      5 bytes",
    ])  # fmt: skip
    assert "s3cret" not in text and _b64("s3cret") not in text


def test_describe_config_map_and_namespace() -> None:
    cm = {
        "metadata": {"name": "app", "namespace": "default", "annotations": {LAST_APPLIED: "{}", "team": "web"}},
        "data": {"greeting": "hello"},
        "binaryData": {"logo": _b64(b"\x00\x01\x02")},
    }
    assert tabbed(config_map_lines(cm)).splitlines() == [
        "Name:         app",
        "Namespace:    default",
        "Labels:       <none>",
        "Annotations:  team: web",
        "",
        "Data",
        "====",
        "greeting:",
        "----",
        "hello",
        "",
        "",
        "BinaryData",
        "====",
        "logo: 3 bytes",
    ]
    ns = {"metadata": {"name": "dev"}, "status": {"phase": "Active"}}
    assert tabbed(namespace_lines(ns)).splitlines() == [
        "Name:         dev",
        "Labels:       <none>",
        "Annotations:  <none>",
        "Status:       Active",
    ]


TABLE: dict[str, Any] = {
    "kind": "Table",
    "apiVersion": "meta.k8s.io/v1",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "priority": 0},
        {"name": "Type", "type": "string", "priority": 0},
        {"name": "Data", "type": "integer", "priority": 0},
        {"name": "Extra", "type": "string", "priority": 1},
        {"name": "Age", "type": "string", "priority": 0},
    ],
    "rows": [
        {"cells": ["db", "Opaque", 2, "x", "5s"], "object": {"metadata": {"name": "db", "namespace": "a"}}},
        {"cells": ["tls", None, 2, "x", "1m"], "object": {"metadata": {"name": "tls", "namespace": "b"}}},
    ],
}


def test_server_table_prints_priority_zero_columns() -> None:
    assert server_table(TABLE, with_namespace=False).splitlines() == [
        "NAME   TYPE     DATA   AGE",
        "db     Opaque   2      5s",
        "tls    <none>   2      1m",
    ]
    assert server_table(TABLE, with_namespace=True).splitlines()[1] == "a           db     Opaque   2      5s"


def test_apply_records_secret_keys_without_values_and_merges_data() -> None:
    wanted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "stringData": {"password": "s3cret"},
        "data": {"user": _b64("admin")},
    }
    applied = _applied(wanted)
    assert applied["stringData"] == {"password": ""} and applied["data"] == {"user": ""}
    assert "s3cret" not in json.dumps(applied) and _b64("admin") not in json.dumps(applied)
    live = {
        **wanted,
        "type": "Opaque",
        "metadata": {
            "name": "db",
            "namespace": "default",
            "resourceVersion": "7",
            "annotations": {LAST_APPLIED: json.dumps(applied)},
        },
        "data": {"user": _b64("admin"), "password": _b64("s3cret")},
    }
    del live["stringData"]
    update = {**wanted, "data": {"user": _b64("root")}}
    del update["stringData"]
    merged = _merged(live, update)
    # the key the file dropped (stringData) is gone, the server's type is kept, data is the file's
    assert "stringData" not in merged and merged["type"] == "Opaque"
    assert merged["data"] == {"user": _b64("root")}
    assert merged["metadata"]["resourceVersion"] == "7"


def test_apply_merges_a_config_map_data_three_way() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    live = {**cm, "metadata": {"name": "c", "annotations": {LAST_APPLIED: json.dumps(_applied(cm))}}}
    live["data"] = {"a": "1", "b": "2", "added-by-hand": "x"}
    merged = _merged(live, {**cm, "data": {"a": "9"}})
    assert merged["data"] == {"a": "9", "added-by-hand": "x"}


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (("service", "create"), "--env-value-from"),
        (("service", "update"), "--mount"),
        (("secret", "create"), "--tls-cert"),
        (("configmap", "create"), "--from-env-file"),
    ],
)
def test_help_renders(command: tuple[str, ...], flag: str) -> None:
    """Help text is rich markup: a ``[/x]`` in it would end the command with a traceback."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert flag in result.output
