"""The registry `zeroserve up --serve-registry` runs (zeroserve.build.registry): real docker-registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.support.images import require
from tests.support.polling import wait_for
from zeroserve.build.registry import LocalRegistry
from zeroserve.build.source import BuildError


async def test_serves_on_a_free_port_and_stops(tmp_path: Path) -> None:
    require("docker-registry")
    async with LocalRegistry(tmp_path / "registry", "127.0.0.1:0") as registry:
        host, _, port = registry.host.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        with urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=10) as response:
            assert response.status == 200
        assert (tmp_path / "registry" / "config.yml").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=10)


@pytest.mark.parametrize(
    "address", [pytest.param("0.0.0.0:5000", id="all"), pytest.param("127.0.0.1", id="no-port"), "10.1.2.3:5000"]
)
def test_only_a_loopback_host_port(tmp_path: Path, address: str) -> None:
    with pytest.raises(BuildError, match="loopback HOST:PORT"):
        LocalRegistry(tmp_path, address)


async def test_a_taken_port_is_said(tmp_path: Path) -> None:
    require("docker-registry")
    async with LocalRegistry(tmp_path / "first", "127.0.0.1:0") as first:
        with pytest.raises(BuildError, match="address already in use"):
            await LocalRegistry(tmp_path / "second", first.host).start()


async def test_not_installed(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="apt-get install docker-registry"):
        await LocalRegistry(tmp_path, binary="no-such-registry").start()


def test_dies_with_its_parent(tmp_path: Path) -> None:
    """`up` SIGKILLed leaves no registry holding the port (setpriv --pdeathsig)."""
    require("docker-registry", "setpriv")
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from pathlib import Path
        from zeroserve.build.registry import LocalRegistry
        async def main():
            registry = LocalRegistry(Path({str(tmp_path / "registry")!r}), "127.0.0.1:0")
            await registry.start()
            print(registry._proc.pid, flush=True)
            await asyncio.Event().wait()
        asyncio.run(main())
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, 10, "the registry to die with its parent")
