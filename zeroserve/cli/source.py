"""``kn source``: the event sources' command group.

Each source kind has its own module with its own Typer app (``zeroserve/cli/source_<kind>.py``:
``source_apiserver``, ``source_ping``, ``source_binding``, ``source_container``), added here under
its kn name, as knative/client ``pkg/commands/source/source.go`` adds ``apiserver``, ``ping``,
``binding`` and ``container``; ``source list`` lists them all (:mod:`.source_list`). What the kinds'
commands share (list, describe, delete, ``--sink``, ``--ce-override``) is :mod:`.source_common`.
"""

from __future__ import annotations

import typer

from zeroserve.cli.source_apiserver import apiserver_app
from zeroserve.cli.source_binding import binding_app
from zeroserve.cli.source_container import container_app
from zeroserve.cli.source_list import list_sources
from zeroserve.cli.source_ping import ping_app

source_app = typer.Typer(help="Manage event sources (kn source).", no_args_is_help=True)
source_app.add_typer(apiserver_app, name="apiserver")
source_app.add_typer(ping_app, name="ping")
source_app.add_typer(binding_app, name="binding")
source_app.add_typer(container_app, name="container")
source_app.command("list")(list_sources)
