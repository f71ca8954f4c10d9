"""Hostile manifests against the real CLI and API server (issue 11), run by hand.

    .venv/bin/python bench/fuzz_manifests.py corpus [--only ID] [--show] [--memory-mib 2048]
    .venv/bin/python bench/fuzz_manifests.py fuzz [--examples 2000]

``corpus`` starts a SqliteStore and an ApiServer on 127.0.0.1:0 in this process, then runs
``python -m zeroserve apply -f FILE`` in a subprocess for every input of ``tests/fuzz/hostile.py``
(address space capped with ``prlimit --as``, so a bomb cannot take the machine) and prints, per
category, how many inputs printed a traceback, broke the ``error: FILE: ...`` format (or exited
with something else than 0/1), were accepted (exit 0), and were accepted or refused against the
corpus' expectation ("unexpected": a NUL in argv accepted, a valid input refused); then the peak
RSS of the CLI on the alias bombs and the status of deeply nested JSON bodies POSTed straight to
the API. The store is emptied between inputs.

To measure a tree without the fixes, export it and put it first on the path, e.g.::

    git archive <commit> | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before:. .venv/bin/python bench/fuzz_manifests.py corpus

``fuzz`` runs the hypothesis suites of ``tests/fuzz`` with ``--examples`` random examples per test
(``ZEROSERVE_FUZZ_EXAMPLES``) instead of the bounded, derandomized count ``make test`` uses.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: tests.fuzz.hostile lives at the repository root
    sys.path.append(str(ROOT))

import zeroserve  # noqa: E402
from tests.fuzz.hostile import Hostile, corpus  # noqa: E402
from zeroserve.api import admission  # noqa: E402
from zeroserve.api.kinds import KINDS  # noqa: E402
from zeroserve.apiserver import ApiServer  # noqa: E402
from zeroserve.config import Config  # noqa: E402
from zeroserve.store import SqliteStore  # noqa: E402

TREE = Path(zeroserve.__file__).resolve().parents[1]
"""The source tree measured (``python -m`` puts its working directory first on the path)."""
TOKEN = "bench"
SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"


@dataclass
class Outcome:
    case: Hostile
    path: Path
    code: int
    stderr: str
    seconds: float
    max_rss_kib: int

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def as_expected(self) -> bool:
        """Accepted or refused as the corpus says Kubernetes would (``either``: both are fine)."""
        return self.case.expect == "either" or (self.code == 0) == (self.case.expect == "ok")

    @property
    def well_formed(self) -> bool:
        """Exit 0 or 1, and on 1 a first line ``error: FILE: ...``."""
        if self.code == 0:
            return not self.traceback
        return self.code == 1 and self.stderr.startswith("error: ") and not self.traceback


class Api:
    """A store + API server on a loop in a thread of its own."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._tmp = tmp
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.store, self.server = self.call(self._start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def _start(self) -> tuple[SqliteStore, ApiServer]:
        store = await SqliteStore.open(self._tmp / "state.db")
        admit = functools.partial(admission.admit, cfg=Config(), user="admin")
        server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
        await server.start()
        return store, server

    async def clear(self) -> None:
        for kind in KINDS:
            items, _ = await self.store.list(kind)
            for item in items:
                meta = item["metadata"]
                await self.store.delete(kind, meta.get("namespace", ""), meta["name"])

    async def _stop(self) -> None:
        await self.server.stop()
        await self.store.close()

    def close(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def running_api(tmp: Path) -> Iterator[Api]:
    api = Api(tmp)
    try:
        yield api
    finally:
        api.close()


def run_cli(data_dir: Path, path: Path, memory_mib: int, timeout: float = 120.0) -> tuple[int, str, float, int]:
    """``zeroserve apply -f path`` in a subprocess: (exit code, stderr, seconds, peak RSS KiB)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    argv = [sys.executable, "-m", "zeroserve", "--data-dir", str(data_dir), "apply", "-f", str(path)]
    argv = ["prlimit", f"--as={memory_mib << 20}", *argv]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=TREE)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    return proc.returncode, text, seconds, usage.ru_maxrss


def write_data_dir(data_dir: Path, url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "endpoints.json").write_text(json.dumps({"api": url}))
    (data_dir / "token").write_text(TOKEN)


def deep_json(depth: int) -> bytes:
    spec = "[" * depth + "]" * depth
    head = '{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"deep"},"spec":{"x":'
    return (head + spec + "}}").encode()


async def post_status(url: str, body: bytes) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(url + SERVICES, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


def corpus_report(only: str | None, memory_mib: int, show: bool) -> None:
    cases = [c for c in corpus() if only is None or c.id == only]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with running_api(tmp) as api:
            data_dir = tmp / "data"
            write_data_dir(data_dir, api.server.url)
            for case in cases:
                path = tmp / f"{case.id}.{'json' if case.id.endswith('json') else 'yaml'}"
                path.write_bytes(case.data)
                code, stderr, seconds, rss = run_cli(data_dir, path, memory_mib)
                outcomes.append(Outcome(case, path, code, stderr, seconds, rss))
                api.call(api.clear())
            depths = {depth: api.call(post_status(api.server.url, deep_json(depth))) for depth in (990, 5000, 100_000)}
    print_report(outcomes, depths, show)


def print_report(outcomes: list[Outcome], depths: dict[int, int], show: bool = False) -> None:
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_category[o.case.category].append(o)
    print(f"interpreter: {sys.executable} ({sys.version.split()[0]}), tree: {TREE}")
    print(f"{'category':<20}{'inputs':>7}{'traceback':>10}{'malformed':>10}{'exit 0':>7}{'unexpected':>11}")
    for category, group in [*by_category.items(), ("total", outcomes)]:
        tracebacks = sum(o.traceback for o in group)
        malformed = sum(not o.well_formed for o in group)
        ok = sum(o.code == 0 for o in group)
        unexpected = sum(not o.as_expected for o in group)
        print(f"{category:<20}{len(group):>7}{tracebacks:>10}{malformed:>10}{ok:>7}{unexpected:>11}")
    print()
    for o in outcomes:
        if show or o.case.category == "alias" or o.traceback or not o.well_formed or not o.as_expected:
            lines = o.stderr.strip().replace(str(o.path), "FILE").splitlines()
            first = (lines[-1:] if o.traceback else lines[:2]) or [""]
            print(f"{o.case.id:<28} exit {o.code:>3}  {o.seconds:6.2f}s  rss {o.max_rss_kib / 1024:7.1f} MiB  {first}")
    print()
    for depth, status in depths.items():
        print(f"POST a JSON body nested {depth} deep: HTTP {status}")


def fuzz(examples: int) -> int:
    env = {**os.environ, "ZEROSERVE_FUZZ_EXAMPLES": str(examples)}
    suites = [f"tests/fuzz/test_fuzz_{name}.py" for name in ("admission", "apiserver", "cli")]
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=0", *suites]
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus", help="the hostile corpus through the real CLI")
    c.add_argument("--only", help="one input by id")
    c.add_argument("--memory-mib", type=int, default=2048, help="address-space cap of each CLI process")
    c.add_argument("--show", action="store_true", help="print every input's first stderr line")
    f = sub.add_parser("fuzz", help="the hypothesis suites with many more examples")
    f.add_argument("--examples", type=int, default=2000)
    args = parser.parse_args()
    if args.command == "corpus":
        corpus_report(args.only, args.memory_mib, args.show)
    else:
        sys.exit(fuzz(args.examples))


if __name__ == "__main__":
    main()
