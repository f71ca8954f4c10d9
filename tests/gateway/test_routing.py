"""The pure routing table: host lookup, weighted pick, visibility, least-loaded choice."""

from __future__ import annotations

import random

import pytest

from zeroserve.controller.ingress import RouteRule, RouteTable, WeightedTarget
from zeroserve.gateway.routing import (
    Backend,
    RouteEntry,
    RoutingTable,
    Rule,
    least_loaded,
    normalize_host,
    pick,
)


def hello(generation: int = 1, split: tuple[tuple[str, int], ...] = (("hello-00001", 100),)) -> RouteEntry:
    targets = tuple(Backend("default", rev, pct) for rev, pct in split)
    local = ("hello.default", "hello.default.svc", "hello.default.svc.cluster.local")
    return RouteEntry(
        "default",
        "hello",
        generation,
        (
            Rule(local, "ClusterLocal", targets),
            Rule(("hello.default.localhost",), "ExternalIP", targets),
            Rule(("v1-hello.default.localhost",), "ExternalIP", (Backend("default", "hello-00001", 100),), "v1"),
        ),
    )


@pytest.mark.parametrize(
    ("host", "want"),
    [
        pytest.param("hello.default.localhost", "hello.default.localhost", id="plain"),
        pytest.param("Hello.Default.LOCALHOST:8080", "hello.default.localhost", id="case-and-port"),
        pytest.param("hello.default.localhost.", "hello.default.localhost", id="trailing-dot"),
        pytest.param("[::1]:8080", "[::1]", id="ipv6"),
    ],
)
def test_normalize_host(host: str, want: str) -> None:
    assert normalize_host(host) == want


def test_lookup_external_and_tag() -> None:
    table = RoutingTable([hello(split=(("hello-00001", 50), ("hello-00002", 50)))])
    targets = table.lookup("HELLO.default.localhost:8080")
    assert targets is not None
    assert [b.revision for b in targets.backends] == ["hello-00001", "hello-00002"]
    tag = table.lookup("v1-hello.default.localhost")
    assert tag is not None and [b.revision for b in tag.backends] == ["hello-00001"]
    assert table.lookup("nope.default.localhost") is None


def test_cluster_local_names_only_internal() -> None:
    table = RoutingTable([hello()])
    for host in ("hello.default", "hello.default.svc", "hello.default.svc.cluster.local"):
        assert table.lookup(host) is None, host
        assert table.lookup(host, internal=True) is not None, host
    assert table.lookup("hello.default.localhost", internal=True) is not None
    assert "hello.default.svc.cluster.local" not in table.known_hosts()
    assert "hello.default.svc.cluster.local" in table.known_hosts(internal=True)


@pytest.mark.parametrize(
    ("rand", "want"),
    [
        pytest.param(0.0, "a", id="start"),
        pytest.param(0.0999, "a", id="end-of-a"),
        pytest.param(0.1, "b", id="start-of-b"),
        pytest.param(0.9999, "b", id="end"),
    ],
)
def test_pick_honours_percents(rand: float, want: str) -> None:
    entry = RouteEntry("ns", "r", 1, (Rule(("h",), "ExternalIP", (Backend("ns", "a", 10), Backend("ns", "b", 90))),))
    targets = RoutingTable([entry]).lookup("h")
    assert targets is not None
    got = pick(targets, rand)
    assert got is not None and got.revision == want


def test_pick_statistics_and_zero_percent_target() -> None:
    entry = RouteEntry(
        "ns",
        "r",
        1,
        (Rule(("h",), "ExternalIP", (Backend("ns", "a", 30), Backend("ns", "z", 0), Backend("ns", "b", 70))),),
    )
    targets = RoutingTable([entry]).lookup("h")
    assert targets is not None
    rng = random.Random(7)
    counts = {"a": 0, "b": 0, "z": 0}
    for _ in range(10_000):
        b = pick(targets, rng.random())
        assert b is not None
        counts[b.revision] += 1
    assert counts["z"] == 0
    assert 2_700 <= counts["a"] <= 3_300


def test_same_revision_entries_merge() -> None:
    entry = RouteEntry("ns", "r", 1, (Rule(("h",), "ExternalIP", (Backend("ns", "a", 40), Backend("ns", "a", 60))),))
    targets = RoutingTable([entry]).lookup("h")
    assert targets is not None and targets.backends == (Backend("ns", "a", 100),)


def test_generation_and_swap() -> None:
    table = RoutingTable([hello(1)])
    assert table.generation("default", "hello") == 1
    newer = table.with_route(hello(2))
    assert newer.generation("default", "hello") == 2
    assert table.generation("default", "hello") == 1, "tables are immutable"
    assert newer.without_route("default", "hello").lookup("hello.default.localhost") is None
    assert newer.generation("default", "other") is None


def test_accepts_the_route_reconcilers_tables() -> None:
    route = RouteTable(
        "ns", "r", 3, (RouteRule(("r.ns.localhost",), "ExternalIP", (WeightedTarget("ns", "r-00003", 100),)),)
    )
    table = RoutingTable([route])
    targets = table.lookup("r.ns.localhost")
    assert targets is not None and targets.backends[0].revision == "r-00003"
    assert table.generation("ns", "r") == 3


@pytest.mark.parametrize(
    ("in_flight", "rand", "want"),
    [
        pytest.param({}, 0.0, ("h", 1), id="all-idle-first"),
        pytest.param({}, 0.99, ("h", 3), id="all-idle-last"),
        pytest.param({("h", 1): 2, ("h", 2): 1, ("h", 3): 5}, 0.5, ("h", 2), id="least"),
        pytest.param({("h", 1): 1, ("h", 2): 0, ("h", 3): 0}, 0.0, ("h", 2), id="tie-low"),
        pytest.param({("h", 1): 1, ("h", 2): 0, ("h", 3): 0}, 0.7, ("h", 3), id="tie-high"),
    ],
)
def test_least_loaded(in_flight: dict[tuple[str, int], int], rand: float, want: tuple[str, int]) -> None:
    assert least_loaded([("h", 1), ("h", 2), ("h", 3)], in_flight, rand) == want


def test_least_loaded_empty() -> None:
    assert least_loaded([], {}, 0.5) is None


def _entry(name: str, generation: int, *hosts: str, revision: str = "r-00001") -> RouteEntry:
    return RouteEntry("default", name, generation, (Rule(hosts, "ExternalIP", (Backend("default", revision, 100),)),))


def _view(table: RoutingTable) -> tuple[object, ...]:
    hosts = table.known_hosts(internal=True)
    picked = [(h, [b.revision for b in t.backends]) for h in hosts if (t := table.lookup(h, internal=True))]
    gens = [(r.name, table.generation("default", r.name)) for r in table.routes]
    return tuple(hosts), tuple(table.known_hosts()), tuple(map(str, picked)), tuple(gens)


def test_with_and_without_route_serve_as_a_table_built_from_scratch() -> None:
    """Changed one route at a time (incrementally: copies, or in place), the table equals one built
    from the same routes in the same order, collisions included (the later route naming a host wins)."""
    steps: list[tuple[str, RouteEntry | None]] = [
        ("a", _entry("a", 1, "a.localhost")),
        ("b", _entry("b", 1, "b.localhost", "shared.localhost", revision="b-00001")),
        ("c", _entry("c", 1, "c.localhost", "shared.localhost", revision="c-00001")),
        ("a", _entry("a", 2, "a.localhost", "a2.localhost", revision="a-00002")),
        ("c", None),
        ("b", _entry("b", 2, "b.localhost")),
        ("a", _entry("a", 3, "shared.localhost", revision="a-00003")),
        ("b", None),
        ("nope", None),
    ]
    table, in_place = RoutingTable(), RoutingTable()
    order: dict[str, RouteEntry] = {}
    for name, entry in steps:
        order.pop(name, None)
        before = _view(table)
        if entry is None:
            changed = table.without_route("default", name)
            in_place.remove("default", name)
        else:
            order[name] = entry
            changed = table.with_route(entry)
            in_place.put(entry)
        assert _view(table) == before, (name, entry)  # a copy changed; the table itself did not
        table = changed
        assert _view(table) == _view(RoutingTable(order.values())), (name, entry)
        assert _view(in_place) == _view(table), (name, entry)
