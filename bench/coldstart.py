"""Benchmark (run by hand): first-byte latency of a request to a revision at zero instances.

    .venv/bin/python bench/coldstart.py [-n 20]                     # process mode: examples/hello
    .venv/bin/python bench/coldstart.py --image [-n 20]             # image mode: examples/hello-image
    .venv/bin/python bench/coldstart.py --image --podman-network host
    .venv/bin/python bench/coldstart.py --zygote [-n 20]            # examples/hello-wsgi forked, vs examples/hello
    .venv/bin/python bench/coldstart.py --zygote --pause 1          # 1 s between the spawned one and the forked one

Zygote mode (``--zygote``, issue 19): ``n`` Services of examples/hello-wsgi with the annotation
``zeroserve.dev/python-app: app:application`` (each revision's instances fork from its zygote, which
stays at zero replicas) and ``n`` Services of examples/hello (the normal spawn), all scaled to zero;
then, interleaved, a cold start of a plain one and of a zygote one, both through the gateway. A
zygote revision at zero keeps a *spare* (a child forked ahead, already in its instance's cgroup,
listening on its instance's port, with its environment), so its cold start is: the activator's poke,
the autoscaler's decision, the scale applied to the runtime at once (``KPAReconciler.scale_now``), the
spare handed its log pipe and ready in the same call (its port listens: the default TCP readiness),
the activator's forward (docs/zygote.md: the numbers and where the time goes). A/B: ``git worktree
add /tmp/zy_before COMMIT`` and run this file from each tree with ``PYTHONPATH`` set to it,
alternating runs.

Starts a real ``zeroserve up`` (temp data dir, ephemeral ports, a 6 s stable window and a 1 s
scale-to-zero grace period), creates ``n`` hello Services, waits until every one has scaled to zero
after its first instance went idle (as in real life: the decider has seen the revision), then sends
one request to each through the gateway and takes the time to its first response byte: the
activator holds it, pokes the autoscaler, the runtime starts the instance, the activator probes
and forwards.

Process mode: next to it, the app's own boot: ``examples/hello/app.py`` spawned alone, polled with
a TCP connect every 1 ms, then ``GET /`` (spawn to first byte), measured right before each cold
start (interleaved, so both see the same machine). The app runs on this interpreter
(``sys.executable``), not on ``python3`` from PATH: on a machine with pyenv that is a bash shim
adding 60-120 ms of its own, and noisy, to both sides.

Image mode (``--image``): examples/hello-image (the static C server) compiled with ``gcc -static``,
built and pushed with ``zeroserve build`` to the registry ``up --serve-registry`` runs, and the
Services run its pinned digest (pulled and unpacked once, by their first instance, before any
measurement, as a node that has the image). The anchor, interleaved the same way, is the same
image under podman (``apt-get install -y podman``; pulled once from the same registry): ``podman
run -d`` -> first byte, then ``podman rm -f``. Podman as this machine allows it (MEASURED.md §1):
``--runtime runc`` and explicit ``--ulimit nofile/nproc`` (crun fails on the hybrid cgroup
layout), its own ``--root``/``--runroot``/``tmp_dir`` in the temp dir, network ``bridge`` (``-p
127.0.0.1:PORT:8080``: a network namespace per container, as zeroserve's instances have) or
``host``. What podman leaves on the host is removed at the end when it was not there before:
netavark's iptables chains, ``ip_forward``, ``/run/libpod``, ``/run/containers``, the
``libpod_parent`` cgroups.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
APP = [sys.executable, "examples/hello/app.py"]
HELLO_IMAGE = REPO / "examples" / "hello-image"
CONFIG = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_byte(port: int, host: str) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/", headers={"Host": host})
    response = conn.getresponse()
    elapsed = time.perf_counter() - start
    response.read()
    conn.close()
    assert response.status == 200, response.status
    return elapsed


def poll_first_byte(port: int, start: float, deadline: float = 30.0) -> float:
    """Connect every 1 ms until something answers ``GET /`` with 200; seconds since ``start``."""
    while time.perf_counter() - start < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            response = conn.getresponse()
            elapsed = time.perf_counter() - start
            response.read()
            conn.close()
            if response.status == 200:
                return elapsed
        except OSError:
            pass
        time.sleep(0.001)  # a bench: 1 ms connect polling, as the runtime probes
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {deadline}s")


def app_boot() -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        APP, cwd=REPO, env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return poll_first_byte(port, start)
    finally:
        proc.terminate()
        proc.wait()


@contextlib.contextmanager
def platform_up(data: Path, *up_args: str) -> Iterator[tuple[int, list[str]]]:
    """A ``zeroserve up`` on ``data``: (gateway port, the CLI's argv prefix)."""
    data.mkdir()
    (data / "config.yaml").write_text(CONFIG)
    up = subprocess.Popen(
        [sys.executable, "-m", "zeroserve", "up", "--data-dir", str(data), "--api-port", "0",
         "--gateway-port", "0", *up_args],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not (data / "endpoints.json").exists():
            if up.poll() is not None:
                raise SystemExit(f"zeroserve up exited {up.returncode}")
            time.sleep(0.05)  # a bench: waiting for the platform to write its endpoints
        gateway = urlsplit(json.loads((data / "endpoints.json").read_text())["gateway"]).port
        assert gateway is not None
        yield gateway, [sys.executable, "-m", "zeroserve", "--data-dir", str(data)]
    finally:
        up.terminate()
        up.wait(60)


def wait_all_at_zero(zs: list[str]) -> None:
    while True:
        revisions = json.loads(
            subprocess.run(
                [*zs, "get", "rev", "-o", "json"], cwd=REPO, check=True, capture_output=True, text=True
            ).stdout
        )["items"]
        failed = [r["metadata"]["name"] for r in revisions if _condition(r, "Ready") == "False"]
        if failed:
            raise SystemExit(f"revisions not Ready: {failed}")
        if all(r["status"].get("actualReplicas") == 0 and _condition(r, "Ready") == "True" for r in revisions):
            return
        time.sleep(0.5)  # a bench: waiting for every revision to scale to zero


def _condition(obj: dict[str, object], type_: str) -> str:
    status = obj.get("status")
    conditions = status.get("conditions", []) if isinstance(status, dict) else []
    return next((c.get("status", "") for c in conditions if c.get("type") == type_), "")


def cold_starts(n: int, gateway: int, anchor: Callable[[], float]) -> tuple[list[float], list[float]]:
    """For each Service: the anchor's time, then the cold start's (interleaved)."""
    anchors, cold = [], []
    for i in range(n):
        anchors.append(anchor())
        cold.append(first_byte(gateway, f"cold{i}.default.localhost"))
    return anchors, cold


def report(n: int, anchor_name: str, anchors: list[float], cold: list[float]) -> None:
    def ms(values: list[float], p: float) -> float:
        return pct(values, p) * 1000

    print(f"{anchor_name}, n={n}: p50 {ms(anchors, 50):.1f} ms, p99 {ms(anchors, 99):.1f} ms")
    print(f"cold start through zeroserve, n={n}: p50 {ms(cold, 50):.1f} ms, p99 {ms(cold, 99):.1f} ms")
    pairs = " ".join(f"{b * 1000:.0f}/{c * 1000:.0f}" for b, c in zip(anchors, cold, strict=True))
    print(f"each, in order (anchor/cold ms): {pairs}")
    print(
        f"cold - anchor: p50 {ms(cold, 50) - ms(anchors, 50):+.1f} ms, p99 {ms(cold, 99) - ms(anchors, 99):+.1f} ms "
        f"(median of cold/anchor {statistics.median(cold) / statistics.median(anchors):.2f}x)"
    )


def process_mode(args: argparse.Namespace, tmp: Path) -> None:
    with platform_up(tmp / "data", "--queue-proxy", args.queue_proxy) as (gateway, zs):
        for i in range(args.n):
            create = [*zs, "service", "create", f"cold{i}", "--cmd", APP[0], "--arg", APP[1]]
            subprocess.run(create, cwd=REPO, check=True, capture_output=True)
        wait_all_at_zero(zs)
        boots, cold = cold_starts(args.n, gateway, app_boot)
    print(f"Python {platform.python_version()} from {sys.base_prefix} (zeroserve up and the app)")
    report(args.n, "app boot alone (spawn -> first byte)", boots, cold)


WSGI_SERVICE = """apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  template:
    metadata:
      annotations: {{zeroserve.dev/python-app: "app:application"}}
    spec:
      containers:
        - command: [{python}, app.py]
          workingDir: examples/hello-wsgi
"""


def zygote_mode(args: argparse.Namespace, tmp: Path) -> None:
    with platform_up(tmp / "data", "--queue-proxy", args.queue_proxy) as (gateway, zs):
        for i in range(args.n):
            create = [*zs, "service", "create", f"plain{i}", "--cmd", APP[0], "--arg", APP[1]]
            subprocess.run(create, cwd=REPO, check=True, capture_output=True)
            manifest = WSGI_SERVICE.format(name=f"cold{i}", python=json.dumps(sys.executable))
            subprocess.run(
                [*zs, "apply", "-f", "-"], cwd=REPO, check=True, capture_output=True, input=manifest.encode()
            )
        wait_all_at_zero(zs)
        plain, cold = [], []
        for i in range(args.n):
            plain.append(first_byte(gateway, f"plain{i}.default.localhost"))
            time.sleep(args.pause)  # a bench: the anchor's reconciles settle first (--pause)
            cold.append(first_byte(gateway, f"cold{i}.default.localhost"))
    print(f"Python {platform.python_version()} from {sys.base_prefix} (zeroserve up and the apps)")
    report(args.n, "cold start without a zygote (examples/hello spawned)", plain, cold)


def image_mode(args: argparse.Namespace, tmp: Path) -> None:
    for tool in ("gcc", "buildah", "docker-registry", "podman"):
        if shutil.which(tool) is None:
            raise SystemExit(f"image mode needs {tool} (apt-get install -y {tool})")
    context = tmp / "hello-image"
    context.mkdir()
    shutil.copy2(HELLO_IMAGE / "Containerfile", context / "Containerfile")
    subprocess.run(["gcc", "-static", "-O2", "-o", context / "hello", HELLO_IMAGE / "hello.c"], check=True)
    up_args = ("--queue-proxy", args.queue_proxy, "--serve-registry", "--registry", "127.0.0.1:0")
    with platform_up(tmp / "data", *up_args) as (gateway, zs):
        built = subprocess.run(
            [*zs, "build", str(context), "-t", "bench/hello:v1"], cwd=REPO, check=True, capture_output=True, text=True
        )
        pinned = built.stdout.strip()
        print(built.stderr.strip().splitlines()[-1])  # Built in ...s, pushed in ...s: REPO@sha256:...
        for i in range(args.n):
            create = [*zs, "service", "create", f"cold{i}", "--image", pinned]
            subprocess.run(create, cwd=REPO, check=True, capture_output=True)
        wait_all_at_zero(zs)
        with Podman(tmp / "podman", args.podman_network) as podman:
            podman.pull(pinned)
            runs, cold = cold_starts(args.n, gateway, lambda: podman.run_to_first_byte(pinned))
    print(f"Python {platform.python_version()} from {sys.base_prefix} (zeroserve up); {podman.version}")
    report(args.n, f"podman run -> first byte (runc, {args.podman_network} network)", runs, cold)


class Podman:
    """Podman in its own roots under ``root``; what it leaves on the host is removed on exit."""

    def __init__(self, root: Path, network: str) -> None:
        self.root = root
        self.network = network
        root.mkdir()
        (root / "containers.conf").write_text(f'[engine]\ntmp_dir = "{root / "libpod"}"\n')
        self.argv = [
            "podman", "--root", str(root / "storage"), "--runroot", str(root / "run"),
            "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs",
        ]  # fmt: skip
        self.env = {**os.environ, "CONTAINERS_CONF": str(root / "containers.conf")}
        self.version = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.strip()
        self._before = HostState.read()

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *_exc: object) -> None:
        subprocess.run([*self.argv, "rm", "-a", "-f"], env=self.env, capture_output=True)
        self._before.restore()
        shutil.rmtree(self.root, ignore_errors=True)

    def pull(self, image: str) -> None:
        subprocess.run(
            [*self.argv, "pull", "-q", "--tls-verify=false", image], env=self.env, check=True, stdout=subprocess.DEVNULL
        )

    def run_to_first_byte(self, image: str) -> float:
        port = free_port()
        net = (
            ["-p", f"127.0.0.1:{port}:8080"]
            if self.network == "bridge"
            else ["--network", "host", "-e", f"PORT={port}"]
        )
        argv = [*self.argv, "run", "-d", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", *net, image]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            elapsed = poll_first_byte(port, start)
        finally:
            out, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"podman run failed ({proc.returncode}): {err.strip()}")
            subprocess.run([*self.argv, "rm", "-f", out.strip()], env=self.env, capture_output=True)
        return elapsed


class HostState:
    """What podman changes on a host, read before it runs, put back after (only what it added)."""

    PATHS = (Path("/run/libpod"), Path("/run/containers"))
    CGROUPS = Path("/sys/fs/cgroup")

    def __init__(self, chains: set[tuple[str, str]], ip_forward: str, paths: set[Path], cgroups: set[Path]) -> None:
        self.chains, self.ip_forward, self.paths, self.cgroups = chains, ip_forward, paths, cgroups

    @classmethod
    def read(cls) -> HostState:
        return cls(_netavark_chains(), _ip_forward(), {p for p in cls.PATHS if p.exists()}, _libpod_cgroups())

    def restore(self) -> None:
        for table, chain in sorted(_netavark_chains() - self.chains):
            _drop_chain(table, chain)
        if _ip_forward() != self.ip_forward:
            Path("/proc/sys/net/ipv4/ip_forward").write_text(self.ip_forward)
        for path in self.PATHS:
            if path.exists() and path not in self.paths:
                shutil.rmtree(path, ignore_errors=True)
        for cgroup in _libpod_cgroups() - self.cgroups:
            for sub in sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    sub.rmdir()
            with contextlib.suppress(OSError):
                cgroup.rmdir()


def _netavark_chains() -> set[tuple[str, str]]:
    chains = set()
    for table in ("filter", "nat"):
        done = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
        chains |= {(table, line.split()[1]) for line in done.stdout.splitlines() if line.startswith("-N NETAVARK")}
    return chains


def _drop_chain(table: str, chain: str) -> None:
    """Delete every rule that jumps to ``chain``, then the chain."""
    for parent in subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines():
        if parent.startswith("-A ") and f"-j {chain}" in parent and not parent.startswith(f"-A {chain} "):
            subprocess.run(["iptables", "-t", table, "-D", *shlex.split(parent[3:])], capture_output=True)
    subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
    subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)


def _ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def _libpod_cgroups() -> set[Path]:
    return set(HostState.CGROUPS.glob("*/libpod_parent"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--queue-proxy", choices=("inline", "sidecar"), default="inline", help="zeroserve up's mode")
    parser.add_argument("--image", action="store_true", help="examples/hello-image as an image, podman the anchor")
    parser.add_argument("--podman-network", choices=("bridge", "host"), default="bridge")
    parser.add_argument("--zygote", action="store_true", help="examples/hello-wsgi forked from its zygote")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="zygote mode: seconds from the spawned cold start to the forked one"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (zygote_mode if args.zygote else image_mode if args.image else process_mode)(args, Path(tmp))


if __name__ == "__main__":
    main()
