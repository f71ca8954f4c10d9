from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from tests.controller.test_routing_state import CFG, set_image, settle, wk
from zeroserve.api.kinds import REVISION, SERVICE
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.revision import Revision
from zeroserve.clock import rfc3339
from zeroserve.config import GCConfig
from zeroserve.controller.reconcilers import configuration
from zeroserve.controller.reconcilers.gc import next_collection, select_stale
from zeroserve.testing import service as service_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3600.0


def rev(
    name: str, age_h: float, active_h: float | None = None, state: str = "reserve", no_gc: bool = False
) -> Revision:
    ann = (
        {"serving.knative.dev/routingStateModified": rfc3339(NOW - timedelta(hours=active_h))}
        if active_h is not None
        else {}
    )
    if no_gc:
        ann["serving.knative.dev/no-gc"] = "true"
    return Revision(
        metadata=ObjectMeta(
            name=name,
            creation_timestamp=rfc3339(NOW - timedelta(hours=age_h)),
            labels={"serving.knative.dev/routingState": state},
            annotations=ann,
        )
    )


GC = GCConfig(
    retain_since_create_time=48 * HOUR,
    retain_since_last_active_time=15 * HOUR,
    min_non_active_revisions=1,
    max_non_active_revisions=None,
)


@pytest.mark.parametrize(
    ("revs", "gc", "latest", "want"),
    [
        pytest.param([rev("a", 100, 50), rev("b", 100, 40)], GC, None, ["a"], id="oldest-stale-beyond-min"),
        pytest.param(
            [rev("a", 100, 50), rev("b", 100, 40)], GCConfig(min_non_active_revisions=2), None, [], id="at-min"
        ),
        pytest.param(
            [rev("a", 10, 50), rev("b", 100, 40), rev("c", 100, 45)], GC, None, ["c", "b"], id="young-create-kept"
        ),
        pytest.param([rev("a", 100, 5), rev("b", 100, 40)], GC, None, ["b"], id="recently-active-kept"),
        pytest.param(
            [rev("a", 100, 50, state="active"), rev("b", 100, 40, no_gc=True), rev("c", 100, 45), rev("d", 100, 30)],
            GC,
            "c",
            [],
            id="active-latest-nogc-excluded",
        ),
        pytest.param(
            [rev("a", 100, 50, state="pending"), rev("c", 100, 45), rev("d", 100, 30)],
            GC,
            None,
            ["c"],
            id="pending-is-active",
        ),
        pytest.param(
            [rev(str(i), 1, 1) for i in range(5)],
            GCConfig(
                retain_since_create_time=None,
                retain_since_last_active_time=None,
                min_non_active_revisions=0,
                max_non_active_revisions=2,
            ),
            None,
            ["0", "1", "2"],
            id="max-cap-deletes-oldest",
        ),
        pytest.param(
            [rev("a", 100, 50), rev("b", 100, 40)],
            GCConfig(
                retain_since_create_time=None,
                retain_since_last_active_time=None,
                min_non_active_revisions=0,
                max_non_active_revisions=None,
            ),
            None,
            [],
            id="all-disabled",
        ),
    ],
)
def test_select_stale(revs: list[Revision], gc: GCConfig, latest: str | None, want: list[str]) -> None:
    assert select_stale(revs, latest, gc, NOW) == want


ACTIVE_ONLY = GCConfig(
    retain_since_create_time=None,
    retain_since_last_active_time=15 * HOUR,
    min_non_active_revisions=1,
    max_non_active_revisions=None,
)


@pytest.mark.parametrize(
    ("revs", "gc", "latest", "want"),
    [
        pytest.param([rev("a", 100, 10), rev("b", 100, 12)], GC, None, 3 * HOUR, id="first-to-pass-15h-since-active"),
        pytest.param([rev("a", 40, 20), rev("b", 30, 20)], GC, None, 8 * HOUR, id="both-ages-must-pass"),
        pytest.param([rev("a", 100, 10), rev("b", 100, 12)], ACTIVE_ONLY, None, 3 * HOUR, id="create-disabled"),
        pytest.param([rev("a", 100, 10)], GC, None, None, id="at-min-no-time-helps"),
        pytest.param([rev("a", 100, 10, state="active"), rev("b", 100, 12)], GC, None, None, id="active-never-by-age"),
        pytest.param([rev("a", 100, 10), rev("b", 100, 12)], GC, "a", None, id="latest-ready-never"),
        pytest.param(
            [rev("a", 100, 10), rev("b", 100, 12)],
            GCConfig(retain_since_create_time=None, retain_since_last_active_time=None, min_non_active_revisions=0),
            None,
            None,
            id="ages-disabled",
        ),
    ],
)
def test_next_collection(revs: list[Revision], gc: GCConfig, latest: str | None, want: float | None) -> None:
    got = next_collection(revs, latest, gc, NOW)
    assert got == (pytest.approx(want) if want is not None else None)


async def test_an_idle_revision_is_collected_when_it_turns_stale_without_any_event(env: Env) -> None:
    """Item 10: the Configuration reconciler asks to run again when the next revision turns stale
    (Knative gets there by its periodic resync), on the controller's clock."""
    env.config = dataclasses.replace(env.config, gc=dataclasses.replace(ACTIVE_ONLY, min_non_active_revisions=0))
    await env.store.create(SERVICE, service_obj("default", "hello", image="v1"))
    await settle(env)
    env.runtime.make_ready(wk("hello-00001"))
    await settle(env)
    await set_image(env, "v2")
    env.runtime.make_ready(wk("hello-00002"))
    await settle(env)
    await settle(env)
    old = await env.get(REVISION, "hello-00001")
    assert old["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"
    requeue = await configuration.reconcile(env.deps, CFG)
    assert requeue == pytest.approx(15 * HOUR)
    env.clock.step(15 * HOUR - 1)
    assert await configuration.reconcile(env.deps, CFG) == pytest.approx(1.0)
    assert await env.get(REVISION, "hello-00001")
    env.clock.step(1)
    assert await configuration.reconcile(env.deps, CFG) is None
    revs, _ = await env.store.list(REVISION, "default")
    assert [r["metadata"]["name"] for r in revs] == ["hello-00002"]
