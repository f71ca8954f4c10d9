"""What the ``kn source <kind>`` commands share: their ``list``, ``describe`` and ``delete``, the
``--sink`` and ``--ce-override`` flags, creating and updating a source, the end of a describe.

knative/client ``pkg/commands/source/<kind>``: the same list columns after each kind's own (NAME
... AGE CONDITIONS READY REASON), the same ``-o yaml|json``, the same messages but for the kind's
words. Each kind's module (``source_apiserver``, ``source_ping``, ``source_binding``,
``source_container``) keeps its flags, its create and update and its describe layout, and calls
:func:`add_source_commands` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.client import ApiClient
from zeroserve.cli.describe import tabbed
from zeroserve.cli.eventing import (
    SINK_HELP,
    AllNsOpt,
    DocOutOpt,
    NameArg,
    NsOpt,
    condition_lines,
    context_of,
    formatted,
    items_of,
    listed,
    new_object,
    print_items,
    resolve_sink,
    sink_lines,
    status_cells,
    update_retrying,
)

SinkOpt = Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)]
CeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ce-override",
        help="Cloud Event overrides to apply before sending event to sink, e.g. '--ce-override key=value' "
        '(repeatable). To unset, append "-" to the key (e.g. --ce-override key-).',
    ),
]


# ----------------------------------------------------------------------------- --ce-override


def parse_ce_overrides(values: list[str]) -> tuple[dict[str, str], list[str]]:
    """kn's ``MapFromArrayAllowingSingles(..., "=")`` then ``ParseMinusSuffix``: (set, removed keys)."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if sep and not key:
            raise errors.BadRequest("The key is empty")
        if sep and key in pairs:
            raise errors.BadRequest(f'The key "{key}" has been duplicate in [{" ".join(values)}]')
        pairs[key] = value
    removed = [k[:-1] for k in pairs if k.endswith("-")]
    return {k: v for k, v in pairs.items() if not k.endswith("-")}, removed


def apply_ce_overrides(spec: Obj, values: list[str]) -> None:
    """The builder's ``CloudEventOverrides``: set and remove extensions."""
    add, remove = parse_ce_overrides(values)
    if not add and not remove:
        return
    extensions = dict(((spec.get("ceOverrides") or {}).get("extensions")) or {})
    extensions.update(add)
    for key in remove:
        extensions.pop(key, None)
    spec["ceOverrides"] = {"extensions": extensions}


def overrides_lines(spec: Obj) -> list[str]:
    """kn's ``CloudEvent Overrides:`` block (nothing where there are none)."""
    extensions = (spec.get("ceOverrides") or {}).get("extensions") or {}
    if not extensions:
        return []
    return ["CloudEvent Overrides:", *(f"  {k}:\t{extensions[k]}" for k in sorted(extensions))]


def sink_overrides_conditions(obj: Obj, now: datetime) -> list[str]:
    """The end of a ping, binding or container describe: Sink, CloudEvent Overrides, Conditions."""
    spec, namespace = obj.get("spec", {}), str(obj.get("metadata", {}).get("namespace", ""))
    overrides = overrides_lines(spec)
    return [
        "",
        *sink_lines(spec.get("sink") or {}, namespace),
        "",
        *([*overrides, ""] if overrides else []),
        *condition_lines(obj, now),
    ]


# ----------------------------------------------------------------------------- create and update


def require_flags(*flags: tuple[str, object]) -> None:
    """kn's ``required flag(s) "a", "b" not set`` for the (name, value) pairs without a value."""
    missing = [f'"{flag}"' for flag, value in flags if not value]
    if missing:
        raise errors.BadRequest(f"required flag(s) {', '.join(missing)} not set")


def create_sink(client: ApiClient, kind: kinds.Kind, sink: str, name: str, namespace: str) -> Obj:
    """``--sink`` resolved for a create; kn's ``cannot create <Kind> ...`` where it does not resolve."""
    try:
        return resolve_sink(client, sink, namespace)
    except errors.ApiError as e:
        raise errors.BadRequest(f"cannot create {kind.kind} '{name}' in namespace '{namespace}' because: {e}") from None


def create_source(
    client: ApiClient, kind: kinds.Kind, name: str, namespace: str, spec: Obj, ce_override: list[str] | None, label: str
) -> None:
    """Create the source of ``spec`` with the ``--ce-override`` flags; kn's ``<label> 'NAME' created ...``."""
    apply_ce_overrides(spec, ce_override or [])
    client.create(kind, new_object(kind, {"name": name, "namespace": namespace}, spec))
    print(f"{label} '{name}' created in namespace '{namespace}'.")


def update_source(
    ctx: typer.Context,
    kind: kinds.Kind,
    name: str,
    namespace: str,
    edit: Callable[[Obj], None],
    sink: str | None,
    ce_override: list[str] | None,
    label: str,
) -> None:
    """Update the source: ``edit`` (the kind's flags), then ``--sink`` where given and the
    ``--ce-override`` flags (again on a conflict); kn's ``<label> 'NAME' updated ...``."""
    client = context_of(ctx).client()

    def edit_all(source: Obj) -> None:
        edit(source)
        spec = source.setdefault("spec", {})
        if sink is not None:
            spec["sink"] = resolve_sink(client, sink, namespace)
        apply_ce_overrides(spec, ce_override or [])

    update_retrying(client, kind, namespace, name, edit_all)
    print(f"{label} '{name}' updated in namespace '{namespace}'.")


# ----------------------------------------------------------------------------- list, describe, delete


def add_source_commands(
    app: typer.Typer,
    kind: kinds.Kind,
    *,
    noun: str,
    plural: str,
    label: str,
    empty: str,
    headers: list[str],
    row: Callable[[Obj], list[str]],
    describe_lines: Callable[[Obj, datetime], list[str]],
) -> None:
    """Add ``list``, ``describe`` and ``delete`` to a source kind's ``app``.

    ``noun`` (``a ping source``) and ``plural`` word their help; ``label`` (``Ping source``) starts
    the deleted message; ``empty`` is what list prints where there is nothing; ``headers`` and
    ``row`` are the kind's own columns (between NAME and AGE); ``describe_lines`` its layout.
    """

    def list_(
        ctx: typer.Context, namespace: NsOpt = "default", all_namespaces: AllNsOpt = False, out: DocOutOpt = None
    ) -> None:
        items = items_of(ctx, kind, namespace, all_namespaces)
        if out is not None:
            print(listed(items, kind, out))
            return

        def full(o: Obj, now: datetime) -> list[str]:
            return [o["metadata"]["name"], *row(o), *status_cells(o, now)]

        print_items(items, all_namespaces, empty, ["NAME", *headers, "AGE", "CONDITIONS", "READY", "REASON"], full)

    def describe(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default", out: DocOutOpt = None) -> None:
        obj = context_of(ctx).client().get(kind, namespace, name)
        if out is not None:
            print(formatted(obj, kind, out, str(obj.get("status", {}).get("sinkUri", ""))))
            return
        print(tabbed(describe_lines(obj, output.now_utc())))

    def delete(ctx: typer.Context, name: NameArg, namespace: NsOpt = "default") -> None:
        context_of(ctx).client().delete(kind, namespace, name)
        print(f"{label} '{name}' deleted in namespace '{namespace}'.")

    columns = " ".join(["NAME", *headers, "AGE", "CONDITIONS", "READY", "REASON"])
    app.command("list", help=f"List {plural} ({columns}).")(list_)
    app.command("describe", help=f"Show details of {noun}.")(describe)
    app.command("delete", help=f"Delete {noun}.")(delete)
