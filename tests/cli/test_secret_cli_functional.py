"""``secret`` / ``configmap`` commands, ``get``/``describe``/``delete`` of core kinds and the storage flags
of ``service create|update``: the CLI as a subprocess against a real store + API server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.cli.cli_harness import Api
from zeroserve.api import kinds
from zeroserve.cli.podspec import generate_volume_name

PASSWORD = "s3cret-pw"


def _ok(api: Api, *args: str) -> str:
    result = api.cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_secret_from_literal_and_file_never_shows_a_value(api: Api, tmp_path: Path) -> None:
    key = tmp_path / "id_rsa"
    key.write_text("PRIVATE-KEY-TEXT")
    out = _ok(api, "secret", "create", "db", "--from-literal", f"password={PASSWORD}", "--from-file", str(key))
    assert out == "Secret 'db' created in namespace 'default'.\n"
    stored = api.call(lambda: api.store.get(kinds.SECRET, "default", "db"))
    assert base64.b64decode(stored["data"]["password"]).decode() == PASSWORD
    assert base64.b64decode(stored["data"]["id_rsa"]).decode() == "PRIVATE-KEY-TEXT"

    shown = [
        _ok(api, "get", "secrets"),
        _ok(api, "get", "secret", "db"),
        _ok(api, "describe", "secret", "db"),
        _ok(api, "secret", "describe", "db"),
        _ok(api, "secret", "list"),
    ]
    for text in shown:
        assert PASSWORD not in text and "PRIVATE-KEY-TEXT" not in text
        assert base64.b64encode(PASSWORD.encode()).decode() not in text
    table = shown[0].splitlines()
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert table[1].split()[:3] == ["db", "Opaque", "2"]
    assert "password:  9 bytes" in shown[2] and "id_rsa:    16 bytes" in shown[2]
    assert shown[4].splitlines()[1].split() == ["db", "Opaque"]
    # -o yaml shows the data, base64 as kubectl does
    doc = yaml.safe_load(_ok(api, "get", "secret", "db", "-o", "yaml"))
    assert base64.b64decode(doc["data"]["password"]).decode() == PASSWORD


def test_secret_errors_are_one_line(api: Api) -> None:
    bad = api.cli("secret", "create", "x", "--tls-cert", "c.pem")
    assert bad.returncode == 1
    assert bad.stderr == "error: both --tls-cert and --tls-key flags are required\n"
    _ok(api, "secret", "create", "db", "-l", "a=1")
    again = api.cli("secret", "create", "db", "-l", "a=1")
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert _ok(api, "secret", "delete", "db") == "Secret 'db' deleted in namespace 'default'.\n"
    assert _ok(api, "secret", "list") == "No secret found.\n"
    gone = api.cli("delete", "secret", "db")
    assert gone.returncode == 1 and gone.stderr == 'Error from server (NotFound): secrets "db" not found\n'


def test_configmap_create_get_describe_delete(api: Api, tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=8080\n")
    out = _ok(api, "configmap", "create", "app", "--from-literal", "greeting=hello, world", "--from-file", str(conf))
    assert out == "ConfigMap 'app' created in namespace 'default'.\n"
    table = _ok(api, "get", "cm").splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"] and table[1].split()[:2] == ["app", "2"]
    described = _ok(api, "describe", "configmap", "app")
    assert "greeting:\n----\nhello, world\n" in described and "app.conf:\n----\nport=8080\n" in described
    assert _ok(api, "configmap", "list").splitlines()[1].split()[:2] == ["app", "2"]
    assert _ok(api, "delete", "cm", "app") == 'configmap "app" deleted\n'


def test_get_and_describe_namespaces(api: Api) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}
    assert api.cli("apply", "-f", "-", stdin=json.dumps(ns)).stdout == "namespace/dev created\n"
    table = _ok(api, "get", "ns").splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["dev", "Active"] for line in table[1:])
    assert "Status:       Active" in _ok(api, "describe", "namespace", "dev")


def test_apply_secret_keeps_its_values_out_of_last_applied(api: Api) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "applied"},
        "stringData": {"password": PASSWORD},
    }
    result = api.cli("apply", "-f", "-", stdin=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "secret/applied created\n"
    stored = api.call(lambda: api.store.get(kinds.SECRET, "default", "applied"))
    assert base64.b64decode(stored["data"]["password"]).decode() == PASSWORD
    assert PASSWORD not in json.dumps(stored["metadata"])
    again = api.cli("apply", "-f", "-", stdin=json.dumps(manifest))
    assert again.returncode == 0 and again.stdout == "secret/applied unchanged\n", again.stderr


def test_service_create_and_update_with_storage_flags(api: Api, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nMODE=prod\n")
    _ok(
        api, "service", "create", "web", "--image", "registry.example/web:1", "--no-wait",
        "--env-value-from", "DB_PASSWORD=secret:db:password",
        "--env-from", "cm:app",
        "--env-file", str(env_file),
        "--mount", "/etc/app=cm:app",
        "--mount", "/etc/db=secret:db",
        "--mount", "/cache=emptyDir:scratch",
    )  # fmt: skip
    svc = api.call(lambda: api.store.get(kinds.SERVICE, "default", "web"))
    spec = svc["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]
    assert container["envFrom"] == [{"configMapRef": {"name": "app"}}]
    app, db, cache = (generate_volume_name(p) for p in ("/etc/app", "/etc/db", "/cache"))
    assert [(m["name"], m["mountPath"], m.get("readOnly", False)) for m in container["volumeMounts"]] == [
        (app, "/etc/app", True),
        (db, "/etc/db", True),
        (cache, "/cache", False),
    ]
    volumes = {v["name"]: {k: v[k] for k in v if k != "name"} for v in spec["volumes"]}
    assert volumes[app]["configMap"]["name"] == "app"
    assert volumes[db]["secret"]["secretName"] == "db"
    assert "emptyDir" in volumes[cache]

    _ok(api, "service", "update", "web", "--no-wait", "--mount", "/etc/db-", "--env-from", "cm:app-")
    svc2 = api.call(lambda: api.store.get(kinds.SERVICE, "default", "web"))
    spec2 = svc2["spec"]["template"]["spec"]
    assert svc2["metadata"]["generation"] == 2  # a template change: a new revision
    assert "envFrom" not in spec2["containers"][0]
    assert [m["mountPath"] for m in spec2["containers"][0]["volumeMounts"]] == ["/etc/app", "/cache"]
    assert db not in {v["name"] for v in spec2["volumes"]}
    described = _ok(api, "service", "describe", "web")
    assert "DB_PASSWORD=[ref]" in described

    bad = api.cli("service", "update", "web", "--no-wait", "--env-value-from", "X=cm:onlyname")
    assert bad.returncode == 1 and bad.stderr.startswith("error: Invalid --env-value-from: argument requires")
