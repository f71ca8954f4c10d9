"""Benchmark the data plane: upstream direct vs nginx as reverse proxy vs the zeroserve gateway.

    .venv/bin/python bench/dataplane.py [--duration 10] [--connections 64] [--rounds 1] [--rate 1000]

(``apt-get install -y nginx-light wrk`` for the full comparison.) In one run, with the same
upstream (nginx ``return 200`` if nginx is installed, else a fast asyncio server):

  (a) the upstream directly,
  (b) nginx as a keep-alive reverse proxy to it (skipped without nginx),
  (c) the zeroserve gateway (``zeroserve.gateway.Gateway``, its own process, uvloop) to it,
  (d) serve mode on a real ``zeroserve up``: gateway -> queue-proxy -> app, the app being the same
      kind of upstream run by the runtime (``target-burst-capacity: 0``, one instance),
  (e) proxy mode: gateway -> activator -> queue-proxy -> app (``target-burst-capacity: -1``),

load comes from ``wrk -t1 -cN --latency`` if installed, else bench/loadgen.py. Prints rps, p50,
p99, the CPU time the proxy spent per request (for d and e: the whole ``zeroserve up`` process plus
the queue-proxy), and the ratios to b and a. ``--no-platform`` skips d and e; ``--queue-proxy
inline|sidecar`` is passed to ``zeroserve up`` (inline, the default: no queue-proxy hop in d and e).
Then, per round, the latency at a fixed rate (``--rate``, default 1000 rps, bench/loadgen.py with 8 connections): the
added p50 of one hop is c-a there (0 to skip). A round runs a, c, b, d, e, so b sits next to what it anchors;
the end prints each path's rps over b's as the median of the rounds (single runs move +-30% on a shared host).

``--workers 1,2,4,8,16`` prints the scaling curve instead: for each N, nginx with ``worker_processes
N`` as the reverse proxy next to serve mode on ``zeroserve up --workers N``, the same upstream and
load (wrk ``-t`` cores/4, ``-c`` 16 per process of the largest N), how many of the load's connections
each accepting process holds, and the ratio; ``--pin`` runs each N below the core count with the
proxy on cores 0..N-1 and the load generator and upstream on the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import cast

HOST = "bench.default.localhost"
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)  # a bench script, not a test: polling a port while a child starts
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of exactly these processes (each counted once)."""
    total = 0
    for pid in set(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


NGINX_CONF = """
worker_processes {workers}; daemon off; pid {dir}/nginx.pid; error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 1000000;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
  uwsgi_temp_path {dir}; scgi_temp_path {dir};
  upstream origin {{ server 127.0.0.1:{upstream}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ {body} }}
  }}
}}
"""


def start_nginx(
    workdir: Path, name: str, port: int, body: str, upstream: int = 0, workers: int = 1
) -> subprocess.Popen[bytes]:
    d = workdir / name
    d.mkdir()
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=d, port=port, body=body, upstream=upstream or port, workers=workers))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(d)], stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def start_python(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    wait_port(port)
    return proc, port


def load(
    port: int, duration: float, connections: int, threads: int = 1, cpus: set[int] | None = None
) -> dict[str, float]:
    """``cpus``: where the load generator may run (all cores when None)."""
    pinned = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    if shutil.which("wrk"):
        out = subprocess.run(
            [
                *pinned,
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-H",
                f"Host: {HOST}",
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {
            "rps": rps,
            "p50_ms": _wrk_ms(out, "50%"),
            "p99_ms": _wrk_ms(out, "99%"),
            "errors": float(errors.group(1)) if errors else 0.0,
        }
    cmd = [sys.executable, str(HERE / "loadgen.py"), str(port), "--connections", str(connections)]
    done = subprocess.run(
        [*pinned, *cmd, "--duration", str(duration), "--host", HOST], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def _wrk_ms(out: str, pct: str) -> float:
    m = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out)
    assert m is not None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def measure(
    name: str,
    port: int,
    pid: int | list[int] | None,
    a: argparse.Namespace,
    cpus: set[int] | None = None,
    acceptors: list[int] | None = None,
) -> dict[str, float]:
    """``pid``: the proxy's processes whose CPU counts (one pid: it and every process below it, as
    nginx's master and workers; a list: exactly those). ``cpus``: where the load generator runs.
    ``acceptors``: the processes that accept on ``port``; half-way through, how many of the load's
    connections each holds is printed."""
    pids = pid if isinstance(pid, list) else descendants(pid) if pid else []
    threads = getattr(a, "wrk_threads", 1)
    load(port, 2, a.connections, threads, cpus)  # warm-up
    before = cpu_seconds(pids)
    held: list[int] = []
    if acceptors:
        sample = threading.Timer(a.duration / 2, lambda: held.extend(connections_held(port, acceptors)))
        sample.start()
    r = load(port, a.duration, a.connections, threads, cpus)
    if acceptors:
        sample.join()
    if pid:
        r["cpu_us_per_req"] = (cpu_seconds(pids) - before) / max(r["rps"] * a.duration, 1) * 1e6
    print(
        f"  {name:<28} {r['rps']:>10,.0f} rps   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms"
        + (f"   proxy CPU {r['cpu_us_per_req']:5.1f} us/req" if pid else "")
        + (f"   errors {r['errors']:.0f}" if r.get("errors") else "")
        + (f"\n  {'':<28} connections per process {sorted(held, reverse=True)}" if acceptors else ""),
        flush=True,
    )
    return r


def connections_held(port: int, pids: list[int]) -> list[int]:
    """How many established connections to local ``port`` each of ``pids`` holds (by socket inode)."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes[fields[9]] = 0
    counts = []
    for pid in pids:
        mine = set()
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        mine.add(target[8:-1])
        counts.append(len(mine))
    return counts


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def pin(pids: list[int], cpus: set[int]) -> None:
    """Every thread of each of ``pids`` onto ``cpus`` (each thread has its own affinity mask)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)


def paced(a: argparse.Namespace, upstream: int, nginx_proxy: int, gw_port: int) -> None:
    """Latency at ``a.rate`` requests per second: what one hop adds when nothing is saturated."""
    cmd = [sys.executable, str(HERE / "loadgen.py"), "--connections", "8", "--rate", str(a.rate), "--host", HOST]
    got: dict[str, dict[str, float]] = {}
    for name, port in (("a", upstream), ("b", nginx_proxy), ("c", gw_port)):
        if port:
            out = subprocess.run([*cmd, str(port), "--duration", str(a.duration)], capture_output=True, text=True)
            got[name] = json.loads(out.stdout)
    line = f"  at {a.rate:g} rps: " + "   ".join(
        f"{k} p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} ms" for k, r in got.items()
    )
    line += f"   added p50 per hop c-a {got['c']['p50_ms'] - got['a']['p50_ms']:+.3f} ms"
    if "b" in got:
        line += f" (nginx b-a {got['b']['p50_ms'] - got['a']['p50_ms']:+.3f} ms)"
    print(line, flush=True)


def run(a: argparse.Namespace) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    have_nginx = shutil.which("nginx") is not None
    print(
        f"load: {'wrk' if shutil.which('wrk') else 'bench/loadgen.py'} -c{a.connections} {a.duration:g}s; "
        f"upstream: {'nginx return 200' if have_nginx else 'asyncio server'}; "
        f"Python {platform.python_version()} from {sys.base_prefix}"  # a default pyenv build is ~20% slower
    )
    zs_up: Platform | None = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if have_nginx:
                upstream = free_port()
                procs.append(start_nginx(Path(tmp), "origin", upstream, 'return 200 "ok";'))
            else:
                proc, upstream = start_python(["--serve-upstream"])
                procs.append(proc)
            nginx_proxy = 0
            if have_nginx:
                nginx_proxy = free_port()
                body = 'proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";'
                procs.append(start_nginx(Path(tmp), "proxy", nginx_proxy, body, upstream))
            gw, gw_port = start_python(["--serve-gateway", str(upstream)])
            procs.append(gw)
            zs_up = None if a.no_platform else Platform(Path(tmp), have_nginx, a.queue_proxy)
            ratios: dict[str, list[float]] = {}
            for i in range(a.rounds):
                print(f"round {i + 1}:")
                direct = measure("(a) upstream direct", upstream, None, a)
                ours = measure("(c) zeroserve gateway", gw_port, gw.pid, a)
                # b right after c and right before d: the ratios compare runs a few seconds apart
                nginx = measure("(b) nginx reverse proxy", nginx_proxy, procs[1].pid, a) if nginx_proxy else None
                line = f"  c/a rps {ours['rps'] / direct['rps']:.2f}"
                if nginx:
                    ratios.setdefault("c gateway", []).append(ours["rps"] / nginx["rps"])
                    line += f"   c/b rps {ours['rps'] / nginx['rps']:.2f}"
                    line += f"   added p50 c-b {ours['p50_ms'] - nginx['p50_ms']:+.2f} ms"
                print(line + f"   added p50 c-a {ours['p50_ms'] - direct['p50_ms']:+.2f} ms", flush=True)
                if zs_up is not None:
                    qp = " > qp" if a.queue_proxy == "sidecar" else " (inline qp)"
                    modes = (
                        ("d serve", f"(d) serve: gw{qp} > app", "0"),
                        ("e proxy", f"(e) proxy: gw > act{qp} > app", "-1"),
                    )
                    for short, mode, tbc in modes:
                        pids = zs_up.mode(tbc)
                        r = measure(mode, zs_up.port, pids, a)
                        line = f"  /a rps {r['rps'] / direct['rps']:.2f}"
                        if nginx:
                            ratios.setdefault(short, []).append(r["rps"] / nginx["rps"])
                            line += f"   /b rps {r['rps'] / nginx['rps']:.2f}"
                        print(line + f"   added p50 vs a {r['p50_ms'] - direct['p50_ms']:+.2f} ms", flush=True)
                if a.rate:
                    paced(a, upstream, nginx_proxy, gw_port)
            if ratios:  # the other tenants of a shared host move single runs by +-30%: quote medians
                print(f"rps / nginx reverse proxy, median of {a.rounds} rounds (min-max):")
                for name, values in ratios.items():
                    print(f"  {name:<10} {statistics.median(values):.2f}   ({min(values):.2f}-{max(values):.2f})")
        finally:
            if zs_up is not None:
                zs_up.stop()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)


def curve(a: argparse.Namespace, counts: list[int]) -> None:
    """rps per process count: nginx (worker_processes N) as the reverse proxy vs serve mode on
    ``zeroserve up --workers N``, same upstream kind (nginx ``return 200`` with one worker per core,
    so that it is not what limits either), same load, in one run. With ``--pin``, a row whose N is
    below the core count runs the proxy's processes (every thread) on cores 0..N-1 and the load
    generator and the upstream on the others; a row with N >= cores is not pinned (said so)."""
    if not shutil.which("nginx"):
        raise SystemExit("the scaling curve needs nginx (apt-get install -y nginx-light wrk)")
    cores = os.cpu_count() or 1
    print(
        f"scaling curve on {cores} cores: load {'wrk' if shutil.which('wrk') else 'bench/loadgen.py'} "
        f"-t{a.wrk_threads} -c{a.connections} {a.duration:g}s, upstream nginx return 200 with {cores} workers; "
        + (
            "--pin: for N < cores, the proxy on cores 0..N-1, the load generator and the upstream on the rest"
            if a.pin
            else "no pinning: the load generator, the upstream and the proxy share the cores"
        )
    )
    rows: list[tuple[int, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            upstream = free_port()
            procs.append(start_nginx(Path(tmp), "origin", upstream, 'return 200 "ok";', workers=cores))
            for n in counts:
                split = a.pin and n < cores
                proxy_cpus, load_cpus = (set(range(n)), set(range(n, cores))) if split else (None, None)
                pinning = f"proxy on cpu 0-{n - 1}, load + upstream on cpu {n}-{cores - 1}" if split else "not pinned"
                print(f"N = {n} ({pinning}):")
                pin(descendants(procs[0].pid), load_cpus or set(range(cores)))
                port = free_port()
                body = 'proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";'
                nginx = start_nginx(Path(tmp), f"proxy-{n}", port, body, upstream, workers=n)
                try:
                    nginx_workers = [p for p in descendants(nginx.pid) if p != nginx.pid]
                    if proxy_cpus:
                        pin(descendants(nginx.pid), proxy_cpus)
                    b = measure(f"(b) nginx, {n} workers", port, nginx.pid, a, load_cpus, nginx_workers)
                finally:
                    nginx.terminate()
                    nginx.wait(10)
                zs = Platform(Path(tmp), True, a.queue_proxy, workers=n, app_workers=cores)
                try:
                    ours = zs.mode("0")
                    if proxy_cpus and load_cpus:
                        pin([p for p in descendants(zs.proc.pid) if p not in ours], load_cpus)  # the app
                        pin(ours, proxy_cpus)
                    d = measure(f"(d) serve, --workers {n}", zs.port, ours, a, load_cpus, ours)
                finally:
                    zs.stop()
                rows.append((n, b["rps"], d["rps"], pinning))
                print(f"  d/b {d['rps'] / b['rps']:.2f}", flush=True)
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    print("N    nginx rps   zeroserve rps   zeroserve/nginx")
    for n, b_rps, d_rps, pinning in rows:
        print(f"{n:<4} {b_rps:>10,.0f}   {d_rps:>13,.0f}   {d_rps / b_rps:>6.2f}   {pinning}")


class Platform:
    """A real ``zeroserve up`` running the app as a Service with one instance and a queue-proxy."""

    def __init__(
        self, tmp: Path, have_nginx: bool, queue_proxy: str = "inline", workers: int = 1, app_workers: int = 1
    ) -> None:
        self.data = tmp / f"zeroserve-{workers}"
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "up", "--data-dir", str(self.data), "--api-port", "0",
             "--gateway-port", str(self.port), "--queue-proxy", queue_proxy, "--workers", str(workers)],
            cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "BENCH_APP_WORKERS": str(app_workers)},
        )  # fmt: skip
        self.zs = [sys.executable, "-m", "zeroserve", "--data-dir", str(self.data)]
        end = time.monotonic() + 60
        while not (self.data / "endpoints.json").exists():
            if time.monotonic() > end:
                raise RuntimeError("zeroserve up did not start")
            time.sleep(0.05)  # a bench script: waiting for a child to write its endpoints
        app = [sys.executable, str(Path(__file__).resolve()), "--serve-app", "nginx" if have_nginx else "python"]
        self.cli("service", "create", "bench", "--cmd", app[0], *(x for arg in app[1:] for x in ("--arg", arg)),
                 "--scale-min", "1", "--scale-max", "1")  # fmt: skip

    def cli(self, *args: str) -> str:
        return subprocess.run([*self.zs, *args], capture_output=True, text=True, check=True, cwd=HERE.parent).stdout

    def mode(self, tbc: str) -> list[int]:
        """Switch the SKS by the live config file; the pids whose CPU counts (up + queue-proxies)."""
        (self.data / "config.yaml").write_text(f"config-autoscaler:\n  target-burst-capacity: '{tbc}'\n")
        want = "Serve" if tbc == "0" else "Proxy"
        end = time.monotonic() + 30
        while json.loads(self.cli("get", "sks", "bench-00001", "-o", "json"))["spec"]["mode"] != want:
            if time.monotonic() > end:
                raise RuntimeError(f"the SKS never went to {want} mode")
            time.sleep(0.2)  # a bench script: polling the API for the mode switch
        ours = (b"zeroserve.queue", b"zeroserve.cli.gatewayworker")
        helpers = [p for p in descendants(self.proc.pid) if any(o in _cmdline(Path(f"/proc/{p}")) for o in ours)]
        return [self.proc.pid, *helpers]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""


# -- the servers, run as child processes --------------------------------------------------


async def serve_gateway(upstream: int) -> None:
    from zeroserve.gateway import Backend, Gateway, RouteEntry, RoutingTable, Rule

    gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
    gw.set_table(
        RoutingTable(
            [
                RouteEntry(
                    "default", "bench", 1, (Rule((HOST,), "ExternalIP", (Backend("default", "bench-00001", 100),)),)
                )
            ]
        )
    )
    gw.set_endpoints("default", "bench-00001", [("127.0.0.1", upstream)])
    ext, _ = await gw.start()
    print(ext, flush=True)
    await asyncio.Event().wait()


class _Upstream(asyncio.Protocol):
    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        import httptools

        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.transport.write(self.RESPONSE)


async def serve_upstream() -> None:
    server = await asyncio.get_running_loop().create_server(_Upstream, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def serve_app(kind: str) -> None:
    """The app of (d)/(e), on $PORT as the runtime contract says: nginx ``return 200`` or asyncio."""
    port = int(os.environ["PORT"])
    if kind == "nginx":
        d = Path(tempfile.mkdtemp(prefix="bench-app-"))
        conf = d / "nginx.conf"
        workers = os.environ.get("BENCH_APP_WORKERS", "1")
        conf.write_text(NGINX_CONF.format(dir=d, port=port, body='return 200 "ok";', upstream=port, workers=workers))
        os.execvp("nginx", ["nginx", "-c", str(conf), "-p", str(d)])

    async def app() -> None:
        await asyncio.get_running_loop().create_server(_Upstream, "127.0.0.1", port)
        await asyncio.Event().wait()

    from zeroserve.net.proxy import install_uvloop

    install_uvloop()
    asyncio.run(app())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument(
        "--connections",
        type=int,
        default=0,
        help="wrk -c (default 64; with --workers: 16 per process of the largest N, at least 64, for every row)",
    )
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--rate", type=float, default=1000.0, help="rps for the latency-per-hop run (0: skip)")
    p.add_argument("--serve-gateway", type=int, help=argparse.SUPPRESS)
    p.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--serve-app", choices=("nginx", "python"), help=argparse.SUPPRESS)
    p.add_argument("--no-platform", action="store_true", help="skip (d) and (e), the runs on zeroserve up")
    p.add_argument("--queue-proxy", choices=("inline", "sidecar"), default="inline", help="zeroserve up's mode")
    p.add_argument(
        "--workers",
        help="the scaling curve instead: comma-separated process counts N (e.g. 1,2,4,8,16); for each, "
        "nginx with worker_processes N as the reverse proxy and serve mode on zeroserve up --workers N",
    )
    p.add_argument("--wrk-threads", type=int, default=0, help="wrk -t (default 1; with --workers: cores/4, at least 1)")
    p.add_argument(
        "--pin",
        action="store_true",
        help="with --workers: for N < cores, the proxy's processes on cores 0..N-1, load and upstream on the rest",
    )
    a = p.parse_args()
    if a.serve_app:
        serve_app(a.serve_app)
        return
    if a.serve_gateway or a.serve_upstream:
        from zeroserve.net.proxy import install_uvloop

        install_uvloop()
        asyncio.run(serve_gateway(a.serve_gateway) if a.serve_gateway else serve_upstream())
        return
    if a.workers:
        counts = [int(n) for n in a.workers.split(",")]
        a.wrk_threads = a.wrk_threads or max(1, (os.cpu_count() or 1) // 4)
        # Enough requests in flight that N processes are each kept busy (4 apiece at N=16 would
        # measure round trips more than the proxy's CPU), and spread over them by the kernel.
        a.connections = a.connections or max(64, 16 * max(counts))
        curve(a, counts)
        return
    a.wrk_threads = a.wrk_threads or 1
    a.connections = a.connections or 64
    run(a)


if __name__ == "__main__":
    main()
