"""Where instances run (mirrors Kubernetes Deployments + kubelet for a Revision).

``base.Runtime`` is the protocol the Revision reconciler drives; ``local`` runs instances as
processes on this machine (the embedded default); ``fake`` serves the reconciler table tests.
"""
