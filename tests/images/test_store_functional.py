"""SkopeoImageStore against a real docker-registry on 127.0.0.1, with real skopeo and umoci."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.images import Pushed, Registry, variant
from zeroserve.images.base import ImageError
from zeroserve.images.keyring import Credential, Keyring
from zeroserve.images.store import SkopeoImageStore

MISSING = "sha256:" + "0" * 64


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SkopeoImageStore]:
    s = SkopeoImageStore.for_data_dir(tmp_path)
    yield s
    await s.close()


def counting_skopeo(tmp_path: Path) -> tuple[str, Callable[[], list[str]]]:
    """A ``skopeo`` that logs each subcommand and runs the real one: how many pulls happened."""
    log = tmp_path / "skopeo.calls"
    script = tmp_path / "skopeo"
    script.write_text(
        f'#!/bin/sh\nfor a; do case "$a" in copy|inspect) echo "$a" >> {log}; break;; esac; done\nexec skopeo "$@"\n'
    )
    script.chmod(0o755)
    return str(script), lambda: log.read_text().split() if log.exists() else []


async def test_resolve_tag_to_pinned_digest(store: SkopeoImageStore, hello_pushed: Pushed) -> None:
    assert await store.resolve(hello_pushed.ref, timeout=10) == hello_pushed.pinned
    # A reference that already has a digest is left as it is (resolve.go: name.NewDigest succeeds).
    assert await store.resolve(hello_pushed.pinned, timeout=10) == hello_pushed.pinned


async def test_resolve_unknown_tag_says_why(store: SkopeoImageStore, registry: Registry) -> None:
    with pytest.raises(ImageError) as err:
        await store.resolve(registry.ref("hello:no-such-tag"), timeout=10)
    assert "manifest unknown" in err.value.message
    assert "no-such-tag" in err.value.message


async def test_resolve_closed_port_fails_fast(store: SkopeoImageStore, unused_tcp_port: int) -> None:
    with pytest.raises(ImageError) as err:
        await store.resolve(f"127.0.0.1:{unused_tcp_port}/x/y:v1", timeout=10)
    assert "connection refused" in err.value.message


async def test_resolve_honours_its_timeout(store: SkopeoImageStore) -> None:
    """A registry that accepts and never answers: the resolution ends at its timeout, skopeo killed."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ImageError) as err:
            async with asyncio.timeout(5):  # a deadline for the wait: the 0.5 s one must end it first
                await store.resolve(f"127.0.0.1:{port}/slow/app:v1", timeout=0.5)
    finally:
        for w in held:
            w.close()
        server.close()
    assert "context deadline exceeded" in err.value.message  # ended by its own timeout, not ours


async def test_ensure_pulls_and_unpacks_once_per_digest(tmp_path: Path, hello_pushed: Pushed) -> None:
    skopeo, calls = counting_skopeo(tmp_path)
    store = SkopeoImageStore.for_data_dir(tmp_path / "data")
    store._skopeo = skopeo
    images = await asyncio.gather(*(store.ensure(hello_pushed.pinned) for _ in range(4)))
    assert calls() == ["copy"]  # four callers, one pull
    image = images[0]
    assert {i.rootfs for i in images} == {image.rootfs}
    assert image.digest == hello_pushed.digest and image.pinned == hello_pushed.pinned
    assert (image.rootfs / "hello").stat().st_mode & 0o111
    assert image.config.entrypoint == ("/hello",)
    assert ("TARGET", "World") in image.config.env
    assert image.config.exposed_ports == ("8080/tcp",)
    assert image.rootfs == tmp_path / "data" / "images" / "sha256" / hello_pushed.digest[7:] / "rootfs"
    assert not list((tmp_path / "data" / "images" / "tmp").iterdir())  # nothing half-made is left
    # A new store over the same directory (zeroserve restarted) finds it without pulling.
    again = SkopeoImageStore.for_data_dir(tmp_path / "data", environ={})
    again._skopeo = "/bin/false"
    assert (await again.ensure(hello_pushed.pinned, "Always")).rootfs == image.rootfs
    await store.close()


async def test_pinned_digest_outlives_a_new_push(
    store: SkopeoImageStore, registry: Registry, hello_image: Path, tmp_path: Path
) -> None:
    first = registry.push(hello_image, "pinning:v1")
    pinned = await store.resolve(first.ref, timeout=10)
    second = registry.push(variant(hello_image, tmp_path / "v2", env={"TARGET": "second"}), "pinning:v1")
    assert second.digest != first.digest
    assert await store.resolve(first.ref, timeout=10) == second.pinned  # a new revision gets the new one
    image = await store.ensure(pinned)  # the old revision still runs what it pinned
    assert image.digest == first.digest
    assert ("TARGET", "World") in image.config.env


async def test_pull_policy_for_tags(
    store: SkopeoImageStore, registry: Registry, hello_image: Path, tmp_path: Path
) -> None:
    """A tag (a registry that skips resolution): IfNotPresent keeps what it pulled, Always looks again."""
    first = registry.push(hello_image, "policy:dev")
    with pytest.raises(ImageError) as err:
        await store.ensure(first.ref, "Never")
    assert err.value.reason == "ErrImageNeverPull"
    assert err.value.message == f'Container image "{first.ref}" is not present with pull policy of Never'
    assert (await store.ensure(first.ref)).digest == first.digest
    second = registry.push(variant(hello_image, tmp_path / "v2", env={"TARGET": "dev2"}), "policy:dev")
    assert (await store.ensure(first.ref, "IfNotPresent")).digest == first.digest
    assert (await store.ensure(first.ref, "Never")).digest == first.digest
    assert (await store.ensure(first.ref, "Always")).digest == second.digest
    assert (await store.ensure(first.ref)).digest == second.digest


async def test_pull_failures_are_the_kubelets(store: SkopeoImageStore, registry: Registry) -> None:
    gone = registry.ref(f"hello@{MISSING}")
    with pytest.raises(ImageError) as err:
        await store.ensure(gone)
    assert err.value.reason == "ErrImagePull"
    assert err.value.message.startswith(f'Failed to pull image "{gone}": ')
    with pytest.raises(ImageError) as err:
        await store.ensure("Not A Reference")
    assert err.value.reason == "InvalidImageName"
    with pytest.raises(ImageError) as err:
        await store.ensure(f"{registry.host}/never:pulled@{MISSING}", "Never")
    assert err.value.reason == "ErrImageNeverPull"


async def test_credentials_from_a_docker_config(tmp_path: Path, auth_registry: Registry, hello_image: Path) -> None:
    pushed = auth_registry.push(hello_image, "private/hello:v1")
    anonymous = SkopeoImageStore(tmp_path / "anon")
    with pytest.raises(ImageError) as err:
        await anonymous.resolve(pushed.ref, timeout=10)
    assert "authentication required" in err.value.message or "unauthorized" in err.value.message
    assert auth_registry.auth_file is not None
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "auth.json").write_bytes(auth_registry.auth_file.read_bytes())
    store = SkopeoImageStore.for_data_dir(tmp_path / "data")
    assert await store.resolve(pushed.ref, timeout=10) == pushed.pinned
    assert (await store.ensure(pushed.pinned)).config.entrypoint == ("/hello",)


async def test_pull_secret_credentials_resolve_the_first_and_pull_trying_each(
    tmp_path: Path, auth_registry: Registry, hello_image: Path
) -> None:
    """Knative's resolver uses the first matching credential; the kubelet tries each in turn. They
    reach skopeo as a memfd: nothing is written under the store's root."""
    pushed = auth_registry.push(hello_image, "private/keyring:v1")
    right = Credential(auth_registry.username, auth_registry.password)
    wrong = Credential(auth_registry.username, "wrong-password")
    store = SkopeoImageStore.for_data_dir(tmp_path / "data")
    assert await store.resolve(pushed.ref, 10, Keyring(((auth_registry.host, right),))) == pushed.pinned
    wrong_first = Keyring(((auth_registry.host, wrong), (auth_registry.host, right)))
    with pytest.raises(ImageError) as err:
        await store.resolve(pushed.ref, 10, wrong_first)
    assert err.value.message.endswith("unauthorized: authentication required")
    elsewhere = Keyring((("registry.example.com", right),))  # matches nothing: the machine's (none)
    with pytest.raises(ImageError):
        await store.ensure(pushed.pinned, keyring=elsewhere)
    assert (await store.ensure(pushed.pinned, keyring=wrong_first)).config.entrypoint == ("/hello",)
    everything = b"".join(f.read_bytes() for f in (tmp_path / "data").rglob("*") if f.is_file() and not f.is_symlink())
    assert auth_registry.password.encode() not in everything


async def test_mirror_from_zeroserves_registries_conf(tmp_path: Path, registry: Registry, hello_image: Path) -> None:
    """Knative's docs name ghcr.io/knative/helloworld-go; a registries.conf mirror serves it locally."""
    mirrored = registry.push(hello_image, "knative/helloworld-go:latest")
    data = tmp_path / "data"
    data.mkdir()
    (data / "registries.conf").write_text(
        '[[registry]]\nprefix = "ghcr.io/knative"\nlocation = "ghcr.io/knative"\n'
        f'[[registry.mirror]]\nlocation = "{registry.host}/knative"\ninsecure = true\n'
    )
    store = SkopeoImageStore.for_data_dir(data)
    pinned = await store.resolve("ghcr.io/knative/helloworld-go:latest", timeout=10)
    assert pinned == f"ghcr.io/knative/helloworld-go@{mirrored.digest}"
    image = await store.ensure(pinned)
    assert image.pinned == pinned and (image.rootfs / "hello").exists()
    await store.close()
