"""Request logs, as Knative's queue-proxy writes them (serving ``pkg/http/request_log.go``).

config-observability's ``logging.enable-request-log`` turns them on; each request that passes the
queue-proxy is then written as one line rendered from ``logging.request-log-template``, a Go
``text/template`` (:mod:`zeroserve.config.gotemplate`) over Knative's ``RequestLogTemplateInput``:

* ``.Request``: Go's ``*http.Request`` as the queue-proxy's server sees it: ``Method``, ``URL``
  (``*url.URL``: ``Path``, ``RawQuery``, ``String``...), ``Proto`` (``HTTP/1.1``), ``ProtoMajor``,
  ``ProtoMinor``, ``Header`` (``http.Header``, canonical keys, with ``Get``/``Values``),
  ``ContentLength`` (-1 for a chunked body), ``TransferEncoding``, ``Close``, ``Host``,
  ``RemoteAddr``, ``RequestURI`` and the methods ``UserAgent`` and ``Referer``;
* ``.Response``: ``Code``, ``Size`` (body bytes written) and ``Latency`` (seconds, a float64);
* ``.Revision``: ``Name``, ``Namespace``, ``Service``, ``Configuration``, ``PodName``, ``PodIP``;
* ``.TraceID``: the incoming ``traceparent``'s trace id, else ``X-B3-TraceId`` (``ExtractTraceID``).

The line gets a newline when the template has none (``SetTemplate``); a template that fails to
execute writes Knative's ``Invalid request log template: ...`` line instead. Probe requests
(``K-Network-Probe``, ``K-Kubelet-Probe`` or a ``kube-probe/`` User-Agent: ``IsProbe``) are written
only with ``logging.enable-probe-request-log``.

Cost: nothing is done per request while request logs are off. While on, a request hands over what
it needs (its head, status, size, times) when it is over; rendering and writing happen after the
response went out, in one batch per event-loop turn (:meth:`RequestLog.record`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from zeroserve.config import ObservabilityConfig
from zeroserve.config.gotemplate import ExecError, FuncError, Method, Struct, Template, TypedMap, Value
from zeroserve.config.gotemplate.values import format_float
from zeroserve.net import headers as h
from zeroserve.net.proxy import RequestHead

logger = logging.getLogger(__name__)

Sink = Callable[[bytes], None]

TEMPLATE_NAME: Final = "requestLog"


@dataclass(frozen=True)
class RevisionInfo:
    """``RequestLogRevision``: what the template's ``.Revision`` holds (static per instance)."""

    name: str = ""
    namespace: str = ""
    service: str = ""
    configuration: str = ""
    pod_name: str = ""
    pod_ip: str = ""

    def value(self) -> Struct:
        return Struct(
            "*http.RequestLogRevision",
            {
                "Name": self.name,
                "Namespace": self.namespace,
                "Service": self.service,
                "Configuration": self.configuration,
                "PodName": self.pod_name,
                "PodIP": self.pod_ip,
            },
        )


@dataclass(frozen=True)
class RequestLogSettings:
    """The request-log part of config-observability; a sidecar reads it from ``OBSERVABILITY_CONFIG``
    (JSON with Knative's keys: ``enableRequestLog``, ``requestLogTemplate``, ``enableProbeRequestLog``)."""

    enabled: bool = False
    template: str = ""
    probes: bool = False

    @classmethod
    def of(cls, o: ObservabilityConfig) -> RequestLogSettings:
        return cls(o.enable_request_log, o.request_log_template, o.enable_probe_request_log)

    def json_fields(self) -> dict[str, object]:
        """Its members of ``OBSERVABILITY_CONFIG`` (Go's ``omitempty``), as Knative's revision reconciler sets them."""
        data: dict[str, object] = {}
        if self.enabled:
            data["enableRequestLog"] = True
        if self.template:
            data["requestLogTemplate"] = self.template
        if self.probes:
            data["enableProbeRequestLog"] = True
        return data

    @classmethod
    def from_json(cls, text: str) -> RequestLogSettings:
        """``OBSERVABILITY_CONFIG`` as the queue-proxy reads it; ValueError when it is not that JSON."""
        if not text.strip():
            return cls()
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("must be a JSON object")
        template = data.get("requestLogTemplate", "")
        enabled, probes = data.get("enableRequestLog", False), data.get("enableProbeRequestLog", False)
        if not isinstance(template, str) or not isinstance(enabled, bool) or not isinstance(probes, bool):
            raise ValueError("requestLogTemplate must be a string, enableRequestLog and enableProbeRequestLog booleans")
        return cls(enabled, template, probes)


# ----------------------------------------------------------------------------- the template's data


def canonical_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``; a name with
    a byte that is not a token character is returned unchanged."""
    if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_value(headers: h.Headers) -> TypedMap:
    """``http.Header`` of a request: canonical keys, values in order (Host is not among them, as Go's)."""
    items: dict[str, Value] = {}
    for raw_name, raw_value in headers:
        name = canonical_key(raw_name.decode("latin-1"))
        if name == "Host":
            continue
        values = items.setdefault(name, [])
        assert isinstance(values, list)
        values.append(raw_value.decode("utf-8", errors="replace"))
    return TypedMap("http.Header", items, _header_methods(items))


def _header_methods(items: Mapping[str, Value]) -> dict[str, Method]:
    def values(key: str) -> list[Value]:
        found = items.get(canonical_key(key))
        return list(found) if isinstance(found, list) else []

    def get(key: str) -> Value:
        found = values(key)
        return found[0] if found else ""

    return {"Get": Method(get, ("string",)), "Values": Method(values, ("string",))}


def url_value(target: str, absolute: bool) -> Struct:
    """``*url.URL`` of a request target as Go's server parses it (``url.ParseRequestURI``)."""
    scheme = host = ""
    rest = target
    if absolute:
        parts = urllib.parse.urlsplit(target)
        scheme, host = parts.scheme, parts.netloc
        rest = parts.path + ("?" + parts.query if parts.query else "")
    raw_path, sep, query = rest.partition("?")
    path = urllib.parse.unquote(raw_path)
    escaped = raw_path if urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~") != raw_path else ""

    def escaped_path() -> Value:
        return escaped or urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")

    def request_uri() -> Value:
        return f"{escaped_path() or '/'}{sep}{query}"

    def string() -> Value:
        prefix = f"{scheme}://{host}" if scheme else (f"//{host}" if host else "")
        return f"{prefix}{escaped_path()}{sep}{query}"

    fields: dict[str, Value] = {
        "Scheme": scheme,
        "Opaque": "",
        "Host": host,
        "Path": path,
        "RawPath": escaped,
        "ForceQuery": bool(sep) and not query,
        "RawQuery": query,
        "Fragment": "",
        "RawFragment": "",
    }
    methods = {
        "String": Method(string),
        "EscapedPath": Method(escaped_path),
        "RequestURI": Method(request_uri),
        "Hostname": Method(lambda: urllib.parse.urlsplit("//" + host).hostname or ""),
        "Port": Method(lambda: str(urllib.parse.urlsplit("//" + host).port or "")),
        "Query": Method(lambda: _query(query)),
    }
    return Struct("*url.URL", fields, methods)


def _query(raw: str) -> Value:
    values: dict[str, Value] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        found = values.setdefault(key, [])
        assert isinstance(found, list)
        found.append(value)
    return TypedMap("url.Values", values, {"Get": Method(lambda k: _first(values.get(k)), ("string",))})


def _first(found: Value) -> Value:
    return found[0] if isinstance(found, list) and found else ""


def _content_length(headers: h.Headers) -> tuple[int, list[Value]]:
    """Go's ``ContentLength`` (-1: unknown, a chunked body) and ``TransferEncoding``."""
    encoding = h.get(headers, b"transfer-encoding")
    if encoding is not None and b"chunked" in encoding.lower():
        return -1, ["chunked"]
    length = h.get(headers, b"content-length")
    try:
        return (int(length), []) if length is not None else (0, [])
    except ValueError:
        return 0, []


def request_value(head: RequestHead) -> Struct:
    """``*http.Request`` as the template sees it."""
    header = header_value(head.headers)
    major, _, minor = head.version.partition(".")
    length, encoding = _content_length(head.headers)
    client = head.client
    remote = (
        "" if client is None else (f"[{client[0]}]:{client[1]}" if ":" in client[0] else f"{client[0]}:{client[1]}")
    )
    connection = (h.get(head.headers, b"connection") or b"").lower()
    fields: dict[str, Value] = {
        "Method": head.method,
        "URL": url_value(head.path, head.absolute),
        "Proto": f"HTTP/{head.version}" if "." in head.version else "HTTP/2.0",
        "ProtoMajor": int(major) if major.isdigit() else 2,
        "ProtoMinor": int(minor) if minor.isdigit() else 0,
        "Header": header,
        "ContentLength": length,
        "TransferEncoding": encoding,
        "Close": b"close" in connection or (head.version == "1.0" and b"keep-alive" not in connection),
        "Host": head.host,
        "RemoteAddr": remote,
        "RequestURI": head.path,
    }
    get = header.methods["Get"].fn
    methods = {"UserAgent": Method(lambda: get("User-Agent")), "Referer": Method(lambda: get("Referer"))}
    return Struct("*http.Request", fields, methods)


def trace_id(headers: h.Headers) -> str:
    """Knative's ``ExtractTraceID``: W3C ``traceparent``'s second field, else ``X-B3-TraceId``."""
    parent = h.get(headers, b"traceparent")
    if parent:
        parts = parent.decode("latin-1").split("-", 2)
        if len(parts) >= 2:
            return parts[1]
    b3 = h.get(headers, b"x-b3-traceid")
    return b3.decode("latin-1") if b3 else ""


def is_probe(headers: h.Headers) -> bool:
    """Knative's ``header.IsProbe``: a kubelet probe (``kube-probe/`` User-Agent or ``K-Kubelet-Probe``)
    or a ``K-Network-Probe``."""
    agent = h.get(headers, b"user-agent")
    if agent is not None and agent.startswith(b"kube-probe/"):
        return True
    return bool(h.get(headers, b"k-kubelet-probe")) or bool(h.get(headers, b"k-network-probe"))


def template_input(head: RequestHead, revision: Struct, code: int, size: int, latency: float) -> Struct:
    return Struct(
        "*http.RequestLogTemplateInput",
        {
            "Request": request_value(head),
            "Response": Struct("*http.RequestLogResponse", {"Code": code, "Size": size, "Latency": latency}),
            "Revision": revision,
            "TraceID": trace_id(head.headers),
        },
    )


def parse_template(text: str) -> Template | None:
    """Knative's ``SetTemplate``: None for an empty template (no logs); a newline is added when the
    text has none at its end. :class:`~zeroserve.config.gotemplate.ParseError` with Go's message."""
    if not text:
        return None
    return Template.parse(TEMPLATE_NAME, text if text.endswith("\n") else text + "\n")


# ----------------------------------------------------------------------------- the writer


class _Record:
    __slots__ = ("code", "ended", "head", "revision", "sink", "size", "started")

    def __init__(self, sink: Sink, revision: Struct, head: RequestHead, started: float, code: int, size: int) -> None:
        self.sink, self.revision, self.head = sink, revision, head
        self.started, self.code, self.size = started, code, size
        self.ended = time.monotonic()


class RequestLog:
    """Renders request lines with the current template and hands them to each instance's sink.

    :meth:`watch` gives the ``RequestHead.on_done`` callback of one request (None while logs are
    off, or for a probe while probe logs are off); the line is rendered and written after the
    response, in a batch per event-loop turn."""

    def __init__(self, settings: RequestLogSettings = RequestLogSettings()) -> None:
        self._template: Template | None = None
        self._probes = False
        self._pending: list[_Record] = []
        self._scheduled = False
        self.configure(settings)

    @property
    def enabled(self) -> bool:
        return self._template is not None

    def configure(self, settings: RequestLogSettings) -> None:
        """Take new settings; a template that does not parse raises and changes nothing."""
        template = parse_template(settings.template) if settings.enabled else None
        self._template, self._probes = template, settings.probes

    def watch(self, head: RequestHead, sink: Sink, revision: Struct) -> Callable[[RequestHead, int, int], None] | None:
        if self._template is None or (not self._probes and is_probe(head.headers)):
            return None
        started = time.monotonic()

        def done(head: RequestHead, code: int, size: int) -> None:
            self.record(_Record(sink, revision, head, started, code, size))

        return done

    def record(self, record: _Record) -> None:
        self._pending.append(record)
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a test calling it directly): now
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        template = self._template
        if template is None:
            return
        lines: dict[Sink, list[bytes]] = {}
        for r in pending:
            lines.setdefault(r.sink, []).append(self.render(template, r))
        for sink, chunk in lines.items():
            try:
                sink(b"".join(chunk))
            except (OSError, ValueError) as err:  # a closed file: the instance is gone
                logger.debug("request log not written: %s", err)

    @staticmethod
    def render(template: Template, r: _Record) -> bytes:
        latency = r.ended - r.started
        data = template_input(r.head, r.revision, r.code, r.size, latency)
        try:
            return template.execute(data).encode()
        except (ExecError, FuncError):
            url = r.head.path
            line = (
                f"Invalid request log template: method: {r.head.method}, response code: {r.code}, "
                f"latency: {format_float(latency)}, url: {url}\n"
            )
            return line.encode()


class _Instance:
    __slots__ = ("file", "revision")

    def __init__(self, file: SinkFile, revision: Struct) -> None:
        self.file, self.revision = file, revision


class SinkFile(Protocol):
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class InstanceLogs:
    """The inline queue-proxies' request logs (``zeroserve up``'s default mode): per instance address,
    its revision and the file its sidecar's stdout would go to (``open_file(info)``), so that
    ``kubectl logs POD -c queue-proxy`` shows the lines as it shows a sidecar's.

    The gateway and the activator call :meth:`watch` for each request they hand to an instance,
    and only while request logs are on (they hold this object then, None otherwise)."""

    def __init__(self, log: RequestLog, open_file: Callable[[RevisionInfo], SinkFile]) -> None:
        self.log = log
        self._open = open_file
        self._instances: dict[tuple[str, int], _Instance] = {}
        self._by_revision: dict[tuple[str, str], set[tuple[str, int]]] = {}

    def watch(self, head: RequestHead, address: tuple[str, int]) -> None:
        instance = self._instances.get(address)
        if instance is not None:
            head.on_done = self.log.watch(head, instance.file.write, instance.revision)

    def set_instances(self, namespace: str, revision: str, infos: Mapping[tuple[str, int], RevisionInfo]) -> None:
        """The ready instances of a revision now (replaces the previous ones; their files close once
        the lines of requests still in flight are written)."""
        key = (namespace, revision)
        gone = self._by_revision.get(key, set()) - set(infos)
        for address, info in infos.items():
            if address not in self._instances:
                try:
                    self._instances[address] = _Instance(self._open(info), info.value())
                except OSError as err:
                    logger.warning("request log of %s/%s: %s", namespace, info.pod_name, err)
        for address in gone:
            instance = self._instances.pop(address, None)
            if instance is not None:
                _close_later(instance.file)
        if infos:
            self._by_revision[key] = set(infos)
        else:
            self._by_revision.pop(key, None)

    def close(self) -> None:
        for instance in self._instances.values():
            instance.file.close()
        self._instances.clear()
        self._by_revision.clear()


def _close_later(file: SinkFile) -> None:
    """Close after the lines pending now are written (a request ending as its instance leaves)."""
    try:
        asyncio.get_running_loop().call_later(1.0, file.close)
    except RuntimeError:
        file.close()


__all__ = [
    "InstanceLogs",
    "RequestLog",
    "RequestLogSettings",
    "RevisionInfo",
    "canonical_key",
    "is_probe",
    "parse_template",
    "request_value",
    "template_input",
    "trace_id",
]
