"""Harness: a real store + API server on 127.0.0.1:0 in a background thread, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zeroserve.api import admission
from zeroserve.apiserver import ApiServer
from zeroserve.config import Config
from zeroserve.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-123"
T = TypeVar("T")


def _make_server(store: SqliteStore, token: str) -> ApiServer:
    admit = functools.partial(admission.admit, cfg=Config(), user="admin")
    return ApiServer(store, admit, token, admit_status=admission.admit_status)


@dataclass
class Api:
    """A running API server; ``call`` runs a coroutine on its loop (to play the controller)."""

    loop: asyncio.AbstractEventLoop
    store: SqliteStore
    url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout=30)

    def cli(
        self, *args: str, stdin: str | None = None, data_dir: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "zeroserve", "--data-dir", str(data_dir or self.data_dir), *args],
            cwd=REPO,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "--data-dir", str(self.data_dir), *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def write_data_dir(data_dir: Path, api: str, token: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "endpoints.json").write_text(json.dumps({"api": api, "gateway": "http://127.0.0.1:8080", "pid": 1}))
    (data_dir / "token").write_text(token)
    (data_dir / "token").chmod(0o600)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def running_api(tmp_path: Path) -> Iterator[Api]:
    """A store + API server in a thread of its own, for the life of one test."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        store = await SqliteStore.open(tmp_path / "store.db")
        server = _make_server(store, TOKEN)
        state.update(store=store, server=server, port=await server.start("127.0.0.1", 0))

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as e:
            state["error"] = e
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="api-loop", daemon=True)
    thread.start()
    assert started.wait(30), "API server did not start"
    if "error" in state:
        raise state["error"]
    url = f"http://127.0.0.1:{state['port']}"
    data_dir = tmp_path / "data"
    write_data_dir(data_dir, url, TOKEN)
    result = Api(loop, state["store"], url, data_dir, clean_env())
    try:
        yield result
    finally:

        async def stop() -> None:
            await state["server"].stop()
            await state["store"].close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
