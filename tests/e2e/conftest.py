from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Up


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = Up(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()
