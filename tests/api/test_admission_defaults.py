"""Defaulting (SetDefaults), update rules and the status subresource, through admit()."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.api_resources import configuration, revision, route, service, with_path
from zeroserve.api.admission import admit, admit_status
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE, SERVICE
from zeroserve.config import Config, DefaultsConfig
from zeroserve.errors import Invalid

C0 = "spec.template.spec.containers[0]"


def test_service_defaults() -> None:
    out = admit(SERVICE, service(), None, Config())
    spec = out["spec"]["template"]["spec"]
    assert spec == {
        "containers": [
            {
                "name": "user-container",
                "image": "ghcr.io/example/hello",
                "readinessProbe": {"tcpSocket": {"port": 0}, "successThreshold": 1},
            }
        ],
        "enableServiceLinks": False,
        "containerConcurrency": 0,
        "timeoutSeconds": 300,
    }
    assert out["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]


def test_defaulting_is_idempotent() -> None:
    once = admit(SERVICE, service(), None, Config())
    assert admit(SERVICE, copy.deepcopy(once), None, Config()) == once


@pytest.mark.parametrize(
    ("defaults", "spec", "expected"),
    [
        pytest.param(DefaultsConfig(), {}, {"timeoutSeconds": 300}, id="no-start-timeout-at-default"),
        pytest.param(
            DefaultsConfig(),
            {"timeoutSeconds": 600},
            {"timeoutSeconds": 600, "responseStartTimeoutSeconds": 300},
            id="start-timeout-below",
        ),
        pytest.param(
            DefaultsConfig(revision_idle_timeout_seconds=30),
            {},
            {"timeoutSeconds": 300, "idleTimeoutSeconds": 30},
            id="idle-timeout-from-config",
        ),
        pytest.param(DefaultsConfig(), {"timeoutSeconds": 0}, {"timeoutSeconds": 300}, id="zero-timeout-defaulted"),
        pytest.param(
            DefaultsConfig(container_concurrency=10),
            {},
            {"containerConcurrency": 10, "timeoutSeconds": 300},
            id="cc-from-config",
        ),
    ],
)
def test_timeout_defaults(defaults: DefaultsConfig, spec: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = service()
    obj["spec"]["template"]["spec"].update(spec)
    out = admit(SERVICE, obj, None, Config(defaults=defaults))["spec"]["template"]["spec"]
    got = {
        k: out[k]
        for k in ("timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds", "containerConcurrency")
        if k in out
    }
    assert got == {"containerConcurrency": 0, **expected}


def test_multi_container_names_and_probes() -> None:
    obj = with_path(
        service(),
        "spec.template.spec.containers",
        [
            {"image": "side"},
            {"image": "app", "ports": [{"containerPort": 9000}]},
            {"name": "user-container-1", "image": "x"},
        ],
    )
    containers = admit(SERVICE, obj, None, Config())["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["user-container-0", "user-container-2", "user-container-1"]
    assert "readinessProbe" not in containers[0]
    assert containers[1]["readinessProbe"] == {"tcpSocket": {"port": 0}, "successThreshold": 1}
    assert containers[1]["ports"] == [{"containerPort": 9000}]


def test_no_port_entry_is_added() -> None:
    out = admit(SERVICE, service(), None, Config())
    assert "ports" not in out["spec"]["template"]["spec"]["containers"][0]


def test_probe_period_gets_kubernetes_defaults() -> None:
    obj = with_path(service(), f"{C0}.readinessProbe", {"httpGet": {"path": "/"}, "periodSeconds": 5})
    probe = admit(SERVICE, obj, None, Config())["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe == {
        "httpGet": {"path": "/"},
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 3,
        "timeoutSeconds": 1,
    }


def test_volume_mounts_default_read_only_except_empty_dir() -> None:
    obj = with_path(
        service(),
        "spec.template.spec.volumes",
        [{"name": "cfg", "secret": {"secretName": "s"}}, {"name": "tmp", "emptyDir": {}}],
    )
    obj = with_path(
        obj, f"{C0}.volumeMounts", [{"name": "cfg", "mountPath": "/cfg"}, {"name": "tmp", "mountPath": "/scratch"}]
    )
    mounts = admit(SERVICE, obj, None, Config())["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "cfg", "mountPath": "/cfg", "readOnly": True}, {"name": "tmp", "mountPath": "/scratch"}]


def test_route_targets_default_but_traffic_does_not() -> None:
    obj = route(traffic=[{"revisionName": "hello-1", "percent": 100}, {"configurationName": "hello", "tag": "next"}])
    out = admit(ROUTE, obj, None, Config())
    assert out["spec"]["traffic"] == [
        {"revisionName": "hello-1", "latestRevision": False, "percent": 100},
        {"tag": "next", "configurationName": "hello", "latestRevision": True, "percent": 0},
    ]


def test_creator_and_last_modifier() -> None:
    created = admit(SERVICE, service(), None, Config(), user="alice")
    assert created["metadata"]["annotations"] == {
        "serving.knative.dev/creator": "alice",
        "serving.knative.dev/lastModifier": "alice",
    }
    same = admit(SERVICE, copy.deepcopy(created), created, Config(), user="bob")
    assert same["metadata"]["annotations"]["serving.knative.dev/lastModifier"] == "alice"
    changed = with_path(created, f"{C0}.image", "ghcr.io/example/hello:v2")
    del changed["metadata"]["annotations"]  # omitted -> carried over from the stored object
    out = admit(SERVICE, changed, created, Config(), user="bob")
    assert out["metadata"]["annotations"] == {
        "serving.knative.dev/creator": "alice",
        "serving.knative.dev/lastModifier": "bob",
    }


def test_creator_is_immutable() -> None:
    created = admit(SERVICE, service(), None, Config(), user="alice")
    forged = with_path(created, "metadata.annotations", {"serving.knative.dev/creator": "mallory"})
    with pytest.raises(Invalid) as info:
        admit(SERVICE, forged, created, Config(), user="bob")
    assert [str(e) for e in info.value.errors] == [
        "annotation value is immutable: metadata.annotations.serving.knative.dev/creator"
    ]


def test_last_modifier_cannot_change_without_spec_change() -> None:
    created = admit(SERVICE, service(), None, Config(), user="alice")
    forged = copy.deepcopy(created)
    forged["metadata"]["annotations"]["serving.knative.dev/lastModifier"] = "mallory"
    with pytest.raises(Invalid) as info:
        admit(SERVICE, forged, created, Config())
    assert [str(e) for e in info.value.errors] == [
        "invalid value: mallory: metadata.annotations.serving.knative.dev/lastModifier"
    ]


def test_byo_name_must_change_with_template() -> None:
    old = admit(SERVICE, with_path(service(), "spec.template.metadata", {"name": "hello-v1"}), None, Config())
    new = with_path(old, f"{C0}.image", "ghcr.io/example/hello:v2")
    with pytest.raises(Invalid) as info:
        admit(SERVICE, new, old, Config())
    (err,) = info.value.errors
    assert (err.message, err.paths) == (
        "Saw the following changes without a name change (-old +new)",
        ("spec.template.metadata.name",),
    )
    assert "hello:v2" in err.details
    admit(SERVICE, with_path(new, "spec.template.metadata.name", "hello-v2"), old, Config())


def test_unchanged_byo_manifest_is_accepted_as_an_update() -> None:
    """Issue 11, item 7: the manifest as applied (not defaulted) against the stored (defaulted)
    template is no change: compared defaulted to defaulted (``kubectl replace``, ``zeroserve apply``)."""
    manifest = with_path(service(), "spec.template.metadata", {"name": "hello-v1"})
    old = admit(SERVICE, copy.deepcopy(manifest), None, Config())
    assert admit(SERVICE, copy.deepcopy(manifest), old, Config())["spec"] == old["spec"]
    cfg = admit(CONFIGURATION, copy.deepcopy(configuration()), None, Config())
    byo = with_path(configuration(), "spec.template.metadata", {"name": "hello-v1"})
    stored = admit(CONFIGURATION, copy.deepcopy(byo), cfg, Config())
    assert admit(CONFIGURATION, copy.deepcopy(byo), stored, Config())["spec"] == stored["spec"]


def test_revision_spec_is_immutable() -> None:
    old = admit(REVISION, revision(), None, Config())
    new = with_path(old, "spec.containers[0].image", "other")
    with pytest.raises(Invalid) as info:
        admit(REVISION, new, old, Config())
    assert [e.message + ": " + ", ".join(e.paths) for e in info.value.errors] == [
        "Immutable fields changed (-old +new): spec"
    ]
    relabelled = with_path(old, "metadata.labels", {"team": "a"})
    assert admit(REVISION, relabelled, old, Config())["metadata"]["labels"] == {"team": "a"}


def test_revision_defaulted_on_update_then_compared() -> None:
    """Knative defaults a Revision on update too, then refuses a spec change: the manifest as first
    applied (not defaulted) is no change, a new image is."""
    old = admit(REVISION, revision(), None, Config())
    assert admit(REVISION, revision(), old, Config())["spec"] == old["spec"]
    bare = copy.deepcopy(old)
    del bare["spec"]["timeoutSeconds"]
    assert admit(REVISION, bare, old, Config())["spec"] == old["spec"]
    with pytest.raises(Invalid):
        admit(REVISION, with_path(revision(), "spec.containers[0].image", "other"), old, Config())


def test_configuration_defaults_and_user_info() -> None:
    out = admit(CONFIGURATION, configuration(), None, Config(), user="alice")
    assert out["spec"]["template"]["spec"]["timeoutSeconds"] == 300
    assert out["metadata"]["annotations"]["serving.knative.dev/creator"] == "alice"


def test_admit_status_parses_only() -> None:
    obj = with_path(service(), "status", {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]})
    out = admit_status(SERVICE, obj, None)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert "traffic" not in out["spec"]  # nothing defaulted
    with pytest.raises(Invalid) as info:
        admit_status(SERVICE, with_path(obj, "status.conditions[0].status", "Maybe"), None)
    assert info.value.errors[0].paths == ("status.conditions[0].status",)


def test_unknown_kind_gets_parsing_and_metadata_only() -> None:
    from pydantic import Field

    from zeroserve.api.base import Model
    from zeroserve.api.kinds import Kind
    from zeroserve.api.meta import ObjectMeta

    class Broker(Model):
        api_version: str = "eventing.knative.dev/v1"
        kind: str = "Broker"
        metadata: ObjectMeta = Field(default_factory=ObjectMeta)
        spec: dict[str, Any] = Field(default_factory=dict)

    broker = Kind("eventing.knative.dev", "v1", "Broker", "brokers", "broker", Broker)
    obj = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "my.broker"},
        "spec": {"x": 1},
    }
    assert admit(broker, obj, None, Config()) == obj
    with pytest.raises(Invalid) as info:
        admit(broker, with_path(obj, "metadata.name", "Bad"), None, Config())
    assert info.value.errors[0].message.startswith("not a DNS 1123 subdomain: [a lowercase RFC 1123 subdomain")


def test_config_defaults_resources_fill_what_containers_leave_unset() -> None:
    """revision_defaults.go applyDefault: revision-*-request/limit from config-defaults, per resource,
    only where the container sets none (issue 12 item 9)."""
    cfg = Config(
        defaults=DefaultsConfig(revision_cpu_request="100m", revision_memory_limit="1Gi", revision_cpu_limit="2")
    )
    svc = with_path(service(), f"{C0}.resources", {"requests": {"cpu": "250m"}})
    out = admit(SERVICE, svc, None, cfg)
    assert out["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "2", "memory": "1Gi"},
        "requests": {"cpu": "250m"},
    }
    bare = admit(SERVICE, service(), None, Config())
    assert "resources" not in bare["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("template", "names"),
    [
        pytest.param("{{.Name}}-app", ["hello-app"], id="name"),
        pytest.param("{{ .Name }}-{{ .Namespace }}", ["hello-default"], id="spacing-and-namespace"),
        pytest.param('{{index .Labels "tier"}}', ["web"], id="labels"),
        pytest.param("{{.Nope}}", [""], id="fails-to-empty-as-knative"),
    ],
)
def test_container_name_template_is_a_go_template_over_the_parent(template: str, names: list[str]) -> None:
    """pkg/apis/config/defaults.go UserContainerName: the template over apis.ParentMeta(ctx)."""
    svc = with_path(service(), "metadata.labels", {"tier": "web"})
    out = admit(SERVICE, svc, None, Config(defaults=DefaultsConfig(container_name_template=template)))
    assert [c.get("name", "") for c in out["spec"]["template"]["spec"]["containers"]] == names
