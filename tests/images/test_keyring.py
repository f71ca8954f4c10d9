"""Kubernetes' keyring matching for image pull secrets (zeroserve/images/keyring.py, pure)."""

from __future__ import annotations

import base64
import json

import pytest

from zeroserve.images.keyring import (
    Credential,
    Keyring,
    KeyringError,
    from_docker_config,
    from_secret,
    key_of,
    urls_match,
)
from zeroserve.images.reference import parse


def cred(user: str) -> Credential:
    return Credential(user, f"{user}-pw")


def keyring(*entries: tuple[str, str]) -> Keyring:
    return Keyring(tuple((key_of(location), cred(user)) for location, user in entries))


@pytest.mark.parametrize(
    ("location", "key"),
    [
        ("quay.io", "quay.io"),
        ("https://quay.io", "quay.io"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("registry.example.com/v2/team", "registry.example.com/team"),
        ("quay.io/coreos", "quay.io/coreos"),
    ],
)
def test_locations_become_keys_as_the_kubelet_makes_them(location: str, key: str) -> None:
    assert key_of(location) == key


@pytest.mark.parametrize(
    ("key", "target", "matches"),
    [
        ("quay.io", "quay.io/coreos/etcd", True),
        ("quay.io/coreos", "quay.io/coreos/etcd", True),
        ("quay.io/coreos", "quay.io/other/etcd", False),
        ("*.example.com", "registry.example.com/app", True),
        ("*.example.com", "example.com/app", False),  # as many host parts
        ("*.example.com", "a.b.example.com/app", False),
        ("127.0.0.1:5000", "127.0.0.1:5000/app", True),
        ("127.0.0.1:5000", "127.0.0.1:5001/app", False),  # ports must be equal
        ("127.0.0.1", "127.0.0.1:5000/app", False),
        ("quay.io", "quay.io.evil.com/app", False),
    ],
)
def test_urls_match_globs_the_host_and_prefixes_the_path(key: str, target: str, matches: bool) -> None:
    assert urls_match(key, target) is matches


def test_more_specific_keys_first_and_one_keys_credentials_in_the_secrets_order() -> None:
    ring = keyring(("quay.io", "host"), ("quay.io/coreos", "team"), ("https://quay.io/", "host2"), ("gcr.io", "other"))
    assert [c.username for c in ring.lookup(parse("quay.io/coreos/etcd:v3"))] == ["team", "host", "host2"]
    assert [c.username for c in ring.lookup("quay.io/other/x")] == ["host", "host2"]
    assert ring.lookup(parse("ghcr.io/knative/hello")) == []


def test_docker_hub_images_match_docker_io_keys_and_else_index_docker_io() -> None:
    hub = keyring(("https://index.docker.io/v1/", "hub"))
    assert [c.username for c in hub.lookup(parse("nginx"))] == ["hub"]
    assert [c.username for c in hub.lookup(parse("docker.io/team/app:v1"))] == ["hub"]
    assert hub.lookup(parse("quay.io/team/app")) == []
    both = keyring(("docker.io", "short"), ("https://index.docker.io/v1/", "hub"))
    assert [c.username for c in both.lookup(parse("team/app"))] == ["short"]  # a match: no fallback


def test_secrets_of_both_types_are_read_and_others_ignored() -> None:
    token = base64.b64encode(b"alice:pa:ss").decode()
    config = {"auths": {"registry.example.com": {"auth": token, "username": "ignored", "password": "x"}}}
    ring = from_secret("kubernetes.io/dockerconfigjson", {".dockerconfigjson": json.dumps(config).encode()})
    assert ring.lookup("registry.example.com/app") == [Credential("alice", "pa:ss")]
    legacy = {"registry.example.com": {"username": "bob", "password": "pw"}}
    ring = from_secret("kubernetes.io/dockercfg", {".dockercfg": json.dumps(legacy).encode()})
    assert ring.lookup("registry.example.com/app") == [Credential("bob", "pw")]
    assert not from_secret("Opaque", {".dockerconfigjson": json.dumps(config).encode()})
    assert not from_secret("kubernetes.io/dockercfg", {".dockerconfigjson": json.dumps(config).encode()})


def test_unreadable_configs_are_errors_with_the_entry() -> None:
    with pytest.raises(KeyringError, match="base64"):
        from_docker_config({"r.example.com": {"auth": base64.b64encode(b"no-colon").decode()}})
    with pytest.raises(KeyringError, match=r"\.dockerconfigjson"):
        from_secret("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b"{not json"})


def test_passwords_stay_out_of_reprs_and_the_auth_file_holds_one_entry() -> None:
    secret = Credential("alice", "hunter2")
    ring = Keyring((("quay.io", secret),))
    assert "hunter2" not in repr(secret) and "hunter2" not in repr(ring)
    config = json.loads(secret.docker_config("127.0.0.1:5000"))
    assert config == {"auths": {"127.0.0.1:5000": {"auth": base64.b64encode(b"alice:hunter2").decode()}}}
    assert list(json.loads(secret.docker_config("index.docker.io"))["auths"]) == ["docker.io"]
