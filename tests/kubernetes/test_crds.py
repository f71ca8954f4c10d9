"""The CRDs generated from the models (zeroserve.kubernetes.crds): structural, valid for the
Kubernetes schemas, named as Knative's, and accepting Knative's samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from zeroserve.kubernetes import crds, structural, values

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.33.0"
BY_NAME = {c["metadata"]["name"]: c for c in crds.crds()}


def schema_of(name: str) -> dict[str, Any]:
    crd = BY_NAME[name]
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_crd_is_structural(name: str) -> None:
    assert [str(e) for e in structural.check_crd(BY_NAME[name])] == []


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_crd_validates_against_kubernetes_schemas(name: str) -> None:
    kubernetes_validate.validate(BY_NAME[name], K8S_VERSION, strict=True)


# (name, kind, short names, categories, scope, printer columns, labels beyond the common ones), from
# knative/serving config/core/300-resources/*.yaml and knative/networking config/*.yaml.
KNATIVE = [
    (
        "services.serving.knative.dev",
        "Service",
        ["kservice", "ksvc"],
        ["all", "knative", "serving"],
        "Namespaced",
        ["URL", "LatestCreated", "LatestReady", "Ready", "Reason"],
        {"duck.knative.dev/addressable", "duck.knative.dev/podspecable"},
    ),
    (
        "configurations.serving.knative.dev",
        "Configuration",
        ["config", "cfg"],
        ["all", "knative", "serving"],
        "Namespaced",
        ["LatestCreated", "LatestReady", "Ready", "Reason"],
        {"duck.knative.dev/podspecable"},
    ),
    (
        "revisions.serving.knative.dev",
        "Revision",
        ["rev"],
        ["all", "knative", "serving"],
        "Namespaced",
        ["Config Name", "Generation", "Ready", "Reason", "Actual Replicas", "Desired Replicas"],
        set(),
    ),
    (
        "routes.serving.knative.dev",
        "Route",
        ["rt"],
        ["all", "knative", "serving"],
        "Namespaced",
        ["URL", "Ready", "Reason"],
        {"duck.knative.dev/addressable"},
    ),
    (
        "domainmappings.serving.knative.dev",
        "DomainMapping",
        ["dm"],
        ["all", "knative", "serving"],
        "Namespaced",
        ["URL", "Ready", "Reason"],
        set(),
    ),
    (
        "podautoscalers.autoscaling.internal.knative.dev",
        "PodAutoscaler",
        ["kpa", "pa"],
        ["knative-internal", "autoscaling"],
        "Namespaced",
        ["DesiredScale", "ActualScale", "Ready", "Reason"],
        set(),
    ),
    (
        "metrics.autoscaling.internal.knative.dev",
        "Metric",
        None,
        ["knative-internal", "autoscaling"],
        "Namespaced",
        ["Ready", "Reason"],
        set(),
    ),
    (
        "serverlessservices.networking.internal.knative.dev",
        "ServerlessService",
        ["sks"],
        ["knative-internal", "networking"],
        "Namespaced",
        ["Mode", "Activators", "ServiceName", "PrivateServiceName", "Ready", "Reason"],
        {"app.kubernetes.io/component"},
    ),
    (
        "clusterdomainclaims.networking.internal.knative.dev",
        "ClusterDomainClaim",
        ["cdc"],
        ["knative-internal", "networking"],
        "Cluster",
        None,
        {"app.kubernetes.io/component"},
    ),
]


@pytest.mark.parametrize(("name", "kind", "short", "categories", "scope", "columns", "labels"), KNATIVE)
def test_names_scope_and_columns_are_knatives(
    name: str,
    kind: str,
    short: list[str] | None,
    categories: list[str],
    scope: str,
    columns: list[str] | None,
    labels: set[str],
) -> None:
    crd = BY_NAME[name]
    spec = crd["spec"]
    assert spec["group"] == name.split(".", 1)[1]
    assert spec["names"]["kind"] == kind
    assert spec["names"].get("shortNames") == short
    assert spec["names"]["categories"] == categories
    assert spec["scope"] == scope
    (version,) = spec["versions"]
    assert version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    got = [c["name"] for c in version["additionalPrinterColumns"]] if "additionalPrinterColumns" in version else None
    assert got == columns
    assert set(crd["metadata"]["labels"]) - set(crds.LABELS) == labels
    assert crd["metadata"]["labels"]["app.kubernetes.io/name"] == "zeroserve"


def test_every_kind_knative_installs_for_serving_is_there() -> None:
    assert set(BY_NAME) == {k[0] for k in KNATIVE}
    assert [v["name"] for c in BY_NAME.values() for v in c["spec"]["versions"]].count("v1beta1") == 1


def test_map_list_keys_are_required_in_items() -> None:
    spec = schema_of("revisions.serving.knative.dev")["properties"]["spec"]["properties"]
    container = spec["containers"]["items"]["properties"]
    assert container["env"]["items"]["required"] == ["name"]
    assert container["volumeMounts"]["items"]["required"] == ["mountPath"]
    assert spec["volumes"]["items"]["required"] == ["name"]
    assert spec["volumes"]["items"]["x-kubernetes-preserve-unknown-fields"] is True


# ---- samples ---------------------------------------------------------------------------------------

HELLOWORLD = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: helloworld-go
  namespace: default
  labels:
    networking.knative.dev/visibility: cluster-local
spec:
  template:
    metadata:
      name: helloworld-go-v2
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/target: "10"
    spec:
      containerConcurrency: 0
      timeoutSeconds: 300
      containers:
        - image: dev.local/helloworld-go:v1
          imagePullPolicy: Never
          ports:
            - containerPort: 8080
          env:
            - name: TARGET
              value: Go Sample v2
            - name: FROM_SECRET
              valueFrom:
                secretKeyRef: {name: s, key: k}
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: "1", memory: 128Mi}
          readinessProbe:
            httpGet: {path: /healthz}
            periodSeconds: 2
          volumeMounts:
            - name: config
              mountPath: /etc/config
      volumes:
        - name: config
          configMap: {name: app-config}
  traffic:
    - revisionName: helloworld-go-v1
      percent: 50
    - latestRevision: true
      percent: 50
    - revisionName: helloworld-go-v1
      tag: old
      percent: 0
"""


def samples() -> list[tuple[str, dict[str, Any]]]:
    out = [("helloworld-go", yaml.safe_load(HELLOWORLD))]
    for path in ("examples/hello/service.yaml", "examples/hello-image/service.yaml"):
        out.append((path, yaml.safe_load((ROOT / path).read_text())))
    return out


@pytest.mark.parametrize(("name", "sample"), samples(), ids=[s[0] for s in samples()])
def test_knative_samples_validate_against_the_service_crd(name: str, sample: dict[str, Any]) -> None:
    schema = schema_of("services.serving.knative.dev")
    assert values.validate(schema, sample) == []
    assert values.unknown_fields(schema, sample) == []
    jsonschema.Draft4Validator(schema).validate(sample)


def test_a_broken_sample_fails_with_field_paths() -> None:
    sample = yaml.safe_load(HELLOWORLD)
    spec = sample["spec"]["template"]["spec"]
    spec["containers"][0]["ports"][0]["containerPort"] = "8080"
    spec["timeoutSeconds"] = True
    spec["containers"][0]["env"].append({"name": "TARGET", "value": "twice"})
    spec["containers"][0]["imageName"] = "typo"
    sample["spec"]["traffic"][0]["percent"] = None
    sample["spec"]["traffic"].append({"tag": "old", "percent": 0})
    schema = schema_of("services.serving.knative.dev")
    errs = [str(e) for e in values.validate(schema, sample)]
    at = "spec.template.spec"
    assert f'{at}.containers[0].ports[0].containerPort: Invalid value: "8080": must be of type integer' in errs
    assert f"{at}.timeoutSeconds: Invalid value: true: must be of type integer" in errs
    assert f'{at}.containers[0].env[2]: Duplicate value: ["TARGET"]' in errs
    assert "spec.traffic[0].percent: Invalid value: null: must be of type integer" in errs
    assert values.unknown_fields(schema, sample) == [f"{at}.containers[0].imageName"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(sample)


def test_metric_schema_is_knatives() -> None:
    spec = schema_of("metrics.autoscaling.internal.knative.dev")["properties"]["spec"]
    assert spec["properties"]["stableWindow"] == {"type": "integer", "format": "int64"}
    assert spec["properties"]["scrapeTarget"] == {"type": "string"}
    metric = {
        "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
        "kind": "Metric",
        "metadata": {"name": "m"},
        "spec": {"stableWindow": 60_000_000_000, "panicWindow": 6_000_000_000, "scrapeTarget": "hello-private"},
    }
    assert values.validate(schema_of("metrics.autoscaling.internal.knative.dev"), metric) == []


def test_enum_and_format_bounds_are_checked() -> None:
    sks = {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "ServerlessService",
        "metadata": {"name": "hello-00001"},
        "spec": {"mode": "Bogus", "numActivators": 2**31, "objectRef": {"kind": "Deployment", "name": "d"}},
    }
    errs = [str(e) for e in values.validate(schema_of("serverlessservices.networking.internal.knative.dev"), sks)]
    assert errs == [
        'spec.mode: Unsupported value: "Bogus": supported values: "Serve", "Proxy"',
        "spec.numActivators: Invalid value: 2147483648: must fit in int32",
    ]
