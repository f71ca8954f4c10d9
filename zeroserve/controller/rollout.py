"""Gradual rollout of a Configuration's new latest revision (Knative ``pkg/reconciler/route/traffic/rollout.go``).

Pure. With ``serving.knative.dev/rollout-duration`` on the Route (or config-network's
``rollout-duration``), a ``latestRevision`` target does not jump to its new revision: the new one
starts with 1 %, and once the ingress serves that, the rest moves over in equal steps:

* :func:`build_rollout` — the wanted shape now: per (tag, configuration), the latest ready revision
  with the whole percent;
* :meth:`Rollout.observe_ready` — the first 1 % is being served: fix the step size and interval
  (``compute_properties``: at least 1 s a step, at least 1 % a step, ``duration - first step``
  spread over the steps);
* :func:`step` — merge the wanted shape with the previous state: start a rollout (take 1 % from the
  newest revision that has some), move ``step_size`` from the oldest revisions to the newest when
  ``next_step_time`` has come, follow percent changes of the target; returns the state to serve
  and the time of the next step (0: none).

The state is kept between reconciles as JSON (Knative's ``networking.internal.knative.dev/rollout``
annotation, same field names); times are Unix nanoseconds, as in Knative.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

ANNOTATION = "networking.internal.knative.dev/rollout"
"""Where Knative keeps the state (``RolloutAnnotationKey``: "in the Annotations of the Kingress or
Route.Status"); zeroserve has no Ingress object, so it lives in the Route's ``status.annotations``."""
SECOND_NS = 1_000_000_000


@dataclass
class RevisionRollout:
    revision_name: str
    percent: int
    """Share of the whole route's traffic (not of the configuration's)."""


@dataclass
class RolloutParams:
    start_time: int = 0
    """Unix ns when the rollout began (0: no rollout)."""
    next_step_time: int = 0
    step_duration: int = 0
    """ns between steps (0: not known until the first 1 % is served)."""
    step_size: int = 0


@dataclass
class ConfigurationRollout:
    configuration_name: str
    tag: str
    percent: int
    revisions: list[RevisionRollout] = field(default_factory=list)
    """Oldest first; the last one is the one rolled out to."""
    step_params: RolloutParams = field(default_factory=RolloutParams)

    def done(self) -> bool:
        return len(self.revisions) < 2

    def compute_properties(self, now: float, min_step_sec: float, duration_secs: float) -> None:
        """Step count, size and interval once the first 1 % is served (``computeProperties``)."""
        duration_secs = max(1.0, duration_secs - min_step_sec)
        num_steps = max(1.0, duration_secs / min_step_sec)
        rem_percent = float(self.percent - 1)
        if rem_percent < num_steps:
            num_steps = rem_percent
        num_steps = max(num_steps, 1.0)  # a 1 % target has nothing left to move (Go would divide by 0)
        step_duration = duration_secs / num_steps * SECOND_NS
        self.step_params.step_duration = int(step_duration)
        self.step_params.step_size = int(go_round(rem_percent / num_steps))
        self.step_params.next_step_time = int(now + step_duration)


@dataclass
class Rollout:
    configurations: list[ConfigurationRollout] = field(default_factory=list)
    """Sorted by tag, then configuration name."""

    def by_tag(self, tag: str) -> list[ConfigurationRollout]:
        return [c for c in self.configurations if c.tag == tag]

    def find(self, tag: str, configuration: str) -> ConfigurationRollout | None:
        return next((c for c in self.by_tag(tag) if c.configuration_name == configuration), None)

    def done(self) -> bool:
        return all(c.done() for c in self.configurations)

    def validate(self) -> bool:
        """False for a state that cannot be ours (hand-edited): it is then ignored."""
        for c in self.configurations:
            if c.percent > 100 or not 0 <= c.step_params.step_size <= c.percent:
                return False
            if sum(r.percent for r in c.revisions) != c.percent:
                return False
        return True

    def observe_ready(self, now: int, duration_secs: float) -> None:
        """The ingress serves the first 1 %: compute the step parameters of rollouts that lack them."""
        for c in self.configurations:
            if c.step_params.step_duration == 0 and c.step_params.start_time > 0:
                min_step_sec = max(1.0, math.ceil((now - c.step_params.start_time) / SECOND_NS))
                c.compute_properties(float(now), min_step_sec, duration_secs)


def go_round(x: float) -> float:
    """Go's ``math.Round``: half away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def sort_rollout(ro: Rollout) -> None:
    ro.configurations.sort(key=lambda c: (c.tag, c.configuration_name))


@dataclass(frozen=True)
class LatestTarget:
    """A resolved ``latestRevision`` traffic target, as :func:`build_rollout` needs it."""

    tag: str
    configuration_name: str
    revision_name: str
    percent: int


def build_rollout(targets: Iterable[LatestTarget]) -> Rollout:
    """The wanted state (``BuildRollout``): each latest target with a percent, fully on its revision."""
    ro = Rollout(
        [
            ConfigurationRollout(t.configuration_name, t.tag, t.percent, [RevisionRollout(t.revision_name, t.percent)])
            for t in targets
            if t.percent != 0
        ]
    )
    sort_rollout(ro)
    return ro


def _adjust_percentage(goal: int, cr: ConfigurationRollout) -> None:
    """The target's percent changed: the newest revision gets a rise, the oldest give up a fall."""
    diff = goal - cr.percent
    if goal == 0:
        cr.revisions = []
    elif diff > 0:
        cr.revisions[-1].percent += diff
    elif diff < 0:
        diff = -diff
        i = 0
        while diff > 0 and i < len(cr.revisions):
            if cr.revisions[i].percent > diff:
                cr.revisions[i].percent -= diff
                break
            diff -= cr.revisions[i].percent
            i += 1
        cr.revisions = cr.revisions[i:]


def _step_revisions(goal: ConfigurationRollout, now: int) -> None:
    """Move ``step_size`` from the oldest revisions to the newest, if its time has come."""
    if now < goal.step_params.next_step_time or len(goal.revisions) < 2:
        return
    revs = goal.revisions
    remaining = goal.step_params.step_size
    write = len(revs) - 1
    read = len(revs) - 2
    while remaining > 0 and read >= 0:
        if revs[read].percent > remaining:
            revs[read].percent -= remaining
            break
        remaining -= revs[read].percent
        write -= 1
        read -= 1
    revs[write] = revs[-1]
    revs[write].percent = min(revs[write].percent + goal.step_params.step_size, goal.percent)
    goal.revisions = revs[: write + 1]
    if len(goal.revisions) > 1:
        goal.step_params.next_step_time = now + goal.step_params.step_duration
    else:
        goal.step_params = RolloutParams()  # the last step: done


def _step_config(goal: ConfigurationRollout, prev: ConfigurationRollout, now: int) -> ConfigurationRollout:
    ret = ConfigurationRollout(goal.configuration_name, goal.tag, goal.percent, goal.revisions)
    if prev.revisions:
        _adjust_percentage(goal.percent, prev)
    if not prev.revisions or goal.revisions[0].revision_name == prev.revisions[-1].revision_name:
        if len(prev.revisions) > 1:  # a rollout under way: keep stepping it
            ret.revisions = prev.revisions
            ret.step_params = prev.step_params
            if ret.step_params.step_size > 0:
                _step_revisions(ret, now)
        return ret
    log.debug("rollout of %s to %s starts", goal.configuration_name, goal.revisions[0].revision_name)
    ret.step_params.start_time = now
    for r in reversed(prev.revisions):  # the newest revision with traffic gives the new one 1 %
        if r.percent > 0:
            r.percent -= 1
            break
    ret.revisions = [r for r in prev.revisions if r.percent != 0]
    ret.revisions.append(RevisionRollout(goal.revisions[0].revision_name, 1))
    return ret


def step(cur: Rollout, prev: Rollout | None, now: int) -> tuple[Rollout, int]:
    """Merge the wanted state with the previous one (``Rollout.Step``); (state, next step time or 0)."""
    if prev is None or not prev.configurations:
        return cur, 0
    cur, prev = copy.deepcopy(cur), copy.deepcopy(prev)
    cur_by: dict[str, list[ConfigurationRollout]] = {}
    prev_by: dict[str, list[ConfigurationRollout]] = {}
    for c in cur.configurations:
        cur_by.setdefault(c.tag, []).append(c)
    for c in prev.configurations:
        prev_by.setdefault(c.tag, []).append(c)
    out: list[ConfigurationRollout] = []
    next_ts = math.inf
    for tag, ccfgs in cur_by.items():
        pcfgs = prev_by.get(tag)
        if pcfgs is None:  # a new tag: nothing to roll from
            out.append(ccfgs[0])
            continue
        i = j = 0
        while i < len(ccfgs):
            c = ccfgs[i]
            if j >= len(pcfgs):
                out.append(c)
                i += 1
            elif c.configuration_name == pcfgs[j].configuration_name:
                if c.percent > 1:
                    sc = _step_config(c, pcfgs[j], now)
                    out.append(sc)
                    if 0 < sc.step_params.next_step_time < next_ts:
                        next_ts = sc.step_params.next_step_time
                elif c.percent == 1:  # a 1 % A/B target is not rolled
                    out.append(c)
                i += 1
                j += 1
            elif c.configuration_name < pcfgs[j].configuration_name:
                if c.percent != 0:
                    out.append(c)
                i += 1
            else:
                j += 1
    ro = Rollout(out)
    sort_rollout(ro)
    return ro, 0 if next_ts == math.inf else int(next_ts)


# --- the annotation ---------------------------------------------------------------------------


def to_json(ro: Rollout) -> str:
    """Knative's serialization (``omitempty`` fields left out)."""
    configs: list[dict[str, Any]] = []
    for c in ro.configurations:
        item: dict[str, Any] = {"configurationName": c.configuration_name}
        if c.tag:
            item["tag"] = c.tag
        item["percent"] = c.percent
        if c.revisions:
            item["revisions"] = [{"revisionName": r.revision_name, "percent": r.percent} for r in c.revisions]
        p = c.step_params
        params = {"starttime": p.start_time, "nextStepTime": p.next_step_time, "stepDuration": p.step_duration}
        params["stepSize"] = p.step_size
        item["stepParams"] = {k: v for k, v in params.items() if v}
        configs.append(item)
    return json.dumps({"configurations": configs} if configs else {}, separators=(",", ":"))


def from_json(text: str | None) -> Rollout | None:
    """The stored state, or None when absent, corrupt or inconsistent (rollouts are not critical)."""
    if not text:
        return None
    try:
        raw = json.loads(text)
        ro = Rollout(
            [
                ConfigurationRollout(
                    configuration_name=str(c["configurationName"]),
                    tag=str(c.get("tag", "")),
                    percent=int(c.get("percent", 0)),
                    revisions=[
                        RevisionRollout(str(r["revisionName"]), int(r["percent"])) for r in c.get("revisions", [])
                    ],
                    step_params=RolloutParams(
                        start_time=int(c.get("stepParams", {}).get("starttime", 0)),
                        next_step_time=int(c.get("stepParams", {}).get("nextStepTime", 0)),
                        step_duration=int(c.get("stepParams", {}).get("stepDuration", 0)),
                        step_size=int(c.get("stepParams", {}).get("stepSize", 0)),
                    ),
                )
                for c in raw.get("configurations", [])
            ]
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("ignoring a rollout state that does not parse: %s", text)
        return None
    if not ro.validate():
        log.warning("ignoring an inconsistent rollout state: %s", text)
        return None
    return ro
