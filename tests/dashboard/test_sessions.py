"""The dashboard's one-time codes and sessions (pure, times injected)."""

from __future__ import annotations

from zeroserve.dashboard.sessions import MAX_SESSIONS, Sessions, token_matches


def test_a_code_opens_one_session_once_and_only_before_it_expires() -> None:
    sessions = Sessions(code_ttl=60.0, session_ttl=100.0)
    code = sessions.new_code(0.0)
    session = sessions.redeem(code, 10.0)
    assert session is not None and session != code
    assert sessions.valid(session, 109.0)
    assert sessions.redeem(code, 11.0) is None  # spent
    late = sessions.new_code(0.0)
    assert sessions.redeem(late, 60.0) is None  # expired
    assert sessions.redeem("made-up", 1.0) is None


def test_sessions_expire_and_close() -> None:
    sessions = Sessions(session_ttl=100.0)
    a, b = sessions.open(0.0), sessions.open(50.0)
    assert sessions.valid(a, 99.0) and not sessions.valid(a, 100.0)
    assert not sessions.valid(a, 0.0)  # an expired session is forgotten
    sessions.close(b)
    assert not sessions.valid(b, 51.0)
    assert not sessions.valid(None, 0.0) and not sessions.valid("", 0.0)


def test_sessions_are_bounded_oldest_first() -> None:
    sessions = Sessions()
    first = sessions.open(0.0)
    opened = [sessions.open(float(i)) for i in range(1, MAX_SESSIONS + 1)]
    assert not sessions.valid(first, 1000.0)
    assert all(sessions.valid(s, 1000.0) for s in opened)


def test_token_matches() -> None:
    assert token_matches("abc", "abc")
    assert token_matches(" abc\n", "abc")  # pasted with a newline
    assert not token_matches("abd", "abc")
    assert not token_matches("", "")
