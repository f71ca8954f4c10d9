"""``--help`` that reads like kn's and kubectl's: ``--api-port int``, ``--output string``, flags bare.

Typer (0.2x) writes every option's Python type in angle brackets (``<str>``, ``<path>``, and
``<bool>`` even for a flag that takes no value). Here an option shows its explicit ``metavar`` when
it has one, nothing when it is a flag, else cobra's words for its type (``string``, ``int``,
``float``, ``path``, a choice's ``a|b``); an argument's name already says what it is, so it gets no
type; usage lines name arguments in capitals (``KIND [NAME]``). :func:`install` sets this up once,
before the app is built into click commands. The app itself prints help without rich markup
(``rich_markup_mode=None``), which would eat ``[default: x]`` and turn ``secret:X:`` into emoji.
"""

from __future__ import annotations

from typing import Any, Final

import typer.core

_WORDS: Final = {"str": "string", "list[str]": "string", "list[int]": "int", "list[path]": "path", "bool": ""}


def option_metavar(metavar: str | None, is_flag: bool, typed: str) -> str | None:
    """What follows an option's name in help: ``metavar``, nothing for a flag, or a word for
    typer's ``<type>`` string ``typed``."""
    if metavar is not None:
        return metavar
    if is_flag:
        return None
    bare = typed.removeprefix("<").removesuffix(">")
    word = _WORDS.get(bare, bare)
    return word or None


def _option_display(self: typer.core.TyperOption, ctx: Any) -> str | None:
    return option_metavar(self.metavar, self.is_flag or bool(self.count), self.display_type(ctx))


def _argument_display(self: typer.core.TyperArgument, ctx: Any) -> str | None:
    return None


def _argument_usage(self: typer.core.TyperArgument) -> str:
    """kubectl's usage words: ``KIND [NAME]``, ``NAMES...`` (typer writes ``{kind} [name]``)."""
    name = self.display_name_raw.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


_installed = False


def install() -> None:
    """Make typer print help this way (idempotent)."""
    global _installed
    if _installed or not hasattr(typer.core.TyperOption, "display_type"):
        return  # an older typer: click's own help, which has no type tags
    typer.core.TyperOption.display_type_rich = _option_display  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = _argument_display  # type: ignore[method-assign,assignment]
    if hasattr(typer.core.TyperArgument, "_usage_display_name"):
        typer.core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    _installed = True
