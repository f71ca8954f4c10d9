"""imagePullSecrets through a real `zeroserve up` (issue 13's credentials, with issue 14's Secrets).

The image is in a docker-registry on 127.0.0.1 behind htpasswd (tests/support/images.py
``auth_registry``); the machine has no credentials for it (no DATA/auth.json). A revision naming a
``kubernetes.io/dockerconfigjson`` Secret in ``imagePullSecrets`` resolves its digest and runs (the
controller's resolver and the runtime's pull both use the Secret); without it, or with a wrong
password, it is ``ContainerMissing`` with the registry's 401 in the message. A pull secret that does
not exist is skipped, as the kubelet and Knative's k8schain skip it (a public image still runs; the
kubelet's ``FailedToRetrieveImagePullSecret`` warning is recorded). Nothing of the password is in
the data dir, in clear or base64, after a WAL checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Up, condition
from tests.e2e.harness import get_object as get
from tests.support.images import Pushed, Registry
from tests.support.polling import wait_for
from zeroserve.api.kinds import EVENT, SECRET
from zeroserve.net import netns

pytestmark = pytest.mark.skipif((why := netns.available()) is not None, reason=why or "")


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def pull_secret(name: str, host: str, username: str, password: str) -> dict[str, Any]:
    auths = {host: {"username": username, "password": password, "auth": b64(f"{username}:{password}")}}
    return {
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))},
    }


def apply(up: Up, name: str, image: str, pull_secrets: list[str]) -> None:
    spec: dict[str, Any] = {"containers": [{"image": image}]}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    doc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }
    up.cli("apply", "-f", "-", input=json.dumps(doc))


def ready(up: Up, revision: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = get(up, "revision", revision)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    return wait_for(check, 60, f"revision {revision} Ready")  # type: ignore[no-any-return]


def missing(up: Up, revision: str) -> str:
    def check() -> str | None:
        cond = condition(get(up, "revision", revision), "ContainerHealthy")
        return str(cond["message"]) if cond.get("reason") == "ContainerMissing" else None

    return wait_for(check, 30, f"revision {revision} ContainerMissing")  # type: ignore[no-any-return]


def grep_data(data_dir: Path, *needles: str) -> list[str]:
    found = []
    for root, _dirs, names in os.walk(data_dir):
        for name in names:
            try:
                content = Path(root, name).read_bytes()
            except OSError:
                continue
            found += [f"{Path(root, name)}: {needle}" for needle in needles if needle.encode() in content]
    return found


def test_a_private_image_runs_with_its_pull_secret_and_is_missing_without(
    up: Up, auth_registry: Registry, hello_image: Path, hello_pushed: Pushed
) -> None:
    pushed = auth_registry.push(hello_image, "private/hello:v1")
    user, password = auth_registry.username, auth_registry.password
    api = up.client()
    api.create(SECRET, pull_secret("regcred", auth_registry.host, user, password))
    api.create(SECRET, pull_secret("wrongcred", auth_registry.host, user, "not-the-password"))

    apply(up, "private", pushed.ref, ["absent", "regcred"])
    apply(up, "anonymous", pushed.ref, [])
    apply(up, "wrong", pushed.ref, ["wrongcred"])
    apply(up, "public", hello_pushed.ref, ["absent"])

    revision = ready(up, "private-00001")
    assert revision["status"]["containerStatuses"][0]["imageDigest"] == pushed.pinned
    assert up.get("private.default.localhost") == (200, "Hello World! (revision private-00001)\n")

    for name in ("anonymous", "wrong"):
        message = missing(up, f"{name}-00001")
        assert message.startswith(f'Unable to fetch image "{pushed.ref}": failed to resolve image to digest: ')
        assert message.endswith("unauthorized: authentication required"), message  # the registry's 401
        assert password not in message

    ready(up, "public-00001")  # the missing pull secret is skipped: a public image still runs
    events = api.list(EVENT, "default")["items"]
    warned = [e for e in events if e.get("reason") == "FailedToRetrieveImagePullSecret"]
    assert {e["involvedObject"]["name"] for e in warned} >= {"public-00001", "private-00001"}
    assert warned[0]["message"] == (
        "Unable to retrieve some image pull secrets (absent); attempting to pull the image may not succeed."
    )

    needles = (password, b64(password), b64(f"{user}:{password}"))
    assert grep_data(up.data_dir, *needles) == []
    with sqlite3.connect(up.data_dir / "zeroserve.db", timeout=30) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert grep_data(up.data_dir, *needles) == []
