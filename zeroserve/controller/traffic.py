"""Traffic resolution and route URLs (mirrors pkg/reconciler/route/traffic and route/domains).

Pure: a Route's ``spec.traffic`` plus the Configurations and Revisions it names become a
:class:`TrafficConfig`:

* ``targets`` — the routing table per tag: ``""`` is the default route where every target adds
  its percent (entries for the same revision add up); every tagged target also gets its own
  sub-route sending 100 % to its revision, so a 0 % tagged target is reachable only by tag host;
* ``revision_targets`` — what ``status.traffic`` lists (entries kept apart unless tag,
  revisionName and latestRevision all match);
* ``error`` — why a target is unroutable: the first such target's error unless a later one is a
  failure, which wins (Knative defers target errors and keeps going so that every referenced object
  is known), with Knative's reason, message and severity.

A gradual rollout (:mod:`zeroserve.controller.rollout`) splits a ``latestRevision`` target over
the revisions it moves between: :func:`latest_targets` feed it, :func:`with_rollout` and
:func:`status_traffic` apply it to the routing table and to ``status.traffic``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from zeroserve.api import labels, names
from zeroserve.api.configuration import Configuration
from zeroserve.api.revision import Revision
from zeroserve.api.route import TrafficTarget
from zeroserve.config import DomainConfig, NetworkConfig, templates
from zeroserve.config.gotemplate import Struct, TemplateError, quote
from zeroserve.controller import rollout

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
    revision_targets: list[RevisionTarget] = field(default_factory=list)
    """The targets at the revision level, for ``status.traffic`` (entries merged only when tag,
    revision and latestRevision all match; Knative's ``revisionTargets``)."""
    configurations: set[str] = field(default_factory=set)
    """Every Configuration the spec names (found or not)."""
    revisions: set[str] = field(default_factory=set)
    """Every Revision the spec names or the route resolves to."""
    error: TargetError | None = None

    @property
    def status_traffic(self) -> list[TrafficTarget]:
        """``status.traffic`` without a rollout under way."""
        return status_traffic(self)


def missing(kind: str, name: str) -> TargetError:
    return TargetError(f"{kind}Missing", f"{kind} {_q(name)} referenced in traffic not found.", True)


def not_owned(revision: str, service: str, actual: str) -> TargetError:
    """A Service's Route names a Revision of another Service, or of none (errors.go revisionNotOwnedError)."""
    if not actual:
        message = f"Revision {_q(revision)} does not belong to Service {_q(service)}."
    else:
        message = f"Revision {_q(revision)} belongs to Service {_q(actual)}, not Service {_q(service)}."
    return TargetError("RevisionNotOwned", message, True)


def unready_revision(rev: Revision) -> TargetError:
    failed = _ready_status(rev) == "False"
    msg = "failed to become ready." if failed else "is not yet ready."
    return TargetError("RevisionMissing", f"Revision {_q(rev.metadata.name or '')} {msg}", failed)


def _q(s: str) -> str:
    """Go's %q for the plain names we quote."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ready_status(obj: Configuration | Revision) -> str:
    cond = obj.status.get_condition("Ready")
    return cond.status if cond is not None else "Unknown"


def _is_ready(rev: Revision) -> bool:
    cond = rev.status.get_condition("Ready")
    return cond is not None and cond.status == "True" and rev.status.observed_generation == rev.metadata.generation


def _resolve_revision(
    tt: TrafficTarget, configurations: Mapping[str, Configuration], revisions: Mapping[str, Revision], service: str
) -> tuple[RevisionTarget | None, TargetError | None]:
    """traffic.go addRevisionTarget: found, owned by the route's Service, ready, its Configuration found."""
    name = tt.revision_name or ""
    rev = revisions.get(name)
    if rev is None:
        return None, missing("Revision", name)
    if service:
        actual = rev.metadata.labels.get(labels.SERVICE, "")
        if actual != service:
            return None, not_owned(name, service, actual)
    if not _is_ready(rev):
        return None, unready_revision(rev)
    cfg_name = rev.metadata.labels.get(labels.CONFIGURATION)
    if cfg_name is not None and cfg_name not in configurations:
        return None, missing("Configuration", cfg_name)
    return RevisionTarget(name, tt.percent or 0, tt.tag, cfg_name, False), None


def _resolve_configuration(
    tt: TrafficTarget, configurations: Mapping[str, Configuration], revisions: Mapping[str, Revision]
) -> tuple[RevisionTarget | None, TargetError | None]:
    """traffic.go addConfigurationTarget: found, with a latest ready revision that is still Ready."""
    name = tt.configuration_name or ""
    cfg = configurations.get(name)
    if cfg is None:
        return None, missing("Configuration", name)
    ready_name = cfg.status.latest_ready_revision_name
    if not ready_name:
        failed = _ready_status(cfg) == "False"
        msg = "does not have any ready Revision." if failed else "is waiting for a Revision to become ready."
        return None, TargetError("RevisionMissing", f"Configuration {_q(name)} {msg}", failed)
    rev = revisions.get(ready_name)
    if rev is None:
        return None, missing("Revision", ready_name)
    if not _is_ready(rev):
        return None, unready_revision(rev)
    return RevisionTarget(ready_name, tt.percent or 0, tt.tag, name, True), None


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
    *,
    service: str = "",
) -> TrafficConfig:
    """Resolve ``traffic`` (a Route's spec.traffic) against the objects found by name.

    ``service``: the Route's ``serving.knative.dev/service`` label; such a Route may only name
    Revisions of that Service (traffic.go; standalone Routes may name any Revision).
    """
    tc = TrafficConfig()
    resolved: list[RevisionTarget] = []
    for tt in traffic:
        if tt.revision_name:
            tc.revisions.add(tt.revision_name)
            target, err = _resolve_revision(tt, configurations, revisions, service)
        else:
            tc.configurations.add(tt.configuration_name or "")
            target, err = _resolve_configuration(tt, configurations, revisions)
        if err is not None:
            if tc.error is None or err.is_failure:  # deferTargetError
                tc.error = err
        elif target is not None:
            tc.revisions.add(target.revision_name)
            resolved.append(target)
    if tc.error is not None:
        return tc
    tc.targets[DEFAULT_TARGET] = _add_up(resolved)
    for t in resolved:
        if t.tag:
            tc.targets[t.tag] = [RevisionTarget(t.revision_name, 100, t.tag, t.configuration_name, t.latest_revision)]
    tc.revision_targets = _status_entries(resolved)
    return tc


def _status_entries(resolved: Sequence[RevisionTarget]) -> list[RevisionTarget]:
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
    return out


# --- gradual rollout (route/traffic/traffic.go BuildRollout, GetRevisionTrafficTargets) -----------


def latest_targets(tc: TrafficConfig) -> list[rollout.LatestTarget]:
    """The ``latestRevision`` entries of every (tag's) route, as the rollout builder takes them."""
    return [
        rollout.LatestTarget(tag, t.configuration_name or "", t.revision_name, t.percent)
        for tag, entries in tc.targets.items()
        for t in entries
        if t.latest_revision
    ]


def _rolled(t: RevisionTarget, tag: str, ro: rollout.Rollout | None) -> list[tuple[str, int]]:
    """(revision, percent) pairs a target sends to: the rollout's split for a latest target in one."""
    found = ro.find(tag, t.configuration_name or "") if ro is not None and t.latest_revision else None
    if found is None or found.done():
        return [(t.revision_name, t.percent)]
    return [(r.revision_name, r.percent) for r in found.revisions]


def with_rollout(tc: TrafficConfig, ro: rollout.Rollout) -> TrafficConfig:
    """``tc`` with every latest target split as ``ro`` says (resources/ingress.go makeBaseIngressPath)."""
    targets = {
        tag: [
            RevisionTarget(name, percent, t.tag, t.configuration_name, t.latest_revision)
            for t in entries
            for name, percent in _rolled(t, tag, ro)
        ]
        for tag, entries in tc.targets.items()
    }
    return dataclasses.replace(tc, targets=targets)


def status_traffic(tc: TrafficConfig, ro: rollout.Rollout | None = None) -> list[TrafficTarget]:
    """``status.traffic``: one entry per revision target, a latest one split as ``ro`` says."""
    return [
        TrafficTarget(tag=t.tag, revision_name=name, latest_revision=t.latest_revision, percent=percent)
        for t in tc.revision_targets
        for name, percent in _rolled(t, t.tag or DEFAULT_TARGET, ro)
    ]


# --- URLs (route/domains) ------------------------------------------------------------------


class DomainNameError(ValueError):
    """Knative's ``domains.ErrDomainName``: the Route's host cannot be made from the templates
    (``route.go`` marks AllTrafficAssigned False with reason ``ErrorConfig`` and this message)."""


def _render(kind: str, name: str, text: str, values: Struct) -> str:
    try:
        return templates.render(name, text, values)
    except TemplateError as e:
        raise DomainNameError(f"domain name error: error executing the {kind}: {e}") from None


def fqdn_problem(name: str) -> str:
    """apimachinery ``IsFullyQualifiedDomainName(field.NewPath("url"), name)``, rendered; "" if valid."""
    if not name:
        return "url: Required value"
    name = name.removesuffix(".")
    if errs := names.is_dns1123_subdomain(name):
        return f"url: Invalid value: {quote(name)}: {','.join(errs)}"
    if len(name.split(".")) < 2:
        return f"url: Invalid value: {quote(name)}: should be a domain with at least two segments separated by dots"
    for label in name.split("."):
        if errs := names.is_dns1123_label(label):
            return f"url: Invalid value: {quote(label)}: {','.join(errs)}"
    return ""


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


def hostname(name: str, tag: str, network: NetworkConfig) -> str:
    """route/domains ``HostnameFromTemplate``: the route's name, or ``tag-template`` over Name and
    Tag for a tag's sub-route (also the name of that sub-route's core/v1 Service)."""
    if not tag:
        return name
    return _render("TagTemplate", templates.TAG_TEMPLATE, network.tag_template, templates.tag_values(name, tag))


def host(
    name: str,
    namespace: str,
    route_labels: Mapping[str, str],
    network: NetworkConfig,
    domains: DomainConfig,
    tag: str = "",
    annotations: Mapping[str, str] | None = None,
) -> str:
    """The host of the route (or of its ``tag`` sub-route), without scheme or port.

    route/domains ``HostnameFromTemplate`` (``tag-template`` over Name and Tag) then
    ``DomainNameFromTemplate``: ``domain-template`` (the default one for a cluster-local route) over
    Name, Namespace, Domain, the Route's Annotations and its Labels with the visibility label as
    the route is seen; the result must be a fully qualified domain name. DomainNameError otherwise.
    """
    sub = hostname(name, tag, network)
    local = is_cluster_local(route_labels, domains)
    seen_labels = {k: v for k, v in route_labels.items() if k != labels.VISIBILITY}
    if local:
        seen_labels[labels.VISIBILITY] = labels.VISIBILITY_CLUSTER_LOCAL
    values = templates.domain_values(
        sub, namespace, CLUSTER_LOCAL_DOMAIN if local else domain_for(route_labels, domains), annotations, seen_labels
    )
    text = templates.DEFAULT_DOMAIN_TEMPLATE if local else network.domain_template
    rendered = _render("DomainTemplate", templates.DOMAIN_TEMPLATE, text, values)
    if problem := fqdn_problem(rendered):
        raise DomainNameError(f"domain name error: invalid domain name {quote(rendered)}: {problem}")
    return rendered


def url(
    name: str,
    namespace: str,
    route_labels: Mapping[str, str],
    network: NetworkConfig,
    domains: DomainConfig,
    tag: str = "",
    annotations: Mapping[str, str] | None = None,
) -> str:
    """``http://hello.default.localhost:8080`` (port shown unless 80); cluster-local: no port."""
    h = host(name, namespace, route_labels, network, domains, tag, annotations)
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
    annotations: Mapping[str, str] | None = None,
) -> list[TrafficTarget]:
    """status.traffic entries with their tag URL set."""
    return [
        e.model_copy(update={"url": url(name, namespace, route_labels, network, domains, e.tag, annotations)})
        if e.tag
        else e
        for e in entries
    ]
