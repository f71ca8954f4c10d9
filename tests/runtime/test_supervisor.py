from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from zeroserve.runtime import lifeline, supervisor
from zeroserve.runtime.supervisor import InstanceRecord, InstanceRecords


def test_parse_stat_with_a_hostile_command_name() -> None:
    fields = " ".join(str(n) for n in range(4, 53))
    stat = supervisor.parse_stat(f"123 (a) (b c) S 1 {fields}\n")
    # fields: state=S, ppid=1, then 4.. -> pgrp=4, session=5, starttime is field 22 (value 21)
    assert stat == supervisor.ProcStat(pid=123, state="S", ppid=1, pgrp=4, session=5, start_ticks=21)


def test_read_stat_of_ourselves_and_of_nobody() -> None:
    me = supervisor.read_stat(os.getpid())
    assert me is not None
    assert (me.pid, me.ppid, me.pgrp) == (os.getpid(), os.getppid(), os.getpgrp())
    assert supervisor.read_stat(2**22 + 7) is None


def test_lifeline_protocol() -> None:
    lines = [b"+10\n", b"+11\n", b"-10\n", b"garbage\n", b"+\n", b"+12\n", b"-99\n"]
    assert lifeline.serve(lines) == {11, 12}


def test_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "instances.jsonl"
    records = InstanceRecords(path)
    assert records.load() == []
    first, second = InstanceRecord("a", "ns/r", 1, 2), InstanceRecord("b", "ns/r", 3, 4)
    records.add(first)
    records.add(second)
    records.add(second)  # the same record again (a spare become its instance): nothing written
    records.discard("a")
    records.discard("missing")
    assert InstanceRecords(path).load() == [second]
    assert len(path.read_text().splitlines()) == 3  # add a, add b, drop a: one append each
    with path.open("a") as cut:
        cut.write('{"add":{"id":"c","key":"ns/r","pid"')  # a crash cut the last line short
    assert InstanceRecords(path).load() == [second]
    path.write_text("{not json\n")
    assert records.load() == []
    records.close()


def test_records_journal_is_compacted_to_the_live_records(tmp_path: Path) -> None:
    path = tmp_path / "instances.jsonl"
    records = InstanceRecords(path)
    records.save()
    for n in range(1000):  # instances come and go; two stay
        records.add(InstanceRecord(f"i{n}", "ns/r", 10 + n, n))
        if n not in (7, 500):
            records.discard(f"i{n}")
    lines = len(path.read_text().splitlines())
    assert lines <= supervisor.COMPACT_RATIO * 2 + supervisor.COMPACT_SLACK + 1
    assert [r.id for r in InstanceRecords(path).load()] == ["i7", "i500"]
    records.close()


def test_records_of_a_runtime_before_the_journal_are_read_then_removed(tmp_path: Path) -> None:
    legacy = tmp_path / "instances.json"
    old = InstanceRecord("old", "ns/r", 5, 6)
    legacy.write_text(json.dumps({"instances": [old.__dict__]}, indent=1))
    records = InstanceRecords(tmp_path / "instances.jsonl")
    assert records.load() == [old]
    records.save()
    assert not legacy.exists() and records.load() == []


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import signal; signal.pause()"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


async def _exited(process: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.poll() is None:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)  # wait-ok: polling interval of a deadline-bounded wait
    return True


async def test_kill_leftovers_only_when_pid_and_start_time_match() -> None:
    leftover, stranger = _sleeper(), _sleeper()
    try:
        leftover_stat, stranger_stat = supervisor.read_stat(leftover.pid), supervisor.read_stat(stranger.pid)
        assert leftover_stat is not None and stranger_stat is not None
        records = [
            InstanceRecord("old", "ns/r", leftover.pid, leftover_stat.start_ticks),
            InstanceRecord("reused", "ns/r", stranger.pid, stranger_stat.start_ticks - 1),
        ]
        assert supervisor.kill_leftovers(records) == [leftover.pid]
        assert await _exited(leftover)
        assert leftover.returncode == -signal.SIGKILL
        assert stranger.poll() is None
    finally:
        for process in (leftover, stranger):
            process.kill()
            process.wait()


def test_lifeline_kills_registered_groups_on_eof() -> None:
    victim, spared = _sleeper(), _sleeper()
    try:
        line = supervisor.Lifeline()
        line.register(victim.pid)
        line.register(spared.pid)
        line.unregister(spared.pid)
        process = line.close()
        assert process is not None
        assert process.wait(timeout=30) == 0
        assert victim.wait(timeout=30) == -signal.SIGKILL
        assert spared.poll() is None
    finally:
        for proc in (victim, spared):
            proc.kill()
            proc.wait()
