"""Hello as a WSGI callable, forked from a per-revision zygote (stdlib only).

The Service's annotation ``zeroserve.dev/python-app: "app:application"`` makes zeroserve import this
module once per revision (in a zygote) and fork a ready instance on every scale-up; nothing here
starts a server. Without the annotation, ``python app.py`` serves it with wsgiref (the normal path).

Module-level code runs in the zygote: K_REVISION read here is right for every instance, PORT is not
the instance's (read it per request, as below).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

REVISION = os.environ.get("K_REVISION", "?")  # the same in every instance of the revision


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    target = os.environ.get("TARGET", "World")
    body = f"Hello {target}! (revision {REVISION}, pid {os.getpid()}, port {os.environ.get('PORT')})\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("127.0.0.1", int(os.environ.get("PORT", "8080")), application).serve_forever()
