"""The real kubectl on EventTypes served as v1beta3 and v1beta2 (stored as v1beta2): kubectl picks
v1beta3 for ``eventtypes`` as against Knative's CRD (the group's versions in kube's order), applies
v1beta3 and v1beta2 manifests (client-side and server-side), and reads either version."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.support.kubectl import Kubectl
from zeroserve.api import admission
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.apiserver.certs import ensure_serving_certs
from zeroserve.cli import kubeconfig
from zeroserve.clock import SystemClock
from zeroserve.config import Config
from zeroserve.store import SqliteStore

V1BETA3_MANIFEST = """\
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: ping
spec:
  description: pings
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: default
  attributes:
  - {name: specversion, required: true}
  - {name: id, required: true}
  - {name: type, required: true, value: dev.knative.sources.ping}
  - {name: source, required: true, value: /apis/v1/namespaces/default/pingsources/p}
"""

V1BETA2_MANIFEST = """\
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: old
spec:
  type: dev.example.old
  source: https://example.com/old
  schema: https://example.com/schema.json
"""


@pytest.fixture
async def kubectl(tmp_path: Path) -> AsyncIterator[Kubectl]:
    data = tmp_path / "data"
    data.mkdir()
    certs = ensure_serving_certs(data, SystemClock().wall())
    store = await SqliteStore.open(data / "zeroserve.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, "kubectl-token", admit_status=admission.admit_status)
    await server.start(ssl_context=certs.server_context())
    kubeconfig.write(data / "kubeconfig", kubeconfig.render(server.url, certs.ca_pem(), "kubectl-token"))
    try:
        yield Kubectl.for_data_dir(data, tmp_path)
    finally:
        await server.stop()
        await store.close()


async def run(kubectl: Kubectl, *args: str, stdin: str | None = None) -> str:
    done = await asyncio.to_thread(functools.partial(kubectl.run, *args, input=stdin))
    return done.stdout


async def test_kubectl_reads_and_writes_both_versions(kubectl: Kubectl) -> None:
    assert "eventtype.eventing.knative.dev/ping created" in await run(
        kubectl, "apply", "-f", "-", stdin=V1BETA3_MANIFEST
    )
    assert "eventtype.eventing.knative.dev/old created" in await run(
        kubectl, "apply", "-f", "-", stdin=V1BETA2_MANIFEST
    )

    table = (await run(kubectl, "get", "eventtypes")).splitlines()
    header = "NAME TYPE SOURCE REFERENCE NAME REFERENCE KIND DESCRIPTION READY REASON"
    assert table[0].split() == header.split()
    rows = {line.split()[0]: line.split() for line in table[1:]}
    ping_source = "/apis/v1/namespaces/default/pingsources/p"
    assert rows["ping"][1:6] == ["dev.knative.sources.ping", ping_source, "default", "Broker", "pings"]
    assert rows["old"][1:3] == ["dev.example.old", "https://example.com/old"]

    listed = yaml.safe_load(await run(kubectl, "get", "eventtypes", "-o", "yaml"))
    assert {i["apiVersion"] for i in listed["items"]} == {"eventing.knative.dev/v1beta3"}
    old = next(i for i in listed["items"] if i["metadata"]["name"] == "old")
    assert {a["name"]: a.get("value") for a in old["spec"]["attributes"]} == {
        "specversion": None,
        "id": None,
        "type": "dev.example.old",
        "source": "https://example.com/old",
        "schemadata": "https://example.com/schema.json",
    }

    ping = yaml.safe_load(await run(kubectl, "get", "eventtypes.v1beta3.eventing.knative.dev", "ping", "-o", "yaml"))
    assert ping["apiVersion"] == "eventing.knative.dev/v1beta3"
    assert ping["spec"]["reference"]["namespace"] == "default"
    stored = json.loads(await run(kubectl, "get", "eventtypes.v1beta2.eventing.knative.dev", "ping", "-o", "json"))
    assert stored["apiVersion"] == "eventing.knative.dev/v1beta2"
    assert (stored["spec"]["type"], stored["spec"]["source"]) == (
        "dev.knative.sources.ping",
        "/apis/v1/namespaces/default/pingsources/p",
    )
    v2_table = (await run(kubectl, "get", "eventtypes.v1beta2.eventing.knative.dev", "old")).splitlines()
    assert v2_table[0].split()[:4] == ["NAME", "TYPE", "SOURCE", "SCHEMA"]

    # apply again with a label (a merge patch computed against v1beta3), then server-side
    labelled = V1BETA3_MANIFEST.replace("  name: ping\n", "  name: ping\n  labels: {team: a}\n")
    assert "configured" in await run(kubectl, "apply", "-f", "-", stdin=labelled)
    assert "unchanged" in await run(kubectl, "apply", "-f", "-", stdin=labelled)
    relabelled = labelled.replace("team: a", "team: b")
    assert "serverside-applied" in await run(
        kubectl, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=relabelled
    )
    team = await run(kubectl, "get", "eventtype", "ping", "-o", "jsonpath={.metadata.labels.team}")
    assert team == "b"

    explained = await run(kubectl, "explain", "eventtypes.spec.attributes")
    assert "eventing.knative.dev" in explained and "v1beta3" in explained and "value" in explained

    assert 'eventtype.eventing.knative.dev "old" deleted' in await run(kubectl, "delete", "eventtype", "old")
