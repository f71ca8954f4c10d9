"""What to build and where it goes (zeroserve.build.source): the build file, image names, FROM lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroserve.build import source
from zeroserve.build.source import BuildError, NoRegistry

DIGEST = "sha256:" + "ab" * 32


def test_containerfile_comes_before_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert source.build_file(tmp_path) == tmp_path / "Dockerfile"
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    assert source.build_file(tmp_path) == tmp_path / "Containerfile"
    other = tmp_path / "Other.file"
    other.write_text("FROM scratch\n")
    assert source.build_file(tmp_path, other) == other


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param("missing-dir", "not a directory", id="no-dir"),
        pytest.param("empty-dir", "no Containerfile or Dockerfile to build from", id="no-file"),
        pytest.param("missing-file", "no such file", id="named-file-missing"),
    ],
)
def test_build_file_errors_say_what_is_missing(tmp_path: Path, setup: str, message: str) -> None:
    context = tmp_path / "src"
    if setup != "missing-dir":
        context.mkdir()
    with pytest.raises(BuildError, match=message):
        source.build_file(context, tmp_path / "nope" if setup == "missing-file" else None)


@pytest.mark.parametrize(
    ("image", "registry", "want"),
    [
        pytest.param("hello:v1", "127.0.0.1:5000", "127.0.0.1:5000/hello:v1", id="bare-under-registry"),
        pytest.param("hello", "127.0.0.1:5000", "127.0.0.1:5000/hello:latest", id="default-tag"),
        pytest.param("hello", "127.0.0.1:5000/team/", "127.0.0.1:5000/team/hello:latest", id="registry-path"),
        pytest.param("team/hello:v2", "localhost:5000", "localhost:5000/team/hello:v2", id="bare-path"),
        pytest.param("ghcr.io/x/hello:v1", "", "ghcr.io/x/hello:v1", id="named-registry"),
        pytest.param("127.0.0.1:5001/hello", "127.0.0.1:5000", "127.0.0.1:5001/hello:latest", id="port-registry"),
    ],
)
def test_target(image: str, registry: str, want: str) -> None:
    assert source.target(image, registry) == want


def test_a_bare_name_needs_a_registry() -> None:
    with pytest.raises(NoRegistry, match="zeroserve up --serve-registry"):
        source.target("hello:v1", "")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        pytest.param(f"127.0.0.1:5000/hello@{DIGEST}", "pushed to a tag, not a digest", id="digest"),
        pytest.param("127.0.0.1:5000/Hello", "not an image reference", id="upper-case"),
        pytest.param("127.0.0.1:5000/hello:bad tag", "not an image reference", id="bad-tag"),
    ],
)
def test_target_refuses(image: str, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        source.target(image, "127.0.0.1:5000")


def test_source_image_is_named_after_the_service() -> None:
    assert source.source_image("127.0.0.1:5000", "default", "hello") == "127.0.0.1:5000/default/hello:latest"
    with pytest.raises(NoRegistry):
        source.source_image("", "default", "hello")


@pytest.mark.parametrize(
    ("image", "want"),
    [
        pytest.param("127.0.0.1:5000/default/hello:latest", f"127.0.0.1:5000/default/hello@{DIGEST}", id="tag"),
        pytest.param("127.0.0.1:5000/hello", f"127.0.0.1:5000/hello@{DIGEST}", id="no-tag"),
    ],
)
def test_pinned(image: str, want: str) -> None:
    assert source.pinned(image, DIGEST) == want


def test_base_images_skip_scratch_stages_and_args() -> None:
    containerfile = """\
# syntax comment
FROM --platform=linux/amd64 127.0.0.1:5000/debian:12 AS build
RUN make \\
    FROM=not-an-instruction
FROM build
FROM scratch
ARG BASE
FROM $BASE
from ghcr.io/x/y:1 as z
FROM 127.0.0.1:5000/debian:12
"""
    assert source.base_images(containerfile) == ["127.0.0.1:5000/debian:12", "ghcr.io/x/y:1"]


def test_with_insecure_adds_only_registries_not_mentioned() -> None:
    conf = '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n'
    out = source.with_insecure(conf, ["127.0.0.1:5000", "localhost:5001"])
    assert out.startswith(conf)
    assert out.count("[[registry]]") == 2
    assert 'location = "localhost:5001"\ninsecure = true' in out
    assert source.with_insecure("", []) == ""
