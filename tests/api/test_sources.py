"""PingSource/SinkBinding/ContainerSource admission and robfig/cron's schedules (issue 17): the forms
Knative's parser accepts and refuses with its words, validation messages with their field paths,
and where a schedule resumes after a pause, on a stepped clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zeroserve.api import cron
from zeroserve.api.admission import admit
from zeroserve.api.kinds import CONTAINERSOURCE, PINGSOURCE, SINKBINDING
from zeroserve.config import Config, PingDefaultsConfig
from zeroserve.errors import Invalid

T0 = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param("* * * * *", datetime(2026, 1, 1, 0, 1, tzinfo=UTC), id="five-fields"),
        pytest.param("*/2 * * * * *", datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC), id="seconds-field"),
        pytest.param("0 9 * * MON-FRI", datetime(2026, 1, 1, 9, tzinfo=UTC), id="weekday-names"),
        pytest.param("0 0 1 jan ?", datetime(2027, 1, 1, tzinfo=UTC), id="month-name-and-question-mark"),
        pytest.param("5/15 * * * * *", datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC), id="n-slash-step"),
        pytest.param("@hourly", datetime(2026, 1, 1, 1, tzinfo=UTC), id="hourly"),
        pytest.param("@weekly", datetime(2026, 1, 4, tzinfo=UTC), id="weekly-sunday"),
        pytest.param("CRON_TZ=Europe/Paris 0 9 * * *", datetime(2026, 1, 1, 8, tzinfo=UTC), id="cron-tz"),
        pytest.param("TZ=America/New_York 0 0 * * *", datetime(2026, 1, 1, 5, tzinfo=UTC), id="tz"),
        pytest.param("0 0 13 * 5", datetime(2026, 1, 2, tzinfo=UTC), id="dom-or-dow-when-neither-is-star"),
    ],
)
def test_accepted_forms_and_their_next_tick(spec: str, want: datetime) -> None:
    assert cron.parse(spec).next(T0) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("", "empty spec string", id="empty"),
        pytest.param("foo", "expected 5 to 6 fields, found 1: [foo]", id="one-field"),
        pytest.param("* * * * * * *", "expected 5 to 6 fields, found 7: [* * * * * * *]", id="seven-fields"),
        pytest.param("60 * * * *", "end of range (60) above maximum (59): 60", id="minute-60"),
        pytest.param("* * * * 7", "end of range (7) above maximum (6): 7", id="sunday-as-7"),
        pytest.param("* * 0 * *", "beginning of range (0) below minimum (1): 0", id="day-0"),
        pytest.param("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1", id="backwards"),
        pytest.param("*/0 * * * *", "step of range should be a positive number: */0", id="step-0"),
        pytest.param("1-2-3 * * * *", "too many hyphens: 1-2-3", id="hyphens"),
        pytest.param("1/2/3 * * * *", "too many slashes: 1/2/3", id="slashes"),
        pytest.param(
            "x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax', id="not-a-number"
        ),
        pytest.param("@fortnightly", "unrecognized descriptor: @fortnightly", id="descriptor"),
        pytest.param(
            "CRON_TZ=Mars/Base * * * * *", "provided bad location Mars/Base: unknown time zone Mars/Base", id="zone"
        ),
    ],
)
def test_refused_forms_say_what_robfig_says(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message


def test_daylight_saving_gap_skips_the_day_and_the_repeated_hour_fires_twice() -> None:
    gap = cron.parse("CRON_TZ=America/New_York 30 2 * * *")
    assert gap.next(datetime(2026, 3, 7, 12, tzinfo=UTC)) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    twice = cron.parse("CRON_TZ=America/New_York 30 1 * * *")
    first = twice.next(datetime(2026, 11, 1, tzinfo=UTC))
    assert first is not None and twice.next(first) == first + timedelta(hours=1)


@pytest.mark.parametrize(
    ("last", "now", "missed", "upcoming"),
    [
        pytest.param(T0, T0, None, T0 + timedelta(seconds=1), id="no-pause"),
        pytest.param(
            T0, T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=1), T0 + timedelta(seconds=3), id="one-missed"
        ),
        pytest.param(
            T0,
            T0 + timedelta(hours=3, seconds=0.5),
            T0 + timedelta(hours=3, seconds=-1),
            T0 + timedelta(hours=3, seconds=1),
            id="many-missed-only-the-latest",
        ),
    ],
)
def test_resume_fires_at_most_the_latest_missed_tick(
    last: datetime, now: datetime, missed: datetime | None, upcoming: datetime
) -> None:
    every_2s = cron.parse("*/2 * * * * *")
    assert cron.resume(every_2s, last, now) == (missed, upcoming)


def test_resume_of_a_daily_schedule_after_a_week_down() -> None:
    daily = cron.parse("0 6 * * *")
    last = datetime(2026, 1, 1, 6, tzinfo=UTC)
    missed, upcoming = cron.resume(daily, last, datetime(2026, 1, 8, 7, tzinfo=UTC))
    assert missed == datetime(2026, 1, 8, 6, tzinfo=UTC)
    assert upcoming == datetime(2026, 1, 9, 6, tzinfo=UTC)


# ----------------------------------------------------------------------------- admission

SINK = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "display"}}


def ping(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"sink": SINK, **spec},
    }


def errors(kind: Any, obj: dict[str, Any], cfg: Config | None = None) -> list[str]:
    with pytest.raises(Invalid) as e:
        admit(kind, obj, None, cfg or Config())
    return [str(err) for err in e.value.errors]


def test_pingsource_defaults_its_schedule() -> None:
    assert admit(PINGSOURCE, ping(), None, Config())["spec"]["schedule"] == "* * * * *"


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param(
            {"schedule": "@every 1m"}, ["invalid value: unsupported descriptor @every: spec.schedule"], id="every"
        ),
        pytest.param(
            {"schedule": "61 * * * *"},
            ["invalid value: end of range (61) above maximum (59): 61: spec.schedule"],
            id="range",
        ),
        pytest.param(
            {"timezone": "Nowhere/Town"},
            ["invalid value: provided bad location Nowhere/Town: unknown time zone Nowhere/Town: spec.timezone"],
            id="timezone",
        ),
        pytest.param(
            {"data": "x", "dataBase64": "eA=="},
            ["expected exactly one, got both: spec.data, spec.dataBase64"],
            id="both",
        ),
        pytest.param(
            {"dataBase64": "!!"},
            ["invalid value: illegal base64 data: Only base64 data is allowed: spec.dataBase64"],
            id="b64",
        ),
    ],
)
def test_pingsource_refusals(spec: dict[str, Any], want: list[str]) -> None:
    got = errors(PINGSOURCE, ping(**spec))
    assert [g.split("\n")[0] for g in got] == [w.split("\n")[0] for w in want] or got == want


def test_pingsource_json_data_and_max_size() -> None:
    got = errors(PINGSOURCE, ping(contentType="application/json", data="[1]"))
    assert got == [
        "invalid value: json: cannot unmarshal array into Go value of type map[string]interface {}: spec.data"
    ]
    cfg = Config(ping_defaults=PingDefaultsConfig(data_max_size=4))
    got = errors(PINGSOURCE, ping(data="hello"), cfg)
    assert got == ["invalid value: the data length of 5 bytes exceeds limit set at 4.: spec.data"]


def test_sinkbinding_subject_rules() -> None:
    def binding(subject: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "SinkBinding",
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"sink": SINK, "subject": subject},
        }

    ok = admit(
        SINKBINDING, binding({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s"}), None, Config()
    )
    assert ok["spec"]["subject"]["namespace"] == "default"
    got = errors(SINKBINDING, binding({"apiVersion": "batch/v1", "kind": "CronJob", "name": "c"}))
    assert (
        got[0].startswith("invalid value: CronJob:batch/v1: spec.subject.kind\n")
        and "no Deployments, Jobs, CronJobs" in got[0]
    )
    got = errors(SINKBINDING, binding({"apiVersion": "serving.knative.dev/v1", "kind": "Service"}))
    assert got == ["expected exactly one, got neither: spec.subject.name, spec.subject.selector"]
    got = errors(
        SINKBINDING,
        binding({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "s", "namespace": "other"}),
    )
    assert got == ["invalid value: other: spec.subject.namespace"]


def test_containersource_needs_an_image_or_a_command() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": {"name": "heart", "namespace": "default"},
        "spec": {"sink": SINK, "template": {"spec": {"containers": [{}, {"command": ["python3", "beat.py"]}]}}},
    }
    got = errors(CONTAINERSOURCE, obj)
    assert got[0].startswith("expected exactly one, got neither: spec.containers[0].command, spec.containers[0].image")
    obj["spec"]["template"]["spec"]["containers"] = [{"command": ["python3", "beat.py"]}]
    assert admit(CONTAINERSOURCE, obj, None, Config())["spec"]["template"]["spec"]["containers"][0]["name"] == "heart-0"
