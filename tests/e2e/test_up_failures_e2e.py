"""What a second ``zeroserve up`` and a CLI pointed at the wrong data dir say (issue 18): the flag
that moves a taken port, the ``up`` that holds the data dir, the token or CA the API refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.e2e.harness import REPO, Up

ANOTHER = "is another `zeroserve up` running with a different --data-dir?"


def _zeroserve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_second_up_and_a_wrong_data_dir_say_what_to_do(up: Up, tmp_path: Path) -> None:
    api = up.endpoints["api"]
    api_port = urlsplit(api).port
    gateway_port = urlsplit(up.endpoints["gateway"]).port
    pid = up.proc.pid if up.proc else 0

    same = _zeroserve("up", "--data-dir", str(up.data_dir), "--api-port", "0", "--gateway-port", "0")
    assert same.returncode == 1
    assert f"another `zeroserve up` holds {up.data_dir} (pid {pid}): stop it (Ctrl-C where it runs, or kill {pid})" in (
        same.stderr
    )

    other = tmp_path / "other"
    taken = _zeroserve("up", "--data-dir", str(other), "--api-port", str(api_port), "--gateway-port", "0")
    assert taken.returncode == 1 and "Traceback" not in taken.stderr
    assert f"127.0.0.1:{api_port} is already in use" in taken.stderr
    assert "Choose another with --api-port PORT." in taken.stderr
    gateway = _zeroserve("up", "--data-dir", str(other), "--api-port", "0", "--gateway-port", str(gateway_port))
    assert gateway.returncode == 1
    assert "Choose another with --gateway-port PORT (0: any free port)." in gateway.stderr, gateway.stderr

    # the other data dir, written by that failed up, points at the running API: its CA and token differ
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "endpoints.json").write_text(json.dumps({"api": api}))
    (stray / "token").write_text("not-the-token")
    untrusted = _zeroserve("--data-dir", str(stray), "get", "ksvc")
    assert untrusted.returncode == 1
    assert untrusted.stderr.startswith(f"error: the API at {api} presents a certificate not signed by the system CAs")
    assert untrusted.stderr.strip().endswith(ANOTHER)
    shutil.copy(up.data_dir / "ca.crt", stray / "ca.crt")
    refused = _zeroserve("--data-dir", str(stray), "get", "ksvc")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: the API at {api} does not accept the token in {stray / 'token'} (Unauthorized): {ANOTHER}"
    )
