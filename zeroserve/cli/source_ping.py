"""``kn source ping``: create, update, list, describe and delete PingSources.

knative/client ``pkg/commands/source/ping``: ``--schedule`` (the server's default, every minute,
when not given), ``--data``/``-d`` with ``--encoding``/``-e`` ``text|base64`` (without it, data that
decodes as base64 goes to ``dataBase64``, other data to ``data``, as kn guesses), ``--ce-override``,
``--sink``; kn's messages, list columns and describe layout.
"""

from __future__ import annotations

import base64
import binascii
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
    condition_lines,
    context_of,
    formatted,
    metadata_lines,
    resolve_sink,
    sink_text,
)
from zeroserve.cli.source_apiserver import CeOpt, NsOpt, apply_ce_overrides, sink_lines
from zeroserve.cli.source_list import ListOut, print_list

ping_app = typer.Typer(help="Manage ping sources (kn source ping).", no_args_is_help=True)

KIND = kinds.PINGSOURCE
ScheduleOpt = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        help="Optional schedule specification in crontab format (e.g. '*/2 * * * *' for every two minutes. "
        "By default fire every minute.",
    ),
]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        "-d",
        help="Data to send in JSON format. This flag can implicitly determine the encoding of the supplied "
        "data (text | base64).",
    ),
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", "-e", help="Data encoding format. One of: text | base64")
]
SinkOpt = Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)]


def data_fields(data: str, encoding: str | None) -> tuple[str, str]:
    """kn's ``getDataFields``: (data, dataBase64)."""
    if not encoding:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return data, ""
        return "", data
    if encoding == "base64":
        return "", data
    if encoding == "text":
        return data, ""
    raise errors.BadRequest(f"invalid value: {encoding}. Accepted values are: text|base64")


def _set_data(spec: Obj, data: str, encoding: str | None, action: str, name: str, namespace: str) -> None:
    try:
        text, b64 = data_fields(data, encoding)
    except errors.BadRequest as e:
        raise errors.BadRequest(
            f'cannot {action} PingSource "{name}" in namespace "{namespace}" because: {e}'
        ) from None
    for key, value in (("data", text), ("dataBase64", b64)):
        if value:
            spec[key] = value
        else:
            spec.pop(key, None)


@ping_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    schedule: ScheduleOpt = None,
    data: DataOpt = None,
    encoding: EncodingOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a ping source.

    `zeroserve source ping create my-ping --schedule "*/2 * * * *" --data '{"value": "hello"}' --sink ksvc:mysvc`
    """
    if not sink:
        raise errors.BadRequest('required flag(s) "sink" not set')
    client = context_of(ctx).client()
    spec: Obj = {"sink": resolve_sink(client, sink, namespace)}
    if schedule:
        spec["schedule"] = schedule
    _set_data(spec, data or "", encoding, "create", name, namespace)
    apply_ce_overrides(spec, ce_override or [])
    obj = {"apiVersion": KIND.api_version, "kind": KIND.kind, "metadata": {"name": name, "namespace": namespace}}
    client.create(KIND, {**obj, "spec": spec})
    print(f"Ping source '{name}' created in namespace '{namespace}'.")


@ping_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    schedule: ScheduleOpt = None,
    data: DataOpt = None,
    encoding: EncodingOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a ping source: only the flags given change."""
    client = context_of(ctx).client()
    for attempt in range(3):
        source = client.get(KIND, namespace, name)
        spec = source.setdefault("spec", {})
        if schedule is not None:
            spec["schedule"] = schedule
        if data is not None:
            _set_data(spec, data, encoding, "update", name, namespace)
        if sink is not None:
            spec["sink"] = resolve_sink(client, sink, namespace)
        apply_ce_overrides(spec, ce_override or [])
        source.pop("status", None)
        try:
            client.update(KIND, source)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"Ping source '{name}' updated in namespace '{namespace}'.")


@ping_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: ListOut = None,
) -> None:
    """List ping sources (NAME SCHEDULE SINK AGE CONDITIONS READY REASON)."""
    items = context_of(ctx).client().list(KIND, None if all_namespaces else namespace).get("items") or []

    def row(o: Obj) -> list[str]:
        return [str(o.get("spec", {}).get("schedule", "")), sink_text(o.get("spec", {}).get("sink") or {})]

    print_list(items, KIND, all_namespaces, out, "No Ping source found.", ["SCHEDULE", "SINK"], row)


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Schedule, Data or DataBase64, Sink, CloudEvent Overrides, Conditions."""
    spec, meta = obj.get("spec", {}), obj.get("metadata", {})
    lines = [*metadata_lines(obj, now), f"Schedule:\t{spec.get('schedule', '')}"]
    if spec.get("dataBase64"):
        lines.append(f"DataBase64:\t{spec['dataBase64']}")
    else:
        lines.append(f"Data:\t{spec.get('data', '')}")
    lines += ["", *sink_lines(spec.get("sink") or {}, str(meta.get("namespace", ""))), ""]
    extensions = (spec.get("ceOverrides") or {}).get("extensions") or {}
    if extensions:
        lines += ["CloudEvent Overrides:", *(f"  {k}:\t{extensions[k]}" for k in sorted(extensions)), ""]
    return [*lines, *condition_lines(obj, now)]


@ping_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")] = None,
) -> None:
    """Show details of a ping source."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, str(obj.get("status", {}).get("sinkUri", ""))))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))


@ping_app.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a ping source."""
    context_of(ctx).client().delete(KIND, namespace, name)
    print(f"Ping source '{name}' deleted in namespace '{namespace}'.")
