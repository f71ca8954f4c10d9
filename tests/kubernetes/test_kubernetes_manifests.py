"""``zeroserve kubernetes manifests``: every object it prints validates against the official
Kubernetes schemas (kubernetes-validate, strict), its CRDs are structural, and its objects hang
together (bindings name roles and accounts that exist, Services select Deployments' pods, webhooks
name a Service)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from zeroserve.cli.kubernetes import render
from zeroserve.cli.main import main
from zeroserve.kubernetes import manifests, structural

K8S_VERSION = "1.33.0"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", "kubernetes", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def printed() -> list[dict[str, Any]]:
    out = run_cli("manifests", "--image", "dev.local/zeroserve:v1", "--image-pull-policy", "Never")
    assert out.returncode == 0, out.stderr
    assert "&id" not in out.stdout and "*id" not in out.stdout  # no YAML aliases: kubectl-friendly
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def ids(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


ALL = manifests.manifests(manifests.Options())


@pytest.mark.parametrize("obj", ALL, ids=ids(ALL))
def test_every_object_validates_against_kubernetes_schemas(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_kubernetes_validate_can_fail() -> None:
    deployment = copy.deepcopy(next(o for o in ALL if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_printed_is_what_manifests_builds(printed: list[dict[str, Any]]) -> None:
    opts = manifests.Options(image="dev.local/zeroserve:v1", image_pull_policy="Never")
    assert printed == manifests.manifests(opts)
    assert ids(printed)[0] == "Namespace/knative-serving"
    kinds = [o["kind"] for o in printed]
    assert kinds.count("CustomResourceDefinition") == 9
    assert kinds.index("CustomResourceDefinition") < kinds.index("Deployment")
    for o in printed:
        if o["kind"] == "CustomResourceDefinition":
            assert structural.check_crd(o) == []


def test_deployments_run_the_image_lighter_than_knative(printed: list[dict[str, Any]]) -> None:
    deployments = {o["metadata"]["name"]: o for o in printed if o["kind"] == "Deployment"}
    assert set(deployments) == {"controller", "activator"}  # controller: reconcilers, autoscaler, webhook, gateway
    cpu = mem = 0
    for name, d in deployments.items():
        (c,) = d["spec"]["template"]["spec"]["containers"]
        assert c["image"] == "dev.local/zeroserve:v1" and c["imagePullPolicy"] == "Never"
        assert c["args"] == ["kubernetes", name]
        assert d["spec"]["template"]["spec"]["serviceAccountName"] == name
        assert c["securityContext"]["runAsNonRoot"] is True
        cpu += int(c["resources"]["requests"]["cpu"].rstrip("m"))
        mem += int(c["resources"]["requests"]["memory"].rstrip("Mi"))
    assert cpu < 600 and mem < 360  # Knative: activator 300m/60Mi + 3 x 100m/100Mi
    controller = deployments["controller"]
    (c,) = controller["spec"]["template"]["spec"]["containers"]
    assert c["readinessProbe"]["tcpSocket"] == {"port": 8080}  # the gateway: only the leader's listens
    assert controller["spec"]["strategy"] == {"type": "Recreate"}  # no new pod waiting on the old one's Lease
    activator = deployments["activator"]
    (c,) = activator["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in c["env"]} >= {"POD_IP", "POD_NAME"}  # it finds itself in Endpoints by its IP
    assert activator["spec"]["strategy"] == {"type": "RollingUpdate"}  # each replica serves on its own
    (hpa,) = [o for o in printed if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "activator"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 20)  # Knative's activator HPA


def test_services_select_pods_of_a_deployment(printed: list[dict[str, Any]]) -> None:
    pods = {
        o["metadata"]["name"]: (
            o["spec"]["template"]["metadata"]["labels"],
            o["spec"]["template"]["spec"]["containers"][0],
        )
        for o in printed
        if o["kind"] == "Deployment"
    }
    services = {o["metadata"]["name"]: o for o in printed if o["kind"] == "Service"}
    assert set(services) == {"webhook", "gateway", "gateway-local", "autoscaler", "activator-service"}
    for name, svc in services.items():
        matched = [d for d, (labels, _) in pods.items() if svc["spec"]["selector"].items() <= labels.items()]
        assert len(matched) == 1, name
        ports = {p["containerPort"] for p in pods[matched[0]][1]["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports, name
    assert services["gateway"]["spec"]["type"] == "LoadBalancer"
    assert services["gateway"]["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]
    activator_ports = {p["name"]: p["targetPort"] for p in services["activator-service"]["spec"]["ports"]}
    assert activator_ports["http"] == 8012 and activator_ports["http2"] == 8013  # the SKS keeps them by name


def test_rbac_hangs_together(printed: list[dict[str, Any]]) -> None:
    accounts = {o["metadata"]["name"] for o in printed if o["kind"] == "ServiceAccount"}
    roles = {(o["kind"], o["metadata"]["name"]) for o in printed if o["kind"] in ("Role", "ClusterRole")}
    bindings = [o for o in printed if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert accounts == {"controller", "activator"}
    assert len(bindings) == 2
    for b in bindings:
        assert (b["roleRef"]["kind"], b["roleRef"]["name"]) in roles
        assert all(s["name"] in accounts and s["namespace"] == "knative-serving" for s in b["subjects"])
    rules = next(o for o in printed if ids([o]) == ["ClusterRole/zeroserve-controller"])["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in r["apiGroups"] and (resource in r["resources"] or "*" in r["resources"]) and verb in r["verbs"]
            for r in rules
        )

    for group, resource, verb in [
        ("serving.knative.dev", "*", "watch"),
        ("serving.knative.dev", "*/status", "update"),
        ("autoscaling.internal.knative.dev", "*", "create"),
        ("networking.internal.knative.dev", "*/status", "patch"),
        ("apps", "deployments", "create"),
        ("apps", "deployments/scale", "patch"),
        ("", "services", "create"),
        ("", "endpoints", "update"),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "configmaps", "watch"),
        ("", "secrets", "get"),
        ("", "events", "create"),
        ("coordination.k8s.io", "leases", "update"),
        ("autoscaling", "horizontalpodautoscalers", "create"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ]:
        assert allowed(group, resource, verb), (group, resource, verb)
    assert not allowed("", "secrets", "create")
    assert not allowed("", "pods", "delete")
    rules = next(o for o in printed if ids([o]) == ["ClusterRole/zeroserve-activator"])["rules"]
    assert allowed("serving.knative.dev", "revisions", "watch") and allowed("", "endpoints", "watch")
    assert not any(set(r["verbs"]) - {"get", "list", "watch"} for r in rules)  # an activator only reads


def test_webhooks_are_knatives(printed: list[dict[str, Any]]) -> None:
    hooks = {o["kind"]: o for o in printed if o["kind"].endswith("WebhookConfiguration")}
    assert hooks["MutatingWebhookConfiguration"]["metadata"]["name"] == "webhook.serving.knative.dev"
    assert hooks["ValidatingWebhookConfiguration"]["metadata"]["name"] == "validation.webhook.serving.knative.dev"
    for hook in hooks.values():
        (w,) = hook["webhooks"]
        assert w["clientConfig"]["service"] == {"name": "webhook", "namespace": "knative-serving"}
        assert {"services", "configurations", "revisions", "routes"} <= set(w["rules"][0]["resources"])
    (validating,) = hooks["ValidatingWebhookConfiguration"]["webhooks"]
    assert "DELETE" in validating["rules"][0]["operations"]


def test_options_change_the_output() -> None:
    opts = manifests.Options(namespace="zs-system", gateway_service_type="NodePort", webhook=False)
    objs = manifests.manifests(opts)
    assert not any(o["kind"].endswith("WebhookConfiguration") for o in objs)
    assert all(o["metadata"].get("namespace") in (None, "zs-system") for o in objs)
    by_id = {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}
    assert by_id["Deployment/controller"]["metadata"]["namespace"] == "zs-system"
    assert by_id["Service/gateway"]["spec"]["type"] == "NodePort"
    for o in objs:
        kubernetes_validate.validate(o, K8S_VERSION, strict=True)
    assert yaml.safe_load_all(render(objs)) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway-service-type", "Public"], "--gateway-service-type must be one of"),
        (["--image-pull-policy", "Sometimes"], "--image-pull-policy must be one of"),
        (["--namespace", "Knative_Serving"], "--namespace must be a DNS-1123 label"),
        (["--image", " "], "--image must name an image"),
    ],
)
def test_bad_options_are_one_clear_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["kubernetes", "manifests", *args])
    out = capsys.readouterr()
    assert exit_.value.code == 1 and out.out == ""
    assert out.err.startswith(f"error: {message}") and len(out.err.splitlines()) == 1


def test_the_controller_without_a_cluster_is_one_clear_line(tmp_path: Path) -> None:
    out = run_cli("controller", "--kubeconfig", str(tmp_path / "missing"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: no Kubernetes cluster to talk to:"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_containerfile_fits_the_deployments() -> None:
    """The image the Deployments run: `zeroserve` is the entrypoint (their args are its subcommands),
    a numeric non-root user (runAsNonRoot), every container port exposed."""
    text = (Path(__file__).resolve().parents[2] / "Containerfile").read_text()
    lines = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    directives = {d: rest for d, rest in lines}
    assert directives["ENTRYPOINT"] == '["zeroserve"]'
    uid = directives["USER"].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    exposed = {int(p) for p in directives["EXPOSE"].split()}
    for d in (o for o in ALL if o["kind"] == "Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert {p["containerPort"] for p in c["ports"]} <= exposed
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert "PYTHONDONTWRITEBYTECODE=1" in text
