"""A raw HTTP/2 client (prior knowledge, cleartext) on ``h2``, for what httpx does not show: trailers,
resets, flow-control windows, GOAWAY."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings

Header = tuple[bytes, bytes]


@dataclass
class Reply:
    status: int = 0
    headers: list[Header] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    trailers: list[Header] = field(default_factory=list)
    reset: int | None = None
    """The RST_STREAM error code, when the stream was reset."""
    head: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    data: asyncio.Event = field(default_factory=asyncio.Event)
    unacked: int = 0

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)


class H2Client:
    """One connection; ``ack=False`` leaves the server's DATA unacknowledged (a reader that stops)."""

    def __init__(self, port: int, *, ack: bool = True, window: int | None = None) -> None:
        self.port = port
        self.ack = ack
        self.window = window
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.replies: dict[int, Reply] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = asyncio.Event()
        self.window_open = asyncio.Event()
        self._pong = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> H2Client:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        if self.window is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.window}
            )
        self.conn.initiate_connection()
        self._flush()
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._writer is not None
        self._task.cancel()
        self._writer.close()

    def _flush(self) -> None:
        assert self._writer is not None
        data = self.conn.data_to_send()
        if data:
            self._writer.write(data)

    async def _read(self) -> None:
        assert self._reader is not None
        while data := await self._reader.read(65536):
            for event in self.conn.receive_data(data):
                self._event(event)
            self._flush()
        self.closed.set()
        for reply in self.replies.values():
            reply.done.set()

    def _event(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", 0)
        reply = self.replies.get(sid)
        if isinstance(event, h2.events.ResponseReceived) and reply is not None:
            reply.headers = [(n, v) for n, v in event.headers if not n.startswith(b":")]
            reply.status = int(dict(event.headers)[b":status"])
            reply.head.set()
        elif isinstance(event, h2.events.DataReceived) and reply is not None:
            reply.body += event.data
            reply.data.set()
            if self.ack:
                self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
            else:
                reply.unacked += event.flow_controlled_length
        elif isinstance(event, h2.events.TrailersReceived) and reply is not None:
            reply.trailers = list(event.headers)
        elif isinstance(event, h2.events.StreamEnded) and reply is not None:
            reply.done.set()
        elif isinstance(event, h2.events.StreamReset) and reply is not None:
            reply.reset = int(event.error_code)
            reply.done.set()
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_open.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event  # streams up to its last id go on (h2 would refuse their frames)
            self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        elif isinstance(event, h2.events.PingAckReceived):
            self._pong.set()

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        authority: str = "example.test",
        headers: list[Header] | None = None,
        body: bytes | None = None,
        end: bool = True,
    ) -> int:
        """Send a request (``end=False``: the body goes on with :meth:`send`); its stream id."""
        sid = self.conn.get_next_available_stream_id()
        head = [
            (b":method", method.encode()),
            (b":scheme", b"http"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
            *(headers or []),
        ]
        self.replies[sid] = Reply()
        self.conn.send_headers(sid, head, end_stream=end and not body)
        if body:
            self.send(sid, body, end=end)
        self._flush()
        return sid

    def send(self, sid: int, data: bytes, *, end: bool = False) -> int:
        """Send what the window allows of ``data``; the bytes sent (the stream ends only if all went)."""
        sent = 0
        while sent < len(data):
            size = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(data) - sent)
            if size <= 0:
                break
            self.conn.send_data(sid, data[sent : sent + size])
            sent += size
        if end and sent == len(data):
            self.conn.end_stream(sid)
        self._flush()
        return sent

    def end(self, sid: int, trailers: list[Header] | None = None) -> None:
        if trailers:
            self.conn.send_headers(sid, trailers, end_stream=True)
        else:
            self.conn.end_stream(sid)
        self._flush()

    def reset(self, sid: int) -> None:
        self.conn.reset_stream(sid, 8)
        self._flush()

    async def ping(self, timeout: float = 5) -> None:
        """A PING round trip: whatever the server sent before answering it has been received."""
        self._pong.clear()
        self.conn.ping(b"zeroserv")
        self._flush()
        async with asyncio.timeout(timeout):
            await self._pong.wait()

    def acknowledge(self, sid: int) -> None:
        """Acknowledge what was held back (``ack=False``)."""
        reply = self.replies[sid]
        if reply.unacked:
            self.conn.acknowledge_received_data(reply.unacked, sid)
            reply.unacked = 0
            self._flush()

    async def reply(self, sid: int, timeout: float = 10) -> Reply:
        reply = self.replies[sid]
        async with asyncio.timeout(timeout):
            await reply.done.wait()
        return reply

    async def fetch(self, path: str, timeout: float = 10, **kwargs: object) -> Reply:
        return await self.reply(self.request(path, **kwargs), timeout)  # type: ignore[arg-type]
