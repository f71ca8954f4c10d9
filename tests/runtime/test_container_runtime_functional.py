"""Container instances of the local runtime: real bubblewrap sandboxes in real network namespaces.

The image is a rootfs made by the test: ``toybox`` (tests/runtime/apps/toybox.c, ``gcc -static``)
alone in ``/bin``, in a 0700 directory as the image cache is; a fake :class:`ImageStore` hands it out
with the config each reference names. Root only (network namespaces, users of their own).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.net.upstreams import run_upstream
from tests.support.polling import eventually
from tests.support.runtime import status_until
from zeroserve.api.podspec import Probe
from zeroserve.gateway import Backend, Gateway, RouteEntry, Rule
from zeroserve.images.base import ERR_IMAGE_PULL, Image, ImageConfig, ImageError, PullPolicy
from zeroserve.images.keyring import Keyring
from zeroserve.net import netns
from zeroserve.runtime import container, isolation, pod
from zeroserve.runtime.base import Workload, WorkloadContainer, WorkloadKey, WorkloadStatus
from zeroserve.runtime.local import LocalRuntime

TOYBOX_C = Path(__file__).parent / "apps" / "toybox.c"
KEY = WorkloadKey("default", "box-00001")

pytestmark = [
    pytest.mark.skipif((why := netns.available()) is not None, reason=why or ""),
    pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("setpriv") is None, reason="no bwrap/setpriv"),
]


class FakeImages:
    """An ImageStore serving one rootfs under configs named by reference; ``broken`` refs fail to pull."""

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs
        self.configs: dict[str, ImageConfig] = {
            "toybox@sha256:serve": ImageConfig(
                entrypoint=("/bin/toybox",), cmd=("serve",), env=(("PATH", "/bin"), ("FROM_IMAGE", "yes"))
            ),
            "toybox@sha256:fixed": ImageConfig(entrypoint=("/bin/toybox", "serve", "8080")),
            "toybox@sha256:user": ImageConfig(entrypoint=("/bin/toybox", "serve"), user="app"),
            "toybox@sha256:exits": ImageConfig(
                entrypoint=("/bin/toybox", "exit"), cmd=("9",), working_dir="/srv", user="app"
            ),
        }
        self.broken: set[str] = set()
        self.pulls: list[str] = []

    async def resolve(self, ref: str, timeout: float, keyring: Keyring | None = None) -> str:
        return ref

    async def ensure(self, ref: str, pull_policy: PullPolicy = "IfNotPresent", keyring: Keyring | None = None) -> Image:
        self.pulls.append(ref)
        if ref in self.broken or ref not in self.configs:
            raise ImageError(ERR_IMAGE_PULL, f"failed to pull {ref}: manifest unknown")
        return Image(ref, ref.split("@")[1], self.rootfs, self.configs[ref])


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, static_binary: Callable[[Path], Path]) -> Path:
    closed = tmp_path_factory.mktemp("images")
    closed.chmod(0o700)  # as DATA: the sandbox's user could not walk to the rootfs by its path
    root = closed / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy(static_binary(TOYBOX_C), root / "bin" / "toybox")
    (root / "etc" / "passwd").write_text("root:x:0:0::/:/bin/toybox\napp:x:4321:4322::/:/bin/toybox\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:4322:\n")
    (root / "etc" / "hosts").write_text("10.9.9.9\tlocalhost\n")  # the image's own: the kubelet's wins
    for path in (root, root / "bin", root / "etc"):
        path.chmod(0o755)
    return root


@pytest.fixture
def images(rootfs: Path) -> FakeImages:
    return FakeImages(rootfs)


@pytest.fixture
async def runtime(tmp_path: Path, images: FakeImages) -> AsyncIterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path / "data", isolation=isolation.Policy(), images=images)
    try:
        yield rt
    finally:
        await rt.close()


def workload(image: str | None = "toybox@sha256:serve", **changes: Any) -> Workload:
    base = Workload(
        key=KEY,
        service="box",
        configuration="box-config",
        image=image,
        command=(),
        args=(),
        working_dir=None,
        env=(("GREETING", "hi"),),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
        container_name="user-container",
    )
    return replace(base, **changes)


async def get(host: str, port: int, path: str = "/") -> tuple[int, str]:
    reader, writer = await netns.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def ready(runtime: LocalRuntime, key: WorkloadKey = KEY, count: int = 1) -> WorkloadStatus:
    return await status_until(runtime, key, lambda s: s.ready >= count, timeout=30)


def exec_probe(*command: str, period: int = 1) -> Probe:
    return Probe.model_validate({"exec": {"command": list(command)}, "periodSeconds": period})


async def test_an_image_serves_from_its_own_namespace_with_the_runtime_contract(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    status = await ready(runtime)
    (endpoint,) = status.endpoints
    assert netns.lookup(endpoint.host, endpoint.port) is not None
    assert await get(endpoint.host, endpoint.port) == (200, "toybox\n")
    env = dict(line.split("=", 1) for line in (await get(endpoint.host, endpoint.port, "/env"))[1].splitlines())
    assert env["PORT"] == "8080"
    assert (env["K_SERVICE"], env["K_CONFIGURATION"], env["K_REVISION"]) == ("box", "box-config", "box-00001")
    assert env["FROM_IMAGE"] == "yes" and env["GREETING"] == "hi" and env["PATH"] == "/bin"
    assert env["HOSTNAME"].startswith("box-00001-") and env["HOME"] == "/"
    assert not any(name.startswith("ZEROSERVE") for name in env)


async def test_two_revisions_of_an_image_that_binds_8080_serve_side_by_side(runtime: LocalRuntime) -> None:
    other = WorkloadKey("default", "box-00002")
    await runtime.ensure(workload("toybox@sha256:fixed", env=(("NAME", "one"),)), 2)
    await runtime.ensure(workload("toybox@sha256:fixed", key=other, env=(("NAME", "two"),)), 1)
    first, second = await ready(runtime, count=2), await ready(runtime, other)
    answers = [await get(e.host, e.port) for e in (*first.endpoints, *second.endpoints)]
    assert answers == [(200, "one\n"), (200, "one\n"), (200, "two\n")]
    ports = {e.port for e in (*first.endpoints, *second.endpoints)}
    assert len(ports) == 3 and 8080 not in ports


async def test_the_app_is_the_revisions_user_with_no_capabilities_and_sees_only_its_image(
    runtime: LocalRuntime,
) -> None:
    await runtime.ensure(workload(), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    ident = (await get(endpoint.host, endpoint.port, "/id"))[1]
    uid = int(ident.split()[0].split("=")[1])
    assert uid >= isolation.UID_BASE
    status = (await get(endpoint.host, endpoint.port, "/cat/proc/self/status"))[1]
    assert "CapEff:\t0000000000000000" in status and "CapBnd:\t0000000000000000" in status
    assert (await get(endpoint.host, endpoint.port, f"/cat{runtime.data_dir}/instances.jsonl"))[0] == 404
    assert (await get(endpoint.host, endpoint.port, "/touch/bin/x"))[0] == 500  # the image is read-only
    assert (await get(endpoint.host, endpoint.port, "/touch/tmp/x"))[0] == 200  # /tmp is its own


async def test_the_images_user_applies_unless_run_as_user_says_otherwise(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload("toybox@sha256:user"), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    assert (await get(endpoint.host, endpoint.port, "/id"))[1].startswith("uid=4321 gid=4322 ")
    await runtime.ensure(workload("toybox@sha256:user", run_as_user=5000), 1)
    await status_until(runtime, KEY, lambda s: s.ready == 1 and s.endpoints != (endpoint,), timeout=30)
    (endpoint,) = runtime.status(KEY).endpoints  # type: ignore[union-attr]
    assert (await get(endpoint.host, endpoint.port, "/id"))[1].startswith("uid=5000 gid=5000 ")


async def test_sigterm_reaches_the_app_after_the_drain_and_the_namespace_goes(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    # the log goes with the removed workload: read it through a handle opened before
    (log,) = (runtime.data_dir / "logs" / "default" / "box-00001").glob("*.log")
    with log.open() as handle:
        await runtime.remove(KEY)
        assert handle.read() == "listening on 8080\nbye\n"  # SIGTERM, then a clean exit
    assert netns.lookup(endpoint.host, endpoint.port) is None
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(endpoint.host, endpoint.port)


async def test_sidecars_share_the_network_and_init_containers_run_first(runtime: LocalRuntime) -> None:
    init = WorkloadContainer("prepare", "toybox@sha256:serve", command=("/bin/toybox", "say", "init done"))
    side = WorkloadContainer(
        "side",
        "toybox@sha256:serve",
        args=("serve", "9000", "from the sidecar"),
        readiness_probe=Probe.model_validate({"tcpSocket": {"port": 9000}}),
    )
    # multi-container-probing: ready once the sidecar answers on its port too
    await runtime.ensure(workload(sidecars=(side,), init_containers=(init,), multi_container_probing=True), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    assert await get(endpoint.host, endpoint.port, "/fetch/9000") == (200, "from the sidecar\n")
    log_dir = runtime.data_dir / "logs" / "default" / "box-00001"
    assert [p.read_text() for p in log_dir.glob("*.prepare.log")] == ["init done\n"]
    assert [p.read_text() for p in log_dir.glob("*.side.log")] == ["listening on 9000\n"]


async def test_a_failing_init_container_is_a_failure_with_its_exit_code(runtime: LocalRuntime) -> None:
    init = WorkloadContainer("migrate", "toybox@sha256:serve", command=("/bin/toybox", "exit", "3"))
    await runtime.ensure(workload(init_containers=(init,)), 1)
    status = await status_until(runtime, KEY, lambda s: s.failure is not None, timeout=30)
    assert status.failure is not None and status.failure.reason == "ExitCode3"
    assert status.failure.message.startswith("init container 'migrate' exited with code 3")
    assert status.ready == 0


async def test_a_sidecar_that_exits_ends_the_instance(runtime: LocalRuntime) -> None:
    side = WorkloadContainer("short", "toybox@sha256:serve", command=("/bin/toybox", "exit", "7"))
    await runtime.ensure(workload(sidecars=(side,)), 1)
    status = await status_until(runtime, KEY, lambda s: s.failure is not None, timeout=30)
    assert status.failure is not None and "container 'short' exited with code 7" in status.failure.message


async def test_exec_probes_run_inside_the_container(runtime: LocalRuntime) -> None:
    probe = exec_probe("/bin/toybox", "test", "/tmp/ready")
    await runtime.ensure(workload(readiness_probe=probe), 1)
    deployment = runtime._deployments[KEY]
    await eventually(lambda: deployment.instances and deployment.instances[0].netns is not None, timeout=10)
    instance = deployment.instances[0]
    assert instance.netns is not None
    reservation = netns.reserve(instance.netns, 8080)  # a way in of the test's own
    try:
        answer = None
        async with asyncio.timeout(10):
            while answer is None:
                with contextlib.suppress(ConnectionRefusedError):
                    answer = await get(reservation.host, reservation.port, "/")
        assert runtime.status(KEY).ready == 0  # type: ignore[union-attr]  # it listens, but no /tmp/ready
        assert (await get(reservation.host, reservation.port, "/touch/tmp/ready"))[0] == 200
    finally:
        reservation.release()
    await ready(runtime)


async def test_a_startup_probe_holds_readiness_and_a_failing_one_restarts(runtime: LocalRuntime) -> None:
    never = exec_probe("/bin/toybox", "test", "/tmp/never").model_copy(update={"failure_threshold": 2})
    await runtime.ensure(workload(startup_probe=never), 1)
    status = await status_until(runtime, KEY, lambda s: s.failure is not None, timeout=30)
    assert status.failure is not None and "failed its startup probe" in status.failure.message
    assert all(s is None or s.ready == 0 for s in [runtime.status(KEY)])


async def test_a_pull_failure_is_the_kubelets_reason_and_is_retried(runtime: LocalRuntime, images: FakeImages) -> None:
    images.broken.add("toybox@sha256:serve")
    await runtime.ensure(workload(), 1)
    status = await status_until(runtime, KEY, lambda s: s.failure is not None, timeout=30)
    assert status.failure is not None and status.failure.reason == ERR_IMAGE_PULL and not status.failure.permanent
    images.broken.clear()
    await ready(runtime)
    assert runtime.status(KEY).failure is None  # type: ignore[union-attr]


async def test_images_are_pulled_once_per_workload_not_per_instance(runtime: LocalRuntime, images: FakeImages) -> None:
    await runtime.ensure(workload(), 2)
    await ready(runtime, count=2)
    await runtime.ensure(workload(), 0)
    await status_until(runtime, KEY, lambda s: s.ready == 0, timeout=30)
    await runtime.ensure(workload(), 1)
    await ready(runtime)
    assert images.pulls == ["toybox@sha256:serve"]


async def test_without_an_image_store_images_are_refused(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "data")
    try:
        await rt.ensure(workload(), 1)
        status = rt.status(KEY)
        assert status is not None and status.failure is not None and status.failure.permanent
        assert "no image store is configured" in status.failure.message
    finally:
        await rt.close()


async def test_with_a_queue_proxy_sidecar_it_runs_inside_the_namespace(tmp_path: Path, images: FakeImages) -> None:
    rt = LocalRuntime(tmp_path / "data", isolation=isolation.Policy(), images=images, queue_proxy=True)
    try:
        await rt.ensure(workload("toybox@sha256:fixed"), 1)
        (endpoint,) = (await ready(rt)).endpoints
        assert endpoint.admin_port is not None and netns.lookup(endpoint.host, endpoint.admin_port) is not None
        assert await get(endpoint.host, endpoint.port) == (200, "toybox\n")  # through the queue-proxy
        code, _stats = await get(endpoint.host, endpoint.admin_port, "/stats")
        assert code == 200
        await rt.remove(KEY)  # drained through the admin port inside, then SIGTERM
    finally:
        await rt.close()


@pytest.mark.parametrize("queue_proxy", [False, True], ids=["inline", "sidecar"])
async def test_the_platforms_proxy_listens_inside_while_the_instance_lives(
    tmp_path: Path, images: FakeImages, queue_proxy: bool
) -> None:
    """With a ContainedProxy (``up`` passes its gateway): a listener on 127.0.0.1:8008 inside each
    instance, made before the app starts (beside the queue-proxy's 8012/8022), ``container_env``
    in every container, the listener gone with the instance."""
    async with run_upstream("hello-00001") as app:
        gateway = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
        await gateway.start()
        gateway.set_endpoints("default", "hello-00001", [("127.0.0.1", app.port)])
        targets = (Backend("default", "hello-00001", 100),)
        gateway.publish(RouteEntry("default", "hello", 1, (Rule(("hello.default.svc",), "ClusterLocal", targets),)))
        proxy_env = {"http_proxy": f"http://127.0.0.1:{pod.PROXY_PORT}", "no_proxy": "127.0.0.1"}
        rt = LocalRuntime(
            tmp_path / "data",
            isolation=isolation.Policy(),
            images=images,
            queue_proxy=queue_proxy,
            contained_proxy=gateway,
            container_env=proxy_env,
        )
        try:
            await rt.ensure(workload(), 1)
            (endpoint,) = (await ready(rt)).endpoints
            env = dict(line.split("=", 1) for line in (await get(endpoint.host, endpoint.port, "/env"))[1].splitlines())
            assert {k: env[k] for k in proxy_env} == proxy_env and env["PORT"] == "8080"
            assert await get(endpoint.host, endpoint.port, "/proxy/hello.default.svc/") == (
                200,
                "200\nhello from hello-00001",
            )
            assert await get(endpoint.host, endpoint.port, "/proxy/localhost:8080/") == (200, "200\ntoybox\n")
            assert (await get(endpoint.host, endpoint.port, f"/proxy/example.com:{app.port}/"))[1].startswith("403\n")
            assert len(gateway.contained) == 1
            await rt.remove(KEY)
            assert gateway.contained == []
        finally:
            await rt.close()
            await gateway.stop(1)


# -- what a container sees (the runtime contract, Knative's conformance runtime image) ---------------


def mount_at(mounts: str, path: str) -> tuple[str, str, set[str]]:
    """(device, type, options) of the last mount at ``path`` in a /proc/mounts text."""
    found = [line.split() for line in mounts.splitlines() if line.split()[1] == path]
    assert found, f"no mount at {path} in:\n{mounts}"
    device, _path, kind, options, *_ = found[-1]
    return device, kind, set(options.split(","))


def cgroup_files(version: str | None) -> dict[str, str]:
    """What Knative's runtime image reads (handlers/cgroup.go), by name: v2's or v1's files."""
    if version == "v2":
        return {name: f"/sys/fs/cgroup/{name}" for name in ("memory.max", "cpu.max", "cpu.weight")}
    files = ("memory/memory.limit_in_bytes", "cpu/cpu.cfs_period_us", "cpu/cpu.cfs_quota_us", "cpu/cpu.shares")
    return {name.split("/")[1]: f"/sys/fs/cgroup/{name}" for name in files}


async def read_only_cgroup(host: str, port: int, version: str | None) -> dict[str, str]:
    """The instance's cgroup files as its app reads them, after checking that each write fails and
    that /sys/fs/cgroup is the read-only mount Knative's runtime image looks for in /proc/mounts."""
    mounts = (await get(host, port, "/cat/proc/mounts"))[1]
    _device, kind, options = mount_at(mounts, "/sys/fs/cgroup")
    assert (kind, "ro" in options) == ("cgroup2" if version == "v2" else "tmpfs", True)
    for controller in ("memory", "cpu") if version == "v1" else ():
        _device, kind, options = mount_at(mounts, f"/sys/fs/cgroup/{controller}")
        assert kind == "cgroup" and {"ro", controller} <= options
    marker = (await get(host, port, "/stat/sys/fs/cgroup/cgroup.controllers"))[0]  # how the image tells v2
    assert marker == (200 if version == "v2" else 404)
    values = {}
    for name, path in cgroup_files(version).items():
        code, value = await get(host, port, f"/cat{path}")
        assert code == 200, f"{path}: {value}"
        code, error = await get(host, port, f"/write{path}")  # root's file on a read-only mount: EACCES first
        assert code == 500 and error in ("Permission denied\n", "Read-only file system\n"), path
        values[name] = value.strip()
    return values


async def test_a_container_sees_the_kubelets_etc_files_and_its_cgroup_read_only(
    runtime: LocalRuntime, images: FakeImages
) -> None:
    """/etc/hosts and /etc/resolv.conf of the instance's own, over the image's, in every container
    (a sidecar of another user too); its cgroup read-only at /sys/fs/cgroup even without limits
    (Knative's TestShouldHaveCgroupReadOnly); no /dev/console; all gone with the instance."""
    if not runtime.cgroups.available:
        pytest.skip(f"no cgroups here: {runtime.cgroups.reason}")
    listens = Probe.model_validate({"tcpSocket": {"port": 9000}})
    side = WorkloadContainer(
        "side", "toybox@sha256:serve", args=("serve", "9000"), readiness_probe=listens, run_as_user=4000
    )
    await runtime.ensure(workload(sidecars=(side,), multi_container_probing=True), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    host, port = endpoint.host, endpoint.port
    instance = runtime._deployments[KEY].instances[0]
    assert instance.netns is not None
    hostname = dict(line.split("=", 1) for line in (await get(host, port, "/env"))[1].splitlines())["HOSTNAME"]
    assert hostname == instance.id
    hosts = (
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        f"127.0.0.1\t{hostname}\n"
    )
    resolv = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n"
    reservation = netns.reserve(instance.netns, 9000)  # the sidecar (uid 4000), reached by the test itself
    try:
        for where in ((host, port), (reservation.host, reservation.port)):
            assert await get(*where, "/cat/etc/hosts") == (200, hosts)
            assert await get(*where, "/cat/etc/resolv.conf") == (200, resolv)
        assert (await get(reservation.host, reservation.port, "/id"))[1].startswith("uid=4000 ")
    finally:
        reservation.release()
    assert (await get(host, port, "/stat/etc/resolv.conf"))[1].startswith("file 644 ")  # TestShouldHaveFiles
    assert (await get(host, port, "/write/etc/hosts"))[0] == 500
    assert await get(host, port, "/stat/dev/console") == (404, "No such file or directory\n")
    values = await read_only_cgroup(host, port, runtime.cgroups.version)
    if runtime.cgroups.version == "v2":
        assert values == {"memory.max": "max", "cpu.max": "max 100000", "cpu.weight": "1"}
    else:
        assert values["cpu.cfs_quota_us"] == "-1" and values["cpu.shares"] == "2"  # a BestEffort container's
        assert int(values["memory.limit_in_bytes"]) > 2**60
    await runtime.remove(KEY)
    assert runtime._volumes is not None and list(runtime._volumes.etc.iterdir()) == []


async def test_a_containers_cgroup_shows_its_limits_and_the_memory_limit_holds(runtime: LocalRuntime) -> None:
    """Knative's TestMustHaveCgroupConfigured: limits cpu 1 and memory 128Mi, request cpu 125m."""
    if not runtime.cgroups.available:
        pytest.skip(f"no cgroups here: {runtime.cgroups.reason}")
    await runtime.ensure(workload(cpu_limit="1000m", memory_limit="128Mi", cpu_request="125m"), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    host, port = endpoint.host, endpoint.port
    values = await read_only_cgroup(host, port, runtime.cgroups.version)
    if runtime.cgroups.version == "v2":
        assert values == {"memory.max": "134217728", "cpu.max": "100000 100000", "cpu.weight": "5"}
    else:
        assert values == {
            "memory.limit_in_bytes": "134217728",
            "cpu.cfs_period_us": "100000",
            "cpu.cfs_quota_us": "100000",
            "cpu.shares": "128",  # 125 * 1024 / 1000
        }
    assert await get(host, port, "/alloc/16") == (200, "ok\n")
    with pytest.raises((IndexError, ConnectionError)):  # the connection's process is OOM-killed mid-answer
        await get(host, port, "/alloc/256")
    (usage,) = runtime.usage(KEY)
    assert usage.oom_kills >= 1
    assert await get(host, port, "/") == (200, "toybox\n")  # the app itself goes on


async def test_the_rest_of_the_runtime_contract_inside_a_container(runtime: LocalRuntime) -> None:
    """command and args replace the image's ENTRYPOINT and CMD, workingDir the image's, runAsUser its
    USER; stdin is at its end; /proc/sys is mounted read-only (Knative's TestShouldHaveSysctlReadOnly)."""
    box = workload(
        "toybox@sha256:exits", command=("/bin/toybox",), args=("serve", "8080", "contract"), working_dir="/work"
    )
    await runtime.ensure(replace(box, run_as_user=5000), 1)
    (endpoint,) = (await ready(runtime)).endpoints
    host, port = endpoint.host, endpoint.port
    assert await get(host, port, "/") == (200, "contract\n")
    assert await get(host, port, "/args") == (200, "/bin/toybox\nserve\n8080\ncontract\n")
    assert await get(host, port, "/cwd") == (200, "/work\n")
    assert (await get(host, port, "/id"))[1].startswith("uid=5000 gid=5000 ")
    assert await get(host, port, "/stdin") == (200, "eof\n")
    assert mount_at((await get(host, port, "/cat/proc/mounts"))[1], "/proc/sys")[:2] == ("proc", "proc")
    assert "ro" in mount_at((await get(host, port, "/cat/proc/mounts"))[1], "/proc/sys")[2]
    assert (await get(host, port, "/write/proc/sys/kernel/hostname"))[0] == 500
    assert (await get(host, port, "/touch/tmp/scratch"))[0] == 200


def test_hosts_and_resolv_conf_are_the_kubelets() -> None:
    assert container.hosts_file("pod-a").decode().splitlines()[0] == "# Kubernetes-managed hosts file."
    assert container.hosts_file("pod-a").decode().endswith("fe00::2\tip6-allrouters\n127.0.0.1\tpod-a\n")
    assert container.resolv_conf("ns").decode() == (
        "search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n"
    )
    assert container.hostname_of("a" * 62 + "-b") == "a" * 62  # cut to 63, no trailing '-'
    assert container.hostname_of("short-name") == "short-name"
