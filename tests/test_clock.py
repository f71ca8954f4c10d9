"""Kubernetes' timestamps (zeroserve.clock.rfc3339)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from zeroserve.clock import rfc3339


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        pytest.param(datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01T00:00:00Z", id="utc"),
        pytest.param(datetime(2026, 1, 1, 0, 0, 59, 999999, tzinfo=UTC), "2026-01-01T00:00:59Z", id="truncated"),
        pytest.param(
            datetime(2026, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-01-01T00:00:00Z",
            id="offset-to-utc",
        ),
        pytest.param(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), "1969-12-31T23:59:59Z", id="before-1970"),
    ],
)
def test_rfc3339_is_utc_to_the_second(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text
    assert rfc3339(moment + timedelta(seconds=1)) != text  # the next second is not the remembered one
