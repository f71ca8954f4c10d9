"""The real kubectl against `zeroserve up`: what the server's OpenAPI v3 documents and Tables give it
(issue 15): `explain`, server-side field validation behind `apply`'s default --validate=strict (and
warn/false), Knative's printer columns for revisions and `-o wide` (a priority-1 column shown only
then), with KUBECONFIG=DATA/kubeconfig and a --cache-dir of the test's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.harness import Up
from tests.e2e.test_kubectl_e2e import HELLO
from tests.support.kubectl import Kubectl

UNKNOWN = HELLO.replace("  template:", "  foo: bar\n  template:")
BROKER = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
"""


def table(text: str) -> list[dict[str, str]]:
    """kubectl's table output as one dict per row, cells cut at the header's column starts (header
    names may hold a space: CONFIG NAME)."""
    head, *rows = text.rstrip("\n").splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", head)]
    bounds = [*starts[1:], None]
    names = [head[a:b].strip() for a, b in zip(starts, bounds, strict=True)]
    return [{n: row[a:b].strip() for n, a, b in zip(names, starts, bounds, strict=True)} for row in rows]


def test_explain_validation_and_columns(up: Up, tmp_path: Path) -> None:
    k = Kubectl.for_data_dir(up.data_dir, tmp_path)
    explain = k.run("explain", "ksvc.spec.template.spec").stdout
    assert "GROUP:      serving.knative.dev\nKIND:       Service\nVERSION:    v1" in explain
    assert re.search(r"^  containers\t<\[\]Object>$", explain, re.M), explain
    assert re.search(r"^  containerConcurrency\t<integer>$", explain, re.M), explain
    image = k.run("explain", "ksvc.spec.template.spec.containers.image").stdout
    assert "FIELD: image <string>" in image and "digest" in image
    assert "FIELD: name <string>" in k.run("explain", "ksvc.metadata.name").stdout  # ObjectMeta, by reference
    assert "FIELDS:" in k.run("explain", "configmap").stdout

    manifest = tmp_path / "hello.yaml"
    manifest.write_text(UNKNOWN)
    refused = k.run("apply", "-f", str(manifest), check=False)
    assert refused.returncode == 1
    strict = 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo"'
    assert strict in refused.stderr
    warned = k.run("apply", "-f", str(manifest), "--validate=warn")
    assert warned.stdout.strip() == "service.serving.knative.dev/hello created"
    assert 'Warning: unknown field "spec.foo"' in warned.stderr
    assert "foo" not in json.loads(k.run("get", "ksvc", "hello", "-o", "json").stdout)["spec"]
    refused = k.run("apply", "-f", str(manifest), check=False)  # now a patch of the existing Service
    assert refused.returncode == 1
    assert refused.stderr.startswith("The request is invalid: patch: Invalid value: ")
    assert refused.stderr.rstrip().endswith('strict decoding error: unknown field "spec.foo"')
    ignored = k.run("apply", "-f", str(manifest), "--validate=false")  # the patch still sends spec.foo
    assert (ignored.stdout.strip(), ignored.stderr) == ("service.serving.knative.dev/hello configured", "")
    assert "foo" not in json.loads(k.run("get", "ksvc", "hello", "-o", "json").stdout)["spec"]

    assert "condition met" in k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s").stdout
    [rev] = table(k.run("get", "rev").stdout)
    assert rev == {
        "NAME": "hello-00001",
        "CONFIG NAME": "hello",
        "GENERATION": "1",
        "READY": "True",
        "REASON": "",
        "ACTUAL REPLICAS": rev["ACTUAL REPLICAS"],
        "DESIRED REPLICAS": rev["DESIRED REPLICAS"],
    }
    assert rev["ACTUAL REPLICAS"].isdigit() and rev["DESIRED REPLICAS"] in ("", "0", "1")  # integer columns
    wide = table(k.run("get", "ksvc", "-o", "wide").stdout)
    assert list(wide[0]) == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]  # none is priority 1
    assert wide == table(k.run("get", "ksvc").stdout)

    broker = tmp_path / "broker.yaml"
    broker.write_text(BROKER)
    k.run("apply", "-f", str(broker))
    assert list(table(k.run("get", "broker").stdout)[0]) == ["NAME", "URL", "AGE", "READY", "REASON"]
    [row] = table(k.run("get", "broker", "-o", "wide").stdout)
    assert list(row) == ["NAME", "URL", "AGE", "READY", "REASON", "CLASS"]
    assert row["CLASS"]  # the broker.class annotation admission defaults
