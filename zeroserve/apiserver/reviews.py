"""Resources served without a store: the self-subject reviews.

The token's holder is the one admin (:data:`~zeroserve.apiserver.auth.ADMIN_USER`, in
``system:masters`` as kube-apiserver's cluster-admin), so every review says yes:

* ``SelfSubjectAccessReview`` (``authorization.k8s.io/v1``, ``kubectl auth can-i VERB RESOURCE``):
  the request's ``spec`` echoed with ``status.allowed: true``;
* ``SelfSubjectRulesReview`` (``kubectl auth can-i --list``): one rule allowing every verb on every
  resource and every non-resource URL;
* ``SelfSubjectReview`` (``authentication.k8s.io/v1``, ``kubectl auth whoami``): the user.

kubectl sends the reviews as Kubernetes protobuf (:mod:`zeroserve.apiserver.protobuf`), other
clients as JSON. Bad bodies get apimachinery's answers: 400 for what is not an object of the kind, 422 with field
paths for a review without the ``spec`` it needs.
"""

from __future__ import annotations

from typing import Any, Final

from zeroserve.api import wire
from zeroserve.api.base import Obj
from zeroserve.apiserver import protobuf
from zeroserve.apiserver.auth import ADMIN_USER
from zeroserve.apiserver.status import UnsupportedMediaType
from zeroserve.errors import BadRequest, FieldError, Invalid

ADMIN_GROUPS: Final = ("system:masters", "system:authenticated")
ONE_OF: Final = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
ALLOWED_REASON: Final = "zeroserve: the token's holder is the administrator"


def review(kind: str, api_version: str, raw: bytes, content_type: str = "application/json") -> Obj:
    """The answer to a POSTed review of ``kind`` (the request body ``raw``, JSON or, as kubectl
    sends it, Kubernetes protobuf); the answer is JSON, which kubectl accepts too."""
    body = _object(raw, kind, api_version, content_type)
    spec = body.get("spec")
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if kind == "SelfSubjectReview":
        status: Obj = {"userInfo": {"username": ADMIN_USER, "uid": "", "groups": list(ADMIN_GROUPS)}}
        return {"kind": kind, "apiVersion": api_version, "metadata": _created(meta), "status": status}
    if not isinstance(spec, dict):
        raise Invalid([FieldError("Required value", ("spec",))], kind, "")
    if kind == "SelfSubjectAccessReview":
        attrs = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if (attrs[0] is None) == (attrs[1] is None):
            raise Invalid(
                [FieldError(f"Required value: {ONE_OF}", ("spec.resourceAttributes",))],
                kind,
                "",
            )
        status = {"allowed": True, "reason": ALLOWED_REASON}
    else:  # SelfSubjectRulesReview
        status = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    return {"kind": kind, "apiVersion": api_version, "metadata": _created(meta), "spec": spec, "status": status}


def _object(raw: bytes, kind: str, api_version: str, content_type: str) -> dict[str, Any]:
    if content_type == protobuf.CONTENT_TYPE:
        body: Any = protobuf.decode_review(raw)
    elif content_type in ("application/json", ""):
        body = wire.loads(raw) if raw.strip() else None
    else:
        raise UnsupportedMediaType(
            f'the body of the request was in an unknown format "{content_type}" - accepted media types include: '
            f"application/json, {protobuf.CONTENT_TYPE}"
        )
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a {kind} object")
    given = (body.get("apiVersion") or api_version, body.get("kind") or kind)
    if given != (api_version, kind):
        raise BadRequest(
            f"the API version in the data ({given[0]}) or kind ({given[1]}) does not match "
            f"the expected {api_version} {kind}"
        )
    return body


def _created(meta: Any) -> Obj:
    """A review is never stored: its metadata is the request's, no creation time (as Kubernetes')."""
    out: Obj = dict(meta) if isinstance(meta, dict) else {}
    out.setdefault("creationTimestamp", None)
    return out
