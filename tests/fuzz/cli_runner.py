"""The CLI in-process against a real API (``tests/cli/cli_harness.py``): an exception escaping
``zeroserve.cli.main.main`` is what would have printed a traceback, so it fails the test."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from unittest import mock

import pytest

from tests.cli.cli_harness import Api
from zeroserve.api.kinds import KINDS, NAMESPACE
from zeroserve.cli.main import main

CONTENT = tuple(k for k in KINDS if k is not NAMESPACE)
"""What the examples write: every kind but Namespace (``default`` stays, as the API server made it)."""


def run_cli(api: Api, *args: str) -> tuple[int, str, str]:
    """``zeroserve --data-dir DATA ARGS``: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    ours = {k: v for k, v in os.environ.items() if not k.startswith("ZEROSERVE_")}  # the data dir decides
    with (
        mock.patch.dict(os.environ, ours, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as exited,
    ):
        main(["--data-dir", str(api.data_dir), *args])
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def apply(api: Api, path: Path) -> tuple[int, str, str]:
    return run_cli(api, "apply", "-f", str(path))


def assert_refused(path: Path, out: str, err: str) -> None:
    """Exit 1's output: ``error: FILE: ...`` lines (a detail may follow one), nothing on stdout."""
    lines = err.split("\n")  # not splitlines(): an escaped \r is no line break
    assert lines and lines[0].startswith(f"error: {path}: "), err
    assert all(line.startswith(f"error: {path}: ") for line in lines if line.startswith("error")), err
    assert out == "", out


def clear(api: Api) -> None:
    """Delete every object of every kind (between examples sharing one server)."""

    async def delete_all() -> None:
        for kind in CONTENT:
            items, _ = await api.store.list(kind)
            for item in items:
                await api.store.delete(kind, item["metadata"].get("namespace", ""), item["metadata"]["name"])

    api.call(delete_all)


def stored(api: Api) -> int:
    """How many objects the store holds, all kinds together."""

    async def count() -> int:
        return sum([len((await api.store.list(kind))[0]) for kind in CONTENT])

    return api.call(count)
