"""DeleteOptions, from a DELETE's query and body, as kube-apiserver reads them (meta/v1 DeleteOptions).

``propagationPolicy`` (``Foreground`` | ``Background`` | ``Orphan``) or the deprecated
``orphanDependents`` (true = Orphan, false = Background; not both), ``preconditions`` (uid and/or
resourceVersion: else 409 Conflict), ``dryRun: ["All"]``. The query's values win over the body's,
as kubectl sends either (``kubectl delete --cascade=foreground`` puts a DeleteOptions body).
``gracePeriodSeconds`` is accepted and has no effect: nothing here has a graceful delete of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from zeroserve.errors import BadRequest
from zeroserve.store.base import Preconditions, Propagation

POLICIES: Final = ("Foreground", "Background", "Orphan")


@dataclass(frozen=True)
class DeleteOptions:
    propagation: Propagation | None = None
    preconditions: Preconditions | None = None
    dry_run: bool = False
    orphan_dependents: bool | None = None
    """Given explicitly (kube-apiserver answers 202 Accepted when false and the object is not gone yet)."""


def parse(query: Mapping[str, str], body: Any, *, dry_run: bool = False) -> DeleteOptions:
    """The options of a DELETE (``body``: the decoded JSON body, None when empty; ``dry_run``: the
    query asked for it, already checked)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a DeleteOptions JSON object")
    policy = query.get("propagationPolicy", body.get("propagationPolicy"))
    orphan = _bool(query["orphanDependents"]) if "orphanDependents" in query else body.get("orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise BadRequest("orphanDependents must be a boolean")
    if policy is not None and orphan is not None:
        raise BadRequest(
            f'DeleteOptions.propagationPolicy: Invalid value: "{policy}": '
            "orphanDependents and deletionPropagation cannot be both set"
        )
    if policy is not None and policy not in POLICIES:
        raise BadRequest(
            f'DeleteOptions.propagationPolicy: Unsupported value: "{policy}": '
            'supported values: "Foreground", "Background", "Orphan"'
        )
    if orphan is not None:
        policy = "Orphan" if orphan else "Background"
    raw_dry = body.get("dryRun") or []
    if not isinstance(raw_dry, list):
        raise BadRequest("dryRun must be a list")
    for value in raw_dry:
        if value != "All":
            raise BadRequest(f'invalid dry run value "{value}": supported values are "All"')
    return DeleteOptions(
        cast(Propagation | None, policy), _preconditions(body.get("preconditions")), dry_run or bool(raw_dry), orphan
    )


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise BadRequest(f'invalid orphanDependents "{value}": want true or false')
    return value == "true"


def _preconditions(raw: Any) -> Preconditions | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest("preconditions must be a JSON object")
    uid, rv = raw.get("uid"), raw.get("resourceVersion")
    for name, value in (("uid", uid), ("resourceVersion", rv)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"preconditions.{name} must be a string")
    return None if uid is None and rv is None else Preconditions(uid, rv)
