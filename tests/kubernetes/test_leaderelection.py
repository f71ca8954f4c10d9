"""Leader election: client-go's rule as a pure function, and two candidates racing for one Lease on
the API double (tests/kubernetes/conftest.py) under a fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.kubernetes.conftest import Double
from tests.support.kubeschema import validate
from zeroserve.api.base import Obj
from zeroserve.api.kinds import NAMESPACE
from zeroserve.clock import FakeClock
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.kinds import LEASE
from zeroserve.kubernetes.leaderelection import LEASE_NAME, LeaderElector, Timing, decide, micro_time

NOW = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)


def lease(holder: str, renewed: datetime, transitions: int = 3, duration: int = 15) -> Obj:
    return {
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": micro_time(renewed - timedelta(hours=1)),
            "renewTime": micro_time(renewed),
            "leaseTransitions": transitions,
        }
    }


def test_micro_time_is_metav1_microtime() -> None:
    assert micro_time(NOW) == "2026-12-06T12:00:00.123456Z"


@pytest.mark.parametrize(
    ("current", "want"),
    [
        (
            None,
            {
                "holderIdentity": "a",
                "renewTime": micro_time(NOW),
                "acquireTime": micro_time(NOW),
                "leaseTransitions": 0,
            },
        ),
        (
            lease("a", NOW - timedelta(seconds=5)),
            {"holderIdentity": "a", "renewTime": micro_time(NOW), "leaseTransitions": 3},
        ),
        (lease("b", NOW - timedelta(seconds=14)), None),  # b's lease runs one more second
        (
            lease("b", NOW - timedelta(seconds=16)),
            {"holderIdentity": "a", "acquireTime": micro_time(NOW), "leaseTransitions": 4},
        ),
        (lease("b", NOW - timedelta(seconds=16), duration=60), None),  # the holder's own duration counts
        (lease("", NOW), {"holderIdentity": "a", "leaseTransitions": 4}),  # released
    ],
)
def test_decide_is_client_go_rule(current: Obj | None, want: Obj | None) -> None:
    got = decide(current, "a", NOW, 15)
    if want is None:
        assert got is None
        return
    assert got is not None
    assert {k: got[k] for k in want} == want
    assert got["leaseDurationSeconds"] == 15


async def test_two_candidates_one_leader_and_a_takeover(cluster: Double) -> None:
    await cluster.store.create(NAMESPACE, {"metadata": {"name": "knative-serving"}})
    clock = FakeClock(wall=NOW)
    timing = Timing(lease_duration=15, renew_deadline=10, retry_period=0.01)
    async with KubeApi(cluster.conn) as api:
        a = LeaderElector(api, "knative-serving", "a", clock, timing)
        b = LeaderElector(api, "knative-serving", "b", clock, timing)
        await asyncio.wait_for(a.acquire(), 5)
        assert not await b.try_acquire_or_renew()
        stored = await cluster.store.get(LEASE, "knative-serving", LEASE_NAME)
        assert stored["spec"]["holderIdentity"] == "a"
        validate(stored)  # the Lease we wrote, as kube-apiserver's schema has it

        clock.step(16)  # a stopped renewing (its process hung): the lease runs out
        await asyncio.wait_for(b.acquire(), 5)
        lost = asyncio.Event()
        await asyncio.wait_for(a.keep(lost.set), 5)  # a's next renewal finds b holding it
        assert lost.is_set()
        stored = await cluster.store.get(LEASE, "knative-serving", LEASE_NAME)
        assert (stored["spec"]["holderIdentity"], stored["spec"]["leaseTransitions"]) == ("b", 1)

        await b.release()  # b stops: a successor need not wait out the lease
        assert await a.try_acquire_or_renew()
