"""Per-instance log files: stdout and stderr of one instance, size-capped.

Each instance writes to ``<logs>/<namespace>/<revision>/<instance-id>.log``. When the file
would grow past ``max_bytes`` it is renamed to ``<instance-id>.log.1`` (replacing an older
one) and a fresh file is started, so one instance never holds more than ``2 * max_bytes``.
The tail of the log becomes the message of a crash (Kubernetes' ``FallbackToLogsOnError``:
the last 80 lines, at most 2 KiB).

Writes are plain buffered file writes from the event loop: they land in the page cache and
cost microseconds, so they do not get a thread of their own.

The files are written by ``zeroserve up`` (it holds the read end of the instance's pipe), never by
the instance: mode 0600 in 0700 directories, as everything of the data dir (instances run as other
users, see :mod:`.isolation`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Rotate an instance's log at 10 MiB, keeping one previous file."""

TAIL_MAX_BYTES = 2048
TAIL_MAX_LINES = 80
"""Kubernetes' limits for a termination message taken from the log."""


class LogFile:
    """An append-only, size-capped log file of one instance."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._file: BinaryIO | None = os.fdopen(open_private(path), "ab")
        self._size = self._file.tell()

    @property
    def rotated_path(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def write(self, data: bytes) -> None:
        if self._file is None:
            return
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        assert self._file is not None
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def tail(self, *, max_bytes: int = TAIL_MAX_BYTES, max_lines: int = TAIL_MAX_LINES) -> str:
        """The end of the log (current file only), decoded leniently and stripped."""
        return read_tail(self.path, max_bytes=max_bytes, max_lines=max_lines)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        os.replace(self.path, self.rotated_path)
        self._file = os.fdopen(open_private(self.path), "ab")
        self._size = 0


def open_private(path: Path) -> int:
    """A descriptor appending to ``path``, created 0600 (an older file is made 0600) in a 0700 directory.

    A new file in a directory that exists, the common case (an instance's log), takes one call: an
    instance started from a zygote's spare opens its log on the cold start's path."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        return os.open(path, flags | os.O_EXCL, 0o600)  # made 0600 (the umask takes bits, never adds)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        pass
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def read_tail(path: Path, *, max_bytes: int = TAIL_MAX_BYTES, max_lines: int = TAIL_MAX_LINES) -> str:
    """The last ``max_lines`` lines of ``path`` within its last ``max_bytes`` bytes."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - max_bytes))
            data = file.read()
    except FileNotFoundError:
        return ""
    lines = data.decode("utf-8", errors="replace").strip().splitlines()
    return "\n".join(lines[-max_lines:])


def prune(directory: Path, *, keep: int) -> None:
    """Delete all but the ``keep`` most recently modified logs in ``directory``."""
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_file()]
    except FileNotFoundError:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime, reverse=True)
    for entry in entries[keep:]:
        Path(entry.path).unlink(missing_ok=True)
