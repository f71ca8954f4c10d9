"""The admission webhook: AdmissionReviews answered with zeroserve's admission (defaults as a JSON
patch, refusals with every field error), over real HTTPS with the certificate it makes, and its
registration in the webhook configurations of an API double on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jsonpatch
import pytest

from tests.kubernetes.conftest import Double, hello
from tests.support.kubeschema import validate
from zeroserve.api import admission
from zeroserve.api.base import Obj
from zeroserve.api.kinds import SERVICE
from zeroserve.config import Config
from zeroserve.kubernetes.apiclient import KubeApi
from zeroserve.kubernetes.kinds import MUTATING_WEBHOOK, VALIDATING_WEBHOOK
from zeroserve.kubernetes.manifests import Options, webhooks
from zeroserve.kubernetes.webhook import DEFAULTING_PATH, VALIDATION_PATH, Webhook, review


def request(obj: Obj, operation: str = "CREATE", old: Obj | None = None, resource: str = "services") -> Obj:
    group = "serving.knative.dev" if resource in ("services", "revisions") else "apps"
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "resource": {"group": group, "version": "v1", "resource": resource},
            "operation": operation,
            "userInfo": {"username": "alice@example.com"},
            "object": obj,
            "oldObject": old,
        },
    }


def patched(obj: Obj, answer: Obj) -> Obj:
    response = answer["response"]
    assert response["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(response["patch"]))
    result: Obj = jsonpatch.apply_patch(obj, ops)
    return result


def test_defaulting_answers_with_the_patch_to_what_admission_makes() -> None:
    obj = hello()
    answer = review(request(obj), Config(), mutate=True)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert answer["response"]["allowed"] is True
    result = patched(obj, answer)
    assert result == admission.admit(SERVICE, copy.deepcopy(obj), None, Config(), user="alice@example.com")
    container = result["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "user-container"
    assert result["spec"]["template"]["spec"]["containerConcurrency"] == 0
    assert result["metadata"]["annotations"]["serving.knative.dev/creator"] == "alice@example.com"
    assert obj == hello(), "the request's object is not changed in place"


def test_validation_refuses_with_every_field_error_and_no_patch() -> None:
    bad = hello()
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    bad["spec"]["template"]["spec"]["containerConcurrency"] = -1
    for mutate in (True, False):
        response = review(request(bad), Config(), mutate=mutate)["response"]
        assert response["allowed"] is False and "patch" not in response
        status = response["status"]
        assert (status["code"], status["reason"]) == (422, "Invalid")
        fields = {c["field"] for c in status["details"]["causes"]}
        assert "spec.template.spec.containerConcurrency" in fields
        assert any("spec.template.spec.containers[0].image" in f for f in fields)
    ok = review(request(hello()), Config(), mutate=False)["response"]
    assert ok == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}


def test_an_update_keeps_the_revision_template_immutable_rules() -> None:
    old = admission.admit(SERVICE, hello(), None, Config(), user="alice")
    new = copy.deepcopy(old)
    new["spec"]["template"]["metadata"] = {"name": "hello-00001"}  # a named template may not change its spec
    old["spec"]["template"]["metadata"] = {"name": "hello-00001"}
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "dev.local/other"
    response = review(request(new, "UPDATE", old), Config(), mutate=False)["response"]
    assert response["allowed"] is False
    assert "spec.template" in json.dumps(response["status"])


@pytest.mark.parametrize(
    "req",
    [
        request({"metadata": {"name": "d"}}, resource="deployments"),  # not a kind zeroserve admits
        request(hello(), operation="DELETE"),
    ],
)
def test_what_it_does_not_admit_is_allowed_unchanged(req: Obj) -> None:
    assert review(req, Config(), mutate=True)["response"] == {"uid": req["request"]["uid"], "allowed": True}


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[Webhook, int]]:
    hook = Webhook(Config, "knative-serving")
    port = await hook.start("127.0.0.1", 0, datetime.now(UTC), ("127.0.0.1",))
    try:
        yield hook, port
    finally:
        await hook.stop()


async def test_it_answers_over_https_with_its_own_certificate(webhook: tuple[Webhook, int], tmp_path: Path) -> None:
    hook, port = webhook
    trust = ssl.create_default_context(cadata=hook.ca_pem.decode())
    async with aiohttp.ClientSession() as session:
        async with session.post(f"https://127.0.0.1:{port}{DEFAULTING_PATH}", json=request(hello()), ssl=trust) as r:
            assert r.status == 200
            answer: dict[str, Any] = await r.json()
        assert patched(hello(), answer)["spec"]["template"]["spec"]["containers"][0]["name"] == "user-container"
        async with session.post(f"https://127.0.0.1:{port}{VALIDATION_PATH}", data=b"not json", ssl=trust) as r:
            assert r.status == 400
    with pytest.raises(aiohttp.ClientConnectorCertificateError):  # a client that does not trust its CA
        async with aiohttp.ClientSession() as session, session.post(f"https://127.0.0.1:{port}{DEFAULTING_PATH}"):
            pass


async def test_registering_writes_the_ca_bundle_and_where_to_call(
    cluster: Double,
    webhook: tuple[Webhook, int],
) -> None:
    hook, _ = webhook
    for obj in webhooks(Options()):
        kind = MUTATING_WEBHOOK if obj["kind"] == "MutatingWebhookConfiguration" else VALIDATING_WEBHOOK
        await cluster.store.create(kind, obj)
    async with KubeApi(cluster.conn) as api:
        await hook.register(api)
        mutating = await cluster.store.get(MUTATING_WEBHOOK, "", "webhook.serving.knative.dev")
        client = mutating["webhooks"][0]["clientConfig"]
        assert base64.b64decode(client["caBundle"]) == hook.ca_pem
        assert client["service"] == {
            "name": "webhook",
            "namespace": "knative-serving",
            "path": "/defaulting",
            "port": 443,
        }
        await hook.register(api, "https://127.0.0.1:18443")
        validating = await cluster.store.get(VALIDATING_WEBHOOK, "", "validation.webhook.serving.knative.dev")
        client = validating["webhooks"][0]["clientConfig"]
        assert client["url"] == "https://127.0.0.1:18443/resource-validation" and "service" not in client
        validate(mutating)
        validate(validating)
