"""A DomainMapping's host on the real gateway: served as its target's cluster-local host, with the
Host the client sent (Knative: pkg/reconciler/domainmapping/resources/ingress.go rewrites the Host
and appends K-Original-Host; pkg/queue/handler.go's RewriteHostOut gives the app the mapped host)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.net.upstreams import run_upstream
from zeroserve.controller.ingress import HostMapping
from zeroserve.gateway import Backend, Gateway, RouteEntry, Rule

HOST = "hello.example.com"


def route(generation: int, revision: str) -> RouteEntry:
    targets = (Backend("default", revision, 100),)
    return RouteEntry(
        "default",
        "hello",
        generation,
        (
            Rule(("hello.default", "hello.default.svc", "hello.default.svc.cluster.local"), "ClusterLocal", targets),
            Rule(("hello.default.localhost",), "ExternalIP", targets),
        ),
    )


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, int, int]]:
    async with run_upstream("hello-00001") as one, run_upstream("hello-00002") as two:
        gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
        ext, internal = await gw.start()
        for up in (one, two):
            gw.set_endpoints("default", up.name, [("127.0.0.1", up.port)])
        try:
            yield gw, ext, internal
        finally:
            await gw.stop(1)


async def get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}) as r:
        return r.status, await r.text()


async def test_a_mapped_host_follows_its_routes_split_and_keeps_its_host(
    gateway: tuple[Gateway, int, int],
) -> None:
    gw, ext, internal = gateway
    gw.publish(route(1, "hello-00001"))
    assert (await get(ext, HOST))[0] == 404
    mapping = HostMapping("default", HOST, 1, "hello.default.svc.cluster.local")
    assert not gw.is_mapping_ready("default", HOST, 1)
    gw.publish_mapping(mapping)
    assert gw.is_mapping_ready("default", HOST, 1) and not gw.is_mapping_ready("other", HOST, 1)
    assert await get(ext, "Hello.Example.com:8080") == (200, "hello from hello-00001")
    assert await get(internal, HOST) == (200, "hello from hello-00001")
    status, body = await get(ext, HOST, "/headers")
    headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert status == 200 and headers["host"] == HOST and "k-original-host" not in headers

    gw.publish(route(2, "hello-00002"))  # the route's new split applies to the mapped host at once
    assert await get(ext, HOST) == (200, "hello from hello-00002")

    gw.withdraw_mapping("other", HOST)  # another namespace's withdrawal leaves it
    assert (await get(ext, HOST))[0] == 200
    gw.withdraw_mapping("default", HOST)
    assert (await get(ext, HOST))[0] == 404
    assert await get(ext, "hello.default.localhost") == (200, "hello from hello-00002")


async def test_a_mapping_of_an_unserved_host_is_404_until_the_route_comes(gateway: tuple[Gateway, int, int]) -> None:
    gw, ext, _ = gateway
    gw.publish_mapping(HostMapping("default", HOST, 1, "hello.default.svc.cluster.local"))
    assert (await get(ext, HOST))[0] == 404
    gw.publish(route(1, "hello-00001"))
    assert await get(ext, HOST) == (200, "hello from hello-00001")


async def test_a_routes_own_host_wins_over_a_mapping(gateway: tuple[Gateway, int, int]) -> None:
    gw, ext, _ = gateway
    gw.publish(route(1, "hello-00001"))
    gw.publish_mapping(HostMapping("default", "hello.default.localhost", 1, "other.default.svc.cluster.local"))
    assert await get(ext, "hello.default.localhost") == (200, "hello from hello-00001")
