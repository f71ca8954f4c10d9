"""Issue 19, item 1, on a real ``zeroserve up --workers 3``: the gateway's connections are accepted by
worker processes too, which serve serve-mode requests themselves; containerConcurrency holds across
them (the main process owns every CC >= 1 breaker); a killed worker is started again and loses only
its own requests in flight. Real processes, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_dataplane_e2e import SLEEP, burst, sks_mode
from tests.support.polling import wait_for

WORKERS = 3
HELLO = ["--cmd", "python3", "--arg", "examples/sleep/app.py"]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = Up(tmp_path / "data", args=("--workers", str(WORKERS)))
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def worker_pids(up: Up) -> list[int]:
    """The gateway workers: children of ``up`` running ``zeroserve.cli.gatewayworker``."""
    assert up.proc is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[1] == str(up.proc.pid) and b"zeroserve.cli.gatewayworker" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def accepted_on(port: int) -> dict[str, tuple[str, int]]:
    """Established TCP connections whose local port is ``port``: inode -> remote (ip hex, port)."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port:
            out[inode] = (remote.split(":")[0], int(remote.split(":")[1], 16))
    return out


def get_on(sock: socket.socket, host: str, path: str = "/") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the body"
        body += chunk
    return head.split(b"\r\n", 1)[0]


def hello_in_serve_mode(up: Up) -> None:
    """examples/sleep as Service ``hello``, one instance, in serve mode; every gateway worker up."""
    up.cli(
        "service", "create", "hello", *HELLO,
        "--annotation", "autoscaling.knative.dev/target-burst-capacity=0", "--scale-min", "1",
    )  # fmt: skip
    wait_for(lambda: sks_mode(up, "hello-00001") == "Serve", 60, "serve mode")
    wait_for(lambda: len(worker_pids(up)) == WORKERS - 1, 30, "the gateway workers")


def test_workers_accept_and_serve_serve_mode_requests_themselves(up: Up) -> None:
    hello_in_serve_mode(up)
    workers = worker_pids(up)
    assert up.endpoints["gatewayProcesses"] == WORKERS
    # Keep opening connections (each answered) until each worker holds one: the kernel hands each
    # new connection to one process's socket by a hash of the client's port (the main process
    # accepts on a worker's socket only until the worker accepts there itself).
    held: list[socket.socket] = []
    holders: set[int] = set()
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", up.port))
            held.append(s)
            assert get_on(s, "hello.default.localhost", "/?ms=0") == b"HTTP/1.1 200 OK"
            ours = {str(s.getsockname()[1])}
            conns = accepted_on(up.port)
            for pid in workers:
                inodes = socket_inodes(pid)
                if any(inode in inodes and str(remote[1]) in ours for inode, remote in conns.items()):
                    holders.add(pid)
            if holders == set(workers):
                break
        assert holders == set(workers), f"of the workers {workers}, only {sorted(holders)} accepted a connection"
    finally:
        for s in held:
            s.close()


def test_without_a_reuseport_selector_the_processes_share_one_socket(tmp_path: Path) -> None:
    """Where the kernel refuses the selector (a seccomp filter here, as before Linux 4.5): up says so
    and its processes accept on one shared socket per address; workers still serve."""
    up = Up(tmp_path / "data", args=("--workers", str(WORKERS)), launcher=("tests/support/noselector.py",))
    up.start()
    try:
        assert "no reuseport selector here" in up.log()
        assert "share one listening socket per address" in up.log()
        hello_in_serve_mode(up)
        workers = worker_pids(up)
        held: list[socket.socket] = []
        try:
            for _ in range(200):  # each answered; accepted by whichever process ran first
                s = socket.create_connection(("127.0.0.1", up.port))
                held.append(s)
                assert get_on(s, "hello.default.localhost", "/?ms=0") == b"HTTP/1.1 200 OK"
                conns = accepted_on(up.port)
                if any(inode in socket_inodes(pid) for pid in workers for inode in conns):
                    break
            else:
                raise AssertionError("no connection was accepted by a gateway worker")
        finally:
            for s in held:
                s.close()
    finally:
        if up.proc is not None:
            up.stop()


def test_cc1_holds_across_workers_and_the_twelfth_is_refused(up: Up) -> None:
    up.cli(
        "service", "create", "slow", *SLEEP, "--concurrency-limit", "1",
        "--annotation", "autoscaling.knative.dev/target-burst-capacity=0",
        "--scale-min", "1", "--scale-max", "1",
    )  # fmt: skip
    wait_for(lambda: sks_mode(up, "slow-00001") == "Serve", 60, "serve mode")
    wait_for(lambda: len(worker_pids(up)) == WORKERS - 1, 30, "the gateway workers")
    # 12 connections, spread over the 3 processes: one runs, ten wait in the one breaker, one is refused.
    # A breaker per process would admit all twelve (3 x (1 running + 10 queued)): the 503 is the proof
    # that one breaker holds CC=1 for the instance whichever process accepted the connection.
    results = asyncio.run(burst(up, "slow.default.localhost", 12, "/?ms=1500"))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * 11 + [503], codes


def test_a_killed_worker_is_started_again_and_loses_only_its_requests(up: Up) -> None:
    hello_in_serve_mode(up)
    victim = worker_pids(up)[0]
    stop = threading.Event()
    outcomes: list[str] = []
    clients = 4

    def client() -> None:  # a new connection per request: each is accepted by any process
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", up.port), timeout=10) as s:
                    line = get_on(s, "hello.default.localhost", "/?ms=20")
                    outcomes.append("ok" if line == b"HTTP/1.1 200 OK" else line.decode())
            except (OSError, AssertionError) as e:
                outcomes.append(f"error: {e}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(outcomes) >= 50, 30, "load before the kill")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(worker_pids(up)) == WORKERS - 1 and victim not in worker_pids(up), 30, "the restart")
        before = len(outcomes)
        wait_for(lambda: len(outcomes) >= before + 100, 60, "load after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join()
    failed = [o for o in outcomes if o != "ok"]
    # at most the requests the worker held when it died (one per client at a time)
    assert len(failed) <= clients, failed
    assert all(o.startswith("error") for o in failed), failed
    assert "gateway worker 1 exited" in up.log() or "gateway worker 2 exited" in up.log()


def test_proxy_mode_through_the_workers_activators(up: Up) -> None:
    up.cli(
        "service", "create", "hello", *HELLO,
        "--annotation", "autoscaling.knative.dev/target-burst-capacity=-1", "--scale-min", "1",
    )  # fmt: skip
    wait_for(lambda: up.get("hello.default.localhost", "/?ms=0")[0] == 200, 60, "hello ready")
    assert sks_mode(up, "hello-00001") == "Proxy"
    wait_for(lambda: len(worker_pids(up)) == WORKERS - 1, 30, "the gateway workers")
    results = asyncio.run(burst(up, "hello.default.localhost", 60, "/?ms=50"))
    assert sorted(code for code, _ in results) == [200] * 60


def test_request_logs_have_every_processs_lines(up: Up) -> None:
    up.write_config(
        "config-observability:\n  logging.enable-request-log: 'true'\n"
        "  logging.request-log-template: '{{.Request.RequestURI}} {{.Response.Code}}'\n"
    )
    wait_for(lambda: "config: reloaded" in up.log(), 10, "config applied by up")
    hello_in_serve_mode(up)
    for i in range(24):  # a new connection each: accepted by any of the three processes
        with socket.create_connection(("127.0.0.1", up.port), timeout=10) as s:
            assert get_on(s, "hello.default.localhost", f"/?ms=0&i={i}") == b"HTTP/1.1 200 OK"
    pods = json.loads(up.api_get("/api/v1/namespaces/default/pods?labelSelector=serving.knative.dev/service=hello"))
    pod = pods["items"][0]["metadata"]["name"]

    def lines() -> list[str]:
        text = up.api_get(f"/api/v1/namespaces/default/pods/{pod}/log?container=queue-proxy")
        return [line for line in text.splitlines() if "&i=" in line]

    got = wait_for(lambda: (found := lines()) and len(found) >= 24 and found, 10, "24 request lines")
    assert sorted(got) == sorted(f"/?ms=0&i={i} 200" for i in range(24))
