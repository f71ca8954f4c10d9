"""The CLI a user expects (issue 18): version, get -o name|wide|jsonpath, get -w, the root cause in
REASON, a token that the API refuses, completion, help; a subprocess against a real API server."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli.cli_harness import REPO, Api, clean_env, write_data_dir
from tests.support.polling import wait_for
from zeroserve import __version__
from zeroserve.api import kinds, labels

HELLO = str(Path(__file__).parent / "manifests" / "hello.yaml")


def _status(api: Api, kind: kinds.Kind, name: str, status: dict[str, object]) -> None:
    async def write() -> None:
        obj = await api.store.get(kind, "default", name)
        obj["status"] = {"observedGeneration": obj["metadata"]["generation"], **status}
        await api.store.update_status(kind, obj)

    api.call(write)


def _failing_service(api: Api, name: str, revision_reason: str) -> None:
    """A Service whose latest Revision failed with ``revision_reason``, as the controller writes them."""
    svc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": "example.com/app"}]}}},
    }
    api.call(lambda: api.store.create(kinds.SERVICE, svc))
    rev_name = f"{name}-00001"
    rev = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": rev_name,
            "namespace": "default",
            "labels": {labels.SERVICE: name, labels.CONFIGURATION: name, labels.CONFIGURATION_GENERATION: "1"},
        },
        "spec": {"containers": [{"image": "example.com/app"}]},
    }
    api.call(lambda: api.store.create(kinds.REVISION, rev))
    _status(
        api,
        kinds.REVISION,
        rev_name,
        {"conditions": [{"type": "Ready", "status": "False", "reason": revision_reason, "message": "boom"}]},
    )
    _status(
        api,
        kinds.SERVICE,
        name,
        {
            "latestCreatedRevisionName": rev_name,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "RevisionMissing", "message": "no ready Revision"}
            ],
        },
    )


def test_get_ksvc_shows_the_root_cause_beside_knatives_reason(api: Api) -> None:
    _failing_service(api, "broken", "ExitCode3")
    _failing_service(api, "noimage", "ContainerMissing")
    table = api.cli("get", "ksvc")
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert rows["broken"].endswith("False   RevisionMissing (ExitCode3)")
    assert rows["noimage"].endswith("RevisionMissing (ContainerMissing)")
    listed = api.cli("service", "list")
    assert "RevisionMissing (ExitCode3)" in listed.stdout, listed.stdout
    # the objects keep Knative's status: what kubectl and -o json read
    doc = json.loads(api.cli("get", "ksvc", "broken", "-o", "json").stdout)
    assert [c["reason"] for c in doc["status"]["conditions"]] == ["RevisionMissing"]
    # a Ready service gets no cause
    _status(api, kinds.SERVICE, "broken", {"latestCreatedRevisionName": "broken-00001",
                                          "conditions": [{"type": "Ready", "status": "True"}]})  # fmt: skip
    rows = {line.split()[0]: line for line in api.cli("get", "ksvc").stdout.splitlines()[1:]}
    assert "ExitCode3" not in rows["broken"] and rows["broken"].split()[-1] == "True"


def test_get_output_name_wide_and_jsonpath(api: Api) -> None:
    assert api.cli("apply", "-f", HELLO).returncode == 0
    names = api.cli("get", "ksvc", "-o", "name")
    assert names.stdout.strip() == "service.serving.knative.dev/hello", names.stderr
    path = api.cli("get", "ksvc", "-o", "jsonpath={.items[*].metadata.name}")
    assert path.stdout == "hello"
    one = api.cli("get", "ksvc", "hello", "-o", r'jsonpath={.kind}{"\n"}{range .spec.template.spec.containers[*]}'
                  r"{.command[0]}{end}")  # fmt: skip
    assert one.stdout == "Service\npython3", one.stderr
    wide = api.cli("get", "ksvc", "-o", "wide")
    assert wide.stdout.splitlines()[0].split() == ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"]
    # a Broker has a priority column (CLASS): shown with -o wide only
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "b", "namespace": "default"},
    }
    assert api.cli("apply", "-f", "-", stdin=json.dumps(broker)).returncode == 0
    assert "CLASS" not in api.cli("get", "brokers").stdout.splitlines()[0]
    assert "CLASS" in api.cli("get", "brokers", "-o", "wide").stdout.splitlines()[0]
    bad = api.cli("get", "ksvc", "-o", "jsonpath={.items[")
    assert bad.returncode == 1 and bad.stderr.startswith("error: error parsing jsonpath")
    unknown = api.cli("get", "ksvc", "-o", "csv")
    assert unknown.returncode == 1 and "allowed formats are: json,jsonpath,name,wide,yaml" in unknown.stderr


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return out


def _next_line(lines: queue.Queue[str], containing: str) -> str:
    seen: list[str] = []

    def found() -> str | None:
        while not lines.empty():
            line = lines.get()
            seen.append(line)
            if containing in line:
                return line
        return None

    line: str = wait_for(found, timeout=30, what=f"a line with {containing!r} (seen {seen})")
    return line


def test_get_watch_prints_changes_and_ends_cleanly_on_ctrl_c(api: Api) -> None:
    _failing_service(api, "first", "ExitCode1")
    proc = api.popen("get", "ksvc", "-w")
    try:
        lines = _lines(proc)
        assert _next_line(lines, "NAME").split()[:2] == ["NAME", "URL"]
        assert _next_line(lines, "first").endswith("RevisionMissing (ExitCode1)")
        _failing_service(api, "second", "ExitCode3")  # created, then its status: two changes
        assert "second" in _next_line(lines, "second")
        assert _next_line(lines, "ExitCode3").split()[0] == "second"
        _status(api, kinds.SERVICE, "first", {"url": "http://first.default.localhost",
                                             "conditions": [{"type": "Ready", "status": "True"}]})  # fmt: skip
        assert _next_line(lines, "http://first.default.localhost").split()[-1] == "True"
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "Aborted" not in stderr


def test_get_watch_one_object_as_names(api: Api) -> None:
    proc = api.popen("get", "ksvc", "two", "-w", "-o", "name")
    try:
        lines = _lines(proc)
        _failing_service(api, "one", "ExitCode1")
        _failing_service(api, "two", "ExitCode1")
        assert _next_line(lines, "/") == "service.serving.knative.dev/two"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_version_with_and_without_a_server(api: Api, tmp_path: Path) -> None:
    result = api.cli("version")
    assert result.returncode == 0, result.stderr
    client, server = result.stdout.splitlines()
    assert client.startswith(f"Client Version: {__version__} (python ")
    assert server.startswith("Server Version: v1.") and server.endswith(f"+zeroserve.{__version__} at {api.url}")
    doc = json.loads(api.cli("version", "-o", "json").stdout)
    assert doc["serverVersion"]["gitVersion"].endswith(__version__)
    nothing = api.cli("version", data_dir=tmp_path / "empty")
    assert nothing.returncode == 0
    assert nothing.stdout.splitlines()[1].startswith("Server Version: unknown (no zeroserve API at ")
    flag = api.cli("--version")
    assert (flag.returncode, flag.stdout) == (0, f"zeroserve {__version__}\n")


def test_a_token_the_api_refuses_names_the_data_dir(api: Api, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_data_dir(other, api.url, "not-the-token")
    result = api.cli("get", "ksvc", data_dir=other)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: the API at {api.url} does not accept the token in {other / 'token'} (Unauthorized): "
        "is another `zeroserve up` running with a different --data-dir?"
    )
    (other / "token").unlink()
    missing = api.cli("get", "ksvc", data_dir=other)
    assert f"does not accept the token in {other / 'token'} (missing) (Unauthorized)" in missing.stderr


def _zeroserve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_shell_completion(tmp_path: Path) -> None:
    env = {**clean_env(), "HOME": str(tmp_path)}
    script = _zeroserve(env={**env, "_ZEROSERVE_COMPLETE": "source_bash"})
    assert "complete -o default -F _zeroserve_completion zeroserve" in script.stdout, script.stderr
    words = {**env, "_ZEROSERVE_COMPLETE": "complete_bash", "COMP_WORDS": "zeroserve get re", "COMP_CWORD": "2"}
    assert _zeroserve(env=words).stdout.split() == ["revisions", "rev"]
    words = {**env, "_ZEROSERVE_COMPLETE": "complete_bash", "COMP_WORDS": "zeroserve ser", "COMP_CWORD": "1"}
    assert _zeroserve(env=words).stdout.split() == ["service"]
    helped = _zeroserve("--help", env=env).stdout
    assert "--install-completion" in helped and "--show-completion" in helped and "--version" in helped


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (("up",), "--serve-registry "),
        (("up",), "--api-port int "),
        (("get",), "-o, --output FORMAT "),
        (("get",), "-w, --watch "),
        (("service", "create"), "--env-value-from string "),
    ],
)
def test_help_reads_like_kubectl(command: tuple[str, ...], line: str) -> None:
    text = _zeroserve(*command, "--help", env={**clean_env(), "COLUMNS": "120"}).stdout
    assert line in text, text
    for tag in ("<bool>", "<str>", "<int>", "<path>", "<float>"):
        assert tag not in text
    assert "Usage: zeroserve " in text
