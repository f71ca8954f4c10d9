"""The dashboard's logins: one-time codes and session ids, kept in memory. Pure: every time is an argument.

A browser proves it holds the API's token once, by posting it to the login page or by opening a
one-time URL (``/dashboard/login?code=...``) that ``zeroserve up`` prints at start and
``zeroserve dashboard`` prints on demand; either way it gets a random session id in an HttpOnly
cookie, and the token itself never appears in a URL. A code works once and only for
:data:`CODE_TTL` seconds; a session lasts :data:`SESSION_TTL` seconds. Both are forgotten when
``up`` stops (a new ``up``: log in again).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

CODE_TTL: Final = 24 * 3600.0
SESSION_TTL: Final = 12 * 3600.0
MAX_SESSIONS: Final = 256
"""Live sessions kept; a login beyond them ends the oldest."""
MAX_CODES: Final = 64


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison of a posted token with the API's."""
    return bool(given) and hmac.compare_digest(given.strip().encode(), token.encode())


@dataclass
class Sessions:
    code_ttl: float = CODE_TTL
    session_ttl: float = SESSION_TTL
    _codes: dict[str, float] = field(default_factory=dict)
    """code -> expiry"""
    _sessions: dict[str, float] = field(default_factory=dict)
    """session id -> expiry, oldest first"""

    def new_code(self, now: float) -> str:
        """A one-time login code valid for ``code_ttl`` seconds."""
        _expire(self._codes, now)
        _bound(self._codes, MAX_CODES - 1)
        code = secrets.token_urlsafe(24)
        self._codes[code] = now + self.code_ttl
        return code

    def redeem(self, code: str, now: float) -> str | None:
        """A new session for an unused, unexpired ``code`` (which is then spent), else None."""
        expiry = self._codes.pop(code, None)
        if expiry is None or expiry <= now:
            return None
        return self.open(now)

    def open(self, now: float) -> str:
        """A new session id (the caller has checked the token)."""
        _expire(self._sessions, now)
        _bound(self._sessions, MAX_SESSIONS - 1)
        session = secrets.token_urlsafe(32)
        self._sessions[session] = now + self.session_ttl
        return session

    def valid(self, session: str | None, now: float) -> bool:
        if not session:
            return False
        expiry = self._sessions.get(session)
        if expiry is None:
            return False
        if expiry <= now:
            del self._sessions[session]
            return False
        return True

    def close(self, session: str | None) -> None:
        if session:
            self._sessions.pop(session, None)


def _expire(entries: dict[str, float], now: float) -> None:
    for key in [k for k, expiry in entries.items() if expiry <= now]:
        del entries[key]


def _bound(entries: dict[str, float], size: int) -> None:
    while len(entries) > size:
        del entries[next(iter(entries))]
