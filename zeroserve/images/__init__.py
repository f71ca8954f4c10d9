"""Container images, as Knative's digest resolver and the kubelet's image manager handle them.

``reference`` parses image references (PURE), ``process`` merges an image's config with a
container's command/args/env as Kubernetes does (PURE), ``base`` is the :class:`ImageStore`
protocol the Revision reconciler and the runtime use, and ``store`` implements it with skopeo
(resolve, pull) and umoci (unpack) over a content-addressed cache. See docs/containers.md.
"""
