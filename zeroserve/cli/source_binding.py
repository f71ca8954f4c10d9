"""``kn source binding``: create, update, list, describe and delete SinkBindings.

knative/client ``pkg/commands/source/binding``: ``--subject kind:apiVersion:name`` or
``kind:apiVersion:k=v[,k2=v2]`` (a label selector), as ``util.ToTrackerReference`` parses it;
``--ce-override``; ``--sink``; kn's messages, list columns and describe layout. The subject kinds
zeroserve binds (Knative Services, ContainerSources) are the server's to check.
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
    condition_lines,
    context_of,
    formatted,
    metadata_lines,
    resolve_sink,
    sink_text,
)
from zeroserve.cli.source_apiserver import CeOpt, NsOpt, apply_ce_overrides, sink_lines
from zeroserve.cli.source_list import ListOut, print_list

binding_app = typer.Typer(help="Manage sink bindings (kn source binding).", no_args_is_help=True)

KIND = kinds.SINKBINDING
SubjectOpt = Annotated[
    str | None,
    typer.Option(
        "--subject",
        help="Subject which emits cloud events. This argument takes format kind:apiVersion:name for named "
        "resources or kind:apiVersion:labelKey1=value1,labelKey2=value2 for matching via a label selector",
    ),
]
SinkOpt = Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)]


def parse_subject(subject: str, namespace: str) -> Obj:
    """kn's ``util.ToTrackerReference``."""
    parts = subject.split(":", 2)
    if len(parts) < 3:
        raise errors.BadRequest(f"invalid subject argument '{subject}': not in format kind:api/version:nameOrSelector")
    kind, api_version, rest = parts
    if api_version.count("/") > 1:
        raise errors.BadRequest(f"unexpected GroupVersion string: {api_version}")
    ref: Obj = {"apiVersion": api_version, "kind": kind, "namespace": namespace}
    if "=" not in rest:
        ref["name"] = rest
        return ref
    labels: dict[str, str] = {}
    for pair in rest.split(","):
        key, _, value = pair.partition("=")
        labels[key] = value
    ref["selector"] = {"matchLabels": labels}
    return ref


def subject_text(ref: Obj) -> str:
    """kn's ``subjectToString``: ``kind:apiVersion:name`` or ``kind:apiVersion:k=v,...``."""
    text = f"{ref.get('kind', '')}:{ref.get('apiVersion', '')}"
    if ref.get("name"):
        return f"{text}:{ref['name']}"
    labels = (ref.get("selector") or {}).get("matchLabels")
    if ref.get("selector") is not None:
        return f"{text}:" + ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return text


@binding_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    subject: SubjectOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a sink binding.

    `zeroserve source binding create my-binding --subject Service:serving.knative.dev/v1:myapp --sink broker:default`
    """
    missing = [f'"{flag}"' for flag, value in (("subject", subject), ("sink", sink)) if not value]
    if missing:
        raise errors.BadRequest(f"required flag(s) {', '.join(missing)} not set")
    assert subject is not None and sink is not None
    client = context_of(ctx).client()
    spec: Obj = {"subject": parse_subject(subject, namespace), "sink": resolve_sink(client, sink, namespace)}
    apply_ce_overrides(spec, ce_override or [])
    obj = {"apiVersion": KIND.api_version, "kind": KIND.kind, "metadata": {"name": name, "namespace": namespace}}
    client.create(KIND, {**obj, "spec": spec})
    print(f"Sink binding '{name}' created in namespace '{namespace}'.")


@binding_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    subject: SubjectOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a sink binding: only the flags given change."""
    client = context_of(ctx).client()
    for attempt in range(3):
        binding = client.get(KIND, namespace, name)
        spec = binding.setdefault("spec", {})
        if subject is not None:
            spec["subject"] = parse_subject(subject, namespace)
        if sink is not None:
            spec["sink"] = resolve_sink(client, sink, namespace)
        apply_ce_overrides(spec, ce_override or [])
        binding.pop("status", None)
        try:
            client.update(KIND, binding)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"Sink binding '{name}' updated in namespace '{namespace}'.")


@binding_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: ListOut = None,
) -> None:
    """List sink bindings (NAME SUBJECT SINK AGE CONDITIONS READY REASON)."""
    items = context_of(ctx).client().list(KIND, None if all_namespaces else namespace).get("items") or []

    def row(o: Obj) -> list[str]:
        spec = o.get("spec", {})
        return [subject_text(spec.get("subject") or {}), sink_text(spec.get("sink") or {})]

    print_list(items, KIND, all_namespaces, out, "No sink binding found.", ["SUBJECT", "SINK"], row)


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Subject (Resource, Name or Selector), Sink, CloudEvent Overrides, Conditions."""
    spec, meta = obj.get("spec", {}), obj.get("metadata", {})
    ref = spec.get("subject") or {}
    lines = [
        *metadata_lines(obj, now),
        "",
        "Subject:",
        f"  Resource:\t{ref.get('kind', '')} ({ref.get('apiVersion', '')})",
    ]
    if ref.get("name"):
        lines.append(f"  Name:\t{ref['name']}")
    else:
        labels = (ref.get("selector") or {}).get("matchLabels") or {}
        lines.append("  Selector:")
        lines += [f"    {k}:\t{labels[k]}" for k in sorted(labels)]
    lines += ["", *sink_lines(spec.get("sink") or {}, str(meta.get("namespace", ""))), ""]
    extensions = (spec.get("ceOverrides") or {}).get("extensions") or {}
    if extensions:
        lines += ["CloudEvent Overrides:", *(f"  {k}:\t{extensions[k]}" for k in sorted(extensions)), ""]
    return [*lines, *condition_lines(obj, now)]


@binding_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")] = None,
) -> None:
    """Show details of a sink binding."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, str(obj.get("status", {}).get("sinkUri", ""))))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))


@binding_app.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a sink binding."""
    context_of(ctx).client().delete(KIND, namespace, name)
    print(f"Sink binding '{name}' deleted in namespace '{namespace}'.")
