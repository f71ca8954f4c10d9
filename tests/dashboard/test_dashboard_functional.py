"""The dashboard on a real ApiServer (127.0.0.1, a real SqliteStore): login with the token or a
one-time code, the session cookie admitted for reads only, the static files, and the shape of the
``revisions/{name}/timeseries`` document the page plots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest

from tests.apiserver.apiserver_helpers import TOKEN, admit, service
from zeroserve.api.kinds import REVISION
from zeroserve.apiserver import ApiServer
from zeroserve.apiserver.server import JsonSubresource
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.history import COLUMNS, History, Point
from zeroserve.clock import FakeClock
from zeroserve.dashboard.server import COOKIE, Dashboard, Timeseries
from zeroserve.store import SqliteStore

SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"
SERIES = "/apis/serving.knative.dev/v1/namespaces/default/revisions/hello-00001/timeseries"
KEY = DeciderKey("default", "hello-00001")


class Site:
    def __init__(self, url: str, dashboard: Dashboard, history: History, clock: FakeClock) -> None:
        self.url, self.dashboard, self.history, self.clock = url, dashboard, history, clock

    def client(self) -> aiohttp.ClientSession:
        """A browser-like client: keeps cookies (also for 127.0.0.1), follows no redirect by itself."""
        return aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    store = await SqliteStore.open(tmp_path / "state.db")
    clock = FakeClock()
    history = History()
    dashboard = Dashboard(TOKEN, clock)
    server = ApiServer(
        store,
        admit,
        TOKEN,
        subresources={("revisions", "timeseries"): JsonSubresource(Timeseries(history, clock))},
        frontend=dashboard,
    )
    port = await server.start()
    meta = {"name": KEY.revision, "namespace": KEY.namespace}
    await store.create(REVISION, {"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": meta})
    try:
        yield Site(f"http://127.0.0.1:{port}", dashboard, history, clock)
    finally:
        await server.stop()
        await store.close()


def bearer(site: Site) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(site.url, headers={"Authorization": f"Bearer {TOKEN}"})


async def login(http: aiohttp.ClientSession, token: str = TOKEN) -> aiohttp.ClientResponse:
    async with http.post("/dashboard/login", data={"token": token}, allow_redirects=False) as resp:
        await resp.read()
        return resp


async def test_the_page_sends_a_stranger_to_the_login(site: Site) -> None:
    async with site.client() as http:
        async with http.get("/dashboard/", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/dashboard/login")
        async with http.get("/dashboard", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (302, "/dashboard/")
        async with http.get("/dashboard/login") as resp:
            page = await resp.text()
            assert resp.status == 200 and 'name="token"' in page and "{{error}}" not in page
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        async with http.get(SERVICES) as resp:
            assert resp.status == 401  # no token, no session


async def test_a_wrong_token_is_refused_and_the_right_one_opens_a_session(site: Site) -> None:
    async with site.client() as http:
        resp = await login(http, "wrong")
        assert resp.status == 401 and COOKIE not in resp.cookies
        resp = await login(http)
        assert (resp.status, resp.headers["Location"]) == (303, "/dashboard/")
        cookie = SimpleCookie(resp.headers["Set-Cookie"])[COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        assert TOKEN not in resp.headers["Set-Cookie"]
        async with http.get("/dashboard/") as page:
            assert page.status == 200 and '<script src="/dashboard/static/app.js"' in await page.text()


async def test_the_session_reads_the_api_but_cannot_write(site: Site) -> None:
    async with site.client() as http:
        await login(http)
        async with http.get(SERVICES) as resp:
            assert resp.status == 200 and (await resp.json())["kind"] == "ServiceList"
        async with http.post(SERVICES, json=service("hello")) as resp:
            assert resp.status == 401
        async with http.post("/dashboard/codes") as resp:
            assert resp.status == 401  # minting a login link takes the token itself
    async with bearer(site) as http, http.post(SERVICES, json=service("hello")) as resp:
        assert resp.status == 201


async def test_a_one_time_url_works_once(site: Site) -> None:
    url = site.dashboard.one_time_url(site.url)
    assert url.startswith(f"{site.url}/dashboard/login?code=")
    async with site.client() as http:
        async with http.get(url, allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/dashboard/")
        async with http.get(SERVICES) as resp:
            assert resp.status == 200
    async with site.client() as other, other.get(url, allow_redirects=False) as resp:
        assert resp.status == 401 and "already used" in await resp.text()
    async with bearer(site) as http, http.post("/dashboard/codes") as resp:
        fresh = (await resp.json())["url"]
    async with site.client() as third, third.get(fresh, allow_redirects=False) as resp:
        assert resp.status == 303


async def test_sign_out_ends_the_session(site: Site) -> None:
    async with site.client() as http:
        await login(http)
        async with http.post("/dashboard/logout", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/dashboard/login")
        session = site.dashboard.sessions
        assert not any(session.valid(c.value, 0.0) for c in http.cookie_jar)
        async with http.get(SERVICES) as resp:
            assert resp.status == 401


async def test_static_files(site: Site) -> None:
    async with site.client() as http:
        async with http.get("/dashboard/static/app.js") as resp:
            assert resp.status == 200 and resp.content_type == "text/javascript"
            assert "function chart(" in await resp.text()
        async with http.get("/dashboard/static/style.css") as resp:
            assert resp.status == 200 and resp.content_type == "text/css"
        for name in ("index.html", "nothing.js", "..%2Fserver.py"):
            async with http.get(f"/dashboard/static/{name}") as resp:
                assert resp.status == 404, name


async def test_timeseries_document(site: Site) -> None:
    async with site.client() as http:
        await login(http)
        async with http.get(SERIES) as resp:
            assert resp.status == 404  # the autoscaler knows nothing of it yet
        now = site.clock.wall().timestamp()
        site.history.record(KEY, Point(now - 4, 1, 0, 10.0, reasons=("activation scale",)), "concurrency")
        site.history.set_ready(KEY, 1, now - 3)
        site.history.record(KEY, Point(now - 2, 1, 1, 10.0, 3.0, 4.0, 12.0, 3.0), "concurrency")
        async with http.get(SERIES) as resp:
            doc = await resp.json()
        assert doc["namespace"] == "default" and doc["revision"] == "hello-00001"
        assert doc["now"] == now and doc["metric"] == "concurrency" and doc["ready"] == 1
        assert set(doc["columns"]) == set(COLUMNS) and {len(c) for c in doc["columns"].values()} == {2}
        assert doc["columns"]["requestRate"] == [None, 12.0] and doc["columns"]["latencyMs"] == [None, 250.0]
        assert doc["coldStarts"] == [{"start": now - 4, "ready": now - 3, "seconds": 1.0}]
        async with http.get(SERIES, params={"since": str(now - 3)}) as resp:
            assert (await resp.json())["columns"]["time"] == [now - 2]
        async with http.get(SERIES, params={"since": "yesterday"}) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["message"].startswith("since: a number of Unix seconds")
