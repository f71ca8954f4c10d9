"""Server-side tables: ``meta.k8s.io/v1`` Table for clients that ask for one (kubectl always does).

A request whose ``Accept`` names ``application/json;as=Table;v=v1;g=meta.k8s.io`` (parameters in any
order; ``v1beta1`` too, answered as such) gets a Table: ``columnDefinitions`` from
:mod:`zeroserve.api.printers` and one row per object, its ``object`` the row's
``PartialObjectMetadata`` (``?includeObject=Metadata``, the default), the whole object
(``Object``) or nothing (``None``). Anything else, or no Accept, gets plain JSON. Shapes as
apimachinery's ``pkg/apis/meta/v1`` ``Table``, ``TableColumnDefinition``, ``TableRow``.

A Secret's row never carries its values: ``includeObject=Object`` is answered with its metadata,
and that metadata lacks kubectl's ``last-applied-configuration`` annotation (which copies ``data``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from zeroserve.api import printercolumns, printers
from zeroserve.api.base import Obj
from zeroserve.api.kinds import SECRET, Kind
from zeroserve.errors import BadRequest

GROUP: Final = "meta.k8s.io"
VERSIONS: Final = ("v1", "v1beta1")
INCLUDE: Final = ("None", "Metadata", "Object")
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"


def requested(accept: str | None) -> str | None:
    """The Table version the Accept header asks for first (``v1``/``v1beta1``), or None for JSON.

    Media ranges are read by quality (``q``, 1 when absent; ``q=0`` is refused), then in order:
    the first that is a Table we serve, plain JSON or ``*/*`` decides (kubectl lists the Table
    first and JSON last, as a fallback).
    """
    ranges: list[tuple[float, str, dict[str, str]]] = []
    for media_range in (accept or "").split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = dict(_param(p) for p in parts[1:] if "=" in p)
        ranges.append((_quality(params.pop("q", "1")), parts[0].lower(), params))
    for quality, media, params in sorted(ranges, key=lambda r: -r[0]):
        if quality <= 0:
            continue
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if params.get("as") == "Table" and params.get("g") == GROUP and params.get("v") in VERSIONS:
            return params["v"]
        if not params:
            return None
    return None


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip().lower(), value.strip().strip('"')


def include_object(query: Mapping[str, str]) -> str:
    value = query.get("includeObject", "") or "Metadata"
    if value not in INCLUDE:
        raise BadRequest(f'invalid includeObject "{value}": supported values are "None", "Metadata", "Object"')
    return value


def _without_applied(obj: Obj) -> Obj:
    """A Secret whose metadata lacks kubectl's last-applied-configuration (a copy of its data)."""
    meta = dict(obj.get("metadata", {}))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {**obj, "metadata": meta}


def partial_metadata(obj: Obj, version: str) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"{GROUP}/{version}", "metadata": obj.get("metadata", {})}


def table(
    kind: Kind,
    objs: Iterable[Obj],
    resource_version: str,
    now: datetime,
    *,
    version: str = "v1",
    include: str = "",
    headers: bool = True,
) -> Obj:
    """The Table of ``objs`` (all of ``kind``): the core kinds' columns, Knative's printer columns
    (:mod:`zeroserve.api.printercolumns`) for the others. All columns are sent, ``-o wide`` ones
    (``priority`` > 0) too: kubectl hides those unless asked. ``headers=False`` leaves the column
    definitions out (null), as in a watch's events after the first."""
    cols = printercolumns.table_columns(kind)
    include = include or "Metadata"
    if kind is SECRET and include == "Object":
        include = "Metadata"  # never a Secret's values in a table
    rows: list[Obj] = []
    for obj in objs:
        row: Obj = {"cells": printers.row(cols, obj, now)}
        if include == "Metadata":
            row["object"] = partial_metadata(_without_applied(obj) if kind is SECRET else obj, version)
        elif include == "Object":
            row["object"] = obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"{GROUP}/{version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [c.definition() for c in cols] if headers else None,
        "rows": rows,
    }
