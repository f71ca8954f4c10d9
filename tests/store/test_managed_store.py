"""ManagedStore: the controller's writes recorded in managedFields as kube-apiserver records them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from zeroserve.api.kinds import CONFIGMAP, SERVICE
from zeroserve.errors import Conflict
from zeroserve.store.managed import ManagedStore
from zeroserve.store.sqlite import SqliteStore


class FixedClock:
    def monotonic(self) -> float:
        return 0.0

    def wall(self) -> datetime:
        return datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
async def raw() -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(":memory:")
    try:
        yield store
    finally:
        await store.close()


def ksvc() -> dict[str, object]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "img"}]}}},
    }


async def test_creates_updates_and_status_writes_are_the_managers(raw: SqliteStore) -> None:
    store = ManagedStore(raw, "controller", FixedClock())
    created = await store.create(SERVICE, ksvc())
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["time"]) == ("controller", "Update", "2025-01-01T00:00:00Z")
    written = await store.update_status(SERVICE, {**created, "status": {"observedGeneration": 1}})
    status_entry = next(e for e in written["metadata"]["managedFields"] if e.get("subresource") == "status")
    assert status_entry["fieldsV1"] == {"f:status": {".": {}, "f:observedGeneration": {}}}
    assert (await raw.get(SERVICE, "default", "hello"))["metadata"]["managedFields"] == written["metadata"][
        "managedFields"
    ]


async def test_a_stale_write_still_conflicts(raw: SqliteStore) -> None:
    store = ManagedStore(raw, "controller")
    created = await store.create(CONFIGMAP, {"metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}})
    await store.update(CONFIGMAP, {**created, "data": {"a": "2"}})
    with pytest.raises(Conflict):
        await store.update(CONFIGMAP, {**created, "data": {"a": "3"}})


async def test_an_object_nobody_tracked_stays_untracked(raw: SqliteStore) -> None:
    created = await raw.create(CONFIGMAP, {"metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}})
    updated = await ManagedStore(raw, "controller").update(CONFIGMAP, {**created, "data": {"a": "2"}})
    assert "managedFields" not in updated["metadata"]
