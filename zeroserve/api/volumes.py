"""Volumes and volume mounts of a Revision, as knative/serving ``pkg/apis/serving/k8s_validation.go``
(``ValidateVolumes``, ``validateVolume``, ``validateVolumeMounts``) with ``fieldmask.go``'s masks and
the ``config-features`` flags (:mod:`zeroserve.api.fieldmask`).

Volumes are kept as the JSON objects they were sent as; a source counts as given when its key is
present with a non-null value (Go's non-nil pointer). Knative's quirks are kept: a bad volume name
replaces that volume's earlier errors, and secret/configMap ``items`` are reported without the
source's name in the path (``volumes[0].items[0].key``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Final

from zeroserve.api import fieldmask, names, wire
from zeroserve.api.fielderrors import MSG_BOTH, MSG_NEITHER, err_disallowed, err_invalid_value, err_missing, via
from zeroserve.config import FeaturesConfig, quantity
from zeroserve.errors import FieldError

RESERVED_PATHS: Final = frozenset({"/", "/dev", "/dev/log"})
WRITABLE_SOURCES: Final = ("emptyDir", "persistentVolumeClaim", "ephemeral")
"""Mounts of other volumes must be readOnly (and are defaulted so)."""

Obj = Mapping[str, Any]


def _given(obj: Obj, key: str) -> bool:
    return obj.get(key) is not None


def _set(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def _disallowed(obj: Any, allowed: Sequence[str], *, nonzero: bool = True) -> list[FieldError]:
    if not isinstance(obj, Mapping):
        return []
    keep = set(allowed)
    bad = sorted(k for k, v in obj.items() if k not in keep and (_set(v) if nonzero else v is not None))
    return [err_disallowed(*bad)] if bad else []


def _one_of(specified: list[str], candidates: Sequence[str]) -> list[FieldError]:
    if not specified:
        return [FieldError(MSG_NEITHER, tuple(candidates))]
    if len(specified) > 1:
        return [FieldError(MSG_BOTH, tuple(specified))]
    return []


# ----------------------------------------------------------------------------- volumes


def validate_volumes(
    volumes: Sequence[Obj], mounted: set[str], features: FeaturesConfig
) -> tuple[dict[str, Obj], list[FieldError]]:
    """``ValidateVolumes`` (paths relative to ``volumes``): the volumes by name and every error."""
    by_name: dict[str, Obj] = {}
    errs: list[FieldError] = []
    for i, vol in enumerate(volumes):
        name = str(vol.get("name") or "")
        here: list[FieldError] = []
        if name in by_name:
            here.append(FieldError(f'duplicate volume name "{name}"', ("name",)))
        if name not in mounted:
            here.append(FieldError(f'volume with name "{name}" not mounted', ("name",)))
        here += validate_volume(vol, features)
        by_name[name] = vol
        errs += via(here, f"[{i}]")
    return by_name, errs


def _feature_errors(vol: Obj, features: FeaturesConfig) -> list[FieldError]:
    name = str(vol.get("name") or "")
    errs: list[FieldError] = []
    pvc = vol.get("persistentVolumeClaim")
    if isinstance(pvc, Mapping):
        claim = pvc.get("claimName") or ""
        if not features.enabled(fieldmask.VOLUME_SOURCE_FEATURES["persistentVolumeClaim"]):
            errs.append(
                FieldError(f"Persistent volume claim support is disabled, but found persistent volume claim {claim}")
            )
        if not pvc.get("readOnly") and not features.enabled(fieldmask.PVC_WRITE):
            errs.append(
                FieldError(
                    "Persistent volume write support is disabled, but found persistent volume claim "
                    f"{claim} that is not read-only"
                )
            )
    for source, label in (("image", "Image"), ("emptyDir", "EmptyDir"), ("hostPath", "HostPath"), ("csi", "CSI")):
        if _given(vol, source) and not features.enabled(fieldmask.VOLUME_SOURCE_FEATURES[source]):
            errs.append(FieldError(f"{label} volume support is disabled, but found {label} volume {name}"))
    if _given(vol, "ephemeral") and not features.enabled(fieldmask.VOLUME_SOURCE_FEATURES["ephemeral"]):
        errs.append(FieldError(f"Ephemeral volume support is disabled, but found Ephemeral volume {name}"))
    return errs


def validate_volume(vol: Obj, features: FeaturesConfig) -> list[FieldError]:
    """``validateVolume`` (relative to the volume)."""
    errs = _feature_errors(vol, features)
    name = vol.get("name")
    if not name:
        errs = [err_missing("name")]  # Knative assigns here, dropping the errors above
    elif not isinstance(name, str) or names.is_dns1123_label(name):
        errs = [err_invalid_value(wire.shown_value(name), "name")]
    sources = fieldmask.volume_source_fields(features)
    errs += _disallowed({k: v for k, v in vol.items() if k != "name"}, sources, nonzero=False)
    specified: list[str] = []
    for key in ("secret", "configMap"):
        if isinstance(vol.get(key), Mapping):
            specified.append(key)
            errs += _key_to_paths(vol[key].get("items"))
    if isinstance(vol.get("projected"), Mapping):
        specified.append("projected")
        for i, proj in enumerate(vol["projected"].get("sources") or []):
            errs += via(_projection(proj if isinstance(proj, Mapping) else {}), f"projected[{i}]")
    if isinstance(vol.get("emptyDir"), Mapping):
        specified.append("emptyDir")
        errs += via(_empty_dir(vol["emptyDir"]), "emptyDir")
    specified += [key for key in ("persistentVolumeClaim", "hostPath", "csi", "ephemeral") if _given(vol, key)]
    if isinstance(vol.get("image"), Mapping):
        specified.append("image")
        errs += via(_image(vol["image"]), "image")
    candidates = [*fieldmask.ALWAYS_VOLUME_SOURCES]
    candidates += [s for s, key in fieldmask.VOLUME_SOURCE_FEATURES.items() if features.enabled(key)]
    return errs + _one_of(specified, candidates)


def _key_to_paths(items: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        item = item if isinstance(item, Mapping) else {}
        here = _disallowed(item, ("key", "path", "mode"))
        here += [err_missing(k) for k in ("key", "path") if not item.get(k)]
        errs += via(here, f"items[{i}]")
    return errs


def _projection(proj: Obj) -> list[FieldError]:
    """``validateProjectedVolumeSource``."""
    errs = _disallowed(proj, ("secret", "configMap", "serviceAccountToken", "downwardAPI"))
    specified: list[str] = []
    for key in ("secret", "configMap"):
        src = proj.get(key)
        if isinstance(src, Mapping):
            specified.append(key)
            here = _disallowed(src, ("name", "items", "optional"))
            here += [] if src.get("name") else [err_missing("name")]
            errs += via(here + _key_to_paths(src.get("items")), key)
    token = proj.get("serviceAccountToken")
    if isinstance(token, Mapping):
        specified.append("serviceAccountToken")
        here = _disallowed(token, ("audience", "expirationSeconds", "path"))
        errs += via(here + ([] if token.get("path") else [err_missing("path")]), "serviceAccountToken")
    downward = proj.get("downwardAPI")
    if isinstance(downward, Mapping):
        specified.append("downwardAPI")
        errs += via(_downward_api(downward), "downwardAPI")
    return errs + _one_of(specified, ("secret", "configMap", "serviceAccountToken", "downwardAPI"))


def _downward_api(src: Obj) -> list[FieldError]:
    errs = _disallowed(src, ("items",))
    for i, item in enumerate(src.get("items") or []):
        item = item if isinstance(item, Mapping) else {}
        here = _disallowed(item, ("fieldRef", "resourceFieldRef", "path", "mode"))
        field_ref, resource_ref = _given(item, "fieldRef"), _given(item, "resourceFieldRef")
        if not field_ref and not resource_ref:
            here.append(FieldError(MSG_NEITHER, ("fieldRef", "resourceFieldRef")))
        if field_ref and resource_ref:
            here.append(FieldError("Within a single item, cannot set both", ("resourceFieldRef", "fieldRef")))
        if not item.get("path"):
            here.append(err_missing("path"))
        errs += via(here, f"items[{i}]")
    return errs


def _empty_dir(src: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    medium = src.get("medium") or ""
    if medium not in ("", "Memory"):
        errs.append(err_invalid_value(wire.shown_value(medium), "medium"))
    limit = src.get("sizeLimit")
    if limit is not None:
        try:
            negative = quantity.parse(limit) < 0
        except quantity.QuantityError as e:
            return [*errs, err_invalid_value(wire.shown_value(limit), "sizeLimit", str(e))]
        if negative:
            errs.append(err_invalid_value(wire.shown_value(limit), "sizeLimit"))
    return errs


def _image(src: Obj) -> list[FieldError]:
    errs = _disallowed(src, ("reference", "pullPolicy"))
    if not src.get("reference"):
        errs.append(err_missing("reference"))
    policy = src.get("pullPolicy") or ""
    if policy not in ("", "IfNotPresent", "Always", "Never"):
        errs.append(err_invalid_value(wire.shown_value(policy), "pullPolicy"))
    return errs


# ----------------------------------------------------------------------------- mounts


def validate_volume_mounts(
    mounts: Sequence[Obj], volumes: Mapping[str, Obj], features: FeaturesConfig
) -> list[FieldError]:
    """``validateVolumeMounts`` (relative to ``volumeMounts``)."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    allowed = fieldmask.volume_mount_fields(features)
    for i, vm in enumerate(mounts):
        here = _disallowed(vm, allowed)
        name = vm.get("name")
        vol = volumes.get(name) if isinstance(name, str) else None
        if vol is None:
            here.append(FieldError("volumeMount has no matching volume", ("name",)))
        vol = vol or {}
        path = vm.get("mountPath") or ""
        path = path if isinstance(path, str) else str(path)
        clean = posixpath.normpath(path) if path else "."
        if not path:
            here.append(err_missing("mountPath"))
        elif clean in RESERVED_PATHS:
            here.append(FieldError(f'mountPath "{clean}" is a reserved path', ("mountPath",)))
        elif not posixpath.isabs(path):
            here.append(err_invalid_value(path, "mountPath"))
        elif clean in seen:
            here.append(err_invalid_value(f'"{path}" must be unique', "mountPath"))
        seen.add(clean)
        if not any(_given(vol, s) for s in WRITABLE_SOURCES) and not vm.get("readOnly"):
            here.append(FieldError("volume mount should be readOnly for this type of volume", ("readOnly",)))
        propagation = vm.get("mountPropagation")
        if propagation is not None:
            if not features.enabled(fieldmask.MOUNT_PROPAGATION):
                here.append(
                    FieldError(
                        f"Volume Mount Propagation support is disabled, but found volume mount {name} "
                        "with mount propagation"
                    )
                )
            if propagation not in ("None", "HostToContainer"):
                here.append(
                    FieldError("mount propagation should be set to None or HostToContainer", ("mountPropagation",))
                )
        pvc = vol.get("persistentVolumeClaim")
        if isinstance(pvc, Mapping) and pvc.get("readOnly") and not vm.get("readOnly"):
            here.append(FieldError("volume is readOnly but volume mount is not", ("readOnly",)))
        errs += via(here, f"[{i}]")
    return errs
