"""Tag-header-based routing and the ingress network probe at a real gateway, with real upstreams.

As Knative's ingress serves the Route's KIngress (pkg/reconciler/route/resources/ingress.go, with
config-features ``tag-header-based-routing: Enabled``): on a default host ``Knative-Serving-Tag: TAG``
picks the tag's revision and an unknown tag the default split, which is marked
``Knative-Serving-Default-Route: true``; a tag host sets ``Knative-Serving-Tag: TAG``. Headers an
ingress adds replace the client's (net-kourier sets, not appends). The network probe is
knative/networking's pkg/http/probe.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.net.upstreams import Upstream, run_upstream
from zeroserve.controller.ingress import RouteRule, RouteTable, WeightedTarget, with_tag_header_routing
from zeroserve.gateway import Backend, Gateway
from zeroserve.gateway.routing import RouteEntry, RoutingTable, Rule
from zeroserve.net.proxy import RequestHead, Response, RouteResult
from zeroserve.queue.inline import InlineQueue, InstanceLimits

NEW, OLD = "hello-00002", "hello-00001"
DEFAULT_HOST, TAG_HOST = "hello.default.localhost", "old-hello.default.localhost"
HASH = "K-Network-Hash"


def table(*, tag_header_routing: bool) -> RouteTable:
    new, old = (WeightedTarget("default", NEW, 100),), (WeightedTarget("default", OLD, 100),)
    rules = (
        RouteRule((DEFAULT_HOST,), "ExternalIP", new),
        RouteRule((TAG_HOST,), "ExternalIP", old, "old"),
    )
    return RouteTable("default", "hello", 1, with_tag_header_routing(rules) if tag_header_routing else rules)


@pytest.fixture
async def ups() -> AsyncIterator[dict[str, Upstream]]:
    async with run_upstream(OLD) as one, run_upstream(NEW) as two:
        yield {OLD: one, NEW: two}


async def start(ups: dict[str, Upstream], **kw: Any) -> Gateway:
    gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0), rand=random.Random(7).random, **kw)
    await gw.start()
    for name, up in ups.items():
        gw.set_endpoints("default", name, [("127.0.0.1", up.port)])
    return gw


@pytest.fixture
async def gateway(ups: dict[str, Upstream]) -> AsyncIterator[Gateway]:
    gw = await start(ups)
    yield gw
    await gw.stop(1)


async def seen(gw: Gateway, host: str, **headers: str) -> tuple[str, dict[str, str]]:
    """(the revision that answered, the Knative headers it got) for a GET /headers."""
    assert gw.ports is not None
    sent = {"Host": host} | {k.replace("_", "-"): v for k, v in headers.items()}
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{gw.ports[0]}/headers", headers=sent) as r,
    ):
        assert r.status == 200, await r.text()
        body = json.loads(await r.text())
    got: dict[str, str] = {}
    for name, value in body["headers"]:
        if name.lower().startswith("knative-serving-"):
            assert name not in got, f"{name} twice: set, not appended"
            got[name] = value
    return body["name"], got


async def test_a_tag_header_picks_the_tagged_revision_on_the_default_host(gateway: Gateway) -> None:
    gateway.publish(table(tag_header_routing=True))
    assert await seen(gateway, DEFAULT_HOST) == (NEW, {"Knative-Serving-Default-Route": "true"})
    assert await seen(gateway, DEFAULT_HOST, Knative_Serving_Tag="old") == (OLD, {"Knative-Serving-Tag": "old"})
    unknown = {"Knative-Serving-Tag": "nope", "Knative-Serving-Default-Route": "true"}
    assert await seen(gateway, DEFAULT_HOST, Knative_Serving_Tag="nope") == (NEW, unknown)
    spoofed = await seen(gateway, DEFAULT_HOST, Knative_Serving_Default_Route="false")
    assert spoofed == (NEW, {"Knative-Serving-Default-Route": "true"})


async def test_a_tag_host_says_its_tag(gateway: Gateway) -> None:
    gateway.publish(table(tag_header_routing=True))
    assert await seen(gateway, TAG_HOST) == (OLD, {"Knative-Serving-Tag": "old"})
    assert await seen(gateway, TAG_HOST, Knative_Serving_Tag="other") == (OLD, {"Knative-Serving-Tag": "old"})


async def test_without_the_feature_the_tag_header_is_only_passed_on(gateway: Gateway) -> None:
    gateway.publish(table(tag_header_routing=False))
    assert await seen(gateway, DEFAULT_HOST, Knative_Serving_Tag="old") == (NEW, {"Knative-Serving-Tag": "old"})
    assert await seen(gateway, TAG_HOST) == (OLD, {})


async def test_through_the_inline_queue_the_headers_are_set_too(ups: dict[str, Upstream]) -> None:
    inline = InlineQueue()
    for up in ups.values():
        inline.add(("127.0.0.1", up.port), InstanceLimits(container_concurrency=1))
    gw = await start(ups, admission=inline)
    try:
        gw.publish(table(tag_header_routing=True))
        assert await seen(gw, DEFAULT_HOST, Knative_Serving_Tag="old") == (OLD, {"Knative-Serving-Tag": "old"})
        assert await seen(gw, TAG_HOST, Knative_Serving_Tag="x") == (OLD, {"Knative-Serving-Tag": "old"})
        assert await seen(gw, DEFAULT_HOST) == (NEW, {"Knative-Serving-Default-Route": "true"})
    finally:
        await gw.stop(1)


async def test_the_no_endpoints_hook_gets_the_backend_with_its_headers(ups: dict[str, Upstream]) -> None:
    handed: list[Backend] = []

    def no_endpoints(head: RequestHead, backend: Backend) -> RouteResult:
        handed.append(backend)
        return Response(503, b"held\n")

    gw = await start({}, no_endpoints=no_endpoints)
    try:
        gw.publish(table(tag_header_routing=True))
        assert gw.ports is not None
        async with aiohttp.ClientSession() as s:
            for tag in ("old", "nope"):
                url = f"http://127.0.0.1:{gw.ports[0]}/"
                async with s.get(url, headers={"Host": DEFAULT_HOST, "Knative-Serving-Tag": tag}) as r:
                    assert r.status == 503
    finally:
        await gw.stop(1)
    assert [(b.revision, b.headers, b.drop) for b in handed] == [
        (OLD, (), frozenset()),
        (NEW, ((b"Knative-Serving-Default-Route", b"true"),), frozenset({b"knative-serving-default-route"})),
    ]


async def test_the_gateway_answers_the_ingress_network_probe(gateway: Gateway, ups: dict[str, Upstream]) -> None:
    gateway.publish(table(tag_header_routing=False))
    assert gateway.ports is not None
    url = f"http://127.0.0.1:{gateway.ports[0]}/healthz"
    probe = {"Host": DEFAULT_HOST, "K-Network-Probe": "probe", "User-Agent": "Knative-Ingress-Probe"}
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers=probe | {"K-Network-Hash": "abc123"}) as r:
            assert (r.status, await r.text(), r.headers.get("K-Network-Hash")) == (200, "", "abc123")
        async with s.get(url, headers=probe) as r:
            assert (r.status, await r.text()) == (
                400,
                'a probe request must contain a non-empty "K-Network-Hash" header\n',
            )
        async with s.get(url, headers=probe | {"Host": "nope.default.localhost", "K-Network-Hash": "abc"}) as r:
            assert r.status == 404  # a host the gateway does not serve
    assert sum(up.requests for up in ups.values()) == 0


def test_rules_without_headers_are_the_fast_path() -> None:
    entry = RouteEntry("default", "hello", 1, (Rule((DEFAULT_HOST,), "ExternalIP", (Backend("default", NEW, 100),)),))
    targets = RoutingTable([entry]).lookup(DEFAULT_HOST)
    assert targets is not None and not targets.marked and targets.by_tag is None
