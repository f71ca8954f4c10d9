"""`zeroserve autoscaler explain` output, from a real Multiscaler's explain document."""

from __future__ import annotations

from zeroserve.autoscaler.collector import Collector, DeciderKey, MetricSpec
from zeroserve.autoscaler.explain import explain_document
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.scaling import DeciderSpec
from zeroserve.cli.autoscaler import render, tick_row
from zeroserve.clock import FakeClock

KEY = DeciderKey("default", "hello-00001")


class NoEndpoints:
    def endpoints(self, namespace: str, revision: str) -> list[object]:
        return []


def test_render_shows_each_tick_and_the_reason() -> None:
    clock = FakeClock()
    ms = Multiscaler(Collector(), NoEndpoints(), clock, lambda key: None)  # type: ignore[arg-type]
    spec = DeciderSpec(
        target_value=70.0,
        total_value=100.0,
        target_burst_capacity=211.0,
        panic_threshold=2.0,
        max_scale_up_rate=1000.0,
        max_scale_down_rate=2.0,
        stable_window=60.0,
        activation_scale=3,
        reachable=True,
        initial_scale=1,
    )
    ms.watch(KEY, spec, MetricSpec(60.0, 6.0, scraped=False))
    ms.tick(KEY)  # nothing observed: 0
    clock.step(2)
    ms.record(StatMessage(KEY.namespace, KEY.revision, Stat("activator", 1.0, 0.0, 1.0, 0.0)))  # poke
    doc = explain_document(ms, KEY)
    assert doc is not None
    text = render(doc)
    lines = text.splitlines()
    assert "Desired scale:  3" in lines
    assert "Why:            desired 3: activation scale" in lines
    assert lines[-2].split()[1:6] == ["0", "0", "70", "0", "0"]
    assert lines[-1].split()[1:6] == ["1", "1", "70", "0", "3"]
    assert lines[-1].split()[-3:] == ["-212", "activation", "scale"]  # EBC = floor(0 x 100 - 211 - 1)


def test_invalid_tick_row() -> None:
    row = tick_row({"time": "t", "valid": False, "reasons": ["no data"], "desired": -1})
    assert row[-1] == "invalid: no data" and row[1] == "-" and row[5] == "-1"
