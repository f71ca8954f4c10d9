from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.configuration import Configuration
from zeroserve.api.podspec import Container
from zeroserve.api.revision import ContainerStatus, Revision
from zeroserve.api.service import Service
from zeroserve.config import Config
from zeroserve.controller.resources import names
from zeroserve.controller.resources.configuration import make_configuration
from zeroserve.controller.resources.revision import make_revision
from zeroserve.controller.resources.route import make_route
from zeroserve.controller.resources.workload import make_workload, pull_policy
from zeroserve.runtime.base import Failure, WorkloadKey
from zeroserve.testing import service, template

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def svc(**kw: Any) -> Service:
    obj = service("default", "hello", env={"A": "1"}, **kw)
    obj["metadata"].update(uid="svc-uid", generation=1)
    return from_wire(Service, obj)


def cfg_of(obj_template: Obj, generation: int = 3, **meta: Any) -> Configuration:
    return from_wire(
        Configuration,
        {
            "metadata": {
                "name": "hello",
                "namespace": "default",
                "uid": "cfg-uid",
                "generation": generation,
                "labels": {"serving.knative.dev/service": "hello", "serving.knative.dev/serviceUID": "svc-uid"},
                **meta,
            },
            "spec": {"template": obj_template},
        },
    )


def test_names() -> None:
    assert names.revision("hello", 1) == "hello-00001"
    long = names.revision("x" * 70, 12)
    assert len(long) == 63 and long.endswith("-00012")
    assert names.revision("x" * 70, 12) != names.revision("x" * 69 + "y", 12)


def test_make_configuration_and_route_carry_labels_and_owner() -> None:
    s = svc(labels={"team": "a"})
    cfg = make_configuration(s)
    assert cfg.metadata.name == "hello"
    assert cfg.metadata.labels == {
        "team": "a",
        "serving.knative.dev/service": "hello",
        "serving.knative.dev/serviceUID": "svc-uid",
    }
    ref = cfg.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("Service", "hello", "svc-uid", True)
    assert to_wire(cfg.spec.template) == to_wire(s.spec.template)
    route = make_route(s)
    assert [(t.configuration_name, t.latest_revision, t.percent) for t in route.spec.traffic] == [("hello", True, 100)]


def test_make_route_keeps_revision_targets_and_tags() -> None:
    s = svc(
        traffic=[{"revisionName": "hello-00001", "percent": 10, "tag": "old"}, {"latestRevision": True, "percent": 90}]
    )
    route = make_route(s)
    assert [(t.revision_name, t.configuration_name, t.tag, t.percent) for t in route.spec.traffic] == [
        ("hello-00001", None, "old", 10),
        (None, "hello", None, 90),
    ]


def test_make_revision_names_labels_and_annotations() -> None:
    cfg = cfg_of(
        template(annotations={"autoscaling.knative.dev/min-scale": "2"}),
        annotations={"serving.knative.dev/lastModifier": "bob"},
    )
    rev = make_revision(cfg, NOW)
    assert rev.metadata.name == "hello-00003"
    assert rev.metadata.labels == {
        "serving.knative.dev/configuration": "hello",
        "serving.knative.dev/configurationUID": "cfg-uid",
        "serving.knative.dev/configurationGeneration": "3",
        "serving.knative.dev/routingState": "pending",
        "serving.knative.dev/service": "hello",
        "serving.knative.dev/serviceUID": "svc-uid",
    }
    assert rev.metadata.annotations == {
        "autoscaling.knative.dev/min-scale": "2",
        "serving.knative.dev/creator": "bob",
        "serving.knative.dev/lastModifier": "bob",
        "serving.knative.dev/routingStateModified": "2026-01-01T00:00:00Z",
    }
    assert rev.metadata.owner_references[0].kind == "Configuration"
    assert rev.metadata.owner_references[0].controller is True


def test_make_revision_byo_name() -> None:
    assert make_revision(cfg_of(template(name="hello-blue")), NOW).metadata.name == "hello-blue"


def rev_of(spec: Obj) -> Revision:
    return from_wire(
        Revision,
        {
            "metadata": {
                "name": "hello-00001",
                "namespace": "default",
                "labels": {"serving.knative.dev/service": "hello", "serving.knative.dev/configuration": "hello"},
            },
            "spec": spec,
        },
    )


def test_make_workload_defaults() -> None:
    w = make_workload(rev_of({"containers": [{"image": "img", "env": [{"name": "A", "value": "1"}]}]}), Config())
    assert w.key == WorkloadKey("default", "hello-00001")
    assert (w.service, w.configuration, w.image) == ("hello", "hello", "img")
    assert w.env == (("A", "1"),)
    assert (w.container_port, w.termination_grace_seconds, w.timeout_seconds, w.container_concurrency) == (
        8080,
        300,
        300,
        0,
    )
    assert w.unsupported == ()
    assert (w.response_start_timeout_seconds, w.idle_timeout_seconds) == (0, 0)


DIGEST = "sha256:" + "ab" * 32


def test_make_workload_runs_the_pinned_digest() -> None:
    """resources/deploy.go BuildUserContainers: a resolved imageDigest replaces the image (matched by name)."""
    rev = rev_of({"containers": [{"name": "user-container", "image": "127.0.0.1:5000/hello:v1"}]})
    assert (make_workload(rev, Config()).image, make_workload(rev, Config()).image_pull_policy) == (
        "127.0.0.1:5000/hello:v1",
        "IfNotPresent",
    )
    rev.status.container_statuses = [
        ContainerStatus(name="user-container", image_digest=f"127.0.0.1:5000/hello@{DIGEST}")
    ]
    w = make_workload(rev, Config())
    assert (w.image, w.image_pull_policy) == (f"127.0.0.1:5000/hello@{DIGEST}", "IfNotPresent")
    rev.status.container_statuses = [ContainerStatus(name="user-container")]  # a registry that skips resolution
    assert make_workload(rev, Config()).image == "127.0.0.1:5000/hello:v1"


@pytest.mark.parametrize(
    ("image", "policy", "want"),
    [
        pytest.param("ko.local/app", None, "Always", id="no-tag"),
        pytest.param("ko.local/app:latest", None, "Always", id="latest"),
        pytest.param("127.0.0.1:5000/app", None, "Always", id="port-is-not-a-tag"),
        pytest.param("ko.local/app:v1", None, "IfNotPresent", id="tag"),
        pytest.param(f"gcr.io/app@{DIGEST}", None, "IfNotPresent", id="digest"),
        pytest.param("ko.local/app:latest", "Never", "Never", id="explicit"),
    ],
)
def test_pull_policy_defaults_as_kubernetes(image: str, policy: str | None, want: str) -> None:
    container = Container(name="c", image=image, image_pull_policy=policy)
    assert pull_policy(container, image) == want
    assert pull_policy(Container(name="p", command=["python3"]), None) is None


def test_make_workload_carries_every_timeout_to_the_queue_proxy() -> None:
    spec = {
        "containers": [{"command": ["app"]}],
        "timeoutSeconds": 120,
        "responseStartTimeoutSeconds": 30,
        "idleTimeoutSeconds": 10,
    }
    w = make_workload(rev_of(spec), Config())
    assert (w.timeout_seconds, w.response_start_timeout_seconds, w.idle_timeout_seconds) == (120, 30, 10)


def test_make_workload_reports_unsupported_fields_and_a_missing_configmap() -> None:
    spec = {
        "containers": [
            {
                "image": "img",
                "ports": [{"containerPort": 9000}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "c"}}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            }
        ],
        "volumes": [{"name": "v", "hostPath": {"path": "/srv"}}],
        "nodeSelector": {"a": "b"},
        "timeoutSeconds": 30,
        "containerConcurrency": 5,
    }
    w = make_workload(rev_of(spec), Config())
    assert w.env == (("A", "1"),)  # no instance is made with it: config_error
    assert w.config_error == Failure("CreateContainerConfigError", 'configmap "c" not found', permanent=True)
    assert (w.container_port, w.termination_grace_seconds, w.container_concurrency) == (9000, 30, 5)
    assert (w.cpu_limit, w.memory_limit) == ("500m", "128Mi")
    assert set(w.unsupported) == {"spec.volumes[0].hostPath", "spec.nodeSelector"}


@pytest.mark.parametrize(
    ("pod", "container", "want"),
    [
        pytest.param(None, None, (None, None, None), id="none"),
        pytest.param({"runAsUser": 1000, "runAsGroup": 50}, None, (1000, 50, None), id="pod"),
        pytest.param(None, {"runAsNonRoot": True, "runAsUser": 0}, (0, None, True), id="container"),
        pytest.param(
            {"runAsUser": 1000, "runAsGroup": 50, "runAsNonRoot": False},
            {"runAsUser": 2000, "runAsNonRoot": True},
            (2000, 50, True),
            id="the-container-wins-field-by-field",
        ),
        pytest.param({"runAsUser": "1000", "runAsNonRoot": "yes"}, None, (None, None, None), id="not-numbers"),
    ],
)
def test_make_workload_runs_as_the_security_context(
    pod: Obj | None, container: Obj | None, want: tuple[int | None, int | None, bool | None]
) -> None:
    spec: Obj = {"containers": [{"command": ["app"], **({"securityContext": container} if container else {})}]}
    if pod is not None:
        spec["securityContext"] = pod
    w = make_workload(rev_of(spec), Config())
    assert (w.run_as_user, w.run_as_group, w.run_as_non_root) == want
    assert w.unsupported == ()


def test_make_workload_names_the_pod_security_context_it_does_not_honour() -> None:
    spec = {"containers": [{"command": ["app"]}], "securityContext": {"runAsUser": 1000, "fsGroup": 2000}}
    w = make_workload(rev_of(spec), Config())
    assert w.run_as_user == 1000 and w.unsupported == ("spec.securityContext.fsGroup",)


@pytest.mark.parametrize(
    ("containers", "h2c"),
    [
        pytest.param([{"image": "a", "ports": [{"name": "h2c", "containerPort": 9000}]}], True, id="h2c"),
        pytest.param([{"image": "a", "ports": [{"name": "http1"}]}], False, id="http1"),
        pytest.param([{"image": "a"}], False, id="no-port"),
        pytest.param(
            [{"image": "side"}, {"image": "a", "ports": [{"name": "h2c"}]}], True, id="the-serving-container-of-two"
        ),
    ],
)
def test_the_workload_speaks_h2c_when_the_serving_port_is_named_so(containers: list[Obj], h2c: bool) -> None:
    """Knative's ``Revision.GetProtocol``: the serving container's first port's name."""
    assert make_workload(rev_of({"containers": containers}), Config()).h2c is h2c
