from __future__ import annotations

import pytest

from zeroserve.api.configuration import Configuration, ConfigurationStatus
from zeroserve.api.meta import Condition, ObjectMeta
from zeroserve.api.revision import Revision, RevisionStatus
from zeroserve.api.route import TrafficTarget
from zeroserve.config import DomainConfig, NetworkConfig
from zeroserve.controller import traffic
from zeroserve.controller.traffic import RevisionTarget, TargetError


def rev(name: str, ready: str = "True") -> Revision:
    return Revision(
        metadata=ObjectMeta(name=name, generation=1, labels={"serving.knative.dev/configuration": "hello"}),
        status=RevisionStatus(observed_generation=1, conditions=[Condition(type="Ready", status=ready)]),
    )


def cfg(latest_ready: str | None, ready: str = "True") -> Configuration:
    return Configuration(
        metadata=ObjectMeta(name="hello"),
        status=ConfigurationStatus(
            latest_ready_revision_name=latest_ready, conditions=[Condition(type="Ready", status=ready)]
        ),
    )


REVS = {"hello-00001": rev("hello-00001"), "hello-00002": rev("hello-00002")}
CFGS = {"hello": cfg("hello-00002")}


def tt(**kw: object) -> TrafficTarget:
    return TrafficTarget.model_validate(kw)


def test_same_revision_entries_add_up_in_the_default_route_but_stay_apart_in_status() -> None:
    spec = [
        tt(configurationName="hello", latestRevision=True, percent=50),
        tt(revisionName="hello-00002", percent=30, latestRevision=False),
        tt(revisionName="hello-00001", percent=20, latestRevision=False),
    ]
    tc = traffic.build_traffic(spec, CFGS, REVS)
    assert tc.error is None
    assert tc.targets[""] == [
        RevisionTarget("hello-00002", 80, None, "hello", True),
        RevisionTarget("hello-00001", 20, None, "hello", False),
    ]
    assert [(t.revision_name, t.percent, t.latest_revision) for t in tc.status_traffic] == [
        ("hello-00002", 50, True),
        ("hello-00002", 30, False),
        ("hello-00001", 20, False),
    ]
    assert tc.revisions == {"hello-00001", "hello-00002"}


def test_status_entries_merge_when_tag_revision_and_latest_match() -> None:
    spec = [tt(revisionName="hello-00001", percent=60), tt(revisionName="hello-00001", percent=40)]
    tc = traffic.build_traffic(spec, CFGS, REVS)
    assert [(t.revision_name, t.percent) for t in tc.status_traffic] == [("hello-00001", 100)]


def test_tagged_targets_get_their_own_full_route_even_at_zero_percent() -> None:
    spec = [
        tt(configurationName="hello", latestRevision=True, percent=100),
        tt(revisionName="hello-00001", percent=0, tag="old"),
    ]
    tc = traffic.build_traffic(spec, CFGS, REVS)
    assert tc.targets["old"] == [RevisionTarget("hello-00001", 100, "old", "hello", False)]
    assert [t.revision_name for t in tc.targets[""] if t.percent > 0] == ["hello-00002"]


@pytest.mark.parametrize(
    ("spec", "cfgs", "revs", "want"),
    [
        pytest.param(
            [tt(configurationName="hello", percent=100)],
            {"hello": cfg(None, "Unknown")},
            {},
            TargetError("RevisionMissing", 'Configuration "hello" is waiting for a Revision to become ready.', False),
            id="config-waiting",
        ),
        pytest.param(
            [tt(configurationName="hello", percent=100)],
            {"hello": cfg(None, "False")},
            {},
            TargetError("RevisionMissing", 'Configuration "hello" does not have any ready Revision.', True),
            id="config-failed",
        ),
        pytest.param(
            [tt(revisionName="hello-00003", percent=100)],
            CFGS,
            {"hello-00003": rev("hello-00003", "Unknown")},
            TargetError("RevisionMissing", 'Revision "hello-00003" is not yet ready.', False),
            id="revision-not-ready",
        ),
        pytest.param(
            [tt(revisionName="hello-00003", percent=100)],
            CFGS,
            {"hello-00003": rev("hello-00003", "False")},
            TargetError("RevisionMissing", 'Revision "hello-00003" failed to become ready.', True),
            id="revision-failed",
        ),
        pytest.param(
            [tt(configurationName="nope", percent=100)],
            {},
            {},
            TargetError("ConfigurationMissing", 'Configuration "nope" referenced in traffic not found.', True),
            id="config-missing",
        ),
        pytest.param(
            [tt(revisionName="nope", percent=100)],
            {},
            {},
            TargetError("RevisionMissing", 'Revision "nope" referenced in traffic not found.', True),
            id="revision-missing",
        ),
    ],
)
def test_target_errors(
    spec: list[TrafficTarget], cfgs: dict[str, Configuration], revs: dict[str, Revision], want: TargetError
) -> None:
    tc = traffic.build_traffic(spec, cfgs, revs)
    assert tc.error == want
    assert tc.targets == {}


def test_configurations_are_recorded_even_when_missing() -> None:
    tc = traffic.build_traffic([tt(configurationName="nope", percent=100)], {}, {})
    assert tc.configurations == {"nope"}


NET = NetworkConfig()
DOM = DomainConfig()


def test_urls_default_template_and_port() -> None:
    assert traffic.url("hello", "default", {}, NET, DOM) == "http://hello.default.localhost:8080"
    assert traffic.url("hello", "default", {}, NET, DOM, "candidate") == "http://candidate-hello.default.localhost:8080"
    assert traffic.address_url("hello", "default") == "http://hello.default.svc.cluster.local"
    assert traffic.url("hello", "default", {}, NetworkConfig(external_port=80), DOM) == "http://hello.default.localhost"


def test_cluster_local_visibility_gives_only_the_internal_url() -> None:
    local = {"networking.knative.dev/visibility": "cluster-local"}
    assert traffic.url("hello", "default", local, NET, DOM) == "http://hello.default.svc.cluster.local"
    assert traffic.url("hello", "default", local, NET, DOM, "t") == "http://t-hello.default.svc.cluster.local"


def test_domain_by_selector_most_specific_wins_then_name() -> None:
    domains = DomainConfig(
        domains={
            "example.com": {},
            "b.dev": {"app": "x"},
            "a.dev": {"app": "x"},
            "prod.dev": {"app": "x", "env": "prod"},
        }
    )
    assert traffic.domain_for({}, domains) == "example.com"
    assert traffic.domain_for({"app": "x"}, domains) == "a.dev"
    assert traffic.domain_for({"app": "x", "env": "prod"}, domains) == "prod.dev"
    assert traffic.domain_for({}, DomainConfig(domains={"a.dev": {"app": "x"}})) == "svc.cluster.local"


def test_custom_templates() -> None:
    net = NetworkConfig(domain_template="{{.Name}}-{{.Namespace}}.{{.Domain}}", tag_template="{{.Name}}--{{.Tag}}")
    assert traffic.url("hello", "ns", {}, net, DOM, "c") == "http://hello--c-ns.localhost:8080"


def test_with_urls_sets_tag_urls_only() -> None:
    entries = [TrafficTarget(revision_name="a", percent=100), TrafficTarget(revision_name="a", percent=0, tag="t")]
    out = traffic.with_urls(entries, "hello", "default", {}, NET, DOM)
    assert [e.url for e in out] == [None, "http://t-hello.default.localhost:8080"]
