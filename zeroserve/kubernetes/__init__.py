"""Kubernetes mode: what zeroserve needs to run on a real cluster (issue 20).

For now the CI-testable foundation: :mod:`~zeroserve.kubernetes.crds` (CustomResourceDefinitions
generated from the models), :mod:`~zeroserve.kubernetes.structural` (kube-apiserver's check that a
CRD schema is structural), :mod:`~zeroserve.kubernetes.values` (a value checked and pruned against
such a schema) and :mod:`~zeroserve.kubernetes.manifests` (everything ``kubectl apply`` needs to
install zeroserve). All PURE. The backend (list/watch reconcilers against a real API server) is
not written yet: docs/kubernetes.md.
"""
