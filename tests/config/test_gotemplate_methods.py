"""Methods of the data in Go's text/template (zeroserve.config.gotemplate): what the request-log
template calls (``.Request.UserAgent``, ``.Request.Header.Get "X"``, ``*url.URL`` printing through
its ``String``). Expected outputs and messages are Go's (text/template exec.go ``evalCall``, fmt's
``handleMethods``)."""

from __future__ import annotations

import pytest

from zeroserve.config.gotemplate import ExecError, FuncError, Method, Struct, Template, TypedMap, Value


def _fail(_key: str) -> Value:
    raise FuncError("no such thing")


HEADER = TypedMap(
    "http.Header",
    {"User-Agent": ["curl/8.5"], "X-Id": ["a", "b"]},
    {
        "Get": Method(lambda k: {"User-Agent": "curl/8.5", "X-Id": "a"}.get(k, ""), ("string",)),
        "Bad": Method(_fail, ("string",)),
    },
)
URL = Struct("*url.URL", {"Path": "/p", "RawQuery": "q=1"}, {"String": Method(lambda: "/p?q=1")})
REQUEST = Struct(
    "*http.Request",
    {"Method": "GET", "Header": HEADER, "URL": URL},
    {"UserAgent": Method(lambda: "curl/8.5"), "Echo": Method(lambda a, b: f"{a}+{b}", ("string", "string"))},
)
DATA = Struct("*http.RequestLogTemplateInput", {"Request": REQUEST})


def run(text: str) -> str:
    return Template.parse("requestLog", text).execute(DATA)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param("{{.Request.UserAgent}}", "curl/8.5", id="method-no-args"),
        pytest.param('{{.Request.Header.Get "X-Id"}}', "a", id="method-of-a-map-type"),
        pytest.param('{{"X-Id" | .Request.Header.Get}}', "a", id="piped-argument"),
        pytest.param('{{.Request.Echo "a" "b"}}', "a+b", id="two-arguments"),
        pytest.param('{{index .Request.Header "X-Id"}}', "[a b]", id="still-a-map"),
        pytest.param("{{.Request.URL}}", "/p?q=1", id="stringer-prints"),
        pytest.param(
            '{{printf "%s|%v|%q" .Request.URL .Request.URL .Request.URL}}',
            '/p?q=1|/p?q=1|"/p?q=1"',
            id="stringer-printf",
        ),
        pytest.param("{{.Request.URL.Path}}", "/p", id="fields-still-read"),
        pytest.param("{{js .Request.UserAgent}}", "curl/8.5", id="into-a-function"),
        pytest.param('{{printf "%T %T" .Request.Header .Request}}', "http.Header *http.Request", id="type-names"),
        pytest.param("{{with .Request.UserAgent}}ua={{.}}{{end}}", "ua=curl/8.5", id="in-with"),
    ],
)
def test_methods(text: str, want: str) -> None:
    assert run(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{.Request.Header.Get}}",
            'template: requestLog:1:10: executing "requestLog" at <.Request.Header.Get>: '
            "wrong number of args for Get: want 1 got 0",
        ),
        (
            '{{.Request.UserAgent "x"}}',
            'template: requestLog:1:10: executing "requestLog" at <.Request.UserAgent>: '
            "wrong number of args for UserAgent: want 0 got 1",
        ),
        (
            "{{.Request.Header.Get 3}}",
            'template: requestLog:1:22: executing "requestLog" at <3>: expected string; found 3',
        ),
        (
            '{{.Request.Header.Bad "x"}}',
            'template: requestLog:1:10: executing "requestLog" at <.Request.Header.Bad>: '
            "error calling Bad: no such thing",
        ),
    ],
)
def test_method_errors_are_gos(text: str, message: str) -> None:
    with pytest.raises(ExecError) as e:
        run(text)
    assert str(e.value) == message
