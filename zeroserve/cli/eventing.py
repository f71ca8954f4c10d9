"""``kn broker``, ``kn trigger`` and the kn event plugin's ``kn event send``.

Follows knative/client ``pkg/commands/{broker,trigger}`` (flags, sink forms, list columns, describe
layout, the messages printed) and knative-extensions/kn-plugin-event (``send``: ``--to``, ``--type``,
``--id``, ``--source``, ``--field``, ``--raw-field``, ``--addressable-uri``). Sinks are kn's:
``ksvc:NAME[:NAMESPACE]`` or a bare name (a Knative Service), ``broker:NAME[:NAMESPACE]``, or an
``http(s)://`` URI; kn reads a named target, so it must exist.

``event send`` reaches the target's address (``http://broker-ingress.knative-eventing.svc.cluster.local/
NS/NAME`` for a Broker, a Service's cluster-local URL) through the gateway's internal listener, as
instances do (its ``http_proxy``), and prints the answer; anything but a 2xx is an error.
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
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import addresses, output
from zeroserve.cli.client import ApiClient
from zeroserve.cli.context import Context
from zeroserve.cli.describe import tabbed

broker_app = typer.Typer(help="Manage message brokers (kn broker).", no_args_is_help=True)
trigger_app = typer.Typer(help="Manage event triggers (kn trigger).", no_args_is_help=True)
event_app = typer.Typer(help="Build and send CloudEvents (the kn event plugin).", no_args_is_help=True)

NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
AllNsOpt = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")]
SINK_HELP = (
    "Addressable sink for events: 'ksvc:mysvc' or simply 'mysvc' for a Knative service, "
    "'ksvc:mysvc:mynamespace' for one in another namespace, 'broker:nest' for a broker, "
    "'https://event.receiver.uri' for an HTTP URI."
)
SINK_KINDS: dict[str, kinds.Kind] = {"ksvc": kinds.SERVICE, "broker": kinds.BROKER}
DEFAULT_TYPE = "dev.knative.cli.plugin.event.generic"
DEFAULT_SOURCE = f"zeroserve/{__version__}"


def _context(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def _client(ctx: typer.Context) -> ApiClient:
    return _context(ctx).client()


# ----------------------------------------------------------------------------- sinks


def parse_sink(sink: str) -> tuple[str, str, str]:
    """kn's ``parseSink``: (prefix, name, namespace); ("", URI, "") for an http(s) URI."""
    parts = sink.split(":", 2)
    if len(parts) == 1:
        return "ksvc", parts[0], ""
    if parts[0] in ("http", "https"):
        return "", sink, ""
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], parts[1], ""


def resolve_sink(client: ApiClient, sink: str, namespace: str) -> Obj:
    """kn's ``ResolveSink``: a Destination (a ref to the target, which must exist, or a URI)."""
    prefix, name, ref_namespace = parse_sink(sink)
    if not prefix:
        parts = urlsplit(name)
        if not parts.scheme or not parts.hostname:
            raise errors.BadRequest(f"sink has invalid format: {sink!r} is not an absolute URI")
        return {"uri": name}
    kind = SINK_KINDS.get(prefix)
    if kind is None:
        known = ", ".join(f"'{p}'" for p in SINK_KINDS)
        raise errors.BadRequest(f"sink has invalid format: unsupported sink prefix '{prefix}' (use {known} or a URI)")
    if not name:
        raise errors.BadRequest(f"sink has invalid format: {sink!r} names nothing")
    target_ns = ref_namespace or namespace
    obj = client.get(kind, target_ns, name)
    ref = {"apiVersion": obj.get("apiVersion", kind.api_version), "kind": kind.kind, "name": name}
    if ref_namespace:
        ref["namespace"] = target_ns
    return {"ref": ref}


def sink_text(dest: Obj) -> str:
    """kn's ``SinkToString``: ``ksvc:NAME``, ``broker:NAME`` or the URI."""
    ref = dest.get("ref") or {}
    prefix = {"Service": "ksvc", "Broker": "broker"}.get(str(ref.get("kind", "")), str(ref.get("kind", "")).lower())
    if ref:
        return f"{prefix}:{ref.get('name', '')}" + (f"/{dest['uri']}" if dest.get("uri") else "")
    return str(dest.get("uri", ""))


def _conditions(obj: Obj, now: datetime) -> list[str]:
    return ["Conditions:", *("  " + line for line in output.conditions_table(obj, now).splitlines())]


def _metadata(obj: Obj, now: datetime) -> list[str]:
    meta = obj.get("metadata", {})
    lines = [f"Name:\t{meta.get('name', '')}", f"Namespace:\t{meta.get('namespace', '')}"]
    for label, values in (("Labels", meta.get("labels")), ("Annotations", meta.get("annotations"))):
        if values:
            lines.append(f"{label}:\t" + ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
    lines.append(f"Age:\t{output.age(meta.get('creationTimestamp'), now)}")
    return lines


def _list_rows(items: list[Obj], all_namespaces: bool, headers: list[str], row: Any) -> str:
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    rows = [row(o) for o in items]
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        rows = [[o["metadata"].get("namespace", ""), *r] for o, r in zip(items, rows, strict=True)]
    return output.table(headers, rows)


# ----------------------------------------------------------------------------- broker


def _delivery(
    client: ApiClient,
    namespace: str,
    dl_sink: str | None,
    retry: int | None,
    timeout: str | None,
    backoff_policy: str | None,
    backoff_delay: str | None,
    retry_after_max: str | None,
) -> Obj | None:
    delivery: Obj = {}
    if dl_sink:
        delivery["deadLetterSink"] = resolve_sink(client, dl_sink, namespace)
    for key, value in (
        ("retry", retry),
        ("timeout", timeout),
        ("backoffPolicy", backoff_policy),
        ("backoffDelay", backoff_delay),
        ("retryAfterMax", retry_after_max),
    ):
        if value not in (None, ""):
            delivery[key] = value
    return delivery or None


@broker_app.command("create")
def broker_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    class_: Annotated[
        str, typer.Option("--class", help="Broker class like 'MTChannelBasedBroker' or 'Kafka' (if available).")
    ] = "",
    dl_sink: Annotated[
        str | None, typer.Option("--dl-sink", help="The sink receiving event that could not be sent to a destination.")
    ] = None,
    retry: Annotated[
        int | None,
        typer.Option(help="The minimum number of retries the sender should attempt before the dead letter sink."),
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(help="The timeout of each single request (ISO-8601, e.g. PT5S).")
    ] = None,
    backoff_policy: Annotated[str | None, typer.Option(help="The retry backoff policy (linear, exponential).")] = None,
    backoff_delay: Annotated[
        str | None, typer.Option(help="The delay before retrying (ISO-8601, e.g. PT0.2S).")
    ] = None,
    retry_after_max: Annotated[
        str | None,
        typer.Option(help="Upper bound on a Retry-After header's wait (ISO-8601; needs delivery-retryafter)."),
    ] = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a broker: `zeroserve broker create default`."""
    client = _client(ctx)
    meta: Obj = {"name": name, "namespace": namespace}
    if class_:
        meta["annotations"] = {"eventing.knative.dev/broker.class": class_}
    spec: Obj = {}
    delivery = _delivery(client, namespace, dl_sink, retry, timeout, backoff_policy, backoff_delay, retry_after_max)
    if delivery is not None:
        spec["delivery"] = delivery
    broker = {"apiVersion": kinds.BROKER.api_version, "kind": kinds.BROKER.kind, "metadata": meta, "spec": spec}
    try:
        client.create(kinds.BROKER, broker)
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot create broker '{name}' in namespace '{namespace}' because: {e}") from None
    print(f"Broker '{name}' successfully created in namespace '{namespace}'.")


@broker_app.command("list")
def broker_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List brokers (NAME URL AGE CONDITIONS READY REASON)."""
    items = _client(ctx).list(kinds.BROKER, None if all_namespaces else namespace).get("items") or []
    if not items:
        print("No brokers found.")
        return
    now = output.now_utc()

    def row(o: Obj) -> list[str]:
        status = o.get("status", {})
        return [
            o["metadata"]["name"],
            str((status.get("address") or {}).get("url", "")),
            output.age(o["metadata"].get("creationTimestamp"), now),
            output.conditions_summary(o),
            *output.ready_columns(o),
        ]

    headers = ["NAME", "URL", "AGE", "CONDITIONS", "READY", "REASON"]
    print(_list_rows(items, all_namespaces, headers, row))


@broker_app.command("describe")
def broker_describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml, json or url.")] = None,
) -> None:
    """Show a broker: its address and conditions."""
    obj = _client(ctx).get(kinds.BROKER, namespace, name)
    url = str((obj.get("status", {}).get("address") or {}).get("url", ""))
    if out is not None:
        print(_formatted(obj, kinds.BROKER, out, url))
        return
    now = output.now_utc()
    print(tabbed([*_metadata(obj, now), "", "Address:", f"  URL:\t{url}", "", *_conditions(obj, now)]))


def _formatted(obj: Obj, kind: kinds.Kind, out: str, url: str) -> str:
    if out == "url":
        return url
    if out in ("yaml", "json"):
        return output.document([obj], kind, "yaml" if out == "yaml" else "json", single=True)
    raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json|url")


@broker_app.command("delete")
def broker_delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a broker."""
    try:
        _client(ctx).delete(kinds.BROKER, namespace, name)
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot delete broker '{name}' in namespace '{namespace}' because: {e}") from None
    print(f"Broker '{name}' successfully deleted in namespace '{namespace}'.")


# ----------------------------------------------------------------------------- trigger

FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        help="Key-value pair for exact CloudEvent attribute matching against incoming events, e.g type=dev.knative.foo",
    ),
]


def parse_filters(values: list[str] | None, *, allow_removal: bool = False) -> tuple[dict[str, str], list[str]]:
    """kn's ``GetFilters`` (``util.MapFromArray`` with ``=``); on update ``type-`` removes a key."""
    filters: dict[str, str] = {}
    removed: list[str] = []
    for item in values or []:
        for pair in item.split(","):
            key, sep, value = pair.partition("=")
            if allow_removal and not sep and key.endswith("-"):
                removed.append(key[:-1])
                continue
            if not sep or not key:
                raise errors.BadRequest(
                    f"Invalid --filter: Argument requires a value that contains the = character; got {pair!r}"
                )
            filters[key] = value
    return filters, removed


@trigger_app.command("create")
def trigger_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    sink: Annotated[str, typer.Option("--sink", "-s", help=SINK_HELP)],
    broker: Annotated[str, typer.Option(help="Name of the Broker which the trigger associates with.")] = "default",
    filter_: FilterOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a trigger: `zeroserve trigger create t --broker default --filter type=x --sink ksvc:mysvc`."""
    client = _client(ctx)
    try:
        filters, _ = parse_filters(filter_)
        subscriber = resolve_sink(client, sink, namespace)
        spec: Obj = {"broker": broker, "subscriber": subscriber}
        if filters:
            spec["filter"] = {"attributes": filters}
        trigger = {
            "apiVersion": kinds.TRIGGER.api_version,
            "kind": kinds.TRIGGER.kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        client.create(kinds.TRIGGER, trigger)
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot create trigger '{name}' in namespace '{namespace}' because: {e}") from None
    print(f"Trigger '{name}' successfully created in namespace '{namespace}'.")


@trigger_app.command("update")
def trigger_update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    sink: Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)] = None,
    filter_: FilterOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a trigger's filter (``--filter type-`` removes a key) or sink."""
    client = _client(ctx)
    for attempt in range(3):
        trigger = client.get(kinds.TRIGGER, namespace, name)
        spec = trigger.setdefault("spec", {})
        if filter_:
            filters, removed = parse_filters(filter_, allow_removal=True)
            attributes = {**((spec.get("filter") or {}).get("attributes") or {}), **filters}
            spec["filter"] = {"attributes": {k: v for k, v in attributes.items() if k not in removed}}
        if sink:
            spec["subscriber"] = resolve_sink(client, sink, namespace)
        trigger.pop("status", None)
        try:
            client.update(kinds.TRIGGER, trigger)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"Trigger '{name}' updated in namespace '{namespace}'.")


@trigger_app.command("list")
def trigger_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List triggers (NAME BROKER SINK AGE CONDITIONS READY REASON)."""
    items = _client(ctx).list(kinds.TRIGGER, None if all_namespaces else namespace).get("items") or []
    if not items:
        print("No triggers found.")
        return
    now = output.now_utc()

    def row(o: Obj) -> list[str]:
        spec = o.get("spec", {})
        return [
            o["metadata"]["name"],
            str(spec.get("broker", "")),
            sink_text(spec.get("subscriber") or {}),
            output.age(o["metadata"].get("creationTimestamp"), now),
            output.conditions_summary(o),
            *output.ready_columns(o),
        ]

    headers = ["NAME", "BROKER", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    print(_list_rows(items, all_namespaces, headers, row))


def _filter_lines(f: Obj, indent: str) -> list[str]:
    """kn's ``writeNestedFilters``."""
    lines: list[str] = []
    for dialect in ("all", "any"):
        if f.get(dialect):
            lines.append(f"{indent}{dialect}:")
            for nested in f[dialect]:
                lines += _filter_lines(nested, indent + "  ")
    if f.get("not"):
        lines += [f"{indent}not:", *_filter_lines(f["not"], indent + "  ")]
    for dialect in ("exact", "prefix", "suffix"):
        if f.get(dialect):
            lines.append(f"{indent}{dialect}:")
            lines += [f"{indent}  {k}:\t{v}" for k, v in sorted(f[dialect].items())]
    if f.get("cesql"):
        lines.append(f"{indent}cesql:\t{f['cesql']}")
    return lines


@trigger_app.command("describe")
def trigger_describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml, json or url.")] = None,
) -> None:
    """Show a trigger: broker, filters, sink, conditions."""
    obj = _client(ctx).get(kinds.TRIGGER, namespace, name)
    spec, status = obj.get("spec", {}), obj.get("status", {})
    if out is not None:
        print(_formatted(obj, kinds.TRIGGER, out, str(status.get("subscriberUri", ""))))
        return
    now = output.now_utc()
    lines = [*_metadata(obj, now), f"Broker:\t{spec.get('broker', '')}"]
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    if attributes:
        lines += ["Filter:", *(f"  {k}:\t{v}" for k, v in sorted(attributes.items()))]
    if spec.get("filters"):
        lines += ["", "Filters (experimental):"]
        for f in spec["filters"]:
            lines += _filter_lines(f, "  ")
    lines += ["", "Sink:"]
    subscriber = spec.get("subscriber") or {}
    ref = subscriber.get("ref") or {}
    if ref:
        lines.append(f"  Name:\t{ref.get('name', '')}")
        if ref.get("namespace") and ref.get("namespace") != namespace:
            lines.append(f"  Namespace:\t{ref['namespace']}")
        lines.append(f"  Resource:\t{ref.get('kind', '')} ({ref.get('apiVersion', '')})")
    if subscriber.get("uri"):
        lines.append(f"  URI:\t{subscriber['uri']}")
    if status.get("subscriberUri"):
        lines.append(f"  Resolved:\t{status['subscriberUri']}")
    print(tabbed([*lines, "", *_conditions(obj, now)]))


@trigger_app.command("delete")
def trigger_delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a trigger."""
    _client(ctx).delete(kinds.TRIGGER, namespace, name)
    print(f"Trigger '{name}' deleted in namespace '{namespace}'.")


# ----------------------------------------------------------------------------- event send


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
    context = _context(ctx)
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
