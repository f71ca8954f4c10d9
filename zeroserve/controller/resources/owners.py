"""Owner references: who controls a child object (Knative's kmeta.NewControllerRef)."""

from __future__ import annotations

from zeroserve.api.meta import ObjectMeta, OwnerReference

API_VERSION = "serving.knative.dev/v1"


def controller_ref(kind: str, meta: ObjectMeta, api_version: str = API_VERSION) -> OwnerReference:
    return OwnerReference(
        api_version=api_version,
        kind=kind,
        name=meta.name or "",
        uid=meta.uid or "",
        controller=True,
        block_owner_deletion=True,
    )


def controller_of(meta: ObjectMeta) -> OwnerReference | None:
    return next((r for r in meta.owner_references if r.controller), None)


def is_controlled_by(child: ObjectMeta, owner: ObjectMeta) -> bool:
    ref = controller_of(child)
    return ref is not None and ref.uid == owner.uid
