"""``kn broker`` and ``kn trigger`` (``kn event send`` is :mod:`zeroserve.cli.event`).

Follows knative/client ``pkg/commands/{broker,trigger}`` (flags, sink forms, list columns, describe
layout, the messages printed). Sinks are kn's: ``ksvc:NAME[:NAMESPACE]`` or a bare name (a Knative
Service), ``broker:NAME[:NAMESPACE]``, or an ``http(s)://`` URI; kn reads a named target, so it must
exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.client import ApiClient
from zeroserve.cli.context import Context
from zeroserve.cli.describe import tabbed

broker_app = typer.Typer(help="Manage message brokers (kn broker).", no_args_is_help=True)
trigger_app = typer.Typer(help="Manage event triggers (kn trigger).", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME")]
NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
AllNsOpt = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")]
DocOutOpt = Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")]
UrlOutOpt = Annotated[str | None, typer.Option("--output", "-o", help="yaml, json or url.")]
SINK_HELP = (
    "Addressable sink for events: 'ksvc:mysvc' or simply 'mysvc' for a Knative service, "
    "'ksvc:mysvc:mynamespace' for one in another namespace, 'broker:nest' for a broker, "
    "'https://event.receiver.uri' for an HTTP URI."
)
SINK_KINDS: dict[str, kinds.Kind] = {"ksvc": kinds.SERVICE, "broker": kinds.BROKER}


def context_of(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def _client(ctx: typer.Context) -> ApiClient:
    return context_of(ctx).client()


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


def sink_lines(dest: Obj, namespace: str) -> list[str]:
    """kn's ``describe.Sink`` (the namespace shown where it is not ``namespace``)."""
    lines = ["Sink:"]
    ref = dest.get("ref") or {}
    if ref:
        lines.append(f"  Name:\t{ref.get('name', '')}")
        if ref.get("namespace") and ref["namespace"] != namespace:
            lines.append(f"  Namespace:\t{ref['namespace']}")
        lines.append(f"  Resource:\t{ref.get('kind', '')} ({ref.get('apiVersion', '')})")
    if dest.get("uri"):
        lines.append(f"  URI:\t{dest['uri']}")
    return lines


def condition_lines(obj: Obj, now: datetime) -> list[str]:
    return ["Conditions:", *("  " + line for line in output.conditions_table(obj, now).splitlines())]


def metadata_lines(obj: Obj, now: datetime) -> list[str]:
    meta = obj.get("metadata", {})
    lines = [f"Name:\t{meta.get('name', '')}", f"Namespace:\t{meta.get('namespace', '')}"]
    for label, values in (("Labels", meta.get("labels")), ("Annotations", meta.get("annotations"))):
        if values:
            lines.append(f"{label}:\t" + ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
    lines.append(f"Age:\t{output.age(meta.get('creationTimestamp'), now)}")
    return lines


def address_url(o: Obj) -> str:
    """An addressable's ``status.address.url``."""
    return str((o.get("status", {}).get("address") or {}).get("url", ""))


def list_rows(items: list[Obj], all_namespaces: bool, headers: list[str], row: Any) -> str:
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    rows = [row(o) for o in items]
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        rows = [[o["metadata"].get("namespace", ""), *r] for o, r in zip(items, rows, strict=True)]
    return output.table(headers, rows)


def items_of(ctx: typer.Context, kind: kinds.Kind, namespace: str, all_namespaces: bool) -> list[Obj]:
    """The objects of ``kind`` in ``namespace`` (of all namespaces with ``-A``)."""
    items: list[Obj] = _client(ctx).list(kind, None if all_namespaces else namespace).get("items") or []
    return items


def print_items(
    items: list[Obj], all_namespaces: bool, empty: str, headers: list[str], row: Callable[[Obj, datetime], list[str]]
) -> None:
    """kn's list: ``empty`` where there is nothing, else the table (``row`` gets an object and the time now)."""
    if not items:
        print(empty)
        return
    now = output.now_utc()
    print(list_rows(items, all_namespaces, headers, lambda o: row(o, now)))


def status_cells(o: Obj, now: datetime) -> list[str]:
    """A list's last columns: AGE CONDITIONS READY REASON."""
    return [
        output.age(o["metadata"].get("creationTimestamp"), now),
        output.conditions_summary(o),
        *output.ready_columns(o),
    ]


def listed(items: list[Obj], kind: kinds.Kind, out: str) -> str:
    """kn's list ``-o``: yaml or json."""
    if out not in ("yaml", "json"):
        raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json")
    return output.document(items, kind, "yaml" if out == "yaml" else "json", single=False)


def new_object(kind: kinds.Kind, meta: Obj, spec: Obj) -> Obj:
    """An object of ``kind`` to create."""
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}


def create_named(client: ApiClient, kind: kinds.Kind, meta: Obj, spec: Obj, what: str) -> None:
    """Create; kn's ``cannot create <what> 'NAME' in namespace 'NS' because: ...`` where that fails."""
    try:
        client.create(kind, new_object(kind, meta, spec))
    except errors.ApiError as e:
        raise errors.BadRequest(
            f"cannot create {what} '{meta['name']}' in namespace '{meta['namespace']}' because: {e}"
        ) from None


def delete_named(client: ApiClient, kind: kinds.Kind, namespace: str, name: str, what: str) -> None:
    """Delete; kn's ``cannot delete <what> 'NAME' in namespace 'NS' because: ...`` where that fails."""
    try:
        client.delete(kind, namespace, name)
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot delete {what} '{name}' in namespace '{namespace}' because: {e}") from None


def update_retrying(
    client: ApiClient, kind: kinds.Kind, namespace: str, name: str, edit: Callable[[Obj], None]
) -> None:
    """Get the object, ``edit`` it and update it (its status dropped); again, up to three tries, on a conflict."""
    for attempt in range(3):
        obj = client.get(kind, namespace, name)
        edit(obj)
        obj.pop("status", None)
        try:
            client.update(kind, obj)
            return
        except errors.Conflict:
            if attempt == 2:
                raise


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
    name: NameArg,
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
    create_named(client, kinds.BROKER, meta, spec, "broker")
    print(f"Broker '{name}' successfully created in namespace '{namespace}'.")


@broker_app.command("list")
def broker_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List brokers (NAME URL AGE CONDITIONS READY REASON)."""

    def row(o: Obj, now: datetime) -> list[str]:
        return [o["metadata"]["name"], address_url(o), *status_cells(o, now)]

    items = items_of(ctx, kinds.BROKER, namespace, all_namespaces)
    headers = ["NAME", "URL", "AGE", "CONDITIONS", "READY", "REASON"]
    print_items(items, all_namespaces, "No brokers found.", headers, row)


@broker_app.command("describe")
def broker_describe(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default", out: UrlOutOpt = None) -> None:
    """Show a broker: its address and conditions."""
    obj = _client(ctx).get(kinds.BROKER, namespace, name)
    url = address_url(obj)
    if out is not None:
        print(formatted(obj, kinds.BROKER, out, url))
        return
    now = output.now_utc()
    print(tabbed([*metadata_lines(obj, now), "", "Address:", f"  URL:\t{url}", "", *condition_lines(obj, now)]))


def formatted(obj: Obj, kind: kinds.Kind, out: str, url: str) -> str:
    """kn's describe `-o`: yaml, json or (for addressables) url."""
    if out == "url":
        return url
    if out in ("yaml", "json"):
        return output.document([obj], kind, "yaml" if out == "yaml" else "json", single=True)
    raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json|url")


@broker_app.command("delete")
def broker_delete(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default") -> None:
    """Delete a broker."""
    delete_named(_client(ctx), kinds.BROKER, namespace, name, "broker")
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
    name: NameArg,
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
        client.create(kinds.TRIGGER, new_object(kinds.TRIGGER, {"name": name, "namespace": namespace}, spec))
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot create trigger '{name}' in namespace '{namespace}' because: {e}") from None
    print(f"Trigger '{name}' successfully created in namespace '{namespace}'.")


@trigger_app.command("update")
def trigger_update(
    ctx: typer.Context,
    name: NameArg,
    sink: Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)] = None,
    filter_: FilterOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a trigger's filter (``--filter type-`` removes a key) or sink."""
    client = _client(ctx)

    def edit(trigger: Obj) -> None:
        spec = trigger.setdefault("spec", {})
        if filter_:
            filters, removed = parse_filters(filter_, allow_removal=True)
            attributes = {**((spec.get("filter") or {}).get("attributes") or {}), **filters}
            spec["filter"] = {"attributes": {k: v for k, v in attributes.items() if k not in removed}}
        if sink:
            spec["subscriber"] = resolve_sink(client, sink, namespace)

    update_retrying(client, kinds.TRIGGER, namespace, name, edit)
    print(f"Trigger '{name}' updated in namespace '{namespace}'.")


@trigger_app.command("list")
def trigger_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List triggers (NAME BROKER SINK AGE CONDITIONS READY REASON)."""

    def row(o: Obj, now: datetime) -> list[str]:
        spec = o.get("spec", {})
        return [
            o["metadata"]["name"],
            str(spec.get("broker", "")),
            sink_text(spec.get("subscriber") or {}),
            *status_cells(o, now),
        ]

    items = items_of(ctx, kinds.TRIGGER, namespace, all_namespaces)
    headers = ["NAME", "BROKER", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    print_items(items, all_namespaces, "No triggers found.", headers, row)


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
def trigger_describe(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default", out: UrlOutOpt = None) -> None:
    """Show a trigger: broker, filters, sink, conditions."""
    obj = _client(ctx).get(kinds.TRIGGER, namespace, name)
    spec, status = obj.get("spec", {}), obj.get("status", {})
    if out is not None:
        print(formatted(obj, kinds.TRIGGER, out, str(status.get("subscriberUri", ""))))
        return
    now = output.now_utc()
    lines = [*metadata_lines(obj, now), f"Broker:\t{spec.get('broker', '')}"]
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    if attributes:
        lines += ["Filter:", *(f"  {k}:\t{v}" for k, v in sorted(attributes.items()))]
    if spec.get("filters"):
        lines += ["", "Filters (experimental):"]
        for f in spec["filters"]:
            lines += _filter_lines(f, "  ")
    lines += ["", *sink_lines(spec.get("subscriber") or {}, namespace)]
    if status.get("subscriberUri"):
        lines.append(f"  Resolved:\t{status['subscriberUri']}")
    print(tabbed([*lines, "", *condition_lines(obj, now)]))


@trigger_app.command("delete")
def trigger_delete(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default") -> None:
    """Delete a trigger."""
    _client(ctx).delete(kinds.TRIGGER, namespace, name)
    print(f"Trigger '{name}' deleted in namespace '{namespace}'.")
