"""The shared image fixtures themselves: registry, build, push (tests/support/images.py)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.support.images import Pushed, Registry, variant


def test_registry_serves_the_pushed_manifest(registry: Registry, hello_pushed: Pushed) -> None:
    req = urllib.request.Request(
        f"http://{registry.host}/v2/hello/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Docker-Content-Digest"] == hello_pushed.digest
    assert hello_pushed.pinned == f"{registry.host}/hello@{hello_pushed.digest}"


def test_variant_has_a_new_digest(registry: Registry, hello_image: Path, tmp_path: Path) -> None:
    first = registry.push(hello_image, "variant-check:v1")
    second = registry.push(variant(hello_image, tmp_path / "v2", env={"TARGET": "again"}), "variant-check:v1")
    assert first.digest != second.digest
    index = json.loads((tmp_path / "v2" / "index.json").read_text())
    assert len(index["manifests"]) == 1
