"""Reading resources from YAML or JSON text (``zeroserve apply -f``), as ``kubectl`` reads them.

Multi-document YAML (``---``) is split, empty documents are skipped and a ``kind: List`` (or
``*List``) expands into its ``items``. JSON is YAML, so one parser serves both.
"""

from __future__ import annotations

from typing import Any

import yaml

from zeroserve.api.base import Obj
from zeroserve.errors import BadRequest


def _check(doc: Any, where: str) -> Obj:
    if not isinstance(doc, dict):
        raise BadRequest(f"{where}: expected a mapping (an object with apiVersion and kind), got {type(doc).__name__}")
    missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
    if missing:
        raise BadRequest(f"{where}: missing {' and '.join(missing)}")
    return doc


def _is_list(doc: Obj) -> bool:
    return str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list)


def load_documents(text: str, source: str = "-") -> list[Obj]:
    """Every resource in ``text``; BadRequest naming ``source`` and the document index on a bad one."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise BadRequest(f"{source}: invalid YAML: {e}") from None
    out: list[Obj] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        where = f"{source}: document {i}"
        obj = _check(doc, where)
        if _is_list(obj):
            out.extend(_check(item, f"{where}: items[{j}]") for j, item in enumerate(obj["items"]))
        else:
            out.append(obj)
    return out
