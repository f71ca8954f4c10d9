"""Storage of resources (Kubernetes' API storage + etcd, on one SQLite file).

:class:`~zeroserve.store.base.Store` is the protocol the API server and the controller use;
:class:`~zeroserve.store.sqlite.SqliteStore` implements it with a resourceVersion counter, an
event log for watches that survive restarts, and deletes as kube-apiserver's: finalizers hold an
object (``deletionTimestamp``) until they are removed; dependents are the garbage collector's
(:mod:`zeroserve.controller.reconcilers.garbagecollector`).
"""

from __future__ import annotations

from zeroserve.store.base import EventType, Store, WatchEvent
from zeroserve.store.sqlite import SqliteStore, resource

__all__ = ["EventType", "SqliteStore", "Store", "WatchEvent", "resource"]
