"""Cron schedules as PingSource reads them: robfig/cron v3's parser and ``SpecSchedule.Next``. PURE.

Knative parses ``spec.schedule`` with ``cron.NewParser(SecondOptional | Minute | Hour | Dom | Month
| Dow | Descriptor)`` (``pkg/apis/sources/v1/ping_validation.go``, ``pkg/adapter/mtping``):

* five fields (minute hour day-of-month month day-of-week) or six with a leading seconds field;
* ``*``, ``?``, ``N``, ``N-M``, ``*/S``, ``N/S`` (N to the maximum), ``N-M/S``, lists with ``,``;
  month and weekday names (``jan``, ``mon``; any case); weekdays 0-6 (7 is refused);
* ``CRON_TZ=Zone`` or ``TZ=Zone`` before the fields (``spec.timezone`` is prepended as ``CRON_TZ=``);
* descriptors ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
  ``@hourly``; ``@every`` is refused by Knative's validation before the parser sees it
  (:data:`EVERY_REFUSED`), so this parser does not implement it.

Errors carry robfig's words (``expected 5 to 6 fields, found 1: [foo]``, ``end of range (60) above
maximum (59): 60``, ``provided bad location Mars/Base: unknown time zone Mars/Base``). A schedule
with no zone runs in UTC: Knative's adapter runs in a container whose local zone is UTC.

:meth:`Schedule.next` is robfig's algorithm on aware datetimes (Go's ``time.Add`` is absolute,
``AddDate``/``time.Date`` wall-clock): a time that falls in a daylight-saving gap is skipped that
day, one in a repeated hour fires twice, as robfig's does. :func:`latest_tick` finds the last tick at
or before a time (robfig has no ``Prev``), for the ping runner's catch-up after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EVERY_REFUSED: Final = "unsupported descriptor @every"
STAR: Final = 1 << 63

_MONTHS = {
    n: i + 1 for i, n in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_DOWS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


SECONDS = _Bounds(0, 59)
MINUTES = _Bounds(0, 59)
HOURS = _Bounds(0, 23)
DOM = _Bounds(1, 31)
MONTHS = _Bounds(1, 12, _MONTHS)
DOW = _Bounds(0, 6, _DOWS)
_DEFAULT_SECONDS = "0"


class CronError(ValueError):
    """A schedule robfig/cron would not parse (the message is robfig's)."""


class BadLocation(CronError):
    """The ``CRON_TZ=``/``TZ=`` zone does not exist (Knative reports it under ``spec.timezone``)."""


@dataclass(frozen=True)
class Schedule:
    """robfig's ``SpecSchedule``: one bit per allowed value, ``STAR`` when the field was ``*``/``?``."""

    second: int
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    zone: tzinfo = UTC

    def next(self, t: datetime) -> datetime | None:
        """The first activation strictly after ``t`` (aware), in ``t``'s zone; None past five years."""
        orig = t.tzinfo or UTC
        t = t.astimezone(self.zone)
        t = _add(t.replace(microsecond=0), 1)
        added = False
        year_limit = t.year + 5
        while True:  # robfig's WRAP label
            if t.year > year_limit:
                return None
            wrapped = False
            while not _has(self.month, t.month):
                if not added:
                    added = True
                    t = _date(t.year, t.month, 1, 0, 0, 0, self.zone)
                t = _date(t.year, t.month + 1, t.day, t.hour, t.minute, t.second, self.zone)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    t = _date(t.year, t.month, t.day, 0, 0, 0, self.zone)
                t = _date(t.year, t.month, t.day + 1, t.hour, t.minute, t.second, self.zone)
                if t.hour != 0:  # midnight moved by daylight saving
                    t = _add(t, (24 - t.hour) * 3600 if t.hour > 12 else -t.hour * 3600)
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            t, wrapped, added = self._advance(t, added, "hour")
            if wrapped:
                continue
            t, wrapped, added = self._advance(t, added, "minute")
            if wrapped:
                continue
            t, wrapped, added = self._advance(t, added, "second")
            if wrapped:
                continue
            return t.astimezone(orig)

    def _advance(self, t: datetime, added: bool, unit: str) -> tuple[datetime, bool, bool]:
        bits, step = {"hour": (self.hour, 3600), "minute": (self.minute, 60), "second": (self.second, 1)}[unit]
        while not _has(bits, getattr(t, unit)):
            if not added:
                added = True
                t = _truncate(t, step)
            t = _add(t, step)
            if getattr(t, unit) == 0:
                return t, True, added
        return t, False, added

    def _day_matches(self, t: datetime) -> bool:
        dom_match = _has(self.dom, t.day)
        dow_match = _has(self.dow, (t.weekday() + 1) % 7)
        if self.dom & STAR or self.dow & STAR:
            return dom_match and dow_match
        return dom_match or dow_match


def _has(bits: int, value: int) -> bool:
    return bool(bits >> value & 1)


def _add(t: datetime, seconds: int) -> datetime:
    """Go's ``t.Add``: absolute time."""
    return (t.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(t.tzinfo)


def _truncate(t: datetime, seconds: int) -> datetime:
    """Go's ``t.Truncate`` (on absolute time; the hour case is robfig's ``time.Date(..., 0, 0, 0)``)."""
    if seconds == 3600:
        return _date(t.year, t.month, t.day, t.hour, 0, 0, t.tzinfo or UTC)
    stamp = int(t.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(stamp, t.tzinfo)


def _date(year: int, month: int, day: int, hour: int, minute: int, second: int, zone: tzinfo) -> datetime:
    """Go's ``time.Date``: out-of-range values normalized; a wall time in a gap resolved forward."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    naive = datetime(year, month, 1) + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


# ----------------------------------------------------------------------------- parsing


def load_zone(name: str) -> tzinfo:
    """Go's ``time.LoadLocation``: ``""`` and ``UTC`` are UTC (``Local`` too: the adapter's zone)."""
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadLocation(f"provided bad location {name}: unknown time zone {name}") from None


def parse(spec: str) -> Schedule:
    """robfig's ``Parser.Parse`` with Knative's options (see the module docstring)."""
    if not spec:
        raise CronError("empty spec string")
    zone: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            raise CronError(f"expected 5 to 6 fields, found 0: [] after {spec}")
        zone = load_zone(spec[spec.index("=") + 1 : space])
        spec = spec[space:].strip()
    if spec.startswith("@"):
        return _descriptor(spec, zone)
    fields = _normalize(spec.split())
    return Schedule(
        second=_field(fields[0], SECONDS),
        minute=_field(fields[1], MINUTES),
        hour=_field(fields[2], HOURS),
        dom=_field(fields[3], DOM),
        month=_field(fields[4], MONTHS),
        dow=_field(fields[5], DOW),
        zone=zone,
    )


def _normalize(fields: list[str]) -> list[str]:
    if not 5 <= len(fields) <= 6:
        raise CronError(f"expected 5 to 6 fields, found {len(fields)}: [{' '.join(fields)}]")
    return fields if len(fields) == 6 else [_DEFAULT_SECONDS, *fields]


def _field(text: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in (part for part in text.split(",") if part):
        bits |= _range(expr, bounds)
    return bits


def _range(expr: str, b: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.low, b.high, STAR
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = b.high
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return sum(1 << i for i in range(start, end + 1, step)) | extra


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _int(expr)


def _int(expr: str) -> int:
    """robfig's ``mustParseInt`` (``strconv.Atoi``: an optional sign and ASCII digits)."""
    body = expr[1:] if expr[:1] in ("+", "-") else expr
    if not body or not body.isascii() or not body.isdigit():
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if not -(1 << 63) <= num < 1 << 63:
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range')
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _all(b: _Bounds) -> int:
    return sum(1 << i for i in range(b.low, b.high + 1)) | STAR


def _descriptor(spec: str, zone: tzinfo) -> Schedule:
    first = {"second": 1 << SECONDS.low, "minute": 1 << MINUTES.low, "hour": 1 << HOURS.low}
    stars = {"dom": _all(DOM), "month": _all(MONTHS), "dow": _all(DOW)}
    if spec in ("@yearly", "@annually"):
        return Schedule(**first, dom=1 << DOM.low, month=1 << MONTHS.low, dow=_all(DOW), zone=zone)
    if spec == "@monthly":
        return Schedule(**first, dom=1 << DOM.low, month=_all(MONTHS), dow=_all(DOW), zone=zone)
    if spec == "@weekly":
        return Schedule(**first, dom=_all(DOM), month=_all(MONTHS), dow=1 << DOW.low, zone=zone)
    if spec in ("@daily", "@midnight"):
        return Schedule(**first, **stars, zone=zone)
    if spec == "@hourly":
        return Schedule(second=1, minute=1, hour=_all(HOURS), **stars, zone=zone)
    raise CronError(f"unrecognized descriptor: {spec}")


def with_timezone(schedule: str, timezone: str) -> str:
    """What Knative hands the parser: ``CRON_TZ=<timezone> <schedule>`` when a timezone is set."""
    return f"CRON_TZ={timezone} {schedule}" if timezone else schedule


# ----------------------------------------------------------------------------- catch-up


def latest_tick(schedule: Schedule, after: datetime, until: datetime) -> datetime | None:
    """The last activation in ``(after, until]`` (None: there is none), without walking every tick
    of a long window: it looks back from ``until`` in doubling windows."""
    if until <= after:
        return None
    window = timedelta(seconds=2)
    while True:
        start = max(after, until - window)
        found: datetime | None = None
        t = schedule.next(start)
        while t is not None and t <= until:
            found = t
            t = schedule.next(t)
        if found is not None or start == after:
            return found
        window *= 4


def resume(schedule: Schedule, last: datetime, now: datetime) -> tuple[datetime | None, datetime | None]:
    """Where a schedule picks up after a pause (a restart of ``up``): ``last`` is the last tick it
    fired (or the moment it was first scheduled). Returns (the one missed tick to fire now, or None;
    the next tick after ``now``). Only the latest missed tick is fired: those before it are skipped."""
    return latest_tick(schedule, last, now), schedule.next(max(last, now))
