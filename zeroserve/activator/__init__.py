"""The activator (Knative ``pkg/activator``): holds requests for revisions without capacity.

While a revision is scaled to zero (or its SKS is in proxy mode) requests come here. The
activator pokes the autoscaler at once (:mod:`.reporter`), holds the requests, bounded per
revision, in a :mod:`.throttler` until a probed instance (:mod:`.probe`) has room, picks the
instance with Knative's balancing policy (:mod:`.lb_policy`) and proxies to it (:mod:`.handler`).
:mod:`.server` runs it as its own process (``zeroserve activator``); ``zeroserve up`` calls
:class:`.handler.Activator` in-process from the gateway instead.
"""
