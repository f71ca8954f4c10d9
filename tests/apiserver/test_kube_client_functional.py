"""The official ``kubernetes`` client's CustomObjectsApi against our server over TLS, configured by
the kubeconfig ``zeroserve up`` writes (sync client in a thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.apiserver.apiserver_helpers import TOKEN, Running, admit, service
from zeroserve.apiserver import ApiServer
from zeroserve.apiserver.certs import ensure_serving_certs
from zeroserve.cli import kubeconfig
from zeroserve.clock import SystemClock
from zeroserve.store import SqliteStore

GROUP, VERSION, PLURAL = "serving.knative.dev", "v1", "services"


async def kube(fn: Any, *args: Any) -> Any:
    """Run one blocking client call in a thread."""
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Running]:
    """A server on https://127.0.0.1:PORT with up's certificates and kubeconfig (tmp_path/kubeconfig)."""
    certs = ensure_serving_certs(tmp_path, SystemClock().wall())
    store = await SqliteStore.open(tmp_path / "state.db")
    server = ApiServer(store, admit, TOKEN)
    port = await server.start(ssl_context=certs.server_context())
    kubeconfig.write(tmp_path / "kubeconfig", kubeconfig.render(server.url, certs.ca_pem(), TOKEN))
    try:
        yield Running(store, server, f"https://127.0.0.1:{port}")
    finally:
        await server.stop()
        await store.close()


@pytest.fixture
def custom(api: Running, tmp_path: Path) -> Iterator[client.CustomObjectsApi]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(tmp_path / "kubeconfig"), client_configuration=cfg)  # type: ignore[no-untyped-call]
    assert cfg.host == api.url
    with client.ApiClient(cfg) as api_client:
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


async def test_invalid_and_unauthorized(api: Running, custom: client.CustomObjectsApi, tmp_path: Path) -> None:
    with pytest.raises(ApiException) as info:
        await asyncio.to_thread(
            custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, service("x", image="")
        )
    assert info.value.status == 422
    anonymous_cfg = client.Configuration(host=api.url)
    anonymous_cfg.ssl_ca_cert = str(tmp_path / "ca.crt")
    anonymous = client.CustomObjectsApi(client.ApiClient(anonymous_cfg))
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


async def test_the_server_is_verified(api: Running, tmp_path: Path) -> None:
    """A client that does not trust zeroserve's CA refuses the connection (the certificate is checked)."""
    untrusting = client.Configuration(host=api.url)
    with client.ApiClient(untrusting) as api_client:
        objects = client.CustomObjectsApi(api_client)
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            await kube(objects.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
