"""Fuzz admission (pure, fast): any mutated manifest is admitted or refused with FieldErrors in
Knative's words; what is admitted is plain JSON, and admitting it again, as a create or as an
unchanged update, changes nothing (issue 11, items 1, 6 and 7)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given

from tests.fuzz.strategies import PYDANTIC_WORDS, fuzz_settings, manifests
from zeroserve.api import kinds, wire
from zeroserve.api.admission import admit, admit_status
from zeroserve.config import Config
from zeroserve.errors import Invalid

CFG = Config()


def _kind(obj: dict[str, Any]) -> kinds.Kind:
    kind = kinds.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
    return kind or kinds.SERVICE


def _check_refusal(e: Invalid) -> None:
    assert e.errors
    text = str(e) + "".join(f.details for f in e.errors)
    assert not any(word in text for word in PYDANTIC_WORDS), text
    assert wire.encodable(text)


@given(manifests())
@fuzz_settings(400)
def test_admit_accepts_or_refuses_with_field_errors(obj: dict[str, Any]) -> None:
    kind = _kind(obj)
    try:
        out = admit(kind, copy.deepcopy(obj), None, CFG, user="admin")
    except Invalid as e:
        _check_refusal(e)
        return
    assert wire.errors(out) == []
    json.dumps(out, allow_nan=False)
    assert admit(kind, copy.deepcopy(out), None, CFG, user="admin") == out  # defaulting is idempotent
    again = admit(kind, copy.deepcopy(out), out, CFG, user="admin")  # an unchanged update is accepted
    assert again.get("spec") == out.get("spec")


@given(manifests())
@fuzz_settings(150)
def test_admit_status_never_raises_anything_but_invalid(obj: dict[str, Any]) -> None:
    try:
        admit_status(_kind(obj), copy.deepcopy(obj), None)
    except Invalid as e:
        _check_refusal(e)
