"""Live configuration: ``DATA/config.yaml`` re-read when it changes (as Knative watches ConfigMaps).

A bad edit is logged and ignored (the last good configuration stays in force), so a typo never
takes the platform down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from zeroserve.config import Config
from zeroserve.config.parse import load_config_file
from zeroserve.errors import ZeroserveError

log = logging.getLogger(__name__)


class ConfigWatcher:
    """Holds the current Config; ``run()`` polls the file's stat once a second and reloads on change."""

    def __init__(self, path: Path, *, gateway_port: int | None = None, interval: float = 1.0) -> None:
        self.path = path
        self._gateway_port = gateway_port
        self._interval = interval
        self._stamp = self._stat()
        self._config = self._load()
        self._listeners: list[Callable[[Config], None]] = []

    @property
    def current(self) -> Config:
        return self._config

    def subscribe(self, callback: Callable[[Config], None]) -> None:
        self._listeners.append(callback)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> Config:
        cfg = load_config_file(self.path)
        if self._gateway_port is not None:
            cfg = dataclasses.replace(cfg, network=dataclasses.replace(cfg.network, external_port=self._gateway_port))
        return cfg

    def reload(self) -> bool:
        """Re-read the file if it changed; True when a new configuration took effect."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            cfg = self._load()
        except (ZeroserveError, OSError, ValueError) as err:
            log.error("config: %s is invalid, keeping the previous configuration: %s", self.path, err)
            return False
        if cfg == self._config:
            return False
        self._config = cfg
        log.info("config: reloaded %s", self.path)
        for callback in self._listeners:
            callback(cfg)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.reload()  # one stat() a second; parsing only when the file changed
