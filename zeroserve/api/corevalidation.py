"""Admission of the core kinds (ConfigMap, Secret, Namespace) as kube-apiserver admits them.

kube-apiserver, not a webhook, owns these kinds, so the rules and the words are Kubernetes':
``pkg/apis/core/validation/validation.go`` (``ValidateConfigMap[Update]``, ``ValidateSecret[Update]``,
``ValidateNamespace[Update]``, ``ValidateNamespaceStatusUpdate``), apimachinery's ``ValidateObjectMeta``
and ``IsConfigMapKey``, ``pkg/apis/core/v1/defaults.go`` and the registry strategies (a Secret's
``type`` defaults to ``Opaque``; a Namespace gets its name label and the ``kubernetes`` finalizer,
keeps its finalizers and status on update). Errors render as apimachinery's ``field.Error``
(``data[k]: Invalid value: "k": ...``) in a :class:`KubeInvalid`, whose message is Kubernetes'
aggregate (``[a, b]`` for several).

Secrets: ``data`` values are base64 (Go's ``[]byte``); a value that is not is refused at
``data[key]`` without echoing it. ``stringData`` is merged into ``data`` (its keys win) and dropped,
as the v1 -> internal conversion does, so validation sees only ``data`` and nothing stores
``stringData``. No message ever carries a Secret value: where Kubernetes shows one it shows
``<secret contents redacted>``, and so do we. The size limit (1 MiB, ``MaxSecretSize``) counts the
decoded bytes of ``data`` (Secret) or ``data`` + ``binaryData`` (ConfigMap). PURE.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from zeroserve.api import names, wire
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.core import (
    BASIC_AUTH_PASSWORD_KEY,
    BASIC_AUTH_USERNAME_KEY,
    DOCKERCFG_KEY,
    DOCKERCONFIGJSON_KEY,
    FINALIZER_KUBERNETES,
    MAX_SECRET_SIZE,
    NAMESPACE_ACTIVE,
    NAMESPACE_NAME_LABEL,
    NAMESPACE_TERMINATING,
    SECRET_BASIC_AUTH,
    SECRET_DOCKERCFG,
    SECRET_DOCKERCONFIGJSON,
    SECRET_OPAQUE,
    SECRET_SERVICE_ACCOUNT_TOKEN,
    SECRET_SSH_AUTH,
    SECRET_TLS,
    SERVICE_ACCOUNT_NAME_KEY,
    SSH_AUTH_PRIVATE_KEY,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
    ConfigMap,
    Namespace,
    Secret,
)
from zeroserve.api.decoding import parse
from zeroserve.api.meta import ObjectMeta
from zeroserve.errors import FieldError, Invalid

REDACTED = "<secret contents redacted>"
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
FIELD_IMMUTABLE = "field is immutable"
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
LABEL_VALUE_FMT = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
TOTAL_ANNOTATION_SIZE = 256 * 1024
STANDARD_FINALIZERS = frozenset({FINALIZER_KUBERNETES, "orphan", "foregroundDeletion"})


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True, order=True)
class KubeFieldError(FieldError):
    """apimachinery's ``field.Error``: rendered ``"<path>: <message>"``; ``reason`` is its ErrorType."""

    reason: str = field(default="FieldValueInvalid", compare=False)

    def __str__(self) -> str:
        return f"{', '.join(self.paths)}: {self.message}" if self.paths else self.message


class KubeInvalid(Invalid):
    """422 Invalid worded as kube-apiserver: ``Kind "name" is invalid: <error>`` or ``[<e1>, <e2>]``."""

    def __init__(self, errors: Iterable[FieldError], kind: str = "", name: str = "") -> None:
        unique = list(dict.fromkeys(errors))
        super().__init__(unique, kind, name)
        self.errors = sorted(unique, key=lambda e: (e.paths, e.message))
        body = ", ".join(str(e) for e in self.errors)
        if len(self.errors) > 1:
            body = f"[{body}]"
        self.message = f'{kind} "{name}" is invalid: {body}' if kind else body
        self.args = (self.message,)


def _go_quote(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def invalid(path: str, value: object, detail: str) -> KubeFieldError:
    return KubeFieldError(f"Invalid value: {_go_quote(value)}: {detail}", (path,))


def required(path: str, detail: str = "") -> KubeFieldError:
    text = f"Required value: {detail}" if detail else "Required value"
    return KubeFieldError(text, (path,), reason="FieldValueRequired")


def forbidden(path: str, detail: str) -> KubeFieldError:
    return KubeFieldError(f"Forbidden: {detail}", (path,), reason="FieldValueForbidden")


def too_long(path: str, limit: int) -> KubeFieldError:
    """``field.TooLong`` (Kubernetes 1.31's wording, the version ``/version`` reports)."""
    return KubeFieldError(f"Too long: must have at most {limit} bytes", (path,), reason="FieldValueTooLong")


def key(path: str, k: str) -> str:
    """``field.Path.Key``: ``data[k]``."""
    return f"{path}[{k}]"


# ----------------------------------------------------------------------------- rules


def is_config_map_key(value: str) -> list[str]:
    """apimachinery ``IsConfigMapKey``: the keys of ConfigMaps and Secrets (they become file names)."""
    errs = [names.max_len_error(names.SUBDOMAIN_MAX)] if len(value.encode()) > names.SUBDOMAIN_MAX else []
    if re.fullmatch(CONFIG_KEY_FMT, value) is None:
        errs.append(
            names.regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = [names.max_len_error(names.LABEL_MAX)] if len(value) > names.LABEL_MAX else []
    if re.fullmatch(LABEL_VALUE_FMT, value) is None:
        errs.append(
            names.regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def decode_base64(value: str) -> tuple[bytes | None, str]:
    """Go's ``base64.StdEncoding`` as ``encoding/json`` decodes a ``[]byte``: the bytes, or the error.

    Line breaks are skipped, padding is required; the error names the offset, never the content.
    """
    alphabet = re.compile(r"[^A-Za-z0-9+/=\r\n]")
    bad = alphabet.search(value)
    if bad is not None:
        return None, f"illegal base64 data at input byte {bad.start()}"
    compact = value.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(compact, validate=True), ""
    except (binascii.Error, ValueError):
        return None, f"illegal base64 data at input byte {max(len(value) - 1, 0)}"


def validate_object_meta(
    meta: ObjectMeta,
    *,
    namespaced: bool,
    label_names: bool = False,
    name_check: Callable[[str], list[str]] | None = None,
) -> list[FieldError]:
    """apimachinery ``ValidateObjectMeta``: name (DNS-1123 subdomain, or label for a Namespace, or
    ``name_check``'s rule), namespace, labels and annotations."""
    check = name_check or (names.is_dns1123_label if label_names else names.is_dns1123_subdomain)
    errs: list[FieldError] = []
    if meta.generate_name:
        errs += [invalid("metadata.generateName", meta.generate_name, m) for m in check(_masked(meta.generate_name))]
    if meta.name:
        errs += [invalid("metadata.name", meta.name, m) for m in check(meta.name)]
    elif not meta.generate_name:
        errs.append(required("metadata.name", "name or generateName is required"))
    if namespaced:
        if not meta.namespace:
            errs.append(required("metadata.namespace"))
        else:
            errs += [invalid("metadata.namespace", meta.namespace, m) for m in names.is_dns1123_label(meta.namespace)]
    elif meta.namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    for k, v in meta.labels.items():
        errs += [invalid("metadata.labels", k, m) for m in names.is_qualified_name(k)]
        errs += [invalid(key("metadata.labels", k), v, m) for m in is_valid_label_value(v)]
    size = 0
    for k, v in meta.annotations.items():
        errs += [invalid("metadata.annotations", k, m) for m in names.is_qualified_name(k.lower())]
        size += len(k.encode()) + len(v.encode())
    if size > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE))
    for i, f in enumerate(meta.finalizers):
        errs += _validate_finalizer(f, f"metadata.finalizers[{i}]")
    return errs


def _masked(generate_name: str) -> str:
    return names.mask_trailing_dash(generate_name)


def _validate_finalizer(name: str, path: str) -> list[FieldError]:
    """``ValidateFinalizerName`` + ``validateKubeFinalizerName``."""
    errs: list[FieldError] = [invalid(path, name, m) for m in names.is_qualified_name(name)]
    if not errs and name not in STANDARD_FINALIZERS and "/" not in name:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_config_map(cm: ConfigMap, old: ConfigMap | None) -> list[FieldError]:
    """``ValidateConfigMap`` (+ ``ValidateConfigMapUpdate`` when ``old`` is given)."""
    errs = validate_object_meta(cm.metadata, namespaced=True)
    total = 0
    for k, v in cm.data.items():
        errs += [invalid(key("data", k), k, m) for m in is_config_map_key(k)]
        if k in cm.binary_data:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(v.encode())
    for k, v in cm.binary_data.items():
        errs += [invalid(key("binaryData", k), k, m) for m in is_config_map_key(k)]
        raw, problem = decode_base64(v)
        if raw is None:
            errs.append(invalid(key("binaryData", k), REDACTED, problem))
        else:
            total += len(raw)
            cm.binary_data[k] = base64.b64encode(raw).decode()  # canonical, as stored bytes are
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("[]", MAX_SECRET_SIZE))  # the whole object: Kubernetes' path "" prints as []
    if old is not None and old.immutable:
        if not cm.immutable:
            errs.append(forbidden("immutable", IMMUTABLE_WHEN_SET))
        if cm.data != old.data:
            errs.append(forbidden("data", IMMUTABLE_WHEN_SET))
        if cm.binary_data != old.binary_data:
            errs.append(forbidden("binaryData", IMMUTABLE_WHEN_SET))
    return errs


def decode_secret_data(secret: Secret) -> tuple[dict[str, bytes], list[FieldError]]:
    """The values of ``data`` as bytes, and an error (redacted) for each value that is not base64."""
    decoded: dict[str, bytes] = {}
    errs: list[FieldError] = []
    for k, v in secret.data.items():
        raw, problem = decode_base64(v)
        if raw is None:
            errs.append(invalid(key("data", k), REDACTED, problem))
        else:
            decoded[k] = raw
    return decoded, errs


def merge_string_data(secret: Secret) -> None:
    """The v1 conversion: ``stringData`` into ``data`` (its keys win), then ``stringData`` is gone."""
    for k, v in (secret.string_data or {}).items():
        secret.data[k] = base64.b64encode(v.encode()).decode()
    secret.string_data = None


def validate_secret(secret: Secret, old: Secret | None, data: Mapping[str, bytes]) -> list[FieldError]:
    """``ValidateSecret`` (+ ``ValidateSecretUpdate``); ``data`` is ``secret.data`` decoded."""
    errs = validate_object_meta(secret.metadata, namespaced=True)
    for k in secret.data:
        errs += [invalid(key("data", k), k, m) for m in is_config_map_key(k)]
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    errs += _validate_secret_type(secret, data)
    if old is not None:
        if secret.type != old.type:
            errs.append(KubeFieldError(f"Invalid value: {_go_quote(secret.type or '')}: {FIELD_IMMUTABLE}", ("type",)))
        if old.immutable:
            if not secret.immutable:
                errs.append(forbidden("immutable", IMMUTABLE_WHEN_SET))
            if secret.data != old.data:
                errs.append(forbidden("data", IMMUTABLE_WHEN_SET))
    return errs


def _validate_secret_type(secret: Secret, data: Mapping[str, bytes]) -> list[FieldError]:
    kind = secret.type
    if kind == SECRET_SERVICE_ACCOUNT_TOKEN:
        if not secret.metadata.annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            return [required(key("metadata.annotations", SERVICE_ACCOUNT_NAME_KEY))]
    elif kind in (SECRET_DOCKERCFG, SECRET_DOCKERCONFIGJSON):
        name = DOCKERCFG_KEY if kind == SECRET_DOCKERCFG else DOCKERCONFIGJSON_KEY
        if name not in secret.data:
            return [required(key("data", name))]
        if name in data and (problem := _json_object_problem(data[name])):
            return [invalid(key("data", name), REDACTED, problem)]
    elif kind == SECRET_BASIC_AUTH:
        if BASIC_AUTH_USERNAME_KEY not in secret.data and BASIC_AUTH_PASSWORD_KEY not in secret.data:
            return [required(key("data", BASIC_AUTH_USERNAME_KEY)), required(key("data", BASIC_AUTH_PASSWORD_KEY))]
    elif kind == SECRET_SSH_AUTH:
        if not data.get(SSH_AUTH_PRIVATE_KEY):
            return [required(key("data", SSH_AUTH_PRIVATE_KEY))]
    elif kind == SECRET_TLS:
        return [required(key("data", k)) for k in (TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY) if k not in secret.data]
    return []


def _json_object_problem(raw: bytes) -> str:
    """Why ``raw`` is not a JSON object (Go's ``json.Unmarshal`` into a map), worded without its content."""
    try:
        value = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as e:
        if e.pos >= len(e.doc.rstrip()):
            return "unexpected end of JSON input"
        return f"invalid JSON at offset {e.pos}: {e.msg}"
    if not isinstance(value, dict):
        return f"json: cannot unmarshal {wire.json_type(value)} into Go value of type map[string]interface {{}}"
    return ""


def validate_namespace(ns: Namespace, old: Namespace | None) -> list[FieldError]:
    """``ValidateNamespace`` (+ ``ValidateNamespaceUpdate``)."""
    errs = validate_object_meta(ns.metadata, namespaced=False, label_names=True)
    for i, f in enumerate(ns.spec.finalizers):
        errs += _validate_finalizer(f, f"spec.finalizers[{i}]")
    return errs


def validate_namespace_status(ns: Namespace) -> list[FieldError]:
    """``ValidateNamespaceStatusUpdate``: the phase follows ``deletionTimestamp``."""
    if not ns.metadata.deletion_timestamp:
        if ns.status.phase != NAMESPACE_ACTIVE:
            return [
                invalid(
                    "status.Phase",
                    ns.status.phase or "",
                    "A namespace may only be in active status if it does not have a deletion timestamp.",
                )
            ]
    elif ns.status.phase != NAMESPACE_TERMINATING:
        return [
            invalid(
                "status.Phase",
                ns.status.phase or "",
                "A namespace may only be in terminating status if it has a deletion timestamp.",
            )
        ]
    return []


# ----------------------------------------------------------------------------- admission


def _parse_as(cls: type[Any], obj: Obj, kind: str, name: str) -> Any:
    model, errs = parse(cls, obj)
    if model is None:
        raise KubeInvalid([KubeFieldError(e.message, e.paths, e.details) for e in errs], kind, name)
    return model


def _name_of(obj: Obj) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ""
    name = meta.get("name") or meta.get("generateName") or ""
    return wire.escaped(name) if isinstance(name, str) else ""


def admit(model_cls: type[BaseModel], new: Obj, old: Obj | None) -> Obj:
    """Decode, default and validate a core object (a create when ``old`` is None); raise KubeInvalid."""
    kind = getattr(model_cls, "model_fields", {}).get("kind")
    kind_name = str(kind.default) if kind is not None else model_cls.__name__
    name = _name_of(new)
    problems = wire.errors(new)
    if problems:
        raise KubeInvalid([KubeFieldError(e.message, e.paths) for e in problems], kind_name, name)
    model = _parse_as(model_cls, new, kind_name, name)
    prev = _parse_as(model_cls, old, kind_name, name) if old is not None else None
    if isinstance(model, ConfigMap):
        errs = validate_config_map(model, prev if isinstance(prev, ConfigMap) else None)
    elif isinstance(model, Secret):
        errs = _admit_secret(model, prev if isinstance(prev, Secret) else None)
    elif isinstance(model, Namespace):
        _default_namespace(model, prev if isinstance(prev, Namespace) else None)
        errs = validate_namespace(model, prev if isinstance(prev, Namespace) else None)
    else:  # pragma: no cover - only core models are given
        errs = []
    if errs:
        raise KubeInvalid(errs, kind_name, name)
    return to_wire(model)


def _admit_secret(secret: Secret, old: Secret | None) -> list[FieldError]:
    data, errs = decode_secret_data(secret)
    if errs:
        return errs
    secret.data = {k: base64.b64encode(v).decode() for k, v in data.items()}  # canonical, as stored bytes are
    merge_string_data(secret)
    if not secret.type:
        secret.type = SECRET_OPAQUE
    data = {k: base64.b64decode(v) for k, v in secret.data.items()}
    return validate_secret(secret, old, data)


def _default_namespace(ns: Namespace, old: Namespace | None) -> None:
    """``SetDefaults_Namespace`` + the strategy: the name label; finalizers and status are the server's."""
    if ns.metadata.name:
        ns.metadata.labels[NAMESPACE_NAME_LABEL] = ns.metadata.name
    if old is None:
        if FINALIZER_KUBERNETES not in ns.spec.finalizers:
            ns.spec.finalizers.append(FINALIZER_KUBERNETES)
    else:  # PrepareForUpdate: finalizers change only through /finalize, status only through /status
        ns.spec.finalizers = list(old.spec.finalizers)
        ns.status = old.status.model_copy(deep=True)


def admit_status(model_cls: type[BaseModel], new: Obj, old: Obj) -> Obj:
    """The status subresource of a core kind (only Namespace has one): its phase rule."""
    name = _name_of(new)
    model = _parse_as(model_cls, new, model_cls.__name__, name)
    if isinstance(model, Namespace):
        errs = validate_namespace_status(model)
        if errs:
            raise KubeInvalid(errs, "Namespace", name)
    return to_wire(model)


def admit_finalize(new: Obj, old: Obj) -> Obj:
    """``PUT namespaces/NAME/finalize``: only ``spec.finalizers`` changes (``NamespaceFinalizeStrategy``)."""
    name = _name_of(old)
    model = _parse_as(Namespace, new, "Namespace", name)
    stored = _parse_as(Namespace, old, "Namespace", name)
    errs: list[FieldError] = []
    for i, f in enumerate(model.spec.finalizers):
        errs += _validate_finalizer(f, f"spec.finalizers[{i}]")
    if errs:
        raise KubeInvalid(errs, "Namespace", name)
    stored.spec.finalizers = list(model.spec.finalizers)
    return to_wire(stored)
