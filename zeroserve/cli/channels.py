"""``kn channel`` and ``kn subscription`` (knative/client ``pkg/commands/{channel,subscription}``: flags,
list columns, the messages printed).

``channel create NAME [--type imc]``: a Channel of the given backing kind (``imc`` or
``messaging.knative.dev:v1:InMemoryChannel``; without ``--type`` default-ch-webhook's).
``subscription create NAME --channel C --sink ksvc:S [--sink-reply ...] [--sink-dead-letter ...]``:
``C`` names a Channel (or ``imc:NAME`` an InMemoryChannel); sinks as kn's (:func:`resolve_sink`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.describe import tabbed
from zeroserve.cli.eventing import (
    SINK_HELP,
    AllNsOpt,
    DocOutOpt,
    NameArg,
    NsOpt,
    UrlOutOpt,
    _client,
    address_url,
    condition_lines,
    create_named,
    delete_named,
    formatted,
    items_of,
    metadata_lines,
    print_items,
    resolve_sink,
    sink_text,
)

channel_app = typer.Typer(help="Manage event channels (kn channel).", no_args_is_help=True)
subscription_app = typer.Typer(help="Manage event subscriptions (kn subscription).", no_args_is_help=True)

CHANNEL_TYPES = {"imc": ("messaging.knative.dev/v1", "InMemoryChannel")}
"""kn's channel type aliases."""


def channel_type(value: str) -> Obj:
    """``--type``: an alias or GROUP:VERSION:KIND, as a channelTemplate."""
    if value in CHANNEL_TYPES:
        api_version, kind = CHANNEL_TYPES[value]
        return {"apiVersion": api_version, "kind": kind}
    parts = value.split(":")
    if len(parts) != 3 or not all(parts):
        raise errors.BadRequest(f"Error: channel type {value!r} is neither 'imc' nor GROUP:VERSION:KIND")
    return {"apiVersion": f"{parts[0]}/{parts[1]}", "kind": parts[2]}


def channel_ref(value: str) -> Obj:
    """``--channel``: NAME (a Channel), ``imc:NAME`` or ``GROUP:VERSION:KIND:NAME``."""
    parts = value.split(":")
    if len(parts) == 1:
        return {"apiVersion": kinds.CHANNEL.api_version, "kind": kinds.CHANNEL.kind, "name": value}
    if len(parts) == 2 and parts[0] in CHANNEL_TYPES:
        api_version, kind = CHANNEL_TYPES[parts[0]]
        return {"apiVersion": api_version, "kind": kind, "name": parts[1]}
    if len(parts) == 4 and all(parts):
        return {"apiVersion": f"{parts[0]}/{parts[1]}", "kind": parts[2], "name": parts[3]}
    raise errors.BadRequest(f"Error: channel {value!r} is neither NAME, imc:NAME nor GROUP:VERSION:KIND:NAME")


# ----------------------------------------------------------------------------- channel


@channel_app.command("create")
def channel_create(
    ctx: typer.Context,
    name: NameArg,
    type_: Annotated[str | None, typer.Option("--type", help="The channel type: imc or GROUP:VERSION:KIND.")] = None,
    namespace: NsOpt = "default",
) -> None:
    """Create an event channel: `zeroserve channel create orders --type imc`."""
    spec: Obj = {"channelTemplate": channel_type(type_)} if type_ else {}
    create_named(_client(ctx), kinds.CHANNEL, {"name": name, "namespace": namespace}, spec, "channel")
    print(f"Channel '{name}' created in namespace '{namespace}'.")


@channel_app.command("list")
def channel_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List channels (NAME TYPE URL AGE READY REASON)."""

    def row(o: Obj, now: datetime) -> list[str]:
        template = o.get("spec", {}).get("channelTemplate") or {}
        return [
            o["metadata"]["name"],
            str(template.get("kind", "")),
            address_url(o),
            output.age(o["metadata"].get("creationTimestamp"), now),
            *output.ready_columns(o),
        ]

    items = items_of(ctx, kinds.CHANNEL, namespace, all_namespaces)
    print_items(items, all_namespaces, "No channels found.", ["NAME", "TYPE", "URL", "AGE", "READY", "REASON"], row)


@channel_app.command("describe")
def channel_describe(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default", out: UrlOutOpt = None) -> None:
    """Show a channel: its type, address, subscribers and conditions."""
    obj = _client(ctx).get(kinds.CHANNEL, namespace, name)
    if out is not None:
        print(formatted(obj, kinds.CHANNEL, out, address_url(obj)))
        return
    now = output.now_utc()
    template = obj.get("spec", {}).get("channelTemplate") or {}
    subscribers = obj.get("status", {}).get("subscribers") or []
    lines = [*metadata_lines(obj, now), f"Type:\t{template.get('kind', '')} ({template.get('apiVersion', '')})"]
    lines += ["URL:\t" + address_url(obj), "", f"Subscribers:\t{len(subscribers)}", "", *condition_lines(obj, now)]
    print(tabbed(lines))


@channel_app.command("delete")
def channel_delete(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default") -> None:
    """Delete a channel."""
    delete_named(_client(ctx), kinds.CHANNEL, namespace, name, "channel")
    print(f"Channel '{name}' deleted in namespace '{namespace}'.")


# ----------------------------------------------------------------------------- subscription


@subscription_app.command("create")
def subscription_create(
    ctx: typer.Context,
    name: NameArg,
    channel: Annotated[str, typer.Option(help="The channel: NAME, imc:NAME or GROUP:VERSION:KIND:NAME.")],
    sink: Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)] = None,
    sink_reply: Annotated[str | None, typer.Option(help="Where the subscriber's replies go (as --sink).")] = None,
    sink_dead_letter: Annotated[str | None, typer.Option(help="The dead letter sink (as --sink).")] = None,
    namespace: NsOpt = "default",
) -> None:
    """Subscribe to a channel: `zeroserve subscription create s --channel orders --sink ksvc:mysvc`."""
    client = _client(ctx)
    spec: Obj = {"channel": channel_ref(channel)}
    if sink:
        spec["subscriber"] = resolve_sink(client, sink, namespace)
    if sink_reply:
        spec["reply"] = resolve_sink(client, sink_reply, namespace)
    if sink_dead_letter:
        spec["delivery"] = {"deadLetterSink": resolve_sink(client, sink_dead_letter, namespace)}
    create_named(client, kinds.SUBSCRIPTION, {"name": name, "namespace": namespace}, spec, "subscription")
    print(f"Subscription '{name}' created in namespace '{namespace}'.")


def _sinks(o: Obj) -> list[str]:
    spec = o.get("spec", {})
    dls = (spec.get("delivery") or {}).get("deadLetterSink")
    return [sink_text(spec.get(k) or {}) for k in ("subscriber", "reply")] + [sink_text(dls or {})]


@subscription_app.command("list")
def subscription_list(ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False) -> None:
    """List subscriptions (NAME CHANNEL SUBSCRIBER REPLY DEAD LETTER SINK READY REASON)."""

    def row(o: Obj, now: datetime) -> list[str]:
        ch = o.get("spec", {}).get("channel") or {}
        return [
            o["metadata"]["name"],
            f"{ch.get('kind', '')}:{ch.get('name', '')}",
            *_sinks(o),
            *output.ready_columns(o),
        ]

    items = items_of(ctx, kinds.SUBSCRIPTION, namespace, all_namespaces)
    headers = ["NAME", "CHANNEL", "SUBSCRIBER", "REPLY", "DEAD LETTER SINK", "READY", "REASON"]
    print_items(items, all_namespaces, "No subscriptions found.", headers, row)


@subscription_app.command("describe")
def subscription_describe(
    ctx: typer.Context, name: NameArg, namespace: NsOpt = "default", out: DocOutOpt = None
) -> None:
    """Show a subscription: its channel, sinks and conditions."""
    obj = _client(ctx).get(kinds.SUBSCRIPTION, namespace, name)
    if out is not None:
        print(formatted(obj, kinds.SUBSCRIPTION, out, ""))
        return
    now = output.now_utc()
    ch = obj.get("spec", {}).get("channel") or {}
    subscriber, reply, dls = _sinks(obj)
    lines = [
        *metadata_lines(obj, now),
        f"Channel:\t{ch.get('kind', '')}:{ch.get('name', '')} ({ch.get('apiVersion', '')})",
    ]
    lines += ["Subscriber:", f"  {subscriber}"]
    lines += [
        line
        for label, value in (("Reply", reply), ("DeadLetterSink", dls))
        if value
        for line in (f"{label}:", f"  {value}")
    ]
    print(tabbed([*lines, "", *condition_lines(obj, now)]))


@subscription_app.command("delete")
def subscription_delete(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default") -> None:
    """Delete a subscription."""
    delete_named(_client(ctx), kinds.SUBSCRIPTION, namespace, name, "subscription")
    print(f"Subscription '{name}' deleted in namespace '{namespace}'.")
