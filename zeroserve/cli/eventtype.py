"""``kn eventtype list|describe``: the event registry (``eventing.knative.dev`` EventTypes).

knative/client ``pkg/commands/eventtype``: list columns NAME TYPE SOURCE REFERENCE AGE READY
(``No eventtypes found.`` when empty), describe's Source, Reference and Conditions. The sources
make these (a source whose sink is a Broker gets one per event type it sends), as Knative's.
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
from zeroserve.cli.eventing import condition_lines, context_of, formatted, list_rows, metadata_lines

eventtype_app = typer.Typer(help="Manage eventtypes (kn eventtype).", no_args_is_help=True)

KIND = kinds.EVENTTYPE
NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
OutOpt = Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")]


@eventtype_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: OutOpt = None,
) -> None:
    """List eventtypes (NAME TYPE SOURCE REFERENCE AGE READY)."""
    items = context_of(ctx).client().list(KIND, None if all_namespaces else namespace).get("items") or []
    if out is not None:
        if out not in ("yaml", "json"):
            raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json")
        print(output.document(items, KIND, "yaml" if out == "yaml" else "json", single=False))
        return
    if not items:
        print("No eventtypes found.")
        return
    now = output.now_utc()

    def row(o: Obj) -> list[str]:
        spec = o.get("spec", {})
        return [
            o["metadata"]["name"],
            str(spec.get("type", "")),
            str(spec.get("source") or ""),
            str((spec.get("reference") or {}).get("name", "")),
            output.age(o["metadata"].get("creationTimestamp"), now),
            output.ready_columns(o)[0],
        ]

    print(list_rows(items, all_namespaces, ["NAME", "TYPE", "SOURCE", "REFERENCE", "AGE", "READY"], row))


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
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: OutOpt = None,
) -> None:
    """Describe an eventtype."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, ""))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))
