"""``GET .../revisions/{name}/log``: an instance's stdout/stderr, as ``kubectl logs`` reads a pod's.

The local runtime writes one file per instance under ``<root>/<namespace>/<revision>/<id>.log``
(rotated to ``<id>.log.1``). This handler reads them: ``tailLines=N`` keeps the last N lines of
each, ``follow=true`` keeps the response open and streams what the instances write next (new
instances included) until the client goes away or the server stops. With more than one instance
every line is prefixed ``[<instance id>]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from aiohttp import web

from zeroserve.errors import BadRequest

FOLLOW_INTERVAL = 0.25
"""How often a follower looks for new output (seconds)."""

CHUNK = 64 * 1024


def _instance_logs(directory: Path) -> list[Path]:
    try:
        entries = [Path(e.path) for e in os.scandir(directory) if e.is_file() and e.name.endswith(".log")]
    except FileNotFoundError:
        return []
    return sorted(entries, key=lambda p: (p.stat().st_mtime, p.name))


def _read(path: Path, offset: int, tail_lines: int | None) -> tuple[bytes, int]:
    """Bytes of ``path`` from ``offset`` (or its last ``tail_lines`` lines) and the new offset."""
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        if offset > size:  # rotated under us: start the new file from its beginning
            offset = 0
        file.seek(offset)
        data = file.read(max(0, size - offset))
    if tail_lines is not None:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-tail_lines:]) if tail_lines > 0 else b""
    return data, size


def _prefixed(data: bytes, prefix: bytes) -> bytes:
    if not prefix or not data:
        return data
    return b"".join(prefix + line for line in data.splitlines(keepends=True))


class RevisionLogs:
    """The ``log`` subresource of Revisions, reading the local runtime's files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def __call__(
        self, request: web.Request, namespace: str, name: str, closing: asyncio.Event
    ) -> web.StreamResponse:
        follow = request.query.get("follow", "").lower() in ("true", "1")
        tail = request.query.get("tailLines")
        try:
            tail_lines = int(tail) if tail is not None else None
        except ValueError:
            raise BadRequest(f"tailLines: invalid value {tail!r}: must be an integer") from None
        directory = self.root / namespace / name
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        offsets: dict[Path, int] = {}
        first = True
        with contextlib.suppress(ConnectionResetError):
            while True:
                files = await asyncio.to_thread(_instance_logs, directory)
                many = len(files) > 1
                for path in files:
                    start = offsets.get(path, 0)
                    data, offsets[path] = await asyncio.to_thread(_read, path, start, tail_lines if first else None)
                    prefix = f"[{path.stem}] ".encode() if many else b""
                    if data:
                        await response.write(_prefixed(data, prefix))
                first = False
                if not follow or closing.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closing.wait(), FOLLOW_INTERVAL)
            await response.write_eof()
        return response
