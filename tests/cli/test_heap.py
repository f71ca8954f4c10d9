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


def test_trim_is_due_once_a_burst_of_writes_has_been_quiet() -> None:
    policy = heap.TrimPolicy(rv=100, now=0.0)
    assert not policy.due(100, 60.0), "no writes since: nothing to give back"
    assert not policy.due(100 + heap.MIN_WRITES - 1, 61.0)
    assert not policy.due(100 + heap.MIN_WRITES - 1, 70.0), "quiet, but too few writes"
    rv = 100 + heap.MIN_WRITES
    assert not policy.due(rv, 71.0), "still writing"
    assert not policy.due(rv, 71.0 + heap.QUIET - 0.5)
    assert policy.due(rv, 71.0 + heap.QUIET), "quiet for QUIET seconds after the burst"
    assert not policy.due(rv, 200.0), "once per burst"
    assert not policy.due(rv + heap.MIN_WRITES, 201.0)
    assert policy.due(rv + heap.MIN_WRITES, 201.0 + heap.QUIET), "the next burst"


def test_malloc_trim_gives_free_heap_pages_back() -> None:
    code = (
        "import json; from zeroserve.cli import heap\n"
        "def rss():\n"
        "    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS:')).split()[1])\n"
        "keep = [bytes(1000) for _ in range(10)]\n"
        "junk = [bytes(1000 + i % 7) for i in range(200_000)]\n"
        "keep += [bytes(1000)]  # a live chunk above the freed ones: the heap's top cannot shrink\n"
        "del junk\n"
        "before = rss(); trimmed = heap.malloc_trim(); print(json.dumps([trimmed, before, rss()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    trimmed, before, after = json.loads(out.stdout)
    assert trimmed, "glibc here: malloc_trim is found"
    assert before - after > 100_000, f"~200 MB of freed chunks went back (RSS {before} -> {after} KiB)"
