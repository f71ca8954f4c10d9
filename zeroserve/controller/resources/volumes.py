"""A revision's volumes as the runtime writes them (the kubelet's volume plugins' payloads), pure.

``secret``, ``configMap`` and ``projected`` volumes become :class:`~zeroserve.runtime.base.Volume` s of
files (each key, or each of ``items`` at its ``path``, with ``mode`` else ``defaultMode``, 0644 by
default); ``emptyDir`` stays an empty directory (``medium``, ``sizeLimit`` in bytes). Every volume is
the runtime's to write per instance and to update in place when its data changes (the kubelet's
AtomicWriter: ``..data`` swap), so the Workload carries the contents.

Errors are the kubelet's (``MountVolume.SetUp failed for volume "NAME" : ...`` events, reason
``FailedMount``): ``secret "db" not found`` (unless ``optional``: an empty volume), ``references
non-existent secret key: K``, ``configmap references non-existent config key: K`` (unless
``optional``: the item is left out), and AtomicWriter's path checks.

A projected ``serviceAccountToken`` is never zeroserve's API token: each instance gets a random token
of its own (the runtime writes it, ``runtime.base.SERVICE_ACCOUNT_TOKEN``), accepted by nothing here; apps
that only check that the file exists start, and one that presents it to an API is refused.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zeroserve.api.podspec import Container
from zeroserve.config import quantity
from zeroserve.controller.resources import downward
from zeroserve.controller.resources.configdata import (
    CONFIGMAP,
    FAILED_MOUNT,
    SECRET,
    ConfigError,
    Data,
    Ref,
    RefKind,
    Sources,
)
from zeroserve.runtime.base import INSTANCE_FIELDS, SERVICE_ACCOUNT_TOKEN, Volume, VolumeFile, VolumeMount

DEFAULT_MODE: Final = 0o644
SUPPORTED: Final = ("secret", "configMap", "projected", "emptyDir")
MAX_FILE_NAME: Final = 255
MAX_PATH: Final = 4096


@dataclass(frozen=True)
class _Ctx:
    namespace: str
    sources: Sources
    pod: downward.Pod
    node: downward.Node
    containers: Sequence[Container]


def resolve_volumes(
    volumes: Sequence[Mapping[str, Any]],
    namespace: str,
    sources: Sources,
    pod: downward.Pod,
    node: downward.Node,
    containers: Sequence[Container],
) -> tuple[Volume, ...]:
    """The volumes the runtime makes (sources it cannot make are left out: ``unsupported_fields``)."""
    ctx = _Ctx(namespace, sources, pod, node, containers)
    out: list[Volume] = []
    for vol in volumes:
        name = str(vol.get("name") or "")
        try:
            made = _volume(vol, ctx)
        except ConfigError as err:
            raise ConfigError(FAILED_MOUNT, f'MountVolume.SetUp failed for volume "{name}" : {err.message}') from None
        if made is not None:
            out.append(made)
    return tuple(out)


def shapes(volumes: Sequence[Mapping[str, Any]]) -> tuple[Volume, ...]:
    """The volumes without their files (while a ConfigMap or Secret they read is missing): the same
    :func:`~zeroserve.runtime.base.template` as when it is there, so what runs is not rolled."""
    out: list[Volume] = []
    for vol in volumes:
        name = str(vol.get("name") or "")
        if isinstance(vol.get("emptyDir"), Mapping):
            out.append(_empty_dir(name, vol["emptyDir"]))
        elif any(isinstance(vol.get(key), Mapping) for key in ("secret", "configMap", "projected")):
            out.append(Volume(name))
    return tuple(out)


def mounts_of(container: Container) -> tuple[VolumeMount, ...]:
    """The container's ``volumeMounts`` (admission defaulted ``readOnly`` and checked the rest)."""
    return tuple(
        VolumeMount(
            name=str(m.get("name") or ""),
            mount_path=posixpath.normpath(str(m.get("mountPath") or "/")),
            read_only=m.get("readOnly") is True,
            sub_path=str(m.get("subPath") or ""),
        )
        for m in container.volume_mounts
    )


def _volume(vol: Mapping[str, Any], ctx: _Ctx) -> Volume | None:
    name = str(vol.get("name") or "")
    if isinstance(vol.get("emptyDir"), Mapping):
        return _empty_dir(name, vol["emptyDir"])
    for key, kind in (("secret", SECRET), ("configMap", CONFIGMAP)):
        src = vol.get(key)
        if isinstance(src, Mapping):
            ref_name = str(src.get("secretName" if kind == SECRET else "name") or "")
            mode = _mode(src.get("defaultMode"), DEFAULT_MODE)
            return Volume(name, files=_files(_objects(ctx, kind, ref_name, src, mode)))  # type: ignore[arg-type]
    projected = vol.get("projected")
    if isinstance(projected, Mapping):
        mode = _mode(projected.get("defaultMode"), DEFAULT_MODE)
        payload: dict[str, VolumeFile] = {}
        for source in projected.get("sources") or []:
            if isinstance(source, Mapping):
                payload.update(_projection(source, mode, ctx))
        return Volume(name, files=_files(payload))
    return None


def _empty_dir(name: str, src: Mapping[str, Any]) -> Volume:
    limit = src.get("sizeLimit")
    size = None
    if limit is not None:
        try:
            size = int(quantity.parse(limit))
        except quantity.QuantityError:
            size = None  # admission refused it
    return Volume(name, kind="emptyDir", medium=str(src.get("medium") or ""), size_limit=size)


def _objects(ctx: _Ctx, kind: RefKind, name: str, src: Mapping[str, Any], mode: int) -> dict[str, VolumeFile]:
    """A secret or configMap source's payload (``MakePayload``)."""
    optional = src.get("optional") is True
    found: Data | None = ctx.sources.get(Ref(kind, name))
    if found is None:
        if optional:
            return {}
        raise ConfigError(FAILED_MOUNT, Ref(kind, name).not_found())
    items = src.get("items")
    if not isinstance(items, list) or not items:
        return {key: VolumeFile(_path(key), value, mode) for key, value in found.files.items()}
    payload: dict[str, VolumeFile] = {}
    for item in items:
        item = item if isinstance(item, Mapping) else {}
        key = str(item.get("key") or "")
        if key not in found.files:
            if optional:
                continue
            what = (
                "references non-existent secret key"
                if kind == SECRET
                else "configmap references non-existent config key"
            )
            raise ConfigError(FAILED_MOUNT, f"{what}: {key}")
        path = _path(str(item.get("path") or ""))
        payload[path] = VolumeFile(path, found.files[key], _mode(item.get("mode"), mode))
    return payload


def _projection(source: Mapping[str, Any], mode: int, ctx: _Ctx) -> dict[str, VolumeFile]:
    for key, kind in (("secret", SECRET), ("configMap", CONFIGMAP)):
        src = source.get(key)
        if isinstance(src, Mapping):
            return _objects(ctx, kind, str(src.get("name") or ""), src, mode)  # type: ignore[arg-type]
    token = source.get("serviceAccountToken")
    if isinstance(token, Mapping):
        path = _path(str(token.get("path") or ""))
        return {path: VolumeFile(path, b"", mode, SERVICE_ACCOUNT_TOKEN)}
    downward_api = source.get("downwardAPI")
    if isinstance(downward_api, Mapping):
        return _downward(downward_api.get("items") or [], mode, ctx)
    return {}


def _downward(items: Sequence[Any], mode: int, ctx: _Ctx) -> dict[str, VolumeFile]:
    """``downwardapi.CollectData``: one file per item."""
    payload: dict[str, VolumeFile] = {}
    for i, item in enumerate(items):
        item = item if isinstance(item, Mapping) else {}
        path = _path(str(item.get("path") or ""))
        file_mode = _mode(item.get("mode"), mode)
        field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
        where = f"items[{i}]"
        if isinstance(field_ref, Mapping):
            field_path = downward.check_path(field_ref, downward.VOLUME_FIELD_PATHS, f"{where}.fieldRef")
            if field_path in INSTANCE_FIELDS:
                payload[path] = VolumeFile(path, b"", file_mode, field_path)
                continue
            value = downward.field_value(field_path, ctx.pod)
        elif isinstance(resource_ref, Mapping):
            serving = ctx.containers[0] if ctx.containers else Container()
            value = downward.resource_value(
                resource_ref, serving, ctx.containers, ctx.node, f"{where}.resourceFieldRef"
            )
        else:
            value = ""
        payload[path] = VolumeFile(path, value.encode("utf-8", "surrogateescape"), file_mode)
    return payload


def _files(payload: Mapping[str, VolumeFile]) -> tuple[VolumeFile, ...]:
    return tuple(payload[path] for path in sorted(payload))


def _mode(value: object, default: int) -> int:
    return value & 0o777 if isinstance(value, int) and not isinstance(value, bool) else default


def _path(path: str) -> str:
    """AtomicWriter's ``validatePath``: a relative path without ``..``, cleaned."""
    if not path:
        raise ConfigError(FAILED_MOUNT, f'invalid path: must not be empty: "{path}"')
    if path.startswith("/"):
        raise ConfigError(FAILED_MOUNT, f"invalid path: must be relative path: {path}")
    if len(path) > MAX_PATH:
        raise ConfigError(FAILED_MOUNT, f"invalid path: must be less than or equal to {MAX_PATH} characters")
    parts = path.split("/")
    if ".." in parts:
        raise ConfigError(FAILED_MOUNT, f"invalid path: must not contain '..': {path}")
    if any(len(part) > MAX_FILE_NAME for part in parts):
        raise ConfigError(
            FAILED_MOUNT, f"invalid path: filenames must be less than or equal to {MAX_FILE_NAME} characters"
        )
    if parts[0].startswith("..") and len(parts[0]) > 2:
        raise ConfigError(FAILED_MOUNT, f"invalid path: must not start with '..': {path}")
    clean = posixpath.normpath(path)
    if clean == ".":
        raise ConfigError(FAILED_MOUNT, f'invalid path: must not be empty: "{path}"')
    return clean
