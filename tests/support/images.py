"""Images for tests, without the internet: a real registry on 127.0.0.1 and images built here.

Session-scoped fixtures (loaded for every test by ``tests/conftest.py``; each starts only when a
test asks for it, and then once per run, shared by every image test):

* ``registry`` -> :class:`Registry`: Debian's ``docker-registry`` on 127.0.0.1, a port the kernel
  picked (read back from its log), storage in a temporary directory;
* ``auth_registry``: the same behind htpasswd (``.username``, ``.password``, and ``.auth_file``, a
  docker ``config.json`` holding them);
* ``static_binary(src)`` -> a ``gcc -static`` build of a C file, once per source per run;
* ``hello_image`` -> an OCI layout FROM scratch holding examples/hello-image/hello.c's binary as
  ``/hello`` (entrypoint ``["/hello"]``, port 8080, ``TARGET=World``);
* ``hello_pushed`` -> :class:`Pushed` ``127.0.0.1:PORT/hello:v1``.

:func:`build_image` makes a layout from files (umoci); :func:`variant` copies one with a changed
config (a new digest for the same files: push it under the same tag to test pinning);
:meth:`Registry.push` returns the pushed manifest's digest.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.polling import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO_C = REPO_ROOT / "examples" / "hello-image" / "hello.c"
_LISTENING = re.compile(r"listening on (\S+?)\"? ")


def require(*tools: str) -> None:
    """Skip when a tool is missing; under CI (which installs them: .ci/run) fail instead."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"not installed: {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _run(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Pushed:
    ref: str
    """``127.0.0.1:PORT/repo:tag``"""
    digest: str
    """``sha256:…``"""

    @property
    def pinned(self) -> str:
        """``127.0.0.1:PORT/repo@sha256:…``: what the Revision's ``imageDigest`` should be."""
        return f"{self.ref.rpartition(':')[0]}@{self.digest}"


@dataclass
class Registry:
    host: str
    """``127.0.0.1:PORT``"""
    proc: subprocess.Popen[bytes]
    root: Path
    username: str = ""
    password: str = ""
    auth_file: Path | None = None
    """A docker ``config.json`` with the credentials (only with auth)."""

    def ref(self, repo_tag: str) -> str:
        return f"{self.host}/{repo_tag}"

    def push(self, layout: Path, repo_tag: str) -> Pushed:
        """Push the layout's ``latest`` image as ``repo:tag``; the manifest's digest comes back."""
        digest_file = self.root / "pushed.digest"
        creds = ("--dest-creds", f"{self.username}:{self.password}") if self.username else ()
        _run(
            "skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", *creds,
            "--digestfile", digest_file, f"oci:{layout}:latest", f"docker://{self.ref(repo_tag)}",
        )  # fmt: skip
        return Pushed(self.ref(repo_tag), digest_file.read_text().strip())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_registry(root: Path, *, username: str = "", password: str = "") -> Registry:
    """A ``docker-registry`` on 127.0.0.1:0 with its storage under ``root``; with a username, htpasswd auth."""
    require("docker-registry", "skopeo")
    root.mkdir(parents=True, exist_ok=True)
    auth = ""
    if username:
        (root / "htpasswd").write_text(f"{username}:{bcrypt_hash(password)}\n")
        auth = f"auth:\n  htpasswd:\n    realm: zeroserve-tests\n    path: {root / 'htpasswd'}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:0\n  secret: zeroserve-tests\n{auth}"
    )
    log = root / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)

    def listening() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"docker-registry exited {proc.returncode}: {log.read_text()}")
        match = _LISTENING.search(log.read_text())
        return match.group(1) if match else None

    try:
        host = wait_for(listening, timeout=30, what="docker-registry to listen")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    registry = Registry(host, proc, root, username, password)
    if username:
        registry.auth_file = root / "config.json"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        registry.auth_file.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return registry


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for htpasswd (the registry accepts no other) from the C library's crypt(3)
    (libxcrypt), so the tests need neither Python's bcrypt nor apache2-utils."""
    name = ctypes.util.find_library("crypt")
    if name is None:
        pytest.skip("libcrypt not found: no bcrypt for htpasswd")
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.restype = ctypes.c_char_p
    salt = lib.crypt_gensalt(b"$2b$", 4, os.urandom(16), 16)
    hashed = lib.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2"):
        pytest.skip("crypt(3) here has no bcrypt: no htpasswd")
    return str(hashed.decode())


def build_image(
    dest: Path,
    files: Mapping[str, Path],
    *,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    working_dir: str = "",
    user: str = "",
    exposed_ports: Sequence[str] = (),
) -> Path:
    """An OCI layout at ``dest`` (tag ``latest``) FROM scratch: ``files`` (path in the image ->
    file here) in one layer, and the given config."""
    require("umoci")
    _run("umoci", "init", "--layout", dest)
    image = f"{dest}:latest"
    _run("umoci", "new", "--image", image)
    for target, source in files.items():
        _run("umoci", "insert", "--image", image, source, target)
    _configure(image, entrypoint=entrypoint, cmd=cmd, env=env, working_dir=working_dir, user=user, ports=exposed_ports)
    return dest


def variant(layout: Path, dest: Path, *, env: Mapping[str, str]) -> Path:
    """A copy of ``layout`` whose config adds ``env``: the same layers, a new digest."""
    shutil.copytree(layout, dest)
    _configure(f"{dest}:latest", env=env)
    return dest


def _configure(
    image: str,
    *,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    working_dir: str = "",
    user: str = "",
    ports: Sequence[str] = (),
) -> None:
    args: list[str] = [f"--config.entrypoint={e}" for e in entrypoint]
    args += [f"--config.cmd={c}" for c in cmd]
    args += [f"--config.env={k}={v}" for k, v in (env or {}).items()]
    args += [f"--config.exposedports={p}" for p in ports]
    args += [f"--config.workingdir={working_dir}"] if working_dir else []
    args += [f"--config.user={user}"] if user else []
    if args:
        _run("umoci", "config", "--image", image, *args)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("auth-registry"), username="zeroserve", password="s3cret-pass")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def static_binary(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``static_binary(src.c)`` -> a static executable (``gcc -static -O2``), built once per source."""
    out_dir = tmp_path_factory.mktemp("static")
    built: dict[Path, Path] = {}

    def build(src: Path) -> Path:
        if src not in built:
            require("gcc")
            out = out_dir / src.stem
            _run("gcc", "-static", "-O2", "-o", out, src)
            built[src] = out
        return built[src]

    return build


@pytest.fixture(scope="session")
def hello_image(tmp_path_factory: pytest.TempPathFactory, static_binary: Callable[[Path], Path]) -> Path:
    """examples/hello-image as an OCI layout: ``/hello``, entrypoint ``["/hello"]``, 8080/tcp, TARGET=World."""
    binary = static_binary(HELLO_C)
    dest = tmp_path_factory.mktemp("hello-image") / "layout"
    return build_image(
        dest, {"/hello": binary}, entrypoint=["/hello"], env={"TARGET": "World"}, exposed_ports=["8080/tcp"]
    )


@pytest.fixture(scope="session")
def hello_pushed(registry: Registry, hello_image: Path) -> Pushed:
    """``hello_image`` pushed as ``127.0.0.1:PORT/hello:v1`` (tests that push a new v1 use another repo)."""
    return registry.push(hello_image, "hello:v1")
