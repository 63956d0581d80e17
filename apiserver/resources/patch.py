"""Patch documents: JSON merge patch (RFC 7386), strategic merge (the same for Calico's types,
which carry no patch strategies — as calicoctl does) and JSON patch (RFC 6902). The fourth
PATCH content type, server-side apply, is apply.py's."""
from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from calicomodel.errors import BadRequest, UnsupportedMediaType

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PATCH_TYPES = (MERGE, STRATEGIC, JSON_PATCH)
APPLY = "application/apply-patch+yaml"   # server-side apply (apply.py): not a patch document


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def apply(content_type: str, obj: dict, patch: Any) -> dict:
    """The patched copy of ``obj``; ``obj`` is not mutated. Raises BadRequest for a patch
    that does not apply and UnsupportedMediaType for an unknown patch type."""
    if content_type in (MERGE, STRATEGIC):
        if not isinstance(patch, dict):
            raise BadRequest("a merge patch must be a JSON object")
        return merge(obj, patch)
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise BadRequest("a JSON patch must be a JSON array of operations")
        try:
            result = jsonpatch.JsonPatch(patch).apply(obj, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError,
                KeyError, IndexError, ValueError) as err:
            raise BadRequest(f"the JSON patch does not apply: {err}") from None
        if not isinstance(result, dict):
            raise BadRequest("the JSON patch must leave an object")
        return result
    raise UnsupportedMediaType(
        f"the patch content type {content_type!r} is not supported; use one of "
        + ", ".join(PATCH_TYPES))
