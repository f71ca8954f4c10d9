"""Broker and Trigger admission: defaults and validation, through admit().

Expected messages and paths are Knative's: pkg/apis/eventing/v1/{broker,trigger}_{defaults,validation}_test.go,
pkg/apis/duck/v1/delivery_types_test.go and knative.dev/pkg apis/duck/v1/destination_test.go.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.kinds import BROKER, TRIGGER, Kind, lookup
from zeroserve.config import Config, FeaturesConfig
from zeroserve.config.eventing import parse_br_defaults
from zeroserve.errors import Invalid

KSVC = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "sink"}
DEFAULT_CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "name": "config-br-default-channel",
    "namespace": "knative-eventing",
}
DEFAULT_DELIVERY = {"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"}


def broker(name: str = "default", annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": meta, "spec": spec}


def trigger(name: str = "t", annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns"}
    if annotations is not None:
        meta["annotations"] = annotations
    body = {"broker": "default", "subscriber": {"ref": dict(KSVC)}, **spec}
    return {"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "metadata": meta, "spec": body}


def errors_of(kind: Kind, obj: Obj, old: Obj | None = None, cfg: Config | None = None) -> list[str]:
    with pytest.raises(Invalid) as info:
        admit(kind, obj, old, cfg or Config())
    return [str(e) for e in info.value.errors]


def test_kinds_are_knatives() -> None:
    assert (BROKER.api_version, BROKER.plural, BROKER.short_names, BROKER.categories) == (
        "eventing.knative.dev/v1",
        "brokers",
        (),
        ("all", "knative", "eventing"),
    )
    assert lookup("trigger") is TRIGGER and lookup("brokers") is BROKER


# ----------------------------------------------------------------------------- Broker defaults


def test_broker_defaults_from_config_br_defaults() -> None:
    out = admit(BROKER, broker(), None, Config())
    assert out["metadata"]["annotations"] == {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}
    assert out["spec"] == {"config": DEFAULT_CONFIG, "delivery": DEFAULT_DELIVERY}


def test_broker_delivery_and_config_given_are_kept_and_refs_namespaced() -> None:
    delivery = {"retry": 2, "deadLetterSink": {"ref": dict(KSVC)}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "name": "mine"}
    out = admit(BROKER, broker(delivery=delivery, config=config), None, Config())
    assert out["spec"]["delivery"] == {"retry": 2, "deadLetterSink": {"ref": {**KSVC, "namespace": "ns"}}}
    assert out["spec"]["config"] == {**config, "namespace": "ns"}


def test_broker_class_given_is_kept_and_namespace_defaults_apply() -> None:
    data = """
clusterDefault:
  brokerClass: MTChannelBasedBroker
  apiVersion: v1
  kind: ConfigMap
  name: cluster
  namespace: knative-eventing
namespaceDefaults:
  ns:
    brokerClass: Kafka
    apiVersion: v1
    kind: ConfigMap
    name: ns-config
    namespace: ns
    delivery: {retry: 3}
"""
    cfg = Config(br_defaults=parse_br_defaults({"default-br-config": data}))
    out = admit(BROKER, broker(), None, cfg)
    assert out["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    assert out["spec"] == {
        "config": {**DEFAULT_CONFIG, "name": "ns-config", "namespace": "ns"},
        "delivery": {"retry": 3},
    }
    mine = admit(BROKER, broker(annotations={"eventing.knative.dev/broker.class": "Other"}), None, cfg)
    assert mine["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Other"


# ----------------------------------------------------------------------------- Broker validation

CLASS = {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"delivery": {"retry": -1}},
            ["invalid value: -1: spec.delivery.retry"],
            id="negative retry",
        ),
        pytest.param(
            {"delivery": {"backoffPolicy": "fibonacci"}},
            ["invalid value: fibonacci: spec.delivery.backoffPolicy"],
            id="backoff policy",
        ),
        pytest.param(
            {"delivery": {"backoffDelay": "0.2s"}},
            ["invalid value: 0.2s: spec.delivery.backoffDelay"],
            id="backoff delay not ISO-8601",
        ),
        pytest.param(
            {"delivery": {"timeout": "PT0S"}},
            ["invalid value: PT0S: spec.delivery.timeout"],
            id="zero timeout",
        ),
        pytest.param(
            {"delivery": {"format": "xml"}},
            ["invalid value: xml: spec.delivery.format"],
            id="format",
        ),
        pytest.param(
            {"delivery": {"retryAfterMax": "PT1S"}},
            ["must not set the field(s): spec.delivery.retryAfterMax"],
            id="retryAfterMax behind delivery-retryafter",
        ),
        pytest.param(
            {"delivery": {"deadLetterSink": {}}},
            ["expected at least one, got none: spec.delivery.deadLetterSink.ref, spec.delivery.deadLetterSink.uri"],
            id="empty dead letter sink",
        ),
        pytest.param(
            {"delivery": {"deadLetterSink": {"uri": "/relative"}}},
            [
                "invalid value: Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent: "
                "spec.delivery.deadLetterSink.uri"
            ],
            id="relative uri without ref",
        ),
        pytest.param(
            {"delivery": {"deadLetterSink": {"ref": {"kind": "Service"}}}},
            ["missing field(s): spec.delivery.deadLetterSink.ref.apiVersion, spec.delivery.deadLetterSink.ref.name"],
            id="ref fields",
        ),
        pytest.param(
            {"config": {"kind": "ConfigMap", "name": "x", "group": "core"}},
            ["missing field(s): spec.config.apiVersion", "must not set the field(s): spec.config.group"],
            id="config ref with group",
        ),
    ],
)
def test_broker_validation(spec: Obj, expected: list[str]) -> None:
    assert errors_of(BROKER, broker(annotations=dict(CLASS), **spec)) == expected


def test_broker_durations_and_flags() -> None:
    ok = {"timeout": "PT2S", "backoffDelay": "PT0.5S", "backoffPolicy": "linear", "format": "json", "retry": 0}
    assert admit(BROKER, broker(delivery=ok), None, Config())["spec"]["delivery"] == ok
    flags = FeaturesConfig({**FeaturesConfig().flags, "delivery-retryafter": "Enabled", "delivery-timeout": "Disabled"})
    cfg = Config(features=flags)
    assert admit(BROKER, broker(delivery={"retryAfterMax": "PT0S"}), None, cfg)["spec"]["delivery"] == {
        "retryAfterMax": "PT0S"
    }
    assert errors_of(BROKER, broker(delivery={"timeout": "PT1S"}), cfg=cfg) == [
        "must not set the field(s): spec.delivery.timeout"
    ]


def test_broker_class_must_not_be_empty() -> None:
    empty = parse_br_defaults({"default-br-config": "namespaceDefaults: {}"})
    assert errors_of(BROKER, broker(), cfg=Config(br_defaults=empty)) == [
        "missing field(s): eventing.knative.dev/broker.class"
    ]


def test_broker_dead_letter_sink_may_name_another_namespace_by_default() -> None:
    dls = {"ref": {**KSVC, "namespace": "elsewhere"}}
    assert admit(BROKER, broker(delivery={"deadLetterSink": dls}), None, Config())
    data = "clusterDefault: {brokerClass: B, disallowDifferentNamespaceConfig: true, delivery: {retry: 1}}"
    cfg = Config(br_defaults=parse_br_defaults({"default-br-config": data}))
    errs = errors_of(BROKER, broker(delivery={"deadLetterSink": dls}), cfg=cfg)
    assert errs == [
        "mismatched namespaces: spec.delivery.deadLetterSink.ref.namespace\n"
        'parent namespace: "ns" does not match ref: "elsewhere"'
    ]


def test_broker_spec_but_delivery_and_class_are_immutable() -> None:
    old = admit(BROKER, broker(), None, Config())
    changed = copy.deepcopy(old)
    changed["spec"]["delivery"] = {"retry": 1}
    assert admit(BROKER, changed, old, Config())["spec"]["delivery"] == {"retry": 1}
    changed["spec"]["config"]["name"] = "other"
    [err] = errors_of(BROKER, changed, old)
    assert err.startswith("Immutable fields changed (-old +new): spec\n{config.name}:")
    reclassed = copy.deepcopy(old)
    reclassed["metadata"]["annotations"]["eventing.knative.dev/broker.class"] = "Kafka"
    [err] = errors_of(BROKER, reclassed, old)
    assert err.startswith("Immutable annotations changed (-old +new): annotations\n")


# ----------------------------------------------------------------------------- Trigger


def test_trigger_defaults() -> None:
    out = admit(TRIGGER, trigger(), None, Config())
    assert out["metadata"]["labels"] == {"eventing.knative.dev/broker": "default"}
    assert out["spec"]["filter"] == {}
    assert out["spec"]["subscriber"] == {"ref": {**KSVC, "namespace": "ns"}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(trigger(broker=None), ["missing field(s): spec.broker"], id="no broker"),
        pytest.param(
            trigger(
                brokerRef={"name": "b", "namespace": "other", "kind": "Broker", "apiVersion": "eventing.knative.dev/v1"}
            ),
            [
                "expected exactly one, got both: spec.broker, spec.brokerRef",
                "must not set the field(s): spec.namespace\n"
                "only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled",
            ],
            id="broker and brokerRef",
        ),
        pytest.param(
            trigger(subscriber={}),
            ["expected at least one, got none: spec.subscriber.ref, spec.subscriber.uri"],
            id="no subscriber",
        ),
        pytest.param(
            trigger(subscriber={"ref": dict(KSVC), "uri": "http://example.com/"}),
            [
                "Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present: "
                "spec.subscriber.ref, spec.subscriber.uri, spec.subscriber[apiVersion, kind, name]"
            ],
            id="ref and absolute uri",
        ),
        pytest.param(
            trigger(filter={"attributes": {"Type": "x", "ok1": "y", "1bad": "z"}}),
            [
                'invalid key name "1bad": spec.filter.attributes[1bad]\n'
                "Attribute name must start with a letter and can only contain lowercase alphanumeric",
                'invalid key name "Type": spec.filter.attributes[Type]\n'
                "Attribute name must start with a letter and can only contain lowercase alphanumeric",
            ],
            id="attribute names",
        ),
        pytest.param(
            trigger(filters=[{"exact": {"type": "a"}, "prefix": {"type": "b"}}]),
            ["multiple dialects found, filters can have only one dialect set: spec.filters[0]"],
            id="two dialects",
        ),
        pytest.param(
            trigger(filters=[{"exact": {"type": "a"}}, {"any": [{"suffix": {"Bad": "x"}}]}, {"not": {"all": [{}]}}]),
            [
                'invalid key name "Bad": spec.filters[1].any[0].suffix[Bad]\n'
                "Attribute name must start with a letter and can only contain lowercase alphanumeric"
            ],
            id="nested filters each indexed once",
        ),
        pytest.param(
            trigger(filters=[{"cesql": "type = 'x'"}]),
            [
                "invalid value: type = 'x': spec.filters[0].cesql\n"
                "CESQL expressions are not supported by zeroserve; use exact, prefix, suffix, all, any or not"
            ],
            id="cesql refused",
        ),
        pytest.param(
            trigger(delivery={"retry": -2, "deadLetterSink": {"uri": "http://dls.example.com"}}),
            ["invalid value: -2: spec.delivery.retry"],
            id="delivery",
        ),
        pytest.param(
            trigger(annotations={"knative.dev/dependency": '{"kind": "PingSource", "namespace": "other"}'}),
            [
                'Namespace must be empty or equal to the trigger namespace "ns": '
                "metadata.annotations[knative.dev/dependency].namespace",
                "missing field(s): metadata.annotations[knative.dev/dependency].apiVersion, "
                "metadata.annotations[knative.dev/dependency].name",
            ],
            id="dependency annotation",
        ),
        pytest.param(
            trigger(annotations={"eventing.knative.dev/injection": "yes"}),
            [
                'The provided injection annotation value can only be "enabled" or "disabled", not "yes": '
                "metadata.annotations[eventing.knative.dev/injection]"
            ],
            id="injection annotation",
        ),
    ],
)
def test_trigger_validation(obj: Obj, expected: list[str]) -> None:
    assert errors_of(TRIGGER, obj) == expected


def test_trigger_accepts_every_dialect_alone() -> None:
    filters = [
        {"exact": {"type": "order.created"}},
        {"prefix": {"source": "/orders"}},
        {"suffix": {"subject": ".json"}},
        {"all": [{"exact": {"type": "a"}}]},
        {"any": [{"exact": {"type": "a"}}, {"exact": {"type": "b"}}]},
        {"not": {"exact": {"type": "c"}}},
    ]
    out = admit(TRIGGER, trigger(filters=filters, filter={"attributes": {"type": "", "source": "x"}}), None, Config())
    assert out["spec"]["filters"] == filters
    assert out["spec"]["filter"] == {"attributes": {"type": "", "source": "x"}}


def test_trigger_broker_is_immutable_and_subscriber_may_change() -> None:
    old = admit(TRIGGER, trigger(), None, Config())
    moved = copy.deepcopy(old)
    moved["spec"]["subscriber"] = {"uri": "http://example.com/"}
    assert admit(TRIGGER, moved, old, Config())["spec"]["subscriber"] == {"uri": "http://example.com/"}
    moved["spec"]["broker"] = "other"
    [err] = errors_of(TRIGGER, moved, old)
    assert err.startswith("Immutable fields changed (-old +new): spec.broker\n")


def test_unknown_fields_and_wrong_types_are_refused_with_paths() -> None:
    errs = errors_of(TRIGGER, trigger(delivery={"retry": "3", "retries": 1}))
    assert any("spec.delivery.retries" in e for e in errs) and any("spec.delivery.retry" in e for e in errs)
