"""``DATA/kubeconfig``: how kubectl (and any client-go or ``kubernetes`` client) reaches zeroserve.

``zeroserve up`` writes it (0600: it holds the token) with one cluster, user and context, all
named ``zeroserve``: the API's https URL, the CA as ``certificate-authority-data`` and the bearer
token, so ``KUBECONFIG=~/.zeroserve/kubeconfig kubectl get ksvc`` works with no flag.
``zeroserve kubeconfig`` prints it; ``--merge`` puts its three entries into the user's kubeconfig
(``$KUBECONFIG``'s first file, else ``~/.kube/config``), replacing only entries named ``zeroserve``
and making ``zeroserve`` the current context, as kind and minikube do with theirs.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from zeroserve.errors import ZeroserveError

KUBECONFIG_FILE: Final = "kubeconfig"
NAME: Final = "zeroserve"
SECTIONS: Final = ("clusters", "users", "contexts")

Doc = dict[str, Any]


class KubeconfigError(ZeroserveError):
    """A kubeconfig that cannot be read or merged (the message names the file)."""


def render(server: str, ca_pem: bytes, token: str) -> Doc:
    """The kubeconfig of one zeroserve API (``server``: its https URL)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": NAME,
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}],
        "current-context": NAME,
    }


def dump(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False)


def merge(existing: Mapping[str, Any], ours: Mapping[str, Any]) -> Doc:
    """``existing`` with ``ours``' clusters, users and contexts in place of those of the same names;
    every other entry and key is kept as it was. ``ours``' current context becomes the current one."""
    out: Doc = dict(existing)
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for section in SECTIONS:
        entries = out.get(section)
        entries = [] if entries is None else entries
        if not isinstance(entries, list):
            raise KubeconfigError(f"{section} must be a list")
        mine = list(ours.get(section) or [])
        names = {e.get("name") for e in mine}
        kept = [e for e in entries if not (isinstance(e, dict) and e.get("name") in names)]
        out[section] = kept + mine
    if ours.get("current-context"):
        out["current-context"] = ours["current-context"]
    return out


def write(path: Path, doc: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``doc`` as YAML, 0600 from its creation."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.zeroserve.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(dump(doc))
    tmp.replace(path)


def user_kubeconfig(environ: Mapping[str, str], home: Path) -> Path:
    """Where kubectl reads and writes: ``$KUBECONFIG``'s first file, else ``~/.kube/config``."""
    for entry in environ.get("KUBECONFIG", "").split(os.pathsep):
        if entry:
            return Path(entry).expanduser()
    return home / ".kube" / "config"


def read(path: Path) -> Doc:
    """A kubeconfig file as a mapping; a missing or empty file is an empty one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise KubeconfigError(f"cannot read {path}: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KubeconfigError(f"{path} is not YAML: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{path} is not a kubeconfig (want a mapping)")
    return doc


def merge_into(target: Path, ours: Mapping[str, Any]) -> str:
    """Merge ``ours`` into the kubeconfig file ``target``; the previous current context ("" if none)."""
    existing = read(target)
    try:
        merged = merge(existing, ours)
    except KubeconfigError as e:
        raise KubeconfigError(f"{target}: {e}") from None
    write(target, merged)
    previous = existing.get("current-context")
    return previous if isinstance(previous, str) else ""
