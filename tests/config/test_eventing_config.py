"""config-zeroserve-eventing and ISO-8601 periods (DeliverySpec durations)."""

from __future__ import annotations

import pytest

from zeroserve.config import EventingConfig
from zeroserve.config.parse import parse_config
from zeroserve.config.period import parse_period
from zeroserve.errors import ConfigError


def test_defaults_and_keys() -> None:
    assert parse_config({}).eventing == EventingConfig()
    cfg = parse_config(
        {
            "config-zeroserve-eventing": {
                "retention": "1h",
                "max-backlog": "5",
                "max-pending": "7",
                "retry-after": "2s",
                "trigger-max-in-flight": "3",
            }
        }
    ).eventing
    assert cfg == EventingConfig(retention=3600.0, max_backlog=5, max_pending=7, retry_after=2.0, max_in_flight=3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"max-backlog": "0"}, "max-backlog must be at least 1, was: 0", id="backlog-zero"),
        pytest.param({"retention": "-1s"}, "retention must be non-negative, was: -1s", id="negative-retention"),
        pytest.param({"retention": "soon"}, 'failed to parse "retention"', id="bad-duration"),
        pytest.param({"trigger-max-in-flight": "x"}, "invalid syntax", id="bad-int"),
    ],
)
def test_invalid(data: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="config-zeroserve-eventing: .*" + message.replace("(", r"\(")):
        parse_config({"config-zeroserve-eventing": data})


def test_unknown_key_warns() -> None:
    warnings: list[str] = []
    parse_config({"config-zeroserve-eventing": {"retension": "1h"}}, warnings)
    assert warnings == ["config-zeroserve-eventing: key 'retension' is not used by zeroserve; ignored"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT0.2S", 0.2),
        ("PT1S", 1.0),
        ("PT1,5S", 1.5),
        ("PT2M", 120.0),
        ("P1DT2H", 93600.0),
        ("P1W", 604800.0),
        ("PT0S", 0.0),
        ("-PT1S", -1.0),
        ("P1Y", 365.2425 * 86400),
    ],
)
def test_period(text: str, seconds: float) -> None:
    assert parse_period(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "1S", "PT1", "P1S", "PT1S2", "pt1s", "P1DT"])
def test_not_a_period(text: str) -> None:
    with pytest.raises(ValueError, match="expected ISO-8601 duration"):
        parse_period(text)
