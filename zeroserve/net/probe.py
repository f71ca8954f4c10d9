"""The ingress network probe (knative/networking ``pkg/http/probe/handler.go``), answered alike by
the gateway, the activator and the queue-proxy.

Knative's ingress prober (``pkg/status/status.go``) sends ``K-Network-Probe: probe`` with a
``K-Network-Hash`` and waits for a 200 that carries the same hash back: the answer says which
version of the routing configuration served it. A probe without a hash is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping

from zeroserve.net import headers as h
from zeroserve.net.proxy import Response

_HASH = h.K_NETWORK_HASH.lower().encode()
NO_HASH = Response(400, f'a probe request must contain a non-empty "{h.K_NETWORK_HASH}" header\n'.encode())


def is_network_probe(marks: Mapping[bytes, bytes]) -> bool:
    """``K-Network-Probe: probe`` among a request's Knative headers (``RequestHead.knative``)."""
    return marks.get(b"k-network-probe") == h.PROBE_VALUE


def network_probe(marks: Mapping[bytes, bytes]) -> Response:
    """200 with the request's ``K-Network-Hash`` echoed (no body); 400 when it has none."""
    value = marks.get(_HASH)
    if not value:
        return NO_HASH
    return Response(200, b"", ((h.K_NETWORK_HASH.encode(), value),))
