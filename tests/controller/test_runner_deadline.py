"""A reconcile that hangs never takes its worker with it (issue 11, item 1): it is given a deadline,
logged with its stack, cancelled and requeued; a key is never reconciled twice at once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from zeroserve.api.kinds import SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue
from zeroserve.controller.runner import Controller
from zeroserve.errors import NotFound
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import eventually, service

DEADLINE = 0.05


class Reconciles:
    """Service reconciles by name: ``stuck-*`` wait forever, ``stubborn`` also swallows one cancel."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.overlaps = 0
        self.release = asyncio.Event()

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        self.calls[key.name] += 1
        self.active[key.name] += 1
        self.overlaps += self.active[key.name] > 1
        try:
            if key.name.startswith("stuck"):
                await asyncio.Event().wait()
            if key.name == "stubborn":
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    await self.release.wait()  # ignores the cancel until released
            if key.name == "vanishing":
                raise NotFound('services.serving.knative.dev "vanishing" not found')
        finally:
            self.active[key.name] -= 1
        return None


async def started(store: SqliteStore, reconciles: Reconciles, workers: int) -> Controller:
    ctl = Controller(store, FakeRuntime(), Config, clock=FakeClock(), workers=workers, reconcile_deadline=DEADLINE)
    ctl.reconcilers[SERVICE.kind] = reconciles.reconcile
    return ctl


async def test_hung_reconciles_are_cancelled_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    store = await SqliteStore.open(":memory:", clock=FakeClock())
    reconciles = Reconciles()
    try:
        async with await started(store, reconciles, workers=2):
            for name in ("stuck-1", "stuck-2", "stuck-3", "stuck-4", "fine"):
                await store.create(SERVICE, service("default", name))

            async def all_served() -> bool:
                return reconciles.calls["fine"] >= 1 and all(reconciles.calls[f"stuck-{i}"] >= 2 for i in range(1, 5))

            await eventually(all_served)
    finally:
        await store.close()
    assert reconciles.overlaps == 0
    overdue = [r for r in caplog.records if "exceeded its 0.05s deadline" in r.getMessage()]
    assert overdue and overdue[0].levelno == logging.ERROR
    assert "in reconcile" in overdue[0].getMessage(), "the log carries the hung reconcile's stack"


async def test_a_reconcile_that_ignores_its_cancel_frees_the_worker_not_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = await SqliteStore.open(":memory:", clock=FakeClock())
    reconciles = Reconciles()
    try:
        async with await started(store, reconciles, workers=1):
            await store.create(SERVICE, service("default", "stubborn"))
            await eventually(lambda: _true(reconciles.calls["stubborn"] == 1 and "has not ended" in caplog.text))
            await store.create(SERVICE, service("default", "fine"))
            await eventually(lambda: _true(reconciles.calls["fine"] == 1))
            assert reconciles.calls["stubborn"] == 1, "not again while the first one still runs"
            reconciles.release.set()
            await eventually(lambda: _true(reconciles.calls["stubborn"] >= 2))
    finally:
        await store.close()
    assert reconciles.overlaps == 0


async def test_an_object_gone_mid_reconcile_is_requeued_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    store = await SqliteStore.open(":memory:", clock=FakeClock())
    reconciles = Reconciles()
    try:
        async with await started(store, reconciles, workers=1):
            await store.create(SERVICE, service("default", "vanishing"))
            await eventually(lambda: _true(reconciles.calls["vanishing"] >= 2))
    finally:
        await store.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _true(value: bool) -> bool:
    return value


async def test_stopping_the_controller_stops_its_reconciles() -> None:
    """A reconcile in flight when the controller stops is cancelled with it, not left to run on
    against a store that is closing (its error then unretrieved)."""
    store = await SqliteStore.open(":memory:", clock=FakeClock())
    reconciles = Reconciles()
    try:
        ctl = Controller(store, FakeRuntime(), Config, clock=FakeClock(), reconcile_deadline=60)
        ctl.reconcilers[SERVICE.kind] = reconciles.reconcile
        async with ctl:
            await store.create(SERVICE, service("default", "stuck-long"))

            async def in_flight() -> bool:
                return reconciles.active["stuck-long"] == 1

            await eventually(in_flight)
        assert reconciles.active["stuck-long"] == 0
    finally:
        await store.close()
