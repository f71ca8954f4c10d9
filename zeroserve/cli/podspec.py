"""kn's pod-spec flags that reference ConfigMaps and Secrets, as pure edits of a template's spec.

``--env-value-from NAME=cm:CM:KEY``, ``--env-from cm:CM``, ``--env-file FILE``, ``--mount PATH=cm:CM``
and ``--volume NAME=secret:S`` are parsed and applied as knative/client ``pkg/flags/podspec.go`` and
``podspec_helper.go`` do, with kn's error messages and its generated volume names
(:func:`generate_volume_name`: the mount *path* sanitised, plus 8 hex digits of its SHA-1).

Where kn is silent or crashes, this module says so instead: an ``--env-from`` of an emptyDir is an
error, and a ``NAME-`` line in an ``--env-file`` removes NAME (kn parses it and then drops it).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zeroserve import errors
from zeroserve.api.base import Obj
from zeroserve.config import quantity

CONFIG_MAP, SECRET, EMPTY_DIR, PVC = "configMap", "secret", "emptyDir", "persistentVolumeClaim"
SOURCE_TYPES: dict[str, str] = {
    "config-map": CONFIG_MAP,
    "cm": CONFIG_MAP,
    "secret": SECRET,
    "sc": SECRET,
    "emptyDir": EMPTY_DIR,
    "ed": EMPTY_DIR,
    "persistentVolumeClaim": PVC,
    "pvc": PVC,
}
_TYPE_NAMES = {CONFIG_MAP: "config-map", SECRET: "secret", EMPTY_DIR: "unknown", PVC: "unknown"}
"""kn's ``VolumeSourceType.String()``, used in its messages (only the first two have names)."""
_VOLUME_TYPES_HINT = (
    'supported volume types are "config-map or cm", "secret or sc", "volume or vo", and "emptyDir or ed"'
)


def _q(text: str) -> str:
    """Go's ``%q``."""
    return json.dumps(text, ensure_ascii=False)


def _bad(flag: str, message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid --{flag}: {message}")


def ordered_pairs(items: Sequence[str], flag: str) -> tuple[dict[str, str], list[str]]:
    """kn's ``OrderedMapAndRemovalListFromArray``: ``NAME=VALUE`` to set (the last wins, in the
    place of the first), ``NAME-`` to remove."""
    updates: dict[str, str] = {}
    removals: list[str] = []
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            updates[key] = value
        elif item.endswith("-"):
            removals.append(item[:-1])
        else:
            raise _bad(flag, f'argument requires a value that contains the "=" character; got {_q(item)}')
    return updates, removals


# -- env ---------------------------------------------------------------------------------------------


def env_var_source(spec: str) -> Obj:
    """``cm:NAME:KEY`` / ``secret:NAME:KEY`` as an ``EnvVarSource`` (kn's ``createEnvVarSource``)."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise _bad(
            "env-value-from",
            'argument requires a value in form "resourceType:name:key" where "resourceType" can be one of '
            f'"config-map" ("cm") or "secret" ("sc"); got {_q(spec)}',
        )
    kind, name, key = (p.strip() for p in parts)
    if kind in ("config-map", "cm"):
        label, source = "ConfigMap", {"configMapKeyRef": {"name": name, "key": key}}
    elif kind in ("secret", "sc"):
        label, source = "Secret", {"secretKeyRef": {"name": name, "key": key}}
    else:
        raise _bad(
            "env-value-from",
            f'unsupported env source type "{_q(parts[0])}"; supported source types are "config-map" ("cm") '
            'and "secret" ("sc")',
        )
    if not name:
        raise _bad("env-value-from", f"the name of {label} cannot be an empty string")
    if not key:
        raise _bad("env-value-from", f'the key referenced by resource {label} "{name}" cannot be an empty string')
    return source


def env_file_lines(text: str) -> list[str]:
    """An ``--env-file``'s entries: kn takes every non-empty line; lines starting with ``#`` are
    comments here (as in kubectl's and docker's env files), where kn would make a variable of them."""
    return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]


def update_env(
    container: dict[str, Any], env: Sequence[tuple[str, str | None]], value_from: Sequence[str], file: Sequence[str]
) -> None:
    """kn's ``UpdateEnvVars``: existing variables are replaced in place, new ones appended in order
    (the ``--env-file``'s first, then ``--env``, then ``--env-value-from``), then removals apply."""
    updates: dict[str, Obj] = {}
    removals: list[str] = []
    from_file, file_removals = ordered_pairs(file, "env-file")
    updates.update({k: {"name": k, "value": v} for k, v in from_file.items()})
    for key, value in env:
        if value is None:
            removals.append(key)
        else:
            updates[key] = {"name": key, "value": value}
    refs, ref_removals = ordered_pairs(value_from, "env-value-from")
    updates.update({k: {"name": k, "valueFrom": env_var_source(v)} for k, v in refs.items()})
    removals += file_removals + ref_removals
    if not (updates or removals):
        return
    current = [dict(e) for e in container.get("env") or []]
    names = {e.get("name") for e in current}
    merged = [updates.get(str(e.get("name")), e) for e in current]
    merged += [e for k, e in updates.items() if k not in names]
    gone = set(removals)
    container["env"] = [dict(e) for e in merged if e.get("name") not in gone]
    if not container["env"]:
        del container["env"]


@dataclass(frozen=True)
class VolumeSource:
    """kn's ``volumeSourceInfo``: what a ``--volume`` / ``--env-from`` / ``--mount`` refers to."""

    type: str
    name: str
    medium: str = ""
    size_limit: str | None = None

    @property
    def canonical(self) -> str:
        return f"{_TYPE_NAMES[self.type]}:{self.name}"

    def volume(self) -> Obj:
        """The volume source, as kn's ``updateVolume`` sets it."""
        if self.type == CONFIG_MAP:
            return {CONFIG_MAP: {"name": self.name}}
        if self.type == SECRET:
            return {SECRET: {"secretName": self.name}}
        if self.type == PVC:
            return {PVC: {"claimName": self.name}}
        empty: dict[str, str] = {}
        if self.medium:
            empty["medium"] = self.medium
        if self.size_limit is not None:
            empty["sizeLimit"] = self.size_limit
        return {EMPTY_DIR: empty}


def volume_source(spec: str, flag: str) -> VolumeSource:
    """``TYPE:NAME`` (or ``emptyDir:NAME:type=Memory,size=1Gi``): kn's ``newVolumeSourceInfoWithSpecString``."""
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise _bad(flag, f"argument requires a value that contains the : character; got {_q(spec)}")
    kind = parts[0].strip()
    if len(parts) == 2:
        source_type = SOURCE_TYPES.get(kind)
        if source_type is None:
            raise _bad(
                flag,
                f'unsupported volume source type "{_q(parts[0])}"; supported volume source types are '
                '"config-map" and "secret"',
            )
        name = parts[1].strip()
        if not name:
            raise _bad(flag, f"the name of {_TYPE_NAMES[source_type]} cannot be an empty string")
        return VolumeSource(source_type, name)
    if SOURCE_TYPES.get(kind) == EMPTY_DIR:
        medium, size = _empty_dir_options(parts[2], flag)
        return VolumeSource(EMPTY_DIR, parts[1], medium, size)
    if kind in SOURCE_TYPES:
        raise _bad(flag, f"incorrect mount details for type {_q(kind)}")
    raise _bad(flag, f'unsupported volume type "{_q(parts[0])}"; {_VOLUME_TYPES_HINT}')


def _empty_dir_options(text: str, flag: str) -> tuple[str, str | None]:
    """kn's ``getEmptyDirTypeAndSize``: ``type=Memory``, ``size=1Gi`` or both, comma-separated."""
    medium, size = "", None
    seen: set[str] = set()
    for item in text.split(",", 1):
        key, sep, value = item.partition("=")
        key = key.lower()
        if not sep or key not in ("type", "size") or (key == "size" and not _is_quantity(value)):
            raise _bad(flag, "incorrect format to specify emptyDir type")
        if key in seen:
            raise _bad(flag, f"cannot repeat the key {_q(key)}")
        seen.add(key)
        if key == "type":
            medium = value
        else:
            size = value
    return medium, size


def _is_quantity(text: str) -> bool:
    try:
        quantity.parse(text)
    except ValueError:
        return False
    return True


def update_env_from(container: dict[str, Any], items: Sequence[str]) -> None:
    """kn's ``--env-from cm:NAME`` / ``secret:NAME`` (appended once), ``cm:NAME-`` to remove."""
    add: list[str] = []
    remove: list[str] = []
    for item in items:
        if item == "-":
            raise errors.BadRequest('"-" is not a valid value for "--env-from"')
        (remove if item.endswith("-") else add).append(item[:-1] if item.endswith("-") else item)
    if not (add or remove):
        return
    sources = [dict(s) for s in container.get("envFrom") or []]
    have = {c for c in map(_env_from_canonical, sources) if c}
    for spec in add:
        info = volume_source(spec, "env-from")
        if info.type not in (CONFIG_MAP, SECRET):
            raise _bad("env-from", f"{_q(spec)}: only a ConfigMap (cm:) or a Secret (secret:) can be a source")
        if info.canonical not in have:
            have.add(info.canonical)
            ref = "configMapRef" if info.type == CONFIG_MAP else "secretRef"
            sources.append({ref: {"name": info.name}})
    for spec in remove:
        info = volume_source(spec, "env-from")
        for i, s in enumerate(sources):
            if _env_from_canonical(s) == info.canonical:
                del sources[i]
                break
    container["envFrom"] = sources
    if not sources:
        del container["envFrom"]


def _env_from_canonical(source: Obj) -> str:
    for key, kind in (("configMapRef", CONFIG_MAP), ("secretRef", SECRET)):
        if isinstance(source.get(key), dict):
            return f"{_TYPE_NAMES[kind]}:{source[key].get('name', '')}"
    return ""


# -- volumes and mounts ------------------------------------------------------------------------------


def generate_volume_name(path: str) -> str:
    """kn's ``util.GenerateVolumeName``: ``/etc/config`` -> ``etc-config-`` + 8 hex digits of the
    path's SHA-1 (lower case, digits and ``-`` kept, other characters ``-``, a leading ``/``
    dropped; ``k-`` in front unless it starts alphanumeric; cut to 63 characters ending ``-n``)."""
    out: list[str] = []
    for i, ch in enumerate(path):
        cat = unicodedata.category(ch)
        if cat in ("Ll", "Nd") or ch == "-":
            out.append(ch)
        elif cat == "Lu":
            out.append(ch.lower())
        elif ch == "/":
            if i != 0:
                out.append("-")
        else:
            out.append("-")
    name = "".join(out) + "-" + hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:8]
    if not unicodedata.category(name[0]).startswith(("L", "N")):
        name = "k-" + name
    if len(name) > 63:
        name = name[:61] + "-n"
    return name


@dataclass(frozen=True)
class MountInfo:
    """kn's ``MountInfo``: ``VOLUME[/SUB/PATH][:readOnly=BOOL]``."""

    volume: str
    sub_path: str = ""
    options: str = ""

    @classmethod
    def parse(cls, text: str) -> MountInfo:
        head, _, options = text.partition(":")
        volume, _, sub_path = head.partition("/")
        return cls(volume, sub_path, options)


@dataclass
class _VolumePlan:
    volumes: dict[str, VolumeSource] = field(default_factory=dict)
    mounts: dict[str, MountInfo] = field(default_factory=dict)


def _plan(mounts: dict[str, str], volumes: dict[str, str]) -> _VolumePlan:
    """kn's ``reviseVolumeInfoAndMountsToUpdate``: a ``--mount`` of a cm/secret/emptyDir/pvc makes a
    volume named after the mount path; ``--volume NAME=TYPE:REF`` makes a volume named NAME."""
    plan = _VolumePlan()
    for path, value in mounts.items():
        kind, sep, rest = value.partition(":")
        if not sep:
            plan.mounts[path] = MountInfo.parse(value)
            continue
        source_type = SOURCE_TYPES.get(kind)
        if source_type is None:
            raise _bad("mount", f'unsupported volume type "{_q(kind)}"; {_VOLUME_TYPES_HINT}')
        info = MountInfo.parse(rest)
        generated = generate_volume_name(path)
        plan.volumes[generated] = VolumeSource(source_type, rest if source_type == EMPTY_DIR else info.volume)
        plan.mounts[path] = MountInfo(generated, info.sub_path, info.options)
    for name, value in volumes.items():
        plan.volumes[name] = volume_source(value, "volume")
    return plan


def _read_only(info: MountInfo, volumes: Sequence[Obj]) -> bool:
    """kn's ``isReadOnlyVolume``: ``readOnly=BOOL`` if given, else true unless an emptyDir or pvc."""
    if info.options:
        options: dict[str, str] = {}
        for item in info.options.split(","):
            key, _, value = item.partition("=")
            if key.lower() != "readonly":
                raise _bad("mount", f"unknown mount option {_q(key)}")
            options["readonly"] = value
        if options.get("readonly"):
            return _parse_bool(options["readonly"])
    for v in volumes:
        if v.get("name") == info.volume:
            return not (v.get(EMPTY_DIR) is not None or v.get(PVC) is not None)
    return True


def _parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise _bad("mount", f"strconv.ParseBool: parsing {_q(text)}: invalid syntax")


def update_volumes(
    spec: dict[str, Any], container: dict[str, Any], mounts: Sequence[str], volumes: Sequence[str]
) -> None:
    """kn's ``UpdateVolumeMountsAndVolumes``: set volumes, set mounts, then remove mounts (with the
    volume a ``--mount`` generated for them) and volumes (refused while still mounted)."""
    mount_set, mount_removals = ordered_pairs(mounts, "mount")
    volume_set, volume_removals = ordered_pairs(volumes, "volume")
    if not (mount_set or mount_removals or volume_set or volume_removals):
        return
    plan = _plan(mount_set, volume_set)
    vols = [dict(v) for v in spec.get("volumes") or []]
    by_name = {v.get("name"): v for v in vols}
    for name, source in plan.volumes.items():
        if name in by_name:
            _set_source(by_name[name], source)
        else:
            vols.append({"name": name, **source.volume()})
    current = [dict(m) for m in container.get("volumeMounts") or []]
    at = {m.get("mountPath"): m for m in current}
    for path, info in plan.mounts.items():
        mount: dict[str, Any] = {"name": info.volume, "mountPath": path}
        if _read_only(info, vols):
            mount["readOnly"] = True  # false is left out, as Go's omitempty does
        if info.sub_path:
            mount["subPath"] = info.sub_path
        if path in at:
            if info.volume not in {v.get("name") for v in vols}:
                raise _bad("mount", f"There is no volume matched with {_q(info.volume)}")
            for key in ("readOnly", "subPath"):
                at[path].pop(key, None)
            at[path].update(mount)
        else:
            current.append(mount)
    unmount = set(mount_removals)
    generated = [
        str(m["name"])
        for m in current
        if m.get("mountPath") in unmount and m.get("name") == generate_volume_name(str(m["mountPath"]))
    ]
    current = [m for m in current if m.get("mountPath") not in unmount]
    mounted = {m.get("name") for m in current}
    for name in [*volume_removals, *generated]:
        if name in mounted and any(v.get("name") == name for v in vols):
            raise _bad("volume", f"The volume {_q(name)} cannot be removed because it is mounted")
        vols = [v for v in vols if v.get("name") != name]
    _put(container, "volumeMounts", current)
    _put(spec, "volumes", vols)


def _set_source(volume: dict[str, Any], info: VolumeSource) -> None:
    """kn's ``updateVolume`` on an existing volume: a cm replaces a secret and the reverse."""
    if info.type in (CONFIG_MAP, SECRET):
        volume.pop(CONFIG_MAP, None)
        volume.pop(SECRET, None)
    volume.update(info.volume())


def _put(target: dict[str, Any], key: str, items: list[Any]) -> None:
    if items:
        target[key] = items
    else:
        target.pop(key, None)
