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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from zeroserve.api.kinds import (  # noqa: E402
    CONFIGURATION,
    PODAUTOSCALER,
    REVISION,
    ROUTE,
    SERVERLESSSERVICE,
    SERVICE,
)
from zeroserve.cli.client import ApiClient  # noqa: E402
from zeroserve.errors import NotFound  # noqa: E402

CHILDREN = (CONFIGURATION, ROUTE, REVISION, PODAUTOSCALER, SERVERLESSSERVICE)


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python3", "examples/hello/app.py"]}]}}},
    }


def instances(data_dir: Path) -> int:
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
        data = Path(tmp) / "data"
        log = open(Path(tmp) / "up.log", "wb")  # noqa: SIM115 - closed at the end
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zeroserve",
                "up",
                "--data-dir",
                str(data),
                "--api-port",
                "0",
                "--gateway-port",
                "0",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_until(lambda: (data / "endpoints.json").exists(), 60):
                raise SystemExit("zeroserve up did not start")
            import json

            api = json.loads((data / "endpoints.json").read_text())["api"]
            client = ApiClient(api, (data / "token").read_text().strip())
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
                print(f"{gap:>6} {left:>5} " + " ".join(f"{c:>18}" for c in counts) + f"  {instances(data):>9}")
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
            proc.terminate()
            proc.wait(60)
            log.close()


if __name__ == "__main__":
    main()
