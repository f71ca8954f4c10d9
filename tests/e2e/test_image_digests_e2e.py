"""Images pinned by digest through `zeroserve up` (issue 13, part 2): a tag pushed to a real registry
on 127.0.0.1 resolves to its digest at revision creation, a later push to the tag leaves that
revision alone (it goes on serving the first image, reached by a tag) while a new revision gets and
serves the new digest, and a tag the registry lacks is Knative's ContainerMissing condition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.harness import Up, condition
from tests.support.images import Registry, variant
from tests.support.polling import wait_for


def service(name: str, image: str, stamp: str = "1", traffic: list[dict[str, Any]] | None = None) -> str:
    """A Service as kn writes one; a new ``client.knative.dev/updateTimestamp`` forces a new revision."""
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"annotations": {"client.knative.dev/updateTimestamp": stamp}},
            "spec": {"containers": [{"image": image}]},
        }
    }
    if traffic is not None:
        spec["traffic"] = traffic
    return json.dumps(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }
    )


def revision(up: Up, name: str) -> dict[str, Any]:
    done = up.cli("get", "revision", name, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def digest_of(up: Up, name: str) -> str | None:
    statuses = revision(up, name).get("status", {}).get("containerStatuses", [])
    return statuses[0].get("imageDigest") if statuses else None


def test_tag_pinned_at_creation_and_a_new_push_changes_only_new_revisions(
    up: Up, registry: Registry, hello_image: Path, tmp_path: Path
) -> None:
    first = registry.push(hello_image, "e2e-pin/hello:v1")
    up.cli("apply", "-f", "-", "--wait", "--timeout", "90", input=service("pinned", first.ref))
    assert wait_for(lambda: digest_of(up, "pinned-00001"), 30, "pinned-00001 digest") == first.pinned
    assert up.get("pinned.default.localhost") == (200, "Hello World! (revision pinned-00001)\n")

    second = registry.push(variant(hello_image, tmp_path / "v1-again", env={"TARGET": "again"}), "e2e-pin/hello:v1")
    assert up.get("pinned.default.localhost") == (200, "Hello World! (revision pinned-00001)\n")
    old = {"revisionName": "pinned-00001", "percent": 0, "tag": "old"}
    up.cli(
        "apply",
        "-f",
        "-",
        "--wait",
        "--timeout",
        "90",
        input=service("pinned", first.ref, "2", [{"latestRevision": True, "percent": 100}, old]),
    )
    assert wait_for(lambda: digest_of(up, "pinned-00002"), 30, "pinned-00002 digest") == second.pinned
    assert digest_of(up, "pinned-00001") == first.pinned
    assert up.get("pinned.default.localhost") == (200, "Hello again! (revision pinned-00002)\n")
    assert up.get("old-pinned.default.localhost") == (200, "Hello World! (revision pinned-00001)\n")
    rev = revision(up, "pinned-00001")
    assert rev["spec"]["containers"][0]["image"] == first.ref  # the spec keeps what the user wrote


def test_unresolvable_tag_is_container_missing(up: Up, registry: Registry) -> None:
    image = registry.ref("e2e-missing/hello:v9")
    up.cli("apply", "-f", "-", input=service("missing", image))

    def missing() -> dict[str, Any] | None:
        rev = revision(up, "missing-00001")
        return rev if condition(rev, "ContainerHealthy").get("status") == "False" else None

    rev = wait_for(missing, 30, "ContainerHealthy=False")
    healthy = condition(rev, "ContainerHealthy")
    assert healthy["reason"] == "ContainerMissing"
    assert healthy["message"].startswith(f'Unable to fetch image "{image}": failed to resolve image to digest: ')
    assert "manifest unknown" in healthy["message"]
    assert condition(rev, "Ready")["status"] == "False"
    assert "containerStatuses" not in rev["status"]
