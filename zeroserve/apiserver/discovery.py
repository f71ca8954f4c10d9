"""Discovery documents (``/api``, ``/apis``, ``/apis/GROUP/VERSION``, ``/version``), built from Kinds.

kubectl and client libraries read these to map ``ksvc`` to ``services.serving.knative.dev`` and to
learn which verbs a resource supports; every Kind given to the server is listed, with no table to
keep in sync: the core kinds (group ``""``) at ``/api/v1``, the others under ``/apis``. Besides the
Kinds, the server lists the :data:`BUILTIN` resources it serves without a store: the
authorization and authentication reviews (``kubectl auth can-i``, ``kubectl auth whoami``). A
read-only Kind (core ``services``) lists only ``get``, ``list`` and ``watch``.

Two formats, chosen by the Accept header as kube-apiserver chooses: the legacy documents
(``APIVersions``, ``APIGroupList``, one ``APIResourceList`` per group version), and aggregated
discovery (``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``: every group, version and resource
of ``/api`` or ``/apis`` in one answer), which kubectl asks for first. Shapes as
``k8s.io/api/apidiscovery/v2/types.go`` and client-go's ``discovery_client.go``.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from zeroserve import __version__
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind

VERBS: Final = ("create", "delete", "get", "list", "patch", "update", "watch")
READ_VERBS: Final = ("get", "list", "watch")
STATUS_VERBS: Final = ("get", "patch", "update")
SUBRESOURCE_VERBS: Final = {"status": STATUS_VERBS, "finalize": ("update",)}
KUBE_VERSION: Final = (1, 31)

AGGREGATED_GROUP: Final = "apidiscovery.k8s.io"
AGGREGATED_VERSION: Final = "v2"
AGGREGATED_KIND: Final = "APIGroupDiscoveryList"
AGGREGATED_CONTENT_TYPE: Final = f"application/json;g={AGGREGATED_GROUP};v={AGGREGATED_VERSION};as={AGGREGATED_KIND}"


@dataclass(frozen=True)
class Resource:
    """One resource as discovery lists it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...] = VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``(name, verbs)`` of each subresource."""

    @classmethod
    def of(cls, kind: Kind) -> Resource:
        subs = tuple((sub, SUBRESOURCE_VERBS.get(sub, STATUS_VERBS)) for sub in kind.subresources)
        return cls(
            kind.group,
            kind.version,
            kind.kind,
            kind.plural,
            kind.singular,
            kind.namespaced,
            READ_VERBS if kind.read_only else VERBS,
            kind.short_names,
            kind.categories,
            subs,
        )


def _review(group: str, kind: str) -> Resource:
    return Resource(group, "v1", kind, f"{kind.lower()}s", kind.lower(), False, ("create",))


BUILTIN: Final = (
    _review("authorization.k8s.io", "SelfSubjectAccessReview"),
    _review("authorization.k8s.io", "SelfSubjectRulesReview"),
    _review("authentication.k8s.io", "SelfSubjectReview"),
)
"""Served by :mod:`zeroserve.apiserver.reviews`, not by the store: the reviews (create only)."""


def resources(kinds: Iterable[Kind], builtin: Sequence[Resource] = BUILTIN) -> tuple[Resource, ...]:
    """What discovery lists: ``kinds``, then the builtin resources of groups/versions they lack."""
    served = [Resource.of(k) for k in kinds]
    taken = {(r.group, r.version, r.plural) for r in served}
    return (*served, *(r for r in builtin if (r.group, r.version, r.plural) not in taken))


# -- legacy discovery ----------------------------------------------------------------------------


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def core_resources(served: Sequence[Resource]) -> Obj:
    """``/api/v1``: the core kinds (ConfigMap, Secret, Namespace, ...), as ``/apis/GROUP/VERSION`` lists its own."""
    doc = api_resource_list(served, "", "v1")
    if doc is None:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": []}
    return doc


_KUBE_VERSION: Final = re.compile(r"v([0-9]+)(?:(alpha|beta)([0-9]+))?")


def version_priority(version: str) -> tuple[int, int, int, int, str]:
    """A sort key putting versions in apimachinery's ``CompareKubeAwareVersionStrings`` order, highest
    first: GA, then beta, then alpha, each by major then minor number (``v1``, ``v1beta3``,
    ``v1beta2``, ``v1alpha1``); other names after, in string order."""
    m = _KUBE_VERSION.fullmatch(version)
    if m is None:
        return (1, 0, 0, 0, version)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (0, rank, -int(m.group(1)), -int(m.group(3) or 0), "")


def _group_versions(served: Sequence[Resource], group: str) -> list[str]:
    """A group's versions in kube-apiserver's order (apiextensions' ``sortGroupDiscoveryByKubeAwareVersion``);
    the first is the group's preferred version."""
    return sorted(dict.fromkeys(r.version for r in served if r.group == group), key=version_priority)


def api_group(served: Sequence[Resource], group: str) -> Obj | None:
    versions = _group_versions(served, group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(served: Sequence[Resource]) -> Obj:
    groups = [api_group(served, g) for g in dict.fromkeys(r.group for r in served if r.group)]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g is not None]}


def api_resource_list(served: Sequence[Resource], group: str, version: str) -> Obj | None:
    listed = [r for r in served if (r.group, r.version) == (group, version)]
    if not listed:
        return None
    out: list[Obj] = []
    for r in listed:
        main: Obj = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            main["shortNames"] = list(r.short_names)
        if r.categories:
            main["categories"] = list(r.categories)
        out.append(main)
        for sub, verbs in r.subresources:
            out.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": list(verbs),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


# -- aggregated discovery ------------------------------------------------------------------------


def wants_aggregated(accept: str | None) -> bool:
    """Whether ``accept`` lists ``APIGroupDiscoveryList`` v2 before plain JSON (kube-apiserver
    serves the first acceptable type; extra parameters such as ``profile=nopeer`` are ignored)."""
    for media_range in (accept or "").split(","):
        parts = [p.strip() for p in media_range.split(";")]
        media = parts[0].lower()
        params = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in parts[1:])}
        params.pop("q", None)
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if (params.get("g"), params.get("v"), params.get("as")) == (
            AGGREGATED_GROUP,
            AGGREGATED_VERSION,
            AGGREGATED_KIND,
        ):
            return True
        if "as" not in params:
            return False
    return False


def aggregated(served: Sequence[Resource], *, core: bool) -> Obj:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``: the group ``""``) or ``/apis``."""
    groups = [g for g in dict.fromkeys(r.group for r in served) if (g == "") == core]
    items: list[Obj] = []
    for group in groups:
        versions = [
            {
                "version": v,
                "resources": [_aggregated_resource(r) for r in served if (r.group, r.version) == (group, v)],
                "freshness": "Current",
            }
            for v in _group_versions(served, group)
        ]
        items.append({"metadata": {"name": group} if group else {}, "versions": versions})
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{AGGREGATED_GROUP}/{AGGREGATED_VERSION}",
        "metadata": {},
        "items": items,
    }


def _aggregated_resource(r: Resource) -> Obj:
    gvk = {"group": r.group, "version": r.version, "kind": r.kind}
    doc: Obj = {
        "resource": r.plural,
        "responseKind": gvk,
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        doc["shortNames"] = list(r.short_names)
    if r.categories:
        doc["categories"] = list(r.categories)
    if r.subresources:
        doc["subresources"] = [
            {"subresource": sub, "responseKind": gvk, "verbs": list(verbs)} for sub, verbs in r.subresources
        ]
    return doc


def version_info() -> Obj:
    major, minor = KUBE_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0+zeroserve.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }
