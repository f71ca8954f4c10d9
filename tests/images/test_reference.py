"""Image references parsed as go-containerregistry's pkg/name does (WeakValidation)."""

from __future__ import annotations

import pytest

from zeroserve.images import reference
from zeroserve.images.reference import BadReference, ImageRef

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        pytest.param("nginx", ImageRef("index.docker.io", "library/nginx", "latest"), id="hub-official"),
        pytest.param("docker.io/nginx:1.25", ImageRef("index.docker.io", "library/nginx", "1.25"), id="alias"),
        pytest.param("foo/bar", ImageRef("index.docker.io", "foo/bar", "latest"), id="hub-user"),
        pytest.param("localhost/x", ImageRef("index.docker.io", "localhost/x", "latest"), id="localhost-is-hub"),
        pytest.param("127.0.0.1:5000/hello:v1", ImageRef("127.0.0.1:5000", "hello", "v1"), id="registry-port"),
        pytest.param(
            "ghcr.io/knative/helloworld-go:latest",
            ImageRef("ghcr.io", "knative/helloworld-go", "latest"),
            id="ghcr",
        ),
        pytest.param("ko.local/app", ImageRef("ko.local", "app", "latest"), id="ko-local"),
        pytest.param(f"gcr.io/a/b@{DIGEST}", ImageRef("gcr.io", "a/b", "", DIGEST), id="digest"),
        pytest.param(f"gcr.io/a/b:v1@{DIGEST}", ImageRef("gcr.io", "a/b", "", DIGEST), id="tag-and-digest"),
        pytest.param("[::1]:5000/xy:z", ImageRef("[::1]:5000", "xy", "z"), id="ipv6"),
    ],
)
def test_parse(ref: str, want: ImageRef) -> None:
    assert reference.parse(ref) == want


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("", id="empty"),
        pytest.param("Upper/Case", id="upper-case-repo"),
        pytest.param("gcr.io/a:", id="empty-tag"),
        pytest.param("gcr.io/a:b@c", id="bad-digest"),
        pytest.param("gcr.io/a@sha256:12", id="short-digest"),
        pytest.param("gcr.io/a b", id="space"),
        pytest.param("bad_host.io:x:y/a", id="bad-registry"),
        pytest.param("gcr.io/x", id="one-char-repo"),
    ],
)
def test_parse_refuses(ref: str) -> None:
    with pytest.raises(BadReference):
        reference.parse(ref)


def test_str_and_pinned() -> None:
    ref = reference.parse("127.0.0.1:5000/hello:v1")
    assert str(ref) == "127.0.0.1:5000/hello:v1"
    assert ref.pinned(DIGEST) == f"127.0.0.1:5000/hello@{DIGEST}"
    assert str(reference.parse("nginx")) == "index.docker.io/library/nginx:latest"


@pytest.mark.parametrize(
    ("registry", "want"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("registry.localhost:80", True),
        ("127.0.0.1:34567", True),
        ("[::1]:5000", True),
        ("10.1.2.3:5000", True),
        ("172.16.0.9", True),
        ("192.168.1.1:443", True),
        ("172.32.0.1", False),
        ("127.0.0.2:5000", False),  # ggcr matches 127.0.0.1 only
        ("ghcr.io", False),
        ("index.docker.io", False),
        ("kind.local", False),  # *.local is skipped (never contacted), not http
    ],
)
def test_insecure_is_ggcr_scheme(registry: str, want: bool) -> None:
    assert reference.insecure(registry) is want


def test_is_digest_and_skips() -> None:
    assert reference.is_digest(f"a/b@{DIGEST}")
    assert not reference.is_digest("a/b:v1")
    assert not reference.is_digest("NOT VALID")
    skip = {"kind.local", "ko.local", "dev.local"}
    assert reference.skips_resolution(reference.parse("ko.local/app:x"), skip)
    assert not reference.skips_resolution(reference.parse("127.0.0.1:1/app:x"), skip)
