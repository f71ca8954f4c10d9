"""Nothing answers before it is ready (issue 11, item 5): after a restart the gateway listens only
once every stored route is loaded, so a client hammering its port meets a refused connection or the
right answer, never "404 no route" for a route it has (it got ~130 ms of 404s before)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections import Counter
from pathlib import Path

from tests.e2e.harness import Up
from tests.support.polling import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hammer:
    """GETs ``host`` on 127.0.0.1:``port`` back to back from a thread; counts statuses (or refusals)."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.seen: Counter[str] = Counter()
        self.bodies: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/", headers={"Host": self.host})
                resp = conn.getresponse()
                self.seen[str(resp.status)] += 1
                body = resp.read().decode(errors="replace")
                if resp.status != 200:
                    self.bodies.append(body)
            except ConnectionRefusedError:
                self.seen["refused"] += 1
            except OSError as err:  # reset while `up` starts or stops
                self.seen[type(err).__name__] += 1
            finally:
                conn.close()


def test_after_a_restart_the_gateway_answers_only_with_its_routes_loaded(tmp_path: Path) -> None:
    up = Up(tmp_path / "data", gateway_port=free_port())
    up.start()
    try:
        up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
        wait_for(lambda: up.get("hello.default.localhost")[0] == 200, 60, "hello answering")
        up.stop()
        with Hammer(up.gateway_port, "hello.default.localhost") as hammer:
            wait_for(lambda: hammer.seen["refused"] > 0, 10, "the hammer meeting the stopped port")
            up.start()
            wait_for(lambda: hammer.seen["200"] >= 3, 60, "hello answering after the restart")
        assert hammer.seen["404"] == 0, (hammer.seen, hammer.bodies[:3])
        assert set(hammer.seen) <= {"200", "refused"}, (hammer.seen, hammer.bodies[:3])
    finally:
        if up.proc is not None:  # stop() closes the log of one that died too
            up.stop()
