"""Rendering: kubectl-style tables, ``-o json|yaml`` documents, ages and condition summaries.

Pure functions from wire objects to text; commands decide where the text goes (documents to
stdout, progress and errors to stderr).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import yaml

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.errors import FieldError

OutputFormat = Literal["table", "yaml", "json"]


def terminal_safe(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped (line breaks kept): user input
    echoed in an error must not drive the terminal (``\x1b[31m`` in a name)."""
    return "\n".join(
        "".join(ch if ch.isprintable() or ch == "\t" else json.dumps(ch)[1:-1] for ch in line)
        for line in text.split("\n")
    )


def field_error(fe: FieldError) -> str:
    """A FieldError on one line, ``message: path (details)``; a multi-line detail (a diff) follows."""
    if fe.details and "\n" not in fe.details.strip():
        paths = f": {', '.join(fe.paths)}" if fe.paths else ""
        return f"{fe.message}{paths} ({fe.details.strip()})"
    return str(fe)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def document(
    objs: Sequence[Obj], kind: Kind, fmt: OutputFormat, single: bool, show_managed_fields: bool = False
) -> str:
    """One object as is, or a ``<Kind>List`` wrapping many (kubectl ``-o``); without
    ``metadata.managedFields`` unless asked, as kubectl prints them (``--show-managed-fields``)."""
    if not show_managed_fields:
        objs = [without_managed_fields(o) for o in objs]
    doc: Obj = (
        objs[0]
        if single and len(objs) == 1
        else {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": list(objs)}
    )
    if fmt == "json":
        return json.dumps(doc, indent=4)
    return to_yaml(doc)


def without_managed_fields(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def to_yaml(doc: Any) -> str:
    text: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text.rstrip("\n")


def condition(obj: Obj, type_: str) -> Obj:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


def ready_columns(obj: Obj) -> tuple[str, str]:
    """READY and REASON printer columns: the Ready condition's status and reason."""
    c = condition(obj, "Ready")
    return str(c.get("status", "")), str(c.get("reason", ""))


def age(timestamp: str | None, now: datetime) -> str:
    """kubectl's short age (``5s``, ``3m``, ``2h``, ``4d``) of an RFC 3339 timestamp."""
    if not timestamp:
        return ""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    secs = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size * (2 if unit != "d" else 1):
            return f"{secs // size}{unit}"
    return f"{secs}s"


def conditions_summary(obj: Obj) -> str:
    """kn's CONDITIONS column: ``OK / TOTAL`` conditions True (``2 OK / 4``)."""
    conds = obj.get("status", {}).get("conditions") or []
    ok = sum(1 for c in conds if c.get("status") == "True")
    return f"{ok} OK / {len(conds)}"


def conditions_table(obj: Obj, now: datetime) -> str:
    """kn describe's conditions block: OK, TYPE, AGE, REASON (+ message)."""
    rows = []
    for c in obj.get("status", {}).get("conditions") or []:
        mark = {"True": "++", "False": "!!", "Unknown": "??"}.get(str(c.get("status")), "??")
        reason = str(c.get("reason") or "")
        if c.get("message"):
            reason = f"{reason} ({c['message']})" if reason else str(c["message"])
        rows.append([mark, str(c.get("type", "")), age(c.get("lastTransitionTime"), now), reason])
    return table(["OK", "TYPE", "AGE", "REASON"], rows) if rows else "  (none)"


def now_utc() -> datetime:
    return datetime.now(UTC)
