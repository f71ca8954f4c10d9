"""Events as client-go's record package makes and correlates them (pure, with a stepped ``now``):
naming, deduplication (count, firstTimestamp, lastTimestamp), aggregation of similar events, the
spam filter's token bucket, bounded caches, and the retention rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zeroserve.api.base import Obj
from zeroserve.controller import correlator
from zeroserve.controller.correlator import Correlated, EventCorrelator

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SVC: Obj = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "generation": 1},
    "spec": {"template": {}},
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(
    c: EventCorrelator, message: str, now: datetime, obj: Obj = SVC, reason: str = "Created"
) -> Correlated | None:
    ref = correlator.reference(obj)
    event = correlator.make_event(ref, "service-controller", "Normal", reason, message, now, c.unix_nano(now))
    found = c.correlate(event, now)
    if found is not None:
        c.written(found.event)  # as the recorder does with what the store returns
    return found


def test_an_event_is_made_as_record_makes_it() -> None:
    c = EventCorrelator()
    found = record(c, 'Created Configuration "hello"', T0)
    assert found is not None and not found.update
    event = found.event
    assert event["metadata"] == {"name": f"hello.{int(T0.timestamp() * 1e9):x}", "namespace": "default"}
    assert event["involvedObject"] == {
        "kind": "Service",
        "namespace": "default",
        "name": "hello",
        "uid": "u-1",
        "apiVersion": "serving.knative.dev/v1",
        "resourceVersion": "7",
    }
    assert (event["type"], event["reason"], event["message"]) == ("Normal", "Created", 'Created Configuration "hello"')
    assert event["source"] == {"component": "service-controller"}
    assert event["reportingComponent"] == "service-controller"
    assert (event["firstTimestamp"], event["lastTimestamp"], event["count"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        1,
    )


def test_a_reference_holds_no_more_of_the_object_than_who_it_is() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default", "uid": "u-9"},
        "data": {"password": "czNjcmV0"},
        "stringData": {"password": "s3cret"},
    }
    ref = correlator.reference(secret)
    assert ref == {"kind": "Secret", "namespace": "default", "name": "db", "uid": "u-9", "apiVersion": "v1"}
    event = correlator.make_event(ref, "x", "Warning", "Failed", "no", T0, 1)
    assert "czNjcmV0" not in repr(event) and "s3cret" not in repr(event)


def test_names_count_nanoseconds_and_two_events_in_one_instant_get_two() -> None:
    c = EventCorrelator()
    now = T0 + timedelta(microseconds=123457)
    assert c.unix_nano(now) == 1767225600_123457_000  # exactly: no float rounding
    first, second = record(c, "a", now), record(c, "b", now)
    assert first is not None and second is not None
    assert first.event["metadata"]["name"] != second.event["metadata"]["name"]


def test_a_name_that_is_no_dns_subdomain_becomes_a_uuid() -> None:
    assert correlator.event_name("hello", 255) == "hello.ff"
    assert correlator.event_name("x" * 250, 255) == "x" * 250 + ".ff"  # 253 characters: still a subdomain
    name = correlator.event_name("x" * 251, 255)
    assert len(name) == 36 and name.count("-") == 4


def test_a_repeat_counts_on_the_event_written_before() -> None:
    c = EventCorrelator()
    first = record(c, "same", T0)
    again = record(c, "same", at(30))
    assert first is not None and again is not None
    assert again.update
    assert again.event["metadata"]["name"] == first.event["metadata"]["name"]
    assert (again.event["count"], again.event["firstTimestamp"], again.event["lastTimestamp"]) == (
        2,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:30Z",
    )
    third = record(c, "same", at(60))
    assert third is not None and third.event["count"] == 3


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        pytest.param({}, "Updated", id="another-reason"),
        pytest.param({"metadata": {**SVC["metadata"], "uid": "u-2"}}, "Created", id="another-object"),
    ],
)
def test_a_different_event_is_a_new_one(other: Obj, reason: str) -> None:
    c = EventCorrelator()
    record(c, "same", T0)
    found = record(c, "same", at(1), obj={**SVC, **other}, reason=reason)
    assert found is not None and not found.update and found.event["count"] == 1


def test_similar_events_are_combined_after_ten_messages() -> None:
    c = EventCorrelator()
    for i in range(9):
        found = record(c, f"message {i}", at(i))
        assert found is not None and not found.update and found.event["message"] == f"message {i}"
    tenth = record(c, "message 9", at(9))
    assert tenth is not None and not tenth.update
    assert tenth.event["message"] == "(combined from similar events): message 9"
    eleventh = record(c, "message 10", at(10))
    assert eleventh is not None and eleventh.update
    assert eleventh.event["metadata"]["name"] == tenth.event["metadata"]["name"]
    assert eleventh.event["message"] == "(combined from similar events): message 10"
    assert eleventh.event["count"] == 2


def test_similarity_is_forgotten_after_ten_quiet_minutes() -> None:
    c = EventCorrelator()
    for i in range(9):
        record(c, f"message {i}", at(i))
    later = record(c, "message 9", at(8 + 601))
    assert later is not None and later.event["message"] == "message 9"


def test_the_spam_filter_lets_25_through_then_one_per_five_minutes() -> None:
    c = EventCorrelator()
    written = [record(c, "same", at(0.1 * i)) for i in range(26)]
    assert all(w is not None for w in written[:25])
    assert written[25] is None
    assert record(c, "same", at(100)) is None
    after = record(c, "same", at(2.5 + 300))
    assert after is not None and after.update
    assert after.event["count"] == 28  # the dropped ones were counted all the same


def test_the_spam_filter_is_per_object() -> None:
    c = EventCorrelator(burst=1)
    assert record(c, "a", T0) is not None
    assert record(c, "b", T0) is None
    other = {**SVC, "metadata": {**SVC["metadata"], "name": "other", "uid": "u-3"}}
    assert record(c, "a", T0, obj=other) is not None


def test_the_caches_are_bounded() -> None:
    c = EventCorrelator(cache_size=2)
    objs = [{**SVC, "metadata": {**SVC["metadata"], "name": f"s{i}", "uid": f"u{i}"}} for i in range(3)]
    for obj in objs:
        record(c, "same", T0, obj=obj)
    forgotten = record(c, "same", at(1), obj=objs[0])
    assert forgotten is not None and not forgotten.update  # written anew: its first one was forgotten
    remembered = record(c, "same", at(1), obj=objs[2])
    assert remembered is not None and remembered.update


def test_an_lru_keeps_the_recently_used() -> None:
    lru: correlator.Lru[str, int] = correlator.Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)


@pytest.mark.parametrize(
    ("event", "expired"),
    [
        pytest.param({"lastTimestamp": "2026-01-01T00:00:00Z"}, True, id="last-seen-over-an-hour-ago"),
        pytest.param({"lastTimestamp": "2026-01-01T00:30:00Z"}, False, id="last-seen-half-an-hour-ago"),
        pytest.param(
            {
                "lastTimestamp": "2026-01-01T00:00:00Z",
                "series": {"count": 2, "lastObservedTime": "2026-01-01T01:00:00Z"},
            },
            False,
            id="a-series-seen-lately",
        ),
        pytest.param({"eventTime": "2026-01-01T00:00:00.000001Z"}, True, id="event-time"),
        pytest.param({"metadata": {"creationTimestamp": "2026-01-01T00:59:00Z"}}, False, id="creation-time"),
        pytest.param({}, False, id="no-time-at-all"),
    ],
)
def test_retention_counts_from_when_an_event_was_last_seen(event: Obj, expired: bool) -> None:
    assert correlator.expired(event, at(70 * 60), ttl=3600) is expired
