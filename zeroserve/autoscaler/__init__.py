"""The KPA autoscaler (Knative ``pkg/autoscaler``): from observed load to a desired instance count.

* ``aggregation`` - time buckets averaging a metric over a window; sliding maximum (pure);
* ``metrics`` - ``Stat``, the wire type the queue-proxy and the activator report (pure);
* ``sample`` - scrape sample size and extrapolation to the whole revision (pure);
* ``scaling`` - the decider: ``Autoscaler.scale(now) -> ScaleResult`` (pure);
* ``targets`` - annotations + config-autoscaler -> target, windows, ``DeciderSpec`` (pure);
* ``collector`` - per-revision stable/panic buckets of both metrics, ``DeciderKey`` (pure);
* ``hpa`` - the HPA class: Kubernetes' CPU/memory algorithm with stabilization (pure);
* ``explain`` - the last decisions per revision and their JSON document (pure);
* ``prometheus`` - decider gauges on an injected registry;
* ``scraper`` - samples the instances' ``/stats`` every second (I/O);
* ``multiscaler`` - one decider per revision, ticking; activator stats and pokes (I/O);
* ``statserver`` - ``POST /stats`` for a standalone activator (I/O).
"""
