"""The controller: Knative's reconcilers (pkg/reconciler) driven by the store's watch.

``runner.Controller`` watches the store and feeds keys to a de-duplicating ``workqueue``;
``reconcilers/`` hold one level-triggered, idempotent ``reconcile(key)`` per kind (Service,
Configuration, Revision, Route, plus revision GC); ``resources/`` and ``traffic`` are the pure
builders they use; ``ingress.Ingress`` is the protocol the gateway implements.
"""
