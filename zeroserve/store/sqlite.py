"""SqliteStore: the Store protocol on one SQLite file in WAL mode (our etcd).

Every SQLite call runs on one dedicated worker thread that owns the connection, so the event
loop never blocks and writes are serialized without locks. Each write is one transaction that
bumps the global resourceVersion counter, writes the object row(s) and appends the matching
event(s) to the ``events`` log; with ``synchronous=FULL`` a write is durable once acknowledged,
even if the process is killed right after.

Writes are committed in groups (etcd's batched backend commits, a database's group commit): while
one group's transaction commits (its fsync), the writes that arrive queue on the loop, and the next
group runs them all in one transaction: each write is checked and applied in memory, reading what
the ones before it wrote (one that fails leaves nothing and fails alone), and the group's events
then go to SQLite in one statement, whose trigger writes their objects' rows, the resourceVersion
and the log's compaction (the thread takes the GIL back after each statement, which waits for the
loop's switch interval while the loop is busy); no write returns before its group has committed.
Under load one fsync serves many writes; a lone write waits for no one.

After commit the worker thread hands the events to the loop (``call_soon_threadsafe``) and the
:class:`~zeroserve.store.watch.Broadcaster` fans them out. A watcher subscribes first, then
replays the log after its ``since``, then reads live events, skipping any rv it has already
seen: so there is no gap and no duplicate between the two parts, and a watcher that restarts
(even against a reopened file) misses nothing as long as the log still holds its ``since``.
The log keeps the newest ``compact_keep`` events; older ``since`` values get Gone (410).

Reads are served from memory on the event loop (kube-apiserver serves them from its watch cache):
once a resource's rows have been read (on the SQLite thread, the first time), ``get`` and ``list``
decode the committed rows the writer thread keeps current, without queueing behind writes and
their fsyncs. The writer updates them right after each commit, before the write returns and before
its events are published, so a read sees every write that has returned (read-your-writes); a list's
resourceVersion is read before its rows, so its rows hold every change up to it (perhaps newer ones,
which its watch then replays again).

Secrets are encrypted at rest (:mod:`zeroserve.store.encryption`): what the objects table and the
event log hold of a Secret is AES-GCM ciphertext bound to its resource/namespace/name, sealed on
the SQLite thread before the row is written and opened when it is read, so every reader (API,
controller, watch) sees plain objects and nothing plain reaches the file or its WAL. The key is
``secrets.key`` beside the database file (a ``:memory:`` store uses a key of its own).

Namespaces are kept as kube-apiserver's namespace storage keeps them: created ``Active``; a delete
while ``spec.finalizers`` is not empty marks the namespace (``deletionTimestamp``, phase
``Terminating``) and leaves it for the namespace controller, which deletes its content and then
removes the ``kubernetes`` finalizer; the namespace goes when both finalizer lists are empty.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from secrets import token_hex
from typing import Any, Final, TypeVar, cast

from zeroserve.api import jsoncodec, selectors
from zeroserve.api import labels as serving_labels
from zeroserve.api.base import Obj
from zeroserve.api.core import NAMESPACE_ACTIVE, NAMESPACE_TERMINATING
from zeroserve.api.kinds import EVENT, NAMESPACE, SECRET, Kind
from zeroserve.clock import Clock, SystemClock, rfc3339
from zeroserve.errors import AlreadyExists, Conflict, FieldError, Gone, Invalid, NotFound
from zeroserve.store.base import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    EventType,
    Preconditions,
    Propagation,
    WatchEvent,
)
from zeroserve.store.encryption import KEY_FILE, Keyring
from zeroserve.store.rows import RECENT_ROWS, LabelIndex, Packer, Recent, Row, index_move, indexed
from zeroserve.store.watch import Broadcaster, Change

T = TypeVar("T")
Changes = list[Change]
Objs = list[Obj]
Write = tuple[Callable[..., Obj], tuple[Any, ...]]
"""A write's transaction function and its arguments."""
Outcome = tuple[Obj | None, BaseException | None]
"""A write's result, or its error."""
Writes = list[Write]
Outcomes = list[Outcome]

REPLAY_BATCH: Final = 500
ROWS_PER_STATEMENT: Final = 500
"""Events logged by one statement of a group's commit (7 columns: far below SQLite's 32,766 variables)."""
_LOG: Final = "INSERT INTO events (rv, type, kind, ns, name, object, uid) VALUES {}"
IMMUTABLE_META: Final = (
    "uid",
    "creationTimestamp",
    "generation",
    "name",
    "namespace",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
POLICY_FINALIZERS: Final[dict[str, str | None]] = {
    "Background": None,
    "Foreground": FOREGROUND_FINALIZER,
    "Orphan": ORPHAN_FINALIZER,
}
NOT_SPEC: Final = frozenset({"apiVersion", "kind", "metadata", "status"})
ENCRYPTED: Final = frozenset({f"{SECRET.plural}.{SECRET.group}" if SECRET.group else SECRET.plural})
"""The resources whose rows are stored encrypted."""
UNCACHED: Final = frozenset({EVENT.plural})
"""The resources read from SQLite at each read instead of kept in memory: Events (six or so per
Service, a third of the rows' bytes, written often and read rarely: ``kubectl get events``, the
recorder's repeats and its sweep)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('rv', 0), ('horizon', 0), ('keep', 10000);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    uid TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (kind, ns, name)
);
DROP TABLE IF EXISTS owner_refs;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL,
    ns TEXT NOT NULL, name TEXT NOT NULL, object TEXT NOT NULL, uid TEXT NOT NULL DEFAULT ''
);
"""
_EVENTS_UID = "ALTER TABLE events ADD COLUMN uid TEXT NOT NULL DEFAULT ''"
"""A file made before events carried their object's uid gets the column (its older rows: empty)."""
_APPLY = """
CREATE TRIGGER IF NOT EXISTS events_apply AFTER INSERT ON events BEGIN
    DELETE FROM objects WHERE NEW.type = 'DELETED' AND kind = NEW.kind AND ns = NEW.ns AND name = NEW.name;
    INSERT OR REPLACE INTO objects (kind, ns, name, uid, rv, body)
        SELECT NEW.kind, NEW.ns, NEW.name, NEW.uid, NEW.rv, NEW.object WHERE NEW.type <> 'DELETED';
    UPDATE meta SET value = NEW.rv WHERE key = 'rv';
    UPDATE meta SET value = NEW.rv - (SELECT value FROM meta WHERE key = 'keep')
        WHERE key = 'horizon' AND value < NEW.rv - (SELECT value FROM meta WHERE key = 'keep');
    DELETE FROM events WHERE rv <= (SELECT value FROM meta WHERE key = 'horizon');
END;
"""
"""An event logged is its object's row written (or deleted), the resourceVersion set, and the log
compacted to the newest ``keep`` events, in SQLite: a group's commit is one statement (one step of
SQLite's, the GIL handed over once) where a statement per table and the compaction's took the GIL
back seven times or more, each a wait of up to the switch interval (5 ms) while the loop is busy."""

Rows = dict[tuple[str, str], Row]
INDEXED_LABELS: Final = frozenset({serving_labels.CONFIGURATION, serving_labels.ROUTE, serving_labels.SERVICE})
"""The labels the controller (and kn) select by: a Configuration's Revisions, a Route's Services, a
Service's objects. Only these are indexed (an entry per distinct value costs memory; most labels,
the serviceUID for one, are distinct per object); a selector on others matches every row."""


def resource(kind: Kind) -> str:
    """Kubernetes' name for a resource in messages and storage: ``services.serving.knative.dev``."""
    return f"{kind.plural}.{kind.group}" if kind.group else kind.plural


def _connect(path: str, keep: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(_SCHEMA)
    if "uid" not in {column[1] for column in conn.execute("PRAGMA table_info(events)")}:
        conn.execute(_EVENTS_UID)
    conn.executescript(_APPLY)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'keep'", (keep,))
    return conn


def _copy(obj: Obj) -> Obj:
    """A deep copy of a wire object, through JSON (several times faster than ``copy.deepcopy``; what
    the store keeps of it is its JSON anyway); its keys in their order."""
    return cast(Obj, jsoncodec.loads(jsoncodec.dumps(obj)))


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in NOT_SPEC}


class SqliteStore:
    """Use :meth:`open`; every public method may be called from the event loop only."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        compact_keep: int,
        rv: int,
        keyring: Keyring,
    ) -> None:
        self._conn = conn
        self._keyring = keyring
        self._executor = executor
        self._loop = loop
        self._clock = clock
        self._compact_keep = compact_keep
        self._published_rv = rv
        self._broadcaster = Broadcaster()
        self._closed = False
        self._cache: dict[str, dict[tuple[str, str], Row]] = {}
        """Per resource, the committed rows with their labels, deflated (:mod:`zeroserve.store.rows`):
        written on the SQLite thread only (after each commit), read there and on the loop (single dict
        operations and copies, atomic under the GIL)."""
        self._packers: dict[str, Packer] = {}
        """Per resource, what deflates its rows (SQLite thread)."""
        self._recent = Recent(RECENT_ROWS)
        self._labels: dict[str, LabelIndex] = {}
        """Per resource in ``_cache``, its rows by label (kept with them), so that a list by label
        (a Configuration's revisions, a Route's services) reads only the rows it selects."""
        self._committed_rv = rv
        """The resourceVersion of the newest commit whose rows are in ``_cache`` (set after them)."""
        self._pending: list[tuple[str, str, str, Row | None]] = []
        """Cache updates of the open write, applied when its group commits."""
        self._written: dict[tuple[str, str, str], Row | None] = {}
        """The rows the group in progress has written so far (None: deleted), read before ``_cache``."""
        self._events_sql: list[tuple[int, str, str, str, str, str, str]] = []
        """The event log rows of the group in progress (the objects table follows them: ``_APPLY``)."""
        self._rv = rv
        """The newest resourceVersion given out (SQLite thread; the table's once its group commits)."""
        self._queued: list[tuple[Write, asyncio.Future[Obj]]] = []
        """Writes waiting for the next group (loop side)."""
        self._idle = asyncio.Event()
        """Set while no group is being committed (loop side)."""
        self._idle.set()

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        compact_keep: int = 10000,
        keyring: Keyring | None = None,
    ) -> SqliteStore:
        """Open (or create) the store at ``path``; ``keyring`` encrypts Secrets (default: the
        ``secrets.key`` beside the file, created on first use; a key of its own for ``:memory:``)."""
        if compact_keep < 1:
            raise ValueError(f"compact_keep must be at least 1, was: {compact_keep}")
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zeroserve-sqlite")
        try:
            if keyring is None:
                memory = str(path) == ":memory:"
                key_file = Path(path).parent / KEY_FILE
                keyring = (
                    Keyring.ephemeral()
                    if memory
                    else await loop.run_in_executor(executor, Keyring.load_or_create, key_file)
                )
            conn = await loop.run_in_executor(executor, _connect, str(path), compact_keep)
            rv = await loop.run_in_executor(executor, _meta, conn, "rv")
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, loop, clock or SystemClock(), compact_keep, rv, keyring)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._loop.run_in_executor(self._executor, fn, *args)

    # ---- reads -------------------------------------------------------------------------------

    async def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        ns = namespace if kind.namespaced else ""
        rows = self._cache.get(resource(kind))
        if rows is None:  # not read yet: the SQLite thread loads the resource's rows
            return await self._run(self._get_sync, kind, ns, name)
        return _decoded(kind, rows.get((ns, name)), name)

    async def list(
        self, kind: Kind, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[Objs, int]:
        selector = selectors.parse(label_selector)
        rows = self._cache.get(resource(kind))
        if rows is None:
            return await self._run(self._list_sync, kind, namespace, selector)
        rv = self._committed_rv  # before the rows: they hold every change up to it
        return _matching(kind, rows, self._labels[resource(kind)], namespace, selector), rv

    async def resource_version(self) -> int:
        """The store's current resourceVersion (the rv of the newest committed change), as kept in
        memory: no query on the SQLite thread (``up`` reads it every second: zeroserve.cli.heap)."""
        return self._committed_rv

    # ---- writes ------------------------------------------------------------------------------

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        return await self._submit(self._create_tx, kind, _copy(obj))

    async def update(self, kind: Kind, obj: Obj) -> Obj:
        return await self._submit(self._update_tx, kind, _copy(obj), False)

    async def update_status(self, kind: Kind, obj: Obj) -> Obj:
        return await self._submit(self._update_tx, kind, _copy(obj), True)

    async def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        propagation: Propagation | None = None,
        preconditions: Preconditions | None = None,
    ) -> Obj:
        ns = namespace if kind.namespaced else ""
        return await self._submit(self._delete_tx, kind, ns, name, propagation, preconditions)

    async def _submit(self, tx: Callable[..., Obj], *args: Any) -> Obj:
        """Queue a write for the next group and wait until that group has committed."""
        if self._closed:
            raise RuntimeError("the store is closed")
        done: asyncio.Future[Obj] = self._loop.create_future()
        self._queued.append(((tx, args), done))
        if self._idle.is_set():
            self._next_group()
        return await done

    def _next_group(self) -> None:
        group, self._queued = self._queued, []
        self._idle.clear()
        job = self._loop.run_in_executor(self._executor, self._write_group, [write for write, _ in group])

        def committed(job: asyncio.Future[Outcomes]) -> None:
            error = job.exception()
            outcomes: Outcomes = [(None, error)] * len(group) if error is not None else job.result()
            for (_, done), (result, failed) in zip(group, outcomes, strict=True):
                if done.cancelled():
                    continue
                if failed is not None:
                    done.set_exception(failed)
                else:
                    done.set_result(cast(Obj, result))
            if self._queued:
                self._next_group()
            else:
                self._idle.set()

        job.add_done_callback(committed)

    # ---- watch -------------------------------------------------------------------------------

    def watch(
        self, kinds: tuple[Kind, ...], since: int | None = None, namespace: str | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``since``; ``None`` means after the last change published when called."""
        return self._watch(kinds, self._published_rv if since is None else since, namespace)

    async def _watch(self, kinds: tuple[Kind, ...], since: int, namespace: str | None) -> AsyncIterator[WatchEvent]:
        by_key = {resource(k): k for k in kinds}
        sub = self._broadcaster.subscribe(by_key, namespace)
        try:
            last = since
            while True:
                batch = await self._run(self._replay_sync, tuple(by_key), namespace, last)
                for change in batch:
                    last = change.rv
                    yield _event(change, by_key)
                if len(batch) < REPLAY_BATCH:
                    break
            while (live := await sub.get()) is not None:
                if live.rv > last:
                    last = live.rv
                    yield _event(live, by_key)
        finally:
            self._broadcaster.unsubscribe(sub)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while not self._idle.is_set():  # the writes already queued commit first
            await self._idle.wait()
        self._broadcaster.close()
        await self._run(self._conn.close)
        self._executor.shutdown(wait=True)

    # ---- worker-thread side: everything below runs on the single SQLite thread --------------

    def _resource(self, key: str) -> tuple[Rows, LabelIndex]:
        """The committed objects of one resource and their label index, decoded once and kept (reads
        skip SQL and most JSON); an :data:`UNCACHED` resource's are read again each time."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached, self._labels[key]
        rows, index = self._load(key)
        if key not in UNCACHED:
            self._labels[key] = index  # before the rows: a reader that finds them finds it
            self._cache[key] = rows
        return rows, index

    def _load(self, key: str) -> tuple[Rows, LabelIndex]:
        rows: Rows = {}
        index: LabelIndex = {}
        packer = self._packer(key)
        for ns, name, stored in self._conn.execute("SELECT ns, name, body FROM objects WHERE kind=?", (key,)):
            body = self._open_row(key, ns, name, stored).encode()
            labels = jsoncodec.loads(body).get("metadata", {}).get("labels") or {}
            row_key = (sys.intern(ns), sys.intern(name))
            rows[row_key] = row = packer.row(labels, body)
            index_move(index, row_key, None, row.labels, INDEXED_LABELS)
        return rows, index

    def _packer(self, key: str) -> Packer:
        packer = self._packers.get(key)
        if packer is None:
            packer = self._packers[key] = Packer(self._recent)
        return packer

    def _get_sync(self, kind: Kind, ns: str, name: str) -> Obj:
        key = resource(kind)
        if (key, ns, name) in self._written:  # written earlier in this group, not committed yet
            return _decoded(kind, self._written[(key, ns, name)], name)
        if key in UNCACHED:
            sql = "SELECT body FROM objects WHERE kind=? AND ns=? AND name=?"
            found = self._conn.execute(sql, (key, ns, name)).fetchone()
            if found is None:
                raise NotFound(f'{resource(kind)} "{name}" not found')
            return cast(Obj, jsoncodec.loads(self._open_row(key, ns, name, found[0])))
        return _decoded(kind, self._resource(key)[0].get((ns, name)), name)

    def _list_sync(self, kind: Kind, ns: str | None, selector: selectors.Selector) -> tuple[Objs, int]:
        rows, index = self._resource(resource(kind))
        return _matching(kind, rows, index, ns, selector), _meta(self._conn, "rv")

    def _replay_sync(self, keys: tuple[str, ...], ns: str | None, since: int) -> Changes:
        horizon = _meta(self._conn, "horizon")
        if since < horizon:
            raise Gone(f"too old resource version: {since} ({horizon})")
        marks = ",".join("?" * len(keys))
        sql = f"SELECT rv, type, kind, ns, name, object FROM events WHERE rv > ? AND kind IN ({marks})"
        args: list[object] = [since, *keys]
        if ns is not None:
            sql += " AND ns = ?"
            args.append(ns)
        rows = self._conn.execute(sql + " ORDER BY rv LIMIT ?", (*args, REPLAY_BATCH)).fetchall()
        return [
            Change(rv, cast(EventType, t), k, n, name, self._open_row(k, n, name, body))
            for rv, t, k, n, name, body in rows
        ]

    def _seal_row(self, key: str, ns: str, name: str, body: str) -> str:
        """What the database holds of a row: ``body`` itself, or its ciphertext for a Secret."""
        if key not in ENCRYPTED:
            return body
        return self._keyring.encrypt(body.encode(), _aad(key, ns, name))

    def _open_row(self, key: str, ns: str, name: str, stored: str) -> str:
        if key not in ENCRYPTED:
            return stored
        return self._keyring.decrypt(stored, _aad(key, ns, name)).decode()

    def _write_group(self, group: Writes) -> Outcomes:
        """Apply each ``tx`` of ``group`` in memory, write what they changed in one IMMEDIATE
        transaction, commit it, then update the rows and publish the events on the loop: each
        write's result or its error."""
        outcomes: Outcomes = []
        changes: Changes = []
        pending: list[tuple[str, str, str, Row | None]] = []
        first_rv = self._rv
        try:
            for tx, args in group:
                mine: Changes = []
                self._pending, events_before, rv_before = [], len(self._events_sql), self._rv
                try:
                    result = tx(mine, *args)
                except Exception as err:  # it leaves nothing: what it recorded is dropped
                    self._rv = rv_before
                    del self._events_sql[events_before:]
                    outcomes.append((None, err))
                    continue
                outcomes.append((result, None))
                changes.extend(mine)
                pending.extend(self._pending)
                for key, ns, name, row in self._pending:
                    self._written[(key, ns, name)] = row
            if changes:
                self._commit()
        except BaseException:
            self._rv = first_rv
            raise
        finally:
            self._pending = []
            self._written = {}
            self._events_sql = []
        for key, ns, name, row in pending:
            rows = self._cache.get(key)
            if rows is None:
                continue  # not read yet: loaded from the table when first needed
            old = rows.get((ns, name))
            if row is None:
                rows.pop((ns, name), None)
            else:
                rows[(ns, name)] = row
            index_move(self._labels[key], (ns, name), old.labels if old else None, row.labels if row else None,
                       INDEXED_LABELS)  # fmt: skip
        if changes:
            self._committed_rv = changes[-1].rv
            self._loop.call_soon_threadsafe(self._publish, changes)
        return outcomes

    def _publish(self, changes: Changes) -> None:
        self._published_rv = max(self._published_rv, changes[-1].rv)
        self._broadcaster.publish(changes)

    def _commit(self) -> None:
        """Log the group's events, which writes their rows, the resourceVersion and the compaction
        (``_APPLY``): one statement, or :data:`ROWS_PER_STATEMENT` events a statement in one
        transaction when there are more."""
        if len(self._events_sql) <= ROWS_PER_STATEMENT:
            _many(self._conn, _LOG, self._events_sql)  # autocommit: one statement is its transaction
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            _many(self._conn, _LOG, self._events_sql)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _record(self, changes: Changes, type_: EventType, key: str, obj: Obj) -> None:
        """Give ``obj`` the next resourceVersion, store (or drop) its row and log the event."""
        self._rv = rv = self._rv + 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        ns, name = sys.intern(meta.get("namespace", "")), sys.intern(meta["name"])
        raw = jsoncodec.dumps(obj, sort_keys=True)
        body = raw.decode()
        cached = None if type_ == "DELETED" else self._packer(key).row(meta.get("labels") or {}, raw)
        self._pending.append((key, ns, name, cached))
        stored = self._seal_row(key, ns, name, body)
        self._events_sql.append((rv, type_, key, ns, name, stored, meta["uid"]))
        changes.append(Change(rv, type_, key, ns, name, body))

    def _identity(self, kind: Kind, obj: Obj) -> tuple[Obj, str, str]:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        ns = (meta.get("namespace") or "default") if kind.namespaced else ""
        name = meta.get("name") or ""
        if not isinstance(name, str) or not isinstance(ns, str):
            raise Invalid([FieldError("expected a string", ("metadata.name",))], kind.kind, str(name))
        return meta, ns, name

    def _create_tx(self, changes: Changes, kind: Kind, obj: Obj) -> Obj:
        meta, ns, name = self._identity(kind, obj)
        if not name:
            if not meta.get("generateName"):
                raise Invalid([FieldError("name or generateName is required", ("metadata.name",))], kind.kind)
            name = f"{meta['generateName']}{token_hex(3)[:5]}"
        if self._exists(kind, ns, name):
            raise AlreadyExists(f'{resource(kind)} "{name}" already exists')
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta.update(name=name, uid=str(uuid.uuid4()), generation=1, creationTimestamp=rfc3339(self._clock.wall()))
        if kind.namespaced:
            meta["namespace"] = ns
        obj.pop("status", None)
        if kind is NAMESPACE:  # the namespace strategy's PrepareForCreate
            obj["status"] = {"phase": NAMESPACE_ACTIVE}
        obj.update(apiVersion=kind.api_version, kind=kind.kind)
        self._record(changes, "ADDED", resource(kind), obj)
        return obj

    def _update_tx(self, changes: Changes, kind: Kind, obj: Obj, status_only: bool) -> Obj:
        meta, ns, name = self._identity(kind, obj)
        current = self._get_sync(kind, ns, name)
        want = meta.get("resourceVersion")
        if want and str(want) != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {resource(kind)} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
        if status_only:  # current is this write's own decode: new shares all but what it sets
            new = {**current, "metadata": dict(current["metadata"])}
        else:
            new = {k: v for k, v in obj.items() if k != "status"}
        source = obj if status_only else current
        if "status" in source:
            new["status"] = source["status"]
        else:
            new.pop("status", None)
        if status_only and "managedFields" in meta:  # who wrote the status: the one metadata it sets
            new["metadata"]["managedFields"] = meta["managedFields"]
        if not status_only:
            for field in IMMUTABLE_META:
                if field in current["metadata"]:
                    new["metadata"][field] = current["metadata"][field]
                else:
                    new["metadata"].pop(field, None)
            if _spec_of(new) != _spec_of(current):
                new["metadata"]["generation"] = int(current["metadata"].get("generation", 0)) + 1
        new.update(apiVersion=kind.api_version, kind=kind.kind)
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return current
        if current["metadata"].get("deletionTimestamp"):
            _check_no_new_finalizers(kind, name, current, new)
            if not new["metadata"].get("finalizers") and not _spec_finalizers(kind, new):
                self._record(changes, "DELETED", resource(kind), new)  # the last finalizer is gone: so is it
                return new
        self._record(changes, "MODIFIED", resource(kind), new)
        return new

    def _delete_tx(
        self,
        changes: Changes,
        kind: Kind,
        ns: str,
        name: str,
        propagation: Propagation | None,
        preconditions: Preconditions | None,
    ) -> Obj:
        """Delete now, or (finalizers left) set ``deletionTimestamp``: the API server's part of a delete.

        Dependents are not touched here: the garbage collector follows ownerReferences, as Kubernetes'."""
        obj = self._get_sync(kind, ns, name)
        meta = obj["metadata"]
        _check_preconditions(kind, name, meta, preconditions)
        finalizers = list(meta.get("finalizers") or [])
        if propagation is not None:  # a policy replaces the deletion finalizers an earlier one set
            finalizers = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
            wanted = POLICY_FINALIZERS[propagation]
            if wanted is not None:
                finalizers.append(wanted)
        if not finalizers and not _spec_finalizers(kind, obj):
            self._record(changes, "DELETED", resource(kind), obj)
            return obj
        if finalizers == (meta.get("finalizers") or []) and meta.get("deletionTimestamp"):
            return obj  # already being deleted this way
        if finalizers:
            meta["finalizers"] = finalizers
        meta.setdefault("deletionTimestamp", rfc3339(self._clock.wall()))
        meta.setdefault("deletionGracePeriodSeconds", 0)
        if kind is NAMESPACE:
            obj.setdefault("status", {})["phase"] = NAMESPACE_TERMINATING
        self._record(changes, "MODIFIED", resource(kind), obj)
        return obj

    def _exists(self, kind: Kind, ns: str, name: str) -> bool:
        """Whether the object is there, the group's writes so far included (a create does not load a
        resource's rows: Events are written much and read little)."""
        key = resource(kind)
        if (key, ns, name) in self._written:
            return self._written[(key, ns, name)] is not None
        rows = self._cache.get(key)
        if rows is not None:
            return (ns, name) in rows
        sql = "SELECT 1 FROM objects WHERE kind=? AND ns=? AND name=?"
        return self._conn.execute(sql, (key, ns, name)).fetchone() is not None


def _many(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run ``sql`` with its ``{}`` as the placeholders of ``rows``, :data:`ROWS_PER_STATEMENT` at a time
    (one statement, one step: ``executemany`` steps, and hands the GIL over, once per row)."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        one = "(" + ",".join("?" * len(chunk[0])) + ")"
        conn.execute(sql.format(",".join([one] * len(chunk))), [v for row in chunk for v in row])


def _check_preconditions(kind: Kind, name: str, meta: Obj, pre: Preconditions | None) -> None:
    if pre is None:
        return
    if pre.uid is not None and pre.uid != meta.get("uid"):
        raise Conflict(
            f'Operation cannot be fulfilled on {resource(kind)} "{name}": Precondition failed: '
            f"UID in precondition: {pre.uid}, UID in object meta: {meta.get('uid')}"
        )
    if pre.resource_version is not None and pre.resource_version != meta.get("resourceVersion"):
        raise Conflict(
            f'Operation cannot be fulfilled on {resource(kind)} "{name}": Precondition failed: '
            f"ResourceVersion in precondition: {pre.resource_version}, "
            f"ResourceVersion in object meta: {meta.get('resourceVersion')}"
        )


def _check_no_new_finalizers(kind: Kind, name: str, current: Obj, new: Obj) -> None:
    """Kubernetes: no finalizer may be added to an object that is being deleted."""
    had = set(current["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in had]
    if added:
        raise Invalid(
            [
                FieldError(
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {added}",
                    ("metadata.finalizers",),
                )
            ],
            kind.kind,
            name,
        )


def _spec_finalizers(kind: Kind, obj: Obj) -> list[str]:
    """A Namespace's ``spec.finalizers`` (what its content's deletion waits on); none for other kinds."""
    if kind is not NAMESPACE:
        return []
    spec = obj.get("spec")
    return list(spec.get("finalizers") or []) if isinstance(spec, dict) else []


def _decoded(kind: Kind, row: Row | None, name: str) -> Obj:
    if row is None:
        raise NotFound(f'{resource(kind)} "{name}" not found')
    return cast(Obj, jsoncodec.loads(row.body()))


def _matching(kind: Kind, rows: Rows, index: LabelIndex, ns: str | None, selector: selectors.Selector) -> Objs:
    """The rows of namespace ``ns`` (every one: None, or a cluster-scoped kind) that ``selector``
    matches, decoded, by (namespace, name). A selector that requires a label value reads only the
    rows the index has for it. Runs on the loop while the SQLite thread updates ``rows`` and
    ``index``: it reads them by single lookups and whole copies only (atomic under the GIL), and
    matches each row's own labels (the index may be a commit newer or older than a row)."""
    every_ns = ns is None or not kind.namespaced
    by_value = next((r for r in selector.requirements if r.op in ("=", "in") and r.key in INDEXED_LABELS), None)
    candidates: Iterable[tuple[tuple[str, str], Row]]
    if by_value is None:
        candidates = rows.copy().items()
    else:
        keys: set[tuple[str, str]] = set()
        for value in by_value.values:
            keys |= indexed(index, (by_value.key, value))
        candidates = [(k, row) for k in keys if (row := rows.get(k)) is not None]
    matches = sorted(
        ((key, row) for key, row in candidates
         if (every_ns or key[0] == ns) and (not selector or selector.matches(row.labels))),
        key=lambda match: match[0],
    )  # fmt: skip
    return [cast(Obj, jsoncodec.loads(row.body())) for _, row in matches]


def _aad(key: str, ns: str, name: str) -> bytes:
    """The associated data of a sealed row: its resource, namespace and name."""
    return f"{key}/{ns}/{name}".encode()


def _meta(conn: sqlite3.Connection, key: str) -> int:
    return cast(int, conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])


def _event(change: Change, by_key: dict[str, Kind]) -> WatchEvent:
    return WatchEvent(change.type, by_key[change.kind_key], jsoncodec.loads(change.body), change.rv)
