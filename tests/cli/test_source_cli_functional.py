"""``zeroserve source ping|binding|container ...`` and ``source list`` as a subprocess against a real API
server; flags, messages and columns are kn's (knative/client pkg/commands/source/{ping,binding,container},
list.go)."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.cli_harness import Api
from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli.source_binding import parse_subject, subject_text
from zeroserve.cli.source_ping import data_fields
from zeroserve.testing import service


def get(api: Api, kind: kinds.Kind, name: str) -> Obj:
    return api.call(lambda: api.store.get(kind, "default", name))


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_data_fields_guess_the_encoding_as_kn() -> None:
    assert data_fields('{"a": 1}', None) == ('{"a": 1}', "")
    assert data_fields("aGVsbG8=", None) == ("", "aGVsbG8=")
    assert data_fields("aGVsbG8=", "text") == ("aGVsbG8=", "")
    assert data_fields("x", "base64") == ("", "x")
    with pytest.raises(errors.BadRequest, match=re.escape("invalid value: hex. Accepted values are: text|base64")):
        data_fields("x", "hex")


def test_parse_subject_as_kn() -> None:
    named = parse_subject("Service:serving.knative.dev/v1:app", "ns")
    assert named == {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "namespace": "ns", "name": "app"}
    selected = parse_subject("ContainerSource:sources.knative.dev/v1:a=b,c=d", "ns")
    assert selected["selector"] == {"matchLabels": {"a": "b", "c": "d"}}
    assert subject_text(selected) == "ContainerSource:sources.knative.dev/v1:a=b,c=d"
    with pytest.raises(errors.BadRequest, match="invalid subject argument 'Service:v1': not in format"):
        parse_subject("Service:v1", "ns")


def test_source_ping_create_update_list_describe_delete(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "display")))
    assert api.cli("source", "ping", "list").stdout == "No Ping source found.\n"
    missing = api.cli("source", "ping", "create", "p")
    assert (missing.returncode, missing.stderr) == (1, 'error: required flag(s) "sink" not set\n')
    flags = ["--schedule", "*/2 * * * *", "--data", '{"v": "hi"}', "--sink", "ksvc:display", "--ce-override", "t=a"]
    done = api.cli("source", "ping", "create", "p", *flags)
    assert (done.returncode, done.stdout) == (0, "Ping source 'p' created in namespace 'default'.\n"), done.stderr
    spec = get(api, kinds.PINGSOURCE, "p")["spec"]
    assert (spec["schedule"], spec["data"], spec["ceOverrides"]) == (
        "*/2 * * * *",
        '{"v": "hi"}',
        {"extensions": {"t": "a"}},
    )
    bad = api.cli("source", "ping", "create", "q", "--schedule", "* * *", "--sink", "ksvc:display")
    assert bad.returncode == 1 and "spec.schedule" in bad.stderr
    enc = api.cli("source", "ping", "create", "q", "--data", "x", "-e", "hex", "--sink", "ksvc:display")
    assert enc.stderr == (
        'error: cannot create PingSource "q" in namespace "default" because: '
        "invalid value: hex. Accepted values are: text|base64\n"
    )

    done = api.cli(
        "source", "ping", "update", "p", "--data", "aGVsbG8=", "--ce-override", "t-", "--sink", "http://x.test"
    )
    assert done.stdout == "Ping source 'p' updated in namespace 'default'.\n", done.stderr
    spec = get(api, kinds.PINGSOURCE, "p")["spec"]
    assert spec["dataBase64"] == "aGVsbG8=" and "data" not in spec and spec["schedule"] == "*/2 * * * *"
    assert spec["sink"] == {"uri": "http://x.test"} and not (spec.get("ceOverrides") or {}).get("extensions")

    listed = rows(api.cli("source", "ping", "list").stdout)
    assert listed[0] == ["NAME", "SCHEDULE", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    assert listed[1][:6] == ["p", "*/2", "*", "*", "*", "*"]
    text = api.cli("source", "ping", "describe", "p").stdout
    for expected in ("Schedule:", "*/2 * * * *", "DataBase64:", "aGVsbG8=", "URI:", "http://x.test", "Conditions:"):
        assert expected in text, text
    assert json.loads(api.cli("source", "ping", "describe", "p", "-o", "json").stdout)["kind"] == "PingSource"
    assert api.cli("source", "ping", "delete", "p").stdout == "Ping source 'p' deleted in namespace 'default'.\n"
    assert api.cli("source", "ping", "delete", "p").returncode == 1


def test_source_binding_create_update_list_describe_delete(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "display")))
    assert api.cli("source", "binding", "list").stdout == "No sink binding found.\n"
    missing = api.cli("source", "binding", "create", "b")
    assert missing.stderr == 'error: required flag(s) "subject", "sink" not set\n'
    subject = "Service:serving.knative.dev/v1:display"
    done = api.cli(
        "source", "binding", "create", "b", "--subject", subject, "--sink", "http://s.test", "--ce-override", "k=v"
    )
    assert done.stdout == "Sink binding 'b' created in namespace 'default'.\n", done.stderr
    spec = get(api, kinds.SINKBINDING, "b")["spec"]
    assert spec["subject"] == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "namespace": "default",
        "name": "display",
    }
    refused = api.cli(
        "source", "binding", "create", "c", "--subject", "Deployment:apps/v1:x", "--sink", "http://s.test"
    )
    assert refused.returncode == 1 and "zeroserve binds Knative Services" in refused.stderr

    selector = "ContainerSource:sources.knative.dev/v1:app=beats"
    done = api.cli("source", "binding", "update", "b", "--subject", selector)
    assert done.stdout == "Sink binding 'b' updated in namespace 'default'.\n", done.stderr
    assert get(api, kinds.SINKBINDING, "b")["spec"]["subject"]["selector"] == {"matchLabels": {"app": "beats"}}
    listed = rows(api.cli("source", "binding", "list").stdout)
    assert listed[0] == ["NAME", "SUBJECT", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    assert listed[1][:3] == ["b", selector, "http://s.test"]
    text = api.cli("source", "binding", "describe", "b").stdout
    for expected in ("Subject:", "Resource:", "ContainerSource (sources.knative.dev/v1)", "Selector:", "app:", "k:"):
        assert expected in text, text
    assert api.cli("source", "binding", "delete", "b").stdout == "Sink binding 'b' deleted in namespace 'default'.\n"


def test_source_container_create_update_list_describe_delete_and_source_list(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "display")))
    assert api.cli("source", "container", "list").stdout == "No Container source found.\n"
    assert api.cli("source", "list").stdout == "No sources found.\n"
    missing = api.cli("source", "container", "create", "c", "--sink", "ksvc:display")
    assert missing.stderr == 'error: required flag(s) "image" or "cmd" not set\n'
    flags = ["--cmd", "python3 app.py", "--arg", "--period", "--arg", "1", "--env", "A=1", "--sink", "ksvc:display"]
    done = api.cli("source", "container", "create", "c", *flags)
    assert done.stdout == "ContainerSource 'c' created in namespace 'default'.\n", done.stderr
    (container,) = get(api, kinds.CONTAINERSOURCE, "c")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python3", "app.py"] and container["args"] == ["--period", "1"]
    assert container["env"] == [{"name": "A", "value": "1"}] and container["name"] == "c-0"
    nosink = api.cli("source", "container", "create", "d", "--image", "x.test/i:1", "--sink", "ksvc:absent")
    assert (
        nosink.returncode == 1 and "cannot create ContainerSource 'd' in namespace 'default' because:" in nosink.stderr
    )

    done = api.cli("source", "container", "update", "c", "--image", "x.test/i:2", "--env", "A-", "--ce-override", "o=1")
    assert done.stdout == "Container source 'c' updated in namespace 'default'.\n", done.stderr
    source = get(api, kinds.CONTAINERSOURCE, "c")
    (container,) = source["spec"]["template"]["spec"]["containers"]
    assert (
        container["image"] == "x.test/i:2" and "env" not in container and container["command"] == ["python3", "app.py"]
    )
    assert source["spec"]["ceOverrides"] == {"extensions": {"o": "1"}}
    listed = rows(api.cli("source", "container", "list").stdout)
    assert listed[0] == ["NAME", "IMAGE", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    assert listed[1][:3] == ["c", "x.test/i:2", "ksvc:display"]
    text = api.cli("source", "container", "describe", "c").stdout
    for expected in ("Container:", "Image:", "x.test/i:2", "Command:", "python3 app.py", "Args:", "--period", "o:"):
        assert expected in text, text

    api.cli("source", "ping", "create", "p", "--sink", "ksvc:display")
    listed = rows(api.cli("source", "list").stdout)
    assert listed[0] == ["NAME", "TYPE", "RESOURCE", "SINK", "READY"]
    assert [r[:4] for r in listed[1:]] == [
        ["c", "ContainerSource", "containersources.sources.knative.dev", "ksvc:display"],
        ["p", "PingSource", "pingsources.sources.knative.dev", "ksvc:display"],
    ]
    assert [r[0] for r in rows(api.cli("source", "list", "-t", "pingsource").stdout)[1:]] == ["p"]
    done = api.cli("source", "container", "delete", "c")
    assert done.stdout == "ContainerSource 'c' deleted in namespace 'default'.\n"
