"""``zeroserve kubernetes``: Kubernetes mode (docs/kubernetes.md).

``manifests`` prints what ``kubectl apply -f -`` needs to install zeroserve on a cluster
(:mod:`zeroserve.kubernetes.manifests`). ``controller`` is what its ``controller`` Deployment runs:
zeroserve's control plane and gateway in one process (:mod:`zeroserve.cli.kubeserve`), in its pod
or anywhere pod IPs route to (a node) with a kubeconfig; ``activator`` is what each replica of the
``activator`` Deployment runs (:mod:`zeroserve.cli.kubeactivator`).
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
import yaml

from zeroserve import errors
from zeroserve.api.base import Obj
from zeroserve.kubernetes import manifests as install

kubernetes_app = typer.Typer(
    help="Kubernetes mode: install zeroserve on a cluster (`zeroserve kubernetes manifests | kubectl apply -f -`).",
    no_args_is_help=True,
)

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", help="The cluster's kubeconfig [default: $KUBECONFIG, ~/.kube/config, else in-cluster]"
    ),
]
Context = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use")]


def render(objs: list[Obj]) -> str:
    """A multi-document YAML stream, one object per document."""
    return yaml.safe_dump_all(objs, sort_keys=False, default_flow_style=False, explicit_start=True)


@kubernetes_app.command("manifests")
def manifests(
    image: Annotated[str, typer.Option(help="The zeroserve image the Deployments run (Containerfile).")] = (
        install.Options.image
    ),
    image_pull_policy: Annotated[
        str, typer.Option(help="Always, IfNotPresent or Never (Never: an image imported on each node).")
    ] = install.Options.image_pull_policy,
    namespace: Annotated[str, typer.Option(help="The system namespace.")] = install.NAMESPACE,
    gateway_service_type: Annotated[
        str, typer.Option(help="The gateway Service's type: ClusterIP, NodePort or LoadBalancer.")
    ] = install.Options.gateway_service_type,
    webhook: Annotated[
        bool, typer.Option(help="Install the admission webhook configurations (validation and defaulting).")
    ] = True,
) -> None:
    """Print the manifests that install zeroserve on a Kubernetes cluster: CRDs, RBAC, Deployments, Services,
    webhook configurations."""
    if gateway_service_type not in SERVICE_TYPES:
        raise errors.BadRequest(
            f"--gateway-service-type must be one of {', '.join(SERVICE_TYPES)}, was: {gateway_service_type!r}"
        )
    if image_pull_policy not in PULL_POLICIES:
        raise errors.BadRequest(
            f"--image-pull-policy must be one of {', '.join(PULL_POLICIES)}, was: {image_pull_policy!r}"
        )
    if not image.strip() or any(c.isspace() for c in image):
        raise errors.BadRequest(f"--image must name an image, was: {image!r}")
    if not DNS_LABEL.match(namespace):
        raise errors.BadRequest(f"--namespace must be a DNS-1123 label (a-z, 0-9, '-'), was: {namespace!r}")
    opts = install.Options(
        image=image,
        image_pull_policy=image_pull_policy,
        namespace=namespace,
        gateway_service_type=gateway_service_type,
        webhook=webhook,
    )
    typer.echo(render(install.manifests(opts)), nl=False)


@kubernetes_app.command("controller")
def controller(
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    queue_image: Annotated[
        str,
        typer.Option(
            "--queue-image",
            envvar=install.IMAGE_ENV,
            help="The image revisions' pods run as their queue-proxy (zeroserve's own image)",
        ),
    ] = install.Options.image,
    namespace: Annotated[
        str, typer.Option("--namespace", help="The system namespace: its config-* ConfigMaps configure zeroserve")
    ] = install.NAMESPACE,
    gateway_host: Annotated[str, typer.Option("--gateway-host", help="Where the gateway listens")] = "0.0.0.0",
    gateway_port: Annotated[
        int, typer.Option("--gateway-port", help="The gateway's external port")
    ] = install.GATEWAY_PORT,
    internal_port: Annotated[
        int, typer.Option("--internal-port", help="The gateway's cluster-local port")
    ] = install.GATEWAY_PORT + 1,
    webhook_port: Annotated[
        int, typer.Option("--webhook-port", help="The admission webhook's port (0: no webhook)")
    ] = install.WEBHOOK_PORT,
    metrics_port: Annotated[int, typer.Option("--metrics-port", help="/metrics (0: none)")] = install.METRICS_PORT,
    webhook_url: Annotated[
        str,
        typer.Option(
            "--webhook-url",
            help="Where the API server calls the webhook, when this runs off the cluster "
            "(https://HOST:PORT) [default: the webhook Service]",
        ),
    ] = "",
) -> None:
    """Run zeroserve's control plane on a cluster: the reconcilers (Revisions as Deployments), the
    autoscaler, the webhook and the gateway, in one process that reaches pods by their IPs (the
    activators are the `activator` Deployment's)."""
    import logging

    from zeroserve.cli import kubeserve
    from zeroserve.kubernetes.apiclient import connect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    conn = connect(kubeconfig, context)
    settings = kubeserve.Settings(
        queue_image,
        namespace,
        gateway=(gateway_host, gateway_port),
        internal=(gateway_host, internal_port),
        webhook=(gateway_host, webhook_port) if webhook_port else None,
        webhook_url=webhook_url,
        metrics=(gateway_host, metrics_port) if metrics_port else None,
    )
    raise typer.Exit(kubeserve.run(conn, settings))


@kubernetes_app.command("activator")
def activator(
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Annotated[
        str, typer.Option("--namespace", help="The system namespace (where the autoscaler Service is)")
    ] = install.NAMESPACE,
    pod_ip: Annotated[
        str,
        typer.Option("--pod-ip", envvar="POD_IP", help="This activator's pod IP (it finds itself by it)"),
    ] = "",
    pod_name: Annotated[
        str, typer.Option("--pod-name", envvar="POD_NAME", help="The name its stats carry")
    ] = "activator",
) -> None:
    """Run one activator on a cluster: it holds a scaled-to-zero revision's requests until a pod is ready,
    reports them to the autoscaler, and balances them by the pods' free capacity."""
    import logging

    from zeroserve.cli import kubeactivator
    from zeroserve.kubernetes.apiclient import connect

    if not pod_ip:
        raise errors.BadRequest("--pod-ip (or POD_IP) is required: the activator finds itself in Endpoints by it")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    conn = connect(kubeconfig, context)
    settings = kubeactivator.Settings(pod_ip, pod_name=pod_name, namespace=namespace)
    raise typer.Exit(kubeactivator.run(conn, settings))
