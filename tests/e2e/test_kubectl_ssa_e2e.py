"""The real kubectl (1.37) against `zeroserve up`: server-side apply, diff and edit (issue 15).

- ``apply --server-side``: create, re-apply unchanged (nothing written), change; another
  ``--field-manager`` changing the same field gets kubectl's conflict text and exit 1,
  ``--force-conflicts`` takes the field; managedFields as Kubernetes writes them.
- client-side ``apply`` then ``apply --server-side`` with a change: no conflict with the user's own
  ``kubectl-client-side-apply`` fields, and kubectl's migration leaves ``kubectl`` owning them.
- ``diff`` (a dry-run merge patch) and ``diff --server-side`` (a dry-run apply): exit 0 and no
  output when nothing would change, exit 1 with the unified diff when something would.
- ``edit`` with ``EDITOR`` a script: the change is saved (a merge patch by ``kubectl-edit``); a bad
  edit ends with kubectl's ``is invalid`` and the server's reason in the copy kubectl keeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.e2e.harness import Up
from tests.support.kubectl import Kubectl

HELLO = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - command: ["python3", "examples/hello/app.py"]
          env:
            - name: TARGET
              value: {target}
"""

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: "{a}"
  b: "1"
"""


def kubectl(up: Up, tmp_path: Path) -> Kubectl:
    return Kubectl.for_data_dir(up.data_dir, tmp_path)


def manifest(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def get(k: Kubectl, *args: str) -> Any:
    return json.loads(k.run("get", *args, "-o", "json", "--show-managed-fields").stdout)


def managers(obj: Any) -> dict[str, str]:
    return {e["manager"]: e["operation"] for e in obj["metadata"].get("managedFields", [])}


def target(obj: Any) -> str:
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    return str(next(e["value"] for e in env if e["name"] == "TARGET"))


def editor(tmp_path: Path, name: str, sed: str) -> str:
    """An EDITOR that rewrites the file kubectl gives it with one sed expression."""
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(0o755)
    return str(script)


def test_apply_server_side_conflicts_and_force(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    one = manifest(tmp_path, "one.yaml", HELLO.format(target="one"))
    two = manifest(tmp_path, "two.yaml", HELLO.format(target="two"))

    assert k.run("apply", "--server-side", "-f", one).stdout.strip() == (
        "service.serving.knative.dev/hello serverside-applied"
    )
    created = get(k, "ksvc", "hello")
    applied = next(e for e in created["metadata"]["managedFields"] if e["manager"] == "kubectl")
    assert (applied["operation"], applied["apiVersion"], applied["fieldsType"]) == (
        "Apply",
        "serving.knative.dev/v1",
        "FieldsV1",
    )
    assert applied["fieldsV1"] == {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}
    k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
    ready = get(k, "ksvc", "hello")
    assert managers(ready)["controller"] == "Update"  # the controller's status writes

    # unchanged: nothing written (Knative's defaults in the atomic containers list change back in
    # admission; the managedFields time is kept, as kube-apiserver keeps it)
    k.run("apply", "--server-side", "-f", one)
    assert get(k, "ksvc", "hello")["metadata"]["resourceVersion"] == ready["metadata"]["resourceVersion"]

    conflict = k.run("apply", "--server-side", "--field-manager=other", "-f", two, check=False)
    assert conflict.returncode == 1
    assert conflict.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.template.spec.containers\n'
        "Please review the fields above--they currently have other managers."
    )
    assert target(get(k, "ksvc", "hello")) == "one"

    k.run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", two)
    taken = get(k, "ksvc", "hello")
    assert target(taken) == "two" and taken["metadata"]["generation"] == 2
    assert managers(taken).get("other") == "Apply" and "kubectl" not in managers(taken)
    assert "managedFields" not in json.loads(k.run("get", "ksvc", "hello", "-o", "json").stdout)["metadata"]


def test_client_side_apply_then_server_side(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    k.run("apply", "-f", manifest(tmp_path, "a1.yaml", CONFIG.format(a="1")))
    assert managers(get(k, "cm", "settings")) == {"kubectl-client-side-apply": "Update"}
    k.run("apply", "--server-side", "-f", manifest(tmp_path, "a2.yaml", CONFIG.format(a="2")))
    moved = get(k, "cm", "settings")
    assert moved["data"] == {"a": "2", "b": "1"}
    assert managers(moved) == {"kubectl": "Apply", "kubectl-last-applied": "Apply"}
    owned = next(e["fieldsV1"] for e in moved["metadata"]["managedFields"] if e["manager"] == "kubectl")
    assert owned == {"f:data": {"f:a": {}, "f:b": {}}}
    last = json.loads(moved["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"a": "2", "b": "1"}


def test_diff(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    one = manifest(tmp_path, "one.yaml", HELLO.format(target="one"))
    two = manifest(tmp_path, "two.yaml", HELLO.format(target="two"))
    created = k.run("diff", "-f", one, check=False)
    assert created.returncode == 1 and "+  name: hello" in created.stdout  # a dry-run create
    k.run("get", "ksvc")  # nothing was made
    assert "hello" not in k.run("get", "ksvc").stdout

    k.run("apply", "--server-side", "-f", one)
    k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
    for server_side in ((), ("--server-side",)):
        same = k.run("diff", *server_side, "-f", one, check=False)
        assert (same.returncode, same.stdout) == (0, ""), same.stderr
        changed = k.run("diff", *server_side, "-f", two, check=False)
        assert changed.returncode == 1, changed.stderr
        lines = changed.stdout.splitlines()
        assert "-          value: one" in lines and "+          value: two" in lines
        assert "-  generation: 1" in lines and "+  generation: 2" in lines
        assert not any("managedFields" in line for line in lines)
    assert target(get(k, "ksvc", "hello")) == "one"  # diff wrote nothing


def test_edit(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    k.run("apply", "-f", manifest(tmp_path, "one.yaml", HELLO.format(target="one")))

    good = editor(tmp_path, "good.sh", "s/value: one/value: edited/")
    assert k.run("edit", "ksvc", "hello", EDITOR=good).stdout.strip() == "service.serving.knative.dev/hello edited"
    edited = get(k, "ksvc", "hello")
    assert target(edited) == "edited" and edited["metadata"]["generation"] == 2
    assert managers(edited)["kubectl-edit"] == "Update"

    bad = editor(tmp_path, "bad.sh", "s/containerConcurrency: 0/containerConcurrency: -5/")
    refused = k.run("edit", "ksvc", "hello", check=False, EDITOR=bad, TMPDIR=str(tmp_path))
    assert refused.returncode == 1
    assert 'error: services.serving.knative.dev "hello" is invalid' in refused.stderr
    copy = re.search(r'A copy of your changes has been stored to "([^"]+)"', refused.stderr)
    assert copy is not None, refused.stderr
    kept = Path(copy.group(1)).read_text()
    assert "# * spec.template.spec.containerConcurrency: expected 0 <= -5 <= 1000" in kept
    assert get(k, "ksvc", "hello")["metadata"]["generation"] == 2
