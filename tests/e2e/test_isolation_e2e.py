"""Isolation end to end: `zeroserve up` as root runs each revision as a user of its own, sandboxed.

A hostile app (tests/runtime/apps/attacker.py) tries to read the token and the database, up's
``/proc`` entries, the data dir's path in its parent's cmdline, another instance's environment and
files, to signal another instance and to call the API: every attempt must fail. Needs root (CI runs
as root); with bubblewrap installed (CI installs it) the attacks only the sandbox stops are checked
too. Afterwards ``up`` is SIGKILLed and the sandboxed apps must die with it.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Up
from tests.support.polling import wait_for
from zeroserve.runtime import isolation, supervisor

ATTACKER = "tests/runtime/apps/attacker.py"
MACHINE = isolation.probe(isolation.Policy())
SANDBOXED = MACHINE.bwrap is not None
SANDBOX_ONLY = {"up_cmdline", "parent_cmdline", "victim_file"}
"""Attacks the user switch alone does not stop (cmdline is world-readable, /tmp is shared)."""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="zeroserve up switches users only as root")


def manifest(name: str, secret: str) -> str:
    return json.dumps(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"command": ["python3", ATTACKER], "env": [{"name": "SECRET", "value": secret}]}]
                    }
                }
            },
        }
    )


def ask(up: Up, service: str, path: str) -> Any:
    status, body = up.get(f"{service}.default.localhost", path)
    assert status == 200, body
    return json.loads(body)


def app_pids(revision: str) -> list[int]:
    """Host pids of the processes whose environment says they are ``revision`` (we are root)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"K_REVISION={revision}".encode() in environ and b"SECRET=victim's secret" in environ:
                found.append(int(entry))
    return found


def dead(pid: int) -> bool:
    stat = supervisor.read_stat(pid)
    return stat is None or stat.state in ("Z", "X")


def test_an_app_cannot_reach_the_platform_or_another_app(up: Up) -> None:
    up.cli("apply", "-f", "-", "--wait", input=manifest("victim", "victim's secret"))
    up.cli("apply", "-f", "-", "--wait", input=manifest("spy", "spy's secret"))
    victim, spy = ask(up, "victim", "/whoami"), ask(up, "spy", "/whoami")
    assert victim["uid"] != spy["uid"] and 0 not in (victim["uid"], spy["uid"])
    assert set(spy["env"]) == {
        "PATH",
        "LANG",
        "HOME",
        "PORT",
        "K_SERVICE",
        "K_CONFIGURATION",
        "K_REVISION",
        "ZEROSERVE_INTERNAL_URL",
        "http_proxy",  # the internal gateway as every instance's HTTP proxy (cli/addresses.py)
        "HTTP_PROXY",
        "no_proxy",
        "NO_PROXY",
        "SECRET",
    } - ({"LANG"} - set(os.environ))
    target = wait_for(lambda: app_pids("victim-00001"), 30, "the victim's host pid")[0]

    query = "&".join(
        [
            f"data={up.data_dir}",
            f"up={up.endpoints['pid']}",
            f"victim={target}",
            f"file={victim['secret_file']}",
            f"api={up.endpoints['api']}",
        ]
    )
    results = ask(up, "spy", f"/attack?{query}")
    expected = {"token", "db", "parent_cmdline", "up_cmdline", "up_environ", "signal_victim", "victim_environ"}
    assert set(results) == expected | {"victim_file", "api"}
    checked = set(results) if SANDBOXED else set(results) - SANDBOX_ONLY
    assert {name: results[name] for name in checked if not results[name].startswith("denied")} == {}

    # The secrets are the platform's alone, and nothing in the revision's condition says otherwise.
    assert up.data_dir.stat().st_mode & 0o777 == 0o700
    secrets = [up.data_dir / name for name in ("token", "zeroserve.db", "zeroserve.db-wal", "zeroserve.db-shm")]
    logs = [path for path in (up.data_dir / "logs").rglob("*") if path.is_file()]
    assert logs
    for path in [*secrets, *logs]:
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600, path
    rev = json.loads(up.cli("get", "revision", "spy-00001", "-o", "json").stdout)
    available = next(c for c in rev["status"]["conditions"] if c["type"] == "ResourcesAvailable")
    assert available["status"] == "True"
    if SANDBOXED:
        assert not available.get("message")
    else:
        assert "instances share zeroserve up's PID and mount namespaces" in available["message"]

    # The sandboxed apps die with `up`, even SIGKILLed.
    apps = app_pids("victim-00001")
    up.stop(signal.SIGKILL)
    wait_for(lambda: all(dead(pid) for pid in apps), 30, "the apps to die with up")


def test_run_as_non_root_with_uid_0_is_a_revision_condition(up: Up) -> None:
    service = json.loads(manifest("rooted", "x"))
    container = service["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"runAsNonRoot": True, "runAsUser": 0}
    up.cli("apply", "-f", "-", input=json.dumps(service))

    def refused() -> dict[str, Any] | None:
        done = up.cli("get", "revision", "rooted-00001", "-o", "json", check=False)
        if done.returncode != 0:
            return None
        rev: dict[str, Any] = json.loads(done.stdout)
        conditions = {c["type"]: c for c in rev.get("status", {}).get("conditions", [])}
        return conditions if conditions.get("ResourcesAvailable", {}).get("status") == "False" else None

    conditions = wait_for(refused, 30, "rooted-00001 refused")
    for kind in ("ResourcesAvailable", "ContainerHealthy"):
        assert conditions[kind]["reason"] == "CreateContainerConfigError"
        assert "runAsUser breaks non-root policy" in conditions[kind]["message"]
    assert conditions["Ready"]["status"] == "False"
