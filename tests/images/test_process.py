"""Kubernetes' merge of a container's command/args/env/workingDir with its image's config."""

from __future__ import annotations

import pytest

from zeroserve.images.base import ImageConfig, ImageError
from zeroserve.images.process import effective_process, merge_env, resolve_user

IMAGE = ImageConfig(entrypoint=("/bin/app",), cmd=("--serve",), env=(("PATH", "/bin"), ("A", "1")), working_dir="/srv")


@pytest.mark.parametrize(
    ("command", "args", "argv"),
    [
        pytest.param((), (), ("/bin/app", "--serve"), id="entrypoint+cmd"),
        pytest.param(("/x",), (), ("/x",), id="command-drops-cmd"),
        pytest.param((), ("--other",), ("/bin/app", "--other"), id="args-replace-cmd"),
        pytest.param(("/x",), ("y",), ("/x", "y"), id="command+args"),
    ],
)
def test_argv(command: tuple[str, ...], args: tuple[str, ...], argv: tuple[str, ...]) -> None:
    assert effective_process(IMAGE, command=command, args=args).argv == argv


def test_cmd_alone_and_nothing_to_run() -> None:
    assert effective_process(ImageConfig(cmd=("/hello",))).argv == ("/hello",)
    with pytest.raises(ImageError) as err:
        effective_process(ImageConfig())
    assert err.value.reason == "CreateContainerError"
    assert err.value.message == "no command specified"


def test_env_container_wins_in_place_then_appends() -> None:
    p = effective_process(IMAGE, env=(("B", "2"), ("A", "x")))
    assert p.env == (("PATH", "/bin"), ("A", "x"), ("B", "2"))
    assert merge_env((), (("A", "1"), ("A", "2"))) == (("A", "2"),)


def test_working_dir() -> None:
    assert effective_process(IMAGE).cwd == "/srv"
    assert effective_process(IMAGE, working_dir="/tmp").cwd == "/tmp"
    assert effective_process(ImageConfig(cmd=("a",))).cwd == "/"


def test_user_unless_run_as_user() -> None:
    image = ImageConfig(cmd=("a",), user="1000:1000")
    assert effective_process(image).user == "1000:1000"
    assert effective_process(image, run_as_user=5).user is None
    assert effective_process(ImageConfig(cmd=("a",))).user is None


PASSWD = "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:\n"


@pytest.mark.parametrize(
    ("user", "ids"),
    [
        ("1000", (1000, 1001)),
        ("4242", (4242, 0)),
        ("app", (1000, 1001)),
        ("app:staff", (1000, 50)),
        ("4242:7", (4242, 7)),
        ("root", (0, 0)),
    ],
)
def test_resolve_user(user: str, ids: tuple[int, int]) -> None:
    assert resolve_user(user, PASSWD, GROUP) == ids


@pytest.mark.parametrize("user", ["nobody", "app:wheel"])
def test_resolve_user_unknown_name(user: str) -> None:
    with pytest.raises(ImageError) as err:
        resolve_user(user, PASSWD, GROUP)
    assert err.value.reason == "CreateContainerError"
