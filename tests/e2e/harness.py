"""Harness: a real `zeroserve up` as a subprocess, on 127.0.0.1 with ephemeral ports, in a temp data dir."""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from tests.support.polling import wait_for
from zeroserve.cli.client import ApiClient

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Up:
    data_dir: Path
    gateway_port: int = 0
    """0: an ephemeral port at each start; else this one (a restart keeps the gateway's address)."""
    args: tuple[str, ...] = ()
    """More ``zeroserve up`` flags (``--serve-registry``, …)."""
    launcher: tuple[str, ...] = ()
    """A script Python runs instead, given ``-m zeroserve up ...`` (tests/support/noselector.py)."""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        endpoints = self.data_dir / "endpoints.json"
        if endpoints.exists():
            endpoints.unlink()
        self.log_path = self.data_dir.parent / f"up-{int(time.monotonic() * 1000)}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *self.launcher,
                "-m",
                "zeroserve",
                "up",
                "--data-dir",
                str(self.data_dir),
                "--api-port",
                "0",
                "--gateway-port",
                str(self.gateway_port),
                *self.args,
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: endpoints.exists() or self.proc.poll() is not None, 60, "endpoints.json")  # type: ignore[union-attr]
        if self.proc.poll() is not None:
            raise AssertionError(f"zeroserve up exited early:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    @property
    def endpoints(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "endpoints.json").read_text())  # type: ignore[no-any-return]

    def write_config(self, text: str) -> None:
        """Replace DATA/config.yaml (re-read live by `up`, as Knative watches its ConfigMaps)."""
        tmp = self.data_dir / "config.yaml.tmp"
        tmp.write_text(text)
        tmp.replace(self.data_dir / "config.yaml")

    @property
    def port(self) -> int:
        """The gateway's real port (URLs carry it)."""
        return int(urlsplit(self.endpoints["gateway"]).port or 0)

    def get(self, host: str, path: str = "/", *, internal: bool = False, timeout: float = 30) -> tuple[int, str]:
        """A request through the gateway (or its internal listener) with ``Host: host``."""
        base = urlsplit(self.endpoints["internal" if internal else "gateway"])
        conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def api_get(self, path: str) -> str:
        """GET a path of the API with the token (e.g. ``/metrics``); the body as text."""
        base = urlsplit(self.endpoints["api"])
        conn = http.client.HTTPSConnection(base.hostname or "127.0.0.1", base.port, timeout=30, context=self.tls())
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {(self.data_dir / 'token').read_text()}"})
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            return resp.read().decode()
        finally:
            conn.close()

    def client(self) -> ApiClient:
        token = (self.data_dir / "token").read_text().strip()
        return ApiClient(self.endpoints["api"], token, ca_file=str(self.data_dir / "ca.crt"))

    def tls(self) -> ssl.SSLContext:
        """A client context trusting the CA `up` made (DATA/ca.crt), as kubectl does by the kubeconfig."""
        return ssl.create_default_context(cafile=self.data_dir / "ca.crt")

    def cli(
        self, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``zeroserve --data-dir DATA ARGS`` (``env``: variables set for it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")} | (env or {})
        done = subprocess.run(
            [sys.executable, "-m", "zeroserve", "--data-dir", str(self.data_dir), *args],
            cwd=REPO,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            cmd = " ".join(args)
            raise AssertionError(f"zeroserve {cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


def get_object(up: Up, kind: str, name: str) -> dict[str, Any]:
    """``zeroserve get KIND NAME -o json`` through ``up``, ``{}`` when there is none."""
    done = up.cli("get", kind, name, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition ``type_`` of ``obj``'s status, ``{}`` when it has none."""
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), {})
