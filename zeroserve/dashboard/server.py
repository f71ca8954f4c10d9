"""The dashboard's pages on the API's listener: ``/dashboard/``, its login and its static files.

The page (``static/index.html`` + ``app.js``, vanilla JS drawing SVG, nothing fetched from outside
127.0.0.1) reads everything through the API itself: the lists of Services, Revisions, Brokers and
Triggers, and per revision the ``timeseries``, ``autoscaler`` and ``log`` subresources. The API
takes the dashboard's session cookie in place of the bearer token for reads only (GET and HEAD:
a page elsewhere cannot make the browser write with it; the cookie is also ``SameSite=Strict``).

Routes: ``GET /dashboard/`` (the page, or a redirect to the login), ``GET|POST /dashboard/login``
(the form taking the token; ``?code=`` redeems a one-time URL), ``POST /dashboard/logout``,
``GET /dashboard/static/NAME``, and ``POST /dashboard/codes`` (bearer token required: a fresh
one-time URL, for ``zeroserve dashboard``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from aiohttp import web

from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.history import History
from zeroserve.clock import Clock
from zeroserve.dashboard.sessions import Sessions, token_matches
from zeroserve.errors import BadRequest

COOKIE: Final = "zeroserve_session"
PREFIX: Final = "/dashboard"
STATIC_DIR: Final = Path(__file__).parent / "static"
CONTENT_TYPES: Final = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
PUBLIC: Final = frozenset({PREFIX, PREFIX + "/", PREFIX + "/login", PREFIX + "/logout"})
USED_CODE: Final = "This login link was already used or has expired: paste the token instead."
BAD_TOKEN: Final = "That is not the token of this zeroserve (DATA/token)."


def _load_static() -> dict[str, tuple[bytes, str]]:
    files = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.suffix in CONTENT_TYPES:
            files[path.name] = (path.read_bytes(), CONTENT_TYPES[path.suffix])
    return files


class Dashboard:
    """The pages and the session check the :class:`~zeroserve.apiserver.server.ApiServer` is given."""

    def __init__(self, token: str, clock: Clock, sessions: Sessions | None = None) -> None:
        self._token = token
        self._clock = clock
        self.sessions = sessions or Sessions()
        self._static = _load_static()

    # ---- what the API server asks -------------------------------------------------------------

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_get(PREFIX, self._to_index)
        router.add_get(PREFIX + "/", self._index)
        router.add_get(PREFIX + "/login", self._login_page)
        router.add_post(PREFIX + "/login", self._login)
        router.add_post(PREFIX + "/logout", self._logout)
        router.add_get(PREFIX + "/static/{name}", self._static_file)
        router.add_post(PREFIX + "/codes", self._new_code)

    def admits(self, request: web.Request) -> bool:
        """Whether ``request`` needs no bearer token: the login and static pages, or a read with a session."""
        path = request.path
        if path in PUBLIC or path.startswith(PREFIX + "/static/"):
            return True
        return request.method in ("GET", "HEAD") and self._has_session(request)

    def one_time_url(self, api_url: str) -> str:
        """A URL that logs a browser in once (``up`` prints one at start)."""
        return f"{api_url}{PREFIX}/login?code={self.sessions.new_code(self._clock.monotonic())}"

    # ---- handlers ------------------------------------------------------------------------------

    def _has_session(self, request: web.Request) -> bool:
        return self.sessions.valid(request.cookies.get(COOKIE), self._clock.monotonic())

    async def _to_index(self, _: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._has_session(request):
            raise web.HTTPSeeOther(PREFIX + "/login")
        return self._page("index.html")

    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        code = request.query.get("code")
        if code is None:
            return self._login_form("")
        session = self.sessions.redeem(code, self._clock.monotonic())
        if session is None:
            return self._login_form(USED_CODE, 401)
        return self._signed_in(request, session)

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = form.get("token")
        if not isinstance(given, str) or not token_matches(given, self._token):
            return self._login_form(BAD_TOKEN, 401)
        return self._signed_in(request, self.sessions.open(self._clock.monotonic()))

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther(PREFIX + "/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        found = self._static.get(request.match_info["name"])
        if found is None or found[1] == "text/html":
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(body=body, content_type=content_type, headers=SECURITY_HEADERS)

    async def _new_code(self, request: web.Request) -> web.StreamResponse:
        base = f"{request.scheme}://{request.host}"
        return web.json_response({"url": self.one_time_url(base)})

    # ---- responses -----------------------------------------------------------------------------

    def _page(self, name: str, replacements: dict[str, str] | None = None, code: int = 200) -> web.Response:
        text = self._static[name][0].decode()
        for key, value in (replacements or {}).items():
            text = text.replace("{{" + key + "}}", value)
        return web.Response(text=text, status=code, content_type="text/html", headers=SECURITY_HEADERS)

    def _login_form(self, error: str, code: int = 200) -> web.Response:
        message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        return self._page("login.html", {"error": message}, code)

    def _signed_in(self, request: web.Request, session: str) -> web.StreamResponse:
        response = web.HTTPSeeOther(PREFIX + "/")
        response.headers.update(SECURITY_HEADERS)
        response.set_cookie(
            COOKIE, session, path="/", httponly=True, samesite="Strict", secure=request.secure, max_age=None
        )
        raise response


class Timeseries:
    """The ``revisions/{name}/timeseries`` document (for a ``JsonSubresource``): ``?since=T`` (Unix
    seconds) keeps the points after T, so the page fetches only what is new."""

    def __init__(self, history: History, clock: Clock) -> None:
        self._history = history
        self._clock = clock

    def __call__(self, request: web.Request, namespace: str, name: str) -> dict[str, object] | None:
        since = request.query.get("since")
        try:
            after = float(since) if since is not None else None
        except ValueError:
            raise BadRequest(f"since: a number of Unix seconds, not {since!r}") from None
        return self._history.document(DeciderKey(namespace, name), self._clock.wall().timestamp(), after)
