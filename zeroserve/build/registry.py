"""A registry on this machine for builds to push to: Debian's ``docker-registry`` (distribution 2.8).

``zeroserve up --serve-registry`` runs one on a loopback address (``--registry``, default
127.0.0.1:5000; port 0 for any free port, read back from its log) with its blobs in
``DATA/registry``, as a Knative user with ``ko`` or ``kn func`` has a local registry beside a kind
cluster (``KO_DOCKER_REPO=kind.local`` style). Plain http on loopback: go-containerregistry, and
so zeroserve's image store, speaks http to 127.0.0.1 without configuration. It dies with ``up``
(``setpriv --pdeathsig``, where util-linux has it) and is stopped with SIGTERM when ``up`` stops.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import shutil
import time
from pathlib import Path
from types import TracebackType

from zeroserve.build.source import BuildError

DEFAULT_ADDRESS = "127.0.0.1:5000"
START_TIMEOUT = 30.0
"""Seconds the registry has to say it listens."""
STOP_TIMEOUT = 10.0
LOG_POLL = 0.01
"""How often the log is read while the registry starts (seconds)."""
_LISTENING = re.compile(r"listening on (\S+?)\"?(\s|$)")


class LocalRegistry:
    """``async with LocalRegistry(DATA / "registry", "127.0.0.1:0") as reg: reg.host`` -> ``127.0.0.1:PORT``."""

    def __init__(self, root: Path, address: str = DEFAULT_ADDRESS, *, binary: str = "docker-registry") -> None:
        host, _, port = address.rpartition(":")
        if not port.isdigit() or not _loopback(host):
            raise BuildError(f"--registry {address}: a registry zeroserve serves listens on a loopback HOST:PORT")
        self.root = root
        self.address = address
        self.host = address
        self._binary = binary
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> LocalRegistry:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def log_file(self) -> Path:
        return self.root / "registry.log"

    async def start(self) -> str:
        """Start it and wait until it listens; the address it listens on (``HOST:PORT``)."""
        binary = shutil.which(self._binary)
        if binary is None:
            raise BuildError(f"{self._binary} is not installed (Debian: apt-get install docker-registry)")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n  secret: {secrets.token_hex(16)}\n"
        )
        setpriv = shutil.which("setpriv")
        lifeline = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        with open(self.log_file, "wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *lifeline, binary, "serve", str(config), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        try:
            self.host = await self._listening()
        except BaseException:
            await self.stop()
            raise
        return self.host

    async def _listening(self) -> str:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log_file.read_text(errors="replace")
            if match := _LISTENING.search(text):
                return match.group(1)
            if self._proc.returncode is not None:
                raise BuildError(f"docker-registry exited {self._proc.returncode}: {text.strip()[-500:]}")
            await asyncio.sleep(LOG_POLL)  # polling its log, bounded by the deadline
        raise BuildError(f"docker-registry did not listen on {self.address} within {START_TIMEOUT}s")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
