"""``metadata.managedFields`` as kube-apiserver keeps them (apimachinery ``util/managedfields``).

Each entry names a manager and an operation, with the fields it owns in ``FieldsV1``::

    - manager: kubectl            # the fieldManager query parameter, else the User-Agent's
      operation: Apply            #   product (kubectl/v1.37.0 ... -> kubectl)
      apiVersion: serving.knative.dev/v1
      time: "2025-01-01T00:00:00Z"
      fieldsType: FieldsV1
      fieldsV1: {f:spec: {f:template: ...}}
      subresource: status         # for writes to a subresource

A manager is one entry per (name, operation, subresource) for ``Apply`` and per (name, operation,
apiVersion, subresource) for ``Update``; entries are sorted by operation, time, manager, version,
subresource. :func:`update` and :func:`apply` run the chain kube-apiserver's ``FieldManager`` runs:

- a write that sets ``managedFields`` itself replaces them (``[]`` or ``[{}]`` clears them), unless
  they do not decode: then the stored ones count (a client that does not know them cannot drop
  them); a subresource write always starts from the stored ones;
- an update of an object with no managed fields is not tracked (objects made before tracking);
  a create is;
- an apply to such an object first gives every field it has to ``before-first-apply`` (Update);
- ``apiVersion``, ``kind``, ``metadata.name`` and the other fields the server sets are never owned;
- an entry's ``time`` moves only when its fields changed; past ten ``Update`` managers, the oldest
  merge into ``ancient-changes``;
- for the manager ``kubectl`` (``apply --server-side``): conflicts on fields whose value is still the
  one in ``kubectl.kubernetes.io/last-applied-configuration`` are forced (the same user moving from
  client-side apply), and that annotation, when present, is rewritten to the applied configuration.

Conflicts render as kube-apiserver's 409: ``Apply failed with 1 conflict: conflict with
"kubectl-client-side-apply" using serving.knative.dev/v1: .spec.template.spec.containers``. PURE.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Final

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.api.ssa import typed
from zeroserve.api.ssa.fieldpath import (
    FieldsError,
    FieldSet,
    from_fields_v1,
    go_json,
    go_quote,
    path_string,
    to_fields_v1,
)
from zeroserve.api.ssa.fieldpath import field as f
from zeroserve.api.ssa.typeschema import Type, kind_type
from zeroserve.api.ssa.updater import Conflict, Conflicts, Updater, VersionedSet

APPLY: Final = "Apply"
UPDATE: Final = "Update"
FIELDS_V1: Final = "FieldsV1"
BEFORE_FIRST_APPLY: Final = "before-first-apply"
ANCIENT_CHANGES: Final = "ancient-changes"
MAX_UPDATE_MANAGERS: Final = 10
KUBECTL: Final = "kubectl"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"

STRIPPED: Final = FieldSet.of(
    (f("apiVersion"),),
    (f("kind"),),
    (f("metadata"),),
    *(
        (f("metadata"), f(name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ),
)
"""Fields the server sets: nobody owns them (``stripMetaManager``)."""


class ManagedFieldsError(ValueError):
    """Managed fields that do not decode, or an applied configuration the schema does not describe."""


@dataclass(frozen=True, order=True)
class Manager:
    """A manager's identity: its name, operation, subresource and, for Update, API version."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    def identifier(self) -> str:
        """apimachinery's ``BuildManagerIdentifier``: the entry's JSON without time and fields."""
        entry: dict[str, str] = {"manager": self.manager, "operation": self.operation}
        if self.api_version:
            entry["apiVersion"] = self.api_version
        if self.subresource:
            entry["subresource"] = self.subresource
        return go_json(entry, sort_keys=False)

    def describe(self) -> str:
        """As a conflict names it: ``"kubectl-client-side-apply" using serving.knative.dev/v1``."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


_CURRENT: Final = Manager("current-operation", UPDATE)


@dataclass
class Managed:
    fields: dict[Manager, VersionedSet] = field(default_factory=dict)
    times: dict[Manager, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """What the field manager needs to know of one endpoint: the kind's type and API version, and
    the fields a write there resets (``status`` for the main resource of a kind with a status
    subresource, ``spec`` for the status subresource)."""

    typ: Type
    api_version: str
    kind: str
    subresource: str = ""
    reset: FieldSet | None = None


@cache
def scope_of(kind: Kind, subresource: str = "") -> Scope:
    """The field manager of ``kind``'s main resource or of its ``status`` subresource: each ignores
    what the other owns (the strategies' reset fields)."""
    reset: FieldSet | None = None
    if subresource == "status":
        reset = FieldSet.of((f("spec"),))
    elif "status" in kind.subresources:
        reset = FieldSet.of((f("status"),))
    return Scope(kind_type(kind), kind.api_version, kind.kind, subresource, reset)


class ApplyConflict(Exception):
    """kube-apiserver's 409 for an apply that conflicts: :attr:`message` and :attr:`causes`."""

    def __init__(self, conflicts: list[Conflict[Manager]]) -> None:
        self.conflicts = sorted(conflicts, key=lambda c: c.manager.identifier())
        self.message = _conflict_message(self.conflicts)
        super().__init__(self.message)

    @property
    def causes(self) -> list[Obj]:
        return [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {c.manager.describe()}",
                "field": path_string(c.path),
            }
            for c in self.conflicts
        ]


def _conflict_message(conflicts: list[Conflict[Manager]]) -> str:
    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {c.manager.describe()}: {path_string(c.path)}"
    by_manager: dict[Manager, list[str]] = {}
    for c in conflicts:
        by_manager.setdefault(c.manager, []).append(path_string(c.path))
    lines = []
    for manager in sorted(by_manager, key=Manager.identifier):
        lines.append(f"conflicts with {manager.describe()}:")
        lines.extend(f"- {p}" for p in by_manager[manager])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


# ---- entries -----------------------------------------------------------------------------------


def decode(entries: Any) -> Managed:
    """The managers of a ``managedFields`` list; ManagedFieldsError when it is not one."""
    out = Managed()
    if entries is None:
        return out
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for i, entry in enumerate(entries):
        manager = _manager_of(i, entry)
        try:
            owned = from_fields_v1(entry.get("fieldsV1") or {})
        except FieldsError as e:
            raise ManagedFieldsError(f"error decoding set of managed fields entry {i}: {e}") from None
        out.fields[manager] = VersionedSet(owned, entry["apiVersion"], manager.operation == APPLY)
        time = entry.get("time")
        if isinstance(time, str) and time:
            out.times[manager] = time
        else:
            out.times.pop(manager, None)
    return out


def _manager_of(i: int, entry: Any) -> Manager:
    """Entry ``i``'s manager (ManagedFieldsError when the entry is not one), its fields unread."""
    if not isinstance(entry, dict):
        raise ManagedFieldsError(f"managed fields entry {i} must be an object")
    operation = entry.get("operation")
    if operation not in (APPLY, UPDATE):
        raise ManagedFieldsError("operation must be `Apply` or `Update`")
    version = entry.get("apiVersion")
    if not isinstance(version, str) or not version:
        raise ManagedFieldsError("apiVersion must not be empty")
    fields_type = entry.get("fieldsType") or ""
    if fields_type != FIELDS_V1:
        what = "missing fieldsType" if not fields_type else f"invalid fieldsType {json.dumps(fields_type)}"
        raise ManagedFieldsError(f"{what} in managed fields entry {i}")
    return Manager(
        str(entry.get("manager") or ""),
        operation,
        version if operation == UPDATE else "",
        str(entry.get("subresource") or ""),
    )


def _seconds(time: str | None) -> float:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode(managed: Managed, verbatim: Sequence[Obj] = ()) -> list[Obj] | None:
    """The ``managedFields`` list (None when no manager is left: the field goes), with the
    ``verbatim`` entries a write left as they were."""
    if not managed.fields and not verbatim:
        return None
    entries: list[Obj] = [{k: e[k] for k in _ENTRY_ORDER if k in e} for e in verbatim]
    for manager, owned in managed.fields.items():
        entry: Obj = {
            "manager": manager.manager,
            "operation": APPLY if owned.applied else UPDATE,
            "apiVersion": owned.api_version,
        }
        time = managed.times.get(manager)
        if time:
            entry["time"] = time
        entry["fieldsType"] = FIELDS_V1
        entry["fieldsV1"] = to_fields_v1(owned.set)
        if manager.subresource:
            entry["subresource"] = manager.subresource
        entries.append(entry)
    entries.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e["manager"],
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return entries


def _reset_requested(entries: Any) -> bool:
    """``managedFields: []`` or ``[{}]`` in a write: clear them."""
    return isinstance(entries, list) and (not entries or entries == [{}])


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return decode(entries)
    except ManagedFieldsError:
        return Managed()


def _with_fields(obj: Obj, managed: Managed, verbatim: Sequence[Obj] = ()) -> Obj:
    out = dict(obj)
    meta = dict(_meta(obj))
    encoded = encode(managed, verbatim)
    if encoded is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = encoded
    out["metadata"] = meta
    return out


def _without_fields(obj: Obj) -> Obj:
    if "managedFields" not in _meta(obj):
        return obj
    meta = {k: v for k, v in _meta(obj).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


# ---- the chain ---------------------------------------------------------------------------------


def _strip(managed: dict[Manager, VersionedSet], manager: Manager) -> None:
    owned = managed.get(manager)
    if owned is None:
        return
    rest = owned.set.difference(STRIPPED)
    if rest.empty():
        del managed[manager]
    else:
        managed[manager] = VersionedSet(rest, owned.api_version, owned.applied)


def _track_update(scope: Scope, live: Obj, new: Obj, managed: Managed, name: str, now: str) -> Managed:
    """An update by ``name`` (buildManagerInfo, managedFieldsUpdater, stripMeta, capManagers)."""
    manager = Manager(name or "unknown", UPDATE, scope.api_version, scope.subresource)
    updater: Updater[Manager] = Updater(scope.typ, scope.reset)
    live, new = _differing(live, new)
    fields = updater.update(live, new, scope.api_version, dict(managed.fields), _CURRENT)
    _strip(fields, _CURRENT)
    times = dict(managed.times)
    current = fields.pop(_CURRENT, None)
    if current is not None:
        previous = fields.get(manager)
        owned = current.set.union(previous.set) if previous is not None else current.set
        fields[manager] = VersionedSet(owned, current.api_version, False)
        times[manager] = now
    return _cap(Managed(fields, times))


def _track_create(scope: Scope, new: Obj, name: str, now: str) -> Managed:
    """What :func:`_track_update` gives for a create that names no managers: ``name`` owns every field
    of ``new`` (the compare of nothing with ``new`` adds them all, the parents a struct names included),
    less what the endpoint resets and the stripped fields; in half the time (the controller creates
    a dozen objects per Service, Events most of them)."""
    owned = typed.ensure_named_fields(scope.typ, typed.to_field_set(scope.typ, new))
    if scope.reset is not None:
        owned = owned.recursive_difference(scope.reset)
    owned = owned.difference(STRIPPED)
    if owned.empty():
        return Managed()
    manager = Manager(name or "unknown", UPDATE, scope.api_version, scope.subresource)
    return Managed({manager: VersionedSet(owned, scope.api_version, False)}, {manager: now})


def _differing(live: Obj, new: Obj) -> tuple[Obj, Obj]:
    """``live`` and ``new`` without the top-level fields they have equal: an equal subtree adds,
    modifies and removes nothing, so the comparison gives the same sets without walking it (a
    status write compares only the status, not the spec and metadata it leaves as they were)."""
    same = [k for k, v in live.items() if k in new and new[k] == v]
    if not same:
        return live, new
    return {k: v for k, v in live.items() if k not in same}, {k: v for k, v in new.items() if k not in same}


def _cap(managed: Managed) -> Managed:
    """Past :data:`MAX_UPDATE_MANAGERS` Update managers, the oldest merge into ``ancient-changes``."""
    updaters = [m for m, vs in managed.fields.items() if not vs.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    updaters.sort(key=lambda m: (_seconds(managed.times.get(m)), m.identifier()))
    fields, times = dict(managed.fields), dict(managed.times)
    first_of_version: dict[str, Manager] = {}
    length = len(updaters)
    for manager in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        owned = fields[manager]
        bucket = Manager(ANCIENT_CHANGES, UPDATE, owned.api_version)
        first = first_of_version.get(owned.api_version)
        if first is None:
            first_of_version[owned.api_version] = manager
            continue
        if bucket not in fields:
            fields[bucket] = fields.pop(first)
        fields[bucket] = VersionedSet(owned.set.union(fields[bucket].set), owned.api_version, owned.applied)
        del fields[manager]
        length -= 1
        time = times.get(manager)
        if time is not None:
            times[bucket] = time
        else:
            times.pop(bucket, None)
    return Managed(fields, times)


def update(scope: Scope, live: Obj | None, new: Obj, manager: str, now: str) -> Obj:
    """``new`` (a create when ``live`` is None, else a replacement of ``live``) with the managed
    fields kube-apiserver would store (``FieldManager.UpdateNoErrors``: on any failure, the stored
    ones are kept)."""
    live_obj = live or {}
    try:
        stored = _meta(live_obj).get("managedFields")
        requested = None if scope.subresource else _meta(new).get("managedFields")
        plain_new = _without_fields(new)
        live_part, new_part = _without_fields(live_obj), plain_new
        verbatim: list[Obj] = []
        if not scope.subresource and _reset_requested(requested):
            managed = Managed()
        else:
            managed = _decode_or_empty(requested)
            if not managed.fields:
                mine = Manager(manager or "unknown", UPDATE, scope.api_version, scope.subresource)
                live_part, new_part = _differing(live_part, new_part)  # only the top-level fields it changes
                changing, verbatim = _untouched(stored, live_part.keys() | new_part.keys(), mine)
                try:
                    managed = decode(changing)
                except ManagedFieldsError:  # as if none decoded
                    managed, verbatim = Managed(), []
        if not managed.fields and not verbatim and _meta(live_obj).get("uid"):
            return plain_new  # untracked object: stays untracked
        if live is None and not managed.fields and not verbatim:
            managed = _track_create(scope, new_part, manager, now)
        else:
            managed = _track_update(scope, live_part, new_part, managed, manager, now)
        return _with_fields(plain_new, managed, verbatim)
    except (ValueError, TypeError):
        kept = _meta(live_obj).get("managedFields")
        out = _without_fields(new)
        if kept is not None:
            out = {**out, "metadata": {**_meta(out), "managedFields": kept}}
        return out


def _untouched(entries: Any, touched: Collection[str], mine: Manager) -> tuple[Any, list[Obj]]:
    """Stored ``entries`` split in two: those a write that changes only the top-level fields in
    ``touched`` may change (every one with fields there, and the writer's own), and the rest,
    which it leaves exactly as they were, so they need not be decoded and encoded again (a status
    write reads only the status owners' fields). All of them when they do not all name their
    manager, or past the cap on managers (its merge needs them all): the full path decides."""
    if not isinstance(entries, list) or len(entries) >= MAX_UPDATE_MANAGERS:
        return entries, []
    reach = {f"f:{k}" for k in touched}
    changing: list[Any] = []
    verbatim: list[Obj] = []
    for i, entry in enumerate(entries):
        try:
            manager = _manager_of(i, entry)
        except ManagedFieldsError:
            return entries, []
        fields = entry.get("fieldsV1")
        if manager != mine and isinstance(fields, dict) and reach.isdisjoint(fields):
            verbatim.append(entry)
        else:
            changing.append(entry)
    return changing, verbatim


def apply(scope: Scope, live: Obj | None, config: Obj, manager: str, force: bool, now: str) -> tuple[Obj, bool]:
    """The object after ``manager`` applied ``config`` over ``live`` (None: it does not exist yet)
    and whether it changed. ManagedFieldsError for a configuration the type does not describe,
    ApplyConflict for conflicts."""
    gvk = (config.get("apiVersion"), config.get("kind"))
    if gvk != (scope.api_version, scope.kind):
        raise ManagedFieldsError(f"invalid object type: {_gvk_string(*gvk)}")
    if "managedFields" in _meta(config):
        raise ManagedFieldsError("metadata.managedFields must be nil")
    try:
        typed.validate(scope.typ, config)
    except typed.TypedError as e:
        raise ManagedFieldsError(f"failed to create typed patch object ({_describe(config, scope)}): {e}") from None
    live_obj = live or {}
    try:
        managed = decode(_meta(live_obj).get("managedFields"))
    except ManagedFieldsError as e:
        raise ManagedFieldsError(f"failed to decode managed fields: {e}") from None
    try:
        obj, managed, changed = _apply(scope, live_obj, config, managed, manager, force, now)
    except Conflicts as c:
        if manager != KUBECTL:
            raise ApplyConflict(c.conflicts) from None
        allowed = _allowed_by_last_applied(scope, live_obj)
        left = [x for x in c.conflicts if allowed is None or not allowed.has(x.path)]
        if left:
            raise ApplyConflict(left) from None
        obj, managed, changed = _apply(scope, live_obj, config, managed, manager, True, now)
    if manager == KUBECTL and (_meta(obj).get("annotations") or {}).get(LAST_APPLIED):
        before = obj
        obj = copy.deepcopy(obj)
        obj["metadata"]["annotations"][LAST_APPLIED] = _last_applied(config)
        changed = changed or obj != before
    return _with_fields(obj, managed), changed


def _apply(
    scope: Scope, live: Obj, config: Obj, managed: Managed, name: str, force: bool, now: str
) -> tuple[Obj, Managed, bool]:
    live = _without_fields(live)
    if not managed.fields and live:
        empty = {"apiVersion": scope.api_version, "kind": scope.kind}
        managed = _track_update(scope, empty, live, managed, BEFORE_FIRST_APPLY, now)
    manager = Manager(name, APPLY, "", scope.subresource)
    updater: Updater[Manager] = Updater(scope.typ, scope.reset)
    merged, fields = updater.apply(live, config, scope.api_version, dict(managed.fields), manager, force)
    _strip(fields, manager)
    times = dict(managed.times)
    if merged is typed.ABSENT:
        return copy.deepcopy(live), Managed(fields, times), False
    times[manager] = now
    return merged if isinstance(merged, dict) else {}, Managed(fields, times), True


def _allowed_by_last_applied(scope: Scope, live: Obj) -> FieldSet | None:
    """The fields of the last-applied configuration whose values the object still has: conflicts
    there are the same user's (``lastAppliedManager``); None when there is no usable annotation."""
    text = (_meta(live).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
        if not isinstance(last, dict) or last.get("apiVersion") != scope.api_version:
            return None
        typed.validate(scope.typ, last)
        owned = typed.to_field_set(scope.typ, last)
        diff = typed.compare(scope.typ, last, _without_fields(live))
    except (ValueError, TypeError):
        return None
    return owned.difference(diff.modified).difference(diff.added).difference(diff.removed)


def _last_applied(config: Obj) -> str:
    """The annotation's value for ``config`` (``buildLastApplied``: without the annotation itself,
    JSON as Go's encoder writes it, newline and all)."""
    out = copy.deepcopy(config)
    annotations = _meta(out).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    return go_json(out) + "\n"


def restore_times(new: Obj, old: Obj) -> Obj:
    """kube-apiserver's ``IgnoreManagedFieldsTimestampsTransformer``: a write whose only change is
    the ``time`` of managedFields entries (an apply of what a webhook then defaults back) keeps the
    old times, so it changes nothing at all."""
    now, before = _meta(new).get("managedFields"), _meta(old).get("managedFields")
    if not isinstance(now, list) or not isinstance(before, list) or not now or len(now) != len(before):
        return new
    pairs = list(zip(now, before, strict=True))
    if not all(isinstance(a, dict) and isinstance(b, dict) for a, b in pairs):
        return new
    if all(a.get("time") == b.get("time") for a, b in pairs):
        return new
    if any(_untimed(a) != _untimed(b) for a, b in pairs) or _without_fields(new) != _without_fields(old):
        return new
    restored = [{**_untimed(a), **({"time": b["time"]} if "time" in b else {})} for a, b in pairs]
    restored = [{k: e[k] for k in (*_ENTRY_ORDER, *e) if k in e} for e in restored]
    return {**new, "metadata": {**_meta(new), "managedFields": restored}}


_ENTRY_ORDER: Final = ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")


def _untimed(entry: Obj) -> Obj:
    return {k: v for k, v in entry.items() if k != "time"}


def _gvk_string(api_version: Any, kind: Any) -> str:
    """``GroupVersionKind.String()``: ``serving.knative.dev/v1, Kind=Service``, ``/v1, Kind=ConfigMap``."""
    version = api_version if isinstance(api_version, str) else ""
    group, _, ver = version.rpartition("/")
    return f"{group}/{ver}, Kind={kind if isinstance(kind, str) else ''}"


def _describe(config: Obj, scope: Scope) -> str:
    meta = _meta(config)
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}; {_gvk_string(scope.api_version, scope.kind)}"
