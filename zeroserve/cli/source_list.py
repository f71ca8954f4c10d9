"""``kn source list``.

knative/client ``pkg/commands/source/list.go``: every source of the namespace (``-A``: of all), with
kn's columns NAME TYPE RESOURCE SINK READY (TYPE the kind, RESOURCE ``<kind>s.<group>``);
``--type``/``-t`` (repeatable, case-insensitive) keeps the kinds named; ``No sources found.``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.eventing import AllNsOpt, NsOpt, context_of, list_rows, sink_text

SOURCE_KINDS = (kinds.APISERVERSOURCE, kinds.CONTAINERSOURCE, kinds.PINGSOURCE, kinds.SINKBINDING)


def list_sources(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: AllNsOpt = False,
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
