"""Mount options for volumes in a process sandbox (runtime.isolation: binds, shadows), pure or on a tmp tree."""

from __future__ import annotations

import os
from pathlib import Path

from zeroserve.runtime.base import VolumeMount
from zeroserve.runtime.isolation import Bind, Shadow, bind_options, sandbox_options, shadow_options, shadows_for
from zeroserve.runtime.volumes import binds, pod_name


def test_binds_make_their_missing_parents_open_to_the_app() -> None:
    assert bind_options([Bind("/v/a", "/etc/app/conf"), Bind("/v/b", "/data", read_only=False)]) == [
        *("--perms", "0755", "--dir", "/etc"),
        *("--perms", "0755", "--dir", "/etc/app"),
        *("--ro-bind", "/v/a", "/etc/app/conf"),
        *("--bind", "/v/b", "/data"),
    ]


def test_a_shadowed_directory_is_a_tmpfs_linking_to_the_hosts_parents_first() -> None:
    shadows = [
        Shadow("/etc/x", (("a", None),)),
        Shadow("/etc", (("passwd", None), ("mtab", "../proc/self/mounts"), ("x", None))),
    ]
    assert shadow_options(shadows) == [
        *("--perms", "0755", "--tmpfs", "/etc", "--ro-bind", "/etc", "/etc/..host"),
        *("--symlink", "..host/passwd", "/etc/passwd"),
        *("--symlink", "../proc/self/mounts", "/etc/mtab"),
        *("--perms", "0755", "--dir", "/etc/x"),  # a deeper shadow's: a directory of the tmpfs
        *("--perms", "0755", "--tmpfs", "/etc/x", "--ro-bind", "/etc/x", "/etc/x/..host"),
        *("--symlink", "..host/a", "/etc/x/a"),
    ]


def test_a_shadowed_root_is_bound_entry_by_entry_instead_of_at_once() -> None:
    root = Shadow("/", (("usr", None), ("bin", "usr/bin"), ("proc", None), ("dev", None)))
    options = sandbox_options((), "/", (), shadows=[root], binds=[Bind("/v", "/app/conf")])
    assert ("--ro-bind", "/", "/") not in list(zip(options, options[1:], options[2:], strict=False))
    assert options[options.index("--ro-bind") : options.index("--ro-bind") + 6] == [
        *("--ro-bind", "/usr", "/usr"),
        *("--symlink", "usr/bin", "/bin"),
    ]
    assert "/proc" not in options[: options.index("--proc")]  # the sandbox's own /proc and /dev
    assert options[-3:] == ["--ro-bind", "/v", "/app/conf"]


def test_only_missing_mount_points_shadow_the_deepest_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("x")
    os.symlink("passwd", tmp_path / "etc" / "link")
    (tmp_path / "tmp").mkdir()
    targets = [str(tmp_path / "etc" / "conf" / "deep"), str(tmp_path / "etc" / "passwd"), str(tmp_path / "tmp" / "x")]
    (shadow,) = shadows_for(targets, writable=[str(tmp_path / "tmp")])
    assert shadow == Shadow(str(tmp_path / "etc"), (("link", "passwd"), ("passwd", None)))


def test_nested_mounts_get_their_mount_point_in_the_outer_volume(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    inner.mkdir()
    (inner / "key").write_text("v")
    mounts = [VolumeMount("inner", "/etc/a/b/key", sub_path="key"), VolumeMount("outer", "/etc/a")]
    made = binds(mounts, {"outer": str(outer), "inner": str(inner)})
    assert [(b.target, b.file) for b in made] == [("/etc/a", False), ("/etc/a/b/key", True)]
    assert (outer / "b" / "key").is_file() and (outer / "b" / "key").read_text() == ""


def test_pod_names_are_knatives_shape() -> None:
    name = pod_name("hello-00001", "default/hello-00001/1", b"\x01\x02\x03\x04\x05\x06\x07\x08")
    prefix, template, suffix = name.rsplit("-", 2)
    assert prefix == "hello-00001-deployment" and len(template) == 10 and len(suffix) == 5
    assert set(template + suffix) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert pod_name("hello-00001", "default/hello-00001/1", b"\x09" * 8).startswith(f"{prefix}-{template}-")
