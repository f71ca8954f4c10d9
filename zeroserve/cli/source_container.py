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

from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli.eventing import NameArg, NsOpt, context_of, metadata_lines, sink_text
from zeroserve.cli.service import ArgOpt, CmdOpt, EnvOpt, TemplateOptions, edit_template
from zeroserve.cli.source_common import (
    CeOpt,
    SinkOpt,
    add_source_commands,
    create_sink,
    create_source,
    require_flags,
    sink_overrides_conditions,
    update_source,
)

container_app = typer.Typer(help="Manage container sources (kn source container).", no_args_is_help=True)

KIND = kinds.CONTAINERSOURCE
ImageOpt = Annotated[str | None, typer.Option("--image", help="Image to run.")]
WorkdirOpt = Annotated[str | None, typer.Option("--working-dir", help="The working directory of the container.")]


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
    name: NameArg,
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
    require_flags(('image" or "cmd', image or cmd), ("sink", sink))
    assert sink is not None
    client = context_of(ctx).client()
    spec: Obj = {"sink": create_sink(client, KIND, sink, name, namespace)}
    _edit(spec, _options(image, cmd, arg, env, working_dir))
    create_source(client, KIND, name, namespace, spec, ce_override, "ContainerSource")


@container_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArg,
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

    def edit(source: Obj) -> None:
        _edit(source.setdefault("spec", {}), _options(image, cmd, arg, env, working_dir))

    update_source(ctx, KIND, name, namespace, edit, sink, ce_override, "Container source")


def _first(o: Obj) -> Obj:
    containers = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    first: Obj = containers[0]
    return first


def describe_lines(obj: Obj, now: datetime) -> list[str]:
    """kn's layout: metadata, Container (Image, Env, Args; Command here too), Sink, CloudEvent Overrides,
    Conditions."""
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
    return [*lines, *sink_overrides_conditions(obj, now)]


def _row(o: Obj) -> list[str]:
    """IMAGE (a command where there is no image) SINK."""
    c = _first(o)
    return [str(c.get("image") or " ".join(c.get("command") or [])), sink_text(o.get("spec", {}).get("sink") or {})]


add_source_commands(
    container_app,
    KIND,
    noun="a container source",
    plural="container sources",
    label="ContainerSource",
    empty="No Container source found.",
    headers=["IMAGE", "SINK"],
    row=_row,
    describe_lines=describe_lines,
)
