"""The labeler's index of which Revisions and Configurations name each Route."""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.controller.reconcilers.routemarks import RouteMarks

ROUTES = "serving.knative.dev/routes"


def rev(name: str, rv: int, routes: str | None) -> Obj:
    annotations = {ROUTES: routes} if routes is not None else {}
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": str(rv), "annotations": annotations}}


def test_observe_indexes_the_routes_annotation_and_says_what_is_new() -> None:
    marks = RouteMarks()
    assert marks.observe("Revision", rev("r1", 1, "a,b")) == {"a", "b"}
    assert marks.observe("Configuration", rev("c", 2, "a")) == {"a"}
    assert marks.observe("Revision", rev("r1", 3, "a,b")) == frozenset()  # nothing new: no enqueue
    assert marks.marked("ns", "a") == [("Configuration", "c"), ("Revision", "r1")]
    assert marks.observe("Revision", rev("r1", 4, "b")) == frozenset()
    assert marks.marked("ns", "a") == [("Configuration", "c")]
    assert marks.marked("other", "b") == []
    marks.observe("Configuration", rev("c", 5, "a"), deleted=True)
    assert marks.marked("ns", "a") == []


def test_an_event_older_than_what_was_observed_changes_nothing() -> None:
    """The labeler records its own write at once; its watch event, or an older one, comes later."""
    marks = RouteMarks()
    marks.observe("Revision", rev("r1", 10, "a"))
    assert marks.observe("Revision", rev("r1", 9, None)) == frozenset()
    assert marks.marked("ns", "a") == [("Revision", "r1")]
    assert marks.observe("Revision", rev("r1", 11, None)) == frozenset()
    assert marks.marked("ns", "a") == []


def test_a_route_named_by_one_two_or_three_objects() -> None:
    marks = RouteMarks()
    for i, name in enumerate(("r1", "r2", "r3")):
        marks.observe("Revision", rev(name, i + 1, "a"))
        marks.observe("Revision", rev(name, i + 1, "a"))  # seen again: nothing changes
        assert marks.marked("ns", "a") == [("Revision", f"r{j + 1}") for j in range(i + 1)]
    marks.observe("Revision", rev("r2", 10, None))
    assert marks.marked("ns", "a") == [("Revision", "r1"), ("Revision", "r3")]
    marks.observe("Revision", rev("r1", 11, "b"))
    assert marks.marked("ns", "a") == [("Revision", "r3")] and marks.marked("ns", "b") == [("Revision", "r1")]
