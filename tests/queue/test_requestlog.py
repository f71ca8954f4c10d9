"""Request logs as Knative's queue-proxy writes them (serving pkg/http/request_log.go).

The expected lines are what Go gives for Knative's DefaultRequestLogTemplate: ``js`` is Go's
``template.JSEscapeString`` (``\\ ' " < > & =`` escaped, ``=`` as ``\\u003D``, control characters as
``\\u00XX``), ``{{.Response.Latency}}`` a float64 printed with ``%v`` (``strconv.FormatFloat(x, 'g', -1,
64)``), ``ContentLength`` 0 for a request without a body and -1 for a chunked one, ``Proto``
``HTTP/1.1``, ``RemoteAddr`` ``ip:port``, ``RequestURI`` the target as sent, ``ExtractTraceID`` the
second field of ``traceparent``.
"""

from __future__ import annotations

import json

import pytest

from zeroserve.config import DEFAULT_REQUEST_LOG_TEMPLATE
from zeroserve.config.gotemplate import Template
from zeroserve.net.proxy import RequestHead
from zeroserve.queue.requestlog import (
    RequestLog,
    RequestLogSettings,
    RevisionInfo,
    canonical_key,
    is_probe,
    parse_template,
    template_input,
    trace_id,
)

REVISION = RevisionInfo("hello-00001", "default", "hello", "hello", "hello-00001-deployment-abc-xyz", "127.0.0.1")


def head(
    target: str = "/",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
    version: str = "1.1",
) -> RequestHead:
    hs = [(b"Host", b"hello.default.example.com"), *(headers or [])]
    return RequestHead(method, target, version, hs, "hello.default.example.com", ("127.0.0.1", 40000))


def render(text: str, h: RequestHead, code: int = 200, size: int = 5, latency: float = 0.0125) -> str:
    template = parse_template(text)
    assert template is not None
    return template.execute(template_input(h, REVISION.value(), code, size, latency))


def test_knatives_default_template_gives_knatives_line() -> None:
    h = head(
        "/greet?name=a&b=<x>",
        [
            (b"User-Agent", b'Mozilla "5.0"'),
            (b"referer", b"https://ex.com/?q=1"),
            (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ],
    )
    line = render(DEFAULT_REQUEST_LOG_TEMPLATE, h)
    assert line == (
        '{"httpRequest": {"requestMethod": "GET", '
        '"requestUrl": "/greet?name\\u003Da\\u0026b\\u003D\\u003Cx\\u003E", "requestSize": "0", '
        '"status": 200, "responseSize": "5", "userAgent": "Mozilla \\"5.0\\"", "remoteIp": "127.0.0.1:40000", '
        '"serverIp": "127.0.0.1", "referer": "https://ex.com/?q\\u003D1", "latency": "0.0125s", '
        '"protocol": "HTTP/1.1"}, "traceId": "0af7651916cd43dd8448eb211c80319c"}\n'
    )
    decoded = json.loads(line)  # js escapes are valid JSON escapes: the line is a JSON document
    assert decoded["httpRequest"]["requestUrl"] == "/greet?name=a&b=<x>"
    assert decoded["httpRequest"]["userAgent"] == 'Mozilla "5.0"'


def test_default_template_for_a_post_with_a_chunked_body_and_no_agent() -> None:
    h = head("/", [(b"Transfer-Encoding", b"chunked")], method="POST", version="1.0")
    decoded = json.loads(render(DEFAULT_REQUEST_LOG_TEMPLATE, h, code=503, size=0, latency=3.2e-05))
    r = decoded["httpRequest"]
    assert (r["requestMethod"], r["requestSize"], r["status"], r["responseSize"]) == ("POST", "-1", 503, "0")
    assert (r["userAgent"], r["referer"], r["latency"], r["protocol"]) == ("", "", "3.2e-05s", "HTTP/1.0")
    assert decoded["traceId"] == ""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("{{.Request.Method}} {{.Request.Host}} {{.Request.RequestURI}}", "GET hello.default.example.com /a%20b?x=1"),
        ("{{.Request.URL.Path}}|{{.Request.URL.RawQuery}}|{{.Request.URL}}", "/a b|x=1|/a%20b?x=1"),
        ('{{.Request.Header.Get "x-request-id"}} {{index .Request.Header "X-Request-Id"}}', "r1 [r1 r2]"),
        ("{{.Request.ContentLength}} {{.Request.ProtoMajor}}.{{.Request.ProtoMinor}}", "12 1.1"),
        ("{{.Response.Code}} {{.Response.Size}} {{.Response.Latency}}", "200 5 0.0125"),
        (
            "{{.Revision.Name}} {{.Revision.Namespace}} {{.Revision.Service}} {{.Revision.Configuration}} "
            "{{.Revision.PodName}} {{.Revision.PodIP}}",
            "hello-00001 default hello hello hello-00001-deployment-abc-xyz 127.0.0.1",
        ),
        ('{{printf "%d %.3f" .Response.Code .Response.Latency}}', "200 0.013"),
        ("{{urlquery .Request.RequestURI}} {{html .Request.UserAgent}}", "%2Fa%2520b%3Fx%3D1 a&lt;b&gt;"),
    ],
)
def test_what_a_template_can_read(text: str, want: str) -> None:
    h = head(
        "/a%20b?x=1",
        [
            (b"X-Request-ID", b"r1"),
            (b"x-request-id", b"r2"),
            (b"Content-Length", b"12"),
            (b"User-Agent", b"a<b>"),
        ],
    )
    assert render(text, h) == want + "\n"


def test_go_helpers() -> None:
    assert canonical_key("x-b3-traceid") == "X-B3-Traceid"
    assert canonical_key("content-TYPE") == "Content-Type"
    assert canonical_key("bad key") == "bad key"
    assert trace_id([(b"X-B3-TraceId", b"abc")]) == "abc"
    assert trace_id([(b"traceparent", b"00-t1-s1-01"), (b"X-B3-TraceId", b"abc")]) == "t1"
    assert is_probe([(b"User-Agent", b"kube-probe/1.30")])
    assert is_probe([(b"K-Network-Probe", b"queue")])
    assert is_probe([(b"K-Kubelet-Probe", b"1")])
    assert not is_probe([(b"User-Agent", b"curl/8")])


def test_settings_round_trip_through_knatives_json() -> None:
    s = RequestLogSettings(True, "{{.Request.Method}}", True)
    text = json.dumps({"tracing": {"protocol": "none"}, **s.json_fields()})
    assert RequestLogSettings.from_json(text) == s
    assert RequestLogSettings.from_json("") == RequestLogSettings()
    with pytest.raises(ValueError):
        RequestLogSettings.from_json('{"enableRequestLog": "yes"}')


async def test_lines_are_written_after_the_request_in_one_batch_and_probes_only_when_asked() -> None:
    written: list[bytes] = []
    log = RequestLog(RequestLogSettings(True, "{{.Request.Method}} {{.Response.Code}} {{.Revision.PodName}}"))
    rev = REVISION.value()
    for code in (200, 404):
        h = head()
        done = log.watch(h, written.append, rev)
        assert done is not None
        done(h, code, 0)
    assert written == []  # rendered after this turn of the loop, not on the request's path
    assert log.watch(head(headers=[(b"User-Agent", b"kube-probe/1.30")]), written.append, rev) is None
    log.flush()
    assert written == [b"GET 200 hello-00001-deployment-abc-xyz\nGET 404 hello-00001-deployment-abc-xyz\n"]

    log.configure(RequestLogSettings(True, "{{.Request.Method}}", probes=True))
    assert log.watch(head(headers=[(b"K-Kubelet-Probe", b"1")]), written.append, rev) is not None
    log.configure(RequestLogSettings(False, "{{.Request.Method}}"))
    assert log.watch(head(), written.append, rev) is None and not log.enabled


def test_a_template_failing_at_execution_writes_knatives_invalid_line() -> None:
    log = RequestLog(RequestLogSettings(True, "{{.Request.Nope}}"))
    written: list[bytes] = []
    h = head("/x")
    done = log.watch(h, written.append, REVISION.value())
    assert done is not None
    done(h, 200, 3)
    assert len(written) == 1  # no loop: written at once
    line = written[0].decode()
    assert line.startswith("Invalid request log template: method: GET, response code: 200, latency: ")
    assert line.endswith(", url: /x\n")


def test_a_bad_template_raises_and_keeps_the_previous_one() -> None:
    log = RequestLog(RequestLogSettings(True, "{{.Request.Method}}"))
    with pytest.raises(ValueError):
        log.configure(RequestLogSettings(True, "{{.Request.Method"))
    assert log.enabled
    assert isinstance(parse_template("x"), Template)
    assert parse_template("") is None
