"""The collector's policy of the long-running processes (zeroserve.cli.heap), in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys

from zeroserve.cli import heap


def test_settle_freezes_what_exists_and_raises_the_thresholds() -> None:
    code = (
        "import gc, json; from zeroserve.cli import heap; before = gc.get_freeze_count(); heap.settle(); "
        "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    before, after, thresholds = json.loads(out.stdout)
    assert before == 0 and after > 1000, "the startup heap is frozen"
    assert tuple(thresholds) == heap.THRESHOLDS
