"""The internal listener as every instance's HTTP proxy (docs/architecture.md, "Addresses"): the URLs
zeroserve hands out work from stock clients (urllib, aiohttp) given ``http_proxy``; other hosts are
forwarded as a forward proxy would; system services (the Broker ingress) have a host of their own."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.net.upstreams import Upstream, run_upstream
from zeroserve.gateway import Backend, Gateway, RouteEntry, Rule
from zeroserve.gateway.routing import host_port, is_cluster_local
from zeroserve.gateway.server import is_local_address

INGRESS_HOST = "broker-ingress.knative-eventing.svc.cluster.local"


def route() -> RouteEntry:
    targets = (Backend("default", "hello-00001", 100),)
    return RouteEntry(
        "default",
        "hello",
        1,
        (
            Rule(("hello.default", "hello.default.svc", "hello.default.svc.cluster.local"), "ClusterLocal", targets),
            Rule(("hello.default.localhost",), "ExternalIP", targets),
        ),
    )


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Gateway, Upstream, Upstream]]:
    async with run_upstream("hello-00001") as app, run_upstream("elsewhere") as other:
        gw = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
        await gw.start()
        gw.set_endpoints("default", "hello-00001", [("127.0.0.1", app.port)])
        gw.publish(route())
        try:
            yield gw, app, other
        finally:
            await gw.stop(1)


def urllib_get(proxy: str, url: str) -> tuple[int, str]:
    """A stock urllib client given ``http_proxy`` (what an instance's environment sets)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_urls_zeroserve_hands_out_resolve_through_the_proxy(setup: tuple[Gateway, Upstream, Upstream]) -> None:
    gw, _, _ = setup
    assert gw.ports is not None
    proxy = f"http://127.0.0.1:{gw.ports[1]}"
    for url in (
        "http://hello.default.svc.cluster.local/",
        "http://hello.default.svc/",
        f"http://hello.default.localhost:{gw.ports[0]}/",  # a Service URL: no resolver knows *.localhost
    ):
        assert await asyncio.to_thread(urllib_get, proxy, url) == (200, "hello from hello-00001"), url
    status, body = await asyncio.to_thread(urllib_get, proxy, "http://nope.default.svc.cluster.local/")
    assert status == 404 and "hello.default.svc.cluster.local" in body


async def test_other_hosts_are_forwarded_as_a_proxy_forwards(setup: tuple[Gateway, Upstream, Upstream]) -> None:
    gw, _, other = setup
    assert gw.ports is not None
    ext, internal = gw.ports
    proxy = f"http://127.0.0.1:{internal}"
    async with aiohttp.ClientSession() as http:
        for host in ("127.0.0.1", "localhost"):
            async with http.get(f"http://{host}:{other.port}/", proxy=proxy) as resp:
                assert (resp.status, await resp.text()) == (200, "hello from elsewhere"), host
        for port in (ext, internal):  # never to the gateway itself
            async with http.get(f"http://localhost:{port}/", proxy=proxy) as resp:
                assert resp.status == 403
        async with http.get(f"http://nope.localhost:{other.port}/", proxy=proxy) as resp:
            assert resp.status == 404
        # A request *to* the internal listener (not through it) for an unknown host is still a 404.
        async with http.get(f"http://127.0.0.1:{internal}/", headers={"Host": f"127.0.0.1:{other.port}"}) as resp:
            assert resp.status == 404


async def test_a_system_service_has_its_host_on_the_internal_listener(
    setup: tuple[Gateway, Upstream, Upstream],
) -> None:
    gw, _, other = setup
    assert gw.ports is not None
    ext, internal = gw.ports
    gw.publish_service(INGRESS_HOST, ("127.0.0.1", other.port))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{internal}/", headers={"Host": INGRESS_HOST}) as resp:
            assert (resp.status, await resp.text()) == (200, "hello from elsewhere")
        async with http.get(f"http://{INGRESS_HOST}/", proxy=f"http://127.0.0.1:{internal}") as resp:
            assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{ext}/", headers={"Host": INGRESS_HOST}) as resp:
            assert resp.status == 404  # not on the external listener


async def test_the_platforms_listeners_are_never_forwarded_to(setup: tuple[Gateway, Upstream, Upstream]) -> None:
    """A protected port (the API's, the registry's) on any spelling of a local address is refused;
    the same host on another port is forwarded."""
    gw, _, other = setup
    assert gw.ports is not None
    proxy = f"http://127.0.0.1:{gw.ports[1]}"
    gw.protect(other.port)  # stands for the API
    spellings = ("127.0.0.1", "localhost", "127.1", "0", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0")
    async with aiohttp.ClientSession() as http:
        for host in spellings:
            async with http.get(f"http://{host}:{other.port}/", proxy=proxy) as resp:
                assert resp.status == 403, host
                assert "one of zeroserve's own listeners" in await resp.text()
        async with http.get(f"http://localhost:{gw.ports[0]}/", proxy=proxy) as resp:
            assert resp.status == 403  # the gateway's own ports are always protected


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("0.0.0.0", True),
        ("::", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
        ("nonsense", True),
    ],
)
def test_is_local_address(address: str, local: bool) -> None:
    assert is_local_address(address) is local


@pytest.mark.parametrize(
    ("host", "port"),
    [("example.com", 80), ("example.com:8080", 8080), ("[::1]:81", 81), ("[::1]", 80), ("x:y", None), ("x:0", None)],
)
def test_host_port(host: str, port: int | None) -> None:
    assert host_port(host) == port


def test_cluster_local() -> None:
    assert is_cluster_local("a.b.svc.cluster.local") and is_cluster_local("a.b.svc")
    assert not is_cluster_local("a.b") and not is_cluster_local("svc.example.com")
