"""Who owns what after a write (structured-merge-diff's ``merge.Updater``).

``managers`` maps a manager to the fields it owns (a :class:`VersionedSet`: the set, the API
version it was recorded at, and whether it came from an apply).

- :meth:`Updater.update` (a create, update or non-apply patch): the writer takes every field it
  added or changed; a field it changed is taken from its other owners; a removed field is dropped
  from everyone.
- :meth:`Updater.apply`: the object is the live one merged with the applied configuration; the
  applier owns exactly the fields of its configuration; a field it applied last time and no longer
  applies is removed from the object unless another manager owns it (pruning); a field it changes
  that another manager owns is a conflict (:class:`Conflicts`) unless ``force``, which takes it.
  Applying the value a field already has makes the applier a co-owner, never a conflict.

``ignored`` fields (what a write to this endpoint resets: ``status`` on the main resource) are
never owned or compared. PURE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from zeroserve.api.ssa import typed
from zeroserve.api.ssa.fieldpath import FieldSet, Path, path_string
from zeroserve.api.ssa.typeschema import Type

M = TypeVar("M")
"""How a manager is identified (a name in tests, a Manager record in the API server)."""


@dataclass(frozen=True)
class VersionedSet:
    set: FieldSet
    api_version: str
    applied: bool


@dataclass(frozen=True)
class Conflict(Generic[M]):
    manager: M
    path: Path

    def __str__(self) -> str:
        return f"conflict with {self.manager!r}: {path_string(self.path)}"


class Conflicts(Exception, Generic[M]):
    """An apply changed fields other managers own; one :class:`Conflict` per (manager, field)."""

    def __init__(self, conflicts: list[Conflict[M]]) -> None:
        super().__init__("; ".join(str(c) for c in conflicts))
        self.conflicts = conflicts


Managers = dict[M, VersionedSet]


class Updater(Generic[M]):
    def __init__(self, typ: Type, ignored: FieldSet | None = None) -> None:
        self.typ = typ
        self.ignored = ignored

    def _filter(self, s: FieldSet) -> FieldSet:
        return s.recursive_difference(self.ignored) if self.ignored is not None else s

    def _update(
        self, old: Any, new: Any, version: str, managers: Managers[M], workflow: M | None, force: bool
    ) -> tuple[Managers[M], typed.Comparison]:
        diff = typed.compare(self.typ, old, new).excluding(self.ignored)
        changed = diff.modified.union(diff.added)
        conflicts: dict[M, FieldSet] = {}
        for manager, owned in managers.items():
            if manager == workflow:
                continue
            taken = owned.set.intersection(changed)
            if not taken.empty():
                conflicts[manager] = taken
        if conflicts and not force:
            raise Conflicts([Conflict(m, p) for m, s in conflicts.items() for p in s.paths()])
        out: Managers[M] = {}
        for manager, owned in managers.items():
            kept = owned.set
            if manager in conflicts:
                kept = kept.difference(conflicts[manager])
            if manager != workflow and not diff.removed.empty():
                kept = kept.difference(diff.removed)
            if not kept.empty():
                out[manager] = VersionedSet(kept, owned.api_version, owned.applied)
        return out, diff

    def update(self, live: Any, new: Any, version: str, managers: Managers[M], manager: M) -> Managers[M]:
        """The owners after ``manager`` replaced ``live`` by ``new`` (SMD ``Updater.Update``)."""
        out, diff = self._update(live, new, version, managers, manager, force=True)
        previous = out.get(manager)
        owned = previous.set if previous is not None else FieldSet()
        owned = self._filter(owned.difference(diff.removed).union(diff.modified).union(diff.added))
        out.pop(manager, None)
        if not owned.empty():
            out[manager] = VersionedSet(owned, version, False)
        return out

    def apply(
        self, live: Any, config: Any, version: str, managers: Managers[M], manager: M, force: bool
    ) -> tuple[Any, Managers[M]]:
        """The object and owners after ``manager`` applied ``config`` over ``live`` (SMD
        ``Updater.Apply``); the object is :data:`~zeroserve.api.ssa.typed.ABSENT` when nothing
        changed. Raises :class:`Conflicts` unless ``force``."""
        merged = typed.merge(self.typ, live, config)
        last = managers.get(manager)
        managers = dict(managers)
        managers[manager] = VersionedSet(self._filter(typed.to_field_set(self.typ, config)), version, True)
        merged = self._prune(merged, managers, last)
        out, _ = self._update(live, merged, version, managers, manager, force)
        if typed.equal(_plain(live), _plain(merged)):
            return typed.ABSENT, out
        return merged, out

    def _prune(self, merged: Any, managers: Managers[M], last: VersionedSet | None) -> Any:
        """Remove what the applier applied last time and no longer applies, unless someone owns it."""
        if last is None or last.set.empty():
            return merged
        t = self.typ

        def named(s: FieldSet) -> FieldSet:
            return typed.ensure_named_fields(t, s)

        pruned = typed.remove_items(t, merged, named(last.set))
        owned = FieldSet()
        for vs in managers.values():
            owned = owned.union(vs.set)
        merged_set = named(typed.to_field_set(t, merged))
        pruned = typed.remove_items(
            t, merged, merged_set.difference(named(typed.to_field_set(t, pruned)).union(named(owned)))
        )
        dangling = merged_set.difference(named(typed.to_field_set(t, pruned))).intersection(named(last.set))
        return typed.remove_items(t, merged, dangling)


def _plain(v: Any) -> Any:
    return None if v is typed.ABSENT else v
