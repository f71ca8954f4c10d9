"""The rows :class:`~zeroserve.store.sqlite.SqliteStore` keeps in memory, kept small.

A Service makes six objects whose JSON is ~17 KB in all, and most of it is the same from one object
of a kind to the next: managedFields, the label and annotation keys, the conditions. Each row is
kept as raw deflate against a dictionary, the body of an earlier row of its resource (~200 bytes
where the JSON is ~2,500; inflating it costs less than decoding it). A resource's first row is its
dictionary; a row that shrinks to more than an eighth of itself (the dictionary is unlike it) becomes
the dictionary of the rows written after it. Each row holds the dictionary it was deflated with, so a
new one changes nothing for the rows before it. The :data:`RECENT_ROWS` rows made last keep their
JSON as well (:class:`Recent`): most reads are of what was just written.

Labels are kept beside the body (list selections match them), with their keys and values interned:
a Service's name and UIDs label several of its objects. :data:`LabelIndex` maps a label to the one
row that carries it, or to a frozenset of them once there are more (most labels of the indexed keys name
one object of a resource: a set for each would cost ~200 bytes).

The SQLite thread deflates through ctypes, holding the GIL: the :mod:`zlib` module lets it go around
every call, and taking it back waits for the loop's switch interval (5 ms) whenever the loop is busy,
for every row of every write (1,000 Services took 30 % more CPU to settle). Reads inflate through
ctypes too, for the same reason on the loop's side: since a group's commit is one statement, the
SQLite thread spends its time in Python, and a read that let the GIL go waited for it (1,000
Services: ~700 of ~105,000 inflates took over 1 ms, 2 s of the loop's time; with the GIL held, ~30,
and ctypes' own ~2 us more an inflate). Where libz cannot be loaded, the :mod:`zlib` module does both.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Final

from zeroserve.store.indexes import hold, members, release

RECENT_ROWS: Final = 256
"""The rows a store's :class:`Recent` keeps whole (~2.5 KB each: bounded, whatever the Services)."""
WBITS: Final = -13
"""Raw deflate (no header) with an 8 KiB window: the dictionary and the row fit in it."""
MEM_LEVEL: Final = 6
LEVEL: Final = 1
"""The fastest level: ~12 us a row (a dictionary costs most of it); level 6 saves ~50 bytes for 2x."""
REPICK_RATIO: Final = 8
"""A row deflated to more than 1/8 of itself makes its body the resource's next dictionary."""
REPICK_MIN: Final = 512
"""Rows shorter than this never do (whatever they cost, it is little)."""

Key = tuple[str, str]
"""A row's (namespace, name)."""
LabelIndex = dict[tuple[str, str], "Key | frozenset[Key]"]
"""(label key, value) -> the row that carries it, or the set of them when more than one does."""


class Row:
    """A stored object's JSON, deflated against ``zdict`` (its length, then the deflated bytes), and
    its labels; while it is one of the rows made last (:class:`Recent`), the JSON itself too."""

    __slots__ = ("data", "labels", "raw", "zdict")

    def __init__(self, labels: Mapping[str, str], data: bytes, zdict: bytes, raw: bytes | None = None) -> None:
        self.labels = labels
        self.data = data
        self.zdict = zdict
        self.raw = raw

    def body(self) -> bytes:
        """The JSON, as it was given to :meth:`Packer.row`."""
        raw = self.raw  # one read: the SQLite thread may drop it meanwhile
        if raw is not None:
            return raw
        return _LIBZ.inflate(self.data, self.zdict, int.from_bytes(self.data[:4], "little"))


class Recent:
    """The ``size`` rows made last keep their JSON (a reconcile reads back what it just wrote, and
    the objects of one Service are read together): reads of them inflate nothing. SQLite thread."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rows: deque[Row] = deque()

    def add(self, row: Row) -> None:
        if self._size <= 0:
            row.raw = None
            return
        self._rows.append(row)
        if len(self._rows) > self._size:
            self._rows.popleft().raw = None


class Packer:
    """Makes the rows of one resource (on the SQLite thread only): holds its current dictionary."""

    def __init__(self, recent: Recent | None = None) -> None:
        self.zdict = b""
        self._recent = recent or Recent(0)

    def row(self, labels: Mapping[str, str], body: bytes) -> Row:
        body = fitted(body)
        if not self.zdict:
            self.zdict = body
        data = _deflate(body, self.zdict)
        if len(body) >= REPICK_MIN and len(data) * REPICK_RATIO > len(body) and self.zdict is not body:
            self.zdict = body
            data = _deflate(body, body)
        row = Row(interned(labels), data, self.zdict, body)
        self._recent.add(row)
        return row


def fitted(data: bytes) -> bytes:
    """``data`` in a block of its own size: orjson's output keeps the buffer it grew (16 KB for ~3 KB
    of JSON), and a row keeps its body while recent, and as the dictionary of later rows."""
    return memoryview(data).tobytes()


def _deflate(body: bytes, zdict: bytes) -> bytes:
    return len(body).to_bytes(4, "little") + _LIBZ.deflate(body, zdict)


class _ZStream(ctypes.Structure):
    _fields_ = [
        ("next_in", ctypes.c_void_p),
        ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint),
        ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p),
        ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p),
        ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong),
        ("reserved", ctypes.c_ulong),
    ]


Z_FINISH: Final = 4
Z_STREAM_END: Final = 1
Z_DEFAULT_STRATEGY: Final = 0


class _LibZ:
    """Raw deflate and inflate with a dictionary, through libz with the GIL held. An inflate reuses its
    thread's stream (reset, its window kept): a new one allocates ~15 KB of state and window, which
    the loop's reads of rows found cold in the caches (~30 us an inflate in a busy ``up``, 5 us alone)."""

    def __init__(self, lib: ctypes.PyDLL) -> None:
        stream = ctypes.POINTER(_ZStream)
        lib.zlibVersion.restype = ctypes.c_char_p
        self._version = lib.zlibVersion()
        lib.deflateInit2_.argtypes = [stream, *[ctypes.c_int] * 5, ctypes.c_char_p, ctypes.c_int]
        lib.deflateSetDictionary.argtypes = [stream, ctypes.c_char_p, ctypes.c_uint]
        lib.deflate.argtypes = [stream, ctypes.c_int]
        lib.deflateEnd.argtypes = [stream]
        lib.deflateBound.argtypes = [stream, ctypes.c_ulong]
        lib.deflateBound.restype = ctypes.c_ulong
        lib.inflateInit2_.argtypes = [stream, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.inflateSetDictionary.argtypes = [stream, ctypes.c_char_p, ctypes.c_uint]
        lib.inflate.argtypes = [stream, ctypes.c_int]
        lib.inflateReset.argtypes = [stream]
        lib.inflateEnd.argtypes = [stream]
        self._lib = lib
        self._local = threading.local()

    def deflate(self, body: bytes, zdict: bytes) -> bytes:
        lib, z = self._lib, _ZStream()
        if lib.deflateInit2_(z, LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL, Z_DEFAULT_STRATEGY, self._version,
                             ctypes.sizeof(z)) != 0:  # fmt: skip
            raise MemoryError("deflateInit2")
        try:
            lib.deflateSetDictionary(z, zdict, len(zdict))
            room = lib.deflateBound(z, len(body))
            out = ctypes.create_string_buffer(room)
            z.next_in, z.avail_in = ctypes.cast(ctypes.c_char_p(body), ctypes.c_void_p), len(body)
            z.next_out, z.avail_out = ctypes.addressof(out), room
            if lib.deflate(z, Z_FINISH) != Z_STREAM_END:
                raise ValueError("deflate did not finish")
            return out.raw[: z.total_out]
        finally:
            lib.deflateEnd(z)

    def inflate(self, data: bytes, zdict: bytes, size: int) -> bytes:
        """The ``size`` bytes that ``data`` (a row's: its length, then raw deflate) inflates to."""
        lib = self._lib
        inflater: _Inflater | None = getattr(self._local, "inflater", None)
        if inflater is None:
            inflater = self._local.inflater = _Inflater(lib, self._version)
        z = inflater.stream
        lib.inflateReset(z)
        lib.inflateSetDictionary(z, zdict, len(zdict))
        out = ctypes.create_string_buffer(size)
        start = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        z.next_in, z.avail_in = start + 4, len(data) - 4
        z.next_out, z.avail_out = ctypes.addressof(out), size
        if lib.inflate(z, Z_FINISH) != Z_STREAM_END or z.total_out != size:
            raise ValueError("a stored row does not inflate to its length")
        return out.raw


class _Inflater:
    """A thread's inflate stream, ended with the thread (:class:`threading.local` drops it)."""

    def __init__(self, lib: ctypes.PyDLL, version: bytes) -> None:
        self._lib = lib
        self.stream = _ZStream()
        if lib.inflateInit2_(self.stream, WBITS, version, ctypes.sizeof(self.stream)) != 0:
            raise MemoryError("inflateInit2")

    def __del__(self) -> None:
        self._lib.inflateEnd(self.stream)


class _ZlibModule:
    """The same with the :mod:`zlib` module (which lets the GIL go around each call)."""

    def deflate(self, body: bytes, zdict: bytes) -> bytes:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL, zdict=zdict)
        return packer.compress(body) + packer.flush()

    def inflate(self, data: bytes, zdict: bytes, size: int) -> bytes:
        inflated = zlib.decompressobj(WBITS, zdict=zdict).decompress(data[4:])
        if len(inflated) != size:
            raise ValueError("a stored row does not inflate to its length")
        return inflated


def _libz() -> _LibZ | _ZlibModule:
    """libz through ctypes if it loads, deflates a probe exactly as the :mod:`zlib` module does and
    inflates it back (a ``z_stream`` laid out otherwise, another libz: the module, never a failing
    write or read)."""
    fallback = _ZlibModule()
    try:
        lib = _LibZ(ctypes.PyDLL("libz.so.1"))
        probe, zdict = b'{"metadata": {"name": "probe"}}' * 4, b'{"metadata": {"name": "zdict"}}'
        deflated = lib.deflate(probe, zdict)
        if deflated != fallback.deflate(probe, zdict):
            return fallback
        row = len(probe).to_bytes(4, "little") + deflated
        if lib.inflate(row, zdict, len(probe)) != probe:
            return fallback
    except (OSError, AttributeError, MemoryError, ValueError):
        return fallback
    return lib


_LIBZ: Final = _libz()


def interned(labels: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``labels`` whose string keys and values are interned (shared with every other row's)."""
    return {_intern(k): _intern(v) for k, v in labels.items()}


def _intern(value: str) -> str:
    return sys.intern(value) if type(value) is str else value


def index_move(index: LabelIndex, key: Key, old: Mapping[str, str] | None, new: Mapping[str, str] | None,
               indexed: frozenset[str]) -> None:  # fmt: skip
    """Move ``key`` in ``index`` from its ``old`` labels to its ``new`` ones (None: no row), for the
    label keys in ``indexed`` (:func:`~zeroserve.store.indexes.hold`: each entry changes by one
    assignment, so a reader on the loop sees the old entry or the new one)."""
    before = {(k, v) for k, v in (old or {}).items() if k in indexed and isinstance(v, str)}
    after = {(k, v) for k, v in (new or {}).items() if k in indexed and isinstance(v, str)}
    for label in before - after:
        release(index, label, key)
    for label in after - before:
        hold(index, label, key)


def indexed(index: LabelIndex, label: tuple[str, str]) -> set[Key]:
    """The rows ``index`` has for ``label`` (a new set)."""
    return set(members(index.get(label)))
