"""ConfigMaps and Secrets read by apps through a real `zeroserve up` (issue 14, Done when).

A Secret and a ConfigMap made with the real kubectl through DATA/kubeconfig (``kubectl create secret
generic db --from-literal=password=…``), the ConfigMap edited with ``kubectl patch`` (a strategic
merge patch, as kubectl sends for core kinds); a process app
(tests/runtime/apps/reader.py) and a container app (toybox) read ``secretKeyRef``, ``envFrom`` and a
``secret`` + ``configMap`` volume; an edit of the ConfigMap reaches the mounted files within 5 s with no
new revision; the secret's value is nowhere in the data dir, in clear or base64, before or after a
WAL checkpoint; a missing key is a clear condition and fixing the Secret makes the revision Ready.
Root only (users of their own, the volumes' tmpfs, network namespaces for the container).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO, Up, condition
from tests.e2e.harness import get_object as get
from tests.support.images import Pushed, Registry, build_image
from tests.support.kubectl import Kubectl
from tests.support.polling import wait_for
from zeroserve.api.kinds import SECRET
from zeroserve.net import netns
from zeroserve.runtime import isolation

READER = str(REPO / "tests" / "runtime" / "apps" / "reader.py")
TOYBOX_C = Path(__file__).parents[1] / "runtime" / "apps" / "toybox.c"
PASSWORD = "s3cret-Zq7"
MACHINE = isolation.probe(isolation.Policy())

pytestmark = pytest.mark.skipif(
    not (MACHINE.can_switch_users and MACHINE.bwrap), reason=f"needs root and bubblewrap: {MACHINE.no_sandbox}"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def toybox(
    registry: Registry, static_binary: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Pushed:
    layout = build_image(
        tmp_path_factory.mktemp("toybox") / "layout",
        {"/bin/toybox": static_binary(TOYBOX_C)},
        entrypoint=["/bin/toybox", "serve"],
        env={"PATH": "/bin"},
    )
    return registry.push(layout, "e2e-config/toybox:v1")


def reads_config(container: dict[str, Any]) -> dict[str, Any]:
    """The template of a Service whose container reads the Secret and the ConfigMap every way."""
    container = {
        **container,
        "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "volumeMounts": [
            {"name": "db", "mountPath": "/etc/db", "readOnly": True},
            {"name": "settings", "mountPath": "/etc/settings", "readOnly": True},
        ],
    }
    return {
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "db", "secret": {"secretName": "db"}},
                {"name": "settings", "configMap": {"name": "settings"}},
            ],
        }
    }


def apply(up: Up, name: str, template: dict[str, Any]) -> None:
    doc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"template": template},
    }
    up.cli("apply", "-f", "-", input=json.dumps(doc))


def ready(up: Up, kind: str, name: str, timeout: float = 90) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = get(up, kind, name)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    return wait_for(check, timeout, f"{kind} {name} Ready")  # type: ignore[no-any-return]


def reader(up: Up, path: str) -> Any:
    status, body = up.get("proc.default.localhost", path)
    assert status == 200, body
    return json.loads(body)


def toybox_get(up: Up, path: str) -> str:
    status, body = up.get("box.default.localhost", path)
    assert status == 200, (path, body)
    return body


def grep_data(data_dir: Path, *needles: str) -> list[str]:
    """Every file under the data dir holding one of ``needles`` (bytes, as ``grep -ra``)."""
    found = []
    for root, _dirs, names in os.walk(data_dir):
        for name in names:
            path = Path(root, name)
            try:
                content = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {needle}" for needle in needles if needle.encode() in content]
    return found


@pytest.mark.skipif((why := netns.available()) is not None, reason=why or "")
def test_apps_read_secrets_and_configmaps_and_see_edits_live(up: Up, toybox: Pushed, tmp_path: Path) -> None:
    kubectl = Kubectl.for_data_dir(up.data_dir, tmp_path)
    kubectl.run("create", "secret", "generic", "db", f"--from-literal=password={PASSWORD}")
    (tmp_path / "app.properties").write_text("a=1\n")
    kubectl.run(
        "create", "configmap", "settings", "--from-literal=color=blue", f"--from-file={tmp_path / 'app.properties'}"
    )

    apply(up, "proc", reads_config({"command": ["python3", READER], "workingDir": str(REPO)}))
    apply(up, "box", reads_config({"image": toybox.ref}))
    ready(up, "ksvc", "proc")
    ready(up, "ksvc", "box")

    env = reader(up, "/env")
    assert (env["DB_PASSWORD"], env["CFG_color"], env["CFG_app.properties"]) == (PASSWORD, "blue", "a=1\n")
    password = reader(up, "/file?path=/etc/db/password")
    assert (password["data"], password["mode"], password["link"]) == (PASSWORD, "0o644", "..data/password")
    assert reader(up, "/file?path=/etc/settings/color")["data"] == "blue"
    box_env = toybox_get(up, "/env").splitlines()
    assert f"DB_PASSWORD={PASSWORD}" in box_env and "CFG_color=blue" in box_env
    assert toybox_get(up, "/cat/etc/db/password") == PASSWORD
    assert toybox_get(up, "/cat/etc/settings/color") == "blue"

    kubectl.run("patch", "configmap", "settings", "-p", '{"data": {"color": "red"}}')
    wait_for(lambda: reader(up, "/file?path=/etc/settings/color")["data"] == "red", 5, "the process sees the edit")
    wait_for(lambda: toybox_get(up, "/cat/etc/settings/color") == "red", 5, "the container sees the edit")
    assert reader(up, "/env")["CFG_color"] == "blue"  # env is fixed for an instance's life
    assert get(up, "revision", "proc-00002") == {} and get(up, "revision", "box-00002") == {}
    assert get(up, "ksvc", "proc")["status"]["latestReadyRevisionName"] == "proc-00001"

    needles = (PASSWORD, b64(PASSWORD))
    assert grep_data(up.data_dir, *needles) == []
    with sqlite3.connect(up.data_dir / "zeroserve.db", timeout=30) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert grep_data(up.data_dir, *needles) == []


def test_a_missing_key_is_a_clear_condition_until_the_secret_has_it(up: Up) -> None:
    api = up.client()
    api.create(SECRET, {"metadata": {"name": "late"}, "stringData": {"other": "x"}})
    container = {
        "command": ["python3", READER],
        "workingDir": str(REPO),
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}],
    }
    apply(up, "late", {"spec": {"containers": [container]}})

    def failed() -> dict[str, Any] | None:
        cond = condition(get(up, "revision", "late-00001"), "ResourcesAvailable")
        return cond if cond.get("status") == "False" else None

    cond = wait_for(failed, 30, "late-00001 ResourcesAvailable=False")
    assert cond["reason"] == "CreateContainerConfigError"
    assert cond["message"] == "couldn't find key token in Secret default/late"
    assert condition(get(up, "ksvc", "late"), "Ready")["status"] == "False"

    secret = api.get(SECRET, "default", "late")
    api.update(SECRET, {**secret, "data": {**secret["data"], "token": b64("t0ken")}})
    ready(up, "revision", "late-00001", timeout=10)  # the Secret's change re-reconciles it, no back-off wait
    status, body = up.get("late.default.localhost", "/env")
    assert status == 200 and json.loads(body)["TOKEN"] == "t0ken"
