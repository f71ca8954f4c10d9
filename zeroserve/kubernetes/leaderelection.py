"""Leader election with a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` runs it.

One replica of the controller leads: it holds the Lease and renews it every ``retry_period``; the
others try as often and take it over once it has not been renewed for ``lease_duration``. A leader
that cannot renew within ``renew_deadline`` stops leading (the process exits and its pod restarts as
a candidate, as kube-controller-manager does), so two replicas never reconcile, scale or serve the
autoscaler's decisions at once for longer than a lease. Knative's defaults (config-leader-election):
lease 60 s, renew deadline 40 s, retry period 10 s; client-go's: 15, 10 and 2.

:func:`decide` is the pure rule (client-go's ``tryAcquireOrRenew``); :class:`LeaderElector` applies
it to the Lease through the API server, whose resourceVersion check settles two candidates racing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from zeroserve import errors
from zeroserve.api.base import Obj
from zeroserve.clock import Clock
from zeroserve.kubernetes.apiclient import KubeApi, resource_path
from zeroserve.kubernetes.kinds import LEASE

log = logging.getLogger(__name__)

LEASE_NAME: Final = "zeroserve-controller"


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def micro_time(at: datetime) -> str:
    """A ``metav1.MicroTime``: RFC 3339 with microseconds, UTC."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def decide(lease: Obj | None, identity: str, now: datetime, lease_duration: float) -> Obj | None:
    """The Lease spec to write for ``identity`` to lead at ``now``, or None while another holder's
    lease runs. A held lease is renewed; an expired or released one is taken over (one more
    ``leaseTransitions``, as client-go counts a change of holder); no lease: a new one."""
    seconds = max(1, round(lease_duration))
    if lease is None:
        return {
            "holderIdentity": identity,
            "leaseDurationSeconds": seconds,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": 0,
        }
    spec = dict(lease.get("spec") or {})
    holder = str(spec.get("holderIdentity") or "")
    if holder == identity:
        return {**spec, "renewTime": micro_time(now), "leaseDurationSeconds": seconds}
    renewed = _parse(spec.get("renewTime"))
    duration = float(spec.get("leaseDurationSeconds") or seconds)
    if holder and renewed is not None and renewed + timedelta(seconds=duration) > now:
        return None
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": seconds,
        "acquireTime": micro_time(now),
        "renewTime": micro_time(now),
        "leaseTransitions": int(spec.get("leaseTransitions") or 0) + 1,
    }


class LeaderElector:
    """Acquires and keeps the Lease ``namespace/name`` for ``identity``."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        identity: str,
        clock: Clock,
        timing: Timing | None = None,
        name: str = LEASE_NAME,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.clock = clock
        self.timing = timing or Timing()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when ``identity`` holds the Lease afterwards."""
        path = resource_path(LEASE, self.namespace, self.name)
        try:
            lease: Obj | None = await self.api.request("GET", path)
        except errors.NotFound:
            lease = None
        spec = decide(lease, self.identity, self.clock.wall(), self.timing.lease_duration)
        if spec is None:
            return False
        try:
            if lease is None:
                body: Obj = {
                    "apiVersion": LEASE.api_version,
                    "kind": LEASE.kind,
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": spec,
                }
                await self.api.request("POST", resource_path(LEASE, self.namespace), body=body)
            else:
                await self.api.request("PUT", path, body={**lease, "spec": spec})
        except (errors.Conflict, errors.AlreadyExists):
            return False  # another candidate wrote it first
        return True

    async def acquire(self) -> None:
        """Return once leading (trying every ``retry_period``)."""
        logged = False
        while True:
            try:
                if await self.try_acquire_or_renew():
                    log.info("leading: %s holds the lease %s/%s", self.identity, self.namespace, self.name)
                    return
                if not logged:
                    log.info("waiting for the lease %s/%s (another replica leads)", self.namespace, self.name)
                    logged = True
            except errors.ZeroserveError as e:
                log.warning("leader election: %s", e)
            await asyncio.sleep(self.timing.retry_period)

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew every ``retry_period``; ``on_lost()`` once no renewal succeeded for ``renew_deadline``."""
        last = self.clock.monotonic()
        while True:
            await asyncio.sleep(self.timing.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    last = self.clock.monotonic()
                    continue
                log.error("leader election: %s no longer holds the lease", self.identity)
                on_lost()
                return
            except errors.ZeroserveError as e:
                log.warning("leader election: renewing failed: %s", e)
            if self.clock.monotonic() - last >= self.timing.renew_deadline:
                log.error("leader election: no renewal for %.0fs; stopping", self.timing.renew_deadline)
                on_lost()
                return

    async def release(self) -> None:
        """Give the lease up (an empty holder), so a successor need not wait out the lease."""
        path = resource_path(LEASE, self.namespace, self.name)
        try:
            lease = await self.api.request("GET", path)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            await self.api.request("PUT", path, body={**lease, "spec": {**spec, "holderIdentity": ""}})
        except errors.ZeroserveError as e:
            log.warning("leader election: releasing failed: %s", e)
