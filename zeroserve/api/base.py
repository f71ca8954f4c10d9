"""The pydantic base all resources share, and the one place that knows the wire shape."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Obj = dict[str, Any]
"""A resource as it travels on the wire and sits in the store (camelCase JSON)."""


class Model(BaseModel):
    """Strict model: unknown fields are refused (Knative decodes with DisallowUnknownFields)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OpenModel(BaseModel):
    """A Kubernetes type we only partly understand (PodSpec, Container): unknown fields are kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


M = TypeVar("M", bound=BaseModel)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _dump(model: BaseModel) -> Obj:
    out: Obj = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        plain = _plain(value)
        if plain in ({}, []) and info.default_factory is not None:
            continue  # Go's omitempty for the collections and structs we declare
        out[info.alias or name] = plain
    for key, value in (model.model_extra or {}).items():
        out[key] = _plain(value)  # a field we do not model: kept exactly, empty maps included
    return out


def to_wire(model: BaseModel) -> Obj:
    """The JSON object for ``model``: camelCase keys, None and empty declared collections omitted.

    Zero numbers and False are kept (``actualReplicas: 0``); raw Kubernetes values we keep without
    modelling them (``volumes: [{emptyDir: {}}]``, unknown PodSpec fields) are written back verbatim.
    """
    return _dump(model)


def from_wire(cls: type[M], obj: Obj) -> M:
    """Parse a wire object (raises pydantic.ValidationError; validation.parse turns that into FieldErrors)."""
    return cls.model_validate(obj)
