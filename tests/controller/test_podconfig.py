"""Env from ConfigMaps, Secrets and the downward API, and volume payloads, as the kubelet makes them
(pure: controller.resources.env, .volumes, .downward, .configdata; runtime.base.template)."""

from __future__ import annotations

import base64
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest

from zeroserve.api.podspec import Container
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.configsources import ConfigIndex
from zeroserve.controller.resources import downward
from zeroserve.controller.resources.configdata import (
    ConfigError,
    Data,
    Ref,
    Sources,
    configmap_data,
    references,
    secret_data,
)
from zeroserve.controller.resources.env import resolve_env
from zeroserve.controller.resources.volumes import resolve_volumes
from zeroserve.controller.resources.workload import make_workload
from zeroserve.runtime.base import Failure, Volume, VolumeFile, instance_env, template
from zeroserve.runtime.envexpand import build_env

NS = "default"
POD = downward.Pod(NS, {"app": "hello", "tier": 'we"b'}, {"note": "a\nb"}, "node-1", "default")
NODE = downward.Node("node-1", Fraction(4), 8 << 30, 100 << 30)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SOURCES: Sources = {
    Ref("Secret", "db"): secret_data({"data": {"password": b64("s3cret$(HOME)"), "user": b64("admin")}}),
    Ref("ConfigMap", "cfg"): configmap_data(
        {"data": {"color": "blue", "size": "10"}, "binaryData": {"bin": b64("\x00\x01")}}
    ),
    Ref("ConfigMap", "odd"): configmap_data({"data": {"ok": "1", "also-ok.x": "2"}}),
    Ref("Secret", "missing-key"): secret_data({"data": {}}),
}


def container(**spec: Any) -> Container:
    return Container.model_validate(spec)


def env_of(c: Container, sources: Sources = SOURCES) -> dict[str, str]:
    """The env the process gets: the resolved entries through the runtime's expansion."""
    resolved = resolve_env(c, NS, sources, POD, NODE, [c])
    declared = instance_env(resolved.env, resolved.instance_fields, {"metadata.name": "pod-1", "metadata.uid": "u-1"})
    return build_env({}, declared, ())


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param(
            {"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]},
            {"PW": "s3cret$(HOME)"},
            id="secretKeyRef-never-expanded",
        ),
        pytest.param(
            {"env": [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}}]},
            {"C": "blue"},
            id="configMapKeyRef",
        ),
        pytest.param(
            {"envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}]},
            {"CFG_color": "blue", "CFG_size": "10"},
            id="envFrom-prefix-no-binaryData",
        ),
        pytest.param(
            {
                "envFrom": [{"secretRef": {"name": "db"}}],
                "env": [{"name": "user", "value": "root"}, {"name": "URL", "value": "pg://$(user):$(password)@h"}],
            },
            {"password": "s3cret$(HOME)", "user": "root", "URL": "pg://root:s3cret$(HOME)@h"},
            id="env-after-envFrom-wins-and-expands-from-it",
        ),
        pytest.param(
            {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}]},
            {},
            id="optional-missing-secret-no-variable",
        ),
        pytest.param(
            {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}}}]},
            {},
            id="optional-missing-key-no-variable",
        ),
        pytest.param({"envFrom": [{"configMapRef": {"name": "nope", "optional": True}}]}, {}, id="optional-envFrom"),
        pytest.param(
            {
                "env": [
                    {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "HOST", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.hostIP"}}},
                    {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
                    {"name": "NONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['x']"}}},
                    {"name": "URL", "value": "http://$(NAME).$(NS)"},
                ]
            },
            {
                "NAME": "pod-1",
                "UID": "u-1",
                "NS": "default",
                "NODE": "node-1",
                "SA": "default",
                "IP": "127.0.0.1",
                "HOST": "127.0.0.1",
                "TIER": 'we"b',
                "NONE": "",
                "URL": "http://pod-1.default",
            },
            id="fieldRef",
        ),
        pytest.param(
            {
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "env": [
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "MCPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
                    {
                        "name": "EPH",
                        "valueFrom": {"resourceFieldRef": {"resource": "limits.ephemeral-storage", "divisor": "1Gi"}},
                    },
                ],
            },
            {"CPU": "1", "MCPU": "500", "MEM": "128", "REQ": str(128 << 20), "EPH": "100"},
            id="resourceFieldRef-ceil-request-defaults-to-limit-node-allocatable",
        ),
        pytest.param(
            {"env": [{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]},
            {"CPU": "4"},
            id="resourceFieldRef-no-limit-is-the-node",
        ),
    ],
)
def test_env_as_the_kubelet_makes_it(spec: dict[str, Any], want: dict[str, str]) -> None:
    assert env_of(container(**spec)) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pass"}}}]},
            "couldn't find key pass in Secret default/db",
            id="secret-key",
        ),
        pytest.param(
            {"env": [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]},
            "couldn't find key k in ConfigMap default/cfg",
            id="configmap-key",
        ),
        pytest.param(
            {"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]},
            'secret "nope" not found',
            id="secret",
        ),
        pytest.param({"envFrom": [{"configMapRef": {"name": "x"}}]}, 'configmap "x" not found', id="envFrom"),
        pytest.param(
            {"env": [{"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]},
            'env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus": supported values: "metadata.name"',
            id="fieldRef-path",
        ),
        pytest.param(
            {
                "env": [
                    {"name": "F", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "containerName": "x"}}}
                ]
            },
            "container x not found",
            id="resourceFieldRef-container",
        ),
    ],
)
def test_a_missing_object_or_key_is_the_kubelets_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_env(container(**spec), NS, SOURCES, POD, NODE)
    assert info.value.reason == "CreateContainerConfigError"
    assert info.value.message.startswith(message)


def test_envfrom_keys_that_are_not_names_are_skipped_and_reported() -> None:
    resolved = resolve_env(
        container(envFrom=[{"configMapRef": {"name": "odd"}, "prefix": "1="}]), NS, SOURCES, POD, NODE
    )
    assert resolved.env == ()
    assert resolved.warnings == (
        "Keys [1=also-ok.x, 1=ok] from the EnvFrom configMap default/odd were skipped since they are "
        "considered invalid environment variable names.",
    )


def test_data_entries_are_marked_and_escaped() -> None:
    c = container(
        envFrom=[{"configMapRef": {"name": "cfg"}}],
        env=[
            {"name": "LIT", "value": "$(color)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    )
    resolved = resolve_env(c, NS, SOURCES, POD, NODE)
    assert resolved.env == (
        ("color", "blue"),
        ("size", "10"),
        ("LIT", "$(color)"),
        ("PW", "s3cret$$(HOME)"),
        ("POD", ""),
    )
    assert resolved.data == frozenset({0, 1, 3, 4})
    assert resolved.instance_fields == ((4, "metadata.name"),)


def test_a_secret_value_with_any_byte_but_nul_passes_unchanged() -> None:
    sources = {Ref("Secret", "bin"): secret_data({"data": {"k": base64.b64encode(b"\xff\xfe$$").decode()}})}
    env = env_of(container(env=[{"name": "B", "valueFrom": {"secretKeyRef": {"name": "bin", "key": "k"}}}]), sources)
    assert env["B"].encode("utf-8", "surrogateescape") == b"\xff\xfe$$"


# -- volumes -------------------------------------------------------------------------------------


def files(volume: Volume) -> dict[str, tuple[bytes, int, str | None]]:
    return {f.path: (f.data, f.mode, f.field) for f in volume.files}


def resolve(*volumes: dict[str, Any]) -> tuple[Volume, ...]:
    return resolve_volumes(list(volumes), NS, SOURCES, POD, NODE, [container(name="app")])


@pytest.mark.parametrize(
    ("volume", "want"),
    [
        pytest.param(
            {"name": "v", "secret": {"secretName": "db"}},
            {"password": (b"s3cret$(HOME)", 0o644, None), "user": (b"admin", 0o644, None)},
            id="secret-every-key-0644",
        ),
        pytest.param(
            {"name": "v", "configMap": {"name": "cfg", "defaultMode": 0o400}},
            {"color": (b"blue", 0o400, None), "size": (b"10", 0o400, None), "bin": (b"\x00\x01", 0o400, None)},
            id="configMap-with-binaryData-defaultMode",
        ),
        pytest.param(
            {
                "name": "v",
                "secret": {"secretName": "db", "items": [{"key": "password", "path": "a/pw", "mode": 0o600}]},
            },
            {"a/pw": (b"s3cret$(HOME)", 0o600, None)},
            id="items",
        ),
        pytest.param(
            {"name": "v", "secret": {"secretName": "nope", "optional": True}},
            {},
            id="optional-missing-secret-empty",
        ),
        pytest.param(
            {"name": "v", "configMap": {"name": "cfg", "optional": True, "items": [{"key": "k", "path": "k"}]}},
            {},
            id="optional-missing-key-left-out",
        ),
        pytest.param(
            {
                "name": "v",
                "projected": {
                    "defaultMode": 0o440,
                    "sources": [
                        {"secret": {"name": "db", "items": [{"key": "user", "path": "user"}]}},
                        {"configMap": {"name": "cfg", "items": [{"key": "color", "path": "color", "mode": 0o444}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                    {"path": "notes", "fieldRef": {"fieldPath": "metadata.annotations"}},
                                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                                    {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
                                    {
                                        "path": "mem",
                                        "resourceFieldRef": {
                                            "containerName": "app",
                                            "resource": "limits.memory",
                                            "divisor": "1Gi",
                                        },
                                    },
                                ]
                            }
                        },
                        {"serviceAccountToken": {"path": "token", "audience": "x"}},
                    ],
                },
            },
            {
                "user": (b"admin", 0o440, None),
                "color": (b"blue", 0o444, None),
                "labels": (b'app="hello"\ntier="we\\"b"', 0o440, None),
                "notes": (b'note="a\\nb"', 0o440, None),
                "name": (b"", 0o440, "metadata.name"),
                "ns": (b"default", 0o440, None),
                "mem": (b"8", 0o440, None),
                "token": (b"", 0o440, "serviceAccountToken"),
            },
            id="projected",
        ),
    ],
)
def test_volume_payloads(volume: dict[str, Any], want: dict[str, tuple[bytes, int, str | None]]) -> None:
    (made,) = resolve(volume)
    assert (made.name, made.kind) == ("v", "files")
    assert files(made) == want


def test_empty_dirs_keep_medium_and_size() -> None:
    made = resolve({"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}, {"name": "d", "emptyDir": {}})
    assert made == (
        Volume("m", kind="emptyDir", medium="Memory", size_limit=1 << 20),
        Volume("d", kind="emptyDir"),
    )


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        pytest.param({"name": "v", "secret": {"secretName": "nope"}}, 'secret "nope" not found', id="secret"),
        pytest.param({"name": "v", "configMap": {"name": "nope"}}, 'configmap "nope" not found', id="configmap"),
        pytest.param(
            {"name": "v", "secret": {"secretName": "db", "items": [{"key": "k", "path": "k"}]}},
            "references non-existent secret key: k",
            id="secret-key",
        ),
        pytest.param(
            {"name": "v", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}},
            "configmap references non-existent config key: k",
            id="configmap-key",
        ),
        pytest.param(
            {"name": "v", "configMap": {"name": "cfg", "items": [{"key": "color", "path": "../x"}]}},
            "invalid path: must not contain '..': ../x",
            id="path",
        ),
        pytest.param(
            {"name": "v", "projected": {"sources": [{"secret": {"name": "nope"}}]}},
            'secret "nope" not found',
            id="projected",
        ),
    ],
)
def test_a_volume_that_cannot_be_set_up_is_failed_mount(volume: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(volume)
    assert info.value.reason == "FailedMount"
    assert info.value.message == f'MountVolume.SetUp failed for volume "v" : {message}'


# -- references, the index, the workload ------------------------------------------------------------


SPEC: dict[str, Any] = {
    "containers": [
        {
            "image": "img",
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "envFrom": [{"configMapRef": {"name": "cfg"}}],
            "volumeMounts": [
                {"name": "s", "mountPath": "/etc/s", "readOnly": True},
                {"name": "p", "mountPath": "/etc/p", "readOnly": True},
            ],
        }
    ],
    "initContainers": [{"image": "img", "envFrom": [{"secretRef": {"name": "init"}}]}],
    "volumes": [
        {"name": "s", "secret": {"secretName": "vol"}},
        {"name": "p", "projected": {"sources": [{"configMap": {"name": "proj"}}]}},
    ],
}


def test_references_name_every_object_read() -> None:
    assert references(SPEC) == {
        Ref("Secret", "db"),
        Ref("ConfigMap", "cfg"),
        Ref("Secret", "init"),
        Ref("Secret", "vol"),
        Ref("ConfigMap", "proj"),
    }


def test_the_index_maps_objects_to_the_revisions_that_read_them() -> None:
    index = ConfigIndex()
    rev = {"metadata": {"namespace": NS, "name": "r1"}, "spec": SPEC}
    assert index.observe("Revision", rev, deleted=False) == []
    secret = {"metadata": {"namespace": NS, "name": "db"}}
    assert index.observe("Secret", secret, deleted=False) == [Key("Revision", NS, "r1")]
    assert index.observe("ConfigMap", secret, deleted=False) == []  # a ConfigMap named db: not read
    assert index.observe("Secret", {"metadata": {"namespace": "other", "name": "db"}}, deleted=False) == []
    index.observe("Revision", rev, deleted=True)
    assert index.observe("Secret", secret, deleted=False) == []


def revision(spec: dict[str, Any]) -> Revision:
    return Revision.model_validate({"metadata": {"namespace": NS, "name": "r1", "uid": "u1"}, "spec": spec})


def test_a_data_change_leaves_the_template_and_a_spec_change_does_not() -> None:
    spec: dict[str, Any] = {
        "containers": [
            {
                "image": "img",
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "cfg"}}],
                "volumeMounts": [{"name": "c", "mountPath": "/etc/c", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "c", "configMap": {"name": "cfg"}}],
    }
    before = make_workload(revision(spec), Config(), SOURCES, NODE)
    changed: Sources = {**SOURCES, Ref("ConfigMap", "cfg"): Data({"color": "red", "new": "x"}, {"color": b"red"})}
    after = make_workload(revision(spec), Config(), changed, NODE)
    assert after != before and template(after) == template(before)
    assert dict(after.env)["C"] == "red"
    assert after.volumes[0].files == (VolumeFile("color", b"red"),)
    missing = make_workload(revision(spec), Config(), {}, NODE)
    assert missing.config_error == Failure(
        "FailedMount", 'MountVolume.SetUp failed for volume "c" : configmap "cfg" not found', permanent=True
    )
    assert template(missing) == template(before)  # a missing object: no rollout of what runs
    other = spec | {"containers": [spec["containers"][0] | {"env": [{"name": "A", "value": "2"}]}]}
    assert template(make_workload(revision(other), Config(), SOURCES, NODE)) != template(before)


def test_secret_values_are_not_in_a_workloads_repr() -> None:
    spec = {
        "containers": [
            {
                "image": "img",
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "volumeMounts": [{"name": "s", "mountPath": "/etc/s", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "s", "secret": {"secretName": "db"}}],
    }
    workload = make_workload(revision(spec), Config(), SOURCES, NODE)
    assert "s3cret" not in repr(workload) and "s3cret" not in repr(replace(workload, sidecars=()))
    assert "password" in repr(workload)  # the file's name is shown, not its content


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("plain", '"plain"', id="plain"),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quote-backslash"),
        pytest.param("\t\n\x07\x00", '"\\t\\n\\a\\x00"', id="controls"),
        pytest.param("é✓", '"é✓"', id="printable-unicode"),
        pytest.param("\u200b", '"\\u200b"', id="not-printable"),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert downward.go_quote(text) == quoted


def test_pod_labels_and_annotations_are_knatives() -> None:
    labels = downward.pod_labels(
        "r1", "u1", {"serving.knative.dev/route": "x", "serving.knative.dev/routingState": "active", "k": "v"}
    )
    assert labels == {
        "k": "v",
        "serving.knative.dev/revision": "r1",
        "serving.knative.dev/revisionUID": "u1",
        "app": "r1",
    }
    annotations = downward.pod_annotations(
        {"autoscaling.knative.dev/min-scale": "1", "serving.knative.dev/routes": "r", "a": "b"}, "user-container"
    )
    assert annotations == {"a": "b", "kubectl.kubernetes.io/default-container": "user-container"}
