from __future__ import annotations

import pytest

from zeroserve.runtime.envexpand import build_env, expand, expand_argv

ENV = {"PORT": "8080", "NAME": "world", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param("--port=$(PORT)", "--port=8080", id="reference"),
        pytest.param("$(NAME)$(PORT)", "world8080", id="adjacent"),
        pytest.param("$(MISSING)", "$(MISSING)", id="unknown-stays"),
        pytest.param("$$(PORT)", "$(PORT)", id="escaped"),
        pytest.param("$$$(PORT)", "$8080", id="escaped-then-reference"),
        pytest.param("a$$b", "a$b", id="double-dollar"),
        pytest.param("$PORT", "$PORT", id="shell-style-untouched"),
        pytest.param("cost: 5$", "cost: 5$", id="trailing-dollar"),
        pytest.param("$(PORT", "$(PORT", id="unterminated"),
        pytest.param("x$(EMPTY)y", "xy", id="empty-value"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("", "", id="empty"),
    ],
)
def test_expand(text: str, want: str) -> None:
    assert expand(text, ENV) == want


def test_build_env_order_and_filtering() -> None:
    inherited = {"PATH": "/bin", "HOME": "/root", "ZEROSERVE_TOKEN": "secret", "LANG": "C.UTF-8", "OTHER": "x"}
    env = build_env(
        inherited,
        [("GREETING", "hello $(WHO)"), ("WHO", "you"), ("AGAIN", "$(WHO) at $(HOME)"), ("PORT", "1")],
        [("PORT", "4242"), ("K_SERVICE", "svc")],
    )
    assert env == {
        "PATH": "/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "GREETING": "hello $(WHO)",  # WHO is defined later: stays verbatim, as in Kubernetes
        "WHO": "you",
        "AGAIN": "you at /root",
        "PORT": "4242",
        "K_SERVICE": "svc",
    }


def test_expand_argv_sees_the_final_env() -> None:
    assert expand_argv(
        ["app", "--port", "$(PORT)"], ["$(K_REVISION)", "$$(PORT)"], {"PORT": "9", "K_REVISION": "r"}
    ) == [
        "app",
        "--port",
        "9",
        "r",
        "$(PORT)",
    ]
