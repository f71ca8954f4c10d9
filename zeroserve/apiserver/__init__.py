"""The API server: Kubernetes REST conventions over the store (kube-apiserver + Knative's webhook).

Paths, verbs, list/watch, patches, ``Status`` errors and discovery follow Kubernetes, so the
``kubernetes`` Python client and kubectl work against it. Authentication is one bearer token
(``DATA/token``, see :func:`~zeroserve.apiserver.auth.ensure_token`) for one admin user.
"""

from __future__ import annotations

from zeroserve.apiserver.auth import ADMIN_USER, ensure_token
from zeroserve.apiserver.server import Admit, AdmitStatus, ApiServer

__all__ = ["ADMIN_USER", "Admit", "AdmitStatus", "ApiServer", "ensure_token"]
