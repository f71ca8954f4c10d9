"""The ``zeroserve`` command: global options, the generic verbs, and the error boundary.

Every user error (no server, NotFound, Invalid, Conflict, bad flags) ends as a message on stderr and
exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.cli import helpfmt, output, printing, resources
from zeroserve.cli.addresses import env
from zeroserve.cli.autoscaler import autoscaler_app
from zeroserve.cli.build import build
from zeroserve.cli.channels import channel_app, subscription_app
from zeroserve.cli.context import Context
from zeroserve.cli.dashboard import dashboard
from zeroserve.cli.domain import domain_app
from zeroserve.cli.event import event_app
from zeroserve.cli.eventing import broker_app, trigger_app
from zeroserve.cli.eventtype import eventtype_app
from zeroserve.cli.kubernetes import kubernetes_app
from zeroserve.cli.secret import configmap_app, secret_app
from zeroserve.cli.service import revision_app, route_app, service_app
from zeroserve.cli.source import source_app
from zeroserve.cli.version import print_version, version

helpfmt.install()
app = typer.Typer(
    name="zeroserve",
    help="Knative Serving on one machine: `zeroserve up`, then `zeroserve apply -f service.yaml`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(service_app, name="service")
app.add_typer(service_app, name="ksvc", hidden=True)
app.add_typer(revision_app, name="revision")
app.add_typer(route_app, name="route")
app.add_typer(domain_app, name="domain")
app.add_typer(domain_app, name="domains", hidden=True)
app.add_typer(secret_app, name="secret")
app.add_typer(secret_app, name="secrets", hidden=True)
app.add_typer(configmap_app, name="configmap")
app.add_typer(configmap_app, name="configmaps", hidden=True)
app.add_typer(configmap_app, name="cm", hidden=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(autoscaler_app, name="autoscaler")
app.add_typer(broker_app, name="broker")
app.add_typer(trigger_app, name="trigger")
app.add_typer(channel_app, name="channel")
app.add_typer(subscription_app, name="subscription")
app.add_typer(event_app, name="event")
app.add_typer(source_app, name="source")
app.add_typer(source_app, name="sources", hidden=True)
app.add_typer(eventtype_app, name="eventtype")
app.add_typer(eventtype_app, name="eventtypes", hidden=True)
app.add_typer(kubernetes_app, name="kubernetes")
app.command()(env)
app.command()(build)
app.command()(version)
app.command()(dashboard)

NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


def complete_kind(incomplete: str) -> list[str]:
    """Shell completion of a resource type: the plurals and short names that start with ``incomplete``."""
    from zeroserve.api.kinds import KINDS

    names = dict.fromkeys(n for k in KINDS for n in (k.plural, *k.short_names))
    return [n for n in names if n.startswith(incomplete.lower())]


KindArg = Annotated[str, typer.Argument(help="Resource type (services, ksvc, rev, ...).", autocompletion=complete_kind)]


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (default $ZEROSERVE_DATA_DIR or ~/.zeroserve).")
    ] = None,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.obj = Context.from_env(data_dir)


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.command()
def up(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="State directory (default: the global --data-dir).")
    ] = None,
    api_host: Annotated[str, typer.Option(help="API server address.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="API server port (HTTPS; DATA/kubeconfig and DATA/ca.crt).")] = 8001,
    api_insecure_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the API over plain http on this port, for scripts (0: any free port; the token "
            "is still required; kubectl needs HTTPS)."
        ),
    ] = None,
    gateway_host: Annotated[str, typer.Option(help="Gateway address.")] = "127.0.0.1",
    gateway_port: Annotated[int, typer.Option(help="Gateway port (0: any free port, recorded).")] = 8080,
    internal_port: Annotated[
        int, typer.Option(help="Port of the internal listener for cluster-local names (0: any free port).")
    ] = 0,
    queue_proxy: Annotated[
        str | None,
        typer.Option(
            "--queue-proxy",
            help="inline: the gateway and activator do the queue-proxy's work (no sidecar); "
            "sidecar: a queue-proxy process with every instance. [default: inline]",
        ),
    ] = None,
    registry: Annotated[
        str,
        typer.Option(
            help="Registry `zeroserve build` and `service create --source` push to (HOST:PORT or HOST:PORT/PATH; "
            "with --serve-registry, where it listens: 127.0.0.1:5000 by default, port 0 for any)."
        ),
    ] = "",
    serve_registry: Annotated[
        bool, typer.Option("--serve-registry", help="Run a local registry (Debian's docker-registry, data in DATA).")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve Prometheus metrics (GET /metrics, no token) on 127.0.0.1:PORT (0: any free port)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Gateway processes accepting on the gateway's ports (this one and N-1 workers; 0: one per core).",
        ),
    ] = 0,
) -> None:
    """Run the platform (API server, controller, autoscaler, gateway) until Ctrl-C."""
    from zeroserve.cli.up import DEFAULT_QUEUE_PROXY, QUEUE_PROXY_MODES, run_up

    mode = DEFAULT_QUEUE_PROXY
    for known in QUEUE_PROXY_MODES:
        if (queue_proxy or DEFAULT_QUEUE_PROXY) == known:
            mode = known
            break
    else:
        raise typer.BadParameter(f"must be one of {', '.join(QUEUE_PROXY_MODES)}, was: {queue_proxy!r}")
    data = data_dir or _ctx(ctx).data_dir
    code = run_up(
        data, api_host, api_port, gateway_host, gateway_port, internal_port, mode,
        registry=registry, serve_registry=serve_registry, api_insecure_port=api_insecure_port,
        metrics_port=metrics_port, workers=workers,
    )  # fmt: skip
    raise typer.Exit(code)


@app.command("kubeconfig")
def kubeconfig_cmd(
    ctx: typer.Context,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Merge into $KUBECONFIG's first file or ~/.kube/config (entries named zeroserve are replaced, "
            "others kept) and make zeroserve the current context.",
        ),
    ] = False,
) -> None:
    """Print the kubeconfig `zeroserve up` wrote (DATA/kubeconfig): `KUBECONFIG=... kubectl get ksvc`."""
    import os

    from zeroserve.cli import kubeconfig

    path = _ctx(ctx).data_dir / kubeconfig.KUBECONFIG_FILE
    ours = kubeconfig.read(path)
    if not ours:
        raise errors.NotFound(f"no kubeconfig at {path}: run `zeroserve up` first")
    if not merge:
        print(kubeconfig.dump(ours), end="")
        return
    target = kubeconfig.user_kubeconfig(os.environ, Path.home())
    previous = kubeconfig.merge_into(target, ours)
    was = f" (was {previous})" if previous and previous != kubeconfig.NAME else ""
    print(f"merged into {target}; current context: {kubeconfig.NAME}{was}")


@app.command()
def apply(
    ctx: typer.Context,
    filename: Annotated[list[str], typer.Option("--filename", "-f", help="File, directory or - (repeatable).")],
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until each resource is Ready.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 600.0,
) -> None:
    """Create or update resources from YAML (all documents are validated before any is written)."""
    raise typer.Exit(resources.apply(_ctx(ctx).client(), filename, namespace, wait, timeout))


@app.command()
def get(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(
            help="services (ksvc), configurations (config), revisions (rev), routes (rt), secrets, "
            "configmaps (cm), namespaces (ns), brokers, triggers, ...",
            autocompletion=complete_kind,
        ),
    ],
    name: Annotated[str | None, typer.Argument()] = None,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
    out: Annotated[str, typer.Option("--output", "-o", metavar="FORMAT", help=printing.OUTPUT_HELP)] = "",
    show_managed_fields: Annotated[
        bool, typer.Option("--show-managed-fields", help="Keep metadata.managedFields in yaml/json output.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="After listing, print each change as it comes (Ctrl-C ends).")
    ] = False,
) -> None:
    """List resources, or show one."""
    spec = printing.parse_output(out)
    client = _ctx(ctx).client()
    raise typer.Exit(resources.get(client, kind, name, namespace, all_namespaces, spec, show_managed_fields, watch))


@app.command()
def describe(ctx: typer.Context, kind: KindArg, name: str, namespace: NsOpt = "default") -> None:
    """Show a resource in detail: spec essentials, traffic, conditions."""
    from zeroserve.cli.describe import describe as describe_obj

    print(describe_obj(_ctx(ctx).client(), resources.resource_kind(kind), namespace, name, output.now_utc()))


@app.command()
def delete(ctx: typer.Context, kind: KindArg, names: list[str], namespace: NsOpt = "default") -> None:
    """Delete resources by name."""
    raise typer.Exit(resources.delete(_ctx(ctx).client(), kind, names, namespace))


@app.command()
def logs(
    ctx: typer.Context,
    service: str,
    revision: Annotated[str | None, typer.Option("--revision", "-r", help="Only this revision.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new output.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines of each instance.")] = None,
    namespace: NsOpt = "default",
) -> None:
    """Print what a Service's instances write to stdout/stderr (all revisions unless --revision)."""
    from zeroserve.cli.logs import show_logs

    raise typer.Exit(show_logs(_ctx(ctx).client(), namespace, service, revision, follow=follow, tail=tail))


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration (DATA/config.yaml over Knative's defaults) as YAML."""
    from zeroserve.config.parse import config_to_data, load_config_file

    cfg = load_config_file(_ctx(ctx).data_dir / "config.yaml")
    print(output.to_yaml(config_to_data(cfg)))


@app.command("queue-proxy", hidden=True)
def queue_proxy() -> None:
    """The queue-proxy sidecar, configured by its environment as Knative's (the runtime starts it)."""
    from zeroserve.queue.server import main as queue_main

    raise typer.Exit(queue_main())


@app.command()
def activator(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address ($ZEROSERVE_ACTIVATOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port, 0: any ($ZEROSERVE_ACTIVATOR_PORT, 8012).")] = None,
    stat_url: Annotated[
        str | None, typer.Option(help="Autoscaler stat server URL ($ZEROSERVE_ACTIVATOR_STAT_URL).")
    ] = None,
) -> None:
    """Run the activator as its own process; it watches the API (--data-dir, $ZEROSERVE_API/_TOKEN/_CA_FILE)."""
    import os

    from zeroserve.activator.server import ActivatorSettings, run

    c = _ctx(ctx)
    env = {**os.environ, "ZEROSERVE_API": c.api, "ZEROSERVE_TOKEN": c.token, "ZEROSERVE_CA_FILE": c.ca_file}
    settings = ActivatorSettings.from_env(env)
    raise typer.Exit(run(settings.with_flags(host=host, port=port, stat_url=stat_url)))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every zeroserve error into one stderr line and exit 1."""
    try:
        app(args=argv, prog_name="zeroserve")
    except errors.Invalid as e:
        head = f'{e.kind} "{e.name}" is invalid:' if e.kind else "invalid:"
        print(output.terminal_safe(f"error: {head}"), file=sys.stderr)
        for fe in e.errors:
            print(output.terminal_safe(f"  {output.field_error(fe)}"), file=sys.stderr)
        sys.exit(1)
    except errors.ZeroserveError as e:
        print(output.terminal_safe(f"error: {e}"), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
