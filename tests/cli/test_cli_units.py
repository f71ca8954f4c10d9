"""Pure parts of the CLI: traffic flags, template edits, three-way apply, Status errors, context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from zeroserve import errors
from zeroserve.cli.context import Context
from zeroserve.cli.output import age, table
from zeroserve.cli.resources import three_way
from zeroserve.cli.service import TemplateOptions, build_service, edit_template
from zeroserve.cli.traffic import TrafficError, TrafficFlags, compute
from zeroserve.errors import from_status as error_from_status

LATEST100 = [{"latestRevision": True, "percent": 100}]
REVS = ["s-00002", "s-00001"]


@pytest.mark.parametrize(
    ("traffic", "flags", "want"),
    [
        pytest.param(
            LATEST100,
            TrafficFlags(traffic=("s-00001=10", "@latest=90")),
            [
                {"latestRevision": True, "percent": 90},
                {"revisionName": "s-00001", "latestRevision": False, "percent": 10},
            ],
            id="split-latest-and-named",
        ),
        pytest.param(
            LATEST100,
            TrafficFlags(traffic=("s-00001=30",)),
            [
                {"revisionName": "s-00001", "latestRevision": False, "percent": 30},
                {"revisionName": "s-00002", "latestRevision": False, "percent": 70},
            ],
            id="remainder-to-the-one-missing-revision",
        ),
        pytest.param(
            LATEST100,
            TrafficFlags(tags=("@latest=current", "s-00001=old")),
            [
                {"tag": "current", "latestRevision": True, "percent": 100},
                {"tag": "old", "revisionName": "s-00001", "latestRevision": False, "percent": 0},
            ],
            id="tags-keep-percent",
        ),
        pytest.param(
            [{"tag": "old", "revisionName": "s-00001", "percent": 50}, {"latestRevision": True, "percent": 50}],
            TrafficFlags(traffic=("old=0", "@latest=100"), untags=()),
            [
                {"tag": "old", "revisionName": "s-00001", "latestRevision": False, "percent": 0},
                {"latestRevision": True, "percent": 100},
            ],
            id="percent-by-tag",
        ),
        pytest.param(
            [{"tag": "old", "revisionName": "s-00001", "percent": 0}, {"latestRevision": True, "percent": 100}],
            TrafficFlags(untags=("old",)),
            LATEST100,
            id="untag-drops-null-target",
        ),
        pytest.param([], TrafficFlags(traffic=("100",)), LATEST100, id="empty-spec-is-latest-and-lone-number"),
    ],
)
def test_compute_traffic(traffic: list[dict[str, object]], flags: TrafficFlags, want: list[dict[str, object]]) -> None:
    assert compute("s", traffic, flags, REVS, "s-00002") == want


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(TrafficFlags(traffic=("a=60", "b=50")), "given traffic percents sum to 110, want <=100", id="sum"),
        pytest.param(TrafficFlags(traffic=("a=x",)), "error converting given x to integer", id="nan"),
        pytest.param(TrafficFlags(traffic=("a=10", "a=90")), "repetition of revision reference a", id="repeat"),
        pytest.param(
            TrafficFlags(untags=("nope",)), "tag(s) nope not present for any revisions of service s", id="untag"
        ),
        pytest.param(TrafficFlags(tags=("s-00001=a", "s-00002=a")), "refusing to overwrite existing tag", id="dup-tag"),
        pytest.param(
            TrafficFlags(traffic=("@latest=10",)), "unable to allocate the remaining traffic: 90%", id="alloc"
        ),
    ],
)
def test_compute_traffic_errors(flags: TrafficFlags, message: str) -> None:
    with pytest.raises(TrafficError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compute("s", LATEST100, flags, [*REVS, "s-00003"] if "allocate" in message else REVS, "s-00002")


def test_flags_parse_splits_commas() -> None:
    flags = TrafficFlags.parse(["a=10,b=90"], ["a=x"], [])
    assert flags.traffic == ("a=10", "b=90") and flags.tags == ("a=x",) and flags.given


def test_edit_template_env_remove_and_byo_name_dropped_on_change() -> None:
    svc = build_service("s", "ns", TemplateOptions(env=("A=1", "B=2"), revision_name="v1", scale_min=2))
    tmpl = svc["spec"]["template"]
    assert tmpl["metadata"] == {"name": "s-v1", "annotations": {"autoscaling.knative.dev/min-scale": "2"}}
    assert edit_template(svc, TemplateOptions(env=("A-",))) is True
    assert tmpl["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert "name" not in tmpl["metadata"]
    assert edit_template(svc, TemplateOptions()) is False


def test_autoscaling_annotations_go_only_to_the_template() -> None:
    opts = TemplateOptions(annotations=("autoscaling.knative.dev/target-burst-capacity=0", "team=web"))
    svc = build_service("s", "ns", opts)
    assert svc["metadata"]["annotations"] == {"team": "web"}
    assert svc["spec"]["template"]["metadata"]["annotations"] == {
        "autoscaling.knative.dev/target-burst-capacity": "0",
        "team": "web",
    }


def test_edit_template_rejects_bad_pairs() -> None:
    with pytest.raises(errors.BadRequest, match="expected KEY=VALUE"):
        build_service("s", "ns", TemplateOptions(env=("novalue",)))


def test_three_way_keeps_server_defaults_and_drops_removed_keys() -> None:
    live = {"a": 1, "b": 2, "defaulted": True, "nested": {"x": 1, "y": 2}, "list": [1, 2]}
    last = {"a": 1, "b": 2, "nested": {"x": 1, "y": 2}, "list": [1, 2]}
    desired = {"a": 5, "nested": {"x": 1}, "list": [3]}
    assert three_way(live, last, desired) == {"a": 5, "defaulted": True, "nested": {"x": 1}, "list": [3]}


def test_error_from_status_invalid_keeps_every_field() -> None:
    body = {
        "kind": "Status",
        "reason": "Invalid",
        "code": 422,
        "message": 'Service "x" is invalid',
        "details": {"kind": "Service", "name": "x", "causes": [
            {"field": "spec.traffic", "message": "Traffic targets sum to 90, want 100"},
            {"field": "metadata.name", "message": "not a DNS 1035 label"},
        ]},
    }  # fmt: skip
    e = error_from_status(422, body)
    assert isinstance(e, errors.Invalid)
    assert [str(fe) for fe in e.errors] == [
        "Traffic targets sum to 90, want 100: spec.traffic",
        "not a DNS 1035 label: metadata.name",
    ]


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (404, "NotFound", errors.NotFound),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),
        (401, "", errors.Unauthorized),
        (410, "Expired", errors.Gone),
    ],
)
def test_error_from_status_maps_reasons(code: int, reason: str, cls: type[errors.ApiError]) -> None:
    e = error_from_status(code, {"message": "m", "reason": reason})
    assert type(e) is cls and e.message == "m"


def test_context_order_of_sources(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "endpoints.json").write_text('{"api": "http://127.0.0.1:9999/", "gateway": "http://g"}')
    (data / "token").write_text("tok\n")
    ctx = Context.from_env(None, {"ZEROSERVE_DATA_DIR": str(data)})
    assert (ctx.data_dir, ctx.api, ctx.token, ctx.gateway) == (data, "http://127.0.0.1:9999", "tok", "http://g")
    over = Context.from_env(data, {"ZEROSERVE_API": "http://h:1", "ZEROSERVE_TOKEN": "t2"})
    assert (over.api, over.token) == ("http://h:1", "t2")
    empty = Context.from_env(tmp_path / "none", {})
    assert (empty.api, empty.token, empty.ca_file) == ("https://127.0.0.1:8001", "", "")


def test_context_finds_the_ca(tmp_path: Path) -> None:
    """The CA up recorded in endpoints.json, else DATA/ca.crt, unless $ZEROSERVE_CA_FILE names one."""
    (tmp_path / "ca.crt").write_text("pem")
    assert Context.from_env(tmp_path, {}).ca_file == str(tmp_path / "ca.crt")
    (tmp_path / "endpoints.json").write_text('{"api": "https://127.0.0.1:1", "ca": "/recorded/ca.crt"}')
    assert Context.from_env(tmp_path, {}).ca_file == "/recorded/ca.crt"
    assert Context.from_env(tmp_path, {"ZEROSERVE_CA_FILE": "/mine.pem"}).ca_file == "/mine.pem"
    with pytest.raises(errors.ZeroserveError, match=r"cannot load the API's CA from /mine\.pem"):
        Context.from_env(tmp_path, {"ZEROSERVE_CA_FILE": "/mine.pem"}).client()


def test_age_and_table() -> None:
    now = datetime(2025, 1, 2, 0, 0, 0, tzinfo=UTC)
    assert age("2025-01-01T23:59:30Z", now) == "30s"
    assert age("2025-01-01T23:50:00Z", now) == "10m"
    assert age("2025-01-01T00:00:00Z", now) == "1d"
    assert age(None, now) == ""
    assert table(["A", "BB"], [["xyz", "1"]]) == "A     BB\nxyz   1"


def test_progress_skips_a_status_of_an_earlier_generation(capsys: pytest.CaptureFixture[str]) -> None:
    """kn's wait skips events whose observedGeneration lags: an update must not print "Ready to serve." from
    the status the previous generation left, before the Route's "still working" of this one."""
    from zeroserve.cli.service import _Progress

    def svc(observed: int, *conditions: tuple[str, str, str]) -> dict[str, object]:
        conds = [{"type": t, "status": s, "message": m} for t, s, m in conditions]
        return {"metadata": {"generation": 2}, "status": {"observedGeneration": observed, "conditions": conds}}

    working = "The Route is still working to reflect the latest desired specification."
    progress = _Progress()
    progress(svc(1, ("Ready", "True", ""), ("RoutesReady", "True", "")))
    progress(svc(2, ("Ready", "Unknown", working), ("RoutesReady", "Unknown", working)))
    progress(svc(2, ("Ready", "True", ""), ("RoutesReady", "True", "")))
    lines = [line.split(" ", 3)[-1] for line in capsys.readouterr().err.splitlines()]
    assert lines == [working, "Ready to serve."]
