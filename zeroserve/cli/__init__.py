"""The ``zeroserve`` command line: a ``kn``/``kubectl``-like client that talks only to the API.

Mirrors knative/client (``kn service``, ``kn revision``, ``kn route``) and kubectl's generic verbs
(``apply``, ``get``, ``describe``, ``delete``). ``up`` starts the platform (``cli/up.py``).
"""
