"""Buildah against a real docker-registry on 127.0.0.1: build, push, digest (zeroserve.build.buildah)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.images import Pushed, Registry
from zeroserve.build.buildah import Buildah
from zeroserve.build.source import BuildError


def inspect(ref: str, *, config: bool = False) -> dict[str, object]:
    argv = ["skopeo", "inspect", "--tls-verify=false", *(["--config"] if config else []), f"docker://{ref}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def local_images(builder: Buildah) -> list[str]:
    done = subprocess.run(
        ["buildah", "--root", str(builder.root / "storage"), "--runroot", str(builder.root / "run"),
         "--storage-driver", "vfs", "images", "-q"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.split()


@pytest.fixture
def builder(tmp_path: Path) -> Buildah:
    return Buildah.for_data_dir(tmp_path / "data")


def test_build_pushes_and_returns_the_registry_digest(builder: Buildah, hello_source: Path, registry: Registry) -> None:
    lines: list[str] = []
    image = registry.ref("build/hello:v1")
    built = builder.build(hello_source, image, progress=lines.append)
    assert built.image == image
    assert built.digest == inspect(image)["Digest"]
    assert built.pinned == f"{registry.host}/build/hello@{built.digest}"
    assert lines[0] == "STEP 1/5: FROM scratch"
    assert f"COMMIT {image}" in lines
    assert f"Pushing {image}" in lines
    config = inspect(image, config=True)["config"]
    assert isinstance(config, dict)
    assert (config["Entrypoint"], config["ExposedPorts"]) == (["/hello"], {"8080/tcp": {}})
    assert local_images(builder) == []  # the registry holds it; the local copy is gone


def test_the_same_source_gives_the_same_digest(builder: Buildah, hello_source: Path, registry: Registry) -> None:
    first = builder.build(hello_source, registry.ref("build/repro:a"), progress=lambda _: None)
    second = builder.build(hello_source, registry.ref("build/repro:b"), progress=lambda _: None)
    assert first.digest == second.digest
    (changed := hello_source.parent / "changed").mkdir()
    (changed / "Containerfile").write_text((hello_source / "Containerfile").read_text().replace("World", "Changed"))
    (changed / "hello").write_bytes((hello_source / "hello").read_bytes())
    third = builder.build(changed, registry.ref("build/repro:c"), progress=lambda _: None)
    assert third.digest != first.digest


def test_a_failing_step_is_a_build_error_with_buildahs_last_words(
    builder: Buildah, tmp_path: Path, registry: Registry
) -> None:
    (context := tmp_path / "ctx").mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY not-there /x\n")
    lines: list[str] = []
    with pytest.raises(BuildError) as err:
        builder.build(context, registry.ref("build/broken:v1"), progress=lines.append)
    assert str(err.value).startswith("build failed (buildah exit ")
    assert "not-there" in str(err.value)
    assert any("not-there" in line for line in lines)  # shown as it happened, too


def test_push_to_a_closed_port_is_a_build_error(builder: Buildah, hello_source: Path, unused_tcp_port: int) -> None:
    with pytest.raises(BuildError, match=r"push failed .*connection refused"):
        builder.build(hello_source, f"127.0.0.1:{unused_tcp_port}/build/hello:v1", progress=lambda _: None)
    assert local_images(builder) == []


def test_from_a_base_image_in_the_local_registry(
    builder: Buildah, tmp_path: Path, registry: Registry, hello_pushed: Pushed
) -> None:
    """Plain http to 127.0.0.1 needs no configuration, for the base as for the push (ggcr's rule)."""
    (context := tmp_path / "ctx").mkdir()
    (context / "Containerfile").write_text(f"FROM {hello_pushed.ref}\nENV TARGET=Based\n")
    built = builder.build(context, registry.ref("build/based:v1"), progress=lambda _: None)
    config = inspect(built.pinned, config=True)["config"]
    assert isinstance(config, dict)
    assert "TARGET=Based" in config["Env"]
    assert config["Entrypoint"] == ["/hello"]


def test_base_images_through_the_data_dirs_registries_conf(
    builder: Buildah, tmp_path: Path, registry: Registry, hello_pushed: Pushed
) -> None:
    """``DATA/registries.conf`` (the image store's) applies to FROM: a mirror for a Docker Hub name."""
    assert builder.registries_conf is not None
    builder.registries_conf.parent.mkdir(parents=True, exist_ok=True)
    builder.registries_conf.write_text(
        '[[registry]]\nprefix = "docker.io/zeroserve-tests"\nlocation = "docker.io/zeroserve-tests"\n'
        f'[[registry.mirror]]\nlocation = "{registry.host}"\ninsecure = true\n'
    )
    # docker.io/zeroserve-tests/hello:v1 -> REGISTRY/hello:v1, which hello_pushed is.
    (context := tmp_path / "ctx").mkdir()
    (context / "Containerfile").write_text("FROM docker.io/zeroserve-tests/hello:v1\nENV TARGET=Mirrored\n")
    built = builder.build(context, registry.ref("build/mirrored:v1"), progress=lambda _: None)
    config = inspect(built.pinned, config=True)["config"]
    assert isinstance(config, dict)
    assert "TARGET=Mirrored" in config["Env"]


def test_no_buildah_is_said(tmp_path: Path, hello_source: Path) -> None:
    builder = Buildah(tmp_path / "build", buildah="no-such-buildah")
    with pytest.raises(BuildError, match="no-such-buildah is not installed"):
        builder.build(hello_source, "127.0.0.1:5000/x/y:v1")
