"""Build turns source into a container: ``zeroserve build`` and ``service create --source``.

A directory with a Containerfile (or Dockerfile) is built by buildah, a real daemonless builder
(:mod:`.buildah`), pushed to the configured registry and named by the pushed digest, so the
Revision that runs it is pinned to exactly those bytes (Knative's ``kn func``/``ko`` flow, on one
machine). :mod:`.source` holds the pure rules (which file, which image name), :mod:`.registry`
the local registry ``zeroserve up --serve-registry`` runs (Debian's ``docker-registry``).
"""
