"""The KPA autoscaler (Knative ``pkg/autoscaler``): from observed load to a desired instance count.

* ``aggregation`` - time buckets averaging a metric over a window; sliding maximum (pure);
* ``metrics`` - ``Stat``, the wire type the queue-proxy and the activator report (pure);
* ``sample`` - scrape sample size and extrapolation to the whole revision (pure);
* ``scaling`` - the decider: ``Autoscaler.scale(now) -> ScaleResult`` (pure);
* ``targets`` - annotations + config-autoscaler -> target, windows, ``DeciderSpec`` (pure).
"""
