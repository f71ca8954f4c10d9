"""``kn``'s nouns: ``service create|update|list|describe|delete``, ``revision ...``, ``route ...``.

The Service is built and edited as a wire object by small pure functions (:func:`build_service`,
:func:`edit_template`); the commands only fetch, write and wait.
"""

from __future__ import annotations

import copy
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds, labels
from zeroserve.api.base import Obj
from zeroserve.cli import describe as describing
from zeroserve.cli import output, podspec, printing, traffic
from zeroserve.cli.client import ApiClient
from zeroserve.cli.context import Context
from zeroserve.cli.wait import NotReady, wait_ready

MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
DEFAULT_WAIT_TIMEOUT = 600.0
PAST = {"creating": "created", "replacing": "replaced", "updating": "updated"}

service_app = typer.Typer(help="Manage Knative services (kn service).", no_args_is_help=True)
revision_app = typer.Typer(help="Manage revisions (kn revision).", no_args_is_help=True)
route_app = typer.Typer(help="List and describe routes (kn route).", no_args_is_help=True)


@dataclass(frozen=True)
class TemplateOptions:
    """kn's template flags; None / empty means "leave as is" on update."""

    cmd: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    concurrency_limit: int | None = None
    port: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    image: str | None = None
    working_dir: str | None = None
    revision_name: str | None = None
    env_value_from: tuple[str, ...] = ()
    env_from: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    """The ``--env-file``'s entries (:func:`podspec.env_file_lines`), read by the command."""
    mounts: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()


def _pairs(items: tuple[str, ...], flag: str) -> list[tuple[str, str | None]]:
    """``K=V`` to set, ``K-`` to remove (value None)."""
    out: list[tuple[str, str | None]] = []
    for item in items:
        if "=" in item:
            key, value = item.split("=", 1)
            out.append((key, value))
        elif item.endswith("-") and len(item) > 1:
            out.append((item[:-1], None))
        else:
            raise errors.BadRequest(f"invalid --{flag} {item!r}: expected KEY=VALUE or KEY-")
        if not out[-1][0]:
            raise errors.BadRequest(f"invalid --{flag} {item!r}: empty key")
    return out


AUTOSCALING_PREFIX = "autoscaling.knative.dev/"


def _apply_map(target: dict[str, str], items: tuple[str, ...], flag: str) -> None:
    for key, value in _pairs(items, flag):
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def _command(cmd: tuple[str, ...]) -> list[str]:
    """kn's repeatable ``--cmd``; one value with spaces is split as a shell would."""
    return shlex.split(cmd[0]) if len(cmd) == 1 else list(cmd)


def build_service(name: str, namespace: str, opts: TemplateOptions) -> Obj:
    svc: Obj = {
        "apiVersion": kinds.SERVICE.api_version,
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{}]}}},
    }
    edit_template(svc, opts)
    return svc


def edit_template(svc: Obj, opts: TemplateOptions) -> bool:
    """Apply ``opts`` to ``svc`` in place; True when the revision template changed."""
    before = copy.deepcopy(svc.get("spec", {}).get("template"))
    meta = svc.setdefault("metadata", {})
    template = svc.setdefault("spec", {}).setdefault("template", {})
    tmeta, tspec = template.setdefault("metadata", {}), template.setdefault("spec", {})
    containers = tspec.setdefault("containers", [])
    if not containers:
        containers.append({})
    c = containers[0]
    for target in (meta.setdefault("labels", {}), tmeta.setdefault("labels", {})):
        _apply_map(target, opts.labels, "label")
    # As kn: annotations go to the Service and the template, except autoscaling ones, which
    # Knative accepts only on the template (spec.template.metadata.annotations).
    _apply_map(tmeta.setdefault("annotations", {}), opts.annotations, "annotation")
    service_level = tuple(a for a in opts.annotations if not a.startswith(AUTOSCALING_PREFIX))
    _apply_map(meta.setdefault("annotations", {}), service_level, "annotation")
    scale = {MIN_SCALE: opts.scale_min, MAX_SCALE: opts.scale_max}
    tmeta["annotations"].update({k: str(v) for k, v in scale.items() if v is not None})
    if opts.cmd:
        c["command"] = _command(opts.cmd)
    if opts.args:
        c["args"] = list(opts.args)
    podspec.update_env(c, _pairs(opts.env, "env"), opts.env_value_from, opts.env_file)
    podspec.update_env_from(c, opts.env_from)
    podspec.update_volumes(tspec, c, opts.mounts, opts.volumes)
    if opts.image is not None:
        c["image"] = opts.image
    if opts.working_dir is not None:
        c["workingDir"] = opts.working_dir
    if opts.port is not None:
        c["ports"] = [{"containerPort": opts.port}]
    if opts.concurrency_limit is not None:
        tspec["containerConcurrency"] = opts.concurrency_limit
    for m in (meta, tmeta):
        for key in ("labels", "annotations"):
            if not m.get(key):
                m.pop(key, None)
    if not tmeta:
        template.pop("metadata")  # the API server keeps no empty template metadata: not a change
    changed = bool(template != before)
    if opts.revision_name is not None:
        template.setdefault("metadata", tmeta)["name"] = _revision_name(meta.get("name", ""), opts.revision_name)
        changed = True
    elif changed and before is not None:
        tmeta.pop("name", None)  # a kept BYO name would be refused for a changed template
    return changed


def _revision_name(service: str, name: str) -> str:
    """kn's ``--revision-name``: prefixed with ``<service>-`` unless it already is."""
    return name if name.startswith(f"{service}-") else f"{service}-{name}"


# -- waiting and messages ----------------------------------------------------------------------------


class _Progress:
    """kn's progress lines: elapsed seconds and each new condition message, on stderr."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.seen: set[str] = set()

    def __call__(self, obj: Obj) -> None:
        status = obj.get("status", {})
        if status.get("observedGeneration") != obj.get("metadata", {}).get("generation"):
            return  # an earlier generation's status (kn skips it too): its Ready is not this change's
        for c in status.get("conditions") or []:
            text = "Ready to serve." if c.get("type") == "Ready" and c.get("status") == "True" else c.get("message")
            if not text or text in self.seen or (c.get("status") == "True" and c.get("type") != "Ready"):
                continue
            self.seen.add(text)
            print(f"  {time.monotonic() - self.start:.3f}s {text}", file=sys.stderr)


def _wait_and_report(client: ApiClient, ns: str, name: str, verb: str, timeout: float, changed: bool) -> int:
    print(f"{verb.capitalize()} service '{name}' in namespace '{ns}':\n", file=sys.stderr)
    try:
        svc = wait_ready(client, kinds.SERVICE, ns, name, timeout, _Progress())
    except NotReady as e:
        print(f"\nError: {e}", file=sys.stderr)
        return 1
    status = svc.get("status", {})
    rev = status.get("latestReadyRevisionName", "")
    done = f"{PAST[verb]} to latest revision '{rev}'" if changed else f"with latest revision '{rev}' (unchanged)"
    print(f"\nService '{name}' {done} is available at URL:", file=sys.stderr)
    print(status.get("url", ""))
    return 0


def _client(ctx: typer.Context) -> ApiClient:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj.client()


def _image(ctx: typer.Context, image: str | None, source: Path | None, namespace: str, name: str) -> str | None:
    """``--image``, or the digest ``--source`` was built and pushed as (cli/build.py)."""
    if source is None:
        return image
    if image is not None:
        raise errors.BadRequest("--image and --source cannot be used together")
    from zeroserve.cli.build import source_image

    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return source_image(obj, source, namespace, name)


NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


def _options(
    cmd: list[str] | None,
    arg: list[str] | None,
    env: list[str] | None,
    annotation: list[str] | None,
    label: list[str] | None,
    **single: object,
) -> TemplateOptions:
    return TemplateOptions(
        cmd=tuple(cmd or ()),
        args=tuple(arg or ()),
        env=tuple(env or ()),
        annotations=tuple(annotation or ()),
        labels=tuple(label or ()),
        **single,  # type: ignore[arg-type]
    )


def _storage(
    env_value_from: list[str] | None,
    env_from: list[str] | None,
    env_file: Path | None,
    mount: list[str] | None,
    volume: list[str] | None,
) -> dict[str, object]:
    """kn's ConfigMap/Secret flags as TemplateOptions fields (the ``--env-file`` read here)."""
    lines: tuple[str, ...] = ()
    if env_file is not None:
        try:
            lines = tuple(podspec.env_file_lines(env_file.read_text()))
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise errors.BadRequest(f"Invalid --env-file: open {env_file}: {reason}") from None
    return {
        "env_value_from": tuple(env_value_from or ()),
        "env_from": tuple(env_from or ()),
        "env_file": lines,
        "mounts": tuple(mount or ()),
        "volumes": tuple(volume or ()),
    }


CmdOpt = Annotated[list[str] | None, typer.Option("--cmd", help="Command (repeatable; one value is shell-split).")]
ArgOpt = Annotated[list[str] | None, typer.Option("--arg", help="Argument (repeatable).")]
EnvOpt = Annotated[list[str] | None, typer.Option("--env", "-e", help="K=V to set, K- to remove.")]
AnnOpt = Annotated[list[str] | None, typer.Option("--annotation", "-a", help="K=V to set, K- to remove.")]
LabelOpt = Annotated[list[str] | None, typer.Option("--label", "-l", help="K=V to set, K- to remove.")]
ConcOpt = Annotated[int | None, typer.Option("--concurrency-limit", help="Hard limit of concurrent requests.")]
PortOpt = Annotated[int | None, typer.Option("--port", "-p", help="The port the app listens on.")]
MinOpt = Annotated[int | None, typer.Option("--scale-min", help="Minimum number of replicas.")]
MaxOpt = Annotated[int | None, typer.Option("--scale-max", help="Maximum number of replicas.")]
ImageOpt = Annotated[str | None, typer.Option("--image", help="Container image.")]
SourceOpt = Annotated[
    Path | None,
    typer.Option("--source", help="Build this directory (Containerfile), push it, run the pushed digest."),
]
WdOpt = Annotated[str | None, typer.Option("--working-dir", help="Working directory of the command.")]
RevOpt = Annotated[str | None, typer.Option("--revision-name", help="Name of the new revision.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Do not wait for the service to be Ready.")]
TimeoutOpt = Annotated[float, typer.Option("--wait-timeout", help="Seconds to wait for Ready.")]
EnvValueFromOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--env-value-from",
        help="NAME=cm:CONFIGMAP:KEY or NAME=secret:SECRET:KEY (config-map:, sc: too); NAME- to remove.",
    ),
]
EnvFromOpt = Annotated[
    list[str] | None,
    typer.Option("--env-from", help="All keys of cm:CONFIGMAP or secret:SECRET as variables; append - to remove."),
]
EnvFileOpt = Annotated[Path | None, typer.Option("--env-file", help="A file of NAME=value lines.")]
MountOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mount",
        help="PATH=cm:CONFIGMAP, PATH=secret:SECRET, PATH=emptyDir:NAME or PATH=VOLUME (a volume is generated "
        "for cm/secret/emptyDir); the name may be followed by /SUBPATH and :readOnly=BOOL; PATH- to unmount.",
    ),
]
VolumeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--volume",
        help="NAME=cm:CONFIGMAP, NAME=secret:SECRET or NAME=emptyDir:X:type=Memory,size=1Gi; NAME- to remove.",
    ),
]


@service_app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    cmd: CmdOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    annotation: AnnOpt = None,
    label: LabelOpt = None,
    concurrency_limit: ConcOpt = None,
    port: PortOpt = None,
    scale_min: MinOpt = None,
    scale_max: MaxOpt = None,
    image: ImageOpt = None,
    source: SourceOpt = None,
    working_dir: WdOpt = None,
    revision_name: RevOpt = None,
    env_value_from: EnvValueFromOpt = None,
    env_from: EnvFromOpt = None,
    env_file: EnvFileOpt = None,
    mount: MountOpt = None,
    volume: VolumeOpt = None,
    no_wait: NoWaitOpt = False,
    wait_timeout: TimeoutOpt = DEFAULT_WAIT_TIMEOUT,
    namespace: NsOpt = "default",
    force: Annotated[bool, typer.Option("--force", help="Replace the service if it exists.")] = False,
) -> None:
    """Create a service."""
    client = _client(ctx)
    image = _image(ctx, image, source, namespace, name)
    opts = _options(
        cmd, arg, env, annotation, label, concurrency_limit=concurrency_limit, port=port, scale_min=scale_min,
        scale_max=scale_max, image=image, working_dir=working_dir, revision_name=revision_name,
        **_storage(env_value_from, env_from, env_file, mount, volume),
    )  # fmt: skip
    svc = build_service(name, namespace, opts)
    try:
        client.create(kinds.SERVICE, svc)
    except errors.AlreadyExists:
        if not force:
            raise errors.AlreadyExists(
                f"cannot create service '{name}' in namespace '{namespace}' because the service already exists "
                "and no --force option was given"
            ) from None
        existing = client.get(kinds.SERVICE, namespace, name)
        svc["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
        client.update(kinds.SERVICE, svc)
    verb = "replacing" if force else "creating"
    if no_wait:
        print(f"Service '{name}' {PAST[verb]} in namespace '{namespace}'.", file=sys.stderr)
        return
    raise typer.Exit(_wait_and_report(client, namespace, name, verb, wait_timeout, True))


@service_app.command("update")
def update(
    ctx: typer.Context,
    name: str,
    cmd: CmdOpt = None,
    arg: ArgOpt = None,
    env: EnvOpt = None,
    annotation: AnnOpt = None,
    label: LabelOpt = None,
    concurrency_limit: ConcOpt = None,
    port: PortOpt = None,
    scale_min: MinOpt = None,
    scale_max: MaxOpt = None,
    image: ImageOpt = None,
    source: SourceOpt = None,
    working_dir: WdOpt = None,
    revision_name: RevOpt = None,
    env_value_from: EnvValueFromOpt = None,
    env_from: EnvFromOpt = None,
    env_file: EnvFileOpt = None,
    mount: MountOpt = None,
    volume: VolumeOpt = None,
    traffic_: Annotated[list[str] | None, typer.Option("--traffic", help="REV=PCT, TAG=PCT, @latest=PCT.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="REV=TAG (REV may be @latest).")] = None,
    untag: Annotated[list[str] | None, typer.Option("--untag", help="Tag to remove.")] = None,
    no_wait: NoWaitOpt = False,
    wait_timeout: TimeoutOpt = DEFAULT_WAIT_TIMEOUT,
    namespace: NsOpt = "default",
) -> None:
    """Update a service: its template (a new revision) and/or its traffic."""
    client = _client(ctx)
    image = _image(ctx, image, source, namespace, name)
    opts = _options(
        cmd, arg, env, annotation, label, concurrency_limit=concurrency_limit, port=port, scale_min=scale_min,
        scale_max=scale_max, image=image, working_dir=working_dir, revision_name=revision_name,
        **_storage(env_value_from, env_from, env_file, mount, volume),
    )  # fmt: skip
    flags = traffic.TrafficFlags.parse(traffic_ or [], tag or [], untag or [])
    changed = False
    for attempt in range(3):
        svc = client.get(kinds.SERVICE, namespace, name)
        changed = edit_template(svc, opts)
        if flags.given:
            svc["spec"]["traffic"] = _traffic(client, svc, flags, changed)
        svc.pop("status", None)
        try:
            client.update(kinds.SERVICE, svc)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    if no_wait:
        print(f"Service '{name}' updated in namespace '{namespace}'.", file=sys.stderr)
        return
    raise typer.Exit(_wait_and_report(client, namespace, name, "updating", wait_timeout, changed))


def _traffic(client: ApiClient, svc: Obj, flags: traffic.TrafficFlags, mutation: bool) -> list[Obj]:
    meta = svc["metadata"]
    revs = _revisions(client, meta.get("namespace", "default"), meta["name"])
    return traffic.compute(
        meta["name"],
        svc.get("spec", {}).get("traffic") or [],
        flags,
        [r["metadata"]["name"] for r in revs],
        str(svc.get("status", {}).get("latestReadyRevisionName") or ""),
        mutation,
    )


def _revisions(client: ApiClient, namespace: str, service: str | None) -> list[Obj]:
    selector = f"{labels.SERVICE}={service}" if service else None
    items = client.list(kinds.REVISION, namespace, selector).get("items") or []
    return sorted(items, key=lambda r: (describing.generation(r), r["metadata"]["name"]), reverse=True)


@service_app.command("list")
def service_list(ctx: typer.Context, namespace: NsOpt = "default") -> None:
    """List services (NAME URL LATEST AGE CONDITIONS READY REASON)."""
    items = _client(ctx).list(kinds.SERVICE, namespace).get("items") or []
    if not items:
        print(f"No services found in {namespace} namespace.", file=sys.stderr)
        return
    now = output.now_utc()
    client = _client(ctx)
    items = sorted(items, key=lambda s: s["metadata"]["name"])
    rows = [
        [
            s["metadata"]["name"],
            s.get("status", {}).get("url", ""),
            s.get("status", {}).get("latestReadyRevisionName", ""),
            output.age(s["metadata"].get("creationTimestamp"), now),
            output.conditions_summary(s),
            output.ready_columns(s)[0],
            printing.with_cause(output.ready_columns(s)[1], cause),
        ]
        for s, cause in zip(items, printing.root_causes(client, kinds.SERVICE, items), strict=True)
    ]
    print(output.table(["NAME", "URL", "LATEST", "AGE", "CONDITIONS", "READY", "REASON"], rows))


@service_app.command("describe")
def service_describe(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Show a service, its revisions and traffic."""
    print(describing.describe(_client(ctx), kinds.SERVICE, namespace, name, output.now_utc()))


@service_app.command("delete")
def service_delete(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Delete a service (its configuration, revisions and route go with it)."""
    _client(ctx).delete(kinds.SERVICE, namespace, name)
    print(f"Service '{name}' successfully deleted in namespace '{namespace}'.")


# -- revision ----------------------------------------------------------------------------------------


def _traffic_by_revision(svc: Obj) -> dict[str, tuple[int, list[str]]]:
    status = svc.get("status", {})
    latest = str(status.get("latestReadyRevisionName") or "")
    out: dict[str, tuple[int, list[str]]] = {}
    for t in status.get("traffic") or svc.get("spec", {}).get("traffic") or []:
        rev = t.get("revisionName") or (latest if t.get("latestRevision", True) else "")
        percent, tags = out.get(rev, (0, []))
        out[rev] = (percent + int(t.get("percent") or 0), [*tags, *([t["tag"]] if t.get("tag") else [])])
    return out


@revision_app.command("list")
def revision_list(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service's revisions.")] = None,
    namespace: NsOpt = "default",
) -> None:
    """List revisions (NAME SERVICE TRAFFIC TAGS GENERATION AGE CONDITIONS READY REASON)."""
    client = _client(ctx)
    revs = _revisions(client, namespace, service)
    if not revs:
        print(f"No revisions found in {namespace} namespace.", file=sys.stderr)
        return
    services: dict[str, dict[str, tuple[int, list[str]]]] = {}
    now, rows = output.now_utc(), []
    for r in revs:
        svc_name = (r["metadata"].get("labels") or {}).get(labels.SERVICE, "")
        if svc_name and svc_name not in services:
            try:
                services[svc_name] = _traffic_by_revision(client.get(kinds.SERVICE, namespace, svc_name))
            except errors.NotFound:
                services[svc_name] = {}
        percent, tags = services.get(svc_name, {}).get(r["metadata"]["name"], (0, []))
        rows.append([
            r["metadata"]["name"], svc_name, f"{percent}%" if percent else "", ",".join(tags),
            str(describing.generation(r)), output.age(r["metadata"].get("creationTimestamp"), now),
            output.conditions_summary(r), *output.ready_columns(r),
        ])  # fmt: skip
    headers = ["NAME", "SERVICE", "TRAFFIC", "TAGS", "GENERATION", "AGE", "CONDITIONS", "READY", "REASON"]
    print(output.table(headers, rows))


@revision_app.command("describe")
def revision_describe(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Show a revision."""
    print(describing.describe(_client(ctx), kinds.REVISION, namespace, name, output.now_utc()))


@revision_app.command("delete")
def revision_delete(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Delete a revision."""
    _client(ctx).delete(kinds.REVISION, namespace, name)
    print(f"Revision '{name}' deleted in namespace '{namespace}'.")


# -- route -------------------------------------------------------------------------------------------


@route_app.command("list")
def route_list(ctx: typer.Context, namespace: NsOpt = "default") -> None:
    """List routes (NAME URL READY)."""
    items = _client(ctx).list(kinds.ROUTE, namespace).get("items") or []
    if not items:
        print(f"No routes found in {namespace} namespace.", file=sys.stderr)
        return
    rows = [
        [r["metadata"]["name"], r.get("status", {}).get("url", ""), output.ready_columns(r)[0]]
        for r in sorted(items, key=lambda r: r["metadata"]["name"])
    ]
    print(output.table(["NAME", "URL", "READY"], rows))


@route_app.command("describe")
def route_describe(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Show a route and its traffic targets."""
    print(describing.describe(_client(ctx), kinds.ROUTE, namespace, name, output.now_utc()))
