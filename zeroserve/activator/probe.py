"""Probing instances before the activator sends them traffic (Knative ``revision_backends.go``).

An instance is used only after its queue-proxy answered ``GET /healthz`` with headers
``K-Network-Probe: queue`` and ``User-Agent: Knative-Activator-Probe`` by 200 and the body
``queue``. The throttler probes every unproven instance every :data:`PROBE_FREQUENCY` seconds,
each attempt bounded by :data:`PROBE_TIMEOUT`, until it passes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

from zeroserve.net import headers as h

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

PROBE_PATH = "/healthz"
PROBE_HEADERS = {h.K_NETWORK_PROBE: "queue", "User-Agent": "Knative-Activator-Probe"}
PROBE_BODY = b"queue"
PROBE_TIMEOUT = 0.3
"""Seconds one probe may take (Knative ``PROBE_TIMEOUT``)."""
PROBE_FREQUENCY = 0.2
"""Seconds between rounds while some instance has not passed (Knative ``PROBE_FREQUENCY``)."""

Probe = Callable[[str, int], Awaitable[bool]]
"""``probe(host, port)``: True when the instance is ready for traffic."""


class HttpProber:
    """The real :data:`Probe` over HTTP; an async context manager owning its client session."""

    def __init__(self, timeout: float = PROBE_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpProber:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, host: str, port: int) -> bool:
        import aiohttp  # loaded where a probe is made (not in up's gateway workers)

        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=PROBE_HEADERS, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        url = f"http://{_netloc(host)}:{port}{PROBE_PATH}"
        try:
            async with self._session.get(url, allow_redirects=False) as resp:
                body = await resp.read()
                return resp.status == 200 and body == PROBE_BODY
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.debug("probe of %s:%d failed: %r", host, port, exc)
            return False


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def probe_all(probe: Probe, addresses: list[tuple[str, int]]) -> set[tuple[str, int]]:
    """Probe ``addresses`` concurrently; the set of those that passed."""
    results = await asyncio.gather(*(probe(host, port) for host, port in addresses), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation
    return {address for address, ok in zip(addresses, results, strict=True) if ok is True}
