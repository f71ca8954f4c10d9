"""The controller's index of which Routes name a Configuration or a Revision in their traffic."""

from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.runner import RouteIndex


def route(name: str, *traffic: dict[str, object]) -> Obj:
    return {"metadata": {"namespace": "ns", "name": name}, "spec": {"traffic": list(traffic)}}


def routes(index: RouteIndex, kind: str, name: str) -> list[str]:
    found = index.routes_for(kind, "ns", name)
    assert all(k == Key("Route", "ns", k.name) for k in found)
    return [k.name for k in found]


def test_targets_named_by_one_route_or_several_and_routes_naming_one_target_or_several() -> None:
    index = RouteIndex()
    index.update(route("a", {"configurationName": "c", "percent": 100}))
    assert routes(index, "Configuration", "c") == ["a"]
    index.update(route("b", {"configurationName": "c", "percent": 50}, {"revisionName": "r-1", "percent": 50}))
    index.update(route("b", {"configurationName": "c", "percent": 50}, {"revisionName": "r-1", "percent": 50}))
    assert routes(index, "Configuration", "c") == ["a", "b"] and routes(index, "Revision", "r-1") == ["b"]
    index.update(route("b", {"revisionName": "r-1", "percent": 100}))  # b no longer names c
    assert routes(index, "Configuration", "c") == ["a"] and routes(index, "Revision", "r-1") == ["b"]
    index.update(route("a", {"configurationName": "c", "percent": 100}), deleted=True)
    assert routes(index, "Configuration", "c") == []
    index.update(route("b"))  # no traffic
    assert routes(index, "Revision", "r-1") == [] and routes(index, "Revision", "other") == []
