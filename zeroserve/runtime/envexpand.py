"""Kubernetes ``$(VAR)`` expansion and the environment of an instance (pure).

Kubernetes expands ``$(NAME)`` in a container's ``command``, ``args`` and ``env`` values from
the container's environment (``third_party/forked/golang/expansion`` in kubernetes/kubernetes):

* ``$(NAME)`` becomes the value of ``NAME``; an unknown name stays verbatim (``$(NAME)``);
* ``$$`` is an escaped ``$`` (``$$(NAME)`` yields the literal ``$(NAME)``);
* any other ``$`` (``$HOME``, a trailing ``$``, an unterminated ``$(``) stays as written.

An env value may refer only to variables defined *before* it (the inherited ones and earlier
entries of the list); ``command`` and ``args`` see the complete environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "TMPDIR")
"""The only variables an instance inherits from the supervisor (never a token or a config)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand every ``$(NAME)`` of ``text`` from ``env`` as Kubernetes does."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 == n:
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(" and (end := text.find(")", i + 2)) != -1:
            name = text[i + 2 : end]
            out.append(env[name] if name in env else text[i : end + 1])
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def escape(value: str) -> str:
    """``value`` written so that :func:`expand` gives it back unchanged (``$`` -> ``$$``): a value read
    from a ConfigMap, a Secret or the downward API is never expanded (the kubelet's rule)."""
    return value.replace("$", "$$")


def build_env(
    inherited: Mapping[str, str],
    declared: Iterable[tuple[str, str]],
    runtime: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """The environment of an instance, in order: inherited, then declared, then runtime.

    ``inherited`` is filtered to :data:`INHERITED_VARIABLES`; ``declared`` values are expanded
    against what precedes them; ``runtime`` values (``PORT``, ``K_*``) are set verbatim and win.
    """
    env = {name: inherited[name] for name in INHERITED_VARIABLES if name in inherited}
    for name, value in declared:
        env[name] = expand(value, env)
    for name, value in runtime:
        env[name] = value
    return env


def expand_argv(command: Iterable[str], args: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """``command + args`` with ``$(NAME)`` references expanded from the final ``env``."""
    return [expand(part, env) for part in (*command, *args)]
