"""The official ``kubernetes`` client's CoreV1Api: Secrets, ConfigMaps and Namespaces (sync client in a thread)."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from zeroserve.api import admission
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.config import Config
from zeroserve.store import SqliteStore

TOKEN = "core-token"


async def kube(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    store = await SqliteStore.open(tmp_path / "zeroserve.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status)
    try:
        async with server:
            yield server.url
    finally:
        await store.close()


@pytest.fixture
def core(url: str) -> Iterator[client.CoreV1Api]:
    cfg = client.Configuration(host=url, api_key={"authorization": TOKEN}, api_key_prefix={"authorization": "Bearer"})
    with client.ApiClient(cfg) as api_client:
        yield client.CoreV1Api(api_client)


async def test_secret_through_core_v1_api(core: client.CoreV1Api, tmp_path: Path) -> None:
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name="db", labels={"app": "web"}),
        string_data={"password": "s3cret"},
        type="Opaque",
    )
    created = await kube(core.create_namespaced_secret, "default", body)
    assert created.data == {"password": base64.b64encode(b"s3cret").decode()}
    assert created.string_data is None
    got = await kube(core.read_namespaced_secret, "db", "default")
    assert (got.type, got.data) == ("Opaque", created.data)
    listed = await kube(core.list_namespaced_secret, "default", label_selector="app=web")
    assert [s.metadata.name for s in listed.items] == ["db"]
    patched = await kube(core.patch_namespaced_secret, "db", "default", {"stringData": {"user": "admin"}})
    assert sorted(patched.data) == ["password", "user"], "the client sends a strategic merge patch"
    with pytest.raises(ApiException) as info:
        await kube(core.create_namespaced_secret, "default", client.V1Secret(metadata=client.V1ObjectMeta(name="db")))
    assert info.value.status == 409
    await kube(core.delete_namespaced_secret, "db", "default")
    with pytest.raises(ApiException) as info:
        await kube(core.read_namespaced_secret, "db", "default")
    assert info.value.status == 404
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"s3cret" not in raw and b"czNjcmV0" not in raw


async def test_configmap_and_namespace_through_core_v1_api(core: client.CoreV1Api) -> None:
    namespaces = await kube(core.list_namespace)
    assert [(n.metadata.name, n.status.phase) for n in namespaces.items] == [("default", "Active")]
    with pytest.raises(ApiException) as info:
        await kube(core.create_namespaced_config_map, "team", client.V1ConfigMap(metadata={"name": "c"}))
    assert (info.value.status, 'namespaces \\"team\\" not found' in str(info.value.body)) == (404, True)
    await kube(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"k": "v"}, immutable=True)
    created = await kube(core.create_namespaced_config_map, "team", body)
    assert (created.data, created.immutable) == ({"k": "v"}, True)
    with pytest.raises(ApiException) as info:
        await kube(core.patch_namespaced_config_map, "c", "team", {"data": {"k": "w"}})
    assert info.value.status == 422 and "field is immutable when `immutable` is set" in str(info.value.body)
    everywhere = await kube(core.list_config_map_for_all_namespaces)
    assert [(c.metadata.namespace, c.metadata.name) for c in everywhere.items] == [("team", "c")]
    await kube(core.delete_namespace, "team")
    terminating = await kube(core.read_namespace, "team")
    assert terminating.status.phase == "Terminating" and terminating.metadata.deletion_timestamp is not None
