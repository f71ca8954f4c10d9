"""Replay load traces through the real KPA decider and collector with a simulated clock.

    .venv/bin/python bench/autoscale_sim.py [--trace step|ramp|bursty|all] [--boot 2] [--png out.png]

Each simulated second the revision's demand (requests in flight) is recorded as the
queue-proxies or the activator would report it; the Multiscaler ticks every 2 s (and is poked
from zero); instances take ``--boot`` seconds to become ready; desired 0 removes the instances
after the scale-to-zero grace period (a simplification of the KPA reconciler's gating). Printed
per trace: cold starts, instance-seconds, request-seconds queued (demand beyond the ready
instances' container concurrency). ``--png`` draws instances vs demand (in instances' worth of
load at the target) with a tiny dependency-free PNG writer.
"""

from __future__ import annotations

import argparse
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from zeroserve.autoscaler.collector import Collector, DeciderKey, MetricSpec
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.targets import make_decider_spec, windows
from zeroserve.clock import FakeClock
from zeroserve.config import AutoscalerConfig

KEY = DeciderKey("default", "sim-00001")
Trace = Callable[[int], float]

TRACES: dict[str, tuple[Trace, int]] = {
    "step": (lambda t: 0.0 if t < 20 else (50.0 if t < 200 else 0.0), 400),
    "ramp": (lambda t: min(t, 300) / 3.0 if t < 300 else max(0.0, 100 - (t - 300) / 2), 600),
    "bursty": (lambda t: 40.0 if (t // 30) % 3 == 0 else 0.0, 600),
}


@dataclass
class Instances:
    """Booting and ready instances; the sim's stand-in for the runtime."""

    boot: float
    booting: list[float] = field(default_factory=list)  # ready-at times
    ready: int = 0

    def endpoints(self, namespace: str, revision: str) -> list[object]:
        return [object()] * self.ready

    def advance(self, now: float) -> None:
        done = [t for t in self.booting if t <= now]
        self.booting = [t for t in self.booting if t > now]
        self.ready += len(done)

    @property
    def total(self) -> int:
        return self.ready + len(self.booting)

    def scale(self, now: float, want: int) -> None:
        while self.total < want:
            self.booting.append(now + self.boot)
        while self.total > want:
            if self.booting:
                self.booting.pop()
            else:
                self.ready -= 1


@dataclass
class Result:
    name: str
    cold_starts: int = 0
    instance_seconds: float = 0.0
    queued: float = 0.0
    demand: list[float] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)


def simulate(name: str, trace: Trace, seconds: int, boot: float, cfg: AutoscalerConfig, cc: int) -> Result:
    annotations: dict[str, str] = {}
    spec = make_decider_spec(annotations, cc, cfg)
    stable, panic = windows(annotations, cfg)
    clock = FakeClock(start=0.0)
    pods = Instances(boot)
    ms = Multiscaler(Collector(), pods, clock, lambda key: None)  # type: ignore[arg-type]
    ms.watch(KEY, spec, MetricSpec(stable, panic))
    result = Result(name)
    zero_since: float | None = None
    capacity = cc or spec.total_value
    for t in range(seconds):
        now = float(t)
        pods.advance(now)
        demand = trace(t)
        if pods.ready == 0 and demand > 0 and pods.total == 0:
            result.cold_starts += 1
        ms.record(StatMessage(KEY.namespace, KEY.revision, Stat("sim", demand, 0.0, demand, 0.0)))
        if t % 2 == 0:
            ms.tick(KEY)
        desired = ms.get(KEY).desired_scale  # type: ignore[union-attr]
        if desired == 0:
            zero_since = now if zero_since is None else zero_since
            if now - zero_since >= cfg.scale_to_zero_grace_period:
                pods.scale(now, 0)
        elif desired > 0:
            zero_since = None
            pods.scale(now, desired)
        result.queued += max(0.0, demand - pods.ready * capacity)
        result.instance_seconds += pods.total
        result.demand.append(demand / spec.target_value)
        result.instances.append(pods.total)
        clock.step(1.0)
    return result


# -- a tiny PNG plotter -------------------------------------------------------------------------

Color = tuple[int, int, int]


def _png(width: int, height: int, pixels: list[list[Color]]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def plot(results: list[Result], path: str, width: int = 900, panel: int = 200) -> None:
    """One panel per trace: demand (blue, in instances at target) and instances (red), shared x axis."""
    height = panel * len(results)
    pixels: list[list[Color]] = [[(255, 255, 255)] * width for _ in range(height)]
    for i, r in enumerate(results):
        top = i * panel
        peak = max([*r.demand, *r.instances, 1.0])
        for x in range(width):
            pixels[top + panel - 1][x] = (0, 0, 0)

        def y_of(v: float, top: int = top, peak: float = peak) -> int:
            return top + panel - 2 - int((panel - 12) * v / peak)

        for series, color in ((r.demand, (40, 90, 220)), ([float(n) for n in r.instances], (220, 40, 40))):
            prev: int | None = None
            for x in range(width):
                v = series[min(len(series) - 1, x * len(series) // width)]
                y = y_of(v)
                lo, hi = (y, y) if prev is None else (min(y, prev), max(y, prev))
                for yy in range(lo, hi + 1):
                    pixels[yy][x] = color
                prev = y
    with open(path, "wb") as f:
        f.write(_png(width, height, pixels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trace", default="all", choices=[*TRACES, "all"])
    parser.add_argument("--boot", type=float, default=2.0, help="seconds from start to ready")
    parser.add_argument("--cc", type=int, default=0, help="containerConcurrency (0: unlimited, target 70)")
    parser.add_argument("--grace", type=float, default=30.0, help="scale-to-zero grace period (s)")
    parser.add_argument("--png", default="", help="write instances vs demand to this PNG")
    args = parser.parse_args()
    cfg = AutoscalerConfig(scale_to_zero_grace_period=args.grace)
    names = list(TRACES) if args.trace == "all" else [args.trace]
    results = [simulate(n, *TRACES[n], boot=args.boot, cfg=cfg, cc=args.cc) for n in names]
    print(f"{'trace':8} {'cold starts':>11} {'instance-s':>11} {'queued req-s':>13} {'peak':>5}")
    for r in results:
        print(f"{r.name:8} {r.cold_starts:11d} {r.instance_seconds:11.0f} {r.queued:13.1f} {max(r.instances):5d}")
    if args.png:
        plot(results, args.png)
        print(f"wrote {args.png}")
    assert all(math.isfinite(r.queued) for r in results)


if __name__ == "__main__":
    main()
