"""PodAutoscalers by class through the controller (pkg/reconciler/autoscaling/{kpa,hpa}/controller.go
class filters, pkg/reconciler/revision/cruds.go's class default) and the HPA's ScalingActive."""

from __future__ import annotations

from tests.controller.test_sks_reconciler import ScalingDeciders
from zeroserve.api import annotations as ann
from zeroserve.api.kinds import PODAUTOSCALER, SERVICE
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, eventually, service


async def pa_of(store: SqliteStore, name: str) -> dict[str, object] | None:
    try:
        return await store.get(PODAUTOSCALER, "default", f"{name}-00001")
    except NotFound:
        return None


async def test_classes_go_to_their_autoscaler_and_an_unknown_one_is_left_alone() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    deciders = ScalingDeciders()
    try:
        async with Controller(store, FakeRuntime(auto_ready=True), Config, clock=clock, multiscaler=deciders):
            await store.create(SERVICE, service("default", "plain"))
            custom = {ann.CLASS: "custom.example.com/autoscaler"}
            await store.create(SERVICE, service("default", "other", annotations=custom))
            hpa = {ann.CLASS: ann.HPA, ann.METRIC: "http_requests", ann.TARGET: "10"}
            await store.create(SERVICE, service("default", "custom", annotations=hpa))

            async def settled() -> bool:
                pas = [await pa_of(store, n) for n in ("plain", "other", "custom")]
                return all(p is not None and p.get("status") for p in pas[::2]) and pas[1] is not None

            await eventually(settled)
            plain = await pa_of(store, "plain")
            assert plain is not None and plain["metadata"]["annotations"][ann.CLASS] == ann.KPA  # type: ignore[index]
            other = await pa_of(store, "other")
            assert other is not None and not other.get("status"), "another autoscaler's PA: no status from us"
            assert DeciderKey("default", "other-00001") not in deciders.watched

            async def scaling_inactive() -> dict[str, object] | None:
                pa = await pa_of(store, "custom")
                return pa if pa is not None and cond(pa, "ScalingActive")[0] == "False" else None

            pa = await eventually(scaling_inactive)
            _, reason, message = cond(pa, "ScalingActive")
            assert reason == "FailedGetPodsMetric"
            assert message is not None and "unable to get metric http_requests" in message
            assert cond(pa, "Ready")[1] != "FailedGetPodsMetric", "informational: it never makes the PA unready"
    finally:
        await store.close()
