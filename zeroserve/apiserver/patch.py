"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge patch (``application/strategic-merge-patch+json``, what kubectl sends for built-in
kinds) is served for the core kinds only; for the Knative kinds it is 415, as kube-apiserver answers
for a custom resource (kubectl then falls back to a merge patch). The core kinds' fields are maps and
scalars, so :func:`strategic_merge` is apimachinery's ``strategicpatch`` for maps: objects merge
recursively, ``null`` deletes a key, ``{"$patch": "replace", ...}`` replaces a map,
``{"$patch": "delete"}`` removes it, ``$retainKeys`` keeps only the keys it names, and the list
directives ``$setElementOrder/F`` are ignored (an order is all they carry). The two merging lists
of ObjectMeta are merged as Kubernetes merges them: ``finalizers`` as a set of strings (with
``$deleteFromPrimitiveList/finalizers``), ``ownerReferences`` by ``uid``; every other list is replaced.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import jsonpatch

from zeroserve.api.base import Obj
from zeroserve.apiserver.status import Unprocessable, UnsupportedMediaType
from zeroserve.errors import BadRequest

MERGE: Final = "application/merge-patch+json"
STRATEGIC: Final = "application/strategic-merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
APPLY: Final = "application/apply-patch+yaml"
"""Server-side apply (:mod:`zeroserve.apiserver.fieldmanager`), not a patch this module applies."""
PATCH_TYPES: Final = (JSON_PATCH, MERGE, STRATEGIC, APPLY)
CRD_PATCH_TYPES: Final = (JSON_PATCH, MERGE, APPLY)
"""What a custom resource accepts (Knative's kinds): no strategic merge patch."""

DIRECTIVE: Final = "$patch"
RETAIN_KEYS: Final = "$retainKeys"
SET_ELEMENT_ORDER: Final = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList/"
PRIMITIVE_SETS: Final = frozenset({"metadata.finalizers"})
"""Lists of strings merged as sets (``patchStrategy:"merge"`` on a ``[]string``)."""
KEYED_LISTS: Final = {"metadata.ownerReferences": "uid"}
"""Lists of objects merged by a key (``patchMergeKey``)."""


class _Delete:
    """The value of a map whose patch says ``$patch: delete``."""


DELETE: Final = _Delete()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(original: Any, patch: Obj, path: str = "") -> Any:
    """apimachinery's strategic merge of the map ``patch`` into ``original`` (see the module doc)."""
    directive = patch.get(DIRECTIVE)
    if directive == "replace":
        return _without_directives(patch)
    if directive == "delete":
        return DELETE
    if directive not in (None, "merge"):
        raise BadRequest(f"unknown patch type: {directive} in map: {_short(patch)}")
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        result = {k: v for k, v in result.items() if k in _retained(retain, patch, path)}
    for key, value in patch.items():
        if key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            continue  # applied after the list itself is merged, below
        here = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, here)
            if merged is DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and here in PRIMITIVE_SETS:
            current = result.get(key)
            old = current if isinstance(current, list) else []
            result[key] = [*old, *(v for v in value if v not in old)]
        elif isinstance(value, list) and here in KEYED_LISTS:
            result[key] = _merge_keyed(result.get(key), value, KEYED_LISTS[here], here)
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            name = key[len(DELETE_FROM_PRIMITIVE_LIST) :]
            if not isinstance(value, list):
                raise BadRequest(f"{key}: expected a list")
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
    return result


def _retained(retain: Any, patch: Obj, path: str) -> set[str]:
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise BadRequest(f"{path or 'the patch'}: $retainKeys must be a list of strings")
    keys = set(retain)
    stray = [k for k in patch if not k.startswith("$") and k not in keys]
    if stray:
        raise BadRequest(f"{path or 'the patch'}: these fields are present but not in $retainKeys: {sorted(stray)}")
    return keys


def _merge_keyed(original: Any, patch: list[Any], key: str, path: str) -> list[Any]:
    result = [copy.deepcopy(v) for v in original] if isinstance(original, list) else []
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise BadRequest(f"{path}: each element must be an object with {key!r}")
        at = next((i for i, v in enumerate(result) if isinstance(v, dict) and v.get(key) == item[key]), None)
        if item.get(DIRECTIVE) == "delete":
            if at is not None:
                del result[at]
            continue
        if at is None:
            result.append(_without_directives(item))
        else:
            merged = strategic_merge(result[at], item, path)
            result[at] = merged
    return result


def _without_directives(value: Obj) -> Obj:
    return {k: copy.deepcopy(v) for k, v in value.items() if k != DIRECTIVE}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def unsupported(accepted: tuple[str, ...] = PATCH_TYPES) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}"
    )


def apply(content_type: str, document: Obj, patch: Any) -> Obj:
    """``document`` with ``patch`` applied; raises BadRequest, Unprocessable or UnsupportedMediaType."""
    if content_type == MERGE:
        if not isinstance(patch, dict):
            raise BadRequest("a merge patch must be a JSON object")
        result = merge_patch(document, patch)
    elif content_type == STRATEGIC:
        if not isinstance(patch, dict):
            raise BadRequest("a strategic merge patch must be a JSON object")
        result = strategic_merge(document, patch)
        if result is DELETE:
            raise BadRequest("a strategic merge patch cannot delete the whole object")
    elif content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise BadRequest("a JSON patch must be a JSON array of operations")
        try:
            result = jsonpatch.apply_patch(document, patch)
        except (jsonpatch.InvalidJsonPatch, jsonpatch.JsonPointerException) as e:
            raise BadRequest(f"invalid JSON patch: {e}") from e
        except jsonpatch.JsonPatchException as e:
            raise Unprocessable(f"the JSON patch does not apply: {e}") from e
    else:
        raise unsupported()
    if not isinstance(result, dict):
        raise BadRequest("the patched object is not a JSON object")
    return result
