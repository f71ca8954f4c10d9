"""What ``zeroserve up`` says when it cannot start: a port someone else listens on, a data dir
another ``up`` holds. One line naming the flag that moves it, never a traceback or a bare OSError.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from typing import Final

_BIND: Final = re.compile(r"address \('([^']*)', (\d+)")


def port_flags(
    api_port: int,
    gateway_port: int,
    internal_port: int = 0,
    api_insecure_port: int | None = None,
    registry: str = "",
    metrics_port: int | None = None,
) -> dict[int, str]:
    """The fixed (non-zero) ports ``up`` was asked for, each with the flag that chooses it."""
    flags: dict[int, str] = {}
    reg_port = registry.partition("/")[0].rpartition(":")[2]
    for port, flag in (
        (metrics_port, "--metrics-port"),
        (int(reg_port) if reg_port.isdigit() else None, "--registry"),
        (api_insecure_port, "--api-insecure-port"),
        (internal_port, "--internal-port"),
        (gateway_port, "--gateway-port"),
        (api_port, "--api-port"),
    ):
        if port:
            flags[port] = flag
    return flags


def address_in_use(err: OSError, flags: Mapping[int, str]) -> str | None:
    """The message for a port that is taken (asyncio's "error while attempting to bind on address
    ('127.0.0.1', 8001): address already in use"), naming the flag to choose another; None for any
    other OSError."""
    if err.errno != errno.EADDRINUSE:
        return None
    m = _BIND.search(str(err))
    if m is None:
        return f"a port zeroserve up listens on is already in use ({err.strerror or err})"
    host, port = m.group(1), int(m.group(2))
    flag = flags.get(port)
    choose = f"choose another with {flag} PORT" if flag else "choose other ports"
    return (
        f"{host}:{port} is already in use: is another `zeroserve up` (or another program) listening there? "
        f"{choose[0].upper()}{choose[1:]}"
        + (" (0: any free port)" if flag in ("--gateway-port", "--internal-port", "--api-insecure-port") else "")
        + "."
    )
