"""``zeroserve secret create|list|describe|delete`` (kn's ``secret`` noun) and its ``configmap`` twin.

``secret create`` has kn's flags (knative/client ``pkg/commands/secret/create.go``: ``--from-literal``
/ ``-l`` as a comma-separated list, ``--type``, ``--tls-cert`` and ``--tls-key``) and kubectl's that kn
lacks: ``--from-file [KEY=]PATH`` and ``--from-env-file`` (``kubectl create secret generic``) and the
``--docker-*`` flags (``kubectl create secret docker-registry``). A TLS pair is stored under
Kubernetes' ``tls.crt`` / ``tls.key``; kn writes ``tls.cert``, which the API refuses for the type
``kubernetes.io/tls``. kn has no configmap noun: ``configmap create`` takes ``kubectl create
configmap``'s flags. ``describe`` is laid out as ``kubectl describe``: a Secret's keys with their sizes,
never a value; a ConfigMap's values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli import describe as describing
from zeroserve.cli import output, sources
from zeroserve.cli.client import ApiClient
from zeroserve.cli.context import Context

TLS_TYPE = "kubernetes.io/tls"
DOCKER_TYPE = "kubernetes.io/dockerconfigjson"

secret_app = typer.Typer(help="Manage secrets (kn secret).", no_args_is_help=True)
configmap_app = typer.Typer(help="Manage config maps (kubectl create configmap).", no_args_is_help=True)

NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]


@dataclass(frozen=True)
class SecretOptions:
    """The sources of ``secret create``; empty means not given."""

    literals: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    type: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    docker_server: str = ""
    docker_username: str = ""
    docker_password: str = ""
    docker_email: str = ""

    @property
    def docker(self) -> bool:
        return any((self.docker_server, self.docker_username, self.docker_password, self.docker_email))


def build_secret(name: str, namespace: str, opts: SecretOptions, environ: Mapping[str, str]) -> Obj:
    """The Secret ``secret create`` sends (files are read here; values go base64 in ``data``)."""
    generic = bool(opts.literals or opts.files or opts.env_files)
    if opts.literals and (opts.tls_cert or opts.tls_key):
        raise errors.BadRequest("TLS flags can't be combined with other options")
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise errors.BadRequest("both --tls-cert and --tls-key flags are required")
    if opts.tls_cert and (generic or opts.docker):
        raise errors.BadRequest("TLS flags can't be combined with other options")
    if opts.docker and generic:
        raise errors.BadRequest("--docker-* flags can't be combined with other options")
    if opts.env_files and (opts.files or opts.literals):
        raise errors.BadRequest("from-env-file cannot be combined with from-file or from-literal")
    data = sources.Data("Secret", name)
    secret_type = opts.type
    for key, value in sources.kn_literals(opts.literals):
        data.add(key, value.encode("utf-8", "surrogateescape"))
    data.add_files(sources.split_list(opts.files))
    data.add_env_files(sources.split_list(opts.env_files), environ)
    if opts.tls_cert:
        data.add("tls.crt", sources.read_file(opts.tls_cert, "--tls-cert"))
        data.add("tls.key", sources.read_file(opts.tls_key, "--tls-key"))
        secret_type = secret_type or TLS_TYPE
    if opts.docker:
        if not (opts.docker_username and opts.docker_password):
            raise errors.BadRequest("both --docker-username and --docker-password are required")
        server = opts.docker_server or sources.DOCKER_HUB
        config = sources.docker_config_json(server, opts.docker_username, opts.docker_password, opts.docker_email)
        data.add(".dockerconfigjson", config)
        secret_type = secret_type or DOCKER_TYPE
    secret: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": sources.encode(data.values),
    }
    if secret_type:
        secret["type"] = secret_type
    return secret


def build_config_map(
    name: str, namespace: str, literals: tuple[str, ...], files: tuple[str, ...], env_files: tuple[str, ...],
    environ: Mapping[str, str],
) -> Obj:  # fmt: skip
    """The ConfigMap ``configmap create`` sends: text in ``data``, other bytes in ``binaryData``."""
    if env_files and (files or literals):
        raise errors.BadRequest("from-env-file cannot be combined with from-file or from-literal")
    data = sources.Data("ConfigMap", name)
    data.add_files(sources.split_list(files))
    for source in literals:
        key, value = sources.literal_source(source)
        data.add(key, value.encode("utf-8", "surrogateescape"))
    data.add_env_files(sources.split_list(env_files), environ)
    text, binary = sources.split_text(data.values)
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
    if text:
        obj["data"] = text
    if binary:
        obj["binaryData"] = binary
    return obj


def _client(ctx: typer.Context) -> ApiClient:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj.client()


def _describe(ctx: typer.Context, kind: kinds.Kind, name: str, namespace: str) -> None:
    print(describing.describe(_client(ctx), kind, namespace, name, output.now_utc()))


def _sorted(items: list[Obj]) -> list[Obj]:
    return sorted(items, key=lambda o: str(o["metadata"].get("name", "")))


# -- secret ------------------------------------------------------------------------------------------


@secret_app.command("create")
def secret_create(
    ctx: typer.Context,
    name: str,
    from_literal: Annotated[
        list[str] | None,
        typer.Option("--from-literal", "-l", help="Comma-separated key=value pairs (kn; repeatable)."),
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option("--from-file", help="PATH or KEY=PATH: a file (the key defaults to its name) or a directory."),
    ] = None,
    from_env_file: Annotated[
        list[str] | None, typer.Option("--from-env-file", help="A file of KEY=VALUE lines.")
    ] = None,
    type_: Annotated[str, typer.Option("--type", help="Secret type (default Opaque).")] = "",
    tls_cert: Annotated[str, typer.Option("--tls-cert", help="Path to TLS certificate file.")] = "",
    tls_key: Annotated[str, typer.Option("--tls-key", help="Path to TLS key file.")] = "",
    docker_server: Annotated[
        str, typer.Option("--docker-server", help=f"Registry of a docker-registry secret ({sources.DOCKER_HUB}).")
    ] = "",
    docker_username: Annotated[str, typer.Option("--docker-username", help="Registry user name.")] = "",
    docker_password: Annotated[str, typer.Option("--docker-password", help="Registry password.")] = "",
    docker_email: Annotated[str, typer.Option("--docker-email", help="Email for the registry.")] = "",
    namespace: NsOpt = "default",
) -> None:
    """Create a secret."""
    opts = SecretOptions(
        tuple(from_literal or ()), tuple(from_file or ()), tuple(from_env_file or ()), type_, tls_cert, tls_key,
        docker_server, docker_username, docker_password, docker_email,
    )  # fmt: skip
    _client(ctx).create(kinds.SECRET, build_secret(name, namespace, opts, os.environ))
    print(f"Secret '{name}' created in namespace '{namespace}'.")


@secret_app.command("list")
def secret_list(ctx: typer.Context, namespace: NsOpt = "default") -> None:
    """List secrets (NAME TYPE), as kn."""
    items = _client(ctx).list(kinds.SECRET, namespace).get("items") or []
    if not items:
        print("No secret found.")
        return
    rows = [[s["metadata"]["name"], str(s.get("type", ""))] for s in _sorted(items)]
    print(output.terminal_safe(output.table(["NAME", "TYPE"], rows)))


@secret_app.command("describe")
def secret_describe(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Show a secret: its type and each key's size, never a value."""
    _describe(ctx, kinds.SECRET, name, namespace)


@secret_app.command("delete")
def secret_delete(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Delete a secret."""
    _client(ctx).delete(kinds.SECRET, namespace, name)
    print(f"Secret '{name}' deleted in namespace '{namespace}'.")


# -- configmap ---------------------------------------------------------------------------------------


@configmap_app.command("create")
def configmap_create(
    ctx: typer.Context,
    name: str,
    from_literal: Annotated[
        list[str] | None, typer.Option("--from-literal", help="key=value (repeatable; the value is kept whole).")
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option("--from-file", help="PATH or KEY=PATH: a file (the key defaults to its name) or a directory."),
    ] = None,
    from_env_file: Annotated[
        list[str] | None, typer.Option("--from-env-file", help="A file of KEY=VALUE lines.")
    ] = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a config map."""
    obj = build_config_map(
        name, namespace, tuple(from_literal or ()), tuple(from_file or ()), tuple(from_env_file or ()), os.environ
    )
    _client(ctx).create(kinds.CONFIGMAP, obj)
    print(f"ConfigMap '{name}' created in namespace '{namespace}'.")


@configmap_app.command("list")
def configmap_list(ctx: typer.Context, namespace: NsOpt = "default") -> None:
    """List config maps (NAME DATA AGE)."""
    items = _client(ctx).list(kinds.CONFIGMAP, namespace).get("items") or []
    if not items:
        print("No configmap found.")
        return
    now = output.now_utc()
    rows = [
        [
            c["metadata"]["name"],
            str(len(c.get("data") or {}) + len(c.get("binaryData") or {})),
            output.age(c["metadata"].get("creationTimestamp"), now),
        ]
        for c in _sorted(items)
    ]
    print(output.terminal_safe(output.table(["NAME", "DATA", "AGE"], rows)))


@configmap_app.command("describe")
def configmap_describe(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Show a config map and its values."""
    _describe(ctx, kinds.CONFIGMAP, name, namespace)


@configmap_app.command("delete")
def configmap_delete(ctx: typer.Context, name: str, namespace: NsOpt = "default") -> None:
    """Delete a config map."""
    _client(ctx).delete(kinds.CONFIGMAP, namespace, name)
    print(f"ConfigMap '{name}' deleted in namespace '{namespace}'.")
