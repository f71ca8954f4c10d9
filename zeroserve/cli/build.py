"""``zeroserve build DIR -t IMAGE``, and the build step of ``service create|update --source DIR``.

Both build DIR's Containerfile (or Dockerfile) with buildah (:mod:`zeroserve.build`), push it to
the configured registry (``--registry``, ``$ZEROSERVE_REGISTRY`` or the one ``zeroserve up``
recorded) and name the result by digest: ``build`` prints ``REPO@sha256:…`` on stdout, ``--source``
puts it in the Service's template, so the Revision runs exactly what was built. buildah's lines go to
stderr as they come.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zeroserve.build import source
from zeroserve.build.buildah import Buildah, Built
from zeroserve.cli.context import Context


def build(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="The source: a directory with a Containerfile or Dockerfile.")],
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", "-t", help="Image name[:tag]; without a registry it goes under --registry. [default: DIR's name]"
        ),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="The Containerfile (default: DIR's).")] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Registry HOST:PORT or HOST:PORT/PATH (default: the configured one)."),
    ] = None,
) -> None:
    """Build an image from source (buildah), push it, print its digest reference (REPO@sha256:…)."""
    c = _context(ctx)
    image = source.target(tag or directory.resolve().name.lower(), registry or c.registry)
    print(run_build(c.data_dir, directory, image, file).pinned)


def source_image(c: Context, directory: Path, namespace: str, name: str) -> str:
    """Build ``directory`` as ``REGISTRY/NAMESPACE/NAME:latest``; the pinned reference to run."""
    return run_build(c.data_dir, directory, source.source_image(c.registry, namespace, name)).pinned


def run_build(data_dir: Path, directory: Path, image: str, file: Path | None = None) -> Built:
    source.build_file(directory, file)  # a missing directory or Containerfile is said before anything else
    print(f"Building {directory} as {image}:", file=sys.stderr)
    built = Buildah.for_data_dir(data_dir).build(directory, image, file=file, progress=_progress)
    print(
        f"Built in {built.build_seconds:.1f}s, pushed in {built.push_seconds:.1f}s: {built.pinned}\n", file=sys.stderr
    )
    return built


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _context(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj
