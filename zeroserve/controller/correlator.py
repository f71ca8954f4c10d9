"""Events as client-go's ``record`` package makes and correlates them, before they are written (PURE).

A controller records an Event about an object (``recorder.Eventf(obj, type, reason, message)``);
:func:`make_event` builds the core ``v1`` Event (``tools/record/event.go`` ``makeEvent``): named
``<object>.<hex unix nanoseconds>``, in the object's namespace, ``count`` 1 and
``firstTimestamp``/``lastTimestamp`` now, ``source.component`` the controller
(``service-controller``, as Knative's generated reconcilers name theirs) and the same in
``reportingComponent``.

:class:`EventCorrelator` is ``tools/record/events_cache.go``'s, with every time an argument:

1. **aggregation**: events alike but for their message (same source, object, type and reason)
   seen with more than :data:`MAX_SIMILAR` - 1 different messages within :data:`SIMILAR_WINDOW`
   seconds become one event, ``(combined from similar events): <the latest message>``;
2. **deduplication**: an event identical to one already recorded (source, object, type, reason,
   message) is not written again: that one's ``count`` goes up and its ``lastTimestamp`` moves
   (client-go patches it);
3. **spam filter**: per source and object, a token bucket of :data:`SPAM_BURST` events refilled at
   :data:`SPAM_QPS` (one per five minutes); an event past it is dropped (its count still goes up,
   so the next one written carries it).

The caches are LRUs of :data:`CACHE_SIZE` keys, so memory stays bounded whatever is recorded.
:func:`expired` is the retention rule (kube-apiserver's ``--event-ttl``, one hour by default).
"""

from __future__ import annotations

import copy
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, TypeVar

from zeroserve.api import names
from zeroserve.api.autoscaling import parse_time
from zeroserve.api.base import Obj
from zeroserve.api.eventvalidation import NOTE_LIMIT
from zeroserve.clock import rfc3339

CACHE_SIZE: Final = 4096
"""``maxLruCacheEntries``."""
MAX_SIMILAR: Final = 10
"""``defaultAggregateMaxEvents``."""
SIMILAR_WINDOW: Final = 600.0
"""``defaultAggregateIntervalInSeconds``."""
SPAM_BURST: Final = 25
"""``defaultSpamBurst``."""
SPAM_QPS: Final = 1.0 / 300.0
"""``defaultSpamQPS``."""
TTL: Final = 3600.0
"""kube-apiserver's default ``--event-ttl``: an event is kept an hour after it was last seen."""
COMBINED: Final = "(combined from similar events): "
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A dict of at most ``size`` keys that forgets the least recently used (``k8s.io/utils/lru``)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def reference(obj: Obj) -> Obj:
    """``ref.GetReference``: the object's kind, apiVersion, namespace, name, uid and resourceVersion
    (nothing else of it: never a Secret's data)."""
    meta = obj.get("metadata") or {}
    ref = {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "apiVersion": obj.get("apiVersion"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: str(v) for k, v in ref.items() if v}


def event_name(ref_name: str, unix_nano: int) -> str:
    """``util.GenerateEventName``: ``<name>.<hex nanoseconds>``, or a UUID when that is no DNS subdomain."""
    name = f"{ref_name}.{unix_nano:x}"
    return name if not names.is_dns1123_subdomain(name) else str(uuid.uuid4())


def make_event(ref: Obj, source: str, type_: str, reason: str, message: str, now: datetime, unix_nano: int) -> Obj:
    """``makeEvent`` + ``generateEvent``: a singleton core v1 Event about ``ref``."""
    stamp = rfc3339(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name(ref.get("name", ""), unix_nano),
            "namespace": ref.get("namespace") or "default",
        },
        "involvedObject": dict(ref),
        "reason": reason,
        "message": message[:NOTE_LIMIT],
        "source": {"component": source},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": type_,
        "reportingComponent": source,
        "reportingInstance": "",
    }


def _ref_key(event: Obj) -> tuple[str, ...]:
    ref, source = event.get("involvedObject", {}), event.get("source", {})
    return (
        source.get("component", ""),
        source.get("host", ""),
        ref.get("kind", ""),
        ref.get("namespace", ""),
        ref.get("name", ""),
        ref.get("uid", ""),
        ref.get("apiVersion", ""),
        event.get("type", ""),
    )


def event_key(event: Obj) -> tuple[str, ...]:
    """``getEventKey``: what makes two events the same one."""
    return (*_ref_key(event), event.get("involvedObject", {}).get("fieldPath", ""), event["reason"], event["message"])


def spam_key(event: Obj) -> tuple[str, ...]:
    """``getSpamKey``: the source and the object (and the type)."""
    return _ref_key(event)


def aggregate_key(event: Obj) -> tuple[str, ...]:
    """``EventAggregatorByReasonFunc``: events alike but for their message."""
    return (*_ref_key(event), event["reason"], event.get("reportingComponent", ""), event.get("reportingInstance", ""))


@dataclass(slots=True)
class _Similar:
    messages: tuple[str, ...] = ()
    """The distinct messages seen (``localKeys``; at most ``max_similar``, most often one: a tuple,
    not a ~200-byte set in each of up to 4,096 entries)."""
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Seen:
    count: int
    first: str
    name: str


@dataclass(slots=True)
class _Bucket:
    """``rate.Limiter`` as client-go's passive token bucket uses it: ``burst`` tokens to start."""

    tokens: float
    at: datetime

    def take(self, now: datetime, qps: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + max(0.0, (now - self.at).total_seconds()) * qps)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(frozen=True, slots=True)
class Correlated:
    """What to write: ``event`` as a new Event, or (``update``) as the next count of one written before."""

    event: Obj
    update: bool


class EventCorrelator:
    """``EventCorrelator``: aggregate, then deduplicate, then filter spam (see the module docstring)."""

    def __init__(
        self,
        *,
        cache_size: int = CACHE_SIZE,
        max_similar: int = MAX_SIMILAR,
        similar_window: float = SIMILAR_WINDOW,
        burst: int = SPAM_BURST,
        qps: float = SPAM_QPS,
    ) -> None:
        self._similar: Lru[tuple[str, ...], _Similar] = Lru(cache_size)
        self._seen: Lru[tuple[str, ...], _Seen] = Lru(cache_size)
        self._buckets: Lru[tuple[str, ...], _Bucket] = Lru(cache_size)
        self._max_similar = max_similar
        self._window = similar_window
        self._burst = burst
        self._qps = qps
        self._last_nano = 0

    def unix_nano(self, now: datetime) -> int:
        """``now`` in nanoseconds, never the same twice (event names must differ within one instant)."""
        since = now - EPOCH
        nano = ((since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds) * 1000
        self._last_nano = max(nano, self._last_nano + 1)
        return self._last_nano

    def correlate(self, event: Obj, now: datetime) -> Correlated | None:
        """The event to write for a newly recorded ``event``, or None if the spam filter drops it."""
        event, key = self._aggregate(event, now)
        observed, update = self._observe(event, key)
        bucket = self._buckets.get(spam_key(observed))
        if bucket is None:
            bucket = _Bucket(float(self._burst), now)
        allowed = bucket.take(now, self._qps, self._burst)
        self._buckets.put(spam_key(observed), bucket)
        return Correlated(observed, update) if allowed else None

    def written(self, event: Obj) -> None:
        """``UpdateState``: the event as stored (its name and count are what later ones build on)."""
        key = event_key(event)
        seen = self._seen.get(key)
        first = event.get("firstTimestamp") or (seen.first if seen else "")
        self._seen.put(key, _Seen(int(event.get("count") or 1), first, event["metadata"]["name"]))

    def _aggregate(self, event: Obj, now: datetime) -> tuple[Obj, tuple[str, ...]]:
        """``EventAggregate``: the event itself and its key, or the combined event and the aggregate key."""
        akey = aggregate_key(event)
        similar = self._similar.get(akey)
        if similar is None or similar.last is None or (now - similar.last).total_seconds() > self._window:
            similar = _Similar()
        if event["message"] not in similar.messages:
            similar.messages = (*similar.messages, event["message"])
        similar.last = now
        self._similar.put(akey, similar)
        if len(similar.messages) < self._max_similar:
            return event, event_key(event)
        similar.messages = similar.messages[:-1]  # PopAny
        combined = copy.deepcopy(event)
        stamp = rfc3339(now)
        ref_name = event.get("involvedObject", {}).get("name", "")
        combined["metadata"] = {**event["metadata"], "name": event_name(ref_name, self.unix_nano(now))}
        combined.update(message=COMBINED + event["message"], count=1, firstTimestamp=stamp, lastTimestamp=stamp)
        return combined, akey

    def _observe(self, event: Obj, key: tuple[str, ...]) -> tuple[Obj, bool]:
        """``eventObserve``: a repeat takes the recorded event's name and first time, and count + 1."""
        seen = self._seen.get(key)
        observed = copy.deepcopy(event)
        update = seen is not None and seen.count > 0
        if seen is not None and update:
            observed["metadata"]["name"] = seen.name
            observed["firstTimestamp"] = seen.first
            observed["count"] = seen.count + 1
        self._seen.put(key, _Seen(int(observed["count"]), observed["firstTimestamp"], observed["metadata"]["name"]))
        return observed, update


def last_seen(event: Obj) -> datetime | None:
    """When an event was last seen: its series' last observation, ``lastTimestamp``, ``eventTime``,
    ``firstTimestamp``, else when it was created."""
    series = event.get("series")
    candidates = (
        series.get("lastObservedTime") if isinstance(series, dict) else None,
        event.get("lastTimestamp"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    )
    for value in candidates:
        when = parse_time(value) if isinstance(value, str) else None
        if when is not None:
            return when
    return None


def expired(event: Obj, now: datetime, ttl: float = TTL) -> bool:
    """Past its retention: last seen more than ``ttl`` seconds ago (kube-apiserver's ``--event-ttl``)."""
    when = last_seen(event)
    return when is not None and (now - when).total_seconds() > ttl
