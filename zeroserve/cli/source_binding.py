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
    name: NameArg,
    subject: SubjectOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a sink binding.

    `zeroserve source binding create my-binding --subject Service:serving.knative.dev/v1:myapp --sink broker:default`
    """
    require_flags(("subject", subject), ("sink", sink))
    assert subject is not None and sink is not None
    client = context_of(ctx).client()
    spec: Obj = {"subject": parse_subject(subject, namespace), "sink": resolve_sink(client, sink, namespace)}
    create_source(client, KIND, name, namespace, spec, ce_override, "Sink binding")


@binding_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArg,
    subject: SubjectOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a sink binding: only the flags given change."""

    def edit(binding: Obj) -> None:
        if subject is not None:
            binding.setdefault("spec", {})["subject"] = parse_subject(subject, namespace)

    update_source(ctx, KIND, name, namespace, edit, sink, ce_override, "Sink binding")


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Subject (Resource, Name or Selector), Sink, CloudEvent Overrides, Conditions."""
    ref = obj.get("spec", {}).get("subject") or {}
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
    return [*lines, *sink_overrides_conditions(obj, now)]


def _row(o: Obj) -> list[str]:
    """SUBJECT SINK."""
    spec = o.get("spec", {})
    return [subject_text(spec.get("subject") or {}), sink_text(spec.get("sink") or {})]


add_source_commands(
    binding_app,
    KIND,
    noun="a sink binding",
    plural="sink bindings",
    label="Sink binding",
    empty="No sink binding found.",
    headers=["SUBJECT", "SINK"],
    row=_row,
    describe_lines=describe_lines,
)
