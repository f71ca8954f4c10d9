"""``kn source``: the event sources' command group.

Each source kind has its own module with its own Typer app (``zeroserve/cli/source_<kind>.py``:
``source_apiserver``; ping, binding and container alongside), added here under its kn name, as
knative/client ``pkg/commands/source/source.go`` adds ``apiserver``, ``ping``, ``binding`` and
``container``.
"""

from __future__ import annotations

import typer

from zeroserve.cli.source_apiserver import apiserver_app

source_app = typer.Typer(help="Manage event sources (kn source).", no_args_is_help=True)
source_app.add_typer(apiserver_app, name="apiserver")
