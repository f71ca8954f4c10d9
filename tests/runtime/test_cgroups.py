"""cgroups: quantity parsing, limit files, probing fake roots, and the warnings they lead to."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

from zeroserve.runtime import cgroups
from zeroserve.runtime.base import Workload, WorkloadKey
from zeroserve.runtime.cgroups import Cgroups, Limits
from zeroserve.runtime.local import workload_limits, workload_warnings


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Fraction(1)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("2.", Fraction(2)),
        ("500m", Fraction(1, 2)),
        ("1k", Fraction(1000)),
        ("64Mi", Fraction(64 * 1024**2)),
        ("1.5Gi", Fraction(3 * 1024**3, 2)),
        ("1Ki", Fraction(1024)),
        ("1G", Fraction(10**9)),
        ("1M", Fraction(10**6)),
        ("2T", Fraction(2 * 10**12)),
        ("1E", Fraction(10**18)),
        ("1Ei", Fraction(1024**6)),
        ("128974848", Fraction(128974848)),
        ("129e6", Fraction(129 * 10**6)),
        ("129E6", Fraction(129 * 10**6)),
        ("12e-1", Fraction(6, 5)),
        ("129000000.0", Fraction(129 * 10**6)),
        ("+3", Fraction(3)),
        ("-1", Fraction(-1)),
        (" 64Mi ", Fraction(64 * 1024**2)),
    ],
)
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert cgroups.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1mi", "1MiB", "1 Mi", "abc", "1e", "1..2", "0x10", "1u", "--1"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(cgroups.QuantityError, match="invalid quantity"):
        cgroups.parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "millis"), [("500m", 500), ("0.5", 500), ("1", 1000), ("2", 2000), ("0.0001", 1), ("1500m", 1500)]
)
def test_cpu_millis_rounds_up(text: str, millis: int) -> None:
    assert cgroups.cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 67108864), ("1G", 10**9), ("128974848", 128974848), ("129e6", 129000000), ("1.5", 2), ("500m", 1)],
)
def test_memory_bytes(text: str, size: int) -> None:
    assert cgroups.memory_bytes(text) == size


def test_negative_limits_are_rejected() -> None:
    with pytest.raises(cgroups.QuantityError, match="negative"):
        cgroups.memory_bytes("-64Mi")
    with pytest.raises(cgroups.QuantityError, match="negative"):
        cgroups.cpu_millis("-1")


@pytest.mark.parametrize(("millis", "quota"), [(500, 50_000), (1000, 100_000), (2500, 250_000), (1, 1_000), (5, 1_000)])
def test_cfs_quota_like_kubelet(millis: int, quota: int) -> None:
    assert cgroups.cfs_quota(millis) == quota


def test_limits_of() -> None:
    assert cgroups.limits_of("250m", "64Mi") == Limits(cpu_millis=250, memory_bytes=64 * 1024**2)
    assert cgroups.limits_of(None, None).empty
    assert cgroups.limits_of("0", "0").empty
    assert not cgroups.limits_of(None, "1").empty
    assert cgroups.limits_of(None, None, pids=20) == Limits(pids=20)


def test_empty_root_has_no_cgroups_and_says_why(tmp_path: Path) -> None:
    found = cgroups.probe(tmp_path)
    assert not found.available
    assert found.reason.startswith(f"no cgroup v2 under {tmp_path}; no usable cgroup v1 under {tmp_path}")
    assert "no memory hierarchy" in found.reason
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError, match="cgroups unavailable"):
        found.create("x", Limits(memory_bytes=1))


def fake_v2(root: Path, controllers: str) -> Path:
    mount = root / "unified"
    mount.mkdir()
    (mount / "cgroup.controllers").write_text(controllers + "\n")
    (mount / "cgroup.subtree_control").write_text("")
    return mount


def test_v2_without_memory_and_cpu_falls_back_and_names_what_is_missing(tmp_path: Path) -> None:
    fake_v2(tmp_path, "hugetlb")
    found = cgroups.probe(tmp_path)
    assert not found.available
    assert f"cgroup v2 at {tmp_path / 'unified'} lacks the memory and cpu controllers (has: hugetlb)" in found.reason


def test_v2_with_controllers_enables_them_for_our_subtree(tmp_path: Path) -> None:
    mount = fake_v2(tmp_path, "cpuset cpu io memory pids")
    (mount / "zeroserve").mkdir()
    (mount / "zeroserve" / "cgroup.subtree_control").write_text("")
    found = cgroups.probe(tmp_path)
    assert found.version == "v2"
    assert found.parents == (("unified", mount / "zeroserve"),)
    assert (mount / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert (mount / "zeroserve" / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    cgroup = found.create("rev-1", Limits(cpu_millis=500, memory_bytes=1024, pids=7))
    path = mount / "zeroserve" / "rev-1"
    assert cgroup.dirs == {"unified": path}
    assert (path / "memory.max").read_text() == "1024"
    assert (path / "cpu.max").read_text() == "50000 100000"
    assert (path / "pids.max").read_text() == "7"


def fake_v1(root: Path, *hierarchies: str) -> None:
    for name in hierarchies:
        (root / name).mkdir()
        (root / name / "cgroup.procs").write_text("")


def test_v1_writes_limits_per_hierarchy(tmp_path: Path) -> None:
    fake_v1(tmp_path, "memory", "cpu", "cpuacct", "pids")
    found = cgroups.probe(tmp_path)
    assert found.version == "v1"
    assert found.controllers == {"memory", "cpu", "cpuacct", "pids"}
    found.create("rev-1", Limits(cpu_millis=250, memory_bytes=64 * 1024**2))
    assert (tmp_path / "memory/zeroserve/rev-1/memory.limit_in_bytes").read_text() == "67108864"
    assert (tmp_path / "cpu/zeroserve/rev-1/cpu.cfs_quota_us").read_text() == "25000"
    assert (tmp_path / "cpu/zeroserve/rev-1/cpu.cfs_period_us").read_text() == "100000"
    assert not (tmp_path / "pids/zeroserve/rev-1/pids.max").exists()
    assert [p.name for p in (tmp_path / "cpuacct/zeroserve/rev-1").iterdir()] == []


def test_v1_needs_memory_and_cpu(tmp_path: Path) -> None:
    fake_v1(tmp_path, "memory", "pids")
    found = cgroups.probe(tmp_path)
    assert not found.available
    assert "no cpu hierarchy" in found.reason
    assert "pids" not in found.reason.partition("v1")[2]


def test_v1_read_usage(tmp_path: Path) -> None:
    fake_v1(tmp_path, "memory", "cpu", "cpuacct", "pids")
    cgroup = cgroups.probe(tmp_path).create("rev-1", Limits(memory_bytes=10))
    (cgroup.dirs["memory"] / "memory.usage_in_bytes").write_text("4096\n")
    (cgroup.dirs["memory"] / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (cgroup.dirs["cpuacct"] / "cpuacct.usage").write_text("1500000000\n")
    (cgroup.dirs["pids"] / "pids.current").write_text("3\n")
    assert cgroup.usage() == cgroups.Usage(memory_bytes=4096, cpu_seconds=1.5, pids=3, oom_kills=2)


def test_v2_read_usage(tmp_path: Path) -> None:
    cgroup = cgroups.InstanceCgroup("v2", {"unified": tmp_path})
    (tmp_path / "memory.current").write_text("8192\n")
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    (tmp_path / "cpu.stat").write_text("usage_usec 250000\nuser_usec 200000\nsystem_usec 50000\n")
    assert cgroup.usage() == cgroups.Usage(memory_bytes=8192, cpu_seconds=0.25, pids=None, oom_kills=1)


def workload(**limits: str) -> Workload:
    return Workload(
        key=WorkloadKey("default", "hello-00001"),
        service="hello",
        configuration="hello",
        image=None,
        command=(sys.executable, "-c", "pass"),
        args=(),
        working_dir=None,
        env=(),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
        cpu_limit=limits.get("cpu"),
        memory_limit=limits.get("memory"),
    )


NONE = Cgroups(Path("/nowhere"), None, reason="no cgroup v2 under /nowhere; no usable cgroup v1 under /nowhere")
V1 = Cgroups(Path("/sys/fs/cgroup"), "v1", (("memory", Path("/m")), ("cpu", Path("/c"))))


def test_warnings_say_why_limits_are_not_enforced() -> None:
    assert workload_warnings(workload(cpu="500m", memory="64Mi"), NONE) == (
        f"cpu/memory limits not enforced: {NONE.reason} (cpu=500m, memory=64Mi)",
    )
    assert workload_warnings(workload(memory="64Mi"), V1) == ()
    assert workload_warnings(workload(), NONE) == ()
    memory_only = Cgroups(Path("/x"), "v1", (("memory", Path("/m")),))
    assert workload_warnings(workload(cpu="1"), memory_only) == (
        "cpu/memory limits not enforced: no cpu cgroup (cpu=1)",
    )


def test_bad_quantity_is_a_warning_not_a_crash() -> None:
    (warning,) = workload_warnings(workload(memory="lots"), V1)
    assert warning.startswith("cpu/memory limits not enforced: invalid quantity 'lots'")
    assert workload_limits(workload(cpu="1", memory="1Gi")) == Limits(cpu_millis=1000, memory_bytes=1024**3)


MOUNTINFO = """\
25 24 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
28 25 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
40 24 0:41 / /srv/odd\\040name rw,relatime shared:9 - tmpfs favordynmods rw,favordynmods
"""


@pytest.mark.parametrize(
    ("line", "favoured"),
    [
        ("", False),
        ("51 24 0:50 / /run/zeroserve/cgroup-favordynmods rw - cgroup cgroup rw,favordynmods,name=zs", True),
        ("29 25 0:26 / /sys/fs/cgroup rw,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,favordynmods", True),
        ("52 24 0:51 / /x rw - cgroup cgroup rw,nofavordynmods,name=zs", False),
    ],
)
def test_favoring_reads_the_super_options_of_cgroup_mounts(line: str, favoured: bool) -> None:
    assert cgroups.favoring(MOUNTINFO + line) is favoured


def test_favor_dynmods_says_why_it_cannot_mount(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO)
    (tmp_path / "file").write_text("")
    why = cgroups.favor_dynmods(tmp_path / "file" / "mount", mountinfo)
    assert why is not None
    assert str(tmp_path / "file" / "mount") in why
    assert "Not a directory" in why
    assert cgroups.favor_dynmods(tmp_path / "elsewhere", tmp_path / "missing") == (
        f"{tmp_path / 'missing'}: No such file or directory"
    )
    assert not (tmp_path / "elsewhere").exists()
