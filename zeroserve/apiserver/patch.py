"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and kubectl's strategic merge.

Strategic merge patch is treated as a merge patch (lists are replaced, not merged by key): it is
what the Kubernetes API server does for custom resources, which Knative's are.
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
PATCH_TYPES: Final = (JSON_PATCH, MERGE, STRATEGIC)


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


def apply(content_type: str, document: Obj, patch: Any) -> Obj:
    """``document`` with ``patch`` applied; raises BadRequest, Unprocessable or UnsupportedMediaType."""
    if content_type in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise BadRequest("a merge patch must be a JSON object")
        result = merge_patch(document, patch)
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
        accepted = ", ".join(PATCH_TYPES)
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: {accepted}"
        )
    if not isinstance(result, dict):
        raise BadRequest("the patched object is not a JSON object")
    return result
