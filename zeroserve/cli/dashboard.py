"""``zeroserve dashboard``: a fresh one-time URL that signs a browser in to the web dashboard.

``zeroserve up`` prints one at start; each works once (then the browser keeps a session cookie).
The token itself never goes in a URL: this asks the API for a one-time code with it.
"""

from __future__ import annotations

import typer

from zeroserve.cli.context import Context


def dashboard(ctx: typer.Context) -> None:
    """Print a one-time URL that opens the web dashboard of the running `zeroserve up`."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    print(obj.client().dashboard_login_url())
