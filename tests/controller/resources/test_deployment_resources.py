"""A Revision as a Kubernetes Deployment (controller/resources/deployment.py and queuesidecar.py,
pure): Knative's MakeDeployment facts, for revisions admitted as the API admits them, and every
Deployment valid against Kubernetes' own schemas."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import kubernetes_validate
import pytest

from tests.support.kubeschema import validate
from zeroserve.api import kinds
from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.revision import Revision
from zeroserve.config import FEATURE_DEFAULTS, Config, FeaturesConfig, Flag
from zeroserve.controller.resources.deployment import (
    HASH_LABEL,
    deployment_update,
    make_deployment,
    merge_metadata,
)
from zeroserve.queue.settings import Settings

IMAGE = "zeroserve/zeroserve:v1"
DIGEST = "example.com/hello@sha256:" + "a" * 64
CONFIG = Config()


def features(**flags: Flag) -> Config:
    named = {k.replace("_", "-").replace("--", "."): v for k, v in flags.items()}
    return replace(CONFIG, features=FeaturesConfig({**FEATURE_DEFAULTS, **named}))


def revision(
    spec: Obj,
    *,
    annotations: dict[str, str] | None = None,
    digests: dict[str, str] | None = None,
    cfg: Config = CONFIG,
) -> Revision:
    """A Revision as admission stores it (defaults applied), with a uid and resolved digests."""
    wire: Obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": "hello-00001",
            "namespace": "ns",
            "labels": {
                "serving.knative.dev/service": "hello",
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/routingState": "active",
                "serving.knative.dev/route": "hello",
                "team": "a",
            },
            "annotations": {
                "serving.knative.dev/routes": "hello",
                "serving.knative.dev/creator": "me",
                "autoscaling.knative.dev/min-scale": "1",
                **(annotations or {}),
            },
            "ownerReferences": [
                {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Configuration",
                    "name": "hello",
                    "uid": "cfg-uid",
                    "controller": True,
                }
            ],
        },
        "spec": spec,
    }
    stored = admit(kinds.REVISION, wire, None, cfg)
    stored["metadata"]["uid"] = "rev-uid"
    statuses = [{"name": n, "imageDigest": d} for n, d in (digests or {"user-container": DIGEST}).items()]
    stored["status"] = {"containerStatuses": statuses}
    return Revision.model_validate(stored)


def plain() -> Revision:
    return revision({"containers": [{"image": "example.com/hello:1"}]})


def pod_spec(d: Obj) -> Obj:
    spec: Obj = d["spec"]["template"]["spec"]
    return spec


def container(d: Obj, name: str) -> Obj:
    found: Obj = next(c for c in pod_spec(d)["containers"] if c["name"] == name)
    return found


def env(c: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_a_plain_revision_is_knatives_deployment() -> None:
    d = make_deployment(plain(), CONFIG, IMAGE)
    validate(d)
    meta = d["metadata"]
    assert (d["apiVersion"], d["kind"], meta["name"], meta["namespace"]) == (
        "apps/v1",
        "Deployment",
        "hello-00001-deployment",
        "ns",
    )
    pod_labels = {
        "serving.knative.dev/service": "hello",
        "serving.knative.dev/configuration": "hello",
        "team": "a",
        "serving.knative.dev/revision": "hello-00001",
        "serving.knative.dev/revisionUID": "rev-uid",
        "app": "hello-00001",
    }
    assert meta["labels"] == {**pod_labels, HASH_LABEL: meta["labels"][HASH_LABEL]}
    assert meta["annotations"] == {"serving.knative.dev/creator": "me"}  # no routes, no autoscaling.knative.dev
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "name": "hello-00001",
            "uid": "rev-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = d["spec"]
    assert spec["selector"] == {"matchLabels": {"serving.knative.dev/revisionUID": "rev-uid"}}
    assert (spec["replicas"], spec["progressDeadlineSeconds"], spec["revisionHistoryLimit"]) == (1, 600, 0)
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}
    assert spec["template"]["metadata"] == {
        "labels": pod_labels,
        "annotations": {
            "serving.knative.dev/creator": "me",
            "kubectl.kubernetes.io/default-container": "user-container",
        },
    }
    pod = pod_spec(d)
    assert [c["name"] for c in pod["containers"]] == ["user-container", "queue-proxy"]
    assert (pod["terminationGracePeriodSeconds"], pod["enableServiceLinks"]) == (300, False)
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {
            "weight": 100,
            "podAffinityTerm": {
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"serving.knative.dev/revision": "hello-00001"}},
            },
        }
    ]
    assert "containerConcurrency" not in pod and "timeoutSeconds" not in pod


def test_the_user_container() -> None:
    user = container(make_deployment(plain(), CONFIG, IMAGE), "user-container")
    assert user["image"] == DIGEST
    assert user["ports"] == [{"name": "user-port", "containerPort": 8080}]
    assert [(e["name"], e["value"]) for e in user["env"]] == [
        ("PORT", "8080"),
        ("K_REVISION", "hello-00001"),
        ("K_CONFIGURATION", "hello"),
        ("K_SERVICE", "hello"),
    ]
    assert user["lifecycle"] == {"preStop": {"httpGet": {"port": 8022, "path": "/wait-for-drain"}}}
    assert user["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert "readinessProbe" not in user  # the default TCP probe is the queue-proxy's to run


def test_the_queue_proxy() -> None:
    q = container(make_deployment(plain(), CONFIG, IMAGE), "queue-proxy")
    assert (q["image"], q["command"]) == (IMAGE, ["python3", "-m", "zeroserve.queue"])
    assert q["ports"] == [
        {"name": "http-autometric", "containerPort": 9090},
        {"name": "http-usermetric", "containerPort": 9091},
        {"name": "queue-port", "containerPort": 8012},
        {"name": "https-port", "containerPort": 8112},
    ]
    assert q["readinessProbe"] == {
        "httpGet": {"port": 8012, "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]},
        "successThreshold": 1,
    }
    assert q["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert q["resources"] == {"requests": {"cpu": "25m"}}
    values = env(q)
    assert list(values)[:10] == [
        "SERVING_NAMESPACE",
        "SERVING_SERVICE",
        "SERVING_CONFIGURATION",
        "SERVING_REVISION",
        "QUEUE_SERVING_PORT",
        "QUEUE_SERVING_TLS_PORT",
        "CONTAINER_CONCURRENCY",
        "REVISION_TIMEOUT_SECONDS",
        "REVISION_RESPONSE_START_TIMEOUT_SECONDS",
        "REVISION_IDLE_TIMEOUT_SECONDS",
    ]
    assert values | {"OBSERVABILITY_CONFIG": None} == {
        "SERVING_NAMESPACE": "ns",
        "SERVING_SERVICE": "hello",
        "SERVING_CONFIGURATION": "hello",
        "SERVING_REVISION": "hello-00001",
        "QUEUE_SERVING_PORT": "8012",
        "QUEUE_SERVING_TLS_PORT": "8112",
        "CONTAINER_CONCURRENCY": "0",
        "REVISION_TIMEOUT_SECONDS": "300",
        "REVISION_RESPONSE_START_TIMEOUT_SECONDS": "0",
        "REVISION_IDLE_TIMEOUT_SECONDS": "0",
        "SERVING_POD": {"fieldRef": {"fieldPath": "metadata.name"}},
        "SERVING_POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
        "SERVING_LOGGING_CONFIG": "",
        "SERVING_LOGGING_LEVEL": "",
        "USER_PORT": "8080",
        "SYSTEM_NAMESPACE": "knative-serving",
        "SERVING_READINESS_PROBE": '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}',
        "HOST_IP": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.hostIP"}},
        "ENABLE_HTTP2_AUTO_DETECTION": "false",
        "ENABLE_HTTP_FULL_DUPLEX": "false",
        "ROOT_CA": "",
        "QUEUE_PROXY_TLS_MIN_VERSION": "",
        "QUEUE_PROXY_TLS_MAX_VERSION": "",
        "QUEUE_PROXY_TLS_CIPHER_SUITES": "",
        "QUEUE_PROXY_TLS_CURVE_PREFERENCES": "",
        "ENABLE_MULTI_CONTAINER_PROBES": "false",
        "OBSERVABILITY_CONFIG": None,
        "QUEUE_ADMIN_PORT": "8022",
        "QUEUE_LISTEN_ADDRESS": "0.0.0.0",
        "QUEUE_DRAIN_QUIET_PERIOD": "30",
        "USER_PROTOCOL": "http1",
    }
    observability = json.loads(values["OBSERVABILITY_CONFIG"])
    assert observability["tracing"] == {"protocol": "none"} and "enableRequestLog" not in observability


@pytest.mark.parametrize(
    ("spec", "annotations", "want"),
    [
        pytest.param(
            {"containers": [{"image": "h"}]},
            {},
            {"serving": 8012, "user": 8080, "cc": 0, "timeout": 300.0, "h2c": False, "replicas": 1, "deadline": 600},
            id="defaults",
        ),
        pytest.param(
            {
                "containerConcurrency": 10,
                "timeoutSeconds": 120,
                "responseStartTimeoutSeconds": 30,
                "idleTimeoutSeconds": 60,
                "containers": [{"image": "h", "ports": [{"name": "h2c", "containerPort": 9000}]}],
            },
            {"autoscaling.knative.dev/initial-scale": "3", "serving.knative.dev/progress-deadline": "2m30s"},
            {"serving": 8013, "user": 9000, "cc": 10, "timeout": 120.0, "h2c": True, "replicas": 3, "deadline": 150},
            id="concurrency-timeouts-h2c",
        ),
    ],
)
def test_what_the_queue_proxy_reads(spec: Obj, annotations: dict[str, str], want: dict[str, Any]) -> None:
    """zeroserve's queue-proxy, given the container's environment, runs as Knative's would."""
    d = make_deployment(revision(spec, annotations=annotations), CONFIG, IMAGE)
    validate(d)
    q, user = container(d, "queue-proxy"), container(d, "user-container")
    s = Settings.from_env({k: v for k, v in env(q).items() if isinstance(v, str)})
    assert (s.host, s.serving_port, s.admin_port, s.user_port, s.container_concurrency) == (
        "0.0.0.0",
        want["serving"],
        8022,
        want["user"],
        want["cc"],
    )
    assert (s.timeout, s.h2c, s.drain_quiet_period, s.namespace, s.revision) == (
        want["timeout"],
        want["h2c"],
        30.0,
        "ns",
        "hello-00001",
    )
    assert s.response_start_timeout == spec.get("responseStartTimeoutSeconds", 0)
    assert s.idle_timeout == spec.get("idleTimeoutSeconds", 0)
    assert (s.readiness_probe.kind, s.readiness_probe.aggressive) == ("tcp", True)
    assert {"name": "queue-port", "containerPort": want["serving"]} in q["ports"]
    assert q["readinessProbe"]["httpGet"]["port"] == want["serving"]
    assert user["ports"] == [{"name": "user-port", "containerPort": want["user"]}]  # an h2c port is renamed too
    assert {"name": "PORT", "value": str(want["user"])} in user["env"]
    assert (d["spec"]["replicas"], d["spec"]["progressDeadlineSeconds"]) == (want["replicas"], want["deadline"])
    assert pod_spec(d)["terminationGracePeriodSeconds"] == want["timeout"]


def test_the_configuration_is_the_controller_for_the_queue_proxy_and_the_label_for_the_app() -> None:
    rev = plain()
    rev.metadata.owner_references = []  # a Revision nobody controls (Knative: GetControllerOf is nil)
    d = make_deployment(rev, CONFIG, IMAGE)
    assert env(container(d, "queue-proxy"))["SERVING_CONFIGURATION"] == ""
    assert env(container(d, "user-container"))["K_CONFIGURATION"] == "hello"
    assert "ownerReferences" in d["metadata"]  # the Revision still controls its Deployment


def test_a_sidecar_keeps_its_place_and_gets_knatives_changes() -> None:
    spec = {
        "containers": [
            {"name": "logger", "image": "example.com/logger:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "app", "image": "example.com/app:1", "ports": [{"containerPort": 8888}]},
        ]
    }
    rev = revision(spec, digests={"logger": "example.com/logger@sha256:" + "b" * 64, "app": DIGEST})
    d = make_deployment(rev, CONFIG, IMAGE)
    validate(d)
    assert [c["name"] for c in pod_spec(d)["containers"]] == ["logger", "app", "queue-proxy"]
    logger, app = container(d, "logger"), container(d, "app")
    assert logger["image"] == "example.com/logger@sha256:" + "b" * 64 and app["image"] == DIGEST
    assert "ports" not in logger and app["ports"] == [{"name": "user-port", "containerPort": 8888}]
    assert [e["name"] for e in logger["env"]] == ["A", "K_REVISION", "K_CONFIGURATION", "K_SERVICE"]
    assert [e["name"] for e in app["env"]] == ["PORT", "K_REVISION", "K_CONFIGURATION", "K_SERVICE"]
    assert logger["lifecycle"] == app["lifecycle"]
    assert d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "app"
    assert env(container(d, "queue-proxy"))["USER_PORT"] == "8888"


def test_secrets_and_configmaps_are_passed_by_reference() -> None:
    """The kubelet reads Secrets and ConfigMaps itself: volumes, envFrom, valueFrom, pull secrets as written."""
    volumes = [
        {"name": "creds", "secret": {"secretName": "db-creds"}},
        {"name": "settings", "configMap": {"name": "app-settings", "items": [{"key": "a", "path": "a.conf"}]}},
    ]
    user = {
        "image": "example.com/hello:1",
        "env": [
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
            {
                "name": "MODE",
                "valueFrom": {"configMapKeyRef": {"name": "app-settings", "key": "mode", "optional": True}},
            },
        ],
        "envFrom": [{"secretRef": {"name": "more"}}, {"prefix": "CM_", "configMapRef": {"name": "app-settings"}}],
        "volumeMounts": [{"name": "creds", "mountPath": "/creds"}, {"name": "settings", "mountPath": "/etc/app"}],
    }
    spec = {
        "containers": [user],
        "volumes": volumes,
        "imagePullSecrets": [{"name": "registry"}],
        "serviceAccountName": "runner",
    }
    d = make_deployment(revision(spec), CONFIG, IMAGE)
    validate(d)
    pod, c = pod_spec(d), container(d, "user-container")
    assert pod["volumes"] == volumes
    assert (pod["imagePullSecrets"], pod["serviceAccountName"]) == ([{"name": "registry"}], "runner")
    assert c["env"][:2] == user["env"] and c["envFrom"] == user["envFrom"]
    assert c["volumeMounts"] == [
        {"name": "creds", "mountPath": "/creds", "readOnly": True},  # admission's default for these volumes
        {"name": "settings", "mountPath": "/etc/app", "readOnly": True},
    ]


def test_an_http_readiness_probe_moves_to_the_queue_proxy() -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "failureThreshold": 2}
    spec = {"containers": [{"image": "h", "ports": [{"containerPort": 8080}], "readinessProbe": probe}]}
    d = make_deployment(revision(spec), CONFIG, IMAGE)
    validate(d)
    q = container(d, "queue-proxy")
    assert "readinessProbe" not in container(d, "user-container")
    assert json.loads(env(q)["SERVING_READINESS_PROBE"]) == {
        "httpGet": {"path": "/healthz", "port": 8080, "host": "127.0.0.1", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 2,
    }
    assert q["readinessProbe"] == {
        "httpGet": {"port": 8012, "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]},
        "timeoutSeconds": 1,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 2,
    }
    settings = Settings.from_env({k: v for k, v in env(q).items() if isinstance(v, str)})
    assert (settings.readiness_probe.kind, settings.readiness_probe.path, settings.readiness_probe.period) == (
        "http",
        "/healthz",
        5.0,
    )


def test_an_exec_readiness_probe_stays_and_the_queue_proxy_checks_the_port() -> None:
    probe = {"exec": {"command": ["ready"]}, "periodSeconds": 3}
    d = make_deployment(revision({"containers": [{"image": "h", "readinessProbe": probe}]}), CONFIG, IMAGE)
    validate(d)
    assert container(d, "user-container")["readinessProbe"]["exec"] == {"command": ["ready"]}
    sent = json.loads(env(container(d, "queue-proxy"))["SERVING_READINESS_PROBE"])
    assert sent["tcpSocket"] == {"port": 8080, "host": "127.0.0.1"} and "exec" not in sent


@pytest.mark.parametrize(
    ("probing", "action", "want"),
    [
        ("Disabled", {"httpGet": {"path": "/live", "port": 0}}, {"path": "/live", "port": 8080}),
        ("Disabled", {"tcpSocket": {"port": 0}}, {"port": 8080}),
        ("Enabled", {"tcpSocket": {"port": 9999}}, {"port": 9999}),  # a custom port, allowed
    ],
)
def test_the_liveness_probe_aims_at_the_user_port(probing: Flag, action: Obj, want: Obj) -> None:
    cfg = features(multi_container_probing=probing)
    spec = {"containers": [{"image": "h", "livenessProbe": {**action, "periodSeconds": 10}}]}
    d = make_deployment(revision(spec, cfg=cfg), cfg, IMAGE)
    validate(d)
    live = container(d, "user-container")["livenessProbe"]
    assert next(v for k, v in live.items() if k in ("httpGet", "tcpSocket")) == want


def test_multi_container_probing_sends_every_probe() -> None:
    cfg = features(multi_container_probing="Enabled")
    sidecar_probe = {"httpGet": {"port": 9000, "path": "/ready"}, "periodSeconds": 1}
    spec = {
        "containers": [
            {"name": "app", "image": "a", "ports": [{"containerPort": 8080}]},
            {"name": "side", "image": "s", "readinessProbe": sidecar_probe},
        ]
    }
    rev = revision(spec, cfg=cfg, digests={"app": DIGEST, "side": DIGEST})
    d = make_deployment(rev, cfg, IMAGE)
    validate(d)
    values = env(container(d, "queue-proxy"))
    assert values["ENABLE_MULTI_CONTAINER_PROBES"] == "true"
    user, side = json.loads(values["SERVING_READINESS_PROBE"])
    assert user["tcpSocket"] == {"port": 8080, "host": "127.0.0.1"}
    assert side["httpGet"] == {"path": "/ready", "port": 9000, "host": "127.0.0.1", "scheme": "HTTP"}
    assert "readinessProbe" not in container(d, "side")
    settings = Settings.from_env({k: v for k, v in values.items() if isinstance(v, str)})  # the pod's queue-proxy
    assert settings.readiness_probe.port is None and settings.readiness_probe.kind == "tcp"
    assert [(p.kind, p.port, p.path) for p in settings.sidecar_probes] == [("http", 9000, "/ready")]


def test_multi_container_probing_refuses_a_sidecar_probe_without_a_port_as_knative() -> None:
    cfg = features(multi_container_probing="Enabled")
    spec = {
        "containers": [
            {"name": "app", "image": "a", "ports": [{"containerPort": 8080}]},
            {"name": "side", "image": "s", "readinessProbe": {"httpGet": {"port": "web"}, "periodSeconds": 1}},
        ]
    }
    rev = revision(spec, cfg=cfg)
    with pytest.raises(ValueError, match="does not define probe port on container: side"):
        make_deployment(rev, cfg, IMAGE)


@pytest.mark.parametrize(
    ("flag", "annotations", "resources", "want"),
    [
        pytest.param("Disabled", {}, None, {"requests": {"cpu": "25m"}}, id="default"),
        pytest.param(
            "Enabled",
            {},
            None,
            {"requests": {"cpu": "25m", "memory": "400Mi"}, "limits": {"cpu": "1000m", "memory": "800Mi"}},
            id="resource-defaults",
        ),
        pytest.param(
            "Disabled",
            {"queue.sidecar.serving.knative.dev/resource-percentage": "20"},
            {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "4", "memory": "4Gi"}},
            {"requests": {"cpu": "50m", "memory": "50Mi"}, "limits": {"cpu": "500m", "memory": "500Mi"}},
            id="percentage-within-boundaries",
        ),
        pytest.param(
            "Disabled",
            {
                "queue.sidecar.serving.knative.dev/cpu-resource-request": "0.3",
                "queue.sidecar.serving.knative.dev/memory-resource-limit": "1.5Gi",
                "queue.sidecar.serving.knative.dev/ephemeral-storage-resource-request": "1Gi",
            },
            None,
            {"requests": {"cpu": "300m", "ephemeral-storage": "1Gi"}, "limits": {"memory": "1536Mi"}},
            id="annotations",
        ),
    ],
)
def test_queue_proxy_resources(flag: Flag, annotations: dict[str, str], resources: Obj | None, want: Obj) -> None:
    cfg = features(queueproxy__resource_defaults=flag)
    user: Obj = {"image": "h"} | ({"resources": resources} if resources else {})
    d = make_deployment(revision({"containers": [user]}, annotations=annotations, cfg=cfg), cfg, IMAGE)
    validate(d)
    assert container(d, "queue-proxy")["resources"] == want


def test_queue_proxy_resource_percentage_in_between() -> None:
    annotations = {"queue.sidecar.serving.knative.dev/resource-percentage": "10"}
    user = {"image": "h", "resources": {"requests": {"cpu": "700m", "memory": "1Gi"}}}
    d = make_deployment(revision({"containers": [user]}, annotations=annotations), CONFIG, IMAGE)
    assert container(d, "queue-proxy")["resources"]["requests"] == {"cpu": "70m", "memory": "107374182400m"}


@pytest.mark.parametrize(
    ("flag", "annotation", "mounted"),
    [("Disabled", "enabled", False), ("Allowed", "", False), ("Allowed", "Enabled", True), ("Enabled", "", True)],
)
def test_pod_info_is_mounted_into_the_queue_proxy(flag: Flag, annotation: str, mounted: bool) -> None:
    cfg = features(queueproxy__mount_podinfo=flag)
    annotations = {"features.knative.dev/queueproxy-podinfo": annotation} if annotation else {}
    d = make_deployment(revision({"containers": [{"image": "h"}]}, annotations=annotations, cfg=cfg), cfg, IMAGE)
    validate(d)
    q = container(d, "queue-proxy")
    assert ("volumeMounts" in q) is mounted
    if mounted:
        assert q["volumeMounts"] == [{"name": "pod-info", "mountPath": "/etc/podinfo", "readOnly": True}]
        assert pod_spec(d)["volumes"] == [
            {
                "name": "pod-info",
                "downwardAPI": {"items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]},
            }
        ]


def test_features_reach_the_queue_proxy() -> None:
    cfg = features(autodetect_http2="Enabled")
    annotations = {"features.knative.dev/http-full-duplex": "Enabled"}
    values = env(
        container(
            make_deployment(revision({"containers": [{"image": "h"}]}, annotations=annotations), cfg, IMAGE),
            "queue-proxy",
        )
    )
    assert (values["ENABLE_HTTP2_AUTO_DETECTION"], values["ENABLE_HTTP_FULL_DUPLEX"]) == ("true", "true")


def test_the_users_affinity_and_service_links_are_kept() -> None:
    affinity: Obj = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    spec = {"containers": [{"image": "h"}], "affinity": affinity, "enableServiceLinks": True}
    cfg = features(kubernetes__podspec_affinity="Enabled")
    d = make_deployment(revision(spec, cfg=cfg), cfg, IMAGE)
    validate(d)
    assert (pod_spec(d)["affinity"], pod_spec(d)["enableServiceLinks"]) == (affinity, True)


def test_the_hash_follows_what_the_deployment_says() -> None:
    d = make_deployment(plain(), CONFIG, IMAGE)
    again = make_deployment(plain(), CONFIG, IMAGE)
    other = make_deployment(plain(), CONFIG, "zeroserve/zeroserve:v2")
    assert d == again
    assert d["metadata"]["labels"][HASH_LABEL] != other["metadata"]["labels"][HASH_LABEL]
    assert deployment_update(d, again) is None


def test_an_update_keeps_the_scale_the_selector_and_others_metadata() -> None:
    have = make_deployment(plain(), CONFIG, IMAGE)
    have["spec"]["replicas"] = 7
    have["metadata"]["labels"]["owner.example.com/team"] = "x"
    have["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = "now"
    want = make_deployment(plain(), CONFIG, "zeroserve/zeroserve:v2")
    updated = deployment_update(have, want)
    assert updated is not None
    validate(updated)
    assert updated["spec"]["replicas"] == 7
    assert container(updated, "queue-proxy")["image"] == "zeroserve/zeroserve:v2"
    assert updated["metadata"]["labels"]["owner.example.com/team"] == "x"
    assert updated["metadata"]["labels"][HASH_LABEL] == want["metadata"]["labels"][HASH_LABEL]
    assert updated["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == "now"


def test_merge_metadata_lets_knative_own_its_keys() -> None:
    desired = {"serving.knative.dev/revision": "new", "app": "new", "team": "a"}
    current = {"serving.knative.dev/revision": "old", "app": "old", "team": "b", "gone.knative.dev/x": "y", "z": "1"}
    assert merge_metadata(desired, current) == {
        "serving.knative.dev/revision": "new",
        "app": "new",
        "team": "b",
        "z": "1",
    }


def test_the_schema_check_can_fail() -> None:
    d = make_deployment(plain(), CONFIG, IMAGE)
    container(d, "queue-proxy")["imagePullPolcy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(d)
