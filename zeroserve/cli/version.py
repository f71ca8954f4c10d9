"""``zeroserve version`` (kn version, kubectl version) and ``zeroserve --version``."""

from __future__ import annotations

import json
import platform
from typing import Annotated

import typer

from zeroserve import __version__, errors
from zeroserve.api.base import Obj
from zeroserve.cli.context import Context


def client_info() -> Obj:
    return {"version": __version__, "python": platform.python_version()}


def server_info(ctx: Context) -> Obj:
    """The API server's ``/version`` plus where it is, or why it could not be read."""
    try:
        info = ctx.client(timeout=5.0).version()
    except errors.ZeroserveError as e:
        return {"url": ctx.api, "error": str(e)}
    return {"url": ctx.api, **info}


def render(client: Obj, server: Obj) -> str:
    """kubectl version's lines: the client's, then the server's (or why there is none)."""
    lines = [f"Client Version: {client['version']} (python {client['python']})"]
    if "error" in server:
        lines.append(f"Server Version: unknown ({server['error']})")
    else:
        lines.append(f"Server Version: {server.get('gitVersion', '')} at {server['url']}")
    return "\n".join(lines)


def version(
    ctx: typer.Context,
    out: Annotated[str, typer.Option("--output", "-o", help="json or yaml instead of lines.")] = "",
) -> None:
    """Print the client's version and, when `zeroserve up` answers, the API server's."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    doc = {"clientVersion": client_info(), "serverVersion": server_info(obj)}
    if out == "json":
        print(json.dumps(doc, indent=2))
    elif out == "yaml":
        from zeroserve.cli.output import to_yaml

        print(to_yaml(doc))
    elif out:
        raise errors.BadRequest(f"--output must be json or yaml, was: {out!r}")
    else:
        print(render(doc["clientVersion"], doc["serverVersion"]))


def print_version(value: bool) -> None:
    """``--version``: the package's version, nothing else (eager: before any command runs)."""
    if value:
        print(f"zeroserve {__version__}")
        raise typer.Exit(0)
