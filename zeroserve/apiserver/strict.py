"""``?fieldValidation=``: what a write does with unknown and duplicate fields, as kube-apiserver does.

- ``Strict`` refuses the request: a create or update with 400 ``Service in version "v1" cannot be
  handled as a Service: strict decoding error: unknown field "spec.foo"``; a patch with 422
  `` "" is invalid: patch: Invalid value: "<the patched object>": strict decoding error: ...``
  (apiserver's ``handlers/patch.go``; :class:`StrictPatchError`).
- ``Warn`` drops the unknown fields and answers one ``Warning: 299 - "unknown field \\"spec.foo\\""``
  header per problem (duplicates keep their last value, as decoding does).
- ``Ignore`` drops the unknown fields silently.
- Absent: the object goes to admission as it came, which refuses what the kind's model does not
  declare with Knative's webhook's message (``must not set the field(s): spec.foo``): a client that
  does not ask is not silently given less than it sent (kube-apiserver's default would be ``Warn``).

Any other value is 422 ``CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value``.
kubectl sends ``Strict`` by default once the OpenAPI document declares the parameter
(:mod:`zeroserve.api.openapi`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from zeroserve.api import fieldvalidation as fv
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.apiserver.patch import JSON_PATCH
from zeroserve.apiserver.status import status
from zeroserve.errors import ApiError, BadRequest

JSON_PATCH_OP_FIELDS: Final = frozenset({"op", "path", "from", "value"})
MAX_WARNINGS: Final = 100


class InvalidOptions(ApiError):
    """422 for request options that do not validate (``CreateOptions.meta.k8s.io "" is invalid: ...``)."""

    code = 422
    reason = "Invalid"


class StrictPatchError(ApiError):
    """A patched object with unknown or duplicate fields under ``Strict``: apiserver's
    ``NewInvalid(GroupKind{}, "", [field.Invalid("patch", patchedJSON, strictError)])``, with no kind
    or name in its details (kubectl prints ``The request is invalid: patch: Invalid value: ...``)."""

    code = 422
    reason = "Invalid"

    def __init__(self, patched: str, detail: str) -> None:
        self.cause = f"Invalid value: {json.dumps(patched, ensure_ascii=False)}: {detail}"
        super().__init__(f' "" is invalid: patch: {self.cause}')

    def status(self) -> Obj:
        causes = [{"reason": "FieldValueInvalid", "message": self.cause, "field": "patch"}]
        return status(self.code, self.reason, self.message, {"causes": causes})


class FieldValidation:
    """One request's directive, and the warnings it collected."""

    def __init__(self, directive: str | None) -> None:
        self.directive = directive
        self.warnings: list[str] = []

    @classmethod
    def of(cls, query: Mapping[str, str], options: str) -> FieldValidation:
        """The ``fieldValidation`` of a request whose options are ``options`` (CreateOptions...)."""
        value = query.get("fieldValidation")
        if value is None:
            return cls(None)
        if value not in fv.DIRECTIVES:
            raise InvalidOptions(f'{options}.meta.k8s.io "" is invalid: {fv.unsupported(value)}')
        return cls(value or fv.WARN)  # present but empty: kube-apiserver's default

    @property
    def active(self) -> bool:
        return self.directive is not None

    def decoded(self, kind: Kind, obj: Obj, raw: bytes) -> Obj:
        """A create or update body: its unknown fields dropped (or the request refused)."""
        if not self.active:
            return obj
        problems = fv.messages(self._duplicates(raw), fv.unknown_fields(kind, obj))
        if problems and self.directive == fv.STRICT:
            raise BadRequest(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                + fv.strict_error(problems)
            )
        self._warn(problems)
        return obj

    def patch_body(self, content_type: str, raw: bytes, body: Any) -> list[str]:
        """The strict errors of a patch body itself (``appliedStrictErrs``): duplicate keys, and for
        a JSON patch the keys no operation has, each prefixed ``json patch``."""
        if self.directive not in (fv.STRICT, fv.WARN):
            return []
        problems = fv.messages(fv.duplicate_fields(raw), [])
        if content_type == JSON_PATCH:
            if isinstance(body, list):
                for i, op in enumerate(body):
                    if isinstance(op, dict):
                        problems += [f'unknown field "[{i}].{k}"' for k in op if k not in JSON_PATCH_OP_FIELDS]
            problems = [f"json patch {p}" for p in problems]
        return problems

    def patched(self, kind: Kind, obj: Obj, body_problems: list[str]) -> Obj:
        """A patched object: its unknown fields dropped (or 422 naming them with the patch's own)."""
        if not self.active:
            return obj
        shown = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        problems = [*body_problems, *fv.messages([], fv.unknown_fields(kind, obj))]
        if problems and self.directive == fv.STRICT:
            raise StrictPatchError(shown, fv.strict_error(problems))
        self._warn(problems)
        return obj

    def _duplicates(self, raw: bytes) -> list[str]:
        if self.directive not in (fv.STRICT, fv.WARN) or not raw.strip():
            return []
        return fv.duplicate_fields(raw)

    def _warn(self, problems: list[str]) -> None:
        if self.directive == fv.WARN:
            for p in problems:
                if p not in self.warnings and len(self.warnings) < MAX_WARNINGS:
                    self.warnings.append(p)

    def respond(self, response: web.Response) -> web.Response:
        """``response`` with one ``Warning`` header per warning (``299 - "text"``)."""
        for text in self.warnings:
            response.headers.add("Warning", warning(text))
        return response


def warning(text: str) -> str:
    """apimachinery's ``NewWarningHeader(299, "", text)``: the text quoted, ``"`` and ``\\`` escaped."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'
