"""The CLI as a subprocess against a real store + API server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.cli.cli_harness import Api, clean_env, write_data_dir
from zeroserve import errors
from zeroserve.api import kinds, labels

HERE = Path(__file__).parent
HELLO = str(HERE / "manifests" / "hello.yaml")
BAD = str(HERE / "manifests" / "bad.yaml")


def _ready(api: Api, kind: kinds.Kind, name: str, status: Mapping[str, object]) -> None:
    """Play the controller: write a Ready status at the current generation."""

    async def write() -> None:
        obj = await api.store.get(kind, "default", name)
        obj["status"] = {
            "observedGeneration": obj["metadata"]["generation"],
            "conditions": [{"type": "Ready", "status": "True"}],
            **status,
        }
        await api.store.update_status(kind, obj)

    api.call(write)


def _revision(api: Api, service: str, generation: int) -> str:
    name = f"{service}-{generation:05d}"
    rev = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {
                labels.SERVICE: service,
                labels.CONFIGURATION: service,
                labels.CONFIGURATION_GENERATION: str(generation),
            },
        },
        "spec": {"containers": [{"command": ["python3", "app.py"]}]},
    }
    api.call(lambda: api.store.create(kinds.REVISION, rev))
    return name


def _spec_traffic(api: Api, name: str) -> list[dict[str, object]]:
    obj = api.call(lambda: api.store.get(kinds.SERVICE, "default", name))
    return list(obj["spec"].get("traffic") or [])


def test_apply_creates_then_reports_unchanged_and_configured(api: Api) -> None:
    first = api.cli("apply", "-f", HELLO)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "service.serving.knative.dev/hello created",
        "configuration.serving.knative.dev/worker created",
    ]
    again = api.cli("apply", "-f", HELLO)
    assert again.returncode == 0, again.stderr
    assert "service.serving.knative.dev/hello unchanged" in again.stdout
    changed = Path(HELLO).read_text().replace("value: World", "value: Moon")
    third = api.cli("apply", "-f", "-", stdin=changed)
    assert third.returncode == 0, third.stderr
    assert "service.serving.knative.dev/hello configured" in third.stdout
    svc = api.call(lambda: api.store.get(kinds.SERVICE, "default", "hello"))
    assert svc["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "TARGET", "value": "Moon"}]
    assert svc["metadata"]["generation"] == 2


def test_apply_bad_manifest_prints_every_error_and_writes_nothing(api: Api) -> None:
    result = api.cli("apply", "-f", BAD)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "spec.traffic" in result.stderr
    assert "metadata.name" in result.stderr
    assert "spec.template.spec.containerConcurrency" in result.stderr
    assert "Traceback" not in result.stderr
    items, _ = api.call(lambda: api.store.list(kinds.SERVICE))
    assert items == []  # not even the good document of the same file


def test_apply_directory_and_wait_until_ready(api: Api) -> None:
    proc = api.popen("apply", "-f", str(HERE / "manifests" / "hello.yaml"), "--wait", "--timeout", "60")

    def created() -> bool:
        try:
            api.call(lambda: api.store.get(kinds.CONFIGURATION, "default", "worker"))
        except errors.NotFound:
            return False
        return True

    from tests.support.polling import wait_for

    wait_for(created, what="worker created")
    _ready(api, kinds.SERVICE, "hello", {})
    _ready(api, kinds.CONFIGURATION, "worker", {})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "service.serving.knative.dev/hello is ready" in err


def test_get_table_json_yaml(api: Api) -> None:
    assert api.cli("apply", "-f", HELLO).returncode == 0
    names = {"latestReadyRevisionName": "hello-00001", "latestCreatedRevisionName": "hello-00001"}
    _ready(api, kinds.SERVICE, "hello", {"url": "http://hello.default.localhost", **names})
    _revision(api, "hello", 1)
    _ready(api, kinds.REVISION, "hello-00001", {"actualReplicas": 0, "desiredReplicas": 0})

    table = api.cli("get", "ksvc")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    assert row.split() == ["hello", "http://hello.default.localhost", "hello-00001", "hello-00001", "True"]

    wide = api.cli("get", "rev", "-A")
    assert wide.stdout.splitlines()[0].split()[:3] == ["NAMESPACE", "NAME", "CONFIG"]
    assert wide.stdout.splitlines()[1].split() == ["default", "hello-00001", "hello", "1", "True", "0", "0"]

    one = api.cli("get", "revision", "hello-00001", "-o", "json")
    doc = json.loads(one.stdout)
    assert doc["kind"] == "Revision" and doc["status"]["actualReplicas"] == 0

    many = api.cli("get", "services", "-o", "yaml")
    listed = yaml.safe_load(many.stdout)
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == ["hello"]
    assert many.stderr == ""
    assert "managedFields" not in listed["items"][0]["metadata"]  # hidden, as kubectl hides them
    shown = yaml.safe_load(api.cli("get", "ksvc", "hello", "-o", "yaml", "--show-managed-fields").stdout)
    assert {e["manager"] for e in shown["metadata"]["managedFields"]} == {"zeroserve"}  # the CLI's User-Agent

    empty = api.cli("get", "routes")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "No resources found in default namespace." in empty.stderr

    unknown = api.cli("get", "pods")
    assert unknown.returncode == 1 and 'resource type "pods"' in unknown.stderr


def test_describe_and_delete(api: Api) -> None:
    assert api.cli("apply", "-f", HELLO).returncode == 0
    _revision(api, "hello", 1)
    _ready(api, kinds.REVISION, "hello-00001", {})
    target = {"revisionName": "hello-00001", "latestRevision": True, "percent": 100, "tag": "current"}
    status = {"url": "http://hello.default.localhost", "latestReadyRevisionName": "hello-00001", "traffic": [target]}
    _ready(api, kinds.SERVICE, "hello", status)
    out = api.cli("describe", "ksvc", "hello")
    assert out.returncode == 0, out.stderr
    assert "Name:         hello" in out.stdout
    assert "last-applied" not in out.stdout
    assert "URL:          http://hello.default.localhost" in out.stdout
    assert "100%  + @latest hello-00001 #current [1]" in out.stdout
    assert "++   Ready" in out.stdout

    deleted = api.cli("delete", "ksvc", "hello")
    assert deleted.stdout.strip() == 'service.serving.knative.dev "hello" deleted'
    missing = api.cli("describe", "service", "hello")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error:") and "not found" in missing.stderr
    again = api.cli("delete", "ksvc", "hello")
    assert again.returncode == 1 and "(NotFound)" in again.stderr


def test_service_create_no_wait_builds_the_template(api: Api) -> None:
    result = api.cli(
        "service", "create", "hello", "--cmd", "python3 examples/hello/app.py", "--arg", "-v", "--env", "TARGET=World",
        "--scale-min", "1", "--scale-max", "3", "--concurrency-limit", "10", "--port", "9000",
        "--annotation", "team=a", "--label", "app=hi", "--no-wait",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Service 'hello' created in namespace 'default'." in result.stderr
    svc = api.call(lambda: api.store.get(kinds.SERVICE, "default", "hello"))
    template = svc["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "team": "a",
        "autoscaling.knative.dev/min-scale": "1",
        "autoscaling.knative.dev/max-scale": "3",
    }
    assert svc["metadata"]["labels"] == {"app": "hi"}
    container = template["spec"]["containers"][0]
    assert container["command"] == ["python3", "examples/hello/app.py"]
    assert container["args"] == ["-v"]
    assert container["env"] == [{"name": "TARGET", "value": "World"}]
    assert container["ports"] == [{"containerPort": 9000}]
    assert template["spec"]["containerConcurrency"] == 10

    exists = api.cli("service", "create", "hello", "--cmd", "x", "--no-wait")
    assert exists.returncode == 1 and "already exists" in exists.stderr and "--force" in exists.stderr


def test_service_create_waits_for_ready_and_prints_url(api: Api) -> None:
    proc = api.popen("service", "create", "hello", "--cmd", "python3 app.py", "--wait-timeout", "60")

    def created() -> bool:
        try:
            api.call(lambda: api.store.get(kinds.SERVICE, "default", "hello"))
        except errors.NotFound:
            return False
        return True

    from tests.support.polling import wait_for

    wait_for(created, what="hello created")
    _ready(
        api, kinds.SERVICE, "hello", {"url": "http://hello.default.localhost", "latestReadyRevisionName": "hello-00001"}
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Creating service 'hello' in namespace 'default':" in err
    assert "Ready to serve." in err
    assert "Service 'hello' created to latest revision 'hello-00001' is available at URL:" in err
    assert out.strip() == "http://hello.default.localhost"


def test_service_create_reports_failure_reason(api: Api) -> None:
    proc = api.popen("service", "create", "hello", "--cmd", "false", "--wait-timeout", "60")
    from tests.support.polling import wait_for

    def created() -> bool:
        try:
            api.call(lambda: api.store.get(kinds.SERVICE, "default", "hello"))
        except errors.NotFound:
            return False
        return True

    wait_for(created, what="hello created")

    async def fail() -> None:
        obj = await api.store.get(kinds.SERVICE, "default", "hello")
        message = 'Revision "hello-00001" failed with message: boom.'
        ready = {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": message}
        obj["status"] = {"observedGeneration": 1, "conditions": [ready]}
        await api.store.update_status(kinds.SERVICE, obj)

    api.call(fail)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert 'Error: RevisionFailed: Revision "hello-00001" failed with message: boom.' in err


def test_service_update_env_and_traffic_tag_untag(api: Api) -> None:
    assert api.cli("service", "create", "hello", "--cmd", "python3 app.py", "--env", "A=1", "--env", "B=2",
                   "--no-wait").returncode == 0  # fmt: skip
    _revision(api, "hello", 1)
    _revision(api, "hello", 2)
    _ready(api, kinds.SERVICE, "hello", {"latestReadyRevisionName": "hello-00002"})

    env = api.cli("service", "update", "hello", "--env", "A-", "--env", "C=3", "--no-wait")
    assert env.returncode == 0, env.stderr
    svc = api.call(lambda: api.store.get(kinds.SERVICE, "default", "hello"))
    assert svc["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "B", "value": "2"},
        {"name": "C", "value": "3"},
    ]

    split = api.cli("service", "update", "hello", "--traffic", "hello-00001=20,@latest=80", "--tag", "hello-00001=old",
                    "--no-wait")  # fmt: skip
    assert split.returncode == 0, split.stderr
    assert _spec_traffic(api, "hello") == [
        {"latestRevision": True, "percent": 80},
        {"tag": "old", "revisionName": "hello-00001", "latestRevision": False, "percent": 20},
    ]

    by_tag = api.cli("service", "update", "hello", "--traffic", "old=50", "--traffic", "@latest=50", "--no-wait")
    assert by_tag.returncode == 0, by_tag.stderr
    assert [t["percent"] for t in _spec_traffic(api, "hello")] == [50, 50]

    untag = api.cli("service", "update", "hello", "--untag", "old", "--traffic", "@latest=100", "--no-wait")
    assert untag.returncode == 0, untag.stderr
    assert _spec_traffic(api, "hello") == [{"latestRevision": True, "percent": 100}]

    bad = api.cli("service", "update", "hello", "--untag", "nope", "--no-wait")
    assert bad.returncode == 1
    assert "tag(s) nope not present for any revisions of service hello" in bad.stderr


def test_revision_and_route_lists(api: Api) -> None:
    assert api.cli("service", "create", "hello", "--cmd", "python3 app.py", "--no-wait").returncode == 0
    _revision(api, "hello", 1)
    _ready(api, kinds.SERVICE, "hello", {"latestReadyRevisionName": "hello-00001",
           "traffic": [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}]})  # fmt: skip
    out = api.cli("revision", "list", "-s", "hello")
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "SERVICE", "TRAFFIC", "TAGS"]
    assert row.split()[:4] == ["hello-00001", "hello", "100%", "1"]
    meta = {"name": "hello", "namespace": "default"}
    spec = {"traffic": [{"latestRevision": True, "percent": 100}]}
    route = {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": meta, "spec": spec}
    api.call(lambda: api.store.create(kinds.ROUTE, route))
    _ready(api, kinds.ROUTE, "hello", {"url": "http://hello.default.localhost"})
    routes = api.cli("route", "list")
    assert routes.stdout.splitlines()[1].split() == ["hello", "http://hello.default.localhost", "True"]


def test_wrong_token_is_refused(api: Api, tmp_path: Path) -> None:
    data = tmp_path / "wrong"
    write_data_dir(data, api.url, "not-the-token")
    result = api.cli("get", "ksvc", data_dir=data)
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "Unauthorized" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_overrides_api_and_token(api: Api, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**clean_env(), "ZEROSERVE_API": api.url, "ZEROSERVE_TOKEN": "test-token-123"}
    result = subprocess.run(
        [sys.executable, "-m", "zeroserve", "--data-dir", str(tmp_path / "empty"), "get", "ksvc"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_no_server_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        data = tmp_path / "data"
        write_data_dir(data, f"http://127.0.0.1:{port}", "t")
        result = subprocess.run(
            [sys.executable, "-m", "zeroserve", "--data-dir", str(data), "get", "ksvc"],
            env=clean_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no zeroserve API at http://127.0.0.1:{port}: is `zeroserve up` running? (data dir {data})"
    )


@pytest.mark.parametrize("args", [["get", "ksvc", "-o", "widest"], ["service", "update", "x", "--env", "=v"]])
def test_user_errors_exit_1_without_traceback(api: Api, args: list[str]) -> None:
    result = api.cli(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("error:")


# -- issue 11: apply is all-or-nothing and idempotent; bad input is one clear line ----------------

BYO = """apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: byo
spec:
  template:
    metadata:
      name: byo-v1
    spec:
      containers:
        - command: ["python3", "app.py"]
"""


def test_apply_twice_with_a_byo_revision_name_is_unchanged(api: Api) -> None:
    first = api.cli("apply", "-f", "-", stdin=BYO)
    assert first.returncode == 0, first.stderr
    again = api.cli("apply", "-f", "-", stdin=BYO)
    assert (again.returncode, again.stdout, again.stderr) == (0, "service.serving.knative.dev/byo unchanged\n", "")
    changed = api.cli("apply", "-f", "-", stdin=BYO.replace("app.py", "other.py"))
    assert changed.returncode == 1
    assert "Saw the following changes without a name change (-old +new): spec.template.metadata.name" in changed.stderr


def test_apply_refuses_one_object_twice_and_writes_nothing(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(BYO + "---\n" + BYO.replace("app.py", "other.py"))
    result = api.cli("apply", "-f", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert (
        result.stderr
        == f"error: {path}: document 1: service.serving.knative.dev/byo: defined twice (also document 0)\n"
    )
    items, _ = api.call(lambda: api.store.list(kinds.SERVICE))
    assert items == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            BYO.replace("  name: byo\n", ""), "document 0: Service: missing field(s): metadata.name", id="no-name"
        ),
        pytest.param(
            BYO.replace("  name: byo\n", "  name: byo\n  namespace: yes\n"),
            'document 0: Service: invalid type: got "boolean", expected "string": metadata.namespace',
            id="bool-namespace",
        ),
        pytest.param(
            BYO.replace("metadata:\n  name: byo\n", "metadata:\n"),
            "document 0: Service: missing field(s): metadata.name",
            id="null-metadata",
        ),
        pytest.param(
            BYO.replace("  name: byo\n", "  name: byo\n  annotations: oops\n"),
            'document 0: Service: invalid type: got "string", expected "map": metadata.annotations',
            id="string-annotations",
        ),
    ],
)
def test_apply_bad_metadata_is_one_line(api: Api, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = api.cli("apply", "-f", str(path))
    assert (result.returncode, result.stderr) == (1, f"error: {path}: {message}\n")


def test_apply_with_empty_annotations_as_in_knatives_docs(api: Api) -> None:
    result = api.cli("apply", "-f", "-", stdin=BYO.replace("  name: byo\n", "  name: byo\n  annotations:\n"))
    assert result.returncode == 0, result.stderr


def test_apply_non_utf8_file_is_one_line(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BYO.replace("app.py", "café.py").encode("latin-1"))
    result = api.cli("apply", "-f", str(path))
    assert (result.returncode, result.stderr) == (
        1,
        f"error: {path}: not UTF-8 text: byte 0xe9 at line 11, column 36\n",
    )
