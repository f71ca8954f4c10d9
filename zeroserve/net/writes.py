"""Socket writes held to the end of the event loop's turn, then made back to back.

A proxy's loop reads from many connections in one turn (one ``epoll_wait``) and answers most reads
with a write to another socket. Made at once, between the reads, each write over loopback wakes a
peer (the client, the app) that has usually gone back to sleep since the previous write, and the
kernel's send path (with the receiver's side of loopback, run on the sender's CPU) interleaves with
the Python code. Queued and made together after the last read of the turn, the first write wakes
the peer and the rest find it awake; the kernel work runs in one stretch.

Measured on this machine (2 shared cores), the gateway alone under ``wrk -c64``, without and with
the queue in interleaved rounds: 13-24k -> 18-29k rps, kernel time per request 21-35 -> 16-23 µs;
serve mode on ``zeroserve up`` went from a median 0.44x to 0.60x nginx (bench/dataplane.py). A
perf profile before the change had about 12 % of the proxy's CPU in waking peers (``sock_def_readable``).

Order is kept per transport (one queue per loop, in call order); a close queued after writes
happens after them; an ``abort`` is at once and drops what is queued (a transport that is
closing takes no more writes). At most :data:`HOLD_BYTES` are held: a write that takes the queue
past it makes the queue's writes at once, so a bulk transfer meets its transport's flow control
(``pause_writing``) as soon as it would have without the queue, and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

logger = logging.getLogger(__name__)

HOLD_BYTES = 256 * 1024
"""Bytes held in one loop's queue at most (four times a transport's default high-water mark)."""


class Writes:
    """The writes of one event loop's turn: :meth:`write` and :meth:`close` queue, :meth:`flush` makes them."""

    __slots__ = ("_held", "_loop", "_queued")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queued: list[tuple[asyncio.WriteTransport, bytes | None]] = []
        self._held = 0

    def write(self, transport: asyncio.WriteTransport, data: bytes) -> None:
        if not data:
            return
        queued = self._queued
        if not queued:
            self._loop.call_soon(self.flush)
        queued.append((transport, data))
        self._held += len(data)
        if self._held > HOLD_BYTES:
            self.flush()

    def close(self, transport: asyncio.WriteTransport) -> None:
        """Close ``transport`` once what is queued for it is written (its buffer then drains)."""
        queued = self._queued
        if not queued:
            self._loop.call_soon(self.flush)
        queued.append((transport, None))

    def flush(self) -> None:
        """Make the queued writes and closes, in order (the loop calls it once per turn)."""
        queued, self._queued = self._queued, []
        self._held = 0
        for transport, data in queued:
            if transport.is_closing():
                continue  # aborted, lost or closed since: what was queued for it goes nowhere
            try:
                if data is None:
                    transport.close()
                else:
                    transport.write(data)
            except Exception:  # one broken transport must not cost the others their writes
                logger.exception("write to %r failed", transport)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Writes] = weakref.WeakKeyDictionary()


def for_loop(loop: asyncio.AbstractEventLoop | None = None) -> Writes:
    """The queue of ``loop`` (the running one by default): one per loop, shared by all its connections."""
    loop = loop if loop is not None else asyncio.get_running_loop()
    writes = _by_loop.get(loop)
    if writes is None:
        writes = _by_loop[loop] = Writes(loop)
    return writes
