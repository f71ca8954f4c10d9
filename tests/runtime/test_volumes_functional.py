"""Volumes and env from ConfigMaps and Secrets with real instances (runtime.volumes, LocalRuntime).

Processes run tests/runtime/apps/reader.py in the bubblewrap sandbox; a container runs toybox
(tests/runtime/apps/toybox.c) from a rootfs. Root and bubblewrap only (the volumes' tmpfs, users of
their own); the AtomicWriter tests run anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.support.runtime import status_until
from zeroserve.images.base import ERR_IMAGE_PULL, Image, ImageConfig, ImageError, PullPolicy
from zeroserve.images.keyring import Keyring
from zeroserve.net import netns
from zeroserve.runtime import isolation, volumes
from zeroserve.runtime.base import (
    POD_NAME,
    POD_UID,
    SERVICE_ACCOUNT_TOKEN,
    Failure,
    Volume,
    VolumeFile,
    VolumeMount,
    Workload,
    WorkloadKey,
    WorkloadStatus,
)
from zeroserve.runtime.local import LocalRuntime
from zeroserve.runtime.volumes import DATA_DIR_NAME, write_payload

REPO = Path(__file__).resolve().parents[2]
READER = "tests/runtime/apps/reader.py"
TOYBOX_C = Path(__file__).parent / "apps" / "toybox.c"
KEY = WorkloadKey("default", "vol-00001")
MACHINE = isolation.probe(isolation.Policy())
needs_sandbox = pytest.mark.skipif(
    not (MACHINE.can_switch_users and MACHINE.bwrap), reason=f"needs root and bubblewrap: {MACHINE.no_sandbox}"
)


# -- AtomicWriter -----------------------------------------------------------------------------------


def test_a_payload_is_swapped_in_whole_and_stale_names_go(tmp_path: Path) -> None:
    assert write_payload(tmp_path, [("a", b"1", 0o644), ("dir/b", b"2", 0o600)], None)
    first = os.readlink(tmp_path / DATA_DIR_NAME)
    assert os.readlink(tmp_path / "a") == "..data/a" and (tmp_path / "dir" / "b").read_bytes() == b"2"
    assert stat.S_IMODE((tmp_path / first / "dir" / "b").stat().st_mode) == 0o600
    assert not write_payload(tmp_path, [("a", b"1", 0o644), ("dir/b", b"2", 0o600)], None)  # unchanged
    assert os.readlink(tmp_path / DATA_DIR_NAME) == first
    assert write_payload(tmp_path, [("a", b"new", 0o644)], None)
    second = os.readlink(tmp_path / DATA_DIR_NAME)
    assert second != first and not (tmp_path / first).exists()
    assert (tmp_path / "a").read_bytes() == b"new" and not (tmp_path / "dir").is_symlink()
    assert sorted(os.listdir(tmp_path)) == sorted([DATA_DIR_NAME, second, "a"])
    assert write_payload(tmp_path, [("a", b"new", 0o400)], None)  # a mode change alone is written


# -- processes --------------------------------------------------------------------------------------

SECRET_FILES = (VolumeFile("password", b"s3cret"), VolumeFile("nested/key", b"deep", 0o600))


def workload(**changes: Any) -> Workload:
    base = Workload(
        key=KEY,
        service="vol",
        configuration="vol",
        image=None,
        command=(sys.executable, READER),
        args=(),
        working_dir=str(REPO),
        env=(("PW", "s3$$(HOME)cret"), ("POD", ""), ("URL", "db://$(PW)@x"), ("LITERAL", "$(HOME)")),
        env_data=frozenset({0, 1}),
        instance_fields=((1, POD_NAME),),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=2,
        container_concurrency=0,
        timeout_seconds=30,
        volumes=(
            Volume("secret", files=SECRET_FILES),
            Volume(
                "info",
                files=(VolumeFile("name", b"", field=POD_NAME), VolumeFile("token", b"", field=SERVICE_ACCOUNT_TOKEN)),
            ),
            Volume("scratch", kind="emptyDir"),
            Volume("memory", kind="emptyDir", medium="Memory", size_limit=1 << 20),
        ),
        volume_mounts=(
            VolumeMount("secret", "/etc/zs-test-secret"),
            VolumeMount("secret", "/zs-test-app/password", sub_path="password"),
            VolumeMount("info", "/etc/zs-test-secret/info"),
            VolumeMount("scratch", "/zs-test-scratch", read_only=False),
            VolumeMount("memory", "/tmp/cache", read_only=False),
        ),
    )
    return replace(base, **changes)


def get(status: WorkloadStatus, path: str) -> Any:
    endpoint = status.endpoints[0]
    with urllib.request.urlopen(f"http://{endpoint.host}:{endpoint.port}{path}", timeout=10) as response:
        return json.load(response)


def file(status: WorkloadStatus, path: str) -> Any:
    return get(status, f"/file?path={path}")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path / "data", isolation=isolation.Policy())
    try:
        yield rt
    finally:
        await rt.close()


async def ready(runtime: LocalRuntime, key: WorkloadKey = KEY, count: int = 1) -> WorkloadStatus:
    return await status_until(
        runtime, key, lambda s: s.ready >= count or (s.failure is not None and s.failure.permanent)
    )


@needs_sandbox
async def test_a_process_sees_its_env_and_files_at_their_mount_paths(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    status = await ready(runtime)
    assert status.ready == 1, status.failure
    env = get(status, "/env")
    pod = env["POD"]
    assert pod.startswith("vol-00001-deployment-") and len(pod.rsplit("-", 2)[1]) == 10
    assert (env["PW"], env["URL"], env["LITERAL"]) == ("s3$(HOME)cret", "db://s3$(HOME)cret@x", "/")
    secret = file(status, "/etc/zs-test-secret/password")
    assert (secret["data"], secret["mode"], secret["link"]) == ("s3cret", "0o644", "..data/password")
    assert file(status, "/etc/zs-test-secret/nested/key")["mode"] == "0o600"
    assert secret["uid"] == file(status, "/proc/self/status")["uid"] >= isolation.UID_BASE  # the app's own
    assert file(status, "/zs-test-app/password")["data"] == "s3cret"  # subPath, at a path the host lacks
    assert file(status, "/etc/zs-test-secret/info/name")["data"] == pod
    token = file(status, "/etc/zs-test-secret/info/token")["data"]
    assert len(token) >= 40 and token != file(status, "/etc/zs-test-secret/info/name")["data"]
    assert file(status, "/etc/passwd")["data"].startswith("root:")  # the shadowed /etc is the host's
    assert "Read-only" in get(status, "/write?path=/etc/zs-test-secret/x&data=1")["error"]
    assert get(status, "/write?path=/zs-test-scratch/f&data=1") == {"ok": True}
    assert get(status, "/write?path=/tmp/cache/f&data=1") == {"ok": True}
    assert "No space left" in get(status, f"/write?path=/tmp/cache/big&size={2 << 20}")["error"]  # sizeLimit: 1Mi


@needs_sandbox
async def test_files_update_in_place_env_stays_and_only_new_instances_see_new_env(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    first = await ready(runtime)
    pod = get(first, "/env")["POD"]
    changed = workload(
        env=(("PW", "new"), ("POD", ""), ("URL", "db://$(PW)@x"), ("LITERAL", "$(HOME)")),
        volumes=(Volume("secret", files=(VolumeFile("password", b"rotated"),)), *workload().volumes[1:]),
    )
    await runtime.ensure(changed, 1)
    assert file(first, "/etc/zs-test-secret/password")["data"] == "rotated"  # in place: no wait, no restart
    assert "error" in file(first, "/etc/zs-test-secret/nested/key")  # gone from the new payload
    assert file(first, "/zs-test-app/password")["data"] == "s3cret"  # a subPath keeps what it bound
    assert get(first, "/env")["PW"] == "s3$(HOME)cret" and get(first, "/env")["POD"] == pod  # same instance
    await runtime.ensure(changed, 2)
    both = await ready(runtime, count=2)
    envs = [get(replace(both, endpoints=(endpoint,)), "/env") for endpoint in both.endpoints]
    assert sorted(env["PW"] for env in envs) == ["new", "s3$(HOME)cret"]
    assert len({env["POD"] for env in envs}) == 2


@needs_sandbox
async def test_a_config_error_starts_nothing_until_the_data_comes(runtime: LocalRuntime) -> None:
    error = Failure("CreateContainerConfigError", "couldn't find key password in Secret default/db", permanent=True)
    await runtime.ensure(workload(config_error=error), 1)
    status = runtime.status(KEY)
    assert status is not None and status.failure == error and status.ready == 0  # at once
    await runtime.ensure(workload(), 1)
    assert (await ready(runtime)).ready == 1


@needs_sandbox
async def test_a_config_error_later_leaves_a_running_instance_alone(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    status = await ready(runtime)
    error = Failure("CreateContainerConfigError", 'secret "db" not found', permanent=True)
    await runtime.ensure(workload(config_error=error), 1)
    assert runtime.status(KEY) == status  # still serving, as the kubelet leaves a running pod
    assert file(status, "/etc/zs-test-secret/password")["data"] == "s3cret"


@needs_sandbox
async def test_volumes_are_the_instances_only_and_go_with_it(runtime: LocalRuntime) -> None:
    await runtime.ensure(workload(), 1)
    status = await ready(runtime)
    volumes = runtime._volumes
    assert volumes is not None
    (instance_dir,) = [path for path in volumes.memory.iterdir() if path != volumes.etc]
    info = instance_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == file(status, "/etc/zs-test-secret/password")["uid"]
    assert not str(instance_dir).startswith(str(runtime.data_dir))  # the secret is never in the data dir
    await runtime.ensure(workload(), 0)
    await status_until(runtime, KEY, lambda s: s.ready == 0)
    await runtime.remove(KEY)
    assert list(volumes.memory.iterdir()) == [volumes.etc] and list(volumes.disk.iterdir()) == []
    assert list(volumes.etc.iterdir()) == []  # a container instance's own /etc files' directory (none here)


async def test_without_the_sandbox_volumes_are_a_failed_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(isolation.SANDBOX_VARIABLE, "none")
    rt = LocalRuntime(tmp_path / "data", isolation=isolation.Policy.from_environ(os.environ))
    try:
        await rt.ensure(workload(), 1)
        status = rt.status(KEY)
        assert status is not None and status.failure is not None
        assert status.failure.reason == "FailedMount" and status.failure.permanent
        assert "ZEROSERVE_SANDBOX=none" in status.failure.message
        await rt.ensure(workload(volume_mounts=()), 1)  # nothing mounted: runs as before
        assert (await ready(rt)).ready == 1
    finally:
        await rt.close()


# -- a container ------------------------------------------------------------------------------------


class OneImage:
    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs

    async def resolve(self, ref: str, timeout: float, keyring: Keyring | None = None) -> str:
        return ref

    async def ensure(self, ref: str, pull_policy: PullPolicy = "IfNotPresent", keyring: Keyring | None = None) -> Image:
        if ref != "toybox@sha256:serve":
            raise ImageError(ERR_IMAGE_PULL, f"failed to pull {ref}")
        config = ImageConfig(entrypoint=("/bin/toybox",), cmd=("serve",), env=(("PATH", "/bin"),))
        return Image(ref, "serve", self.rootfs, config)


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, static_binary: Callable[[Path], Path]) -> Path:
    closed = tmp_path_factory.mktemp("images")
    closed.chmod(0o700)
    root = closed / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy(static_binary(TOYBOX_C), root / "bin" / "toybox")
    for path in (root, root / "bin"):
        path.chmod(0o755)
    return root


async def fetch(host: str, port: int, path: str) -> tuple[int, str]:
    reader, writer = await netns.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@needs_sandbox
@pytest.mark.skipif((why := netns.available()) is not None, reason=why or "")
async def test_a_container_sees_its_env_and_files_and_the_update(tmp_path: Path, rootfs: Path) -> None:
    rt = LocalRuntime(tmp_path / "data", isolation=isolation.Policy(), images=OneImage(rootfs))
    box = workload(
        image="toybox@sha256:serve",
        command=(),
        working_dir=None,
        env=(("PW", "s3cret"), ("UID", "")),
        env_data=frozenset({0, 1}),
        instance_fields=((1, POD_UID),),
        volumes=(Volume("cfg", files=(VolumeFile("color", b"blue"),)), Volume("scratch", kind="emptyDir")),
        volume_mounts=(
            VolumeMount("cfg", "/etc/config"),
            VolumeMount("cfg", "/color", sub_path="color"),
            VolumeMount("scratch", "/data", read_only=False),
        ),
    )
    try:
        await rt.ensure(box, 1)
        status = await ready(rt)
        assert status.ready == 1, status.failure
        host, port = status.endpoints[0].host, status.endpoints[0].port
        env = dict(line.split("=", 1) for line in (await fetch(host, port, "/env"))[1].splitlines())
        assert env["PW"] == "s3cret" and len(env["UID"]) == 36
        assert await fetch(host, port, "/cat/etc/config/color") == (200, "blue")
        assert await fetch(host, port, "/cat/color") == (200, "blue")
        assert (await fetch(host, port, "/touch/data/x"))[0] == 200
        await rt.ensure(replace(box, volumes=(Volume("cfg", files=(VolumeFile("color", b"red"),)), box.volumes[1])), 1)
        assert await fetch(host, port, "/cat/etc/config/color") == (200, "red")
        assert await fetch(host, port, "/cat/color") == (200, "blue")  # subPath: as Kubernetes, no update
    finally:
        await rt.close()


@needs_sandbox
async def test_a_crashed_runtimes_volumes_are_removed_when_the_next_one_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    left = volumes.VolumeManager(data)  # never closed, as by a crash
    dirs = left.create("i-1", "i-1", [Volume("s", files=(VolumeFile("password", b"s3cret"),))])
    assert (Path(dirs["s"]) / "password").read_bytes() == b"s3cret"
    rt = LocalRuntime(data, isolation=isolation.Policy())
    try:
        assert not Path(dirs["s"]).exists() and not left.top.exists()
        assert not any(str(left.top) in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
    finally:
        await rt.close()
