"""The official ``kubernetes`` client's CustomObjectsApi against our server (sync client in a thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.apiserver.apiserver_helpers import TOKEN, Running, running, service

GROUP, VERSION, PLURAL = "serving.knative.dev", "v1", "services"


async def kube(fn: Any, *args: Any) -> Any:
    """Run one blocking client call in a thread."""
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    async for r in running(tmp_path):
        yield r


@pytest.fixture
def custom(api: Running) -> Iterator[client.CustomObjectsApi]:
    config = client.Configuration(
        host=api.url, api_key={"authorization": TOKEN}, api_key_prefix={"authorization": "Bearer"}
    )
    with client.ApiClient(config) as api_client:
        yield client.CustomObjectsApi(api_client)


async def test_crud_with_custom_objects_api(custom: client.CustomObjectsApi) -> None:
    created = await kube(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, service("hello"))
    assert created["metadata"]["generation"] == 1
    got = await kube(custom.get_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "hello")
    assert got == created
    listed = await kube(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["hello"]
    everywhere = await kube(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL)
    assert len(everywhere["items"]) == 1
    patch = {"metadata": {"labels": {"team": "a"}}, "spec": {"template": {"spec": {"containers": [{"image": "i:2"}]}}}}
    patched = await kube(custom.patch_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "hello", patch)
    assert patched["metadata"]["labels"]["team"] == "a"
    assert patched["metadata"]["generation"] == 2
    status = {"status": {"observedGeneration": 2}}
    patched = await kube(
        custom.patch_namespaced_custom_object_status, GROUP, VERSION, "default", PLURAL, "hello", status
    )
    assert patched["status"] == {"observedGeneration": 2}
    await kube(custom.delete_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "hello")
    with pytest.raises(ApiException) as info:
        await kube(custom.get_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "hello")
    assert info.value.status == 404


async def test_invalid_and_unauthorized(api: Running, custom: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as info:
        await asyncio.to_thread(
            custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, service("x", image="")
        )
    assert info.value.status == 422
    anonymous = client.CustomObjectsApi(client.ApiClient(client.Configuration(host=api.url)))
    with pytest.raises(ApiException) as info:
        await kube(anonymous.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
    assert info.value.status == 401
    anonymous.api_client.close()


async def test_watch_stream(custom: client.CustomObjectsApi) -> None:
    await kube(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, service("a"))
    seen_added = threading.Event()
    w: Any = watch.Watch()  # type: ignore[no-untyped-call]

    def consume() -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        stream: Any = w.stream(
            custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, timeout_seconds=60
        )
        for event in stream:
            events.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "ADDED":
                seen_added.set()
            if event["type"] == "MODIFIED":
                w.stop()
        return events

    consumer = asyncio.create_task(asyncio.to_thread(consume))
    assert await asyncio.to_thread(seen_added.wait, 30)
    await kube(
        custom.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "a",
        {"metadata": {"labels": {"x": "y"}}},
    )
    async with asyncio.timeout(60):
        assert await consumer == [("ADDED", "a"), ("MODIFIED", "a")]
