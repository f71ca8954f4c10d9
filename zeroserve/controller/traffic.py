"""Traffic resolution and route URLs (mirrors pkg/reconciler/route/traffic and route/domains).

Pure: a Route's ``spec.traffic`` plus the Configurations and Revisions it names become a
:class:`TrafficConfig`:

* ``targets`` — the routing table per tag: ``""`` is the default route where every target adds
  its percent (entries for the same revision add up); every tagged target also gets its own
  sub-route sending 100 % to its revision, so a 0 % tagged target is reachable only by tag host;
* ``status_traffic`` — ``status.traffic`` (entries kept apart unless tag, revisionName and
  latestRevision all match), with tag URLs;
* ``error`` — the last unroutable target (Knative defers target errors and keeps going so that
  every referenced object is known), with Knative's reason, message and severity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from zeroserve.api import labels
from zeroserve.api.configuration import Configuration
from zeroserve.api.revision import Revision
from zeroserve.api.route import TrafficTarget
from zeroserve.config import DomainConfig, NetworkConfig

CLUSTER_LOCAL_DOMAIN = "svc.cluster.local"
DEFAULT_TARGET = ""
"""The key of the default (untagged) route in :attr:`TrafficConfig.targets`."""

Visibility = Literal["ExternalIP", "ClusterLocal"]


@dataclass(frozen=True)
class RevisionTarget:
    """One resolved traffic entry."""

    revision_name: str
    percent: int
    tag: str | None = None
    configuration_name: str | None = None
    latest_revision: bool = False


@dataclass(frozen=True)
class TargetError:
    """Why a traffic entry cannot be routed (Knative's traffic.TargetError)."""

    reason: str
    message: str
    is_failure: bool
    """True -> AllTrafficAssigned False; False -> Unknown (it may still become routable)."""


@dataclass
class TrafficConfig:
    targets: dict[str, list[RevisionTarget]] = field(default_factory=dict)
    status_traffic: list[TrafficTarget] = field(default_factory=list)
    configurations: set[str] = field(default_factory=set)
    """Every Configuration the spec names (found or not)."""
    revisions: set[str] = field(default_factory=set)
    """Every Revision the route resolves to (the ones to label as routed)."""
    error: TargetError | None = None


def missing(kind: str, name: str) -> TargetError:
    return TargetError(f"{kind}Missing", f"{kind} {_q(name)} referenced in traffic not found.", True)


def _q(s: str) -> str:
    """Go's %q for the plain names we quote."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ready_status(obj: Configuration | Revision) -> str:
    cond = obj.status.get_condition("Ready")
    return cond.status if cond is not None else "Unknown"


def _is_ready(rev: Revision) -> bool:
    cond = rev.status.get_condition("Ready")
    return cond is not None and cond.status == "True" and rev.status.observed_generation == rev.metadata.generation


def _resolve(
    tt: TrafficTarget, configurations: Mapping[str, Configuration], revisions: Mapping[str, Revision], tc: TrafficConfig
) -> tuple[RevisionTarget | None, TargetError | None]:
    percent = tt.percent or 0
    if tt.revision_name:
        rev = revisions.get(tt.revision_name)
        if rev is None:
            return None, missing("Revision", tt.revision_name)
        tc.revisions.add(tt.revision_name)
        if not _is_ready(rev):
            failed = _ready_status(rev) == "False"
            msg = "failed to become ready." if failed else "is not yet ready."
            return None, TargetError("RevisionMissing", f"Revision {_q(tt.revision_name)} {msg}", failed)
        cfg_name = rev.metadata.labels.get(labels.CONFIGURATION)
        return RevisionTarget(tt.revision_name, percent, tt.tag, cfg_name, False), None
    name = tt.configuration_name or ""
    tc.configurations.add(name)
    cfg = configurations.get(name)
    if cfg is None:
        return None, missing("Configuration", name)
    ready_name = cfg.status.latest_ready_revision_name
    if not ready_name:
        failed = _ready_status(cfg) == "False"
        msg = "does not have any ready Revision." if failed else "is waiting for a Revision to become ready."
        return None, TargetError("RevisionMissing", f"Configuration {_q(name)} {msg}", failed)
    if ready_name not in revisions:
        return None, missing("Revision", ready_name)
    tc.revisions.add(ready_name)
    return RevisionTarget(ready_name, percent, tt.tag, name, True), None


def _add_up(entries: Sequence[RevisionTarget]) -> list[RevisionTarget]:
    """Merge entries for the same revision, summing percents (first entry's position kept)."""
    merged: dict[str, RevisionTarget] = {}
    for e in entries:
        prev = merged.get(e.revision_name)
        merged[e.revision_name] = (
            e
            if prev is None
            else RevisionTarget(
                prev.revision_name, prev.percent + e.percent, None, prev.configuration_name, prev.latest_revision
            )
        )
    return [
        RevisionTarget(m.revision_name, m.percent, None, m.configuration_name, m.latest_revision)
        for m in merged.values()
    ]


def build_traffic(
    traffic: Sequence[TrafficTarget],
    configurations: Mapping[str, Configuration],
    revisions: Mapping[str, Revision],
) -> TrafficConfig:
    """Resolve ``traffic`` (a Route's spec.traffic) against the objects found by name."""
    tc = TrafficConfig()
    resolved: list[RevisionTarget] = []
    for tt in traffic:
        target, err = _resolve(tt, configurations, revisions, tc)
        if err is not None:
            tc.error = err
        elif target is not None:
            resolved.append(target)
    if tc.error is not None:
        return tc
    tc.targets[DEFAULT_TARGET] = _add_up(resolved)
    for t in resolved:
        if t.tag:
            tc.targets[t.tag] = [RevisionTarget(t.revision_name, 100, t.tag, t.configuration_name, t.latest_revision)]
    tc.status_traffic = _status_entries(resolved)
    return tc


def _status_entries(resolved: Sequence[RevisionTarget]) -> list[TrafficTarget]:
    out: list[RevisionTarget] = []
    for t in resolved:
        same = next(
            (
                i
                for i, o in enumerate(out)
                if (o.tag, o.revision_name, o.latest_revision) == (t.tag, t.revision_name, t.latest_revision)
            ),
            None,
        )
        if same is None:
            out.append(t)
        else:
            o = out[same]
            out[same] = RevisionTarget(
                o.revision_name, o.percent + t.percent, o.tag, o.configuration_name, o.latest_revision
            )
    return [
        TrafficTarget(tag=t.tag, revision_name=t.revision_name, latest_revision=t.latest_revision, percent=t.percent)
        for t in out
    ]


# --- URLs (route/domains) ------------------------------------------------------------------


def _template(template: str, values: Mapping[str, str]) -> str:
    out = template
    for key, value in values.items():
        for form in (f"{{{{.{key}}}}}", f"{{{{ .{key} }}}}"):
            out = out.replace(form, value)
    return out


def domain_for(route_labels: Mapping[str, str], domains: DomainConfig) -> str:
    """config-domain: the domain whose selector matches the labels, most specific first, ties by name."""
    matching = [(d, sel) for d, sel in domains.domains.items() if all(route_labels.get(k) == v for k, v in sel.items())]
    if not matching:
        return CLUSTER_LOCAL_DOMAIN
    matching.sort(key=lambda item: (-len(item[1]), item[0]))
    return matching[0][0]


def is_cluster_local(route_labels: Mapping[str, str], domains: DomainConfig) -> bool:
    if route_labels.get(labels.VISIBILITY) == labels.VISIBILITY_CLUSTER_LOCAL:
        return True
    return domain_for(route_labels, domains) == CLUSTER_LOCAL_DOMAIN


def cluster_local_host(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.{CLUSTER_LOCAL_DOMAIN}"


def host(
    name: str,
    namespace: str,
    route_labels: Mapping[str, str],
    network: NetworkConfig,
    domains: DomainConfig,
    tag: str = "",
) -> str:
    """The host of the route (or of its ``tag`` sub-route), without scheme or port."""
    sub = _template(network.tag_template, {"Tag": tag, "Name": name}) if tag else name
    if is_cluster_local(route_labels, domains):
        return cluster_local_host(sub, namespace)
    values = {"Name": sub, "Namespace": namespace, "Domain": domain_for(route_labels, domains)}
    return _template(network.domain_template, values)


def url(
    name: str,
    namespace: str,
    route_labels: Mapping[str, str],
    network: NetworkConfig,
    domains: DomainConfig,
    tag: str = "",
) -> str:
    """``http://hello.default.localhost:8080`` (port shown unless 80); cluster-local: no port."""
    h = host(name, namespace, route_labels, network, domains, tag)
    if is_cluster_local(route_labels, domains):
        return f"http://{h}"
    port = "" if network.external_port == 80 else f":{network.external_port}"
    return f"{network.default_external_scheme}://{h}{port}"


def address_url(name: str, namespace: str) -> str:
    return f"http://{cluster_local_host(name, namespace)}"


def with_urls(
    entries: Sequence[TrafficTarget],
    name: str,
    namespace: str,
    route_labels: Mapping[str, str],
    network: NetworkConfig,
    domains: DomainConfig,
) -> list[TrafficTarget]:
    """status.traffic entries with their tag URL set."""
    return [
        e.model_copy(update={"url": url(name, namespace, route_labels, network, domains, e.tag)}) if e.tag else e
        for e in entries
    ]
