"""``zeroserve domain ...`` and ``get dm|cdc`` as a subprocess against a real API server; the texts
are kn's (knative/client pkg/commands/domain/{create,update,list,describe,delete}.go)."""

from __future__ import annotations

from typing import Any

from tests.cli.cli_harness import Api
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.testing import service

HOST = "hello.example.com"


def create_service(api: Api, name: str = "hello", namespace: str = "default") -> None:
    if namespace != "default":  # the API creates nothing in a namespace that does not exist
        api.call(lambda: api.store.create(kinds.NAMESPACE, {"metadata": {"name": namespace}}))
    api.call(lambda: api.store.create(kinds.SERVICE, service(namespace, name)))


def get(api: Api, kind: kinds.Kind, name: str, namespace: str = "default") -> Obj:
    return api.call(lambda: api.store.get(kind, namespace, name))


def play_the_controller(api: Api, **status: Any) -> None:
    async def write() -> None:
        obj = await api.store.get(kinds.DOMAINMAPPING, "default", HOST)
        conditions = [{"type": t, "status": "True"} for t in ("DomainClaimed", "Ready", "ReferenceResolved")]
        obj["status"] = {"observedGeneration": 1, "conditions": conditions, **status}
        await api.store.update_status(kinds.DOMAINMAPPING, obj)

    api.call(write)


def test_create_list_describe_update_delete(api: Api) -> None:
    create_service(api)
    create_service(api, "other")
    assert api.cli("domain", "list").stdout == "No domain mapping found.\n"

    done = api.cli("domain", "create", HOST, "--ref", "hello")
    assert (done.returncode, done.stdout) == (0, f"Domain mapping '{HOST}' created in namespace 'default'.\n")
    assert get(api, kinds.DOMAINMAPPING, HOST)["spec"] == {
        "ref": {"kind": "Service", "namespace": "default", "name": "hello", "apiVersion": "serving.knative.dev/v1"}
    }
    play_the_controller(api, url=f"http://{HOST}:8080")
    assert [line.split() for line in api.cli("domain", "list").stdout.splitlines()] == [
        ["NAME", "URL", "READY", "KSVC"],
        [HOST, f"http://{HOST}:8080", "True", "hello"],
    ]
    assert [line.split() for line in api.cli("get", "dm").stdout.splitlines()] == [
        ["NAME", "URL", "READY", "REASON"],
        [HOST, f"http://{HOST}:8080", "True"],
    ]
    assert api.cli("domain", "describe", HOST, "-o", "url").stdout == f"http://{HOST}:8080\n"
    text = api.cli("domain", "describe", HOST).stdout
    assert f"URL:          http://{HOST}:8080" in text
    reference = "Reference:\n  APIVersion:   serving.knative.dev/v1\n  Kind:         Service\n  Name:         hello\n"
    assert reference in text
    assert "  ++   Ready\n" in text and "Namespace:    default" in text

    done = api.cli("domain", "update", HOST, "--ref", "ksvc:other")
    assert done.stdout == f"Domain mapping '{HOST}' updated in namespace 'default'.\n", done.stderr
    assert get(api, kinds.DOMAINMAPPING, HOST)["spec"]["ref"]["name"] == "other"

    done = api.cli("domain", "delete", HOST)
    assert done.stdout == f"Domain mapping '{HOST}' deleted in namespace 'default'.\n"
    assert api.cli("domain", "list").stdout == "No domain mapping found.\n"


def test_ref_forms_and_refusals(api: Api) -> None:
    create_service(api, "hello", "other")
    done = api.cli("domain", "create", HOST, "--ref", "nope")
    assert done.returncode == 1 and 'services.serving.knative.dev "nope" not found' in done.stderr
    done = api.cli("domain", "create", HOST, "--ref", "broker:x")
    assert (done.returncode, done.stderr) == (1, "error: unsupported sink prefix: 'broker'\n")
    done = api.cli("domain", "create", HOST, "--ref", "ksvc:hello:other")  # kn reads it; the webhook refuses
    assert done.returncode == 1
    assert "mismatched namespaces: spec.ref.namespace" in done.stderr
    assert 'parent namespace: "default" does not match ref: "other"' in done.stderr
    done = api.cli("domain", "create", HOST, "--ref", "hello", "--tls", "Bad_Secret")
    assert done.returncode == 1 and done.stderr.startswith('error: invalid secret name "Bad_Secret": a lowercase RFC')
    done = api.cli("domain", "create", HOST)
    assert done.returncode != 0 and "--ref" in done.stderr

    done = api.cli("domain", "create", "ns.example.com", "--ref", "kroute:hello", "-n", "other")
    assert done.returncode == 1 and 'routes.serving.knative.dev "hello" not found' in done.stderr
    done = api.cli("domain", "create", "ns.example.com", "--ref", "hello", "--tls", "my-cert", "-n", "other")
    assert done.stdout == "Domain mapping 'ns.example.com' created in namespace 'other'.\n", done.stderr
    assert get(api, kinds.DOMAINMAPPING, "ns.example.com", "other")["spec"]["tls"] == {"secretName": "my-cert"}
    header = api.cli("domain", "list", "-A").stdout.splitlines()[0]
    assert header.split() == ["NAMESPACE", "NAME", "URL", "READY", "KSVC"]


def test_cluster_domain_claims_through_get_and_apply(api: Api) -> None:
    assert api.cli("get", "cdc").stderr == "No resources found.\n"
    manifest = (
        "apiVersion: networking.internal.knative.dev/v1alpha1\n"
        "kind: ClusterDomainClaim\n"
        f"metadata:\n  name: {HOST}\n"
        "spec:\n  namespace: default\n"
    )
    done = api.cli("apply", "-f", "-", stdin=manifest)
    assert done.stdout == f"clusterdomainclaim.networking.internal.knative.dev/{HOST} created\n", done.stderr
    assert "namespace" not in get(api, kinds.CLUSTERDOMAINCLAIM, HOST)["metadata"]
    assert api.cli("apply", "-f", "-", stdin=manifest).stdout.endswith(" unchanged\n")
    lines = api.cli("get", "clusterdomainclaims").stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE"] and lines[1].split()[0] == HOST
    done = api.cli("delete", "cdc", HOST)
    assert done.stdout == f'clusterdomainclaim.networking.internal.knative.dev "{HOST}" deleted\n'
