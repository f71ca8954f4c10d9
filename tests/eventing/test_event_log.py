"""The durable event log: sequence numbers, group commit, durability across kill -9, backlog,
acknowledgements, replay and retention (real SQLite files)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.polling import eventually
from zeroserve.config import EventingConfig
from zeroserve.eventing.acks import AckState
from zeroserve.eventing.base import BacklogFull
from zeroserve.eventing.log import SqliteEventLog

REPO = Path(__file__).resolve().parents[2]


class Wall:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ack_state_low_water_mark() -> None:
    s = AckState("ns", "b", mark=0)
    s.ack(2)
    s.ack(3)
    assert (s.mark, s.acked) == (0, {2, 3}), "event 1 is still owed: the mark waits, the others are done"
    assert s.done(2) and not s.done(1) and s.owed(5) == 3
    assert s.take_changes() == (0, [2, 3])
    s.ack(1)
    assert (s.mark, s.acked) == (3, set())
    s.ack(5)
    assert s.take_changes() == (3, [5])
    assert not s.dirty
    s.ack(2)
    assert not s.dirty, "an event already done changes nothing"


async def test_sequence_numbers_are_per_broker_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with SqliteEventLog(path) as log:
        seqs = await asyncio.gather(*(log.append("ns", "a", b'{"id":"%d"}' % i) for i in range(50)))
        assert sorted(seqs) == list(range(1, 51))
        assert await log.append("ns", "b", b"{}") == 1
        assert await log.append("other", "a", b"{}") == 1
    async with SqliteEventLog(path) as log:
        assert log.last_seq("ns", "a") == 50
        assert await log.append("ns", "a", b"{}") == 51
        records = log.read("ns", "a", 48, 10)
        assert [r.seq for r in records] == [49, 50, 51]
    assert os.stat(path).st_mode & 0o777 == 0o600


async def test_many_concurrent_appends_share_commits(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "events.db") as log:
        await asyncio.gather(*(log.append("ns", "b", b"x" * 300) for _ in range(3000)))
        assert log.last_seq("ns", "b") == 3000
    # group commit: far fewer WAL frames than one commit per event would write
    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (3000,)
    conn.close()


async def test_wait_beyond_wakes_on_commit(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "events.db") as log:
        waiter = asyncio.create_task(log.wait_beyond("ns", "b", 0))
        await asyncio.sleep(0)  # wait-ok: one loop turn (no time) so the waiter starts waiting
        assert not waiter.done()
        await log.append("ns", "other", b"{}")
        await asyncio.sleep(0)  # wait-ok: one loop turn, for a wake-up to be seen if there were one
        assert not waiter.done(), "another broker's event does not wake it"
        await log.append("ns", "b", b"{}")
        await asyncio.wait_for(waiter, 5)


async def test_backlog_full_when_the_slowest_trigger_owes_max_backlog(tmp_path: Path) -> None:
    cfg = EventingConfig(max_backlog=3, retry_after=2.5)
    async with SqliteEventLog(tmp_path / "events.db", lambda: cfg) as log:
        for _ in range(5):
            await log.append("ns", "b", b"{}")  # no trigger: nobody owes anything
        await log.attach("t1", "ns", "b", created=0.0)  # starts at the oldest retained event
        assert log.backlog("ns", "b") == 5
        with pytest.raises(BacklogFull) as full:
            await log.append("ns", "b", b"{}")
        assert full.value.retry_after == 2.5
        assert await log.append("ns", "other", b"{}") == 1, "other brokers are not held back"
        for seq in (1, 2, 4):
            log.ack("t1", seq)
        assert log.backlog("ns", "b") == 2 and log.trigger_backlog("t1") == 2
        assert await log.append("ns", "b", b"{}") == 6


async def test_max_pending_bounds_memory(tmp_path: Path) -> None:
    cfg = EventingConfig(max_pending=10)
    async with SqliteEventLog(tmp_path / "events.db", lambda: cfg) as log:
        results = await asyncio.gather(*(log.append("ns", "b", b"{}") for _ in range(50)), return_exceptions=True)
        full = [r for r in results if isinstance(r, BacklogFull)]
        assert full and len(full) + log.last_seq("ns", "b") == 50
        assert all("waiting for their commit" in str(e) for e in full)


async def test_acks_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with SqliteEventLog(path) as log:
        for _ in range(6):
            await log.append("ns", "b", b"{}")
        await log.attach("t1", "ns", "b", created=0.0)
        for seq in (1, 2, 4, 6):
            log.ack("t1", seq)
        await log.flush_acks()
    async with SqliteEventLog(path) as log:
        state = await log.attach("t1", "ns", "b", created=0.0)
        assert (state.mark, state.acked) == (2, {4, 6})
        assert [s for s in range(1, 7) if not state.done(s)] == [3, 5]


async def test_acks_are_written_soon_after_they_come_and_nothing_waits_for_none(tmp_path: Path) -> None:
    path = tmp_path / "events.db"

    def stored_acks() -> tuple[int, list[int]]:
        with sqlite3.connect(path) as conn:
            mark = conn.execute("SELECT mark FROM triggers WHERE uid = 't1'").fetchone()[0]
            return mark, [s for (s,) in conn.execute("SELECT seq FROM acks WHERE uid = 't1' ORDER BY seq")]

    async with SqliteEventLog(path) as log:
        for _ in range(4):
            await log.append("ns", "b", b"{}")
        await log.attach("t1", "ns", "b", created=0.0)
        assert log._flush_timer is None, "no acknowledgement yet: no flush is scheduled"
        log.ack("t1", 1)
        log.ack("t1", 3)
        await eventually(lambda: stored_acks() == (1, [3]), timeout=10)
        await eventually(lambda: not log._flushing, timeout=10)  # the flush task ends just after its write lands
        assert log._flush_timer is None, "all written: nothing is scheduled"
        log.ack("t1", 2)
        await eventually(lambda: stored_acks() == (3, []), timeout=10)


async def test_a_new_trigger_starts_at_its_creation(tmp_path: Path) -> None:
    wall = Wall()
    async with SqliteEventLog(tmp_path / "events.db", wall=wall) as log:
        await log.append("ns", "b", b"{}")
        wall.now += 10
        await log.append("ns", "b", b"{}")
        early = await log.attach("early", "ns", "b", created=wall.now - 5)
        late = await log.attach("late", "ns", "b", created=wall.now + 1)
        assert early.mark == 1 and late.mark == 2
        await log.detach("late")
        assert "late" not in log.triggers


async def test_replay_from_sequence_or_time(tmp_path: Path) -> None:
    wall = Wall()
    async with SqliteEventLog(tmp_path / "events.db", wall=wall) as log:
        for _ in range(5):
            await log.append("ns", "b", b"{}")
            wall.now += 1
        await log.attach("t", "ns", "b", created=0.0)
        for seq in range(1, 6):
            log.ack("t", seq)
        assert await log.replay("t", "3", seq=3) == 2
        assert log.trigger_backlog("t") == 3
        assert await log.replay("t", "t", since=1_000_001.5) == 2, "events 3.. arrived at or after that time"
        assert await log.replay("t", "0", seq=0) == 0, "as far back as retention kept"
        assert log.triggers["t"].replay == "0"


async def test_retention_keeps_what_a_trigger_still_owes(tmp_path: Path) -> None:
    wall = Wall()
    cfg = EventingConfig(retention=60.0)
    async with SqliteEventLog(tmp_path / "events.db", lambda: cfg, wall=wall) as log:
        for _ in range(4):
            await log.append("ns", "b", b"{}")
        await log.append("ns", "lonely", b"{}")
        await log.attach("t", "ns", "b", created=0.0)
        log.ack("t", 1)
        log.ack("t", 3)
        wall.now += 61
        await log.append("ns", "b", b"{}")  # a fresh one, within retention
        await log.expire()
        assert [r.seq for r in log.read("ns", "b", 0, 10)] == [2, 3, 4, 5], "event 2 is owed: kept, and after it"
        assert log.read("ns", "lonely", 0, 10) == [], "no trigger owes it"
        for seq in (2, 4):
            log.ack("t", seq)
        await log.expire()
        assert [r.seq for r in log.read("ns", "b", 0, 10)] == [5]
        assert await log.append("ns", "lonely", b"{}") == 2, "numbers never go back"


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from zeroserve.eventing.log import SqliteEventLog

    async def main():
        async with SqliteEventLog(sys.argv[1]) as log:
            async def one(i):
                seq = await log.append("ns", "b", b'{"id":"%d"}' % i)
                sys.stdout.write(f"{seq}\\n")
                sys.stdout.flush()
            await asyncio.gather(*(one(i) for i in range(100000)))

    asyncio.run(main())
    """
)


def test_every_acknowledged_append_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    out = tmp_path / "acked.txt"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=REPO, stdout=sink)
        try:
            asyncio.run(eventually(lambda: out.stat().st_size > 20_000, 60))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    acked = {int(line) for line in out.read_text().split("\n")[:-1]}  # the last line may be cut
    conn = sqlite3.connect(path)
    stored = {seq for (seq,) in conn.execute("SELECT seq FROM events WHERE namespace = 'ns' AND broker = 'b'")}
    conn.close()
    assert len(acked) > 1000
    assert acked <= stored, f"{len(acked - stored)} acknowledged events lost"
