from __future__ import annotations

import pytest

from zeroserve.api import selectors
from zeroserve.errors import BadRequest

LABELS = {"app": "web", "tier": "front", "serving.knative.dev/service": "hello"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("app=web", True, id="eq"),
        pytest.param("app==web", True, id="double-eq"),
        pytest.param("app=api", False, id="eq-miss"),
        pytest.param("app!=api", True, id="neq"),
        pytest.param("app!=web", False, id="neq-miss"),
        pytest.param("missing!=x", True, id="neq-absent"),
        pytest.param("app in (api, web)", True, id="in"),
        pytest.param("app in (api)", False, id="in-miss"),
        pytest.param("missing in (x)", False, id="in-absent"),
        pytest.param("app notin (api)", True, id="notin"),
        pytest.param("app notin (api,web)", False, id="notin-miss"),
        pytest.param("missing notin (x)", True, id="notin-absent"),
        pytest.param("app", True, id="exists"),
        pytest.param("missing", False, id="exists-miss"),
        pytest.param("!missing", True, id="not-exists"),
        pytest.param("!app", False, id="not-exists-miss"),
        pytest.param("app=web,tier=front", True, id="and"),
        pytest.param("app=web, tier=back", False, id="and-miss"),
        pytest.param("serving.knative.dev/service=hello", True, id="prefixed-key"),
        pytest.param("app=web,!missing,tier in (front)", True, id="mixed"),
    ],
)
def test_label_selector_matches(text: str, expected: bool) -> None:
    assert selectors.parse(text).matches(LABELS) is expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("app=web,", id="trailing-comma"),
        pytest.param("app in web", id="in-without-parens"),
        pytest.param("app in (web", id="unclosed"),
        pytest.param("app=we b", id="space-in-value"),
        pytest.param("=web", id="no-key"),
        pytest.param("app=w@b", id="bad-value"),
        pytest.param("-app", id="bad-key"),
        pytest.param("app web", id="missing-operator"),
    ],
)
def test_label_selector_bad_syntax_is_bad_request(text: str) -> None:
    with pytest.raises(BadRequest, match="unable to parse requirement"):
        selectors.parse(text)


def test_field_selector() -> None:
    fields = {"metadata.name": "a", "metadata.namespace": "default"}
    supported = fields.keys()
    assert selectors.parse_fields("metadata.name=a", supported).matches(fields)
    assert not selectors.parse_fields("metadata.name=b", supported).matches(fields)
    assert selectors.parse_fields("metadata.name!=b,metadata.namespace==default", supported).matches(fields)
    with pytest.raises(BadRequest, match=r"field label not supported: spec\.x"):
        selectors.parse_fields("spec.x=1", supported)
    with pytest.raises(BadRequest, match="invalid field selector"):
        selectors.parse_fields("metadata.name", supported)
