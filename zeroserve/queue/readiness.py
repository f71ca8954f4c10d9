"""The user container's readiness probe, run by the queue-proxy (Knative ``pkg/queue/readiness``).

A network probe (``K-Network-Probe: queue``) is answered 200 only once the app passes its own
readiness probe, which the queue-proxy runs itself against the user port. With the default
probe (``periodSeconds: 0``) it is *aggressive*: one attempt of at most 100 ms after another
until one passes, for up to 10 s. Locally an app binds within a few hundred milliseconds and a
refused loopback connect costs almost nothing, so attempts follow each other every 1 ms during
the first 100 ms of the queue-proxy's life, then every 50 ms (MEASURED.md section 3). Probes
arriving while one runs share its result.
"""

from __future__ import annotations

import asyncio
import contextlib

from zeroserve.queue.settings import UserProbe

AGGRESSIVE_TIMEOUT = 10.0
ATTEMPT_TIMEOUT = 0.1
FAST_INTERVAL = 0.001
FAST_WINDOW = 0.1
WARM_INTERVAL = 0.005
WARM_WINDOW = 2.0
"""Most apps boot in 0.1-2 s (an interpreter and its imports): probe every 5 ms meanwhile, so the
first request from zero waits for the app, not for the next probe (a refused loopback connect
costs ~20 us)."""
SLOW_INTERVAL = 0.05
USER_AGENT = "kube-probe/zeroserve-queue"


def retry_interval(age: float) -> float:
    """Seconds between aggressive attempts for a prober ``age`` seconds old (pure)."""
    if age < FAST_WINDOW:
        return FAST_INTERVAL
    return WARM_INTERVAL if age < WARM_WINDOW else SLOW_INTERVAL


class Prober:
    """Runs ``probe`` against ``host:port``; concurrent callers of :meth:`probe` share one run."""

    def __init__(self, probe: UserProbe, host: str, port: int) -> None:
        self.spec = probe
        self.host = host
        self.port = port
        self._born = asyncio.get_running_loop().time()
        self._running: asyncio.Task[bool] | None = None

    async def probe(self) -> bool:
        """True when the app passes its readiness probe (aggressive: waits up to 10 s for it)."""
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._run())
            self._running.add_done_callback(self._finished)
        return await asyncio.shield(self._running)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        if self._running is task:
            self._running = None

    async def _run(self) -> bool:
        spec = self.spec
        if not spec.aggressive:
            return await self.attempt(spec.timeout)
        loop = asyncio.get_running_loop()
        successes = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(AGGRESSIVE_TIMEOUT):
                while True:
                    successes = successes + 1 if await self.attempt(ATTEMPT_TIMEOUT) else 0
                    if successes >= spec.success_threshold:
                        return True
                    await asyncio.sleep(retry_interval(loop.time() - self._born))
        return False

    async def attempt(self, timeout: float) -> bool:
        """One try of the probe: a TCP connect, or a GET answered with 200-399."""
        try:
            async with asyncio.timeout(timeout):
                if self.spec.kind == "tcp":
                    _, writer = await asyncio.open_connection(self.host, self.port)
                    writer.close()
                    return True
                return await self._http()
        except (OSError, TimeoutError, ValueError):
            return False

    async def _http(self) -> bool:
        ssl_context = None
        if self.spec.scheme == "https":
            import ssl  # only for HTTPS probes: keeps the queue-proxy's imports small

            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=ssl_context)
        try:
            lines = [f"GET {self.spec.path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"User-Agent: {USER_AGENT}"]
            lines += [f"{name}: {value}" for name, value in self.spec.headers]
            lines += ["Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1"))
            status_line = await reader.readline()
        finally:
            writer.close()
        parts = status_line.split(None, 2)
        return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and 200 <= int(parts[1]) < 400
