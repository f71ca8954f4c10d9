"""``kn eventtype list|describe``: the event registry (``eventing.knative.dev`` EventTypes).

knative/client ``pkg/commands/eventtype``: list columns NAME TYPE SOURCE REFERENCE AGE READY
(``No eventtypes found.`` when empty), describe's Source, Reference and Conditions. The sources
make these (a source whose sink is a Broker gets one per event type it sends), as Knative's.
"""

from __future__ import annotations

from datetime import datetime

import typer

from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import output
from zeroserve.cli.describe import tabbed
from zeroserve.cli.eventing import (
    AllNsOpt,
    DocOutOpt,
    NameArg,
    NsOpt,
    condition_lines,
    context_of,
    formatted,
    items_of,
    listed,
    metadata_lines,
    print_items,
)

eventtype_app = typer.Typer(help="Manage eventtypes (kn eventtype).", no_args_is_help=True)

KIND = kinds.EVENTTYPE


@eventtype_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: AllNsOpt = False,
    out: DocOutOpt = None,
) -> None:
    """List eventtypes (NAME TYPE SOURCE REFERENCE AGE READY)."""
    items = items_of(ctx, KIND, namespace, all_namespaces)
    if out is not None:
        print(listed(items, KIND, out))
        return

    def row(o: Obj, now: datetime) -> list[str]:
        spec = o.get("spec", {})
        return [
            o["metadata"]["name"],
            str(spec.get("type", "")),
            str(spec.get("source") or ""),
            str((spec.get("reference") or {}).get("name", "")),
            output.age(o["metadata"].get("creationTimestamp"), now),
            output.ready_columns(o)[0],
        ]

    headers = ["NAME", "TYPE", "SOURCE", "REFERENCE", "AGE", "READY"]
    print_items(items, all_namespaces, "No eventtypes found.", headers, row)


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's ``describeEventtype``."""
    spec, namespace = obj.get("spec", {}), str(obj.get("metadata", {}).get("namespace", ""))
    lines = [*metadata_lines(obj, now), f"Type:\t{spec.get('type', '')}", f"Source:\t{spec.get('source') or ''}"]
    lines.append("Reference:")
    ref = spec.get("reference") or {}
    if ref:
        lines += [
            f"  APIVersion:\t{ref.get('apiVersion', '')}",
            f"  Kind:\t{ref.get('kind', '')}",
            f"  Name:\t{ref.get('name', '')}",
        ]
        if namespace and namespace != ref.get("namespace"):
            lines.append(f"  Namespace:\t{ref.get('namespace', '')}")
    return [*lines, "", *condition_lines(obj, now)]


@eventtype_app.command("describe")
def describe(
    ctx: typer.Context,
    name: NameArg,
    namespace: NsOpt = "default",
    out: DocOutOpt = None,
) -> None:
    """Describe an eventtype."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, ""))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))
