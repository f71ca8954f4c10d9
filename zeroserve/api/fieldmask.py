"""Knative's field masks (``pkg/apis/serving/fieldmask.go``): which PodSpec fields a Revision may
set, with the ``config-features`` flags that open more of them.

A mask lets a gated field through when its flag is not ``Disabled`` (``Enabled`` or ``Allowed``),
exactly as ``PodSpecMask`` copies ``in.X`` when ``cfg.Features.X != config.Disabled``; the volume
checks of ``k8s_validation.go`` then demand ``Enabled`` for hostPath, CSI, ephemeral, image and
persistent volume claims (see :mod:`zeroserve.api.volumes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from zeroserve.config import FeaturesConfig

POD_SPEC_FIELDS: Final = (
    "serviceAccountName",
    "containers",
    "volumes",
    "imagePullSecrets",
    "enableServiceLinks",
)
"""Always allowed (``PodSpecMask``); ``automountServiceAccountToken`` only when false."""

POD_SPEC_FEATURES: Final = {
    "affinity": "kubernetes.podspec-affinity",
    "topologySpreadConstraints": "kubernetes.podspec-topologyspreadconstraints",
    "hostAliases": "kubernetes.podspec-hostaliases",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "tolerations": "kubernetes.podspec-tolerations",
    "securityContext": "kubernetes.podspec-securitycontext",
    "shareProcessNamespace": "kubernetes.podspec-shareprocessnamespace",
    "priorityClassName": "kubernetes.podspec-priorityclassname",
    "schedulerName": "kubernetes.podspec-schedulername",
    "initContainers": "kubernetes.podspec-init-containers",
    "dnsPolicy": "kubernetes.podspec-dnspolicy",
    "dnsConfig": "kubernetes.podspec-dnsconfig",
    "hostIPC": "kubernetes.podspec-hostipc",
    "hostPID": "kubernetes.podspec-hostpid",
    "hostNetwork": "kubernetes.podspec-hostnetwork",
}

SECURE_POD_DEFAULTS: Final = "secure-pod-defaults"
FIELD_REF: Final = "kubernetes.podspec-fieldref"
MOUNT_PROPAGATION: Final = "kubernetes.podspec-volumes-mount-propagation"
ADD_CAPABILITIES: Final = "kubernetes.containerspec-addcapabilities"
MULTI_CONTAINER: Final = "multi-container"
MULTI_CONTAINER_PROBING: Final = "multi-container-probing"

VOLUME_SOURCE_FEATURES: Final = {
    "emptyDir": "kubernetes.podspec-volumes-emptydir",
    "persistentVolumeClaim": "kubernetes.podspec-persistent-volume-claim",
    "hostPath": "kubernetes.podspec-volumes-hostpath",
    "csi": "kubernetes.podspec-volumes-csi",
    "ephemeral": "kubernetes.podspec-volumes-ephemeral",
    "image": "kubernetes.podspec-volumes-image",
}
PVC_WRITE: Final = "kubernetes.podspec-persistent-volume-write"
ALWAYS_VOLUME_SOURCES: Final = ("secret", "configMap", "projected")


def allowed(features: FeaturesConfig, key: str) -> bool:
    """A masked field goes through unless its flag is Disabled."""
    return features.flag(key) != "Disabled"


def pod_spec_fields(features: FeaturesConfig, extras: Mapping[str, Any]) -> list[str]:
    """``PodSpecMask``: the PodSpec fields this configuration lets through."""
    keep = list(POD_SPEC_FIELDS)
    if extras.get("automountServiceAccountToken") is False:
        keep.append("automountServiceAccountToken")
    keep += [name for name, key in POD_SPEC_FEATURES.items() if allowed(features, key)]
    if "securityContext" not in keep and allowed(features, SECURE_POD_DEFAULTS):
        keep.append("securityContext")  # checked field by field by the pod security context mask
    return keep


POD_SECURITY_CONTEXT: Final = (
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "fsGroup",
    "supplementalGroups",
    "seccompProfile",
)


def pod_security_context_fields(features: FeaturesConfig, sc: Mapping[str, Any]) -> tuple[str, ...]:
    """``PodSecurityContextMask``: everything listed with the podspec-securitycontext flag; without
    it, only a RuntimeDefault/Unconfined ``seccompProfile`` under secure-pod-defaults."""
    if allowed(features, POD_SPEC_FEATURES["securityContext"]):
        return POD_SECURITY_CONTEXT
    profile = sc.get("seccompProfile")
    if not isinstance(profile, Mapping) or set(profile) - {"type"}:
        return ()
    if features.enabled(SECURE_POD_DEFAULTS) and profile.get("type") in ("RuntimeDefault", "Unconfined"):
        return ("seccompProfile",)
    return ()


def capabilities_fields(features: FeaturesConfig, caps: Mapping[str, Any]) -> tuple[str, ...]:
    """``CapabilitiesMask``: ``drop`` always; ``add`` with containerspec-addcapabilities Enabled, or
    just ``[NET_BIND_SERVICE]`` under secure-pod-defaults."""
    if features.enabled(ADD_CAPABILITIES):
        return ("drop", "add")
    if features.enabled(SECURE_POD_DEFAULTS) and caps.get("add") == ["NET_BIND_SERVICE"]:
        return ("drop", "add")
    return ("drop",)


def env_value_from_fields(features: FeaturesConfig) -> tuple[str, ...]:
    """``EnvVarSourceMask``: fieldRef and resourceFieldRef with podspec-fieldref."""
    base = ("configMapKeyRef", "secretKeyRef")
    return (*base, "fieldRef", "resourceFieldRef") if allowed(features, FIELD_REF) else base


def volume_mount_fields(features: FeaturesConfig) -> tuple[str, ...]:
    """``VolumeMountMask``: subPathExpr and recursiveReadOnly are never allowed."""
    base = ("name", "readOnly", "mountPath", "subPath")
    return (*base, "mountPropagation") if allowed(features, MOUNT_PROPAGATION) else base


def volume_source_fields(features: FeaturesConfig) -> tuple[str, ...]:
    """``VolumeSourceMask``: secret, configMap, projected, and the gated sources."""
    return (*ALWAYS_VOLUME_SOURCES, *(s for s, key in VOLUME_SOURCE_FEATURES.items() if allowed(features, key)))
