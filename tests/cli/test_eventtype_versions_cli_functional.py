"""``zeroserve apply`` of a v1beta3 EventType: sent to the server as v1beta3, stored as v1beta2."""

from __future__ import annotations

from tests.cli.cli_harness import Api
from zeroserve.api import kinds

MANIFEST = """\
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: ping
spec:
  reference: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  attributes:
  - {name: specversion, required: true}
  - {name: id, required: true}
  - {name: type, required: true, value: dev.knative.sources.ping}
  - {name: source, required: true, value: /apis/v1/namespaces/default/pingsources/p}
"""


def test_apply_a_v1beta3_eventtype(api: Api) -> None:
    first = api.cli("apply", "-f", "-", stdin=MANIFEST)
    assert (first.returncode, first.stdout.strip()) == (0, "eventtype.eventing.knative.dev/ping created"), first.stderr
    again = api.cli("apply", "-f", "-", stdin=MANIFEST)
    assert (again.returncode, again.stdout.strip()) == (0, "eventtype.eventing.knative.dev/ping unchanged"), again
    stored = api.call(lambda: api.store.get(kinds.EVENTTYPE, "default", "ping"))
    assert stored["apiVersion"] == "eventing.knative.dev/v1beta2"
    assert (stored["spec"]["type"], stored["spec"]["source"]) == (
        "dev.knative.sources.ping",
        "/apis/v1/namespaces/default/pingsources/p",
    )
    labelled = MANIFEST.replace("  name: ping\n", "  name: ping\n  labels: {team: a}\n")
    third = api.cli("apply", "-f", "-", stdin=labelled)
    assert (third.returncode, third.stdout.strip()) == (0, "eventtype.eventing.knative.dev/ping configured"), third
    listed = api.cli("eventtype", "list")
    assert listed.returncode == 0 and "dev.knative.sources.ping" in listed.stdout, listed
