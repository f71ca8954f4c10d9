"""Sources to build, for tests without the internet (session-scoped, loaded by ``tests/conftest.py``).

* ``hello_source`` -> a copy of examples/hello-image with its static binary compiled in (what
  ``make -C examples/hello-image`` leaves): a directory ``zeroserve build`` and ``--source`` take.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.images import HELLO_C, require

HELLO_DIR = HELLO_C.parent


def copy_source(src: Path, dest: Path, binary: Path) -> Path:
    """``src``'s tracked files (Containerfile, hello.c, Makefile) and ``binary`` as ``dest/hello``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Containerfile", "hello.c", "Makefile"):
        shutil.copy2(src / name, dest / name)
    shutil.copy2(binary, dest / "hello")
    return dest


@pytest.fixture(scope="session")
def hello_source(tmp_path_factory: pytest.TempPathFactory, static_binary: Callable[[Path], Path]) -> Path:
    require("buildah")
    return copy_source(HELLO_DIR, tmp_path_factory.mktemp("hello-source") / "hello-image", static_binary(HELLO_C))
