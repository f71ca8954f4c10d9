"""``kn source apiserver``: create, update, list, describe and delete ApiServerSources.

knative/client ``pkg/commands/source/apiserver``: ``--resource Kind:apiVersion[:k=v,k2=v2]``
(repeatable; on update a trailing ``-`` removes one), ``--mode`` (Reference by default),
``--service-account``, ``--ce-override k=v`` (``k-`` removes), ``--sink``; its messages and list
columns. The server validates what kn leaves to it (the mode's values, the kinds it serves).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli.eventing import (
    NameArg,
    NsOpt,
    condition_lines,
    context_of,
    metadata_lines,
    sink_lines,
    sink_text,
)
from zeroserve.cli.source_common import (
    CeOpt,
    SinkOpt,
    add_source_commands,
    create_sink,
    create_source,
    overrides_lines,
    require_flags,
    update_source,
)
from zeroserve.cli.source_common import parse_ce_overrides as parse_ce_overrides  # kn's flag, named here too

apiserver_app = typer.Typer(help="Manage Kubernetes api-server sources (kn source apiserver).", no_args_is_help=True)

KIND = kinds.APISERVERSOURCE
EXPECTED = "(expected: <kind:apiVersion[:label1=val1,label2=val2,..]>"
ResourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--resource",
        help="Specification for which events to listen, in the format Kind:APIVersion:LabelSelector, e.g. "
        '"Service:serving.knative.dev/v1:key=value". "LabelSelector" is a list of comma separated key value '
        'pairs and can be omitted. On update, a trailing "-" removes a resource.',
    ),
]
ModeHelp = (
    'The mode the receive adapter runs under: "Reference" sends only the reference to the resource, '
    '"Resource" the full resource.'
)
SaOpt = Annotated[
    str | None, typer.Option("--service-account", help="Name of the service account to use to run this source.")
]


# ----------------------------------------------------------------------------- flags


def parse_resource(resource: str) -> Obj:
    """kn's ``getValidAPIVersionKindSelector``: ``Kind:apiVersion[:k=v,...]`` as an APIVersionKindSelector."""
    parts = resource.split(":", 2)
    if not parts[0]:
        raise errors.BadRequest(f"cannot find 'kind' part in resource specification {resource} {EXPECTED}")
    if len(parts) < 2 or not parts[1]:
        raise errors.BadRequest(f"cannot find 'APIVersion' part in resource specification {resource} {EXPECTED}")
    selector: Obj = {"kind": parts[0], "apiVersion": parts[1]}
    if len(parts) == 3 and parts[2]:
        labels: dict[str, str] = {}
        for pair in parts[2].split(","):
            key, sep, value = pair.partition("=")
            if not sep:
                raise errors.BadRequest(f"invalid label selector in resource specification {resource} {EXPECTED}")
            labels[key] = value
        selector["selector"] = {"matchLabels": labels}
    return selector


def resource_text(selector: Obj) -> str:
    """kn's ``apiVersionKindSelectorToString``: ``Kind:apiVersion[:k=v,...]`` (match expressions elided)."""
    text = f"{selector.get('kind', '')}:{selector.get('apiVersion', '')}"
    labels = selector_text(selector.get("selector"))
    return f"{text}:{labels}" if labels else text


def selector_text(selector: Obj | None) -> str:
    if not selector:
        return ""
    labels = selector.get("matchLabels") or {}
    if labels:
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return "[match expressions]" if selector.get("matchExpressions") else ""


def update_resources(existing: list[Obj], flags: list[str]) -> list[Obj]:
    """kn's ``updateExistingAPIVersionKindSelectorArray``: append the added, drop the ``-`` ones (each must exist)."""
    added = [parse_resource(r) for r in flags if not r.endswith("-")]
    removed = [parse_resource(r[:-1]) for r in flags if r.endswith("-")]
    updated: list[Obj] = []
    for selector in [*existing, *added]:
        if selector in removed:
            removed.remove(selector)
            continue
        updated.append(selector)
    if removed:
        raise errors.BadRequest("cannot find resources to remove: " + ", ".join(resource_text(r) for r in removed))
    return updated


# ----------------------------------------------------------------------------- commands


@apiserver_app.command("create")
def create(
    ctx: typer.Context,
    name: NameArg,
    resource: ResourceOpt = None,
    sink: SinkOpt = None,
    mode: Annotated[str, typer.Option("--mode", help=ModeHelp)] = "Reference",
    service_account: SaOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create an api-server source.

    `zeroserve source apiserver create s --resource Service:serving.knative.dev/v1 --sink broker:default`
    """
    require_flags(("resource", resource), ("sink", sink))
    assert resource is not None and sink is not None
    client = context_of(ctx).client()
    destination = create_sink(client, KIND, sink, name, namespace)
    spec: Obj = {"sink": destination, "resources": [parse_resource(r) for r in resource], "mode": mode}
    if service_account:
        spec["serviceAccountName"] = service_account
    create_source(client, KIND, name, namespace, spec, ce_override, "ApiServer source")


@apiserver_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArg,
    resource: ResourceOpt = None,
    sink: SinkOpt = None,
    mode: Annotated[str | None, typer.Option("--mode", help=ModeHelp)] = None,
    service_account: SaOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update an api-server source: only the flags given change."""

    def edit(source: Obj) -> None:
        if (source.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.BadRequest(f"can't update apiserver source {name} because it has been marked for deletion")
        spec = source.setdefault("spec", {})
        if service_account is not None:
            spec["serviceAccountName"] = service_account
        if mode is not None:
            spec["mode"] = mode
        if resource:
            spec["resources"] = update_resources(list(spec.get("resources") or []), resource)

    update_source(ctx, KIND, name, namespace, edit, sink, ce_override, "ApiServer source")


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, ServiceAccountName, EventMode, Sink, CloudEvent Overrides, Resources, Conditions."""
    spec, meta = obj.get("spec", {}), obj.get("metadata", {})
    lines = [
        *metadata_lines(obj, now),
        f"ServiceAccountName:\t{spec.get('serviceAccountName') or ''}",
        f"EventMode:\t{spec.get('mode') or ''}",
        "",
        *sink_lines(spec.get("sink") or {}, str(meta.get("namespace", ""))),
        "",
        *overrides_lines(spec),
        "Resources:",
    ]
    for selector in spec.get("resources") or []:
        lines.append(f"  Kind:\t{selector.get('kind', '')} ({selector.get('apiVersion', '')})")
        if selector.get("selector") is not None:
            lines.append(f"  Selector:\t{selector_text(selector['selector'])}")
    return [*lines, "", *condition_lines(obj, now)]


def _row(o: Obj) -> list[str]:
    """RESOURCES SINK."""
    spec = o.get("spec", {})
    return [",".join(resource_text(r) for r in spec.get("resources") or []), sink_text(spec.get("sink") or {})]


add_source_commands(
    apiserver_app,
    KIND,
    noun="an api-server source",
    plural="api-server sources",
    label="ApiServer source",
    empty="No ApiServer source found.",
    headers=["RESOURCES", "SINK"],
    row=_row,
    describe_lines=describe_lines,
)
