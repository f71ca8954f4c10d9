"""Discovery documents (``/api``, ``/apis``, ``/apis/GROUP/VERSION``, ``/version``), built from Kinds.

kubectl and client libraries read these to map ``ksvc`` to ``services.serving.knative.dev`` and to
learn which verbs a resource supports; every Kind given to the server is listed, with no table to
keep in sync: the core kinds (group ``""``) at ``/api/v1``, the others under ``/apis``.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Final

from zeroserve import __version__
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind

VERBS: Final = ["create", "delete", "get", "list", "patch", "update", "watch"]
STATUS_VERBS: Final = ["get", "patch", "update"]
SUBRESOURCE_VERBS: Final = {"status": STATUS_VERBS, "finalize": ["update"]}
KUBE_VERSION: Final = (1, 31)


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def core_resources(kinds: Sequence[Kind]) -> Obj:
    """``/api/v1``: the core kinds (ConfigMap, Secret, Namespace), as ``/apis/GROUP/VERSION`` lists its own."""
    doc = api_resource_list(kinds, "", "v1")
    if doc is None:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": []}
    return doc


def _group_versions(kinds: Sequence[Kind], group: str) -> list[str]:
    return list(dict.fromkeys(k.version for k in kinds if k.group == group))


def api_group(kinds: Sequence[Kind], group: str) -> Obj | None:
    versions = _group_versions(kinds, group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(kinds: Sequence[Kind]) -> Obj:
    groups = [api_group(kinds, g) for g in dict.fromkeys(k.group for k in kinds if k.group)]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g is not None]}


def api_resource_list(kinds: Sequence[Kind], group: str, version: str) -> Obj | None:
    served = [k for k in kinds if (k.group, k.version) == (group, version)]
    if not served:
        return None
    resources: list[Obj] = []
    for k in served:
        main: Obj = {
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": VERBS,
        }
        if k.short_names:
            main["shortNames"] = list(k.short_names)
        if k.categories:
            main["categories"] = list(k.categories)
        resources.append(main)
        for sub in k.subresources:
            resources.append(
                {
                    "name": f"{k.plural}/{sub}",
                    "singularName": "",
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": SUBRESOURCE_VERBS.get(sub, STATUS_VERBS),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


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
