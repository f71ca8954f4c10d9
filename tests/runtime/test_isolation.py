"""runtime.isolation, pure parts: who an instance runs as, its jail, what a user may execute."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zeroserve.runtime import isolation
from zeroserve.runtime.base import Failure
from zeroserve.runtime.isolation import Isolation, Machine, Policy, User

ROOT = User(0, 0)
ROOT_MACHINE = Machine(ROOT, "/usr/bin/setpriv", "/usr/bin/bwrap", "/usr/bin/env")
NO_SANDBOX = Machine(ROOT, "/usr/bin/setpriv", None, "/usr/bin/env", "bubblewrap (bwrap) is not installed")
NOT_ROOT = Machine(User(1000, 1000), "/usr/bin/setpriv", "/usr/bin/bwrap", "/usr/bin/env")


def user_of(
    iso: Isolation,
    key: str = "default/hello-00001",
    *,
    user: int | None = None,
    group: int | None = None,
    non_root: bool | None = None,
) -> User:
    found = iso.user_for(key, user, group, non_root)
    assert isinstance(found, User), found
    return found


@pytest.mark.parametrize(
    ("environ", "want"),
    [
        pytest.param({}, Policy("revision", True), id="defaults"),
        pytest.param({"ZEROSERVE_INSTANCE_USERS": "nobody"}, Policy("nobody", True), id="nobody"),
        pytest.param({"ZEROSERVE_INSTANCE_USERS": "inherit"}, Policy("inherit", True), id="inherit"),
        pytest.param({"ZEROSERVE_SANDBOX": "none"}, Policy("revision", False), id="no-sandbox"),
        pytest.param({"ZEROSERVE_INSTANCE_USERS": "root", "ZEROSERVE_SANDBOX": "off"}, Policy(), id="unknown"),
    ],
)
def test_policy_from_the_environment(environ: dict[str, str], want: Policy) -> None:
    assert Policy.from_environ(environ) == want


def test_unknown_policy_values_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Policy.from_environ({"ZEROSERVE_INSTANCE_USERS": "root"})
    assert "ZEROSERVE_INSTANCE_USERS='root' is not one of revision, nobody, inherit" in caplog.text


def test_each_revision_gets_a_uid_of_its_own() -> None:
    iso = Isolation(Policy(), ROOT_MACHINE)
    first, second = user_of(iso, "default/a-00001"), user_of(iso, "default/a-00002")
    assert first != second
    for user in (first, second):
        assert isolation.UID_BASE <= user.uid < isolation.UID_BASE + isolation.UID_SLOTS
        assert user.gid == user.uid
    assert user_of(iso, "default/a-00001") == first  # stable while the revision lives
    assert user_of(Isolation(Policy(), ROOT_MACHINE), "default/a-00001") == first  # and across restarts


def test_a_hash_collision_moves_to_the_next_free_uid() -> None:
    iso = Isolation(Policy(), ROOT_MACHINE)
    first = user_of(iso, "default/a-00001")
    iso._uids["default/squatter"] = first.uid + 1  # the slot after it is taken too
    iso.release("default/a-00001")
    iso._uids["default/other"] = first.uid
    assert user_of(iso, "default/a-00001").uid == first.uid + 2


@pytest.mark.parametrize(
    ("policy", "want"),
    [
        pytest.param(Policy("nobody"), User(65534, 65534), id="nobody"),
        pytest.param(Policy("inherit"), ROOT, id="inherit"),
    ],
)
def test_other_schemes(policy: Policy, want: User) -> None:
    assert user_of(Isolation(policy, ROOT_MACHINE)) == want


@pytest.mark.parametrize(
    ("run_as", "want"),
    [
        pytest.param({"user": 1000}, User(1000, 1000), id="runAsUser"),
        pytest.param({"user": 1000, "group": 50}, User(1000, 50), id="runAsUser-and-group"),
        pytest.param({"user": 0}, ROOT, id="root-when-asked"),
        pytest.param({"user": 1000, "non_root": True}, User(1000, 1000), id="non-root-satisfied"),
    ],
)
def test_the_security_context_wins(run_as: dict[str, Any], want: User) -> None:
    assert user_of(Isolation(Policy(), ROOT_MACHINE), **run_as) == want


def test_a_group_alone_keeps_the_revisions_uid() -> None:
    iso = Isolation(Policy(), ROOT_MACHINE)
    user = user_of(iso, group=50)
    assert user.gid == 50 and user.uid >= isolation.UID_BASE


@pytest.mark.parametrize(
    ("machine", "policy", "run_as_user", "message"),
    [
        pytest.param(
            ROOT_MACHINE,
            Policy(),
            0,
            "container's runAsUser breaks non-root policy (runAsNonRoot is true, runAsUser is 0)",
            id="runAsUser-0",
        ),
        pytest.param(
            ROOT_MACHINE,
            Policy("inherit"),
            None,
            "container has runAsNonRoot and would run as root: instances run as root, without capabilities",
            id="inherit-as-root",
        ),
        pytest.param(
            Machine(ROOT, None, "/usr/bin/bwrap"),
            Policy(),
            None,
            "container has runAsNonRoot and would run as root: instances run as zeroserve up's own user (uid 0)",
            id="no-setpriv",
        ),
    ],
)
def test_run_as_non_root_refuses_root(machine: Machine, policy: Policy, run_as_user: int | None, message: str) -> None:
    refused = Isolation(policy, machine).user_for("default/a-00001", run_as_user, None, True)
    assert isinstance(refused, Failure)
    assert refused.reason == "CreateContainerConfigError" and refused.permanent
    assert refused.message.startswith(message)


def test_not_root_runs_as_itself_and_says_so() -> None:
    iso = Isolation(Policy(), NOT_ROOT)
    assert user_of(iso, user=2000) == User(1000, 1000)
    assert user_of(iso, user=2000, non_root=True) == User(1000, 1000)
    assert iso.warnings == (
        "instances run as zeroserve up's own user (uid 1000), not as users of their own: it is not root.",
    )
    assert iso.notes(2000, 1000) == ("securityContext runAsUser 2000 not honoured.",)
    assert iso.notes(2000, 7) == ("securityContext runAsUser 2000 and runAsGroup 7 not honoured.",)
    assert iso.notes(1000, None) == ()
    assert Isolation(Policy(), ROOT_MACHINE).notes(2000, 7) == ()


def test_no_sandbox_is_a_warning() -> None:
    iso = Isolation(Policy(), NO_SANDBOX)
    assert iso.warnings == (
        "instances share zeroserve up's PID and mount namespaces: bubblewrap (bwrap) is not installed.",
    )
    assert Isolation(Policy(), ROOT_MACHINE).warnings == ()


def test_the_jail_as_root_with_bubblewrap(tmp_path: Path) -> None:
    iso = Isolation(Policy(), ROOT_MACHINE, hidden=[tmp_path])
    jail = iso.jail(User(1879048200, 1879048200), "/work/main")
    assert jail is not None and jail.monitored and jail.user == User(1879048200, 1879048200)
    assert jail.program == "/usr/bin/bwrap"
    assert jail.rest == (
        "--",
        "/usr/bin/env",
        "-u",
        "PWD",
        "--default-signal=TERM",
        "/usr/bin/setpriv",
        "--reuid",
        "1879048200",
        "--regid",
        "1879048200",
        "--clear-groups",
        "--no-new-privs",
        "--bounding-set=-all",
        "--inh-caps=-all",
        "--",
    )
    options = " ".join(jail.options)
    assert options.startswith("--die-with-parent --unshare-pid --unshare-ipc --ro-bind / / --proc /proc --dev /dev")
    assert "--perms 1777 --tmpfs /tmp" in options
    hidden = os.path.realpath(tmp_path)
    assert hidden.startswith("/tmp/")  # already under the private /tmp: no mount of its own
    assert hidden not in options


def test_bubblewraps_options_carry_the_environment() -> None:
    jail = Isolation(Policy(), ROOT_MACHINE).jail(User(1879048200, 1879048200), "/")
    assert jail is not None
    env = ("--clearenv", "--setenv", "A", "1", "--setenv", "B", "x y")
    assert jail.options_with({"A": "1", "B": "x y"})[-7:] == env
    plain = Isolation(Policy(), NO_SANDBOX).jail(User(1879048200, 1879048200), "/")
    assert plain is not None and plain.options_with({"A": "1"}) == ()


def test_the_jail_without_bubblewrap_only_switches_users() -> None:
    jail = Isolation(Policy(), NO_SANDBOX).jail(User(65534, 65534), "/")
    assert jail is not None and not jail.monitored and jail.options == ()
    assert jail.program == "/usr/bin/setpriv"
    assert jail.rest[-3:] == ("--pdeathsig", "KILL", "--")
    assert "--reuid" in jail.rest and "--no-new-privs" in jail.rest


def test_the_jail_when_not_root() -> None:
    jail = Isolation(Policy(), NOT_ROOT).jail(User(1000, 1000), "/")
    assert jail is not None and jail.rest == ("--", "/usr/bin/env", "-u", "PWD", "--default-signal=TERM")
    kept = Isolation(Policy(), NOT_ROOT).jail(User(1000, 1000), "/", keep_pwd=True)
    assert kept is not None and kept.rest == ("--", "/usr/bin/env", "--default-signal=TERM")
    bare = Machine(User(1000, 1000), "/usr/bin/setpriv")
    assert Isolation(Policy(), bare).jail(User(1000, 1000), "/") is None  # as before: setpriv --pdeathsig only


@pytest.mark.parametrize(
    ("hidden", "cwd", "want", "unwanted"),
    [
        pytest.param(["/srv/data"], "/srv/app", "--perms 0700 --tmpfs /srv/data", "--bind", id="data-dir-hidden"),
        pytest.param([], "/tmp/app", "--bind /tmp/app /tmp/app", "", id="cwd-under-tmp-bound-back"),
        pytest.param(
            ["/tmp/app/data"],
            "/tmp/app",
            "--bind /tmp/app /tmp/app --perms 0700 --tmpfs /tmp/app/data",
            "",
            id="data-inside-a-bound-cwd-hidden-again",
        ),
        pytest.param(["/tmp/data"], "/srv", "--perms 1777 --tmpfs /var/tmp", "/tmp/data", id="data-under-tmp"),
        pytest.param([], "/tmp", "--tmpfs /tmp", "--bind", id="tmp-itself-stays-private"),
        pytest.param(
            [],
            "/tmp/repo/examples/app",
            "--perms 0755 --dir /tmp/repo --perms 0755 --dir /tmp/repo/examples "
            "--bind /tmp/repo/examples/app /tmp/repo/examples/app",
            "",
            id="parents-of-a-bound-cwd-made-searchable",
        ),
        pytest.param(
            ["/root/.zeroserve"],
            "/root/src/app",
            "--perms 0755 --tmpfs /root --perms 0755 --dir /root/src --bind /root/src/app /root/src/app",
            "/root/.zeroserve",
            id="closed-home-veiled-cwd-bound-back",
        ),
    ],
)
def test_sandbox_options(hidden: list[str], cwd: str, want: str, unwanted: str) -> None:
    veiled = "/root" if cwd.startswith("/root/") else None
    options = " ".join(isolation.sandbox_options(hidden, cwd, veiled=veiled))
    assert want in options
    if unwanted:
        assert unwanted not in options


def test_within() -> None:
    assert isolation.within("/tmp", ["/tmp"]) and isolation.within("/tmp/a", ["/tmp"])
    assert not isolation.within("/tmpx", ["/tmp"]) and not isolation.within("/", ["/tmp"])


def make(path: Path, mode: int, *, text: str = "#!/bin/sh\n") -> Path:
    if text:
        path.write_text(text)
    else:
        path.mkdir()
    path.chmod(mode)
    return path


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A temporary directory every user may search (pytest's own tmp_path is under a 0700 one)."""
    with tempfile.TemporaryDirectory() as name:
        path = Path(name)
        path.chmod(0o755)
        for parent in path.parents:
            if parent.stat().st_mode & 0o001 == 0:
                pytest.skip(f"{parent} is not searchable by others")
        yield path


def test_may_execute_follows_the_mode_bits_for_another_user(reachable_tmp: Path) -> None:
    other = User(1879048300, 1879048300)
    tmp_path = reachable_tmp
    open_dir = make(tmp_path / "open", 0o755, text="")
    closed_dir = make(tmp_path / "closed", 0o700, text="")
    assert isolation.may_execute(str(make(open_dir / "app", 0o755)), other)
    assert not isolation.may_execute(str(make(open_dir / "private", 0o750)), other)
    assert not isolation.may_execute(str(make(open_dir / "plain", 0o644)), other)
    assert not isolation.may_execute(str(make(closed_dir / "app", 0o755)), other)  # a parent it cannot search
    assert not isolation.may_execute(str(open_dir), other)  # not a regular file
    assert not isolation.may_execute(str(open_dir / "missing"), other)
    link = open_dir / "link"
    link.symlink_to(closed_dir / "app")
    assert not isolation.may_execute(str(link), other)  # the target's parents count
    inner = make(closed_dir / "inner", 0o755, text="")
    assert isolation.may_execute(str(make(inner / "app", 0o755)), other, visible=[str(inner)])  # bound in
    assert isolation.closed_above(str(inner / "app"), other) == str(closed_dir)
    assert isolation.closed_above(str(open_dir / "app"), other) is None


def test_a_jail_binds_a_working_directory_under_a_closed_one(reachable_tmp: Path) -> None:
    closed = make(reachable_tmp / "home", 0o700, text="")
    app = make(closed / "app", 0o755, text="")
    iso = Isolation(Policy(), ROOT_MACHINE, hidden=[closed / "app" / "data"])
    iso.private_tmp = ()  # as if the temporary directory were not under the private /tmp
    jail = iso.jail(User(1879048300, 1879048300), str(app))
    assert jail is not None and jail.visible == (str(app),)
    options = " ".join(jail.options)
    assert f"--perms 0755 --tmpfs {closed} --bind {app} {app} --perms 0700 --tmpfs {app}/data" in options
    mine = iso.jail(User(0, 0), str(app))  # root (without capabilities) owns the closed directory
    assert mine is not None and mine.visible == () and "--bind" not in mine.options


@pytest.mark.parametrize(
    ("mode", "owner", "group", "bits", "want"),
    [
        pytest.param(0o700, 5, 9, 1, True, id="owner"),
        pytest.param(0o070, 5, 9, 1, False, id="owner-bits-only-for-the-owner"),
        pytest.param(0o070, 6, 7, 1, True, id="group"),
        pytest.param(0o007, 6, 9, 4, True, id="others"),
        pytest.param(0o750, 6, 9, 1, False, id="others-denied"),
    ],
)
def test_grants(mode: int, owner: int, group: int, bits: int, want: bool) -> None:
    info = os.stat_result((stat.S_IFREG | mode, 0, 0, 1, owner, group, 0, 0, 0, 0))
    assert isolation._grants(info, User(5 if owner == 5 else 8, 7), bits) is want
