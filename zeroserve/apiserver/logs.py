"""``GET .../revisions/{name}/log`` and ``.../pods/{name}/log``: instances' stdout/stderr, as ``kubectl logs``.

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
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.kinds import POD
from zeroserve.errors import BadRequest, NotFound
from zeroserve.store.base import Store

FOLLOW_INTERVAL = 0.25
"""How often a follower looks for new output (seconds)."""

CHUNK = 64 * 1024


def instance_logs(directory: Path) -> list[Path]:
    """The instances' logs that hold something, oldest first: an empty one adds nothing, and the log
    the runtime made ahead for a zygote's spare (:mod:`zeroserve.runtime.zygote`) is empty until it
    is an instance's, so it does not make the others prefixed."""
    entries = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as found:
        for entry in found:
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile (pruned)
                if entry.is_file() and entry.name.endswith(".log") and (info := entry.stat()).st_size > 0:
                    entries.append((info.st_mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(entries)]


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
                files = await asyncio.to_thread(instance_logs, directory)
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


QUEUE_PROXY = "queue-proxy"


def _serving_container(containers: list[Obj]) -> str:
    """The container with a port (the serving one), else the first."""
    with_ports = [c for c in containers if c.get("ports")]
    return str((with_ports or containers or [{}])[0].get("name", ""))


class PodLogs:
    """The ``log`` subresource of Pods (``kubectl logs POD [-c CONTAINER] [-f] [--tail N]``).

    A pod is an instance (:mod:`zeroserve.controller.pods`), so its containers' logs are the instance's
    files under ``data_dir``: the serving container's ``logs/NS/REVISION/POD.log``, another container's
    ``logs/NS/REVISION/POD.NAME.log``, the queue-proxy's ``queue-proxy-logs/NS/REVISION/POD.log`` (in
    inline mode the pod lists no queue-proxy, yet its request logs are there: ``-c queue-proxy`` reads them).
    ``container`` names one (none: the serving container); ``tailLines`` keeps the last lines;
    ``follow=true`` streams what is written next until the pod is gone, the client goes away or the
    server stops; ``sinceSeconds`` gives nothing when the file was last written before then;
    ``previous=true``: the serving container's log before its last restart (``POD.previous.log``). The
    files hold no time per line: ``timestamps`` is accepted and adds none.
    """

    def __init__(self, data_dir: Path, store: Store) -> None:
        self.data_dir = data_dir
        self.store = store

    def path(self, pod: Obj, container: str) -> Path:
        meta = pod.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        revision = str((meta.get("labels") or {}).get(labels.REVISION, ""))
        containers = [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
        names = [str(c.get("name", "")) for c in containers]
        if container and container not in names and container != QUEUE_PROXY:  # inline: no sidecar, its log
            raise BadRequest(f"container {container} is not valid for pod {name}")
        if container == QUEUE_PROXY:
            return self.data_dir / "queue-proxy-logs" / ns / revision / f"{name}.log"
        if not container or container == _serving_container(containers):
            return self.data_dir / "logs" / ns / revision / f"{name}.log"
        return self.data_dir / "logs" / ns / revision / f"{name}.{container}.log"

    async def __call__(
        self, request: web.Request, namespace: str, name: str, closing: asyncio.Event
    ) -> web.StreamResponse:
        q = request.query
        follow = q.get("follow", "").lower() in ("true", "1")
        previous = q.get("previous", "").lower() in ("true", "1")
        tail_lines = _int_param(q, "tailLines")
        since = _int_param(q, "sinceSeconds")
        pod = await self.store.get(POD, namespace, name)
        path = self.path(pod, q.get("container", ""))
        if previous:
            before = path.with_name(path.name.removesuffix(".log") + ".previous.log")
            if q.get("container") == QUEUE_PROXY or not before.is_file():
                container = q.get("container", "")
                raise BadRequest(f'previous terminated container "{container}" in pod "{name}" not found')
            path, follow = before, False
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        offset = 0
        first = True
        with contextlib.suppress(ConnectionResetError):
            while True:
                try:
                    stale = since is not None and first and time.time() - path.stat().st_mtime > since
                    data, offset = await asyncio.to_thread(_read, path, offset, tail_lines if first else None)
                except FileNotFoundError:
                    stale, data = False, b""
                if data and not stale:
                    await response.write(data)
                first = False
                if not follow or closing.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closing.wait(), FOLLOW_INTERVAL)
                try:
                    await self.store.get(POD, namespace, name)
                except NotFound:  # the instance is gone: its containers ended
                    data, offset = await asyncio.to_thread(_read, path, offset, None)
                    await response.write(data)
                    break
            await response.write_eof()
        return response


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}: invalid value {value!r}: must be an integer") from None
    if number < 0:
        raise BadRequest(f"{name}: invalid value {number}: must be greater than or equal to 0")
    return number
