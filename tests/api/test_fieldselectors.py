"""Field selectors: which fields each kind selects on (kube-apiserver's strategies) and apimachinery's
term syntax with escapes."""

from __future__ import annotations

import pytest

from zeroserve.api import fieldselectors, selectors
from zeroserve.errors import BadRequest

EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "hello.1a2b", "namespace": "default"},
    "involvedObject": {
        "kind": "Service",
        "namespace": "default",
        "name": "hello",
        "uid": "u-1",
        "apiVersion": "serving.knative.dev/v1",
        "resourceVersion": "7",
    },
    "reason": "Created",
    "type": "Normal",
    "reportingComponent": "service-controller",
}


def test_an_event_selects_on_its_involved_object_reason_source_and_type() -> None:
    values = fieldselectors.values("v1", "Event", EVENT)
    assert values == {
        "metadata.name": "hello.1a2b",
        "metadata.namespace": "default",
        "involvedObject.kind": "Service",
        "involvedObject.namespace": "default",
        "involvedObject.name": "hello",
        "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "serving.knative.dev/v1",
        "involvedObject.resourceVersion": "7",
        "involvedObject.fieldPath": "",
        "reason": "Created",
        "reportingComponent": "service-controller",
        "source": "service-controller",  # no source.component: the reporting component stands in
        "type": "Normal",
    }
    assert set(values) == set(fieldselectors.supported("v1", "Event"))


def test_what_kubectl_describe_sends_selects_the_event() -> None:
    # client-go's Events.GetFieldSelector: name, namespace, kind and uid, keys sorted, joined by commas.
    text = (
        "involvedObject.kind=Service,involvedObject.name=hello,involvedObject.namespace=default,involvedObject.uid=u-1"
    )
    selector = selectors.parse_fields(text, fieldselectors.supported("v1", "Event"))
    assert selector.matches(fieldselectors.values("v1", "Event", EVENT))
    other = {**EVENT, "involvedObject": {**EVENT["involvedObject"], "uid": "u-2"}}  # type: ignore[dict-item]
    assert not selector.matches(fieldselectors.values("v1", "Event", other))


@pytest.mark.parametrize(
    ("api_version", "kind", "extra"),
    [
        pytest.param("v1", "Secret", ("type",), id="secret"),
        pytest.param("v1", "Namespace", ("status.phase",), id="namespace"),
        pytest.param("v1", "ConfigMap", (), id="configmap"),
        pytest.param("serving.knative.dev/v1", "Service", (), id="ksvc"),
    ],
)
def test_other_kinds_select_on_metadata_and_their_own_fields(api_version: str, kind: str, extra: tuple[str]) -> None:
    assert fieldselectors.supported(api_version, kind) == ("metadata.name", "metadata.namespace", *extra)


def test_a_kind_without_event_fields_refuses_them() -> None:
    with pytest.raises(BadRequest, match=r"field label not supported: reason"):
        selectors.parse_fields("reason=Created", fieldselectors.supported("v1", "ConfigMap"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param(r"reason=a\,b", "a,b", id="escaped-comma"),
        pytest.param(r"reason=a\=b", "a=b", id="escaped-equals"),
        pytest.param(r"reason=a\\b", "a\\b", id="escaped-backslash"),
        pytest.param("reason==x", "x", id="double-equals"),
        pytest.param("reason=", "", id="empty"),
    ],
)
def test_values_are_unescaped_as_apimachinery_does(text: str, value: str) -> None:
    selector = selectors.parse_fields(text, ["reason"])
    assert selector.matches({"reason": value})
    assert not selector.matches({"reason": value + "x"})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(r"reason=a\b", id="unknown-escape"),
        pytest.param("reason=a=b", id="bare-equals"),
        pytest.param("reason=a\\", id="trailing-backslash"),
        pytest.param("reason", id="no-operator"),
    ],
)
def test_malformed_terms_are_bad_requests(text: str) -> None:
    with pytest.raises(BadRequest, match="invalid field selector"):
        selectors.parse_fields(text, ["reason"])


def test_terms_are_anded_and_blank_terms_skipped() -> None:
    selector = selectors.parse_fields("reason=a,,type!=Warning", ["reason", "type"])
    assert selector.matches({"reason": "a", "type": "Normal"})
    assert not selector.matches({"reason": "a", "type": "Warning"})
