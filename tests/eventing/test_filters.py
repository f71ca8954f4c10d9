"""Trigger filters as Knative's pkg/eventfilter (attributes, exact/prefix/suffix/all/any/not)."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.eventing.filters import FAIL, NONE, PASS, TriggerFilter, go_time, lookup, subscriptions_api_filter

EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "abc-1",
    "source": "/orders/shop",
    "type": "order.created",
    "subject": "",
    "time": "2026-01-02T03:04:05.500000Z",
    "datacontenttype": "application/json; charset=utf-8",
    "region": "eu-west",
    "priority": 5,
    "urgent": True,
    "data": {"n": 1},
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("type", "order.created"),
        ("subject", ""),
        ("dataschema", ""),
        ("time", "2026-01-02T03:04:05.5Z"),
        ("datamediatype", "application/json"),
        ("region", "eu-west"),
        ("priority", "5"),
        ("urgent", "true"),
        ("missing", None),
        ("data", None),
    ],
)
def test_lookup(name: str, value: str | None) -> None:
    assert lookup(EVENT, name) == value


def test_lookup_absent_time_is_gos_zero_time() -> None:
    assert lookup({"id": "x"}, "time") == "0001-01-01T00:00:00Z"
    assert go_time("2026-01-02T03:04:05+00:00") == "2026-01-02T03:04:05Z"
    assert go_time("2026-01-02T03:04:05.123456789123+02:00") == "2026-01-02T03:04:05.123456789+02:00"


@pytest.mark.parametrize(
    ("attributes", "matches"),
    [
        pytest.param({"type": "order.created"}, True, id="exact"),
        pytest.param({"type": "order.updated"}, False, id="other-value"),
        pytest.param({"type": "order.created", "region": "eu-west"}, True, id="and"),
        pytest.param({"region": ""}, True, id="any-value-present"),
        pytest.param({"missing": ""}, False, id="any-value-absent"),
        pytest.param({"subject": ""}, False, id="any-value-empty"),
        pytest.param({"subject": "x"}, False, id="empty-context-attribute"),
        pytest.param({}, True, id="empty-map"),
    ],
)
def test_attributes_filter(attributes: dict[str, str], matches: bool) -> None:
    assert TriggerFilter.from_spec({"filter": {"attributes": attributes}}).matches(EVENT) is matches


@pytest.mark.parametrize(
    ("spec", "result"),
    [
        pytest.param({"exact": {"type": "order.created"}}, PASS, id="exact"),
        pytest.param({"exact": {"type": "order"}}, FAIL, id="exact-miss"),
        pytest.param({"exact": {"missing": "x"}}, FAIL, id="exact-absent"),
        pytest.param({"exact": {"type": ""}}, None, id="exact-empty-value-skipped"),
        pytest.param({"prefix": {"type": "order."}}, PASS, id="prefix"),
        pytest.param({"prefix": {"source": "/users"}}, FAIL, id="prefix-miss"),
        pytest.param({"suffix": {"type": ".created"}}, PASS, id="suffix"),
        pytest.param({"suffix": {"type": ".deleted"}}, FAIL, id="suffix-miss"),
        pytest.param({"exact": {"type": "x"}, "prefix": {"type": "order"}}, FAIL, id="first-dialect-wins"),
        pytest.param({"all": [{"prefix": {"type": "order"}}, {"exact": {"region": "eu-west"}}]}, PASS, id="all"),
        pytest.param({"all": [{"prefix": {"type": "order"}}, {"exact": {"region": "us"}}]}, FAIL, id="all-miss"),
        pytest.param({"all": [{"exact": {"type": "order.created"}}, {"cesql": "x"}]}, PASS, id="all-skips-cesql"),
        pytest.param({"any": [{"exact": {"type": "x"}}, {"suffix": {"type": "created"}}]}, PASS, id="any"),
        pytest.param({"any": [{"exact": {"type": "x"}}, {"exact": {"type": "y"}}]}, FAIL, id="any-miss"),
        pytest.param({"not": {"exact": {"type": "order.created"}}}, FAIL, id="not-pass"),
        pytest.param({"not": {"exact": {"type": "x"}}}, PASS, id="not-fail"),
        pytest.param({"not": {"cesql": "x"}}, NONE, id="not-none"),
        pytest.param({"all": [{"not": {"cesql": "x"}}, {"not": {"cesql": "y"}}]}, NONE, id="all-of-none"),
        pytest.param({"cesql": "type = 'x'"}, None, id="cesql-unsupported"),
        pytest.param({}, None, id="nothing"),
    ],
)
def test_subscriptions_api_dialects(spec: dict[str, Any], result: str | None) -> None:
    f = subscriptions_api_filter(spec)
    assert (None if f is None else f(EVENT)) == result


@pytest.mark.parametrize(
    ("spec", "matches"),
    [
        pytest.param(
            {"filters": [{"exact": {"type": "x"}}], "filter": {"attributes": {"type": "order.created"}}},
            False,
            id="filters-override-filter",
        ),
        pytest.param(
            {"filters": [], "filter": {"attributes": {"type": "x"}}}, False, id="empty-filters-fall-back-to-filter"
        ),
        pytest.param({"filters": [{"prefix": {"type": "order"}}, {"exact": {"id": "abc-1"}}]}, True, id="anded"),
        pytest.param({"filters": [{"prefix": {"type": "order"}}, {"exact": {"id": "other"}}]}, False, id="anded-miss"),
        pytest.param({"filters": [{"cesql": "x"}]}, True, id="nothing-built-passes"),
        pytest.param({}, True, id="no-filter"),
    ],
)
def test_trigger_filter(spec: dict[str, Any], matches: bool) -> None:
    assert TriggerFilter.from_spec(spec).matches(EVENT) is matches
