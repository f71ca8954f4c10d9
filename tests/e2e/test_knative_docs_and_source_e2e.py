"""Knative's own manifests, and build from source, through `zeroserve up` (issue 13, part 5).

* helloworld-go's ``service.yaml`` and the getting-started ``hello.yaml`` from Knative's
  documentation (tests/e2e/knative_docs, sources noted there) apply as published (``hello.yaml`` with
  the real ``kubectl apply -f``, as its page says) and serve: their
  images (``docker.io/…``, ``ghcr.io/knative/…``) are mirrored to the run's registry on 127.0.0.1
  by ``DATA/registries.conf``, the image behind them a stand-in this test builds (examples/hello-image
  with buildah); a new revision is forced as kn forces one, with the template's
  ``client.knative.dev/updateTimestamp`` annotation, and it runs what the tag names now.
* ``zeroserve service create --source DIR`` builds, pushes to the registry ``up --serve-registry``
  runs and serves the pushed digest; an unchanged source is the same digest (no new revision), a
  changed one a new revision.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.harness import Up
from tests.support.images import Registry
from tests.support.kubectl import Kubectl
from zeroserve.build.buildah import Buildah, Built

DOCS = Path(__file__).parent / "knative_docs"
HELLOWORLD_GO = DOCS / "helloworld-go.service.yaml"
FIRST_SERVICE = DOCS / "first-service.hello.yaml"
DOCKER_HUB_USER = "zeroserve"
"""What the test writes for helloworld-go's ``{username}``, as its README asks."""
UPDATE_TIMESTAMP = "client.knative.dev/updateTimestamp"


def mirrors(registry: str) -> str:
    """containers-registries.conf(5): Docker Hub's ``zeroserve/*`` and ``ghcr.io/knative/*`` from ``registry``."""
    return "".join(
        f'[[registry]]\nprefix = "{prefix}"\nlocation = "{prefix}"\n'
        f'[[registry.mirror]]\nlocation = "{registry}/mirror/{name}"\ninsecure = true\n\n'
        for prefix, name in ((f"docker.io/{DOCKER_HUB_USER}", DOCKER_HUB_USER), ("ghcr.io/knative", "knative"))
    )


def stand_in(builder: Buildah, hello_source: Path, registry: Registry, stamp: str) -> Built:
    """examples/hello-image, marked ``stamp`` (a new digest), pushed as both mirrored helloworld-go tags."""
    context = hello_source.parent / f"stand-in-{stamp}"
    if not context.exists():
        shutil.copytree(hello_source, context)
        containerfile = context / "Containerfile"
        containerfile.write_text(containerfile.read_text() + f"LABEL stand-in={stamp}\n")
    built = builder.build(context, registry.ref("mirror/knative/helloworld-go:latest"), progress=lambda _: None)
    again = builder.build(
        context, registry.ref(f"mirror/{DOCKER_HUB_USER}/helloworld-go:latest"), progress=lambda _: None
    )
    assert again.digest == built.digest  # reproducible: the same bytes under both names
    return built


def revision(up: Up, name: str) -> dict[str, Any]:
    return json.loads(up.cli("get", "revision", name, "-o", "json").stdout)  # type: ignore[no-any-return]


def image_digest(up: Up, name: str) -> str:
    return str(revision(up, name)["status"]["containerStatuses"][0]["imageDigest"])


def test_knative_docs_manifests_run_from_a_mirror(
    up: Up, registry: Registry, hello_source: Path, tmp_path: Path
) -> None:
    builder = Buildah.for_data_dir(tmp_path / "builder")
    first = stand_in(builder, hello_source, registry, "1")
    (up.data_dir / "registries.conf").write_text(mirrors(registry.host))

    helloworld = HELLOWORLD_GO.read_text().replace("{username}", DOCKER_HUB_USER)
    assert helloworld.count(DOCKER_HUB_USER) == 1  # the README's one replacement, nothing else
    up.cli("apply", "-f", "-", "--wait", "--timeout", "90", input=helloworld)
    # The getting-started sample with the real kubectl, as its page says: `kubectl apply -f hello.yaml`.
    kubectl = Kubectl.for_data_dir(up.data_dir, tmp_path)
    assert kubectl.run("apply", "-f", str(FIRST_SERVICE)).stdout == "service.serving.knative.dev/hello created\n"
    kubectl.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=90s")

    assert up.get("helloworld-go.default.localhost") == (200, "Hello Go Sample v1! (revision helloworld-go-00001)\n")
    assert up.get("hello.default.localhost") == (200, "Hello World! (revision hello-00001)\n")
    # Pinned as Knative pins: ggcr's name for the image the manifest wrote, at the mirror's digest.
    assert image_digest(up, "helloworld-go-00001") == f"index.docker.io/zeroserve/helloworld-go@{first.digest}"
    assert image_digest(up, "hello-00001") == f"ghcr.io/knative/helloworld-go@{first.digest}"

    # A new image under the same tag, and kn's way to get a revision that runs it.
    second = stand_in(builder, hello_source, registry, "2")
    assert second.digest != first.digest
    manifest = yaml.safe_load(helloworld)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest["spec"]["template"].setdefault("metadata", {})["annotations"] = {UPDATE_TIMESTAMP: stamp}
    up.cli("apply", "-f", "-", "--wait", "--timeout", "90", input=json.dumps(manifest))

    assert up.get("helloworld-go.default.localhost") == (200, "Hello Go Sample v1! (revision helloworld-go-00002)\n")
    assert image_digest(up, "helloworld-go-00002") == f"index.docker.io/zeroserve/helloworld-go@{second.digest}"
    assert image_digest(up, "helloworld-go-00001") == f"index.docker.io/zeroserve/helloworld-go@{first.digest}"
    assert revision(up, "helloworld-go-00002")["metadata"]["annotations"][UPDATE_TIMESTAMP] == stamp


def test_service_create_from_source_builds_pushes_and_serves(tmp_path: Path, hello_source: Path) -> None:
    up = Up(tmp_path / "data", args=("--serve-registry", "--registry", "127.0.0.1:0"))
    up.start()
    try:
        registry = up.endpoints["registry"]
        done = up.cli("service", "create", "from-source", "--source", str(hello_source))
        assert done.stdout.strip() == f"http://from-source.default.localhost:{up.port}"
        assert "  STEP 1/5: FROM scratch" in done.stderr.splitlines()
        assert f"  Pushing {registry}/default/from-source:latest" in done.stderr.splitlines()
        svc = json.loads(up.cli("get", "ksvc", "from-source", "-o", "json").stdout)
        image = svc["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith(f"{registry}/default/from-source@sha256:")
        assert image_digest(up, "from-source-00001") == image
        assert up.get("from-source.default.localhost") == (200, "Hello World! (revision from-source-00001)\n")

        done = up.cli("service", "update", "from-source", "--source", str(hello_source))
        assert "with latest revision 'from-source-00001' (unchanged)" in done.stderr

        changed = tmp_path / "changed"
        shutil.copytree(hello_source, changed)
        containerfile = changed / "Containerfile"
        containerfile.write_text(containerfile.read_text().replace("ENV TARGET=World", "ENV TARGET=Source"))
        up.cli("service", "update", "from-source", "--source", str(changed))
        assert up.get("from-source.default.localhost") == (200, "Hello Source! (revision from-source-00002)\n")
    finally:
        up.stop()
