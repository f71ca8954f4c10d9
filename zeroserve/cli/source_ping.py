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
from zeroserve.cli.eventing import NameArg, NsOpt, context_of, metadata_lines, resolve_sink, sink_text
from zeroserve.cli.source_common import (
    CeOpt,
    SinkOpt,
    add_source_commands,
    create_source,
    require_flags,
    sink_overrides_conditions,
    update_source,
)

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
    name: NameArg,
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
    require_flags(("sink", sink))
    assert sink is not None
    client = context_of(ctx).client()
    spec: Obj = {"sink": resolve_sink(client, sink, namespace)}
    if schedule:
        spec["schedule"] = schedule
    _set_data(spec, data or "", encoding, "create", name, namespace)
    create_source(client, KIND, name, namespace, spec, ce_override, "Ping source")


@ping_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArg,
    schedule: ScheduleOpt = None,
    data: DataOpt = None,
    encoding: EncodingOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a ping source: only the flags given change."""

    def edit(source: Obj) -> None:
        spec = source.setdefault("spec", {})
        if schedule is not None:
            spec["schedule"] = schedule
        if data is not None:
            _set_data(spec, data, encoding, "update", name, namespace)

    update_source(ctx, KIND, name, namespace, edit, sink, ce_override, "Ping source")


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Schedule, Data or DataBase64, Sink, CloudEvent Overrides, Conditions."""
    spec = obj.get("spec", {})
    lines = [*metadata_lines(obj, now), f"Schedule:\t{spec.get('schedule', '')}"]
    if spec.get("dataBase64"):
        lines.append(f"DataBase64:\t{spec['dataBase64']}")
    else:
        lines.append(f"Data:\t{spec.get('data', '')}")
    return [*lines, *sink_overrides_conditions(obj, now)]


def _row(o: Obj) -> list[str]:
    """SCHEDULE SINK."""
    return [str(o.get("spec", {}).get("schedule", "")), sink_text(o.get("spec", {}).get("sink") or {})]


add_source_commands(
    ping_app,
    KIND,
    noun="a ping source",
    plural="ping sources",
    label="Ping source",
    empty="No Ping source found.",
    headers=["SCHEDULE", "SINK"],
    row=_row,
    describe_lines=describe_lines,
)
