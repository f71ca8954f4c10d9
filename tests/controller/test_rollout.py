"""The gradual rollout, pure (zeroserve.controller.rollout). Vectors from Knative's
pkg/reconciler/route/traffic/rollout_test.go (TestStep, TestObserveReady, TestAdjustPercentage,
TestJSONRoundtrip), names shortened."""

from __future__ import annotations

import pytest

from zeroserve.controller import rollout
from zeroserve.controller.rollout import ConfigurationRollout as CR
from zeroserve.controller.rollout import RevisionRollout as RR
from zeroserve.controller.rollout import Rollout, RolloutParams

NOW = 2020
SEC = rollout.SECOND_NS


def cr(
    name: str, percent: int, *revs: tuple[str, int], tag: str = "", p: tuple[int, int, int, int] | None = None
) -> CR:
    """``p``: (start_time, next_step_time, step_duration, step_size)."""
    return CR(name, tag, percent, [RR(n, pc) for n, pc in revs], RolloutParams(*(p or (0, 0, 0, 0))))


@pytest.mark.parametrize(
    ("cur", "prev", "want", "next_step"),
    [
        pytest.param(Rollout(), None, Rollout(), 0, id="no-prev"),
        pytest.param(
            Rollout([cr("mick", 100, ("bleed", 100))]),
            Rollout([cr("mick", 100)]),
            Rollout([cr("mick", 100, ("bleed", 100))]),
            0,
            id="prev-empty",
        ),
        pytest.param(
            Rollout([cr("mick", 100, ("bleed", 100), p=(2004, 2009, 2020, 0))]),
            Rollout([cr("mick", 100, ("bleed", 100))]),
            Rollout([cr("mick", 100, ("bleed", 100))]),
            0,
            id="same-revision-drops-params",
        ),
        pytest.param(
            Rollout([cr("mick", 100, ("bleed", 100))]),
            Rollout(
                [cr("mick", 100, ("satanic", 95), ("bleed", 5), p=(2004, 2019, 5, 3))]
            ),
            Rollout(
                [cr("mick", 100, ("satanic", 92), ("bleed", 8), p=(2004, NOW + 5, 5, 3))]
            ),
            NOW + 5,
            id="step",
        ),
        pytest.param(
            Rollout([cr("mick", 100, ("bleed", 100))]),
            Rollout([cr("mick", 100, ("satanic", 95), ("bleed", 5), p=(2004, 0, 0, 0))]),
            Rollout([cr("mick", 100, ("satanic", 95), ("bleed", 5), p=(2004, 0, 0, 0))]),
            0,
            id="not-observed-ready-yet-no-step",
        ),
        pytest.param(
            Rollout([cr("mick", 100, ("bleed", 100))]),
            Rollout([cr("mick", 100, ("goat", 100), p=(1981, 1984, 1988, 11))]),
            Rollout([cr("mick", 100, ("goat", 99), ("bleed", 1), p=(NOW, 0, 0, 0))]),
            0,
            id="roll-starts-with-1%",
        ),
        pytest.param(
            Rollout([cr("charlie", 0, ("aftermath", 0))]),
            Rollout([cr("charlie", 100, ("satanic", 100))]),
            Rollout(),
            0,
            id="config-goes-to-0%",
        ),
        pytest.param(
            Rollout([cr("mick", 42, ("bleed", 42)), cr("keith", 52, ("beggars", 52))]),
            Rollout(
                [
                    cr("mick", 42, ("satanic", 37), ("bleed", 5), p=(1961, 2019, 43, 3)),
                    cr("keith", 52, ("sticky", 36), ("beggars", 16), p=(1971, 2018, 55, 4)),
                ]
            ),
            Rollout(
                [
                    cr("keith", 52, ("sticky", 32), ("beggars", 20), p=(1971, NOW + 55, 55, 4)),
                    cr("mick", 42, ("satanic", 34), ("bleed", 8), p=(1961, NOW + 43, 43, 3)),
                ]
            ),
            NOW + 43,
            id="two-configs-step-next-is-the-sooner",
        ),
    ],
)  # fmt: skip
def test_step(cur: Rollout, prev: Rollout | None, want: Rollout, next_step: int) -> None:
    got, nxt = rollout.step(cur, prev, NOW)
    assert (got, nxt) == (want, next_step)


def test_step_does_not_touch_its_inputs() -> None:
    prev = Rollout([cr("mick", 100, ("goat", 100))])
    rollout.step(Rollout([cr("mick", 100, ("bleed", 100))]), prev, NOW)
    assert prev == Rollout([cr("mick", 100, ("goat", 100))])


def test_observe_ready() -> None:
    """TestObserveReady: the first step took at least 1 s; steps of at least 1 % and 1 s."""
    now, olden, ancient = 200620092020 + 1982, 198219841988, 14921812
    ro = Rollout(
        [
            cr("has-step", 100, p=(0, 0, 11, 0)),
            cr("no-begin", 100),
            cr("begin<1s", 100, p=(200620092020, 0, 0, 0)),
            cr("begin>1s", 100, p=(olden, 0, 0, 0)),
            cr("round-up", 75, p=(olden, 0, 0, 0)),
            cr("half", 50, p=(olden, 0, 0, 0)),
            cr("ancient", 13, p=(ancient, 0, 0, 0)),
        ]
    )
    ro.observe_ready(now, 120.0)
    assert [c.step_params for c in ro.configurations] == [
        RolloutParams(0, 0, 11, 0),
        RolloutParams(),
        RolloutParams(200620092020, now + 1202020202, 1202020202, 1),
        RolloutParams(olden, now + 3 * SEC, 3 * SEC, 3),
        RolloutParams(olden, now + 3 * SEC, 3 * SEC, 75 // 40 + 1),
        RolloutParams(olden, now + 3 * SEC, 3 * SEC, 50 // 40),
        RolloutParams(ancient, now + SEC, SEC, 12),
    ]


@pytest.mark.parametrize(
    ("goal", "before", "after"),
    [
        pytest.param(100, [71, 29], [71, 29], id="noop"),
        pytest.param(75, [21, 21], [21, 54], id="raise-to-the-newest"),
        pytest.param(42, [21, 54], [42], id="lower-lose-one"),
        pytest.param(42, [21, 22, 32], [10, 32], id="lower-lose-one-update-one"),
        pytest.param(42, [10, 5, 60], [42], id="lower-lose-two"),
        pytest.param(0, [10, 5, 60], [], id="to-zero"),
    ],
)
def test_a_changed_percent_moves_the_newest_up_or_the_oldest_down(
    goal: int, before: list[int], after: list[int]
) -> None:
    c = cr("c", sum(before), *[(str(i), p) for i, p in enumerate(before)])
    rollout._adjust_percentage(goal, c)
    assert [r.percent for r in c.revisions] == after


def test_ten_seconds_move_100_percent_in_nine_steps_of_11() -> None:
    """A 10 s rollout whose first 1 % took under a second: 9 steps of 11 % a second apart."""
    cur = rollout.build_rollout([rollout.LatestTarget("", "hello", "hello-00002", 100)])
    prev = rollout.build_rollout([rollout.LatestTarget("", "hello", "hello-00001", 100)])
    now = 1_000 * SEC
    ro, nxt = rollout.step(cur, prev, now)
    assert [(r.revision_name, r.percent) for r in ro.configurations[0].revisions] == [
        ("hello-00001", 99),
        ("hello-00002", 1),
    ]
    assert nxt == 0
    now += SEC // 10
    ro.observe_ready(now, 10.0)
    seen = []
    ro, nxt = rollout.step(cur, ro, now)
    while not ro.done():
        assert nxt == now + SEC
        now = nxt
        ro, nxt = rollout.step(cur, ro, now)
        seen.append(ro.configurations[0].revisions[-1].percent)
    assert seen == [12, 23, 34, 45, 56, 67, 78, 89, 100]
    assert ro.configurations[0].step_params == RolloutParams() and nxt == 0


def test_json_round_trip_and_knative_field_names() -> None:
    ro = Rollout(
        [
            cr("one", 100, ("roy", 100), p=(1955, 1988, 1984, 0)),
            cr("many", 100, ("black-on-blue", 83), ("flowers", 17), tag="t"),
        ]
    )
    text = rollout.to_json(ro)
    assert text.startswith(
        '{"configurations":[{"configurationName":"one","percent":100,"revisions":[{"revisionName":"roy"'
    )
    assert '"stepParams":{"starttime":1955,"nextStepTime":1988,"stepDuration":1984}' in text
    assert rollout.from_json(text) == ro
    assert rollout.to_json(Rollout()) == "{}"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not json", id="corrupt"),
        pytest.param('{"configurations":[{"configurationName":"a","percent":101}]}', id="over-100"),
        pytest.param(
            '{"configurations":[{"configurationName":"a","percent":50,"revisions":[{"revisionName":"r","percent":40}]}]}',
            id="revisions-do-not-add-up",
        ),
    ],
)
def test_a_bad_stored_state_is_ignored(text: str) -> None:
    assert rollout.from_json(text) is None
