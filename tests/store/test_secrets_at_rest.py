"""Secrets at rest: nothing of a Secret's value, plain or base64, in any file of the data dir."""

from __future__ import annotations

import base64
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, SECRET
from zeroserve.store import SqliteStore
from zeroserve.store.encryption import KEY_FILE, PREFIX, Keyring, KeyringError

VALUE = b"s3cret-value-9f2"
B64 = base64.b64encode(VALUE)
LABEL = "team-blue-label"


def secret(name: str = "db", value: bytes = VALUE) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": LABEL}},
        "type": "Opaque",
        "data": {"password": base64.b64encode(value).decode()},
    }


def every_file(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "zeroserve.db")
    yield s
    await s.close()


async def test_no_value_in_any_file_before_and_after_a_checkpoint(store: SqliteStore, tmp_path: Path) -> None:
    created = await store.create(SECRET, secret())
    updated = await store.update(SECRET, {**created, "data": {"password": base64.b64encode(b"n3w-" + VALUE).decode()}})
    await store.create(CONFIGMAP, {"metadata": {"name": "plain", "namespace": "default"}, "data": {"k": "visible"}})
    raw = every_file(tmp_path)
    assert b"visible" in raw, "the test reads what the store wrote (ConfigMaps are not encrypted)"
    for needle in (VALUE, B64, base64.b64encode(b"n3w-" + VALUE), LABEL.encode()):
        assert needle not in raw
    checkpoint(tmp_path / "zeroserve.db")
    raw = every_file(tmp_path)
    assert b"visible" in raw
    for needle in (VALUE, B64, base64.b64encode(b"n3w-" + VALUE), LABEL.encode()):
        assert needle not in raw
    await store.delete(SECRET, "default", "db")
    checkpoint(tmp_path / "zeroserve.db")
    assert VALUE not in every_file(tmp_path) and B64 not in every_file(tmp_path)
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]


async def test_readers_see_plain_objects(store: SqliteStore) -> None:
    since = await store.resource_version()
    created = await store.create(SECRET, secret())
    assert await store.get(SECRET, "default", "db") == created
    items, _ = await store.list(SECRET, "default", f"team={LABEL}")
    assert [i["data"] for i in items] == [created["data"]], "label selectors work on encrypted rows"
    assert (await store.list(SECRET, "default", "team=other"))[0] == []
    events = store.watch((SECRET,), since)
    event = await anext(events)
    assert (event.type, event.object) == ("ADDED", created), "the event log replays plain objects"
    await events.aclose()  # type: ignore[attr-defined]


async def test_rows_are_sealed_and_bound_to_their_name(store: SqliteStore, tmp_path: Path) -> None:
    await store.create(SECRET, secret("a", b"value-of-a"))
    await store.create(SECRET, secret("b", b"value-of-b"))
    await store.close()
    conn = sqlite3.connect(tmp_path / "zeroserve.db")
    try:
        rows = dict(conn.execute("SELECT name, body FROM objects WHERE kind = 'secrets'").fetchall())
        assert all(body.startswith(PREFIX) for body in rows.values())
        events = conn.execute("SELECT object FROM events WHERE kind = 'secrets'").fetchall()
        assert events and all(body.startswith(PREFIX) for (body,) in events)
        conn.execute("UPDATE objects SET body = ? WHERE kind = 'secrets' AND name = 'a'", (rows["b"],))
        conn.commit()
    finally:
        conn.close()
    reopened = await SqliteStore.open(tmp_path / "zeroserve.db")
    try:
        with pytest.raises(KeyringError, match="does not decrypt"):
            await reopened.get(SECRET, "default", "a")
    finally:
        await reopened.close()


async def test_the_key_file_is_made_once_0600_and_kept(tmp_path: Path) -> None:
    first = await SqliteStore.open(tmp_path / "zeroserve.db")
    await first.create(SECRET, secret())
    await first.close()
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_text()
    again = await SqliteStore.open(tmp_path / "zeroserve.db")
    try:
        assert (await again.get(SECRET, "default", "db"))["data"] == secret()["data"]
    finally:
        await again.close()
    assert key_file.read_text() == content, "the key is reused, not replaced"

    key_file.chmod(0o644)
    Keyring.load_or_create(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "a key readable by others is made private"


async def test_another_key_cannot_read_and_a_second_key_can_rotate(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "zeroserve.db")
    await store.create(SECRET, secret())
    await store.close()
    key_file = tmp_path / KEY_FILE
    old_line = key_file.read_text()
    key_file.write_text(f"knew {base64.b64encode(bytes(32)).decode()}\n")
    store = await SqliteStore.open(tmp_path / "zeroserve.db")
    try:
        with pytest.raises(KeyringError, match="which the keyring does not hold"):
            await store.get(SECRET, "default", "db")
    finally:
        await store.close()
    key_file.write_text(f"knew {base64.b64encode(bytes(32)).decode()}\n{old_line}")  # a new primary key first
    store = await SqliteStore.open(tmp_path / "zeroserve.db")
    try:
        old = await store.get(SECRET, "default", "db")
        await store.update(SECRET, {**old, "metadata": {**old["metadata"], "labels": {"rotated": "yes"}}})
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / "zeroserve.db")
    try:
        (body,) = conn.execute("SELECT body FROM objects WHERE kind = 'secrets'").fetchone()
    finally:
        conn.close()
    assert body.startswith(PREFIX + "knew:"), "writes use the first key"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("knew notbase64!\n", "expected 'ID BASE64KEY'"),
        ("one-field\n", "expected 'ID BASE64KEY'"),
        (f"k {base64.b64encode(bytes(16)).decode()}\n", "256-bit key"),
        ("# only a comment\n", "at least one key"),
    ],
)
def test_a_bad_key_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=message):
        Keyring.load_or_create(path)


async def test_a_memory_store_encrypts_with_a_key_of_its_own() -> None:
    store = await SqliteStore.open(":memory:")
    try:
        created = await store.create(SECRET, secret())
        assert await store.get(SECRET, "default", "db") == created
    finally:
        await store.close()
