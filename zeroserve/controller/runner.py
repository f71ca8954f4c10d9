"""The controller: store watch -> keys -> workqueue -> reconcile workers (knative.dev/pkg/controller).

At start every object is listed and enqueued (a full, level-triggered resync); the watch then
continues from that list's resourceVersion (re-listing on ``Gone``). Each event enqueues the
object's own key, its controller owner's key, for Configurations and Revisions the Routes
that send traffic to them, and for ConfigMaps and Secrets the Revisions that read them. Runtime
status changes enqueue their Revision, PodAutoscaler and ServerlessService (a ContainerSource's
workload its ContainerSource);
:meth:`Controller.on_decider_change` (the multiscaler's ``on_change``) enqueues a PodAutoscaler;
:meth:`Controller.config_changed` re-enqueues everything. Errors requeue with per-key backoff;
``Conflict`` requeues at once. A failed reconcile is also a ``Warning InternalError`` Event on its
object, as knative.dev/pkg's generated reconcilers record it (the message of our own errors; only
the error's type for anything else, which might quote a value it should not).

The watch event of a write that a key's own reconcile made (its status, a child it created or
resized, a mark the route labeler set) does not enqueue that key again
(:mod:`zeroserve.controller.echoes`: nothing it carries is new to the reconcile that wrote it), and
a Revision's events reach its Configuration and Routes only when they change what those read of it
(:mod:`zeroserve.controller.readers`).

Events are written by the controller's :class:`~zeroserve.controller.recorder.EventRecorder` (on
the controller's task group) and are the one kind it does not watch.

Autoscaling is on when a ``multiscaler`` is given: PodAutoscalers are then reconciled by the KPA
(or, for ``hpa.autoscaling.knative.dev``, the HPA) reconciler and ServerlessServices by the SKS
reconciler, which announces each revision's mode to ``serving_mode``. Without one, PodAutoscalers
are still created (``zeroserve get pa``) but nothing scales them: revisions run at their initial scale.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.api.kinds import (
    APISERVERSOURCE,
    BROKER,
    CHANNEL,
    CLUSTERDOMAINCLAIM,
    CONFIGURATION,
    CONTAINERSOURCE,
    CORE_KINDS,
    DOMAINMAPPING,
    EVENT,
    EVENTTYPE,
    IN_MEMORY_CHANNEL,
    KINDS,
    NAMESPACE,
    PARALLEL,
    PINGSOURCE,
    PODAUTOSCALER,
    REVISION,
    ROUTE,
    SEQUENCE,
    SERVERLESSSERVICE,
    SERVICE,
    SINKBINDING,
    SUBSCRIPTION,
    TRIGGER,
    Kind,
)
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.clock import Clock, SystemClock
from zeroserve.config import Config
from zeroserve.controller.echoes import RECONCILING, Echoes, EchoStore, resource_version
from zeroserve.controller.ingress import Ingress, IngressWaits, NullIngress
from zeroserve.controller.readers import ALL, RevisionReaders
from zeroserve.controller.reconcilers import (
    configuration,
    containersource,
    destinations,
    domainmapping,
    eventtypes,
    pingsource,
    revision,
    route,
    service,
    sinkbinding,
    subscription,
    trigger,
)
from zeroserve.controller.reconcilers.apiserversource import AGENT as APISERVERSOURCE_AGENT
from zeroserve.controller.reconcilers.apiserversource import ApiServerSourceReconciler
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, interned
from zeroserve.controller.reconcilers.broker import BrokerIngress, BrokerReconciler
from zeroserve.controller.reconcilers.channel import (
    CHANNEL_AGENT,
    IMC_AGENT,
    InMemoryChannelReconciler,
    reconcile_channel,
)
from zeroserve.controller.reconcilers.configsources import ConfigIndex
from zeroserve.controller.reconcilers.digests import DigestResolver
from zeroserve.controller.reconcilers.flows import (
    PARALLEL_AGENT,
    SEQUENCE_AGENT,
    reconcile_parallel,
    reconcile_sequence,
)
from zeroserve.controller.reconcilers.garbagecollector import PREFIX as GC_PREFIX
from zeroserve.controller.reconcilers.garbagecollector import GarbageCollector
from zeroserve.controller.reconcilers.hpa import HPADeciders, HPAReconciler
from zeroserve.controller.reconcilers.kpa import Deciders, KPAReconciler
from zeroserve.controller.reconcilers.namespace import reconcile as reconcile_namespace
from zeroserve.controller.reconcilers.routemarks import RouteMarks
from zeroserve.controller.reconcilers.sks import NullServingMode, ServingMode, SKSReconciler
from zeroserve.controller.reconcilers.sourcetracker import SourceTracker
from zeroserve.controller.recorder import EventRecorder
from zeroserve.controller.workqueue import ShutDown, WorkQueue
from zeroserve.errors import Conflict, Gone, NotFound, ZeroserveError
from zeroserve.images.base import ImageStore
from zeroserve.observability.metrics import AutoscalerMetrics
from zeroserve.runtime.base import Runtime, WorkloadKey
from zeroserve.store.base import Store, WatchEvent
from zeroserve.store.indexes import hold, members, packed, release

log = logging.getLogger(__name__)

RECONCILE_DEADLINE = 30.0
"""Seconds one reconcile may take; past it, its stack is logged, it is cancelled and the key requeued.
A reconcile only reads and writes the store and tells the runtime what it wants (the runtime
drains and stops instances on its own tasks), so this is far beyond any healthy one."""
CANCEL_GRACE = 1.0
"""How long a cancelled overdue reconcile may take to unwind before its worker moves on."""

Reconcile = Callable[[Deps, Key], Awaitable[Requeue]]
Observer = Callable[[str, Obj, bool], Iterable[Key]]
"""Told each event (kind, object, deleted): the keys it concerns besides the object and its owner."""

WATCHED = tuple(k for k in KINDS if k is not EVENT)
"""What the controller lists and watches: every kind but Events (it writes them; nothing reads them)."""
AGENTS: dict[str, str] = {
    SERVICE.kind: service.AGENT,
    CONFIGURATION.kind: configuration.AGENT,
    REVISION.kind: revision.AGENT,
    ROUTE.kind: route.AGENT,
    DOMAINMAPPING.kind: domainmapping.AGENT,
    PODAUTOSCALER.kind: "podautoscaler-controller",
    SERVERLESSSERVICE.kind: "serverlessservice-controller",
    BROKER.kind: "broker-controller",
    TRIGGER.kind: "trigger-controller",
    CHANNEL.kind: CHANNEL_AGENT,
    IN_MEMORY_CHANNEL.kind: IMC_AGENT,
    SUBSCRIPTION.kind: subscription.AGENT,
    SEQUENCE.kind: SEQUENCE_AGENT,
    PARALLEL.kind: PARALLEL_AGENT,
    PINGSOURCE.kind: pingsource.AGENT,
    SINKBINDING.kind: sinkbinding.AGENT,
    CONTAINERSOURCE.kind: containersource.AGENT,
    APISERVERSOURCE.kind: APISERVERSOURCE_AGENT,
    EVENTTYPE.kind: eventtypes.AGENT,
    NAMESPACE.kind: "namespace-controller",
}
"""The source of the InternalError events of each kind's reconciler (Knative's controller agent names)."""
KINDS_BY_NAME = {k.kind: k for k in WATCHED}

RECONCILERS: dict[str, Reconcile] = {
    SERVICE.kind: service.reconcile,
    CONFIGURATION.kind: configuration.reconcile,
    REVISION.kind: revision.reconcile,
    ROUTE.kind: route.reconcile,
    DOMAINMAPPING.kind: domainmapping.reconcile,
    CLUSTERDOMAINCLAIM.kind: domainmapping.reconcile_claim,
    TRIGGER.kind: trigger.reconcile,
    CHANNEL.kind: reconcile_channel,
    SUBSCRIPTION.kind: subscription.reconcile,
    SEQUENCE.kind: reconcile_sequence,
    PARALLEL.kind: reconcile_parallel,
    PINGSOURCE.kind: pingsource.reconcile,
    SINKBINDING.kind: sinkbinding.reconcile,
    CONTAINERSOURCE.kind: containersource.reconcile,
    EVENTTYPE.kind: eventtypes.reconcile,
}


class AutoscalingDeciders(Deciders, HPADeciders, Protocol):
    """The multiscaler: KPA and HPA deciders in one (``zeroserve.autoscaler.multiscaler.Multiscaler``)."""


async def _not_autoscaled(deps: Deps, key: Key) -> Requeue:
    return None


def key_of(kind: str, obj: Obj) -> Key:
    """The work-queue key of ``obj``: its namespace and name interned (the runner keeps a key for
    every object it knows, and the store its row under the same strings)."""
    meta = obj.get("metadata", {})
    return Key(kind, interned(meta.get("namespace", "")), interned(meta.get("name", "")))


Ref = tuple[str, str]
"""(kind, name) of a route's target, within its namespace."""


class RouteIndex:
    """Which Routes name a Configuration or a Revision in their traffic (from the watched Routes).

    Most routes name one target and most targets are named by one route: each is held alone, in a
    frozenset only when there are more (a set for each was ~200 bytes, two per Service)."""

    def __init__(self) -> None:
        self._refs: dict[tuple[str, str], Ref | frozenset[Ref]] = {}
        """(namespace, route) -> the (kind, name) its traffic names, or the set of them."""
        self._routes: dict[tuple[str, str, str], str | frozenset[str]] = {}
        """(kind, namespace, name) -> the route that names it, or the set of them (the reverse of ``_refs``)."""

    def update(self, obj: Obj, deleted: bool = False) -> None:
        meta = obj.get("metadata", {})
        ns, name = interned(meta.get("namespace", "")), interned(meta.get("name", ""))
        refs: set[Ref] = set()
        if not deleted:
            for t in obj.get("spec", {}).get("traffic", []):
                if t.get("configurationName"):
                    refs.add((CONFIGURATION.kind, interned(t["configurationName"])))
                if t.get("revisionName"):
                    refs.add((REVISION.kind, interned(t["revisionName"])))
        old = members(self._refs.pop((ns, name), None))
        for kind, target in old - refs:
            release(self._routes, (kind, ns, target), name)
        for kind, target in refs - old:
            hold(self._routes, (kind, ns, target), name)
        if refs:
            self._refs[(ns, name)] = packed(refs)

    def routes_for(self, kind: str, ns: str, name: str) -> list[Key]:
        return [Key(ROUTE.kind, ns, route) for route in sorted(members(self._routes.get((kind, ns, name))))]


WORKERS = 16
"""Reconciles at a time, all kinds together. Knative runs each reconciler with its own queue and
``DefaultThreadsPerController`` (2) workers, about twenty in Serving's controller. Most of a
reconcile's time is its writes' wait for their group commit (an fsync), so more of them overlap:
1,000 Services Ready in 42 s with 16, 46.5 s with 8, 49-51 s with 4 (bench/controlplane.py, 2
cores); 64 starved the API's requests on the same loop."""


WAITS_FOR: dict[str, tuple[str, ...]] = {
    SERVICE.kind: (CONFIGURATION.kind, ROUTE.kind),
    ROUTE.kind: (CONFIGURATION.kind,),
    REVISION.kind: (PODAUTOSCALER.kind, SERVERLESSSERVICE.kind),
}
"""A key of these kinds that comes up while a key named like it of the kinds listed is queued or
being reconciled waits until that one is done, then is queued again. Those are what it reads, by
Knative's names: a Service's Configuration and Route (its children), the Configuration a Service's
Route sends traffic to, a Revision's PodAutoscaler and that one's ServerlessService. Their reconcile
usually writes the status the waiting one reads, and it would reconcile again for it. One event
often queues both: a Configuration that becomes Ready queues its Service and its Route, and the
Route's status follows; a new Service's Configuration and Route are queued together, and the
Route reads the Configuration's first status. With it a Service is reconciled three times on its
way to Ready, not four; its Route twice, not three times; its Revision twice, not three times
(issue 19). Only a key in the queue or in a reconcile holds another, never one waiting for a
later retry, so a key waits at most for what is already under way; there is no cycle."""


class Controller:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        config: Callable[[], Config],
        *,
        ingress: Ingress | None = None,
        clock: Clock | None = None,
        workers: int = WORKERS,
        multiscaler: AutoscalingDeciders | None = None,
        serving_mode: ServingMode | None = None,
        reconcile_deadline: float = RECONCILE_DEADLINE,
        images: ImageStore | None = None,
        broker_ingress: BrokerIngress | None = None,
        recorder: EventRecorder | None = None,
        api_url: str = "",
        kpa_metrics: AutoscalerMetrics | None = None,
        watched: tuple[Kind, ...] = WATCHED,
        collect_garbage: bool = True,
        hpa: Reconcile | None = None,
        sks: Reconcile | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        """``api_url``: the API server's URL, the ``source`` of ApiServerSources' events; ``kpa_metrics``:
        where the KPA reconciler records Knative's ``kn.revision.pods.*``. ``watched``: the kinds to
        list, watch and reconcile (a cluster's: only those it serves); ``collect_garbage``: False where
        another garbage collector deletes dependents and owns the deletion finalizers (a cluster's);
        ``hpa``: the ``hpa.autoscaling.knative.dev`` PodAutoscalers' reconciler (default: zeroserve's
        own HPA on the multiscaler; a cluster's keeps a HorizontalPodAutoscaler); ``sks``: the
        ServerlessServices' reconciler (default: zeroserve's, which tells ``serving_mode``; a cluster's
        writes Services and Endpoints); ``observers``: told every event, they name more keys it
        concerns (a cluster's SKS: the Endpoints it reads)."""
        digests = DigestResolver(images, self._on_digests) if images is not None else None
        clock = clock or SystemClock()
        self.recorder = recorder or EventRecorder(store, clock)
        self.echoes = Echoes()
        self._parked: dict[Key, set[Key]] = {}
        """Per key, those waiting for its reconcile to end (:data:`WAITS_FOR`)."""
        self._held: dict[Key, list[tuple[Key, str]]] = {}
        """The keys being reconciled, with the events (object, resourceVersion) that concerned them
        meanwhile (an echo's event may come before its write returns): enqueued, unless echoes, when it ends."""
        self.deps = Deps(
            EchoStore(store, self.echoes),
            runtime,
            config,
            clock,
            ingress or NullIngress(),
            digests,
            self.recorder,
            marks=RouteMarks(),
        )
        self.reconcilers: dict[str, Reconcile] = dict(RECONCILERS)
        self.reconcilers[BROKER.kind] = BrokerReconciler(broker_ingress).reconcile
        self.channels = InMemoryChannelReconciler()
        """Its ``plane`` is the InMemoryChannels' data plane (``zeroserve up`` sets it before the start)."""
        self.reconcilers[IN_MEMORY_CHANNEL.kind] = self.channels.reconcile
        self.reconcilers[APISERVERSOURCE.kind] = ApiServerSourceReconciler(api_url).reconcile
        self.reconcilers[PODAUTOSCALER.kind] = _not_autoscaled
        self.reconcilers[SERVERLESSSERVICE.kind] = _not_autoscaled
        self._kpa = KPAReconciler(multiscaler, kpa_metrics) if multiscaler is not None else None
        self._hpa = hpa or (HPAReconciler(multiscaler).reconcile if multiscaler is not None else None)
        if multiscaler is not None:
            self.reconcilers[PODAUTOSCALER.kind] = self._reconcile_pa
            self.reconcilers[SERVERLESSSERVICE.kind] = sks or SKSReconciler(serving_mode or NullServingMode()).reconcile
        self.reconcilers[NAMESPACE.kind] = reconcile_namespace  # a deleted namespace empties, then goes
        for kind in (*CORE_KINDS, *watched):  # ConfigMaps, Secrets, a cluster's HPAs: watched for who reads them
            self.reconcilers.setdefault(kind.kind, _not_autoscaled)
        self.gc = GarbageCollector()
        if collect_garbage:
            for kind in KINDS:
                self.reconcilers[GC_PREFIX + kind.kind] = self.gc.reconcile
        self.watched = watched
        self.observers = tuple(observers)
        self.workers = workers
        self.reconcile_deadline = reconcile_deadline
        self._overdue: dict[Key, asyncio.Future[Requeue]] = {}
        self._unsynced: dict[str, set[Key]] | None = None
        """Per kind, the keys of the first list not reconciled yet (None until that list)."""
        self._synced: dict[str, asyncio.Event] = {kind.kind: asyncio.Event() for kind in watched}
        self.queue: WorkQueue[Key] | None = None
        self.routes = RouteIndex()
        self.revision_readers = RevisionReaders()
        self.config_reads = ConfigIndex()
        self.domainmappings = domainmapping.Tracker()
        self.eventing = destinations.Tracker()
        self.subscriptions = subscription.Tracker()
        self.sources = SourceTracker()
        self._known: set[Key] = set()
        self._ready: dict[WorkloadKey, int] = {}
        """Per workload with any, its ready instances at the last runtime change (what its SKS reads of it)."""
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Controller:
        self._task = asyncio.create_task(self.run(), name="controller")
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self) -> None:
        """Run until cancelled: the watch loop and the workers, in one TaskGroup."""
        queue: WorkQueue[Key] = WorkQueue()
        self.queue = queue
        self.deps.runtime.subscribe(self._on_runtime_change)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._watch_loop(queue), name="controller-watch")
                tg.create_task(self.recorder.run(), name="controller-events")
                for i in range(self.workers):
                    tg.create_task(self._worker(queue), name=f"controller-worker-{i}")
        finally:
            queue.shutdown()
            if self.deps.digests is not None:
                self.deps.digests.cancel()

    async def synced(self, kind: str) -> None:
        """Return once every object of ``kind`` that existed at start has been reconciled once (the
        gateway listens only then: a restart never answers "no route" for a route it has)."""
        await self._synced[kind].wait()

    def config_changed(self) -> None:
        """The configuration changed: reconcile everything again."""
        if self.queue is not None:
            for key in sorted(self._known):
                self.queue.add(key)

    # --- events -> keys ---------------------------------------------------------------------

    def on_decider_change(self, key: DeciderKey) -> None:
        """The multiscaler's ``on_change``: a revision's decision changed; reconcile its PA (a wish
        above zero is applied at once: :meth:`KPAReconciler.scale_now`)."""
        if self._kpa is not None:
            self._kpa.scale_now(self.deps, key)
        if self.queue is not None:
            self.queue.add(Key(PODAUTOSCALER.kind, key.namespace, key.revision))

    def on_ingress_ready(self, namespace: str, name: str) -> None:
        """The gateway serves a Route's latest table everywhere (every worker too): reconcile the
        Route, whose ``IngressReady`` waited for it (Knative's prober ready callback). Whoever calls
        this may also let Route reconciles wait a moment for it (:meth:`wait_for_ingress`)."""
        if self.deps.ingress_waits is not None and self.deps.ingress_waits.served(namespace, name):
            return  # its reconcile waits for this: it writes the Route ready
        if self.queue is not None:
            self.queue.add(Key(ROUTE.kind, namespace, name))

    def wait_for_ingress(self) -> None:
        """Route reconciles wait up to ``INGRESS_WAIT`` for :meth:`on_ingress_ready` after they
        publish a table the gateway does not serve everywhere yet (``up``'s gateway workers)."""
        self.deps.ingress_waits = IngressWaits()

    def _on_digests(self, namespace: str, name: str) -> None:
        """The background resolver has a revision's digests (or its error): reconcile it."""
        if self.queue is not None:
            self.queue.add(Key(REVISION.kind, namespace, name))

    def _on_runtime_change(self, wkey: WorkloadKey) -> None:
        if self.queue is not None and wkey.kind == CONTAINERSOURCE.kind:
            self.queue.add(Key(CONTAINERSOURCE.kind, wkey.namespace, wkey.revision))
        elif self.queue is not None:
            if wkey not in self.deps.ensuring:  # else its own reconcile's ensure, which reads the status after
                self.queue.add(Key(REVISION.kind, wkey.namespace, wkey.revision))
            self.queue.add(Key(PODAUTOSCALER.kind, wkey.namespace, wkey.revision))
            if self._ready_moved(wkey):  # the SKS reads the ready count, nothing else of the runtime
                self.queue.add(Key(SERVERLESSSERVICE.kind, wkey.namespace, wkey.revision))

    def _ready_moved(self, wkey: WorkloadKey) -> bool:
        """Whether the workload's ready instances (0 when it has none or is gone) changed since its last
        runtime change: a new workload at 0, or one whose instances start, does not concern its SKS."""
        status = self.deps.runtime.status(wkey)
        ready = 0 if status is None else status.ready
        before = self._ready.pop(wkey, 0)
        if ready:  # 0 is the default: a workload at zero costs no entry
            self._ready[wkey] = ready
        return ready != before

    async def _reconcile_pa(self, deps: Deps, key: Key) -> Requeue:
        """PodAutoscalers by class (``autoscaling.knative.dev/class``, which the Revision reconciler sets):
        HPA to the HPA reconciler, KPA to the KPA; another class is another autoscaler's, left alone
        as Knative's class filters do (pkg/reconciler/autoscaling/{kpa,hpa}/controller.go). A gone
        PA goes to the KPA, which forgets its decider."""
        assert self._kpa is not None and self._hpa is not None
        try:
            obj = await deps.store.get(PODAUTOSCALER, key.namespace, key.name)
        except NotFound:
            return await self._kpa.reconcile(deps, key)
        cls = obj["metadata"].get("annotations", {}).get(ann.CLASS, ann.KPA)
        if cls == ann.HPA:
            return await self._hpa(deps, key)
        if cls == ann.KPA:
            return await self._kpa.reconcile(deps, key)
        return None

    async def _list_all(self, queue: WorkQueue[Key]) -> int:
        """List every kind and enqueue it all; the watch resumes from the *first* list's
        resourceVersion: workers already run while the later kinds are listed, and a change they
        make to a kind listed earlier must still come as an event (replayed twice at worst)."""
        rv: int | None = None
        first = self._unsynced is None
        self.echoes.forget()  # everything listed is enqueued
        unsynced: dict[str, set[Key]] = {}
        if first:  # before the workers can end a reconcile of what is listed (a remote list yields)
            self._unsynced = unsynced
        for kind in self.watched:
            objs, list_rv = await self.deps.store.list(kind)
            rv = list_rv if rv is None else min(rv, list_rv)
            if first:
                unsynced[kind.kind] = {key_of(kind.kind, obj) for obj in objs}
                if not unsynced[kind.kind]:
                    self._synced[kind.kind].set()
            for obj in objs:
                self._handle(queue, kind.kind, obj, deleted=False)
        await revision.remove_orphans(self.deps, wait=False)
        return rv or 0

    async def _watch_loop(self, queue: WorkQueue[Key]) -> None:
        rv = await self._list_all(queue)
        self._started.set()
        while True:
            try:
                async for event in self.deps.store.watch(self.watched, since=rv):
                    self._on_event(queue, event)
                    rv = event.resource_version
            except Gone:
                log.info("watch expired at resourceVersion %d; listing again", rv)
                rv = await self._list_all(queue)

    def _on_event(self, queue: WorkQueue[Key], event: WatchEvent) -> None:
        deleted = event.type == "DELETED"
        rv = None if deleted else resource_version(event.object)
        self._handle(queue, event.kind.kind, event.object, deleted=deleted, rv=rv)

    def _handle(self, queue: WorkQueue[Key], kind: str, obj: Obj, *, deleted: bool, rv: str | None = None) -> None:
        """Enqueue what the event of ``obj`` (at ``rv``; None: listed) concerns: the object itself,
        its owner, and who reads or routes to it, except the reconcile whose write it is (an echo)."""
        key = key_of(kind, obj)
        if kind == ROUTE.kind:
            self.routes.update(obj, deleted)
        if deleted:
            self._known.discard(key)
            self.echoes.forget(key)
        else:
            self._known.add(key)

        def add(reader: Key) -> None:
            self._enqueue(queue, reader, key, rv)

        add(key)
        if GC_PREFIX + kind in self.reconcilers:
            for gc_key in self.gc.observe(kind, obj, deleted):
                add(gc_key)
        for dm_key in self.domainmappings.observe(kind, obj, deleted):
            add(dm_key)
        for ev_key in self.eventing.observe(kind, obj, deleted):
            add(ev_key)
        for sub_key in self.subscriptions.observe(kind, obj, deleted):
            add(sub_key)
        for source_key in self.sources.observe(kind, obj, deleted):
            add(source_key)
        for rev_key in self.config_reads.observe(kind, obj, deleted):  # a ConfigMap or Secret its revisions read
            add(rev_key)
        for observer in self.observers:
            for other in observer(kind, obj, deleted):
                add(other)
        # a Revision's Configuration and Routes read little of it: only an event that changes that reaches them
        readers = ALL if kind != REVISION.kind else self.revision_readers.changed(key.namespace, key.name, obj, deleted)
        if kind == CONFIGURATION.kind:
            self.revision_readers.configuration(key.namespace, key.name, obj, deleted)
        for ref in obj.get("metadata", {}).get("ownerReferences", []) if readers else ():
            if ref.get("controller") and ref.get("kind") in self.reconcilers:
                add(Key(ref["kind"], key.namespace, ref.get("name", "")))
        if kind in (CONFIGURATION.kind, REVISION.kind):
            for route_key in self.routes.routes_for(kind, key.namespace, key.name) if readers else ():
                add(route_key)
            if self.deps.marks is not None:  # it names a route not known before: that route unmarks it if it must
                for route_name in self.deps.marks.observe(kind, obj, deleted):
                    add(Key(ROUTE.kind, key.namespace, route_name))
        if kind == REVISION.kind and readers:
            config = obj.get("metadata", {}).get("labels", {}).get(labels.CONFIGURATION)
            if config and (
                readers.rest or self.revision_readers.routed_by_configuration(key.namespace, config, key.name)
            ):
                for route_key in self.routes.routes_for(CONFIGURATION.kind, key.namespace, config):
                    add(route_key)

    def _enqueue(self, queue: WorkQueue[Key], reader: Key, key: Key, rv: str | None) -> None:
        """Add ``reader`` for the event of ``key`` at ``rv``, unless that is a write of its own reconcile."""
        if rv is not None:
            if self.echoes.take(key, rv, reader):
                return
            held = self._held.get(reader)
            if held is not None:  # its reconcile runs: perhaps its own write, not returned yet
                held.append((key, rv))
                return
        queue.add(reader)

    # --- workers -----------------------------------------------------------------------------

    async def _worker(self, queue: WorkQueue[Key]) -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            if self._parks(queue, key):
                queue.done(key)
                continue
            self._held[key] = []
            try:
                await self._process(queue, key)
            finally:
                held = self._held.pop(key)
                if not all([self.echoes.take(written, rv, key) for written, rv in held]):  # all taken: each may be one
                    queue.add(key)
                self._reconciled(key)
                overdue = self._overdue.pop(key, None)
                if overdue is None:
                    self._done(queue, key)
                else:  # still unwinding: the key is done when it is
                    overdue.add_done_callback(lambda _task, key=key: self._done(queue, key))  # type: ignore[misc]

    def _done(self, queue: WorkQueue[Key], key: Key) -> None:
        """The key's reconcile has ended: the queue may hand it out again, and those waiting for it go back in."""
        queue.done(key)
        for waiting in self._parked.pop(key, ()):
            queue.add(waiting)

    def _parks(self, queue: WorkQueue[Key], key: Key) -> bool:
        """Whether ``key`` waits for one it reads that is queued or being reconciled (:data:`WAITS_FOR`)."""
        for kind in WAITS_FOR.get(key.kind, ()):
            read = Key(kind, key.namespace, key.name)
            if queue.busy(read):
                self._parked.setdefault(read, set()).add(key)
                return True
        return False

    def _reconciled(self, key: Key) -> None:
        pending = self._unsynced.get(key.kind) if self._unsynced is not None else None
        if pending is not None and key in pending:
            pending.discard(key)
            if not pending:
                self._synced[key.kind].set()

    async def _process(self, queue: WorkQueue[Key], key: Key) -> None:
        try:
            requeue = await self._reconcile(queue, key)
        except Conflict:
            log.debug("%s: conflict, requeueing", key)
            queue.add(key)
            return
        except NotFound as err:  # something it read vanished under it: the next pass sees the new state
            log.debug("%s: %s, requeueing", key, err)
            queue.add_rate_limited(key)
            return
        except Exception as err:
            log.exception("%s: reconcile failed (retry %d)", key, queue.backoff.retries(key))
            await self._internal_error(key, err)
            queue.add_rate_limited(key)
            return
        queue.forget(key)
        queue.reschedule(key, requeue)

    async def _internal_error(self, key: Key, err: Exception) -> None:
        """The generated reconciler's ``Warning InternalError`` event on the object that failed."""
        kind, agent = KINDS_BY_NAME.get(key.kind), AGENTS.get(key.kind)
        if kind is None or agent is None:
            return  # the garbage collector's keys and kinds without a reconciler of their own
        try:
            obj = await self.deps.store.get(kind, key.namespace, key.name)
        except NotFound:
            return
        message = str(err) if isinstance(err, ZeroserveError) and str(err) else f"{type(err).__name__} (see the log)"
        self.recorder.event(agent, obj, "Warning", "InternalError", message)

    async def _reconcile(self, queue: WorkQueue[Key], key: Key) -> Requeue:
        """Run the key's reconciler within the deadline; an overdue one is logged with its stack and
        cancelled, and raises TimeoutError (requeued with backoff). The key stays in progress until
        the cancelled reconcile has really ended, so no two reconciles of one key ever overlap."""
        reconciling = RECONCILING.set(key)  # the task keeps the context it was made in
        try:
            task = asyncio.ensure_future(self.reconcilers[key.kind](self.deps, key))
        finally:
            RECONCILING.reset(reconciling)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.reconcile_deadline)
        except asyncio.CancelledError:  # the controller stops: its reconciles stop with it
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_GRACE)
            raise
        if done:
            return task.result()
        log.error(
            "%s: reconcile exceeded its %gs deadline; cancelling it. It was at:\n%s",
            key,
            self.reconcile_deadline,
            _stack(task),
        )
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE)
        if not done:
            log.error("%s: the cancelled reconcile has not ended; its worker moves on", key)
            self._overdue[key] = task
        raise TimeoutError(f"{key}: reconcile exceeded {self.reconcile_deadline}s")


def _stack(task: asyncio.Task[Requeue] | asyncio.Future[Requeue]) -> str:
    if not isinstance(task, asyncio.Task):
        return "  (not a task)"
    buf = io.StringIO()
    task.print_stack(file=buf)
    return buf.getvalue()
