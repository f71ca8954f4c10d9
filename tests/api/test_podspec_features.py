"""PodSpec validation as Knative's field masks and config-features flags (issue 12 item 7).

knative/serving pkg/apis/serving/fieldmask.go (PodSpecMask, VolumeSourceMask, VolumeMountMask,
PodSecurityContextMask, CapabilitiesMask, EnvVarSourceMask), k8s_validation.go (validateVolume,
validateVolumeMounts, validateInitContainers, validateContainers), revision_validation.go
(validateQueueSidecarResourceAnnotations, validateTimeoutSeconds) and knative/networking
pkg/apis/networking/metadata_validation.go. Messages are Knative's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.api_resources import service, with_path
from zeroserve.api import volumes
from zeroserve.api.admission import admit
from zeroserve.api.kinds import SERVICE
from zeroserve.config import Config, FeaturesConfig
from zeroserve.config.parse import parse_config
from zeroserve.errors import Invalid

SPEC = "spec.template.spec"
C0 = f"{SPEC}.containers[0]"
ANN = "spec.template.metadata.annotations"


def features(**flags: str) -> Config:
    return parse_config({"config-features": {k.replace("_", "-"): v for k, v in flags.items()}})


def errors(obj: dict[str, Any], cfg: Config | None = None) -> list[str]:
    try:
        admit(SERVICE, obj, None, cfg or Config())
    except Invalid as e:
        return [str(x) for x in e.errors]
    return []


def mounted(volume: dict[str, Any], mount: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = with_path(service(), f"{SPEC}.volumes", [volume])
    return with_path(obj, f"{C0}.volumeMounts", [mount or {"name": volume["name"], "mountPath": "/data"}])


HOSTPATH = {"name": "host", "hostPath": {"path": "/var/data"}}
CSI = {"name": "store", "csi": {"driver": "x.csi.k8s.io"}}
EPHEMERAL = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
IMAGE = {"name": "model", "image": {"reference": "ghcr.io/example/model:1"}}
PVC = {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        pytest.param(
            mounted(HOSTPATH),
            [
                "HostPath volume support is disabled, but found HostPath volume host",
                "must not set the field(s): spec.template.spec.volumes[0].hostPath",
            ],
            id="hostpath",
        ),
        pytest.param(
            mounted(CSI),
            [
                "CSI volume support is disabled, but found CSI volume store",
                "must not set the field(s): spec.template.spec.volumes[0].csi",
            ],
            id="csi",
        ),
        pytest.param(
            mounted(EPHEMERAL),
            [
                "Ephemeral volume support is disabled, but found Ephemeral volume scratch",
                "must not set the field(s): spec.template.spec.volumes[0].ephemeral",
            ],
            id="ephemeral",
        ),
        pytest.param(
            mounted(IMAGE),
            [
                "Image volume support is disabled, but found Image volume model",
                "must not set the field(s): spec.template.spec.volumes[0].image",
            ],
            id="image",
        ),
        pytest.param(
            mounted(PVC),
            [
                "Persistent volume claim support is disabled, but found persistent volume claim data",
                "Persistent volume write support is disabled, but found persistent volume claim data that is not "
                "read-only",
                "must not set the field(s): spec.template.spec.volumes[0].persistentVolumeClaim",
            ],
            id="pvc",
        ),
        pytest.param(mounted({"name": "tmp", "emptyDir": {}}), [], id="emptydir-allowed"),
        pytest.param(mounted({"name": "cfg", "configMap": {"name": "app"}}), [], id="configmap-allowed"),
        pytest.param(
            mounted({"name": "nfs", "nfs": {"server": "x", "path": "/"}}),
            [
                "expected exactly one, got neither: spec.template.spec.volumes[0].configMap, "
                "spec.template.spec.volumes[0].emptyDir, spec.template.spec.volumes[0].projected, "
                "spec.template.spec.volumes[0].secret",
                "must not set the field(s): spec.template.spec.volumes[0].nfs",
            ],
            id="other-source",
        ),
        pytest.param(
            mounted({"name": "nothing"}),
            [
                "expected exactly one, got neither: spec.template.spec.volumes[0].configMap, "
                "spec.template.spec.volumes[0].emptyDir, spec.template.spec.volumes[0].projected, "
                "spec.template.spec.volumes[0].secret"
            ],
            id="source-less",
        ),
        pytest.param(
            mounted({"name": "two", "secret": {"secretName": "s"}, "configMap": {"name": "c"}}),
            [
                "expected exactly one, got both: spec.template.spec.volumes[0].configMap, "
                "spec.template.spec.volumes[0].secret"
            ],
            id="two-sources",
        ),
        pytest.param(
            mounted({"name": "cfg", "configMap": {"name": "app", "items": [{"key": "k"}]}}),
            ["missing field(s): spec.template.spec.volumes[0].items[0].path"],
            id="key-to-path-as-knative",
        ),
        pytest.param(
            mounted({"name": "p", "projected": {"sources": [{"secret": {}}, {"serviceAccountToken": {}}]}}),
            [
                "missing field(s): spec.template.spec.volumes[0].projected[0].secret.name, "
                "spec.template.spec.volumes[0].projected[1].serviceAccountToken.path"
            ],
            id="projected",
        ),
        pytest.param(
            mounted({"name": "tmp", "emptyDir": {"medium": "Disk"}}),
            ["invalid value: Disk: spec.template.spec.volumes[0].emptyDir.medium"],
            id="emptydir-medium",
        ),
    ],
)
def test_volumes_with_default_features(obj: dict[str, Any], want: list[str]) -> None:
    assert errors(obj) == want


@pytest.mark.parametrize(
    ("volume", "flags"),
    [
        pytest.param(HOSTPATH, {"kubernetes.podspec-volumes-hostpath": "enabled"}, id="hostpath"),
        pytest.param(CSI, {"kubernetes.podspec-volumes-csi": "enabled"}, id="csi"),
        pytest.param(EPHEMERAL, {"kubernetes.podspec-volumes-ephemeral": "enabled"}, id="ephemeral"),
        pytest.param(IMAGE, {"kubernetes.podspec-volumes-image": "enabled"}, id="image"),
        pytest.param(
            PVC,
            {
                "kubernetes.podspec-persistent-volume-claim": "enabled",
                "kubernetes.podspec-persistent-volume-write": "enabled",
            },
            id="pvc-write",
        ),
    ],
)
def test_volume_features_enabled(volume: dict[str, Any], flags: dict[str, str]) -> None:
    cfg = parse_config({"config-features": flags})
    assert errors(mounted(volume), cfg) == []


def test_allowed_is_not_enabled_for_volumes() -> None:
    """The mask lets an Allowed source through, validateVolume still demands Enabled."""
    cfg = parse_config({"config-features": {"kubernetes.podspec-volumes-hostpath": "allowed"}})
    assert errors(mounted(HOSTPATH), cfg) == ["HostPath volume support is disabled, but found HostPath volume host"]


def test_a_read_only_claim_needs_no_write_flag_but_a_read_only_mount() -> None:
    cfg = parse_config({"config-features": {"kubernetes.podspec-persistent-volume-claim": "enabled"}})
    claim = {"name": "claim", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}}
    assert errors(mounted(claim, {"name": "claim", "mountPath": "/data", "readOnly": True}), cfg) == []
    assert errors(mounted(claim, {"name": "claim", "mountPath": "/data"}), cfg) == [
        "volume is readOnly but volume mount is not: spec.template.spec.containers[0].volumeMounts[0].readOnly"
    ]


MOUNT_CASES = [
    pytest.param(
        [{"name": "v", "mountPath": "/d", "readOnly": True, "subPathExpr": "$(POD)"}],
        ["must not set the field(s): [0].subPathExpr"],
        id="subpathexpr",
    ),
    pytest.param(
        [{"name": "v", "mountPath": "/d", "readOnly": True, "mountPropagation": "HostToContainer"}],
        [
            "Volume Mount Propagation support is disabled, but found volume mount v with mount propagation",
            "must not set the field(s): [0].mountPropagation",
        ],
        id="mount-propagation",
    ),
    pytest.param(
        [{"name": "v", "mountPath": "/d"}],
        ["volume mount should be readOnly for this type of volume: [0].readOnly"],
        id="secret-mount-read-only",
    ),
    pytest.param(
        [{"name": "v", "mountPath": "relative", "readOnly": True}], ["invalid value: relative: [0].mountPath"], id="abs"
    ),
    pytest.param(
        [{"name": "v", "mountPath": "/dev/", "readOnly": True}],
        ['mountPath "/dev" is a reserved path: [0].mountPath'],
        id="dev",
    ),
    pytest.param(
        [{"name": "v", "mountPath": "/a", "readOnly": True}, {"name": "v", "mountPath": "/a/", "readOnly": True}],
        ['invalid value: "/a/" must be unique: [1].mountPath'],
        id="unique",
    ),
]


@pytest.mark.parametrize(("mounts", "want"), MOUNT_CASES)
def test_volume_mounts(mounts: list[dict[str, Any]], want: list[str]) -> None:
    vols = {"v": {"name": "v", "secret": {"secretName": "s"}}}
    assert [str(e) for e in sorted(volumes.validate_volume_mounts(mounts, vols, FeaturesConfig()))] == want


def test_mount_propagation_enabled_checks_the_mode() -> None:
    flags = FeaturesConfig({**FeaturesConfig().flags, "kubernetes.podspec-volumes-mount-propagation": "Enabled"})
    vols = {"v": {"name": "v", "emptyDir": {}}}
    good = [{"name": "v", "mountPath": "/d", "mountPropagation": "HostToContainer"}]
    bad = [{"name": "v", "mountPath": "/d", "mountPropagation": "Bidirectional"}]
    assert volumes.validate_volume_mounts(good, vols, flags) == []
    assert [str(e) for e in volumes.validate_volume_mounts(bad, vols, flags)] == [
        "mount propagation should be set to None or HostToContainer: [0].mountPropagation"
    ]


POD_FIELDS = [
    ("affinity", {"nodeAffinity": {}}, "kubernetes.podspec-affinity"),
    ("topologySpreadConstraints", [{"maxSkew": 1}], "kubernetes.podspec-topologyspreadconstraints"),
    ("hostAliases", [{"ip": "127.0.0.1", "hostnames": ["a"]}], "kubernetes.podspec-hostaliases"),
    ("nodeSelector", {"disk": "ssd"}, "kubernetes.podspec-nodeselector"),
    ("runtimeClassName", "gvisor", "kubernetes.podspec-runtimeclassname"),
    ("tolerations", [{"key": "k", "operator": "Exists"}], "kubernetes.podspec-tolerations"),
    ("shareProcessNamespace", True, "kubernetes.podspec-shareprocessnamespace"),
    ("priorityClassName", "high", "kubernetes.podspec-priorityclassname"),
    ("schedulerName", "custom", "kubernetes.podspec-schedulername"),
    ("dnsPolicy", "None", "kubernetes.podspec-dnspolicy"),
    ("dnsConfig", {"nameservers": ["1.1.1.1"]}, "kubernetes.podspec-dnsconfig"),
    ("hostIPC", True, "kubernetes.podspec-hostipc"),
    ("hostPID", True, "kubernetes.podspec-hostpid"),
    ("hostNetwork", True, "kubernetes.podspec-hostnetwork"),
]


@pytest.mark.parametrize(("field", "value", "flag"), [pytest.param(*f, id=f[0]) for f in POD_FIELDS])
def test_pod_spec_fields_behind_flags(field: str, value: Any, flag: str) -> None:
    obj = with_path(service(), f"{SPEC}.{field}", value)
    assert errors(obj) == [f"must not set the field(s): {SPEC}.{field}"]
    for state in ("enabled", "allowed"):
        assert errors(obj, parse_config({"config-features": {flag: state}})) == []


def test_pod_security_context_behind_its_flag() -> None:
    obj = with_path(service(), f"{SPEC}.securityContext", {"runAsUser": 1000})
    assert errors(obj) == [f"must not set the field(s): {SPEC}.securityContext, {SPEC}.securityContext.runAsUser"]
    assert errors(obj, features(**{"kubernetes.podspec-securitycontext": "enabled"})) == []
    bad = with_path(service(), f"{SPEC}.securityContext", {"runAsUser": -1})
    assert errors(bad, features(**{"kubernetes.podspec-securitycontext": "enabled"})) == [
        f"expected 0 <= -1 <= 2147483647: {SPEC}.securityContext.runAsUser"
    ]


def test_add_capabilities_behind_its_flag() -> None:
    obj = with_path(service(), f"{C0}.securityContext", {"capabilities": {"add": ["NET_BIND_SERVICE"]}})
    assert errors(obj) == [f"must not set the field(s): {C0}.securityContext.capabilities.add"]
    assert errors(obj, features(**{"kubernetes.containerspec-addcapabilities": "enabled"})) == []
    assert errors(obj, features(**{"secure-pod-defaults": "enabled"})) == []


def test_field_ref_behind_its_flag() -> None:
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    obj = with_path(service(), f"{C0}.env", env)
    assert errors(obj) == [f"must not set the field(s): {C0}.env[0].valueFrom.fieldRef"]
    assert errors(obj, features(**{"kubernetes.podspec-fieldref": "enabled"})) == []


def test_init_containers_behind_their_flag() -> None:
    obj = with_path(service(), f"{SPEC}.initContainers", [{"image": "busybox", "readinessProbe": {"exec": {}}}])
    assert errors(obj) == [
        "must not set the field(s): spec.template.spec.initContainers",
        "pod spec support for init-containers is off, but found 1 init containers",
    ]
    cfg = features(**{"kubernetes.podspec-init-containers": "enabled"})
    assert errors(obj, cfg) == [f"field not allowed in an init container: {C0}.readinessProbe"]
    out = admit(SERVICE, with_path(service(), f"{SPEC}.initContainers", [{"image": "busybox"}]), None, cfg)
    assert out["spec"]["template"]["spec"]["initContainers"] == [{"image": "busybox", "name": "init-container"}]


def test_multi_container_flag() -> None:
    obj = with_path(
        service(), f"{SPEC}.containers", [{"image": "a", "ports": [{"containerPort": 8080}]}, {"image": "b"}]
    )
    assert errors(obj) == []
    assert errors(obj, features(**{"multi-container": "disabled"})) == [
        "multi-container is off, but found 2 containers"
    ]


def test_sidecar_probes_with_multi_container_probing() -> None:
    sidecar = {"image": "b", "readinessProbe": {"tcpSocket": {"port": 9000}}}
    obj = with_path(service(), f"{SPEC}.containers", [{"image": "a", "ports": [{"containerPort": 8080}]}, sidecar])
    assert errors(obj) == [  # the defaulted successThreshold too, as in Knative
        f"must not set the field(s): {SPEC}.containers[1].readinessProbe.successThreshold, "
        f"{SPEC}.containers[1].readinessProbe.tcpSocket"
    ]
    assert errors(obj, features(**{"multi-container-probing": "enabled"})) == []


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({"networking.knative.dev/ingress-class": "x"}, [], id="networking-known"),
        pytest.param(
            {"networking.knative.dev/bogus": "x"},
            [f'invalid key name "networking.knative.dev/bogus": {ANN}'],
            id="networking-unknown",
        ),
        pytest.param(
            {"queue.sidecar.serving.knative.dev/cpu-resource-request": "lots"},
            [f"invalid value: lots: {ANN}[queue.sidecar.serving.knative.dev/cpu-resource-request]"],
            id="queue-quantity",
        ),
        pytest.param({"queue.sidecar.serving.knative.dev/memory-resource-limit": "128Mi"}, [], id="queue-ok"),
        pytest.param(
            {"queue.sidecar.serving.knative.dev/resource-percentage": "150"},
            [f"expected 0.1 <= 150 <= 100: {ANN}[queue.sidecar.serving.knative.dev/resource-percentage]"],
            id="queue-percentage",
        ),
    ],
)
def test_template_annotations(annotations: dict[str, str], want: list[str]) -> None:
    assert errors(with_path(service(), ANN, annotations)) == want


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("responseStartTimeoutSeconds", 900, id="response-start-over-max"),
        pytest.param("idleTimeoutSeconds", 3600, id="idle-over-max"),
    ],
)
def test_timeouts_knative_accepts(field: str, value: int) -> None:
    """revision_validation.go checks only timeoutSeconds against max-revision-timeout-seconds."""
    assert errors(with_path(service(), f"{SPEC}.{field}", value)) == []
