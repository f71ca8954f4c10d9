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


def prune(value: Any) -> Any:
    """Drop None, empty maps and empty lists, recursively (Go's ``omitempty``)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = prune(v)
            if v is None or v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def to_wire(model: BaseModel) -> Obj:
    """The JSON object for ``model``: camelCase keys, omitempty; zero numbers and False are kept."""
    result: Obj = prune(model.model_dump(mode="json", by_alias=True, exclude_none=True))
    return result


def from_wire(cls: type[M], obj: Obj) -> M:
    """Parse a wire object (raises pydantic.ValidationError; validation.parse turns that into FieldErrors)."""
    return cls.model_validate(obj)
