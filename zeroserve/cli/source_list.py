"""``kn source list`` and the list layout the source commands share.

knative/client ``pkg/commands/source/list.go``: every source of the namespace (``-A``: of all), with
kn's columns NAME TYPE RESOURCE SINK READY (TYPE the kind, RESOURCE ``<kind>s.<group>``);
``--type``/``-t`` (repeatable, case-insensitive) keeps the kinds named; ``No sources found.``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.eventing import context_of, list_rows, sink_text

SOURCE_KINDS = (kinds.APISERVERSOURCE, kinds.CONTAINERSOURCE, kinds.PINGSOURCE, kinds.SINKBINDING)
ListOut = Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")]


def print_list(
    items: list[Obj],
    kind: kinds.Kind,
    all_namespaces: bool,
    out: str | None,
    empty: str,
    headers: list[str],
    row: Callable[[Obj], list[str]],
) -> None:
    """kn's source list: NAME, ``headers`` (``row``'s cells), AGE CONDITIONS READY REASON."""
    if out is not None:
        if out not in ("yaml", "json"):
            raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json")
        print(output.document(items, kind, "yaml" if out == "yaml" else "json", single=False))
        return
    if not items:
        print(empty)
        return
    now = output.now_utc()

    def full(o: Obj) -> list[str]:
        age = output.age(o["metadata"].get("creationTimestamp"), now)
        return [o["metadata"]["name"], *row(o), age, output.conditions_summary(o), *output.ready_columns(o)]

    print(list_rows(items, all_namespaces, ["NAME", *headers, "AGE", "CONDITIONS", "READY", "REASON"], full))


def list_sources(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")] = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    types: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Filter list on given source type (repeatable).")
    ] = None,
) -> None:
    """List event sources (NAME TYPE RESOURCE SINK READY)."""
    wanted = {t.lower() for t in types or []}
    client = context_of(ctx).client()
    items: list[Obj] = []
    for kind in SOURCE_KINDS:
        if wanted and kind.kind.lower() not in wanted:
            continue
        items += client.list(kind, None if all_namespaces else namespace).get("items") or []
    if not items:
        print("No sources found.")
        return

    def row(o: Obj) -> list[str]:
        kind = next(k for k in SOURCE_KINDS if k.kind == o.get("kind"))
        ready = output.condition(o, "Ready").get("status") or "<unknown>"
        sink = sink_text((o.get("spec") or {}).get("sink") or {})
        return [o["metadata"]["name"], kind.kind, f"{kind.plural}.{kind.group}", sink, str(ready)]

    print(list_rows(items, all_namespaces, ["NAME", "TYPE", "RESOURCE", "SINK", "READY"], row))
