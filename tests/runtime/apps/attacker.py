"""A hostile app for the isolation tests (stdlib only): every attack it is asked for must fail.

Serves on $PORT. ``GET /whoami`` answers its uid, gids, pid and environment. ``GET /attack?...``
tries, and answers ``{attack: "denied: <error>" | "SUCCEEDED: <what it got>"}``:

* ``token`` / ``db``: read ``<data>/token`` and ``<data>/zeroserve.db`` (``data=``);
* ``up_cmdline`` / ``up_environ``: read ``/proc/<up>/cmdline`` and ``environ`` (``up=``, a host pid);
* ``parent_cmdline``: find the data dir in ``/proc/<ppid>/cmdline`` (denied unless it names ``data``);
* ``signal_victim`` / ``victim_environ``: signal 0 to another instance, read its environment (``victim=``);
* ``victim_file``: read the file another instance wrote at start (``file=``);
* ``api``: GET the API with no token (``api=``): a 401 counts as denied.

At start it writes ``/tmp/secret-<K_REVISION>`` holding its ``SECRET`` (default umask).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

SECRET = os.environ.get("SECRET", "")
SECRET_FILE = f"/tmp/secret-{os.environ.get('K_REVISION', 'x')}"


def read(path: str) -> str:
    with open(path, "rb") as file:
        return file.read(200).decode(errors="replace")


def attempt(action: Callable[[], str]) -> str:
    try:
        return f"SUCCEEDED: {action()!r}"
    except (OSError, ValueError, urllib.error.URLError) as err:
        return f"denied: {type(err).__name__}: {err}"


def parent_cmdline(data: str) -> str:
    text = read(f"/proc/{os.getppid()}/cmdline").replace("\0", " ")
    if data and data in text:
        return text
    raise PermissionError(f"the parent's cmdline does not name the data dir: {text[:120]!r}")


def signal_victim(pid: int) -> str:
    os.kill(pid, 0)
    return f"could signal {pid}"


def api(url: str) -> str:
    unverified = ssl.create_default_context()  # an attacker does not check the certificate: the token is the lock
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    services = f"{url}/apis/serving.knative.dev/v1/services"
    with urllib.request.urlopen(services, timeout=5, context=unverified) as response:
        return f"HTTP {response.status}"


def attacks(query: dict[str, str]) -> dict[str, str]:
    data, up, victim = query.get("data", ""), query.get("up", ""), query.get("victim", "")
    out: dict[str, str] = {}
    if data:
        out["token"] = attempt(lambda: read(os.path.join(data, "token")))
        out["db"] = attempt(lambda: read(os.path.join(data, "zeroserve.db")))
        out["parent_cmdline"] = attempt(lambda: parent_cmdline(data))
    if up:
        out["up_cmdline"] = attempt(lambda: read(f"/proc/{up}/cmdline"))
        out["up_environ"] = attempt(lambda: read(f"/proc/{up}/environ"))
    if victim:
        out["signal_victim"] = attempt(lambda: signal_victim(int(victim)))
        out["victim_environ"] = attempt(lambda: read(f"/proc/{victim}/environ"))
    if "file" in query:
        out["victim_file"] = attempt(lambda: read(query["file"]))
    if "api" in query:
        out["api"] = attempt(lambda: api(query["api"]))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/whoami":
            answer: object = {
                "uid": os.getuid(),
                "gid": os.getgid(),
                "groups": os.getgroups(),
                "pid": os.getpid(),
                "env": dict(os.environ),
                "secret_file": SECRET_FILE,
                "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
            }
        else:
            answer = attacks(dict(urllib.parse.parse_qsl(url.query)))
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    if SECRET:
        with open(SECRET_FILE, "w") as file:
            file.write(SECRET)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    print(f"attacker {os.environ.get('K_REVISION')} on {server.server_address[1]} as uid {os.getuid()}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
