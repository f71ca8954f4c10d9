"""Tag-header-based routing in the Route's table, as Knative builds its KIngress
(pkg/reconciler/route/resources/ingress.go): only when config-features enables
``tag-header-based-routing``, the default hosts match ``Knative-Serving-Tag: TAG`` to the tag's
targets and set ``Knative-Serving-Default-Route: true``; the tag hosts set ``Knative-Serving-Tag``."""

from __future__ import annotations

import dataclasses

from tests.controller.test_route_reconciler import KEY, two_ready_revisions
from zeroserve.api.kinds import ROUTE
from zeroserve.config import FeaturesConfig
from zeroserve.controller.ingress import RouteRule, TagRoute, WeightedTarget, with_tag_header_routing
from zeroserve.controller.reconcilers import route
from zeroserve.testing import route as route_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NEW, OLD = WeightedTarget("default", "hello-00002", 100), WeightedTarget("default", "hello-00001", 100)
SPLIT = [
    {"configurationName": "hello", "latestRevision": True, "percent": 100},
    {"revisionName": "hello-00001", "latestRevision": False, "percent": 0, "tag": "old"},
]


def test_default_rules_match_every_tag_and_say_default_route_tag_rules_say_their_tag() -> None:
    rules = (
        RouteRule(("hello.default.svc",), "ClusterLocal", (NEW,)),
        RouteRule(("hello.default.localhost",), "ExternalIP", (NEW,)),
        RouteRule(("old-hello.default.svc",), "ClusterLocal", (OLD,), "old"),
        RouteRule(("old-hello.default.localhost",), "ExternalIP", (OLD,), "old"),
    )
    routed = with_tag_header_routing(rules)
    paths = (TagRoute("old", (OLD,)),)
    assert routed == (
        dataclasses.replace(rules[0], headers=(("Knative-Serving-Default-Route", "true"),), tag_routes=paths),
        dataclasses.replace(rules[1], headers=(("Knative-Serving-Default-Route", "true"),), tag_routes=paths),
        dataclasses.replace(rules[2], headers=(("Knative-Serving-Tag", "old"),)),
        dataclasses.replace(rules[3], headers=(("Knative-Serving-Tag", "old"),)),
    )


async def test_the_route_table_routes_by_tag_header_only_when_the_feature_is_enabled(env: Env) -> None:
    await two_ready_revisions(env)
    await env.store.create(ROUTE, route_obj("default", "hello", SPLIT))
    await route.reconcile(env.deps, KEY)
    rules = env.ingress.tables[("default", "hello")].rules
    assert all(rule.headers == () and rule.tag_routes == () for rule in rules)  # Disabled: Knative's default

    env.config = dataclasses.replace(env.config, features=FeaturesConfig({"tag-header-based-routing": "Enabled"}))
    await route.reconcile(env.deps, KEY)
    rules = env.ingress.tables[("default", "hello")].rules
    by = {(r.tag, r.visibility): r for r in rules}
    for visibility in ("ClusterLocal", "ExternalIP"):
        default, old = by[("", visibility)], by[("old", visibility)]
        assert default.headers == (("Knative-Serving-Default-Route", "true"),)
        assert default.tag_routes == (TagRoute("old", (OLD,)),)  # a 0% tag too: by its header
        assert default.targets == (NEW,)
        assert (old.headers, old.tag_routes) == ((("Knative-Serving-Tag", "old"),), ())
