"""Shared data-plane plumbing (Knative's ``pkg/http`` and ``pkg/network``).

:mod:`zeroserve.net.proxy` is the one streaming reverse proxy used by the gateway, the
activator and the queue-proxy: asyncio Protocols plus httptools, keep-alive upstream pools,
backpressure both ways, upgrades (websockets) and per-request timeouts; HTTP/2 with prior knowledge
on both sides (:mod:`~zeroserve.net.http2`, :mod:`~zeroserve.net.h2server`,
:mod:`~zeroserve.net.h2bridge`). A component plugs in a ``route(head) -> Target | Response`` hook that
says where each request goes.
"""

from __future__ import annotations

from zeroserve.net.proxy import ProxyServer, RequestHead, Response, Router, Target, Timeouts, install_uvloop
from zeroserve.net.upstream import UpstreamPool

__all__ = ["ProxyServer", "RequestHead", "Response", "Router", "Target", "Timeouts", "UpstreamPool", "install_uvloop"]
