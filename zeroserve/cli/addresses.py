"""How clients reach the addresses zeroserve hands out (docs/architecture.md, "Addresses").

Knative's addresses are cluster-local (``http://hello.default.svc.cluster.local``, a Broker's
``http://broker-ingress.knative-eventing.svc.cluster.local/NS/NAME``) or ``*.localhost`` Service
URLs; no resolver on this machine knows either (curl resolves ``*.localhost`` itself, Python does
not). zeroserve's answer is an HTTP proxy: the gateway's internal listener routes every one of them
and forwards any other plain-http request. Instances get it as ``http_proxy`` (:func:`proxy_env`);
a shell gets the same with ``eval "$(zeroserve env)"``. https is never proxied.
"""

from __future__ import annotations

import json
import shlex

import typer

from zeroserve import errors
from zeroserve.cli.context import ENDPOINTS_FILE, Context

NO_PROXY = "127.0.0.1,::1"
"""Addresses reached directly; every other plain-http request goes through the internal gateway
(``localhost`` too: it forwards it, so ``*.localhost`` Service URLs can resolve there)."""


def proxy_env(internal_url: str) -> dict[str, str]:
    """The internal gateway as an HTTP proxy, in the spellings curl, Python and Go read."""
    return {"http_proxy": internal_url, "HTTP_PROXY": internal_url, "no_proxy": NO_PROXY, "NO_PROXY": NO_PROXY}


def internal_url(context: Context) -> str:
    """The internal listener ``zeroserve up`` recorded in ``DATA/endpoints.json`` ("" if none)."""
    try:
        endpoints = json.loads((context.data_dir / ENDPOINTS_FILE).read_text())
    except (OSError, ValueError):
        return ""
    return str(endpoints.get("internal", "")) if isinstance(endpoints, dict) else ""


def env(ctx: typer.Context) -> None:
    """Print the shell exports that make zeroserve's URLs work from this shell: eval "$(zeroserve env)"."""
    context = ctx.find_root().obj
    assert isinstance(context, Context)
    url = internal_url(context)
    if not url:
        raise errors.BadRequest(
            f"no internal gateway recorded in {context.data_dir / ENDPOINTS_FILE}: is `zeroserve up` running?"
        )
    for name, value in proxy_env(url).items():
        print(f"export {name}={shlex.quote(value)}")
