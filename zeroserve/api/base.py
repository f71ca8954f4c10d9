"""The pydantic base all resources share, and the one place that knows the wire shape.

Decoding follows Go's ``encoding/json`` into Kubernetes types, not pydantic's lax mode: a ``null``
struct field is the same as an absent one (``annotations:`` with nothing after it, as in Knative's
docs), and numbers and booleans are strict: ``true`` is not 1, ``"5"`` is not 5, ``5.5`` is not an
integer, and an ``int32``/``int64`` field holds only what fits (:data:`Int32`, :data:`Int64`).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic.alias_generators import to_camel

Obj = dict[str, Any]
"""A resource as it travels on the wire and sits in the store (camelCase JSON)."""

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int32 = Annotated[int, Strict(), Field(ge=INT32_MIN, le=INT32_MAX)]
"""A Kubernetes ``int32``: a JSON integer (not a boolean, string or float) in range."""
Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]
"""A Kubernetes ``int64``."""
Bool = Annotated[bool, Strict()]
"""A JSON boolean (``"true"``, ``1`` and ``"yes"`` are not)."""


def _drop_nulls(data: Any) -> Any:
    """Go's decoding: ``null`` leaves a struct field at its zero value, i.e. absent."""
    if isinstance(data, dict) and None in data.values():  # in C: no generator per model decoded
        return {k: v for k, v in data.items() if v is not None}
    return data


class Model(BaseModel):
    """Strict model: unknown fields are refused (Knative decodes with DisallowUnknownFields)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)


class OpenModel(BaseModel):
    """A Kubernetes type we only partly understand (PodSpec, Container): unknown fields are kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)


M = TypeVar("M", bound=BaseModel)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@functools.cache
def _fields_of(cls: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """A model class's fields as :func:`_dump` walks them: (attribute, wire key, omitted when empty)."""
    return tuple(
        (name, info.alias or name, info.default_factory is not None) for name, info in cls.model_fields.items()
    )


def _dump(model: BaseModel) -> Obj:
    out: Obj = {}
    values = model.__dict__
    for name, key, omit_empty in _fields_of(type(model)):
        value = values[name]
        if value is None:
            continue
        if isinstance(value, BaseModel):
            plain = _dump(value)
        elif isinstance(value, (list, dict)):
            plain = _plain(value)
        else:
            out[key] = value  # a scalar: kept as it is, zero and False included
            continue
        if omit_empty and not plain:
            continue  # Go's omitempty for the collections and structs we declare
        out[key] = plain
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
