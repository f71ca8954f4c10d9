"""The store's in-memory rows (zeroserve.store.rows): deflated against a resource's dictionary, exact
on the way back; labels interned; the label index's single rows and sets."""

from __future__ import annotations

import json
import sys
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from zeroserve.api import jsoncodec
from zeroserve.api.kinds import REVISION
from zeroserve.clock import FakeClock
from zeroserve.store import rows as store_rows
from zeroserve.store.rows import REPICK_MIN, LabelIndex, Packer, Recent, index_move, indexed
from zeroserve.store.sqlite import SqliteStore

CFG = "serving.knative.dev/configuration"
SVC = "serving.knative.dev/service"
INDEXED = frozenset({CFG, SVC})


def revision(name: str, *, status: bool = True) -> bytes:
    obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {CFG: name[:-6], SVC: name[:-6]},
            "managedFields": [{"manager": "controller", "fieldsV1": {"f:spec": {".": {}, "f:containers": {}}}}],
        },
        "spec": {"containers": [{"image": "ko://hello", "name": "user-container"}], "timeoutSeconds": 300},
    }
    if status:
        obj["status"] = {"conditions": [{"status": "True", "type": t} for t in ("Active", "Ready")]}
    return jsoncodec.dumps(obj, sort_keys=True)


def test_a_row_gives_back_its_exact_json_and_is_far_smaller_than_it() -> None:
    packer = Packer()
    bodies = [revision(f"svc-{i:05d}-00001") for i in range(20)]
    rows = [packer.row(json.loads(b)["metadata"]["labels"], b) for b in bodies]
    assert [row.body() for row in rows] == bodies
    assert all(len(row.data) * 5 < len(body) for row, body in zip(rows[1:], bodies[1:], strict=True))
    assert all(row.zdict is rows[0].zdict for row in rows), "alike rows share the first one's dictionary"


def test_an_unlike_row_becomes_the_dictionary_of_the_rows_after_it_and_older_rows_still_read() -> None:
    packer = Packer()
    first = packer.row({}, b'{"a":1}')
    unlike = bytes(range(256)) * (REPICK_MIN // 256 + 1)
    second = packer.row({}, unlike)
    third = packer.row({}, unlike[:-1])
    assert second.zdict == unlike and third.zdict is second.zdict
    assert len(third.data) < 32
    assert (first.body(), second.body(), third.body()) == (b'{"a":1}', unlike, unlike[:-1])


def test_labels_are_copied_and_interned() -> None:
    name = "".join(["svc-", "00042"])  # built at run time: not the interned constant
    labels = {SVC: name}
    row = Packer().row(labels, b"{}")
    assert row.labels == labels and row.labels is not labels
    assert row.labels[SVC] is sys.intern("svc-00042")


def test_the_index_holds_one_row_alone_and_a_set_for_more() -> None:
    index: LabelIndex = {}
    a, b = ("default", "a"), ("default", "b")
    index_move(index, a, None, {CFG: "x", "other": "y"}, INDEXED)
    assert index == {(CFG, "x"): a}
    index_move(index, b, None, {CFG: "x"}, INDEXED)
    assert index == {(CFG, "x"): frozenset({a, b})}
    assert indexed(index, (CFG, "x")) == {a, b}
    index_move(index, a, {CFG: "x", "other": "y"}, {CFG: "z"}, INDEXED)
    assert index == {(CFG, "x"): b, (CFG, "z"): a}
    index_move(index, b, {CFG: "x"}, {CFG: "x"}, INDEXED)
    assert index == {(CFG, "x"): b, (CFG, "z"): a}
    index_move(index, b, {CFG: "x"}, None, INDEXED)
    index_move(index, a, {CFG: "z"}, None, INDEXED)
    assert index == {} and indexed(index, (CFG, "x")) == set()


def test_a_set_in_the_index_is_replaced_not_changed_in_place() -> None:
    """The loop reads the index while the SQLite thread moves rows: a set it took stays as it was."""
    index: LabelIndex = {}
    rows = [("default", f"r{i}") for i in range(3)]
    for row in rows:
        index_move(index, row, None, {SVC: "s"}, INDEXED)
    taken = index[(SVC, "s")]
    index_move(index, rows[0], {SVC: "s"}, None, INDEXED)
    index_move(index, ("default", "r9"), None, {SVC: "s"}, INDEXED)
    assert taken == frozenset(rows)
    assert index[(SVC, "s")] == frozenset({rows[1], rows[2], ("default", "r9")})


async def test_the_store_reads_back_what_it_wrote_exactly_and_so_does_a_reopened_one(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "state.db", clock=FakeClock())
    try:
        await store.list(REVISION)  # read once: its rows are kept in memory from here on
        written = []
        for i in range(5):
            obj = json.loads(revision(f"svc-{i:05d}-00001", status=False))
            written.append(await store.create(REVISION, obj))
        status = json.loads(revision("x-00001"))["status"]
        written[2] = await store.update_status(REVISION, {**written[2], "status": status})
        assert written[2]["status"] == status
        listed, _ = await store.list(REVISION, "default", f"{CFG}=svc-00002")
        assert listed == [written[2]]
        assert [await store.get(REVISION, "default", o["metadata"]["name"]) for o in written] == written
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "state.db", clock=FakeClock())
    try:
        listed, _ = await reopened.list(REVISION)
        assert [jsoncodec.dumps(o, sort_keys=True) for o in listed] == [
            jsoncodec.dumps(o, sort_keys=True) for o in written
        ]
    finally:
        await reopened.close()


def test_libz_through_ctypes_deflates_and_inflates_as_the_zlib_module_does() -> None:
    body, zdict = revision("svc-00001-00001"), revision("svc-00000-00001")
    ctypes_z, module_z = store_rows._libz(), store_rows._ZlibModule()
    assert isinstance(ctypes_z, store_rows._LibZ), "libz.so.1 loads here"
    assert ctypes_z.deflate(body, zdict) == module_z.deflate(body, zdict)
    row = len(body).to_bytes(4, "little") + ctypes_z.deflate(body, zdict)
    assert module_z.inflate(row, zdict, len(body)) == body
    other = len(zdict).to_bytes(4, "little") + ctypes_z.deflate(zdict, body)
    for _ in range(3):  # one stream, reset for each row, whatever dictionary came before
        assert ctypes_z.inflate(row, zdict, len(body)) == body
        assert ctypes_z.inflate(other, body, len(zdict)) == zdict
    with pytest.raises(ValueError, match="does not inflate to its length"):
        ctypes_z.inflate(row, zdict, len(body) - 1)
    with pytest.raises(ValueError, match="does not inflate to its length"):
        ctypes_z.inflate(row[:-8], zdict, len(body))  # cut short
    assert ctypes_z.inflate(row, zdict, len(body)) == body  # and the stream still inflates after


def test_each_thread_inflates_with_a_stream_of_its_own() -> None:
    body, zdict = revision("svc-00001-00001"), revision("svc-00000-00001")
    libz = store_rows._libz()
    assert isinstance(libz, store_rows._LibZ)
    row = len(body).to_bytes(4, "little") + libz.deflate(body, zdict)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: all(libz.inflate(row, zdict, len(body)) == body for _ in range(200)), range(8))
        )
    assert results == [True] * 8


def test_the_rows_made_last_keep_their_json_and_older_ones_inflate_it() -> None:
    recent = Recent(2)
    packer = Packer(recent)
    bodies = [revision(f"svc-{i:05d}-00001") for i in range(3)]
    made = [packer.row({}, b) for b in bodies]
    assert [row.raw for row in made] == [None, bodies[1], bodies[2]]
    assert [row.body() for row in made] == bodies
    assert Packer().row({}, bodies[0]).raw is None, "a packer without a Recent keeps none"


def test_what_a_row_keeps_of_its_json_is_in_a_block_of_its_own_size() -> None:
    tracemalloc.start()
    try:
        body = revision("svc-00000-00001")  # orjson's output: its block is the buffer it grew (~4 KB)
        size = len(body)
        row = Packer(Recent(1)).row({}, body)
        del body
        held = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, jsoncodec.__file__)])
        kept = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, store_rows.__file__)])
    finally:
        tracemalloc.stop()
    assert row.raw is not None and len(row.raw) == size and row.zdict is row.raw, "kept whole, and the dictionary"
    grown = sum(stat.size for stat in held.statistics("filename"))
    assert grown == 0, f"orjson's {grown}-byte buffer is still held"
    blocks = sum(stat.size for stat in kept.statistics("filename"))
    assert blocks < 2 * size, f"{blocks} bytes held for {size} bytes of JSON"
