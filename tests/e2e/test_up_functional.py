"""The issue's acceptance, end to end: `zeroserve up` + the CLI + real instances, over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.harness import REPO, Up, condition
from tests.support.polling import wait_for
from zeroserve.api.kinds import REVISION, ROUTE, SERVICE

SERVICES = "/apis/serving.knative.dev/v1/namespaces/default/services"


def is_ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status", {})
    return (
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and condition(obj, "Ready").get("status") == "True"
    )


def get_json(up: Up, *args: str) -> dict[str, Any]:
    return json.loads(up.cli("get", *args, "-o", "json").stdout)  # type: ignore[no-any-return]


def test_hello_tour(up: Up) -> None:
    out = up.cli("apply", "-f", "examples/hello/service.yaml").stdout
    assert "service.serving.knative.dev/hello created" in out

    svc = wait_for(lambda: (s := get_json(up, "ksvc", "hello")) and is_ready(s) and s, 60, "hello Ready")
    assert svc["status"]["url"] == f"http://hello.default.localhost:{up.port}"
    assert svc["status"]["latestCreatedRevisionName"] == "hello-00001"
    assert svc["status"]["latestReadyRevisionName"] == "hello-00001"
    table = up.cli("get", "ksvc").stdout
    assert "hello" in table and f"http://hello.default.localhost:{up.port}" in table and "hello-00001" in table

    # The instance really runs under the runtime contract.
    rev = get_json(up, "revision", "hello-00001")
    assert rev["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert rev["spec"]["timeoutSeconds"] == 300 and rev["spec"]["containerConcurrency"] == 0

    # A changed env value makes hello-00002.
    changed = (REPO / "examples/hello/service.yaml").read_text().replace("value: World", "value: Knative")
    assert "configured" in up.cli("apply", "-f", "-", input=changed).stdout
    wait_for(
        lambda: (s := get_json(up, "ksvc", "hello")) and s["status"].get("latestReadyRevisionName") == "hello-00002",
        60,
        "hello-00002 ready",
    )

    up.cli("service", "update", "hello", "--traffic", "hello-00001=50,@latest=50", "--tag", "hello-00002=candidate")
    route = wait_for(
        lambda: (
            (r := get_json(up, "route", "hello")) and is_ready(r) and len(r["status"].get("traffic", [])) == 3 and r
        ),
        60,
        "route traffic split",
    )
    traffic = route["status"]["traffic"]
    by_rev = {(t["revisionName"], t.get("tag")): t for t in traffic}
    assert by_rev[("hello-00001", None)]["percent"] == 50
    assert by_rev[("hello-00002", None)]["percent"] == 50 and by_rev[("hello-00002", None)]["latestRevision"] is True
    tagged = by_rev[("hello-00002", "candidate")]
    assert tagged["url"] == f"http://candidate-hello.default.localhost:{up.port}"


def test_bad_manifest_writes_nothing(up: Up) -> None:
    done = up.cli("apply", "-f", "examples/hello/bad-service.yaml", check=False)
    assert done.returncode != 0
    err = done.stdout + done.stderr
    for text in (
        "Traffic targets sum to 90, want 100: spec.traffic",
        "expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency",
        "metadata.name",
        "autoscaling.knative.dev/min-scale",
        "autoscaling.knative.dev/window",
    ):
        assert text in err, f"{text!r} missing from:\n{err}"
    assert up.client().list(SERVICE, None)["items"] == []


def test_sigkill_loses_no_acknowledged_write(up: Up) -> None:
    client = up.client()
    acknowledged: list[str] = []

    def create(i: int) -> str | None:
        body = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": f"s{i}"},
            "spec": {"template": {"spec": {"containers": [{"command": ["python3", "examples/hello/app.py"]}]}}},
        }
        try:
            client.create(SERVICE, body)
        except Exception:  # the server died under us: not acknowledged
            return None
        return f"s{i}"

    # Four writers create Services until the server dies under them; SIGKILL lands mid-stream,
    # once twenty writes have been acknowledged (list.append is atomic across threads).
    def writer(w: int) -> None:
        for i in range(100):
            name = create(w * 100 + i)
            if name is None:
                break
            acknowledged.append(name)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer, w) for w in range(4)]
        wait_for(lambda: len(acknowledged) >= 20, 60, "twenty acknowledged creates")
        assert up.proc is not None
        up.proc.send_signal(signal.SIGKILL)
        for f in futures:
            f.result()
    up.proc.wait(timeout=30)
    assert 20 <= len(acknowledged) < 400, "the kill must land while writes are in flight"

    up.start()
    client = up.client()
    names = {s["metadata"]["name"] for s in client.list(SERVICE, "default")["items"]}
    assert set(acknowledged) <= names

    def converged() -> bool:
        services = client.list(SERVICE, "default")["items"]
        revisions = {r["metadata"]["name"] for r in client.list(REVISION, "default")["items"]}
        routes = {r["metadata"]["name"] for r in client.list(ROUTE, "default")["items"]}
        return all(  # a Service acknowledged just before the kill may have no status yet
            s.get("status", {}).get("latestCreatedRevisionName") == f"{s['metadata']['name']}-00001"
            and f"{s['metadata']['name']}-00001" in revisions
            and s["metadata"]["name"] in routes
            for s in services
        )

    wait_for(converged, 90, "reconcilers converge after restart")


def test_token_is_required(up: Up) -> None:
    req = urllib.request.Request(up.endpoints["api"] + SERVICES)
    try:
        urllib.request.urlopen(req, timeout=10, context=up.tls())
        raise AssertionError("expected 401")
    except urllib.error.HTTPError as err:
        assert err.code == 401
        assert json.loads(err.read())["kind"] == "Status"
    mode = (up.data_dir / "token").stat().st_mode & 0o777
    assert mode == 0o600


def test_config_file_is_reread_live(up: Up) -> None:
    up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py", "--no-wait")
    wait_for(lambda: get_json(up, "ksvc", "hello")["status"].get("url"), 60, "a URL")
    (up.data_dir / "config.yaml").write_text('config-domain:\n  example.com: ""\n')
    wait_for(
        lambda: get_json(up, "ksvc", "hello")["status"].get("url") == f"http://hello.default.example.com:{up.port}",
        30,
        "the new domain in the URL",
    )
    # A broken edit is refused and the last good configuration stays in force.
    (up.data_dir / "config.yaml").write_text("config-autoscaler:\n  stable-window: 1s\n")
    shown = up.cli("config", "show", check=False)
    assert shown.returncode != 0 and "stable-window" in shown.stderr
    svc = get_json(up, "ksvc", "hello")
    assert svc["status"]["url"] == f"http://hello.default.example.com:{up.port}"


def test_logs_show_and_follow_an_instance(up: Up) -> None:
    up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
    out = wait_for(lambda: "hello listening on" in (o := up.cli("logs", "hello").stdout) and o, 30, "startup line")
    port = int(out.split("127.0.0.1:")[1].split()[0])
    assert "hello listening on" in up.cli("logs", "hello", "--revision", "hello-00001", "--tail", "1").stdout

    follower = subprocess.Popen(
        [sys.executable, "-m", "zeroserve", "--data-dir", str(up.data_dir), "logs", "hello", "-f"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert "hello listening on" in follower.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/followed", timeout=10) as resp:
            assert b"Hello" in resp.read()
        assert "GET /followed" in follower.stdout.readline()  # arrives while following
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        if follower.stdout is not None:
            follower.stdout.close()
    missing = up.cli("logs", "nope", check=False)
    assert missing.returncode == 1 and 'services.serving.knative.dev "nope" not found' in missing.stderr


def test_crashing_app_is_reported_in_revision_status(up: Up) -> None:
    done = up.cli(
        "service", "create", "crash", "--cmd", "python3", "--arg", "-c",
        "--arg", "import sys; print('boom: missing DATABASE_URL', flush=True); sys.exit(1)",
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "ExitCode1" in done.stderr or "boom" in done.stderr
    rev = get_json(up, "revision", "crash-00001")
    ready = condition(rev, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ExitCode1"
    assert "boom: missing DATABASE_URL" in ready["message"]
    described = up.cli("describe", "ksvc", "crash").stdout
    assert "ExitCode1" in described or "RevisionFailed" in described
