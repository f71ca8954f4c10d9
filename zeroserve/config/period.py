"""ISO-8601 durations (``PT0.2S``, ``P1DT2H``) as Knative's DeliverySpec carries them. PURE.

Knative parses ``backoffDelay``, ``timeout`` and ``retryAfterMax`` with ``rickb777/date/period``
and converts with ``Period.Duration()``: a day is 24 h, a week 7 days, and years and months are
approximate (365.2425 and 30.436875 days). Any field may carry a fraction (``,`` or ``.``); a
leading ``-`` makes it negative; ``P`` or ``PT`` alone is not a period.
"""

from __future__ import annotations

import re

DAY = 86400.0
_UNITS = {"Y": 365.2425 * DAY, "M": 30.436875 * DAY, "W": 7 * DAY, "D": DAY}
_TIME_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0}
_NUMBER = r"\d+(?:[.,]\d+)?"
_PERIOD = re.compile(
    rf"([-+]?)P(?:({_NUMBER})Y)?(?:({_NUMBER})M)?(?:({_NUMBER})W)?(?:({_NUMBER})D)?"
    rf"(?:T(?:({_NUMBER})H)?(?:({_NUMBER})M)?(?:({_NUMBER})S)?)?"
)


def parse_period(text: str) -> float:
    """Seconds in an ISO-8601 duration; ValueError naming the text when it is not one."""
    m = _PERIOD.fullmatch(text)
    if m is None or all(g is None for g in m.groups()[1:]) or text.endswith("T"):
        raise ValueError(f"expected ISO-8601 duration (e.g. PT0.2S, P1DT2H): {text!r}")
    total = 0.0
    for value, scale in zip(m.groups()[1:], (*_UNITS.values(), *_TIME_UNITS.values()), strict=True):
        if value is not None:
            total += float(value.replace(",", ".")) * scale
    return -total if m.group(1) == "-" else total
