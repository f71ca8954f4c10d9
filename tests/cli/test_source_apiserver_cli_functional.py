"""``zeroserve source apiserver ...`` and ``eventtype list|describe`` as a subprocess against a real API
server; flags, messages and columns are kn's (knative/client pkg/commands/{source/apiserver,eventtype})."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.cli_harness import Api
from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli.source_apiserver import parse_ce_overrides, parse_resource, resource_text, update_resources
from zeroserve.testing import service

SVC = "Service:serving.knative.dev/v1"


def get(api: Api, kind: kinds.Kind, name: str) -> Obj:
    return api.call(lambda: api.store.get(kind, "default", name))


def test_parse_resource_as_kn() -> None:
    assert parse_resource("Service:serving.knative.dev/v1") == {
        "kind": "Service",
        "apiVersion": "serving.knative.dev/v1",
    }
    assert parse_resource("Event:v1:a=b,c=d") == {
        "kind": "Event",
        "apiVersion": "v1",
        "selector": {"matchLabels": {"a": "b", "c": "d"}},
    }
    assert resource_text(parse_resource("Event:v1:c=d,a=b")) == "Event:v1:a=b,c=d"
    for bad, message in (
        (":v1", "cannot find 'kind' part in resource specification :v1"),
        ("Event", "cannot find 'APIVersion' part in resource specification Event"),
        ("Event:", "cannot find 'APIVersion' part"),
        ("Event:v1:a", "invalid label selector in resource specification Event:v1:a"),
    ):
        with pytest.raises(errors.BadRequest, match=message):
            parse_resource(bad)


def test_update_resources_adds_and_removes() -> None:
    existing = [parse_resource(SVC), parse_resource("Event:v1")]
    assert update_resources(existing, ["Event:v1-", "Broker:eventing.knative.dev/v1"]) == [
        parse_resource(SVC),
        parse_resource("Broker:eventing.knative.dev/v1"),
    ]
    with pytest.raises(
        errors.BadRequest, match=re.escape("cannot find resources to remove: Route:serving.knative.dev/v1")
    ):
        update_resources(existing, ["Route:serving.knative.dev/v1-"])


def test_parse_ce_overrides_as_kn() -> None:
    assert parse_ce_overrides(["a=1", "b", "c-"]) == ({"a": "1", "b": ""}, ["c"])
    with pytest.raises(errors.BadRequest, match="The key is empty"):
        parse_ce_overrides(["=1"])
    with pytest.raises(errors.BadRequest, match='The key "a" has been duplicate'):
        parse_ce_overrides(["a=1", "a=2"])


def test_source_apiserver_create_update_list_describe_delete(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "display")))
    assert api.cli("source", "apiserver", "list").stdout == "No ApiServer source found.\n"
    missing = api.cli("source", "apiserver", "create", "s")
    assert (missing.returncode, missing.stderr) == (1, 'error: required flag(s) "resource", "sink" not set\n')
    flags = ["--resource", SVC, "--resource", "Event:v1:app=x", "--sink", "ksvc:display", "--ce-override", "team=a"]
    done = api.cli("source", "apiserver", "create", "s", *flags, "--service-account", "sa")
    assert (done.returncode, done.stdout) == (0, "ApiServer source 's' created in namespace 'default'.\n"), done.stderr
    spec = get(api, kinds.APISERVERSOURCE, "s")["spec"]
    assert spec["mode"] == "Reference" and spec["serviceAccountName"] == "sa"
    assert spec["resources"] == [
        {"apiVersion": "serving.knative.dev/v1", "kind": "Service"},
        {"apiVersion": "v1", "kind": "Event", "selector": {"matchLabels": {"app": "x"}}},
    ]
    assert spec["sink"]["ref"]["name"] == "display" and spec["ceOverrides"] == {"extensions": {"team": "a"}}

    nosink = api.cli("source", "apiserver", "create", "t", "--resource", SVC, "--sink", "ksvc:absent")
    assert nosink.returncode == 1
    assert "cannot create ApiServerSource 't' in namespace 'default' because:" in nosink.stderr
    badmode = api.cli("source", "apiserver", "create", "t", "--resource", SVC, "--sink", "ksvc:display", "--mode", "X")
    assert badmode.returncode == 1 and "spec.mode" in badmode.stderr

    update = ["--mode", "Resource", "--resource", "Event:v1:app=x-", "--ce-override", "team-", "--ce-override", "x=y"]
    done = api.cli("source", "apiserver", "update", "s", *update, "--sink", "https://example.test/in")
    assert (done.returncode, done.stdout) == (0, "ApiServer source 's' updated in namespace 'default'.\n"), done.stderr
    spec = get(api, kinds.APISERVERSOURCE, "s")["spec"]
    assert spec["mode"] == "Resource" and spec["serviceAccountName"] == "sa"
    assert spec["resources"] == [{"apiVersion": "serving.knative.dev/v1", "kind": "Service"}]
    assert spec["sink"] == {"uri": "https://example.test/in"} and spec["ceOverrides"] == {"extensions": {"x": "y"}}

    rows = [line.split() for line in api.cli("source", "apiserver", "list").stdout.splitlines()]
    assert rows[0] == ["NAME", "RESOURCES", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    assert rows[1][:3] == ["s", SVC, "https://example.test/in"]
    assert json.loads(api.cli("source", "apiserver", "list", "-o", "json").stdout)["items"][0]["kind"] == (
        "ApiServerSource"
    )
    text = api.cli("source", "apiserver", "describe", "s").stdout
    for expected in ("ServiceAccountName:  sa", "EventMode:           Resource", "URI:", "x:", "Kind:", "Conditions:"):
        assert expected in text, text
    assert "Kind:  Service (serving.knative.dev/v1)" in text
    done = api.cli("source", "apiserver", "delete", "s")
    assert done.stdout == "ApiServer source 's' deleted in namespace 'default'.\n"
    assert api.cli("source", "apiserver", "delete", "s").returncode == 1


def test_eventtype_list_describe(api: Api) -> None:
    assert api.cli("eventtype", "list").stdout == "No eventtypes found.\n"
    eventtype = {
        "apiVersion": "eventing.knative.dev/v1beta2",
        "kind": "EventType",
        "metadata": {"name": "et1", "namespace": "default"},
        "spec": {
            "type": "dev.knative.apiserver.resource.add",
            "source": "https://127.0.0.1:8001",
            "reference": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"},
        },
    }
    api.call(lambda: api.store.create(kinds.EVENTTYPE, eventtype))
    rows = [line.split() for line in api.cli("eventtype", "list").stdout.splitlines()]
    assert rows[0] == ["NAME", "TYPE", "SOURCE", "REFERENCE", "AGE", "READY"]
    assert rows[1][:4] == ["et1", "dev.knative.apiserver.resource.add", "https://127.0.0.1:8001", "default"]
    text = api.cli("eventtype", "describe", "et1").stdout
    assert (
        "Type:" in text and "Source:" in text and "Reference:\n  APIVersion:" in text and "Kind:        Broker" in text
    )
    assert json.loads(api.cli("eventtype", "describe", "et1", "-o", "json").stdout)["spec"]["type"].endswith(".add")
    assert api.cli("eventtype", "describe", "absent").returncode == 1


def test_rbac_kinds_of_the_apiserversource_sample_are_refused_with_the_reason(api: Api, tmp_path: Path) -> None:
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: events-sa\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: b\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
    )
    done = api.cli("apply", "-f", str(manifest))
    assert done.returncode == 1
    assert 'no matches for kind "ServiceAccount" in version "v1" (zeroserve has no RBAC:' in done.stderr
    assert 'no matches for kind "RoleBinding" in version "rbac.authorization.k8s.io/v1" (zeroserve' in done.stderr


def test_the_cronjob_of_the_sinkbinding_sample_is_refused_with_the_reason(api: Api, tmp_path: Path) -> None:
    manifest = tmp_path / "cronjob.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: heartbeat-cron\n"
        'spec:\n  schedule: "*/1 * * * *"\n  jobTemplate: {}\n'
    )
    done = api.cli("apply", "-f", str(manifest))
    assert done.returncode == 1
    assert 'no matches for kind "CronJob" in version "batch/v1" (zeroserve runs Knative Services and' in done.stderr
