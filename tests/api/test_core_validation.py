"""Admission of ConfigMap, Secret and Namespace: kube-apiserver's rules and words (pure, table-driven)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from zeroserve.api import admission, corevalidation, kinds
from zeroserve.api.base import Obj
from zeroserve.api.corevalidation import KubeInvalid
from zeroserve.apiserver.status import status_for
from zeroserve.config import Config

NS = "default"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cm(**fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}, **fields}


def secret(**fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS}, **fields}


def admit(kind: kinds.Kind, new: Obj, old: Obj | None = None) -> Obj:
    return admission.admit(kind, new, old, Config())


def refusal(kind: kinds.Kind, new: Obj, old: Obj | None = None) -> str:
    with pytest.raises(KubeInvalid) as info:
        admit(kind, new, old)
    return info.value.message


KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


@pytest.mark.parametrize(
    ("kind", "obj", "message"),
    [
        pytest.param(
            kinds.CONFIGMAP,
            cm(data={"a b": "1"}),
            f'ConfigMap "c" is invalid: data[a b]: Invalid value: "a b": {KEY_RULE}',
            id="configmap-key-charset",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(data={"..x": "1"}),
            'ConfigMap "c" is invalid: data[..x]: Invalid value: "..x": must not start with \'..\'',
            id="configmap-key-dotdot",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(data={"k" * 254: "1"}),
            f'ConfigMap "c" is invalid: data[{"k" * 254}]: Invalid value: "{"k" * 254}": '
            "must be no more than 253 characters",
            id="configmap-key-long",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(data={"k": "1"}, binaryData={"k": "AA=="}),
            'ConfigMap "c" is invalid: data[k]: Invalid value: "k": duplicate of key present in binaryData',
            id="configmap-overlap",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(data={"a": "x" * (1 << 20)}, binaryData={"b": "AA=="}),
            'ConfigMap "c" is invalid: []: Too long: must have at most 1048576 bytes',
            id="configmap-1mib",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(binaryData={"b": "%%"}),
            'ConfigMap "c" is invalid: binaryData[b]: Invalid value: "<secret contents redacted>": '
            "illegal base64 data at input byte 0",
            id="configmap-binary-not-base64",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            {**cm(), "metadata": {"name": "Bad_Name", "namespace": NS}},
            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
            "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            id="configmap-name",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            {**cm(), "metadata": {"namespace": NS}},
            'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
            id="configmap-no-name",
        ),
        pytest.param(
            kinds.SECRET,
            secret(data={"k": "not base64!"}),
            'Secret "s" is invalid: data[k]: Invalid value: "<secret contents redacted>": '
            "illegal base64 data at input byte 3",
            id="secret-data-not-base64",
        ),
        pytest.param(
            kinds.SECRET,
            secret(data={"k": "czNjcmV0"[:-1]}),
            'Secret "s" is invalid: data[k]: Invalid value: "<secret contents redacted>": '
            "illegal base64 data at input byte 6",
            id="secret-data-bad-padding",
        ),
        pytest.param(
            kinds.SECRET,
            secret(stringData={"a/b": "x"}),
            f'Secret "s" is invalid: data[a/b]: Invalid value: "a/b": {KEY_RULE}',
            id="secret-stringdata-key",
        ),
        pytest.param(
            kinds.SECRET,
            secret(stringData={"a": "x" * (1 << 20), "b": "y"}),
            'Secret "s" is invalid: data: Too long: must have at most 1048576 bytes',
            id="secret-1mib",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/dockerconfigjson"),
            'Secret "s" is invalid: data[.dockerconfigjson]: Required value',
            id="dockerconfigjson-missing",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": '{"auths": s3cret'}),
            'Secret "s" is invalid: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '
            "invalid JSON at offset 10: Expecting value",
            id="dockerconfigjson-not-json",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/dockercfg", stringData={".dockercfg": "[1]"}),
            'Secret "s" is invalid: data[.dockercfg]: Invalid value: "<secret contents redacted>": '
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
            id="dockercfg-not-an-object",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/tls", stringData={"tls.crt": "c"}),
            'Secret "s" is invalid: data[tls.key]: Required value',
            id="tls-key-missing",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/tls"),
            'Secret "s" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]',
            id="tls-both-missing",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/basic-auth"),
            'Secret "s" is invalid: [data[password]: Required value, data[username]: Required value]',
            id="basic-auth-neither",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/ssh-auth", stringData={"ssh-privatekey": ""}),
            'Secret "s" is invalid: data[ssh-privatekey]: Required value',
            id="ssh-auth-empty",
        ),
        pytest.param(
            kinds.SECRET,
            secret(type="kubernetes.io/service-account-token"),
            'Secret "s" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value',
            id="service-account-token",
        ),
        pytest.param(
            kinds.SECRET,
            secret(data={"k": 5}),
            'Secret "s" is invalid: data.k: invalid type: got "integer", expected "string"',
            id="secret-value-type",
        ),
        pytest.param(
            kinds.NAMESPACE,
            {"metadata": {"name": "a.b"}},
            'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must '
            "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
            "character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            id="namespace-name-is-a-label",
        ),
        pytest.param(
            kinds.NAMESPACE,
            {"metadata": {"name": "n"}, "spec": {"finalizers": ["mine"]}},
            'Namespace "n" is invalid: spec.finalizers[0]: Invalid value: "mine": '
            "name is neither a standard finalizer name nor is it fully qualified",
            id="namespace-finalizer",
        ),
    ],
)
def test_refusals(kind: kinds.Kind, obj: Obj, message: str) -> None:
    assert refusal(kind, obj) == message


def test_secret_values_never_in_a_refusal() -> None:
    obj = secret(
        type="kubernetes.io/dockerconfigjson",
        data={"bad": "s3cret!!"},
        stringData={".dockerconfigjson": "s3cret"},
    )
    with pytest.raises(KubeInvalid) as info:
        admit(kinds.SECRET, obj)
    assert "s3cret" not in str(status_for(info.value, kinds.SECRET, "s"))
    obj = secret(type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": "s3cret"})
    with pytest.raises(KubeInvalid) as info:
        admit(kinds.SECRET, obj)
    assert "s3cret" not in str(status_for(info.value, kinds.SECRET, "s"))


def test_string_data_is_merged_into_data_and_dropped() -> None:
    got = admit(kinds.SECRET, secret(data={"a": b64("1"), "b": b64("2")}, stringData={"b": "two", "c": "3"}))
    assert got["data"] == {"a": b64("1"), "b": b64("two"), "c": b64("3")}
    assert "stringData" not in got
    assert got["type"] == "Opaque", "SetDefaults_Secret"


def test_base64_is_stored_canonical() -> None:
    got = admit(kinds.SECRET, secret(data={"a": "czNj\ncmV0"}))  # Go's decoder skips line breaks
    assert got["data"] == {"a": "czNjcmV0"}


def test_valid_types_pass() -> None:
    config = '{"auths": {"r.example": {"auth": "eDp5"}}}'
    admit(kinds.SECRET, secret(type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": config}))
    admit(kinds.SECRET, secret(type="kubernetes.io/tls", stringData={"tls.crt": "c", "tls.key": "k"}))
    admit(kinds.SECRET, secret(type="kubernetes.io/basic-auth", stringData={"username": ""}))
    admit(kinds.SECRET, secret(type="example.com/custom", data={}))
    admit(kinds.CONFIGMAP, cm(data={"a.b_C-1": "x"}, binaryData={"bin": b64("\x00\x01")}))


@pytest.mark.parametrize(
    ("kind", "old", "new", "message"),
    [
        pytest.param(
            kinds.CONFIGMAP,
            cm(immutable=True, data={"k": "v"}),
            cm(immutable=True, data={"k": "w"}),
            'ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set',
            id="configmap-data",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(immutable=True, binaryData={"k": "AA=="}),
            cm(immutable=True),
            'ConfigMap "c" is invalid: binaryData: Forbidden: field is immutable when `immutable` is set',
            id="configmap-binary-data",
        ),
        pytest.param(
            kinds.CONFIGMAP,
            cm(immutable=True, data={"k": "v"}),
            cm(data={"k": "v"}),
            'ConfigMap "c" is invalid: immutable: Forbidden: field is immutable when `immutable` is set',
            id="configmap-immutable-off",
        ),
        pytest.param(
            kinds.SECRET,
            secret(immutable=True, data={"k": b64("v")}, type="Opaque"),
            secret(immutable=True, stringData={"k": "w"}),
            'Secret "s" is invalid: data: Forbidden: field is immutable when `immutable` is set',
            id="secret-string-data",
        ),
        pytest.param(
            kinds.SECRET,
            secret(data={"k": b64("v")}, type="Opaque"),
            secret(data={"k": b64("v")}, type="example.com/other"),
            'Secret "s" is invalid: type: Invalid value: "example.com/other": field is immutable',
            id="secret-type",
        ),
    ],
)
def test_update_refusals(kind: kinds.Kind, old: Obj, new: Obj, message: str) -> None:
    assert refusal(kind, new, old) == message


def test_immutable_may_stay_unchanged_and_metadata_may_change() -> None:
    old = admit(kinds.SECRET, secret(immutable=True, stringData={"k": "v"}))
    new = {**old, "metadata": {**old["metadata"], "labels": {"a": "b"}}}
    assert admit(kinds.SECRET, new, old)["metadata"]["labels"] == {"a": "b"}


def test_namespace_defaults_and_update_keeps_finalizers_and_status() -> None:
    created = admit(kinds.NAMESPACE, {"metadata": {"name": "prod"}})
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": "prod"}
    assert created["spec"] == {"finalizers": ["kubernetes"]}
    stored = {**created, "status": {"phase": "Active"}}
    updated = admit(kinds.NAMESPACE, {"metadata": {"name": "prod"}, "spec": {"finalizers": []}}, stored)
    assert updated["spec"] == {"finalizers": ["kubernetes"]}, "finalizers change only through /finalize"
    assert updated["status"] == {"phase": "Active"}


def test_namespace_status_phase_follows_deletion() -> None:
    ns = {"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}
    with pytest.raises(KubeInvalid) as info:
        admission.admit_status(kinds.NAMESPACE, ns, ns)
    assert info.value.message == (
        'Namespace "n" is invalid: status.Phase: Invalid value: "Terminating": '
        "A namespace may only be in active status if it does not have a deletion timestamp."
    )


def test_finalize_changes_only_spec_finalizers() -> None:
    old = {"metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"finalizers": ["kubernetes"]}}
    new = {"metadata": {"name": "n"}, "spec": {"finalizers": ["example.com/x"]}}
    got = corevalidation.admit_finalize(new, old)
    assert got["metadata"]["labels"] == {"a": "b"}
    assert got["spec"] == {"finalizers": ["example.com/x"]}


def test_causes_carry_kubernetes_reasons() -> None:
    with pytest.raises(KubeInvalid) as info:
        admit(kinds.SECRET, secret(type="kubernetes.io/tls", data={"a b": ""}))
    causes = status_for(info.value, kinds.SECRET, "s")["details"]["causes"]
    assert causes == [
        {"reason": "FieldValueInvalid", "message": f'Invalid value: "a b": {KEY_RULE}', "field": "data[a b]"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "data[tls.crt]"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "data[tls.key]"},
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cm", kinds.CONFIGMAP),
        ("configmaps", kinds.CONFIGMAP),
        ("ConfigMap", kinds.CONFIGMAP),
        ("secret", kinds.SECRET),
        ("secrets", kinds.SECRET),
        ("ns", kinds.NAMESPACE),
        ("namespaces", kinds.NAMESPACE),
    ],
)
def test_the_cli_finds_the_core_kinds(name: str, kind: kinds.Kind) -> None:
    assert kinds.lookup(name) is kind
    assert (kind.group, kind.version, kind.api_version) == ("", "v1", "v1")
    assert kind.categories == ()
