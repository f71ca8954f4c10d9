"""The Kubernetes backend's API double: zeroserve's own API server on 127.0.0.1 serving, beside
Knative's kinds (really admitted: defaults and validation), the cluster's kinds the backend reads and
writes (Deployments, Pods, Services, CRDs, webhook configurations). No kube-apiserver can run in CI."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apiserver.apiserver_helpers import TOKEN
from zeroserve.api import admission
from zeroserve.api.base import Obj
from zeroserve.api.kinds import API_KINDS
from zeroserve.apiserver import ADMIN_USER, ApiServer
from zeroserve.config import Config
from zeroserve.kubernetes.apiclient import Connection
from zeroserve.kubernetes.kinds import CLUSTER_KINDS
from zeroserve.store import SqliteStore

DOUBLE_KINDS = (
    *(k for k in API_KINDS if k.group or k.plural not in ("pods", "services")),
    *CLUSTER_KINDS,
)
"""What the double serves: zeroserve's kinds (its read-only Pods and Services give way to writable ones)."""


@dataclass
class Double:
    store: SqliteStore
    """The double's storage: what the cluster holds, written directly where the cluster's own parts would."""
    conn: Connection


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Double]:
    store = await SqliteStore.open(tmp_path / "state.db")
    admit = functools.partial(admission.admit, cfg=Config(), user=ADMIN_USER)
    server = ApiServer(store, admit, TOKEN, admit_status=admission.admit_status, kinds=DOUBLE_KINDS)
    await server.start()
    try:
        yield Double(store, Connection(server.url, token=lambda: TOKEN))
    finally:
        await server.stop()
        await store.close()


def hello() -> Obj:
    """Knative's helloworld, as its docs apply it (an image that skips tag resolution)."""
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"image": "dev.local/helloworld-go", "env": [{"name": "TARGET", "value": "World"}]}]
                }
            }
        },
    }
