"""Everything ``kubectl apply`` needs to install zeroserve on a cluster (``zeroserve kubernetes
manifests``), laid out as Knative Serving's release (knative/serving ``config/core``), lighter:

- the ``knative-serving`` Namespace and the CRDs (:mod:`zeroserve.kubernetes.crds`);
- the ServiceAccount ``controller``; the ClusterRole ``zeroserve-controller`` (the CRDs and their
  status/finalizers, Deployments and their scale, Services and Endpoints, Pods read,
  ConfigMaps and Secrets read, Events, Leases for leader election, HPAs, the webhook configurations
  it patches with its CA bundle, CRDs read to detect a Knative install) and its binding, and the
  ``aggregate-to-admin/edit/view`` ClusterRoles that let namespace users work with Services as
  Knative's do;
- the Deployment ``controller``: one process (``zeroserve kubernetes controller``,
  :mod:`zeroserve.cli.kubeserve`) with the reconcilers, the autoscaler, the admission webhook and
  the gateway, where Knative runs controller, autoscaler, webhook and an ingress such as Kourier as
  four Deployments;
- the Deployment ``activator`` (``zeroserve kubernetes activator``, :mod:`zeroserve.cli.kubeactivator`,
  its own ServiceAccount, which only reads), scaled by its HPA on CPU from 1 to 20 replicas and kept
  80 % available by its PodDisruptionBudget, as Knative's;
- Services ``webhook`` (443 -> the controller's 8443), ``gateway`` (the cluster's entry point,
  80 -> the controller's 8080: LoadBalancer by default), ``gateway-local`` (80 -> 8081, the
  cluster-local gateway the Routes' placeholder Services name), ``autoscaler`` (8080 -> the
  controller's stat server on 8090, where the activators report) and ``activator-service`` (80 ->
  8012, 81 -> 8013: the SKS puts its Endpoints in proxy-mode revisions' public Endpoints);
- the MutatingWebhookConfiguration ``webhook.serving.knative.dev`` and the
  ValidatingWebhookConfiguration ``validation.webhook.serving.knative.dev`` (Knative's names and
  rules; the webhook fills in its CA bundle and paths when it starts, as knative.dev/pkg's does).

The requests are a fraction of Knative's (activator 300m/60Mi, autoscaler/controller/webhook
100m/100Mi each; :data:`RESOURCES`). PURE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from zeroserve import __version__
from zeroserve.api.base import Obj
from zeroserve.kubernetes import crds

NAMESPACE: Final = "knative-serving"
IMAGE_ENV: Final = "ZEROSERVE_IMAGE"
"""The controller's env var naming zeroserve's image: revisions' pods run it as their queue-proxy."""
SERVING_GROUPS: Final = ("serving.knative.dev", "autoscaling.internal.knative.dev", "networking.internal.knative.dev")
ALL_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
READ: Final = ("get", "list", "watch")
WEBHOOK_PORT: Final = 8443
GATEWAY_PORT: Final = 8080
LOCAL_GATEWAY_PORT: Final = 8081
"""The gateway's cluster-local listener."""
LOCAL_GATEWAY_SERVICE: Final = "gateway-local"
"""Its Service: the Routes' placeholder Services are ExternalNames to ``gateway-local.NAMESPACE.svc.cluster.local``."""
METRICS_PORT: Final = 9090
"""``/metrics``, Knative's autoscaler's metrics port."""
STATS_PORT: Final = 8090
"""The controller's stat server, where the activators report (the ``autoscaler`` Service's 8080)."""
AUTOSCALER_SERVICE: Final = "autoscaler"
ACTIVATOR_SERVICE: Final = "activator-service"
"""The activators' Service (Knative ``networking.ActivatorServiceName``)."""
ACTIVATOR_PORTS: Final = (("http", 80, 8012), ("http2", 81, 8013), ("http-metrics", METRICS_PORT, METRICS_PORT))
"""Knative's activator-service ports; the names are the SKS's serving port names."""
ADMITTED: Final = (
    "metrics",
    "podautoscalers",
    "serverlessservices",
    "configurations",
    "revisions",
    "routes",
    "services",
    "domainmappings",
    "domainmappings/status",
)
"""The resources Knative's webhooks admit, less the Ingresses and Certificates zeroserve does not install."""

RESOURCES: Final[dict[str, Obj]] = {
    "controller": {"requests": {"cpu": "100m", "memory": "160Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "activator": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "600Mi"}},
}
"""200m and 260Mi requested in all (measured idle on a cluster: the controller 0.3 % of a core and
97 MiB, an activator 0.03 % and 82 MiB), where Knative requests 600m and 360Mi for its four
Deployments (plus its ingress); the activator's limits are Knative's."""


@dataclass(frozen=True)
class Options:
    image: str = "zeroserve:dev"
    """The zeroserve image (the Containerfile's), for both Deployments."""
    image_pull_policy: str = "IfNotPresent"
    namespace: str = NAMESPACE
    gateway_service_type: str = "LoadBalancer"
    webhook: bool = True
    """Install the admission webhook configurations (they make the API server call the controller)."""


def manifests(opts: Options) -> list[Obj]:
    """The objects to apply, in the order they can be applied."""
    out: list[Obj] = [namespace(opts), *crds.crds()]
    out += rbac(opts)
    out += [controller(opts), *activator(opts)]
    out += services(opts)
    if opts.webhook:
        out += webhooks(opts)
    fresh: list[Obj] = json.loads(json.dumps(out))  # no object shared between two places (YAML aliases)
    return fresh


def labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": crds.NAME,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": __version__,
    }


def _meta(name: str, component: str, namespace: str = "") -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels(component)
    return meta


def namespace(opts: Options) -> Obj:
    meta = {
        "name": opts.namespace,
        "labels": {"app.kubernetes.io/name": crds.NAME, "app.kubernetes.io/version": __version__},
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


# ---- RBAC ------------------------------------------------------------------------------------------


def _rule(groups: tuple[str, ...] | list[str], resources: list[str], verbs: tuple[str, ...] | list[str]) -> Obj:
    return {"apiGroups": list(groups), "resources": resources, "verbs": list(verbs)}


CONTROLLER_RULES: Final = (
    _rule([""], ["services", "endpoints"], ALL_VERBS),
    _rule([""], ["pods", "namespaces", "configmaps", "secrets"], READ),
    _rule([""], ["events"], ("create", "patch", "update")),
    _rule([""], ["endpoints/restricted"], ("create",)),
    _rule(["apps"], ["deployments", "deployments/finalizers"], ALL_VERBS),
    _rule(["apps"], ["deployments/scale"], ("get", "update", "patch")),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], ALL_VERBS),
    _rule(["coordination.k8s.io"], ["leases"], ALL_VERBS),
    _rule(list(SERVING_GROUPS), ["*", "*/status", "*/finalizers"], (*ALL_VERBS, "deletecollection")),
    _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], READ),
    _rule(
        ["admissionregistration.k8s.io"],
        ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
        (*READ, "update", "patch"),
    ),
)
"""What the controller (reconcilers, autoscaler, webhook) reads and writes."""

ACTIVATOR_RULES: Final = (
    _rule([""], ["endpoints", "services"], READ),
    _rule(["serving.knative.dev"], ["revisions"], READ),
)
"""What an activator reads: the revisions and their Endpoints (and the autoscaler's)."""


def rbac(opts: Options) -> list[Obj]:
    ns = opts.namespace
    out: list[Obj] = []
    for account, rules in (("controller", CONTROLLER_RULES), ("activator", ACTIVATOR_RULES)):
        out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(account, account, ns)})
        out.append(_cluster_role(f"zeroserve-{account}", account, rules))
        out.append(_binding("ClusterRoleBinding", "ClusterRole", f"zeroserve-{account}", account, ns))
    out += _aggregated()
    return out


def _cluster_role(name: str, component: str, rules: tuple[Obj, ...], extra: dict[str, str] | None = None) -> Obj:
    meta = _meta(name, component)
    meta["labels"].update(extra or {})
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta, "rules": list(rules)}


def _binding(kind: str, role_kind: str, name: str, account: str, ns: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, account, ns if kind == "RoleBinding" else ""),
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
    }


def _aggregated() -> list[Obj]:
    """config/core/200-roles/clusterrole-namespaced.yaml: namespace admins and editors manage
    Serving's kinds, viewers read them; everyone who may read reads the internal kinds."""
    internal = ["networking.internal.knative.dev", "autoscaling.internal.knative.dev"]
    out = []
    for role, verbs in (("admin", ("*",)), ("edit", ("create", "update", "patch", "delete")), ("view", READ)):
        rules = [_rule(["serving.knative.dev"], ["*"], verbs)]
        if role == "view":
            rules = [_rule(["serving.knative.dev", *internal], ["*"], READ)]
        else:
            rules.append(_rule(internal, ["*"], READ))
        extra = {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"}
        out.append(_cluster_role(f"zeroserve-namespaced-{role}", "controller", tuple(rules), extra))
    return out


# ---- workloads -------------------------------------------------------------------------------------

_SECURITY: Final[Obj] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Knative's containers' securityContext."""


def _env() -> list[Obj]:
    def field(name: str, path: str) -> Obj:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    return [
        field("POD_NAME", "metadata.name"),
        field("POD_IP", "status.podIP"),
        field("SYSTEM_NAMESPACE", "metadata.namespace"),
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]


def _deployment(opts: Options, name: str, replicas: int, container: Obj, grace: int, strategy: str) -> Obj:
    selector = {"app": name, "role": name}
    pod_labels = {**selector, **labels(name)}
    anti = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": name}},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, name, opts.namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": strategy},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": name,
                    "affinity": anti,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "terminationGracePeriodSeconds": grace,
                },
            },
        },
    }


def _container(opts: Options, name: str, args: list[str], ports: list[tuple[str, int]], probe: Obj) -> Obj:
    return {
        "name": name,
        "image": opts.image,
        "imagePullPolicy": opts.image_pull_policy,
        "args": args,
        "env": _env(),
        "ports": [{"name": n, "containerPort": p} for n, p in ports],
        "resources": RESOURCES[name],
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 12, "initialDelaySeconds": 15},
        "securityContext": _SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def controller(opts: Options) -> Obj:
    """One process: reconcilers (leader-elected with a Lease), autoscaler and its stat server, webhook, gateway.

    Ready once its gateway listens, which only the leader's does; replaced by ``Recreate`` (the old
    pod goes, releasing the Lease, before the new one starts): a rolling update would make the new
    pod wait for the Lease the old one holds, Ready never, and the rollout stall."""
    ports = [
        ("http-gateway", GATEWAY_PORT),
        ("http-local", LOCAL_GATEWAY_PORT),
        ("http-stats", STATS_PORT),
        ("https-webhook", WEBHOOK_PORT),
        ("http-metrics", METRICS_PORT),
    ]
    container = _container(
        opts,
        "controller",
        ["kubernetes", "controller"],
        ports,
        {"tcpSocket": {"port": GATEWAY_PORT}},
    )
    container["env"].append({"name": IMAGE_ENV, "value": opts.image})
    return _deployment(opts, "controller", 1, container, 300, "Recreate")


def activator(opts: Options) -> list[Obj]:
    """The activators' Deployment (rolled one by one: each replica serves on its own), its HPA
    (config/core/deployments/activator-hpa.yaml: 1 to 20 replicas at 100 % of the requested CPU)
    and its PodDisruptionBudget (80 % available)."""
    ports = [("http1", 8012), ("h2c", 8013), ("metrics", METRICS_PORT)]
    container = _container(opts, "activator", ["kubernetes", "activator"], ports, {"tcpSocket": {"port": 8012}})
    deployment = _deployment(opts, "activator", 1, container, 600, "RollingUpdate")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta("activator", "activator", opts.namespace),
        "spec": {
            "minReplicas": 1,
            "maxReplicas": 20,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "activator"},
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 100}},
                }
            ],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta("activator-pdb", "activator", opts.namespace),
        "spec": {"minAvailable": "80%", "selector": {"matchLabels": {"app": "activator"}}},
    }
    return [deployment, hpa, pdb]


def _service(opts: Options, name: str, app: str, ports: list[tuple[str, int, int]], type_: str = "ClusterIP") -> Obj:
    meta = _meta(name, app, opts.namespace)
    meta["labels"]["app"] = app
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": type_,
            "selector": {"app": app},
            "ports": [{"name": n, "port": p, "targetPort": t} for n, p, t in ports],
        },
    }


def services(opts: Options) -> list[Obj]:
    return [
        _service(opts, "webhook", "controller", [("https-webhook", 443, WEBHOOK_PORT)]),
        _service(opts, "gateway", "controller", [("http", 80, GATEWAY_PORT)], opts.gateway_service_type),
        _service(opts, LOCAL_GATEWAY_SERVICE, "controller", [("http", 80, LOCAL_GATEWAY_PORT)]),
        _service(opts, AUTOSCALER_SERVICE, "controller", [("http", 8080, STATS_PORT)]),
        _service(opts, ACTIVATOR_SERVICE, "activator", list(ACTIVATOR_PORTS)),
    ]


# ---- admission -------------------------------------------------------------------------------------


def _webhook(opts: Options, name: str, operations: list[str]) -> Obj:
    return {
        "name": name,
        "admissionReviewVersions": ["v1", "v1beta1"],
        "clientConfig": {"service": {"name": "webhook", "namespace": opts.namespace}},
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "timeoutSeconds": 10,
        "rules": [
            {
                "apiGroups": sorted(SERVING_GROUPS),
                "apiVersions": ["*"],
                "operations": operations,
                "scope": "*",
                "resources": list(ADMITTED),
            }
        ],
    }


def webhooks(opts: Options) -> list[Obj]:
    """config/core/webhooks/{defaulting,resource-validation}.yaml."""
    defaulting = "webhook.serving.knative.dev"
    validation = "validation.webhook.serving.knative.dev"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": _meta(defaulting, "webhook"),
            "webhooks": [_webhook(opts, defaulting, ["CREATE", "UPDATE"])],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": _meta(validation, "webhook"),
            "webhooks": [_webhook(opts, validation, ["CREATE", "UPDATE", "DELETE"])],
        },
    ]
