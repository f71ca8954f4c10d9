"""Raw bytes at a real gateway, for longer than ``make test`` does (issue 11), run by hand.

    .venv/bin/python bench/fuzz_gateway.py [--examples 5000] [--seed N]

The same strategies and checks as ``tests/gateway/test_gateway_fuzz.py`` (see
``tests/gateway/fuzzing.py``): a real Gateway on 127.0.0.1 port 0 in front of a real aiohttp
upstream, one connection per example; no hang, no 5xx of its own, no error logged, nothing raised
on its loop. Random (not derandomized), so each run explores new inputs; hypothesis shrinks the
first failure and prints it. At the end: how many examples ran, the statuses the gateway answered
and how many connections it closed without an answer.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: tests.gateway.fuzzing lives at the repository root
    sys.path.append(str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.gateway.fuzzing import FuzzBench, connections, problems  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    args = p.parse_args()
    statuses: Counter[int] = Counter()
    unanswered = ran = 0

    with FuzzBench().running() as bench:

        @settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(connection=connections())
        def fuzz(connection: tuple[bytes, list[int]]) -> None:
            nonlocal unanswered, ran
            data, sizes = connection
            outcome = bench.send(data, sizes)
            errors, bench.errors.seen = bench.errors.seen, []
            ran += 1
            statuses.update(outcome.statuses)
            unanswered += not outcome.statuses
            assert not problems(outcome), (problems(outcome), data, outcome.raw[:500])
            assert not errors, errors

        if args.seed is not None:
            fuzz = seed(args.seed)(fuzz)
        start = time.perf_counter()
        try:
            fuzz()
        finally:
            elapsed = time.perf_counter() - start
            print(f"Python {platform.python_version()} from {sys.base_prefix}")
            print(f"{ran} connections in {elapsed:.0f} s; closed with no answer: {unanswered}")
            print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))


if __name__ == "__main__":
    main()
