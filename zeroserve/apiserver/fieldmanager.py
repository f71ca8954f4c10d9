"""Managed fields and server-side apply at the API edge (kube-apiserver's ``fieldmanager`` wiring).

Every write records who set what in ``metadata.managedFields`` (:mod:`zeroserve.api.ssa`): a POST,
PUT or non-apply PATCH as an ``Update`` by its manager, a write to ``/status`` with
``subresource: status``. The manager is the ``fieldManager`` query parameter, else what the
User-Agent names before its first ``/`` (``kubectl/v1.37.0 (linux/amd64) ...`` is ``kubectl``;
kube-apiserver's ``prefixFromUserAgent``), else ``unknown``.

``PATCH`` with ``Content-Type: application/apply-patch+yaml`` is server-side apply: the body is the
applied configuration (YAML or JSON), ``fieldManager`` is required, ``force=true`` takes the fields
other managers own instead of a 409 ``Conflict`` whose causes are ``FieldManagerConflict`` s (kubectl
prints them), and a missing object is created. ``application/apply-patch+cbor`` is refused (415) as
by a kube-apiserver without its CBOR feature; kubectl 1.37 sends it only with client-go's alpha
``ClientsAllowCBOR`` and ``ClientsPreferCBOR`` gates on. Option errors are kube-apiserver's:
``PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch``.

One difference: an applied configuration the kind's schema does not describe (``.spec.foo: field not
declared in schema``) is a 400 here; kube-apiserver answers the same message with a 500
(kubernetes/kubernetes#122480), which kubectl prints as an internal error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from zeroserve.api import fieldvalidation as fv
from zeroserve.api import loading, wire
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.api.ssa import managedfields
from zeroserve.apiserver.status import status
from zeroserve.apiserver.strict import InvalidOptions
from zeroserve.clock import SystemClock, rfc3339
from zeroserve.errors import ApiError, BadRequest

MAX_MANAGER_LENGTH: Final = 128


class ApplyConflict(ApiError):
    """409 Conflict for an apply that changes fields other managers own; its Status carries one
    ``FieldManagerConflict`` cause per field and no kind or name (apimachinery's ``NewApplyConflict``)."""

    code = 409
    reason = "Conflict"

    def __init__(self, conflict: managedfields.ApplyConflict) -> None:
        super().__init__(conflict.message)
        self.causes = conflict.causes

    def status(self) -> Obj:
        return status(self.code, self.reason, self.message, {"causes": self.causes})


def manager(query: Mapping[str, str], user_agent: str) -> str:
    """The ``fieldManager`` parameter, else the User-Agent's product (printable, at most 128 bytes)."""
    given = query.get("fieldManager", "")
    if given:
        return given
    out = ""
    for ch in user_agent.split("/")[0]:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > MAX_MANAGER_LENGTH:
            break
        out += ch
    return out


def check_options(query: Mapping[str, str], options: str, apply: bool = False) -> bool:
    """Validate ``fieldManager`` (and for a PATCH ``force``) as kube-apiserver validates its
    ``CreateOptions``/``UpdateOptions``/``PatchOptions``; return ``force``."""
    errors: list[str] = []
    name = query.get("fieldManager", "")
    if apply and not name:
        errors.append("fieldManager: Required value: is required for apply patch")
    if len(name.encode()) > MAX_MANAGER_LENGTH:
        errors.append(f"fieldManager: Too long: may not be more than {MAX_MANAGER_LENGTH} bytes")
    for i, ch in enumerate(name):
        if not ch.isprintable():
            errors.append(
                f"fieldManager: Invalid value: {json.dumps(name)}: invalid character U+{ord(ch):04X} (at position {i})"
            )
    force = _force(query.get("force"))
    if force is not None and not apply:
        errors.append("force: Forbidden: may not be specified for non-apply patch")
    if errors:
        shown = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        raise InvalidOptions(f'{options}.meta.k8s.io "" is invalid: {shown}')
    return bool(force)


def _force(value: str | None) -> bool | None:
    """Go's ``strconv.ParseBool``, as the query parameter decoder reads a ``*bool``."""
    if value is None:
        return None
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise BadRequest(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def parse_apply(raw: bytes, directive: str | None) -> Obj:
    """The applied configuration: a YAML or JSON object (kubectl sends JSON). With
    ``fieldValidation`` Strict, a key given twice is refused as kube-apiserver's strict YAML
    decoding refuses it."""
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip()[:1] in ("{", "["):
        try:
            body: Any = wire.loads(raw, "the patch")
        except BadRequest as e:
            raise BadRequest(f"error decoding patch: {e.message}") from None
        if directive == fv.STRICT:
            duplicates = fv.duplicate_fields(raw)
            if duplicates:
                key = duplicates[0].rsplit(".", 1)[-1]
                raise BadRequest(
                    f'error strict decoding patch: yaml: unmarshal errors:\n  key "{key}" already set in map'
                )
    else:
        try:
            docs = loading.load_documents(text, "the patch")
        except BadRequest as e:
            raise BadRequest(f"error decoding patch: {e.message}") from None
        if len(docs) != 1:
            raise BadRequest(f"error decoding patch: expected one object, got {len(docs)}")
        body = docs[0]
    if not isinstance(body, dict):
        raise BadRequest(f"error decoding patch: expected an object, got {wire.json_type(body)}")
    return body


def now() -> str:
    return rfc3339(SystemClock().wall())


def updated(kind: Kind, subresource: str, live: Obj | None, new: Obj, name: str) -> Obj:
    """``new`` with the managed fields of a create (``live`` None) or update by ``name``."""
    return managedfields.update(managedfields.scope_of(kind, subresource), live, new, name, now())


def applied(kind: Kind, subresource: str, live: Obj | None, config: Obj, name: str, force: bool) -> Obj:
    """The object after ``name`` applied ``config``; BadRequest or ApplyConflict."""
    try:
        obj, _ = managedfields.apply(managedfields.scope_of(kind, subresource), live, config, name, force, now())
    except managedfields.ManagedFieldsError as e:
        raise BadRequest(str(e)) from None
    except managedfields.ApplyConflict as e:
        raise ApplyConflict(e) from None
    return obj


def unchanged_times(new: Obj, old: Obj, status_: bool) -> Obj:
    """``new`` with the old managedFields times when, as stored, it differs from ``old`` in nothing
    else (:func:`zeroserve.api.ssa.managedfields.restore_times`)."""
    if status_:
        stored = {**old, "status": new.get("status"), "metadata": {**old.get("metadata", {})}}
        keep(stored, new)
    else:
        stored = {k: v for k, v in new.items() if k != "status"}
        if "status" in old:
            stored["status"] = old["status"]
    return keep(new, managedfields.restore_times(stored, old))


def keep(admitted: Obj, managed: Obj) -> Obj:
    """``admitted`` with the managed fields of ``managed`` (admission does not change them)."""
    fields = managed.get("metadata", {}).get("managedFields")
    meta = admitted.setdefault("metadata", {})
    if fields is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = fields
    return admitted
