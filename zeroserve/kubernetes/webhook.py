"""Knative's webhook role on a cluster: zeroserve's admission (:mod:`zeroserve.api.admission`) served
as ``admission.k8s.io/v1`` AdmissionReview, so objects written through the cluster's API server are
defaulted and validated as ``zeroserve up``'s API does it.

- ``POST /defaulting`` (the MutatingWebhookConfiguration ``webhook.serving.knative.dev``): the
  object admitted (parsed, defaulted, validated), answered with the JSON patch from what was sent to
  what was admitted; an invalid object is refused with every field error.
- ``POST /resource-validation`` (the ValidatingWebhookConfiguration
  ``validation.webhook.serving.knative.dev``): the same admission, allowed or refused, no patch.

As knative.dev/pkg's webhook does, it makes its own certificate (a CA and a serving certificate for
``webhook.NAMESPACE.svc``) when it starts and writes the CA bundle and its paths into both webhook
configurations (:meth:`Webhook.register`); ``url`` instead of the Service when it runs off the
cluster (the API server then calls that URL). The request's user is the ``creator`` /
``lastModifier`` Knative's defaulting records.
"""

from __future__ import annotations

import base64
import copy
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import jsonpatch
from aiohttp import web

from zeroserve import errors
from zeroserve.api import admission
from zeroserve.api.base import Obj
from zeroserve.api.kinds import API_KINDS, Kind
from zeroserve.apiserver.certs import ensure_serving_certs
from zeroserve.config import Config
from zeroserve.kubernetes.apiclient import KubeApi

log = logging.getLogger(__name__)

DEFAULTING_PATH: Final = "/defaulting"
VALIDATION_PATH: Final = "/resource-validation"
MUTATING: Final = "webhook.serving.knative.dev"
VALIDATING: Final = "validation.webhook.serving.knative.dev"
CONFIGURATIONS: Final = (
    ("mutatingwebhookconfigurations", MUTATING, DEFAULTING_PATH),
    ("validatingwebhookconfigurations", VALIDATING, VALIDATION_PATH),
)
ADMISSION_PATH: Final = "/apis/admissionregistration.k8s.io/v1"
KINDS_BY_RESOURCE: Final = {(k.group, k.plural): k for k in API_KINDS if k.group}


def review(request: Obj, cfg: Config, *, mutate: bool) -> Obj:
    """The AdmissionReview answering ``request`` (an AdmissionReview of ``admission.k8s.io/v1``)."""
    req: dict[str, Any] = request.get("request") or {}
    uid = str(req.get("uid", ""))
    answer: Obj = {"uid": uid, "allowed": True}
    resource = req.get("resource") or {}
    kind = KINDS_BY_RESOURCE.get((str(resource.get("group", "")), str(resource.get("resource", ""))))
    new, old = req.get("object"), req.get("oldObject")
    if kind is not None and req.get("operation") in ("CREATE", "UPDATE") and not req.get("subResource"):
        try:
            admitted = _admit(kind, new, old, cfg, str((req.get("userInfo") or {}).get("username", "")))
        except errors.ApiError as e:
            answer = {"uid": uid, "allowed": False, "status": _status(e)}
        else:
            if mutate:
                patch = jsonpatch.make_patch(new, admitted).patch
                if patch:
                    answer["patchType"] = "JSONPatch"
                    answer["patch"] = base64.b64encode(jsonpatch.JsonPatch(patch).to_string().encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}


def _admit(kind: Kind, new: Any, old: Any, cfg: Config, user: str) -> Obj:
    if not isinstance(new, dict):
        raise errors.BadRequest("the AdmissionReview has no object")
    return admission.admit(
        kind, copy.deepcopy(new), copy.deepcopy(old) if isinstance(old, dict) else None, cfg, user=user
    )


def _status(e: errors.ApiError) -> Obj:
    status: Obj = {"status": "Failure", "message": e.message, "reason": e.reason, "code": e.code}
    if isinstance(e, errors.Invalid):
        status["details"] = {"causes": [{"field": ", ".join(f.paths), "message": f.message} for f in e.errors]}
    return status


class Webhook:
    """The webhook's HTTPS server (``config``: the configuration in force, read for each review)."""

    def __init__(self, config: Callable[[], Config], namespace: str, service: str = "webhook") -> None:
        self.config = config
        self.namespace = namespace
        self.service = service
        self._dir = Path(tempfile.mkdtemp(prefix="zeroserve-webhook-"))
        self._runner: web.AppRunner | None = None
        self.ca_pem = b""

    def hosts(self) -> tuple[str, ...]:
        svc = f"{self.service}.{self.namespace}"
        return (self.service, svc, f"{svc}.svc", f"{svc}.svc.cluster.local")

    async def start(self, host: str, port: int, now: datetime, extra_hosts: tuple[str, ...] = ()) -> int:
        """Listen with a fresh certificate for the Service's names (and ``extra_hosts``); the real port."""
        certs = ensure_serving_certs(self._dir, now, (*self.hosts(), *extra_hosts))
        self.ca_pem = certs.ca_pem()
        app = web.Application(client_max_size=3 * 1024 * 1024)
        app.router.add_post(DEFAULTING_PATH, self._handler(mutate=True))
        app.router.add_post(VALIDATION_PATH, self._handler(mutate=False))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=certs.server_context())
        await site.start()
        return int(self._runner.addresses[0][1])

    def _handler(self, *, mutate: bool) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"message": "not a JSON AdmissionReview"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"message": "not a JSON AdmissionReview"}, status=400)
            return web.json_response(review(body, self.config(), mutate=mutate))

        return handle

    async def register(self, api: KubeApi, url: str = "") -> None:
        """Write the CA bundle and the paths into both webhook configurations; ``url``: call this
        base URL instead of the Service (a webhook off the cluster)."""
        bundle = base64.b64encode(self.ca_pem).decode()
        for resource, name, path in CONFIGURATIONS:
            where = f"{ADMISSION_PATH}/{resource}/{name}"
            try:
                current = await api.request("GET", where)
            except errors.NotFound:
                log.warning("%s %s is not installed: nothing calls the webhook there", resource, name)
                continue
            for hook in current.get("webhooks") or []:
                client: Obj = {"caBundle": bundle}
                if url:
                    client["url"] = url.rstrip("/") + path
                else:
                    client["service"] = {"name": self.service, "namespace": self.namespace, "path": path, "port": 443}
                hook["clientConfig"] = client
            await api.request("PUT", where, body=current)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
