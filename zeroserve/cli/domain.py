"""``kn domain``: ``create|update|list|describe|delete`` of DomainMappings.

Follows knative/client ``pkg/commands/domain`` (flags, ``--ref`` forms and the messages printed):
``--ref hello`` or ``--ref ksvc:hello`` is the Knative Service ``hello`` of the namespace,
``ksvc:hello:other`` one of another namespace (which the webhook then refuses: a mapping's target
lives in its namespace), ``kroute:hello`` a Route. The target must exist: kn reads it to fill in
the reference.
"""

from __future__ import annotations

from typing import Annotated

import typer

from zeroserve import errors
from zeroserve.api import kinds, names
from zeroserve.api.base import Obj
from zeroserve.cli import describe as describing
from zeroserve.cli import output
from zeroserve.cli.client import ApiClient
from zeroserve.cli.context import Context

domain_app = typer.Typer(help="Manage domain mappings (kn domain).", no_args_is_help=True)

REF_KINDS: dict[str, kinds.Kind] = {"ksvc": kinds.SERVICE, "kroute": kinds.ROUTE}
"""kn's ``refMappings``."""

NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace.")]
RefOpt = Annotated[
    str,
    typer.Option(
        "--ref",
        help="Addressable target of the mapping: 'hello' or 'ksvc:hello' (a Knative service), "
        "'kroute:hello' (a Knative route), 'ksvc:hello:NAMESPACE' (another namespace's service).",
    ),
]


def _client(ctx: typer.Context) -> ApiClient:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj.client()


def parse_ref(ref: str) -> tuple[str, str, str]:
    """kn's ``parseType``: (prefix, name, namespace); a plain name is a ``ksvc``."""
    parts = ref.split(":", 2)
    if len(parts) == 1:
        return "ksvc", parts[0], ""
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], parts[1], ""


def resolve_ref(client: ApiClient, ref: str, namespace: str) -> Obj:
    """kn's ``RefFlags.Resolve``: read the target, return the KReference to it."""
    prefix, name, ref_namespace = parse_ref(ref)
    kind = REF_KINDS.get(prefix)
    if kind is None:
        raise errors.BadRequest(f"unsupported sink prefix: '{prefix}'")
    namespace = ref_namespace or namespace
    obj = client.get(kind, namespace, name)
    return {
        "kind": obj.get("kind", kind.kind),
        "apiVersion": obj.get("apiVersion", kind.api_version),
        "name": obj["metadata"]["name"],
        "namespace": namespace,
    }


def build_mapping(host: str, namespace: str, ref: Obj, tls: str | None = None) -> Obj:
    """kn's ``DomainMappingBuilder``."""
    spec: Obj = {"ref": ref}
    if tls:
        spec["tls"] = {"secretName": tls}
    return {
        "apiVersion": kinds.DOMAINMAPPING.api_version,
        "kind": kinds.DOMAINMAPPING.kind,
        "metadata": {"name": host, "namespace": namespace},
        "spec": spec,
    }


@domain_app.command("create")
def create(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(metavar="NAME", help="The domain name (the mapping's name).")],
    ref: RefOpt,
    tls: Annotated[
        str | None, typer.Option("--tls", help="Enable TLS and point to the secret that holds the server certificate.")
    ] = None,
    namespace: NsOpt = "default",
) -> None:
    """Create a domain mapping: `zeroserve domain create hello.example.com --ref hello`."""
    if tls and (msgs := names.is_dns1123_subdomain(tls)):
        raise errors.BadRequest(f'invalid secret name "{tls}": {msgs[0]}')
    client = _client(ctx)
    client.create(kinds.DOMAINMAPPING, build_mapping(host, namespace, resolve_ref(client, ref, namespace), tls))
    print(f"Domain mapping '{host}' created in namespace '{namespace}'.")


@domain_app.command("update")
def update(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(metavar="NAME")],
    ref: RefOpt,
    namespace: NsOpt = "default",
) -> None:
    """Point a domain mapping at another target."""
    client = _client(ctx)
    for attempt in range(3):
        dm = client.get(kinds.DOMAINMAPPING, namespace, host)
        if dm["metadata"].get("deletionTimestamp"):
            raise errors.BadRequest(f"can't update domain mapping '{host}' because it has been marked for deletion")
        dm["spec"]["ref"] = resolve_ref(client, ref, namespace)
        dm.pop("status", None)
        try:
            client.update(kinds.DOMAINMAPPING, dm)
            break
        except errors.Conflict:
            if attempt == 2:
                raise
    print(f"Domain mapping '{host}' updated in namespace '{namespace}'.")


@domain_app.command("list")
def list_(
    ctx: typer.Context,
    namespace: NsOpt = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Across all namespaces.")] = False,
) -> None:
    """List domain mappings (NAME URL READY KSVC)."""
    items = _client(ctx).list(kinds.DOMAINMAPPING, None if all_namespaces else namespace).get("items") or []
    if not items:
        print("No domain mapping found.")
        return
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    headers = ["NAME", "URL", "READY", "KSVC"]
    rows = [
        [
            o["metadata"]["name"],
            str(o.get("status", {}).get("url", "")),
            output.ready_columns(o)[0],
            str(o.get("spec", {}).get("ref", {}).get("name", "")),
        ]
        for o in items
    ]
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        rows = [[o["metadata"].get("namespace", ""), *row] for o, row in zip(items, rows, strict=True)]
    print(output.table(headers, rows))


@domain_app.command("describe")
def describe(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(metavar="NAME")],
    namespace: NsOpt = "default",
    out: Annotated[str | None, typer.Option("--output", "-o", help="yaml, json or url.")] = None,
) -> None:
    """Show a domain mapping: its URL, reference and conditions."""
    client = _client(ctx)
    if out is None:
        print(describing.describe(client, kinds.DOMAINMAPPING, namespace, host, output.now_utc()))
        return
    dm = client.get(kinds.DOMAINMAPPING, namespace, host)
    if out == "url":
        print(dm.get("status", {}).get("url", ""))
    elif out in ("yaml", "json"):
        print(output.document([dm], kinds.DOMAINMAPPING, "yaml" if out == "yaml" else "json", single=True))
    else:
        raise errors.BadRequest(f"unable to match a printer suitable for the output format {out!r}: want yaml|json|url")


@domain_app.command("delete")
def delete(
    ctx: typer.Context, host: Annotated[str, typer.Argument(metavar="NAME")], namespace: NsOpt = "default"
) -> None:
    """Delete a domain mapping (its host is no longer served)."""
    _client(ctx).delete(kinds.DOMAINMAPPING, namespace, host)
    print(f"Domain mapping '{host}' deleted in namespace '{namespace}'.")
