"""Bearer-token authentication: one token in ``DATA/token`` identifies the one admin user."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from zeroserve.errors import Unauthorized

ADMIN_USER: Final = "zeroserve-admin"
"""The identity of the token holder, as admission sees it (Knative's creator/lastModifier)."""

TOKEN_FILE: Final = "token"


def ensure_token(data_dir: Path) -> str:
    """The token in ``data_dir/token``; a new random one (file mode 0600 from birth) if absent."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = path.read_text().strip()
        if existing:
            return existing
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        f.write(token)  # the bare token: `Bearer $(cat DATA/token)` works as it is
    return token


def check_bearer(header: str | None, token: str) -> None:
    """Raise Unauthorized unless ``header`` is ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("Unauthorized")
