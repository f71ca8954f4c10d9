from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zeroserve.api.meta import ObjectMeta
from zeroserve.api.revision import Revision
from zeroserve.clock import rfc3339
from zeroserve.config import GCConfig
from zeroserve.controller.reconcilers.gc import select_stale

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
