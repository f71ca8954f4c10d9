"""List and watch options beyond selectors: WatchList's ``sendInitialEvents`` and its checks.

client-go's reflector (kubectl 1.37's ``wait``, informers) opens a *watch list*:
``?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true``. The
server streams the current objects as ADDED events, then a BOOKMARK whose object carries only
``metadata.resourceVersion`` and the annotation ``k8s.io/initial-events-end: "true"``, then the
changes after it, as on any watch. ``sendInitialEvents=false`` watches from the given
resourceVersion, or from now when none is given. The options are checked as apimachinery's
``ValidateListOptions`` checks them (a 422 for the kind ``ListOptions`` with field paths), so a
client that sends them wrong hears it rather than waiting on a bookmark that never comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.errors import BadRequest, FieldError, Invalid

INITIAL_EVENTS_END: Final = "k8s.io/initial-events-end"
NOT_OLDER_THAN: Final = "NotOlderThan"
EXACT: Final = "Exact"
LIST_OPTIONS_KIND: Final = "ListOptions.meta.k8s.io"


@dataclass(frozen=True)
class WatchOptions:
    send_initial_events: bool | None = None
    """None: the classic watch (initial ADDED events only when no resourceVersion is given)."""
    bookmarks: bool = False
    """``allowWatchBookmarks``: with ``send_initial_events``, the end of them is a BOOKMARK."""

    @property
    def initial_events_end(self) -> bool:
        return bool(self.send_initial_events) and self.bookmarks


def _bool(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequest(f'invalid boolean value for {name}: "{value}"')


def parse(query: Mapping[str, str], *, watch: bool) -> WatchOptions:
    """The options of a list (``watch`` False) or watch request, checked as apimachinery does."""
    send = _bool(query, "sendInitialEvents")
    match = query.get("resourceVersionMatch", "")
    rv = query.get("resourceVersion", "")
    errors: list[FieldError] = []
    if watch:
        if send is not None and match != NOT_OLDER_THAN:
            errors.append(
                FieldError(f"Forbidden: sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}",
                           ("resourceVersionMatch",))
            )  # fmt: skip
        if match:
            if send is None:
                errors.append(
                    FieldError("Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents "
                               "is provided", ("resourceVersionMatch",))
                )  # fmt: skip
            if match != NOT_OLDER_THAN:
                errors.append(FieldError(f'Unsupported value: "{match}": supported values: "{NOT_OLDER_THAN}"',
                                         ("resourceVersionMatch",)))  # fmt: skip
    else:
        if match:
            if not rv:
                errors.append(
                    FieldError("Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                               ("resourceVersionMatch",))
                )  # fmt: skip
            if match not in (EXACT, NOT_OLDER_THAN):
                errors.append(FieldError(f'Unsupported value: "{match}": supported values: "{EXACT}", '
                                         f'"{NOT_OLDER_THAN}", ""', ("resourceVersionMatch",)))  # fmt: skip
        if send is not None:
            errors.append(FieldError("Forbidden: sendInitialEvents is forbidden for list", ("sendInitialEvents",)))
    if errors:
        raise Invalid(errors, LIST_OPTIONS_KIND, "")
    return WatchOptions(send, bool(_bool(query, "allowWatchBookmarks")))


def initial_events_end(kind: Kind, resource_version: int) -> Obj:
    """The BOOKMARK object that ends a watch list's initial events (an empty object of ``kind``)."""
    return {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": {"resourceVersion": str(resource_version), "annotations": {INITIAL_EVENTS_END: "true"}},
    }
