"""The files the Revision ``log`` subresource reads (:func:`zeroserve.apiserver.logs.instance_logs`)."""

from __future__ import annotations

import os
from pathlib import Path

from zeroserve.apiserver.logs import instance_logs


def test_the_logs_that_hold_something_oldest_first(tmp_path: Path) -> None:
    (tmp_path / "new.log").write_text("b\n")
    (tmp_path / "old.log").write_text("a\n")
    os.utime(tmp_path / "old.log", (1, 1))
    (tmp_path / "spare.log").touch()  # made ahead for a zygote's spare: empty, not listed
    (tmp_path / "old.log.1").write_text("rotated\n")  # not an instance's current log
    assert instance_logs(tmp_path) == [tmp_path / "old.log", tmp_path / "new.log"]
    (tmp_path / "spare.log").write_text("now an instance's\n")
    assert instance_logs(tmp_path)[-1] == tmp_path / "spare.log"
    assert instance_logs(tmp_path / "missing") == []
