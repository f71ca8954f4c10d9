from __future__ import annotations

import os
import stat
from pathlib import Path

from zeroserve.runtime.logs import LogFile, open_private, prune, read_tail


def test_rotates_keeping_one_old_file(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "a" / "i.log", max_bytes=10)
    log.write(b"0123456789")
    log.write(b"abc\n")
    log.write(b"defghij\n")
    log.close()
    assert (tmp_path / "a" / "i.log.1").read_bytes() == b"abc\n"
    assert (tmp_path / "a" / "i.log").read_bytes() == b"defghij\n"
    assert log.rotated_path == tmp_path / "a" / "i.log.1"


def test_write_after_close_is_ignored(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "i.log")
    log.write(b"x")
    log.close()
    log.write(b"y")
    assert (tmp_path / "i.log").read_bytes() == b"x"


def test_tail_limits_lines_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "i.log"
    path.write_bytes(b"".join(b"line %d\n" % n for n in range(200)))
    assert read_tail(path, max_lines=3) == "line 197\nline 198\nline 199"
    assert read_tail(path, max_bytes=9, max_lines=80) == "line 199"
    assert read_tail(tmp_path / "missing.log") == ""


def test_tail_decodes_leniently(tmp_path: Path) -> None:
    log = LogFile(tmp_path / "i.log")
    log.write(b"bad \xff byte\n\n")
    assert log.tail() == "bad \ufffd byte"
    log.close()


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    for n in range(5):
        path = tmp_path / f"{n}.log"
        path.write_text(str(n))
        os.utime(path, (1000 + n, 1000 + n))
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.log", "4.log"]
    prune(tmp_path / "missing", keep=1)


def test_open_private_makes_the_file_0600_in_a_0700_directory_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "ns" / "pod.log"
    os.close(open_private(path))  # the directories are made
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = tmp_path / "logs" / "ns" / "other.log"  # a new file where the directory exists
    fd = open_private(second)
    os.write(fd, b"one\n")
    os.close(fd)
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    second.chmod(0o644)  # an older file, open to others
    fd = open_private(second)
    os.write(fd, b"two\n")
    os.close(fd)
    assert stat.S_IMODE(second.stat().st_mode) == 0o600 and second.read_bytes() == b"one\ntwo\n"
