"""The one error tree of zeroserve.

::

    ZeroserveError
    ├── ApiError                 # carries the HTTP code and Kubernetes reason, assigned at the edge
    │   ├── NotFound             # 404 NotFound
    │   ├── AlreadyExists        # 409 AlreadyExists
    │   ├── Conflict             # 409 Conflict (stale resourceVersion)
    │   ├── Gone                 # 410 Expired (watch from a compacted resourceVersion)
    │   ├── Invalid              # 422 Invalid, with every FieldError
    │   ├── BadRequest           # 400 BadRequest
    │   └── Unauthorized         # 401 Unauthorized
    └── ConfigError              # a config.yaml value is out of range (Knative's messages)

HTTP codes and ``Status`` objects are produced only by the API server; everything below it
raises these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class ZeroserveError(Exception):
    """Root of every error zeroserve raises on purpose."""


class ApiError(ZeroserveError):
    code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApiError):
    code = 404
    reason = "NotFound"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    code = 410
    reason = "Expired"


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem at one place: rendered ``"<message>: <path>"`` as Knative's apis.FieldError."""

    message: str
    paths: tuple[str, ...] = ()
    details: str = field(default="", compare=False)

    def __str__(self) -> str:
        text = f"{self.message}: {', '.join(self.paths)}" if self.paths else self.message
        return f"{text}\n{self.details}" if self.details else text


class Invalid(ApiError):
    """A resource failed validation; ``errors`` holds all of them, sorted as Knative prints them."""

    code = 422
    reason = "Invalid"

    def __init__(self, errors: Sequence[FieldError], kind: str = "", name: str = "") -> None:
        self.errors = sorted(errors)
        self.kind = kind
        self.name = name
        detail = "\n".join(str(e) for e in self.errors)
        prefix = f'{kind} "{name}" is invalid: ' if kind else ""
        super().__init__(prefix + detail)


class ConfigError(ZeroserveError):
    """A config section (config-autoscaler, config-defaults, ...) holds an invalid value."""


_BY_REASON: dict[str, type[ApiError]] = {
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Expired": Gone,
    "Gone": Gone,
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
}
_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    410: Gone,
}


def from_status(code: int, body: Any) -> ApiError:
    """The exception a Kubernetes ``Status`` body (or any error body) stands for."""
    status: dict[str, Any] = body if isinstance(body, dict) else {}
    message = str(status.get("message") or f"HTTP {code}")
    reason = str(status.get("reason") or "")
    details: dict[str, Any] = status.get("details") or {}
    if reason == "Invalid" or code == 422:
        causes = details.get("causes") or []
        field_errors = [_field_error(c) for c in causes if isinstance(c, dict)] or [FieldError(message)]
        exc: ApiError = Invalid(field_errors, str(details.get("kind") or ""), str(details.get("name") or ""))
        exc.message = message
        return exc
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or ApiError
    exc = cls(message)
    if cls is ApiError:
        exc.code = code
    return exc


def _field_error(cause: dict[str, Any]) -> FieldError:
    """A ``details.causes`` entry back as the FieldError it was (the first line is the message,
    the rest the details, as :mod:`zeroserve.apiserver.status` joins them)."""
    message, _, details = str(cause.get("message", "")).partition("\n")
    return FieldError(message, (str(cause["field"]),) if cause.get("field") else (), details)
