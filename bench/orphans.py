"""Experiment (run by hand): create a Service and delete it after a gap; does anything outlive it?

Starts a real `zeroserve up` (temp data dir, ephemeral ports), then for each gap in ``--gaps`` creates
``-n`` Services running the hello example, deletes each after the gap, waits ``--settle`` seconds and
counts what is left: Configurations, Routes, Revisions, PodAutoscalers, ServerlessServices, and the
instance processes still running under the data dir. Then re-creates one deleted name and says
whether it becomes Ready (a leftover child makes it ``NotOwned`` forever).

    .venv/bin/python bench/orphans.py [-n 20] [--gaps 0,0.25,0.5,1,1.5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.harness import Up  # noqa: E402
from zeroserve.api.kinds import (  # noqa: E402
    CONFIGURATION,
    PODAUTOSCALER,
    REVISION,
    ROUTE,
    SERVERLESSSERVICE,
    SERVICE,
)
from zeroserve.errors import NotFound  # noqa: E402

CHILDREN = (CONFIGURATION, ROUTE, REVISION, PODAUTOSCALER, SERVERLESSSERVICE)


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python3", "examples/hello/app.py"]}]}}},
    }


def instances() -> int:
    """Processes whose command line names the hello app and whose parent is not this script."""
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"examples/hello/app.py" in cmdline:
            count += 1
    return count


def owner_of(name: str) -> str:
    """The Service a child is named after (``NAME`` or ``NAME-00001``)."""
    head, _, tail = name.rpartition("-")
    return head if head and len(tail) == 5 and tail.isdigit() else name


def wait_until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--gaps", default="0,0.25,0.5,1,1.5")
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    print(f"interpreter: {sys.executable}")
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp) / "data")
        up.start()
        try:
            client = up.client()
            print(f"{'gap s':>6} {'left':>5} " + " ".join(f"{k.kind:>18}" for k in CHILDREN) + "  processes")
            for gap in (float(g) for g in args.gaps.split(",")):
                names = [f"o{int(gap * 1000)}-{i}" for i in range(args.n)]
                for name in names:
                    client.create(SERVICE, service(name))
                    if gap:
                        time.sleep(gap)
                    client.delete(SERVICE, "default", name)
                time.sleep(args.settle)
                left_names: set[str] = set()
                counts = []
                for kind in CHILDREN:
                    items = [o["metadata"]["name"] for o in client.list(kind, "default")["items"]]
                    mine = [n for n in items if owner_of(n) in names]
                    left_names.update(owner_of(n) for n in mine)
                    counts.append(len(mine))
                left = len(left_names)
                print(f"{gap:>6} {left:>5} " + " ".join(f"{c:>18}" for c in counts) + f"  {instances():>9}")
            name = f"o0-{args.n - 1}"
            client.create(SERVICE, service(name))

            def ready() -> bool:
                try:
                    conds = client.get(SERVICE, "default", name).get("status", {}).get("conditions", [])
                except NotFound:
                    return False
                return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

            print(f"re-created {name}: Ready={wait_until(ready, 20)}")
        finally:
            up.stop()


if __name__ == "__main__":
    main()
