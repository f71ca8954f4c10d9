"""``Timeouts.bounded``: the per-request copy the activator and the inline queue make."""

from __future__ import annotations

import dataclasses

from zeroserve.net.proxy import Timeouts


def test_bounded_is_replace_of_total_and_message() -> None:
    base = Timeouts(connect=1.0, response_start=2.0, idle=3.0, total=300.0, message="request timeout")
    assert base.bounded(4.5) == dataclasses.replace(base, total=4.5)
    assert base.bounded(4.5, "activator request timeout") == dataclasses.replace(
        base, total=4.5, message="activator request timeout"
    )
    assert Timeouts().bounded(7.0) == Timeouts(total=7.0)
