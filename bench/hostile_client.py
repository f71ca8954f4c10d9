"""Experiment (run by hand): how much one hostile client on loopback makes the gateway hold.

    .venv/bin/python bench/hostile_client.py [--zeroserve PATH] [--only head,upgrade,pipeline]

Starts a real :class:`~zeroserve.gateway.Gateway` (uvloop, as in ``zeroserve up``) in its own
process, routing ``bench.default.localhost`` to a small raw upstream in a third process that
answers ``GET /`` with ``ok`` and never answers an upgrade request. Then, one after the other:

  head      one request whose head is 64 MB (a single 64 MB header line, then CRLF CRLF);
  upgrade   ``Connection: Upgrade`` to an upstream that never switches protocols, then 200 MB;
  pipeline  200,000 pipelined ``GET /`` on one connection whose responses are never read.

Each experiment gets a fresh gateway process. For each it prints the gateway's RSS before, its
peak during (``VmHWM``) and after, how many bytes the client got into the
gateway (a send that makes no progress for 3 s ends the attack: backpressure), what the client
got back, and the stall everyone else saw: the slowest of the ``GET /`` a second client sends
over keep-alive back to back during the attack (and its median, for the scale).

``--zeroserve PATH`` runs the gateway from another checkout (e.g. ``git archive`` of an older
commit unpacked in /tmp) to compare before and after on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = b"bench.default.localhost"
STALL_LIMIT = 3.0
"""Seconds without progress after which a send counts as held back by the gateway."""


# -- the upstream and the gateway (child processes) ----------------------------------------------


async def upstream_main() -> None:
    """Answers each request head with ``ok`` (keep-alive); holds an upgrade request forever."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b"upgrade" in head.lower():
                    await reader.read()  # never switches protocols; reads until the peer closes
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


async def gateway_main(upstream_port: int) -> None:
    from zeroserve.gateway import Backend, Gateway, RouteEntry, RoutingTable, Rule

    gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    backend = Backend("default", "bench-00001", 100)
    gw.set_table(RoutingTable([RouteEntry("default", "bench", 1, (Rule((HOST.decode(),), "ExternalIP", (backend,)),))]))
    gw.set_endpoints("default", "bench-00001", [("127.0.0.1", upstream_port)])
    ports = await gw.start()
    print(ports[0], flush=True)
    await asyncio.Event().wait()


def spawn(args: list[str], zeroserve: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(zeroserve)}
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


# -- measuring -------------------------------------------------------------------------------------


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Prober(threading.Thread):
    """``GET /`` back to back on one keep-alive connection; the latency of each."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port))
        request = b"GET / HTTP/1.1\r\nHost: " + HOST + b"\r\n\r\n"
        while not self.stop.is_set():
            start = time.perf_counter()
            sock.sendall(request)
            got = b""
            while not got.endswith(b"ok"):
                data = sock.recv(65536)
                if not data:
                    return
                got += data
            self.latencies.append(time.perf_counter() - start)
            time.sleep(0.002)  # a bench: a request every ~2 ms, not a busy loop on a 2-core machine
        sock.close()


def send_all(sock: socket.socket, data: bytes | memoryview) -> int:
    """Send until done, the peer closes, or no progress for STALL_LIMIT seconds; bytes sent."""
    sock.settimeout(STALL_LIMIT)
    view, sent = memoryview(data), 0
    while sent < len(view):
        try:
            sent += sock.send(view[sent : sent + (1 << 20)])
        except TimeoutError:
            break
        except (BrokenPipeError, ConnectionResetError):
            break
    return sent


def read_answer(sock: socket.socket) -> str:
    sock.settimeout(2.0)
    try:
        data = sock.recv(4096)
    except (TimeoutError, ConnectionResetError):
        return "(nothing)"
    if not data:
        return "(closed)"
    line, _, rest = data.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2].strip()
    return (line.decode("latin-1") + (f" / {body[:90].decode('latin-1')}" if body else ""))[:150]


def head_attack(port: int) -> tuple[int, str]:
    sock = socket.create_connection(("127.0.0.1", port))
    data = b"GET / HTTP/1.1\r\nHost: " + HOST + b"\r\nX-Big: " + b"a" * (64 << 20) + b"\r\n\r\n"
    sent = send_all(sock, data)
    answer = read_answer(sock)
    sock.close()
    return sent, answer


def upgrade_attack(port: int) -> tuple[int, str]:
    sock = socket.create_connection(("127.0.0.1", port))
    head = b"GET /ws HTTP/1.1\r\nHost: " + HOST + b"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    sock.sendall(head)
    sent = send_all(sock, b"x" * (200 << 20))
    sock.close()
    return len(head) + sent, "(upstream never answers)"


def pipeline_attack(port: int) -> tuple[int, str]:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read: responses pile up
    sent = send_all(sock, (b"GET / HTTP/1.1\r\nHost: " + HOST + b"\r\n\r\n") * 200_000)
    sock.close()
    return sent, "(never read)"


ATTACKS = {"head": head_attack, "upgrade": upgrade_attack, "pipeline": pipeline_attack}


def experiment(name: str, pid: int, port: int) -> None:
    time.sleep(0.5)  # a bench: let the fresh gateway settle
    before = status_kb(pid, "VmRSS")
    prober = Prober(port)
    prober.start()
    time.sleep(0.2)  # a bench: a baseline of probe latencies before the attack
    start = time.perf_counter()
    sent, answer = ATTACKS[name](port)
    elapsed = time.perf_counter() - start
    prober.stop.set()
    prober.join(10)
    time.sleep(0.5)  # a bench: let the gateway drop what the closed connection held
    peak, after = status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")
    lat = prober.latencies
    print(
        f"{name:<9} sent {sent / 1e6:8.1f} MB in {elapsed:5.1f} s   RSS before {before / 1024:6.1f} MB, "
        f"peak {peak / 1024:7.1f} MB (+{(peak - before) / 1024:.1f}), after {after / 1024:6.1f} MB   "
        f"probe max {max(lat) * 1000:7.1f} ms, median {statistics.median(lat) * 1000:.2f} ms (n={len(lat)})"
    )
    print(f"{'':<9} answer: {answer}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zeroserve", type=Path, default=REPO, help="the checkout whose gateway to run")
    p.add_argument("--only", default=",".join(ATTACKS), help="comma-separated: " + ", ".join(ATTACKS))
    p.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gateway", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.upstream or args.gateway:
        import uvloop

        uvloop.run(upstream_main() if args.upstream else gateway_main(args.gateway))
        return
    upstream, up_port = spawn(["--upstream"], args.zeroserve)
    try:
        print(f"Python {platform.python_version()} from {sys.base_prefix}; gateway from {args.zeroserve.resolve()}")
        for name in args.only.split(","):
            gateway, port = spawn(["--gateway", str(up_port)], args.zeroserve)
            try:
                experiment(name, gateway.pid, port)
            finally:
                gateway.terminate()
                gateway.wait(10)
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
