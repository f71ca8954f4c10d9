"""Admission of Channels, InMemoryChannels, Subscriptions, Sequences and Parallels: Knative's defaults
and validation messages (pkg/apis/messaging/v1, pkg/apis/flows/v1 *_validation_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api.admission import admit
from zeroserve.api.kinds import CHANNEL, IN_MEMORY_CHANNEL, PARALLEL, SEQUENCE, SUBSCRIPTION, Kind
from zeroserve.config import Config
from zeroserve.config.parse import parse_config
from zeroserve.errors import Invalid

MSG = "messaging.knative.dev/v1"
KSVC = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}}
CH = {"apiVersion": MSG, "kind": "Channel", "name": "c"}


def obj(kind: Kind, spec: dict[str, Any], name: str = "x") -> dict[str, Any]:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }


def errors(kind: Kind, spec: dict[str, Any], old: dict[str, Any] | None = None, cfg: Config | None = None) -> str:
    with pytest.raises(Invalid) as e:
        admit(kind, obj(kind, spec), obj(kind, old) if old is not None else None, cfg or Config())
    return "\n".join(str(err) for err in e.value.errors)


def test_channel_gets_the_default_template_per_namespace() -> None:
    cfg = parse_config(
        {
            "default-ch-webhook": {
                "default-ch-config": "clusterDefault: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}\n"
                "namespaceDefaults:\n  ns: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel}\n"
            }
        }
    )
    got = admit(CHANNEL, obj(CHANNEL, {}), None, cfg)
    assert got["spec"]["channelTemplate"] == {"apiVersion": "messaging.knative.dev/v1beta1", "kind": "KafkaChannel"}
    assert got["metadata"]["annotations"] == {"messaging.knative.dev/subscribable": "v1"}


def test_channel_validation() -> None:
    assert (
        errors(CHANNEL, {"channelTemplate": {"kind": "InMemoryChannel"}})
        == "missing field(s): spec.channelTemplate.apiVersion"
    )
    subs = {"channelTemplate": {"apiVersion": MSG, "kind": "InMemoryChannel"}, "subscribers": [{"uid": "1"}]}
    assert errors(CHANNEL, subs) == "must not set the field(s): spec.subscribable.subscribers"
    template = {"apiVersion": MSG, "kind": "InMemoryChannel"}
    changed = errors(CHANNEL, {"channelTemplate": {**template, "spec": {"a": 1}}}, old={"channelTemplate": template})
    assert changed.startswith("Immutable fields changed (-old +new): spec")


def test_in_memory_channel_subscriber_needs_a_uri() -> None:
    assert errors(IN_MEMORY_CHANNEL, {"subscribers": [{"uid": "1"}]}) == (
        "missing field(s): spec.subscribable.subscriber[0].replyURI, spec.subscribable.subscriber[0].subscriberURI\n"
        "expected at least one of, got none"
    )


def test_subscription_validation() -> None:
    assert errors(SUBSCRIPTION, {"subscriber": KSVC}) == (
        "missing field(s): spec.channel\nthe Subscription must reference a channel"
    )
    assert errors(SUBSCRIPTION, {"channel": CH}) == (
        "missing field(s): spec.subscriber\nthe Subscription must reference a subscriber"
    )
    assert errors(SUBSCRIPTION, {"channel": {**CH, "namespace": "other"}, "subscriber": KSVC}).startswith(
        "must not set the field(s): spec.channel.namespace"
    )
    assert errors(SUBSCRIPTION, {"channel": CH, "subscriber": KSVC, "reply": {"uri": "/relative"}}) == (
        "invalid value: Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent: spec.reply.uri"
    )
    moved = errors(
        SUBSCRIPTION, {"channel": {**CH, "name": "d"}, "subscriber": KSVC}, old={"channel": CH, "subscriber": KSVC}
    )
    assert moved.startswith("Immutable fields changed (-old +new): spec")
    got = admit(SUBSCRIPTION, obj(SUBSCRIPTION, {"channel": CH, "subscriber": KSVC}), None, Config())
    assert got["spec"]["subscriber"]["ref"]["namespace"] == "ns"


def test_sequence_and_parallel_validation() -> None:
    assert errors(SEQUENCE, {}) == "missing field(s): spec.steps"
    bad_step = errors(SEQUENCE, {"steps": [KSVC, {"uri": "rel"}]})
    assert bad_step.startswith('invalid value: {"uri":"rel"}: spec.steps[1]\ninvalid value: Relative URI')
    assert errors(PARALLEL, {}) == "missing field(s): spec.branches"
    no_subscriber = errors(PARALLEL, {"branches": [{"filter": KSVC}]})
    assert no_subscriber.startswith("invalid value: ") and "spec.branches.subscriber[0]" in no_subscriber
    got = admit(SEQUENCE, obj(SEQUENCE, {"steps": [KSVC]}), None, Config())
    assert got["spec"]["channelTemplate"] == {"apiVersion": MSG, "kind": "InMemoryChannel"}
    assert got["spec"]["steps"][0]["ref"]["namespace"] == "ns"
