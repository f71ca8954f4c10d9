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
from zeroserve.cli import output
from zeroserve.cli.describe import tabbed
from zeroserve.cli.eventing import (
    SINK_HELP,
    condition_lines,
    context_of,
    formatted,
    list_rows,
    metadata_lines,
    resolve_sink,
    sink_text,
)

apiserver_app = typer.Typer(help="Manage Kubernetes api-server sources (kn source apiserver).", no_args_is_help=True)

KIND = kinds.APISERVERSOURCE
EXPECTED = "(expected: <kind:apiVersion[:label1=val1,label2=val2,..]>"
NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
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
CeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ce-override",
        help="Cloud Event overrides to apply before sending event to sink, e.g. '--ce-override key=value' "
        '(repeatable). To unset, append "-" to the key (e.g. --ce-override key-).',
    ),
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


# ----------------------------------------------------------------------------- commands


@apiserver_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    resource: ResourceOpt = None,
    sink: Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)] = None,
    mode: Annotated[str, typer.Option("--mode", help=ModeHelp)] = "Reference",
    service_account: SaOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create an api-server source.

    `zeroserve source apiserver create s --resource Service:serving.knative.dev/v1 --sink broker:default`
    """
    missing = [f'"{flag}"' for flag, value in (("resource", resource), ("sink", sink)) if not value]
    if missing:
        raise errors.BadRequest(f"required flag(s) {', '.join(missing)} not set")
    assert resource is not None and sink is not None
    client = context_of(ctx).client()
    try:
        destination = resolve_sink(client, sink, namespace)
    except errors.ApiError as e:
        raise errors.BadRequest(
            f"cannot create ApiServerSource '{name}' in namespace '{namespace}' because: {e}"
        ) from None
    spec: Obj = {"sink": destination, "resources": [parse_resource(r) for r in resource], "mode": mode}
    if service_account:
        spec["serviceAccountName"] = service_account
    apply_ce_overrides(spec, ce_override or [])
    source = {
        "apiVersion": KIND.api_version,
        "kind": KIND.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    client.create(KIND, source)
    print(f"ApiServer source '{name}' created in namespace '{namespace}'.")


@apiserver_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    resource: ResourceOpt = None,
    sink: Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=ModeHelp)] = None,
    service_account: SaOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update an api-server source: only the flags given change."""
    client = context_of(ctx).client()
    for attempt in range(3):
        source = client.get(KIND, namespace, name)
        if (source.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.BadRequest(f"can't update apiserver source {name} because it has been marked for deletion")
        spec = source.setdefault("spec", {})
        if service_account is not None:
            spec["serviceAccountName"] = service_account
        if mode is not None:
            spec["mode"] = mode
        if resource:
            spec["resources"] = update_resources(list(spec.get("resources") or []), resource)
        if sink is not None:
            spec["sink"] = resolve_sink(client, sink, namespace)
        if ce_override:
            apply_ce_overrides(spec, ce_override)
        source.pop("status", None)
        try:
            client.update(KIND, source)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"ApiServer source '{name}' updated in namespace '{namespace}'.")


@apiserver_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")] = None,
) -> None:
    """List api-server sources (NAME RESOURCES SINK AGE CONDITIONS READY REASON)."""
    items = context_of(ctx).client().list(KIND, None if all_namespaces else namespace).get("items") or []
    if out is not None:
        print(_listed(items, out))
        return
    if not items:
        print("No ApiServer source found.")
        return
    now = output.now_utc()

    def row(o: Obj) -> list[str]:
        spec = o.get("spec", {})
        return [
            o["metadata"]["name"],
            ",".join(resource_text(r) for r in spec.get("resources") or []),
            sink_text(spec.get("sink") or {}),
            output.age(o["metadata"].get("creationTimestamp"), now),
            output.conditions_summary(o),
            *output.ready_columns(o),
        ]

    headers = ["NAME", "RESOURCES", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    print(list_rows(items, all_namespaces, headers, row))


def _listed(items: list[Obj], out: str) -> str:
    if out not in ("yaml", "json"):
        raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json")
    return output.document(items, KIND, "yaml" if out == "yaml" else "json", single=False)


def sink_lines(dest: Obj, namespace: str) -> list[str]:
    """kn's ``describe.Sink``."""
    lines = ["Sink:"]
    ref = dest.get("ref") or {}
    if ref:
        lines.append(f"  Name:\t{ref.get('name', '')}")
        if ref.get("namespace") and ref["namespace"] != namespace:
            lines.append(f"  Namespace:\t{ref['namespace']}")
        lines.append(f"  Resource:\t{ref.get('kind', '')} ({ref.get('apiVersion', '')})")
    if dest.get("uri"):
        lines.append(f"  URI:\t{dest['uri']}")
    return lines


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
    ]
    extensions = (spec.get("ceOverrides") or {}).get("extensions") or {}
    if extensions:
        lines += ["CloudEvent Overrides:", *(f"  {k}:\t{extensions[k]}" for k in sorted(extensions))]
    lines.append("Resources:")
    for selector in spec.get("resources") or []:
        lines.append(f"  Kind:\t{selector.get('kind', '')} ({selector.get('apiVersion', '')})")
        if selector.get("selector") is not None:
            lines.append(f"  Selector:\t{selector_text(selector['selector'])}")
    return [*lines, "", *condition_lines(obj, now)]


@apiserver_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")] = None,
) -> None:
    """Show details of an api-server source."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, str(obj.get("status", {}).get("sinkUri", ""))))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))


@apiserver_app.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete an api-server source."""
    context_of(ctx).client().delete(KIND, namespace, name)
    print(f"ApiServer source '{name}' deleted in namespace '{namespace}'.")
