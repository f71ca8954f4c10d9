"""Child object names (Knative's resources/names and kmeta.ChildName)."""

from __future__ import annotations

import hashlib

MAX_NAME = 63


def child_name(parent: str, suffix: str) -> str:
    """``parent + suffix``, with ``parent`` shortened and hashed when the result would pass 63 chars."""
    if len(parent) + len(suffix) <= MAX_NAME:
        return parent + suffix
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    head = max(0, MAX_NAME - len(digest) - len(suffix))
    return (parent[:head] + digest)[: MAX_NAME - len(suffix)] + suffix


def configuration(service_name: str) -> str:
    return service_name


def route(service_name: str) -> str:
    return service_name


def revision(configuration_name: str, generation: int) -> str:
    """``hello-00001`` for generation 1 of Configuration ``hello``."""
    return child_name(configuration_name, f"-{generation:05d}")
