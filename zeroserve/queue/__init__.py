"""The queue-proxy: the sidecar in front of every instance (Knative's ``pkg/queue``).

All traffic enters an instance through its queue-proxy. It enforces ``containerConcurrency``
with a :class:`~.breaker.Breaker` (CC in the app, 10 x CC waiting, then 503), accounts load in
:class:`~.stats.RequestStats` for the autoscaler's 1 s scrape, applies the revision's timeouts,
answers the network probe (``K-Network-Probe: queue``) once the app passes its readiness probe,
and drains in Knative's order before the app gets SIGTERM.

The process (``python -m zeroserve.queue`` or ``zeroserve queue-proxy``) imports only the
proxy core, httptools and uvloop, so that it starts well before the app it fronts. Keep this
``__init__`` empty of imports.
"""
