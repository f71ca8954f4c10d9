from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.polling import eventually
from zeroserve.api import selectors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, EVENT, ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound
from zeroserve.store import SqliteStore, WatchEvent
from zeroserve.store.base import Preconditions, Propagation
from zeroserve.store.rows import LabelIndex, Packer, Row
from zeroserve.store.sqlite import _matching


def svc(name: str, image: str = "img:1", ns: str = "default", **meta: Any) -> Obj:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, **meta},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
    }


def owned(kind: str, name: str, owner: Obj) -> Obj:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"]}
    ref["uid"] = owner["metadata"]["uid"]
    return {"kind": kind, "metadata": {"name": name, "namespace": "default", "ownerReferences": [ref]}, "spec": {}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db", clock=FakeClock())
    yield s
    await s.close()


async def take(events: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    async with asyncio.timeout(10):
        return [await anext(events) for _ in range(n)]


async def test_create_sets_identity_and_messages(store: SqliteStore) -> None:
    created = await store.create(SERVICE, {**svc("hello"), "status": {"url": "x"}})
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["resourceVersion"] == "1"
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert len(meta["uid"]) == 36
    assert "status" not in created, "status is written only through update_status"
    assert await store.get(SERVICE, "default", "hello") == created
    with pytest.raises(AlreadyExists, match=r'^services.serving.knative.dev "hello" already exists$'):
        await store.create(SERVICE, svc("hello"))
    with pytest.raises(NotFound, match=r'^services.serving.knative.dev "nope" not found$'):
        await store.get(SERVICE, "default", "nope")
    with pytest.raises(NotFound):
        await store.get(SERVICE, "other", "hello")


async def test_an_integer_beyond_64_bits_is_stored_and_read_back(tmp_path: Path) -> None:
    """The rows are orjson's, which refuses integers beyond 64 bits; an unmodelled field may hold one
    (the API decodes JSON with Python's json module): the json module writes and reads that row."""
    store = await SqliteStore.open(tmp_path / "big.db", clock=FakeClock())
    try:
        big = svc("big")
        big["spec"]["template"]["spec"]["containers"][0]["x-huge"] = 2**70
        await store.create(SERVICE, big)
        got = await store.get(SERVICE, "default", "big")
        assert got["spec"]["template"]["spec"]["containers"][0]["x-huge"] == 2**70
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "big.db", clock=FakeClock())  # read from the table
    try:
        got = await reopened.get(SERVICE, "default", "big")
        assert got["spec"]["template"]["spec"]["containers"][0]["x-huge"] == 2**70
    finally:
        await reopened.close()


async def test_events_are_read_from_sqlite_each_time_not_kept_in_memory(store: SqliteStore) -> None:
    def event(name: str, ns: str = "default", **labels: str) -> Obj:
        return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns, "labels": labels}}

    assert (await store.list(EVENT)) == ([], 0)
    await store.create(EVENT, {**event("a", app="x"), "message": "one"})
    await store.create(EVENT, event("b", ns="prod", app="y"))
    got = await store.get(EVENT, "default", "a")
    assert got["message"] == "one"
    await store.update(EVENT, {**got, "message": "two"})
    assert (await store.get(EVENT, "default", "a"))["message"] == "two"
    items, rv = await store.list(EVENT, None, "app=y")
    assert ([o["metadata"]["name"] for o in items], rv) == (["b"], 3)
    assert [o["metadata"]["name"] for o in (await store.list(EVENT, "default"))[0]] == ["a"]
    await store.delete(EVENT, "prod", "b")
    with pytest.raises(NotFound, match=r'^events "b" not found$'):
        await store.get(EVENT, "prod", "b")
    with pytest.raises(AlreadyExists):
        await store.create(EVENT, event("a"))
    assert "events" not in store._cache, "no Event row is kept decoded in memory"


async def test_create_requires_a_name_or_generate_name(store: SqliteStore) -> None:
    with pytest.raises(Invalid, match="name or generateName is required"):
        await store.create(SERVICE, {"metadata": {}, "spec": {}})
    made = await store.create(SERVICE, {"metadata": {"generateName": "hello-"}, "spec": {}})
    assert made["metadata"]["name"].startswith("hello-")
    assert len(made["metadata"]["name"]) == len("hello-") + 5


async def test_stale_resource_version_conflicts(store: SqliteStore) -> None:
    first = await store.create(SERVICE, svc("hello"))
    second = await store.update(SERVICE, svc("hello", "img:2", resourceVersion=first["metadata"]["resourceVersion"]))
    assert second["metadata"]["resourceVersion"] == "2"
    message = (
        'Operation cannot be fulfilled on services.serving.knative.dev "hello": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    with pytest.raises(Conflict) as info:
        await store.update(SERVICE, svc("hello", "img:3", resourceVersion="1"))
    assert info.value.message == message
    with pytest.raises(Conflict):
        await store.update_status(SERVICE, {**svc("hello", resourceVersion="1"), "status": {}})
    unconditional = await store.update(SERVICE, svc("hello", "img:3"))
    assert unconditional["metadata"]["resourceVersion"] == "3"
    with pytest.raises(NotFound):
        await store.update(SERVICE, svc("absent"))


async def test_generation_bumps_only_when_spec_changes(store: SqliteStore) -> None:
    created = await store.create(SERVICE, svc("hello"))
    relabeled = await store.update(SERVICE, svc("hello", labels={"a": "b"}))
    assert relabeled["metadata"]["generation"] == 1
    assert relabeled["metadata"]["labels"] == {"a": "b"}
    assert relabeled["metadata"]["resourceVersion"] == "2"
    changed = await store.update(SERVICE, svc("hello", "img:2", labels={"a": "b"}))
    assert changed["metadata"]["generation"] == 2
    noop = await store.update(SERVICE, svc("hello", "img:2", labels={"a": "b"}))
    assert noop == changed, "an update that changes nothing writes nothing"
    status = await store.update_status(SERVICE, {**changed, "status": {"observedGeneration": 2}})
    assert status["metadata"]["generation"] == 2
    assert status["metadata"]["resourceVersion"] == "4"
    assert created["metadata"]["uid"] == status["metadata"]["uid"]


async def test_update_keeps_immutable_metadata_and_status(store: SqliteStore) -> None:
    created = await store.create(SERVICE, svc("hello"))
    with_status = await store.update_status(SERVICE, {**created, "status": {"url": "http://hello"}})
    forged = svc("hello", "img:2", uid="forged", generation=99, creationTimestamp="1999-01-01T00:00:00Z")
    forged["status"] = {"url": "http://evil"}
    updated = await store.update(SERVICE, forged)
    for field in ("uid", "creationTimestamp", "name", "namespace"):
        assert updated["metadata"][field] == created["metadata"][field]
    assert updated["metadata"]["generation"] == 2
    assert updated["status"] == with_status["status"]


async def test_update_status_keeps_metadata_and_spec(store: SqliteStore) -> None:
    created = await store.create(SERVICE, svc("hello", labels={"x": "1"}))
    sent = svc("hello", "img:other", labels={"x": "changed"})
    sent["status"] = {"observedGeneration": 1}
    updated = await store.update_status(SERVICE, sent)
    assert updated["spec"] == created["spec"]
    assert updated["metadata"]["labels"] == {"x": "1"}
    assert updated["status"] == {"observedGeneration": 1}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_list_namespaces_selectors_and_rv(store: SqliteStore) -> None:
    await store.create(SERVICE, svc("a", labels={"app": "x"}))
    await store.create(SERVICE, svc("b", labels={"app": "y"}))
    await store.create(SERVICE, svc("c", ns="prod", labels={"app": "x"}))
    await store.create(ROUTE, {"metadata": {"name": "a", "namespace": "default"}, "spec": {}})
    items, rv = await store.list(SERVICE, "default")
    assert [o["metadata"]["name"] for o in items] == ["a", "b"]
    assert rv == 4
    items, _ = await store.list(SERVICE)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items] == [
        ("default", "a"),
        ("default", "b"),
        ("prod", "c"),
    ]
    items, _ = await store.list(SERVICE, None, "app=x")
    assert [o["metadata"]["name"] for o in items] == ["a", "c"]
    items, _ = await store.list(SERVICE, "default", "app notin (x)")
    assert [o["metadata"]["name"] for o in items] == ["b"]


async def test_delete_leaves_dependents_to_the_garbage_collector(store: SqliteStore) -> None:
    """The API server's part of a delete: the object only (Kubernetes' GC follows ownerReferences)."""
    service = await store.create(SERVICE, svc("hello"))
    config = await store.create(CONFIGURATION, owned("Configuration", "hello", service))
    events = store.watch((SERVICE, CONFIGURATION), since=int(config["metadata"]["resourceVersion"]))
    deleted = await store.delete(SERVICE, "default", "hello")
    assert deleted["metadata"]["uid"] == service["metadata"]["uid"]
    assert [(e.type, e.kind.kind) for e in await take(events, 1)] == [("DELETED", "Service")]
    assert (await store.get(CONFIGURATION, "default", "hello"))["metadata"]["uid"] == config["metadata"]["uid"]
    with pytest.raises(NotFound):
        await store.delete(SERVICE, "default", "hello")
    await events.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "finalizer"),
    [pytest.param("Foreground", "foregroundDeletion", id="foreground"), pytest.param("Orphan", "orphan", id="orphan")],
)
async def test_a_policy_with_a_finalizer_marks_the_object_until_the_finalizer_is_removed(
    store: SqliteStore, policy: Propagation, finalizer: str
) -> None:
    await store.create(SERVICE, svc("hello"))
    marked = await store.delete(SERVICE, "default", "hello", policy)
    meta = marked["metadata"]
    assert meta["finalizers"] == [finalizer]
    assert meta["deletionTimestamp"] == "2026-01-01T00:00:00Z"
    assert meta["deletionGracePeriodSeconds"] == 0
    assert await store.get(SERVICE, "default", "hello") == marked
    again = await store.delete(SERVICE, "default", "hello", policy)
    assert again["metadata"]["resourceVersion"] == meta["resourceVersion"], "a repeated delete changes nothing"
    cleared = dict(marked, metadata={**meta, "deletionTimestamp": None})
    kept = await store.update(SERVICE, cleared)
    assert kept["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"], "deletionTimestamp is immutable"
    with pytest.raises(Invalid, match="no new finalizers can be added if the object is being deleted"):
        await store.update(SERVICE, dict(kept, metadata={**kept["metadata"], "finalizers": [finalizer, "x/y"]}))
    gone = await store.update(SERVICE, dict(kept, metadata={**kept["metadata"], "finalizers": []}))
    assert gone["metadata"]["finalizers"] == []
    with pytest.raises(NotFound):
        await store.get(SERVICE, "default", "hello")


async def test_finalizers_hold_a_background_delete_and_background_replaces_a_policy(store: SqliteStore) -> None:
    await store.create(SERVICE, svc("held", finalizers=["example.com/cleanup"]))
    held = await store.delete(SERVICE, "default", "held")
    assert held["metadata"]["finalizers"] == ["example.com/cleanup"]
    assert held["metadata"]["deletionTimestamp"]
    await store.create(SERVICE, svc("switch"))
    await store.delete(SERVICE, "default", "switch", "Foreground")
    await store.delete(SERVICE, "default", "switch", "Background")  # drops foregroundDeletion: nothing holds it
    with pytest.raises(NotFound):
        await store.get(SERVICE, "default", "switch")


async def test_create_ignores_deletion_fields_and_delete_checks_preconditions(store: SqliteStore) -> None:
    created = await store.create(
        SERVICE, svc("p", deletionTimestamp="2020-01-01T00:00:00Z", deletionGracePeriodSeconds=30)
    )
    assert "deletionTimestamp" not in created["metadata"]
    assert "deletionGracePeriodSeconds" not in created["metadata"]
    with pytest.raises(Conflict, match=r"Precondition failed: UID in precondition: nope, UID in object meta: "):
        await store.delete(SERVICE, "default", "p", preconditions=Preconditions(uid="nope"))
    with pytest.raises(Conflict, match=r"ResourceVersion in precondition: 0, ResourceVersion in object meta: 1"):
        await store.delete(SERVICE, "default", "p", preconditions=Preconditions(resource_version="0"))
    rv = created["metadata"]["resourceVersion"]
    await store.delete(SERVICE, "default", "p", preconditions=Preconditions(created["metadata"]["uid"], rv))
    with pytest.raises(NotFound):
        await store.get(SERVICE, "default", "p")


async def test_watch_replays_then_goes_live_in_order(store: SqliteStore) -> None:
    await store.create(SERVICE, svc("a"))
    await store.create(ROUTE, {"metadata": {"name": "r", "namespace": "default"}, "spec": {}})
    await store.create(SERVICE, svc("b", ns="prod"))
    everything = store.watch((SERVICE,), since=0)
    in_default = store.watch((SERVICE,), since=0, namespace="default")
    live_only = store.watch((SERVICE,))
    writer = asyncio.create_task(store.update(SERVICE, svc("a", "img:2")))
    got = await take(everything, 3)
    assert [(e.type, e.object["metadata"]["name"], e.resource_version) for e in got] == [
        ("ADDED", "a", 1),
        ("ADDED", "b", 3),
        ("MODIFIED", "a", 4),
    ]
    assert [e.resource_version for e in await take(in_default, 2)] == [1, 4]
    await writer
    assert [e.resource_version for e in await take(live_only, 1)] == [4]
    for it in (everything, in_default, live_only):
        await it.aclose()  # type: ignore[attr-defined]


async def test_watch_has_no_gap_or_duplicate_under_concurrent_writes(store: SqliteStore) -> None:
    await store.create(SERVICE, svc("seed"))

    async def write_many() -> None:
        for i in range(60):
            await store.create(SERVICE, svc(f"s{i}"))

    writer = asyncio.create_task(write_many())
    events = store.watch((SERVICE,), since=0)
    got = await take(events, 61)
    await writer
    assert [e.resource_version for e in got] == list(range(1, 62))
    await events.aclose()  # type: ignore[attr-defined]


async def test_watch_resumes_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = await SqliteStore.open(path)
    await store.create(SERVICE, svc("a"))
    await store.create(SERVICE, svc("b"))
    await store.close()
    store = await SqliteStore.open(path)
    try:
        assert (await store.list(SERVICE))[1] == 2
        made = await store.create(SERVICE, svc("c"))
        assert made["metadata"]["resourceVersion"] == "3", "the rv counter survives a reopen"
        got = await take(store.watch((SERVICE,), since=1), 2)
        assert [(e.object["metadata"]["name"], e.resource_version) for e in got] == [("b", 2), ("c", 3)]
    finally:
        await store.close()


async def test_watch_from_compacted_rv_is_gone(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db", compact_keep=5)
    try:
        for i in range(12):
            await store.create(SERVICE, svc(f"s{i}"))
        with pytest.raises(Gone, match=r"^too old resource version: 3 \(7\)$"):
            await anext(store.watch((SERVICE,), since=3))
        got = await take(store.watch((SERVICE,), since=7), 5)
        assert [e.resource_version for e in got] == [8, 9, 10, 11, 12]
    finally:
        await store.close()


async def test_a_group_of_more_events_than_one_statement_holds_compacts_and_counts_in_one_transaction(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "state.db", compact_keep=5)
    release = threading.Event()
    held = asyncio.get_running_loop().run_in_executor(store._executor, release.wait)
    writes = [asyncio.ensure_future(store.create(SERVICE, svc(f"s{i}"))) for i in range(1200)]
    await eventually(lambda: len(store._queued) == len(writes) - 1, 10)
    release.set()
    await held
    await asyncio.gather(*writes)
    await store.close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key IN ('rv', 'horizon') ORDER BY key").fetchall() == [
            (1195,),
            (1200,),
        ]
        assert [rv for (rv,) in conn.execute("SELECT rv FROM events ORDER BY rv")] == [1196, 1197, 1198, 1199, 1200]
        assert conn.execute("SELECT count(*), max(rv) FROM objects").fetchone() == (1200, 1200)
    conn.close()


async def test_a_file_made_before_events_carried_uids_opens_and_its_rows_follow_its_log(tmp_path: Path) -> None:
    """The objects table is written by a trigger on the event log: a file from before it (no trigger,
    events without a uid column) gets both when opened, and keeps what it holds."""
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT INTO meta (key, value) VALUES ('rv', 1), ('horizon', 0);
            CREATE TABLE objects (kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
                uid TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, ns, name));
            CREATE TABLE events (rv INTEGER PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL,
                ns TEXT NOT NULL, name TEXT NOT NULL, object TEXT NOT NULL);
            """
        )
        old = {**svc("old"), "metadata": {"name": "old", "namespace": "default", "uid": "u-old"}}
        body = json.dumps(old)
        conn.execute("INSERT INTO objects VALUES ('services.serving.knative.dev', 'default', 'old', 'u-old', 1, ?)",
                     (body,))  # fmt: skip
        conn.execute("INSERT INTO events VALUES (1, 'ADDED', 'services.serving.knative.dev', 'default', 'old', ?)",
                     (body,))  # fmt: skip
    conn.close()
    store = await SqliteStore.open(path)
    try:
        assert (await store.get(SERVICE, "default", "old"))["metadata"]["uid"] == "u-old"
        new = await store.create(SERVICE, svc("new"))
        await store.delete(SERVICE, "default", "old")
        got = await take(store.watch((SERVICE,), since=0), 3)
        assert [(e.type, e.object["metadata"]["name"]) for e in got] == [
            ("ADDED", "old"),
            ("ADDED", "new"),
            ("DELETED", "old"),
        ]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, uid, rv FROM objects").fetchall()
        assert rows == [("new", new["metadata"]["uid"], 2)]
        assert conn.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone() == (3,)
    conn.close()
    store = await SqliteStore.open(path)
    try:
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE))[0]] == ["new"]
    finally:
        await store.close()


async def test_close_ends_live_watches(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db")
    events = store.watch((SERVICE,))
    pending = asyncio.ensure_future(anext(events))
    await store.create(SERVICE, svc("a"))
    assert (await pending).object["metadata"]["name"] == "a"
    waiting = asyncio.ensure_future(anext(events))
    await store.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(10):
            await waiting


async def test_file_is_wal_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = await SqliteStore.open(path)
    await store.create(SERVICE, svc("a"))
    await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    finally:
        conn.close()


async def test_memory_database_works() -> None:
    store = await SqliteStore.open(":memory:")
    try:
        await store.create(SERVICE, svc("a"))
        assert (await store.list(SERVICE))[1] == 1
    finally:
        await store.close()


WRITER = """
import asyncio, sys
from zeroserve.api.kinds import SERVICE
from zeroserve.store import SqliteStore

async def main():
    store = await SqliteStore.open(sys.argv[1])
    i = 0
    while True:
        made = await store.create(SERVICE, {"metadata": {"name": f"s{i}", "namespace": "default"}, "spec": {}})
        print(made["metadata"]["name"], flush=True)
        i += 1

asyncio.run(main())
"""


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    import signal
    import sys

    path = tmp_path / "state.db"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(path), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    acked: list[str] = []
    async with asyncio.timeout(60):
        while len(acked) < 20:
            acked.append((await proc.stdout.readline()).decode().strip())
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    store = await SqliteStore.open(path)
    try:
        items, rv = await store.list(SERVICE)
        names = {o["metadata"]["name"] for o in items}
        assert set(acked) <= names
        assert rv == len(names)
        got = await take(store.watch((SERVICE,), since=0), len(acked))
        assert [e.object["metadata"]["name"] for e in got] == acked
    finally:
        await store.close()


async def test_reads_follow_every_committed_write_and_no_failed_one(tmp_path: Path) -> None:
    """Reads are served from decoded rows kept in memory: they must match the table at all times."""
    store = await SqliteStore.open(tmp_path / "cache.db", clock=FakeClock())
    try:
        parent = await store.create(SERVICE, svc("a", labels={"team": "x"}))
        await store.list(SERVICE)  # load the rows of services
        await store.create(SERVICE, svc("b", labels={"team": "y"}))
        child = await store.create(CONFIGURATION, owned("Configuration", "a", parent))
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE, "default", "team=y"))[0]] == ["b"]
        stale = dict(parent, metadata={**parent["metadata"], "resourceVersion": "999999"})
        with pytest.raises(Conflict):  # rolled back: the rows in memory must not change
            await store.update(SERVICE, {**stale, "metadata": {**stale["metadata"], "labels": {"team": "y"}}})
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE, None, "team=y"))[0]] == ["b"]
        moved = await store.get(SERVICE, "default", "b")
        moved["metadata"]["labels"] = {"team": "x"}
        await store.update(SERVICE, moved)
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE, None, "team=x"))[0]] == ["a", "b"]
        got = await store.get(SERVICE, "default", "a")
        got["metadata"]["labels"]["team"] = "mutated by a caller"
        assert (await store.get(SERVICE, "default", "a"))["metadata"]["labels"] == {"team": "x"}
        await store.delete(SERVICE, "default", "a")
        assert [o["metadata"]["name"] for o in (await store.list(SERVICE))[0]] == ["b"]
        await store.delete(CONFIGURATION, "default", child["metadata"]["name"])
        assert (await store.list(CONFIGURATION))[0] == []
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "cache.db", clock=FakeClock())
    try:
        assert [o["metadata"]["name"] for o in (await reopened.list(SERVICE))[0]] == ["b"]
    finally:
        await reopened.close()


async def test_reads_do_not_queue_behind_the_sqlite_thread(store: SqliteStore) -> None:
    """Once a resource has been read, get and list answer from memory on the loop (the apiserver's
    watch cache), not behind whatever the SQLite thread is doing (a write's fsync): here it is held."""
    created = await store.create(SERVICE, svc("a", labels={"app": "x"}))
    await store.get(SERVICE, "default", "a")  # the first read loads the resource's rows
    release = threading.Event()
    held = asyncio.get_running_loop().run_in_executor(store._executor, release.wait)  # the SQLite thread, busy
    try:
        async with asyncio.timeout(10):
            assert await store.get(SERVICE, "default", "a") == created
            items, rv = await store.list(SERVICE, "default", "app=x")
            with pytest.raises(NotFound):
                await store.get(SERVICE, "default", "b")
    finally:
        release.set()
        await held
    assert items == [created]
    assert rv == int(created["metadata"]["resourceVersion"])


async def test_a_read_after_a_write_returns_sees_it(store: SqliteStore) -> None:
    created = await store.create(SERVICE, svc("a"))
    await store.list(SERVICE)
    for i in range(5):
        sent = {**created, "status": {"observedGeneration": i}}
        created = await store.update_status(SERVICE, sent)
        assert (await store.get(SERVICE, "default", "a"))["status"] == {"observedGeneration": i}
        items, rv = await store.list(SERVICE, "default")
        assert items == [created]
        assert rv == int(created["metadata"]["resourceVersion"])
    await store.delete(SERVICE, "default", "a")
    with pytest.raises(NotFound):
        await store.get(SERVICE, "default", "a")
    assert (await store.list(SERVICE))[0] == []


async def test_lists_by_label_follow_relabels_and_deletes(store: SqliteStore) -> None:
    """The label index moves with every write: a selected list is what a scan of every row would give."""
    cfg = "serving.knative.dev/configuration"
    for name, app in (("a", "x"), ("b", "y"), ("c", "x")):
        await store.create(SERVICE, svc(name, labels={cfg: app, "tier": name}))
    await store.create(SERVICE, svc("d", ns="prod", labels={cfg: "x"}))

    async def names(selector: str, ns: str | None = "default") -> list[str]:
        items, _ = await store.list(SERVICE, ns, selector)
        return [o["metadata"]["name"] for o in items]

    assert await names(f"{cfg}=x") == ["a", "c"]
    assert await names(f"{cfg}=x", None) == ["a", "c", "d"]
    assert await names(f"{cfg} in (x, y),tier!=c") == ["a", "b"]
    assert await names("tier=b") == ["b"], "a label not indexed is matched on every row"
    b = await store.get(SERVICE, "default", "b")
    await store.update(SERVICE, {**b, "metadata": {**b["metadata"], "labels": {cfg: "x"}}})
    assert await names(f"{cfg}=x") == ["a", "b", "c"]
    assert await names(f"{cfg}=y") == []
    assert await names("tier=b") == []
    await store.delete(SERVICE, "default", "a")
    assert await names(f"{cfg}=x") == ["b", "c"]
    assert await names(f"{cfg} notin (y)") == ["b", "c"]


class _Unmatchable(dict[str, str]):
    def __contains__(self, key: object) -> bool:
        raise AssertionError("a row without the selected label was examined")


def test_a_list_by_label_value_examines_only_the_rows_the_index_names() -> None:
    """Listing a Configuration's revisions must not walk every revision of the namespace (O(n) per
    reconcile, O(n^2) while n Services settle)."""
    packer = Packer()
    empty = packer.row({}, b"{}")
    rows = {("default", f"r{i}"): Row(_Unmatchable(), empty.data, empty.zdict) for i in range(50)}
    cfg = "serving.knative.dev/configuration"
    rows[("default", "mine")] = packer.row({cfg: "a"}, b'{"metadata": {"name": "mine"}}')
    index: LabelIndex = {(cfg, "a"): ("default", "mine")}
    found = _matching(SERVICE, rows, index, "default", selectors.parse(f"{cfg}=a"))
    assert found == [{"metadata": {"name": "mine"}}]


async def test_writes_that_arrive_during_a_commit_commit_together(store: SqliteStore) -> None:
    """Group commit: writes queued while the SQLite thread is busy run in one transaction (one fsync),
    each in its own savepoint: a later one reads what an earlier one wrote, a failing one fails alone,
    and every one is published in resourceVersion order."""
    base = await store.create(SERVICE, svc("base"))
    await store.list(SERVICE)  # read, as the controller reads every kind it writes: its rows are in memory
    events = store.watch((SERVICE,), since=int(base["metadata"]["resourceVersion"]))
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    release = threading.Event()
    held = asyncio.get_running_loop().run_in_executor(store._executor, release.wait)
    stale = {**base, "metadata": {**base["metadata"], "resourceVersion": "999"}}
    writes = [
        asyncio.ensure_future(store.create(SERVICE, svc("first"))),
        asyncio.ensure_future(store.create(SERVICE, svc("second"))),
        asyncio.ensure_future(store.update_status(SERVICE, {**svc("second"), "status": {"observedGeneration": 1}})),
        asyncio.ensure_future(store.update(SERVICE, stale)),
        *(asyncio.ensure_future(store.create(SERVICE, svc(f"s{i}"))) for i in range(20)),
        asyncio.ensure_future(store.delete(SERVICE, "default", "first")),
    ]
    await eventually(lambda: len(store._queued) == len(writes) - 1, 10)  # the first one's group waits on the thread
    release.set()
    await held
    results = await asyncio.gather(*writes, return_exceptions=True)
    store._conn.set_trace_callback(None)
    assert isinstance(results[3], Conflict)
    assert not any(isinstance(r, BaseException) for i, r in enumerate(results) if i != 3), results
    # a group is one statement, which logs its events (the trace repeats it for each run of the trigger
    # that writes their rows): the first write's group, then one for the 24 that queued behind it, whose
    # 23 events are all but the stale update's
    groups = list(dict.fromkeys(statements))
    assert len(groups) == 2, [group[:80] for group in groups]
    assert all(group.startswith("INSERT INTO events ") for group in groups)
    assert groups[1].count("'services.serving.knative.dev'") == 23
    assert (await store.get(SERVICE, "default", "second"))["status"] == {"observedGeneration": 1}
    with pytest.raises(NotFound):
        await store.get(SERVICE, "default", "first")
    seen = await take(events, 24)
    assert [e.resource_version for e in seen] == sorted(e.resource_version for e in seen)
    assert [(e.type, e.object["metadata"]["name"]) for e in seen[:3]] == [
        ("ADDED", "first"),
        ("ADDED", "second"),
        ("MODIFIED", "second"),
    ]
    assert (seen[-1].type, seen[-1].object["metadata"]["name"]) == ("DELETED", "first")
    await events.aclose()  # type: ignore[attr-defined]


async def test_creating_objects_of_a_kind_never_read_keeps_its_rows_out_of_memory(store: SqliteStore) -> None:
    """Events are written much and read little: their creates check existence without loading them all."""
    await store.create(ROUTE, {"metadata": {"name": "a", "namespace": "default"}, "spec": {}})
    with pytest.raises(AlreadyExists):
        await store.create(ROUTE, {"metadata": {"name": "a", "namespace": "default"}, "spec": {}})
    assert "routes.serving.knative.dev" not in store._cache
    assert [o["metadata"]["name"] for o in (await store.list(ROUTE))[0]] == ["a"]
    assert "routes.serving.knative.dev" in store._cache  # read once: kept from then on
