"""``kn source container``: create, update, list, describe and delete ContainerSources.

knative/client ``pkg/commands/source/container``: the pod flags of ``kn service`` for the first
container (``--image``, ``--cmd``, ``--arg``, ``--env``/``-e`` ``K=V`` or ``K-``, ``--working-dir``;
:func:`zeroserve.cli.service.edit_template` applies them), ``--ce-override``, ``--sink``; kn's
messages, list columns (IMAGE; a command where there is no image) and describe layout. kn requires
``--image``; here ``--cmd`` alone is enough too: a command without an image runs as a process.
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
from zeroserve.cli.service import ArgOpt, CmdOpt, EnvOpt, TemplateOptions, edit_template
from zeroserve.cli.source_apiserver import CeOpt, NsOpt, apply_ce_overrides, sink_lines
from zeroserve.cli.source_list import ListOut, print_list

container_app = typer.Typer(help="Manage container sources (kn source container).", no_args_is_help=True)

KIND = kinds.CONTAINERSOURCE
ImageOpt = Annotated[str | None, typer.Option("--image", help="Image to run.")]
WorkdirOpt = Annotated[str | None, typer.Option("--working-dir", help="The working directory of the container.")]
SinkOpt = Annotated[str | None, typer.Option("--sink", "-s", help=SINK_HELP)]


def _edit(spec: Obj, opts: TemplateOptions) -> None:
    """The pod flags on ``spec.template`` (``edit_template`` works on a Service-shaped object)."""
    holder: Obj = {"metadata": {}, "spec": {"template": spec.get("template") or {"spec": {"containers": [{}]}}}}
    edit_template(holder, opts)
    spec["template"] = holder["spec"]["template"]


def _options(
    image: str | None, cmd: list[str] | None, arg: list[str] | None, env: list[str] | None, working_dir: str | None
) -> TemplateOptions:
    return TemplateOptions(
        image=image, cmd=tuple(cmd or ()), args=tuple(arg or ()), env=tuple(env or ()), working_dir=working_dir
    )


@container_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    image: ImageOpt = None,
    cmd: CmdOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    working_dir: WorkdirOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a container source.

    `zeroserve source container create beats --cmd "python3 app.py --period 1" --sink ksvc:recorder`
    """
    missing = [f'"{flag}"' for flag, value in (('image" or "cmd', image or cmd), ("sink", sink)) if not value]
    if missing:
        raise errors.BadRequest(f"required flag(s) {', '.join(missing)} not set")
    assert sink is not None
    client = context_of(ctx).client()
    try:
        destination = resolve_sink(client, sink, namespace)
    except errors.ApiError as e:
        raise errors.BadRequest(
            f"cannot create ContainerSource '{name}' in namespace '{namespace}' because: {e}"
        ) from None
    spec: Obj = {"sink": destination}
    _edit(spec, _options(image, cmd, arg, env, working_dir))
    apply_ce_overrides(spec, ce_override or [])
    obj = {"apiVersion": KIND.api_version, "kind": KIND.kind, "metadata": {"name": name, "namespace": namespace}}
    client.create(KIND, {**obj, "spec": spec})
    print(f"ContainerSource '{name}' created in namespace '{namespace}'.")


@container_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    image: ImageOpt = None,
    cmd: CmdOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    working_dir: WorkdirOpt = None,
    sink: SinkOpt = None,
    ce_override: CeOpt = None,
    namespace: NsOpt = "default",
) -> None:
    """Update a container source: only the flags given change."""
    client = context_of(ctx).client()
    for attempt in range(3):
        source = client.get(KIND, namespace, name)
        spec = source.setdefault("spec", {})
        _edit(spec, _options(image, cmd, arg, env, working_dir))
        if sink is not None:
            spec["sink"] = resolve_sink(client, sink, namespace)
        apply_ce_overrides(spec, ce_override or [])
        source.pop("status", None)
        try:
            client.update(KIND, source)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"Container source '{name}' updated in namespace '{namespace}'.")


def _first(o: Obj) -> Obj:
    containers = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    first: Obj = containers[0]
    return first


@container_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: ListOut = None,
) -> None:
    """List container sources (NAME IMAGE SINK AGE CONDITIONS READY REASON)."""
    items = context_of(ctx).client().list(KIND, None if all_namespaces else namespace).get("items") or []

    def row(o: Obj) -> list[str]:
        c = _first(o)
        return [str(c.get("image") or " ".join(c.get("command") or [])), sink_text(o.get("spec", {}).get("sink") or {})]

    print_list(items, KIND, all_namespaces, out, "No Container source found.", ["IMAGE", "SINK"], row)


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Container (Image, Env, Args; Command here too), Sink, CloudEvent Overrides,
    Conditions."""
    spec, meta = obj.get("spec", {}), obj.get("metadata", {})
    c = _first(obj)
    lines = [*metadata_lines(obj, now), "Container:", f"  Image:\t{c.get('image') or ''}"]
    if c.get("command"):
        lines.append(f"  Command:\t{' '.join(c['command'])}")
    if c.get("env"):
        lines.append("  Env:")
        lines += [
            f"    {e.get('name', '')}:\t{'[ref]' if e.get('valueFrom') else e.get('value', '')}" for e in c["env"]
        ]
    if c.get("args"):
        lines += ["  Args:", *(f"    {a}" for a in c["args"])]
    lines += ["", *sink_lines(spec.get("sink") or {}, str(meta.get("namespace", ""))), ""]
    extensions = (spec.get("ceOverrides") or {}).get("extensions") or {}
    if extensions:
        lines += ["CloudEvent Overrides:", *(f"  {k}:\t{extensions[k]}" for k in sorted(extensions)), ""]
    return [*lines, *condition_lines(obj, now)]


@container_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml or json.")] = None,
) -> None:
    """Show details of a container source."""
    obj = context_of(ctx).client().get(KIND, namespace, name)
    if out is not None:
        print(formatted(obj, KIND, out, str(obj.get("status", {}).get("sinkUri", ""))))
        return
    print(tabbed(describe_lines(obj, output.now_utc())))


@container_app.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a container source."""
    context_of(ctx).client().delete(KIND, namespace, name)
    print(f"ContainerSource '{name}' deleted in namespace '{namespace}'.")
