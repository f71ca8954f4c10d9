from __future__ import annotations

import pytest

from zeroserve.api.configuration import Configuration, ConfigurationStatus
from zeroserve.api.meta import Condition, ObjectMeta
from zeroserve.api.revision import Revision, RevisionStatus
from zeroserve.api.route import TrafficTarget
from zeroserve.config import DomainConfig, NetworkConfig
from zeroserve.controller import rollout, traffic
from zeroserve.controller.rollout import RevisionRollout as RR
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


def owned_rev(name: str, service: str | None, ready: str = "True") -> Revision:
    r = rev(name, ready)
    if service is not None:
        r.metadata.labels["serving.knative.dev/service"] = service
    return r


@pytest.mark.parametrize(
    ("service", "rev_service", "want"),
    [
        pytest.param(
            "hello",
            "other",
            TargetError(
                "RevisionNotOwned", 'Revision "other-00001" belongs to Service "other", not Service "hello".', True
            ),
            id="another-service",
        ),
        pytest.param(
            "hello",
            None,
            TargetError("RevisionNotOwned", 'Revision "other-00001" does not belong to Service "hello".', True),
            id="a-standalone-configuration",
        ),
        pytest.param("", "other", None, id="a-standalone-route-names-any"),
        pytest.param("other", "other", None, id="its-own"),
    ],
)
def test_a_service_route_may_only_name_its_own_revisions(
    service: str, rev_service: str | None, want: TargetError | None
) -> None:
    """traffic.go addRevisionTarget / errors.go revisionNotOwnedError."""
    revs = {"other-00001": owned_rev("other-00001", rev_service)}
    tc = traffic.build_traffic([tt(revisionName="other-00001", percent=100)], CFGS, revs, service=service)
    assert tc.error == want
    assert (tc.targets == {}) == (want is not None)


def test_not_owned_comes_before_not_ready() -> None:
    revs = {"other-00001": owned_rev("other-00001", "other", ready="Unknown")}
    tc = traffic.build_traffic([tt(revisionName="other-00001", percent=100)], CFGS, revs, service="hello")
    assert tc.error is not None and tc.error.reason == "RevisionNotOwned"


UNREADY_1 = TargetError("RevisionMissing", 'Revision "hello-00003" is not yet ready.', False)
UNREADY_2 = TargetError("RevisionMissing", 'Revision "hello-00004" is not yet ready.', False)
NO_CFG = TargetError("ConfigurationMissing", 'Configuration "nope" referenced in traffic not found.', True)
NO_REV = TargetError("RevisionMissing", 'Revision "nope" referenced in traffic not found.', True)


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param(["hello-00003", "hello-00004"], UNREADY_1, id="first-of-two-unready"),
        pytest.param(["hello-00003", "cfg:nope"], NO_CFG, id="a-later-failure-wins"),
        pytest.param(["cfg:nope", "hello-00003"], NO_CFG, id="an-earlier-failure-stays"),
        pytest.param(["cfg:nope", "nope", "hello-00003"], NO_REV, id="the-last-failure-wins"),
    ],
)
def test_which_target_error_is_reported(spec: list[str], want: TargetError) -> None:
    """traffic.go deferTargetError: the first error, unless a later one is a failure."""
    revs = {**REVS, "hello-00003": rev("hello-00003", "Unknown"), "hello-00004": rev("hello-00004", "Unknown")}
    targets = [
        tt(configurationName=s.removeprefix("cfg:"), percent=0)
        if s.startswith("cfg:")
        else tt(revisionName=s, percent=0)
        for s in spec
    ]
    assert traffic.build_traffic(targets, CFGS, revs).error == want


@pytest.mark.parametrize(
    ("ready", "want"),
    [
        pytest.param("Unknown", TargetError("RevisionMissing", 'Revision "hello-00002" is not yet ready.', False)),
        pytest.param("False", TargetError("RevisionMissing", 'Revision "hello-00002" failed to become ready.', True)),
    ],
)
def test_a_configuration_whose_latest_ready_revision_is_no_longer_ready_is_unready(
    ready: str, want: TargetError
) -> None:
    """traffic.go addConfigurationTarget: ``if !rev.IsReady() { return errUnreadyRevision(rev) }``."""
    revs = {**REVS, "hello-00002": rev("hello-00002", ready)}
    tc = traffic.build_traffic([tt(configurationName="hello", latestRevision=True, percent=100)], CFGS, revs)
    assert tc.error == want and tc.targets == {}


def test_a_revision_target_needs_its_configuration() -> None:
    """traffic.go addRevisionTarget looks up the revision's serving.knative.dev/configuration."""
    tc = traffic.build_traffic([tt(revisionName="hello-00001", percent=100)], {}, REVS)
    assert tc.error == TargetError(
        "ConfigurationMissing", 'Configuration "hello" referenced in traffic not found.', True
    )


def test_a_rollout_splits_latest_targets_in_the_table_and_in_status() -> None:
    spec = [
        tt(configurationName="hello", latestRevision=True, percent=80, tag="latest"),
        tt(revisionName="hello-00001", latestRevision=False, percent=20),
    ]
    tc = traffic.build_traffic(spec, CFGS, REVS)
    assert traffic.latest_targets(tc) == [
        rollout.LatestTarget("", "hello", "hello-00002", 80),
        rollout.LatestTarget("latest", "hello", "hello-00002", 100),
    ]
    ro = rollout.Rollout(
        [
            rollout.ConfigurationRollout("hello", "", 80, [RR("hello-00001", 75), RR("hello-00002", 5)]),
            rollout.ConfigurationRollout("hello", "latest", 100, [RR("hello-00001", 95), RR("hello-00002", 5)]),
        ]
    )
    rolled = traffic.with_rollout(tc, ro)
    assert [(t.revision_name, t.percent) for t in rolled.targets[""]] == [
        ("hello-00001", 75),
        ("hello-00002", 5),
        ("hello-00001", 20),
    ]
    assert [(t.revision_name, t.percent) for t in rolled.targets["latest"]] == [("hello-00001", 95), ("hello-00002", 5)]
    assert [(t.tag, t.revision_name, t.percent, t.latest_revision) for t in traffic.status_traffic(tc, ro)] == [
        ("latest", "hello-00001", 95, True),
        ("latest", "hello-00002", 5, True),
        (None, "hello-00001", 20, False),
    ]
    assert traffic.status_traffic(tc) == tc.status_traffic
