"""A container's environment as the kubelet makes it (``makeEnvironmentVariables``), pure.

Order and precedence (kubelet_pods.go): every ``envFrom`` source first, in order (a ConfigMap's
``data`` keys or a Secret's, each behind ``prefix``), then ``env`` in order, a later entry replacing an
earlier one of the same name. A literal ``value`` is expanded (``$(VAR)``) from what precedes it; a
value read from a ConfigMap, a Secret or the downward API never is (it is passed escaped,
:func:`zeroserve.runtime.envexpand.escape`, and its index is in ``data``). A ``fieldRef`` to the
instance's own name or uid is left for the runtime (``instance_fields``).

Errors are the kubelet's, stop the container from being made (``CreateContainerConfigError``), and
are raised as :class:`~.configdata.ConfigError`: ``couldn't find key password in Secret default/db``,
``configmap "x" not found``. ``optional: true`` skips a missing object or key. The kubelet of
Kubernetes 1.34 takes any key as a name (``RelaxedEnvironmentVariableValidation``: the API server
checks ``prefix``; ConfigMap and Secret keys are always valid names); zeroserve does not check
``prefix`` at admission (Knative does not), so a name that is still not one (``=`` or a character
that is not printable ASCII, e.g. from a prefix) is skipped and reported as older kubelets did:
``Keys [1=a] from the EnvFrom configMap default/x were skipped since they are considered invalid
environment variable names.``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zeroserve.api.podspec import Container
from zeroserve.api.validation import is_env_name
from zeroserve.controller.resources import downward
from zeroserve.controller.resources.configdata import (
    CONFIGMAP,
    CREATE_CONFIG_ERROR,
    SECRET,
    ConfigError,
    Data,
    Ref,
    RefKind,
    Sources,
)
from zeroserve.runtime.base import INSTANCE_FIELDS
from zeroserve.runtime.envexpand import escape


@dataclass(frozen=True)
class ResolvedEnv:
    env: tuple[tuple[str, str], ...] = ()
    data: frozenset[int] = frozenset()
    instance_fields: tuple[tuple[int, str], ...] = ()
    warnings: tuple[str, ...] = ()


def resolve_env(
    container: Container,
    namespace: str,
    sources: Sources,
    pod: downward.Pod,
    node: downward.Node,
    containers: Sequence[Container] = (),
) -> ResolvedEnv:
    """The container's env (see the module docstring); ``containers``: the pod's, for
    ``resourceFieldRef.containerName``."""
    env: list[tuple[str, str]] = []
    data: set[int] = set()
    fields: list[tuple[int, str]] = []
    warnings: list[str] = []
    for src in container.env_from:
        for key, kind in (("configMapRef", CONFIGMAP), ("secretRef", SECRET)):
            ref = src.get(key)
            if not isinstance(ref, Mapping):
                continue
            found = _lookup(sources, kind, ref)  # type: ignore[arg-type]
            if found is None:
                continue
            prefix = str(src.get("prefix") or "")
            invalid = []
            for name in sorted(found.strings):
                if not is_env_name(prefix + name):
                    invalid.append(prefix + name)
                    continue
                data.add(len(env))
                env.append((prefix + name, escape(found.strings[name])))
            if invalid:
                what = "configMap" if kind == CONFIGMAP else "secret"
                warnings.append(
                    f"Keys [{', '.join(invalid)}] from the EnvFrom {what} {namespace}/{ref.get('name') or ''} "
                    "were skipped since they are considered invalid environment variable names."
                )
    for i, var in enumerate(container.env):
        if var.value or var.value_from is None:
            env.append((var.name, var.value or ""))
            continue
        value = _value_from(var.value_from, f"env[{i}].valueFrom", container, namespace, sources, pod, node, containers)
        if value is None:
            continue  # optional and missing: no variable at all
        if isinstance(value, _InstanceField):
            fields.append((len(env), value.path))
            value = ""
        data.add(len(env))
        env.append((var.name, value))
    return ResolvedEnv(tuple(env), frozenset(data), tuple(fields), tuple(warnings))


@dataclass(frozen=True)
class _InstanceField:
    path: str


def _value_from(
    source: Mapping[str, object],
    where: str,
    container: Container,
    namespace: str,
    sources: Sources,
    pod: downward.Pod,
    node: downward.Node,
    containers: Sequence[Container],
) -> str | _InstanceField | None:
    """One ``valueFrom``, escaped; None when an optional object or key is missing."""
    for key, kind in (("configMapKeyRef", CONFIGMAP), ("secretKeyRef", SECRET)):
        ref = source.get(key)
        if not isinstance(ref, Mapping):
            continue
        found = _lookup(sources, kind, ref)  # type: ignore[arg-type]
        if found is None:
            return None
        name, wanted = str(ref.get("name") or ""), str(ref.get("key") or "")
        if wanted not in found.strings:
            if ref.get("optional") is True:
                return None
            raise ConfigError(CREATE_CONFIG_ERROR, f"couldn't find key {wanted} in {kind} {namespace}/{name}")
        return escape(found.strings[wanted])
    field_ref = source.get("fieldRef")
    if isinstance(field_ref, Mapping):
        path = downward.check_path(field_ref, downward.ENV_FIELD_PATHS, f"{where}.fieldRef")
        if path in INSTANCE_FIELDS:
            return _InstanceField(path)
        return escape(downward.field_value(path, pod))
    resource_ref = source.get("resourceFieldRef")
    if isinstance(resource_ref, Mapping):
        return escape(downward.resource_value(resource_ref, container, containers, node, f"{where}.resourceFieldRef"))
    return ""


def _lookup(sources: Sources, kind: RefKind, ref: Mapping[str, object]) -> Data | None:
    """The object ``ref`` names; None when it is missing and optional; a ConfigError when required."""
    key = Ref(kind, str(ref.get("name") or ""))
    found = sources.get(key)
    if found is None:
        if ref.get("optional") is True:
            return None
        raise ConfigError(CREATE_CONFIG_ERROR, key.not_found())
    return found
