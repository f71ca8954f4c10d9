"""Server-side apply: field ownership as Kubernetes tracks it in ``metadata.managedFields``.

Kubernetes does this with sigs.k8s.io/structured-merge-diff (SMD) and apimachinery's
``util/managedfields``; no Python port exists, so this package is one, written from their rules
(https://kubernetes.io/docs/reference/using-api/server-side-apply/):

- :mod:`~zeroserve.api.ssa.fieldpath`: path elements (``.spec``, ``[name="user-container"]``,
  ``[="a"]``), field sets and their ``FieldsV1`` encoding (SMD ``fieldpath``);
- :mod:`~zeroserve.api.ssa.schema`: the types a kind's structural schema describes, with
  ``x-kubernetes-list-type``/``list-map-keys``/``map-type`` (kube-openapi ``schemaconv``);
- :mod:`~zeroserve.api.ssa.typed`: validate, field set, merge, compare and remove over a typed
  value (SMD ``typed``);
- :mod:`~zeroserve.api.ssa.updater`: ``update`` and ``apply`` on managers' field sets: conflicts,
  ``force``, pruning what an applier stopped applying (SMD ``merge``);
- :mod:`~zeroserve.api.ssa.managedfields`: ``managedFields`` entries, manager identities, and
  the field manager chain kube-apiserver runs on every write (``before-first-apply``, the cap of
  ten updaters, the ``kubectl`` last-applied handling of the client-side to server-side migration).

PURE: objects in, objects out; time is an argument.
"""
