"""The kn event plugin's ``kn event send`` (knative-extensions/kn-plugin-event: ``--to``, ``--type``,
``--id``, ``--source``, ``--field``, ``--raw-field``, ``--addressable-uri``).

The event is built with the CloudEvents SDK (binary mode, JSON data from the fields) and sent to the
target's address (``http://broker-ingress.knative-eventing.svc.cluster.local/NS/NAME`` for a Broker,
a Service's cluster-local URL, or a URI) through the gateway's internal listener, as instances reach
it (their ``http_proxy``); the answer is printed, and anything but a 2xx is an error.
"""

from __future__ import annotations

import http.client
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urljoin, urlsplit

import typer
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent

from zeroserve import __version__, errors
from zeroserve.api.base import Obj
from zeroserve.cli import addresses
from zeroserve.cli.client import ApiClient
from zeroserve.cli.eventing import SINK_HELP, SINK_KINDS, NsOpt, context_of, parse_sink, resolve_sink

event_app = typer.Typer(help="Build and send CloudEvents (the kn event plugin).", no_args_is_help=True)

DEFAULT_TYPE = "dev.knative.cli.plugin.event.generic"
DEFAULT_SOURCE = f"zeroserve/{__version__}"


def field_value(text: str) -> Any:
    """kn-plugin-event's ``--field`` typing: ``true``/``false``, an integer, a float written as Go's
    ``%f`` writes it (``1.500000``), else the string."""
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if f"{number:f}" == text else text


def event_data(fields: list[str], raw_fields: list[str]) -> Obj:
    """``updateMapWithSpec``: dotted paths into nested objects (``person.age=18``)."""
    data: Obj = {}
    for items, typed in ((fields, True), (raw_fields, False)):
        for item in items:
            path, sep, value = item.partition("=")
            if not sep or not path:
                raise errors.BadRequest(f"invalid format: {item!r} (want PATH=VALUE, e.g. person.age=18)")
            node = data
            keys = path.split(".")
            for key in keys[:-1]:
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    raise errors.BadRequest(f"can't set field: {path!r} path in conflict with value {child!r}")
                node = child
            node[keys[-1]] = field_value(value) if typed else value
    return data


def target_url(client: ApiClient, to: str, namespace: str, addressable_uri: str) -> str:
    """The address ``--to`` names (a Broker's or a Service's, or the URI), ``--addressable-uri`` on it."""
    prefix, name, ref_namespace = parse_sink(to)
    if not prefix:
        url = str(resolve_sink(client, to, namespace)["uri"])
    else:
        kind = SINK_KINDS.get(prefix)
        if kind is None or not name:
            raise errors.BadRequest(f"--to flag has invalid format: {to}")
        obj = client.get(kind, ref_namespace or namespace, name)
        url = str((obj.get("status", {}).get("address") or {}).get("url", ""))
        if not url:
            raise errors.BadRequest(f"{kind.singular} '{name}' has no address yet (is it ready?)")
    return urljoin(url, addressable_uri) if addressable_uri else url


def post(url: str, headers: dict[str, str], body: bytes, proxy: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """POST ``url``: directly to a loopback address, else through the gateway's internal listener."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    direct = host in ("127.0.0.1", "::1", "localhost") or not proxy
    via = urlsplit(url if direct else proxy)
    conn = http.client.HTTPConnection(via.hostname or "", via.port or 80, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "") if direct else url
    try:
        conn.request("POST", target, body=body, headers={**headers, "Host": parts.netloc})
        resp = conn.getresponse()
        return resp.status, resp.reason, resp.read().decode(errors="replace").strip()
    except OSError as e:
        raise errors.BadRequest(f"can't sent event: {url}: {e}") from None
    finally:
        conn.close()


@event_app.command("send")
def event_send(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", "-r", help=SINK_HELP)],
    type_: Annotated[str, typer.Option("--type", "-t", help="Specify a type of a CloudEvent")] = DEFAULT_TYPE,
    id_: Annotated[str | None, typer.Option("--id", "-i", help="Specify a CloudEvent ID [default: a UUID]")] = None,
    source: Annotated[str, typer.Option("--source", "-s", help="Specify a source of an CloudEvent")] = DEFAULT_SOURCE,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A field of the event's data: PATH=VALUE, the value typed (person.age=18)."),
    ] = None,
    raw_field: Annotated[
        list[str] | None, typer.Option("--raw-field", help="A field of the event's data, the value a string.")
    ] = None,
    addressable_uri: Annotated[
        str, typer.Option("--addressable-uri", help="A relative URI of the target addressable.")
    ] = "",
    namespace: NsOpt = "default",
) -> None:
    """Build a CloudEvent and send it: `zeroserve event send --to broker:default --type order.created -f id=1`."""
    context = context_of(ctx)
    url = target_url(context.client(), to, namespace, addressable_uri)
    event_id = id_ or str(uuid.uuid4())
    event = CloudEvent(
        attributes={
            "specversion": "1.0",
            "type": type_,
            "source": source,
            "id": event_id,
            "time": datetime.now(UTC),
            "datacontenttype": "application/json",
        },
        data=event_data(field or [], raw_field or []),
    )
    message = to_binary_event(event)
    status, reason, text = post(url, message.headers, message.body, addresses.internal_url(context))
    if not 200 <= status < 300:
        detail = f": {text}" if text else ""
        raise errors.BadRequest(f"can't sent event: {url} answered {status} {reason}{detail}")
    print(f"Event (ID: {event_id}) have been sent: {status} {reason}.")
