"""``--traffic`` / ``--tag`` / ``--untag``: the new ``spec.traffic`` of a Service, as ``kn`` computes it.

Pure (knative/client ``pkg/commands/traffic/compute.go``). Order of precedence: untag, tag
``@latest``, tag other revisions, then (only when ``--traffic`` is given) reset every percent and
set the requested ones. A reference in ``--traffic`` is ``@latest``, an existing tag, or a revision
name; a lone number means ``@latest``. When the percents sum below 100 and exactly one known
revision is not referenced, it gets the rest. Targets left with no tag and 0 % are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zeroserve.api.base import Obj
from zeroserve.errors import ZeroserveError

LATEST = "@latest"


class TrafficError(ZeroserveError):
    """The traffic flags cannot be applied to this Service."""


@dataclass(frozen=True)
class TrafficFlags:
    traffic: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    untags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, traffic: Sequence[str], tags: Sequence[str], untags: Sequence[str]) -> TrafficFlags:
        """Flags as typed: each value may itself be a comma-separated list (kn's StringSlice)."""
        return cls(_split(traffic), _split(tags), _split(untags))

    @property
    def given(self) -> bool:
        return bool(self.traffic or self.tags or self.untags)


@dataclass
class _Target:
    tag: str
    revision: str
    latest: bool
    percent: int

    def wire(self) -> Obj:
        out: Obj = {"tag": self.tag} if self.tag else {}
        if self.latest:
            out["latestRevision"] = True
        else:
            out["revisionName"] = self.revision
            out["latestRevision"] = False
        out["percent"] = self.percent
        return out


def compute(
    service: str,
    traffic: Sequence[Obj],
    flags: TrafficFlags,
    revisions: Sequence[str] = (),
    latest_ready: str = "",
    mutation: bool = False,
) -> list[Obj]:
    """The new ``spec.traffic``. ``revisions`` are the Service's revision names (newest first);
    ``mutation`` is True when the update also stamps a new revision (then ``@latest`` is that one)."""
    targets = [_from_wire(t) for t in traffic] or [_Target("", "", True, 100)]
    percents = _verify(flags, targets, revisions, latest_ready, mutation)
    _untag(targets, flags.untags, service)
    targets = _tag(targets, flags.tags)
    if flags.traffic:
        for t in targets:
            t.percent = 0
        for ref, pct in percents:
            targets = _set_percent(targets, ref, pct)
    return [t.wire() for t in targets if t.tag or t.percent]


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def _pair(text: str) -> tuple[str, str]:
    parts = text.split("=")
    if len(parts) == 1:
        return LATEST, parts[0]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise TrafficError(f"expecting the value format in value1=value2, given {text}")
    return parts[0], parts[1].removesuffix("%")


def _from_wire(t: Obj) -> _Target:
    revision = str(t.get("revisionName") or "")
    latest = bool(t["latestRevision"]) if t.get("latestRevision") is not None else not revision
    return _Target(str(t.get("tag") or ""), revision, latest, int(t.get("percent") or 0))


def _verify(
    flags: TrafficFlags, targets: list[_Target], revisions: Sequence[str], latest_ready: str, mutation: bool
) -> list[tuple[str, int]]:
    latest_tags = [t for t in flags.tags if _pair(t)[0] == LATEST]
    if len(latest_tags) > 1:
        raise TrafficError(f"repetition of identifier {LATEST} is not allowed, use only once with --tag flag")
    percents: list[tuple[str, int]] = []
    for item in flags.traffic:
        ref, value = _pair(item)
        if any(ref == r for r, _ in percents):
            what = f"identifier {LATEST}" if ref == LATEST else f"revision reference {ref}"
            raise TrafficError(f"repetition of {what} is not allowed, use only once with --traffic flag")
        try:
            pct = int(value)
        except ValueError:
            raise TrafficError(f"error converting given {value} to integer value for traffic distribution") from None
        if not 0 <= pct <= 100:
            raise TrafficError(f"invalid value for traffic percent {pct}, expected 0 <= percent <= 100")
        percents.append((ref, pct))
    total = sum(p for _, p in percents)
    if total > 100:
        raise TrafficError(f"given traffic percents sum to {total}, want <=100")
    if percents and total < 100:
        percents.append((_remaining(percents, targets, revisions, latest_ready, mutation, total), 100 - total))
    return percents


def _remaining(
    percents: list[tuple[str, int]],
    targets: list[_Target],
    revisions: Sequence[str],
    latest_ready: str,
    mutation: bool,
    total: int,
) -> str:
    """The one revision the rest of the traffic goes to (kn's auto-allocation)."""
    refs = {r for r, _ in percents}
    tag_of = {t.revision: t.tag for t in targets if t.revision and t.tag}
    if LATEST in refs and not mutation and latest_ready:
        refs.add(latest_ready)
    missing = [r for r in revisions if r not in refs and tag_of.get(r) not in refs]
    if len(missing) != 1:
        reason = (
            "incorrect number of revisions specified. Only 1 revision should be missing"
            if len(missing) > 1 or not revisions
            else "cannot determine the missing revision"
        )
        raise TrafficError(f"unable to allocate the remaining traffic: {100 - total}%. Reason: {reason}")
    return missing[0]


def _untag(targets: list[_Target], untags: Sequence[str], service: str) -> None:
    unknown = []
    for tag in untags:
        hit = next((t for t in targets if t.tag == tag), None)
        if hit is None:
            unknown.append(tag)
        else:
            hit.tag = ""
    if unknown:
        raise TrafficError(f"tag(s) {', '.join(unknown)} not present for any revisions of service {service}")


def _tag(targets: list[_Target], tags: Sequence[str]) -> list[_Target]:
    for item in tags:
        revision, tag = _pair(item)
        if revision == LATEST:
            latest = next((t for t in targets if t.latest), None)
            existing = latest.tag if latest else ""
            if existing == tag:
                continue
            if any(t.tag == tag for t in targets):
                raise TrafficError(
                    f"refusing to overwrite existing tag in service, add flag '--untag {tag}' in command to untag it"
                )
            if existing:
                raise TrafficError(
                    f"tag '{existing}' exists on latest ready revision of service, refusing to overwrite existing tag "
                    f"with '{tag}', add flag '--untag {existing}' in command to untag it"
                )
            if latest is not None:
                latest.tag = tag
            else:
                targets.append(_Target(tag, "", True, 0))
            continue
        if any(t.tag == tag and t.revision == revision for t in targets):
            continue
        if any(t.tag == tag for t in targets):
            raise TrafficError(
                f"refusing to overwrite existing tag in service, add flag '--untag {tag}' in command to untag it"
            )
        untagged = next((t for t in targets if t.revision == revision and not t.latest), None)
        if untagged is not None and not untagged.tag:
            untagged.tag = tag
        else:
            targets.append(_Target(tag, revision, False, 0))
    return targets


def _set_percent(targets: list[_Target], ref: str, pct: int) -> list[_Target]:
    if ref == LATEST:
        hit = next((t for t in targets if t.latest), None)
    else:
        hit = next((t for t in targets if t.tag == ref), None) or next(
            (t for t in targets if t.revision == ref and not t.latest), None
        )
    if hit is not None:
        hit.percent = pct
        return targets
    return [*targets, _Target("", "", True, pct) if ref == LATEST else _Target("", ref, False, pct)]
