"""One case per message: admit() must refuse the object with exactly these rendered errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.api_resources import configuration, revision, route, service, with_path
from zeroserve.api import names
from zeroserve.api.admission import admit
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE, SERVICE, Kind
from zeroserve.config import AutoscalerConfig, Config, DefaultsConfig
from zeroserve.errors import Invalid

C0 = "spec.template.spec.containers[0]"
ANN = "spec.template.metadata.annotations."
DNS1035 = (
    "[a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]"
)


def annotated(obj: dict[str, Any], **annotations: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"]["template"].setdefault("metadata", {})["annotations"] = {
        f"autoscaling.knative.dev/{k.replace('_', '-')}" if "/" not in k else k: v for k, v in annotations.items()
    }
    return out


def ann(**annotations: str) -> dict[str, Any]:
    return annotated(service(), **annotations)


def raw_ann(annotations: dict[str, str]) -> dict[str, Any]:
    out = service()
    out["spec"]["template"]["metadata"] = {"annotations": annotations}
    return out


def errors_of(
    kind: Kind, obj: dict[str, Any], cfg: Config | None = None, old: dict[str, Any] | None = None
) -> list[str]:
    with pytest.raises(Invalid) as info:
        admit(kind, obj, old, cfg or Config())
    return [str(e) for e in info.value.errors]


SERVICE_CASES = [
    pytest.param(
        with_path(service(), "metadata.name", "Hello"),
        [f"not a DNS 1035 label: {DNS1035}: metadata.name"],
        id="name-not-dns1035",
    ),
    pytest.param(
        with_path(service(), "metadata.name", "a" * 64),
        ["not a DNS 1035 label: [must be no more than 63 characters]: metadata.name"],
        id="name-too-long",
    ),
    pytest.param(
        with_path(service(), "metadata", {"namespace": "default"}),
        ["name or generateName is required: metadata.name"],
        id="name-required",
    ),
    pytest.param(
        with_path(service(), "metadata", {"generateName": "Hello-"}),
        [f"not a DNS 1035 label prefix: {DNS1035}: metadata.generateName"],
        id="generate-name",
    ),
    pytest.param(
        with_path(service(), "metadata.namespace", "Bad_NS"),
        [f"invalid value: Bad_NS: metadata.namespace\n{names.is_dns1123_label('Bad_NS')[0]}"],
        id="namespace",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.containerConcurrency", 1001),
        ["expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency"],
        id="container-concurrency",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.timeoutSeconds", 601),
        ["expected 0 <= 601 <= 600: spec.template.spec.timeoutSeconds"],
        id="timeout-seconds",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.containers", []),
        ["missing field(s): spec.template.spec.containers"],
        id="no-containers",
    ),
    pytest.param(
        with_path(service(), f"{C0}", {"name": "app"}),
        [f"expected at least one, got neither: {C0}.command, {C0}.image"],
        id="neither-image-nor-command",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 8012}]),
        [
            f"invalid value: 8012 is a reserved port: {C0}.ports.containerPort\n"
            "8012 is a reserved port, please use a different value"
        ],
        id="reserved-port",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 70000}]),
        [f"expected 0 <= 70000 <= 65535: {C0}.ports.containerPort"],
        id="port-range",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 8080, "name": "grpc"}]),
        [f"Port name grpc is not allowed: {C0}.ports\nName must be empty, or one of: 'h2c', 'http1'"],
        id="port-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 8080, "protocol": "UDP"}]),
        [f"invalid value: UDP: {C0}.ports.protocol"],
        id="port-protocol",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 8080, "hostPort": 80}]),
        [f"must not set the field(s): {C0}.ports.hostPort"],
        id="host-port",
    ),
    pytest.param(
        with_path(service(), f"{C0}.ports", [{"containerPort": 8080}, {"containerPort": 8081}]),
        [
            "more than one container port is set: spec.template.spec.containers[*].ports\n"
            "Only a single port is allowed across all containers"
        ],
        id="two-ports",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.containers", [{"image": "a"}, {"image": "b"}]),
        ["missing field(s): spec.template.spec.containers[*].ports"],
        id="multi-container-no-port",
    ),
    pytest.param(
        with_path(
            service(),
            "spec.template.spec.containers",
            [{"name": "a", "image": "a", "ports": [{"containerPort": 8080}]}, {"name": "a", "image": "b"}],
        ),
        ['duplicate container name "a": spec.template.spec.containers[1].name'],
        id="duplicate-container-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.name", "queue-proxy"),
        [f'"queue-proxy" is a reserved container name: {C0}.name'],
        id="reserved-container-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.env", [{"name": "K_REVISION", "value": "x"}]),
        [f'"K_REVISION" is a reserved environment variable: {C0}.env[0].name'],
        id="reserved-env",
    ),
    pytest.param(
        with_path(service(), f"{C0}.env", [{"name": "A", "value": "1"}, {"value": "x"}]),
        [f"missing field(s): {C0}.env[1].name"],
        id="env-missing-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.env", [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]),
        [f"must not set the field(s): {C0}.env[0].valueFrom.fieldRef"],
        id="env-field-ref",
    ),
    pytest.param(
        with_path(service(), f"{C0}.envFrom", [{"prefix": "X_"}]),
        [f"expected exactly one, got neither: {C0}.envFrom.configMapRef, {C0}.envFrom.secretRef"],
        id="env-from-neither",
    ),
    pytest.param(
        with_path(service(), f"{C0}.readinessProbe", {"httpGet": {}, "tcpSocket": {}}),
        [f"expected exactly one, got both: {C0}.readinessProbe.httpGet, {C0}.readinessProbe.tcpSocket"],
        id="probe-two-handlers",
    ),
    pytest.param(
        with_path(service(), f"{C0}.livenessProbe", {"periodSeconds": 1}),
        [
            f"expected exactly one, got neither: {C0}.livenessProbe.exec, {C0}.livenessProbe.grpc, "
            f"{C0}.livenessProbe.httpGet, {C0}.livenessProbe.tcpSocket"
        ],
        id="probe-no-handler",
    ),
    pytest.param(
        with_path(service(), f"{C0}.readinessProbe", {"tcpSocket": {"port": "admin"}}),
        [f"invalid value: admin: {C0}.readinessProbe.tcpSocket.port\nProbe port must match container port"],
        id="probe-port-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.readinessProbe", {"tcpSocket": {}, "failureThreshold": 2}),
        [f"failureThreshold is disallowed when periodSeconds is zero: {C0}.readinessProbe.failureThreshold"],
        id="probe-failure-threshold",
    ),
    pytest.param(
        with_path(service(), f"{C0}.readinessProbe", {"tcpSocket": {}, "timeoutSeconds": 2}),
        [f"timeoutSeconds is disallowed when periodSeconds is zero: {C0}.readinessProbe.timeoutSeconds"],
        id="probe-timeout",
    ),
    pytest.param(
        with_path(service(), f"{C0}.readinessProbe", {"tcpSocket": {}, "periodSeconds": -1}),
        [f"expected 0 <= -1 <= 2147483647: {C0}.readinessProbe.periodSeconds"],
        id="probe-period",
    ),
    pytest.param(
        with_path(service(), f"{C0}.tty", True),
        [f"must not set the field(s): {C0}.tty"],
        id="container-tty",
    ),
    pytest.param(
        with_path(service(), f"{C0}.terminationMessagePolicy", "Never"),
        [f"invalid value: Never: {C0}.terminationMessagePolicy"],
        id="termination-message-policy",
    ),
    pytest.param(
        with_path(service(), f"{C0}.securityContext", {"privileged": True, "runAsUser": -1}),
        [
            f"expected 0 <= -1 <= 2147483647: {C0}.securityContext.runAsUser",
            f"must not set the field(s): {C0}.securityContext.privileged",
        ],
        id="security-context",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.hostNetwork", True),
        ["must not set the field(s): spec.template.spec.hostNetwork"],
        id="host-network",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.nodeName", "n1"),
        ["must not set the field(s): spec.template.spec.nodeName"],
        id="node-name",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.serviceAccountName", "Bad_SA"),
        [f"invalid value: Bad_SA: spec.template.spec.serviceAccountName\n{names.is_dns1123_subdomain('Bad_SA')[0]}"],
        id="service-account-name",
    ),
    pytest.param(
        with_path(service(), f"{C0}.volumeMounts", [{"name": "data", "mountPath": "/data"}]),
        [f"volumeMount has no matching volume: {C0}.volumeMounts[0].name"],
        id="volume-mount-no-volume",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.volumes", [{"name": "data", "emptyDir": {}}]),
        ['volume with name "data" not mounted: spec.template.spec.volumes[0].name'],
        id="volume-not-mounted",
    ),
    pytest.param(
        with_path(service(), "spec.bogus", 1),
        ["must not set the field(s): spec.bogus"],
        id="unknown-field",
    ),
    pytest.param(
        with_path(service(), "spec.template.spec.containerConcurrency", "many"),
        ['invalid type: got "string", expected "integer": spec.template.spec.containerConcurrency'],
        id="wrong-type",
    ),
    pytest.param(
        with_path(service(), "spec.template.metadata", {"name": "other-1"}),
        ['invalid value: "other-1" must have prefix "hello-": spec.template.metadata.name'],
        id="byo-name-prefix",
    ),
    pytest.param(
        with_path(service(), "spec.template.metadata", {"name": "Hello-1"}),
        ["invalid value: not a DNS 1035 label: " + DNS1035 + ": spec.template.metadata.name"],
        id="byo-name-dns",
    ),
    pytest.param(
        with_path(service(), "metadata.annotations", {"autoscaling.knative.dev/min-scale": "1"}),
        [
            'invalid key name "autoscaling.knative.dev/min-scale": metadata.annotations\n'
            'autoscaling annotations must be put under "spec.template.metadata.annotations" to work'
        ],
        id="autoscaling-on-service",
    ),
    pytest.param(
        with_path(service(), "metadata.annotations", {"serving.knative.dev/rollout-duration": "1.5s"}),
        ["rollout-duration=1.5s is not at second precision: metadata.annotations.serving.knative.dev/rollout-duration"],
        id="rollout-duration",
    ),
    pytest.param(
        with_path(service(), "metadata.annotations", {"serving.knative.dev/rolloutDuration": "-5s"}),
        ["rollout-duration=-5s must be positive: metadata.annotations.serving.knative.dev/rolloutDuration"],
        id="rollout-duration-alias",
    ),
    # --- traffic (SPEC §7)
    pytest.param(
        service(traffic=[{"percent": 90}]),
        ["Traffic targets sum to 90, want 100: spec.traffic"],
        id="traffic-sum",
    ),
    pytest.param(
        service(traffic=[{"percent": 101}, {"percent": -1, "revisionName": "hello-1"}]),
        ["expected 0 <= -1 <= 100: spec.traffic[1].percent", "expected 0 <= 101 <= 100: spec.traffic[0].percent"],
        id="traffic-percent-range",
    ),
    pytest.param(
        service(traffic=[{"percent": 100, "configurationName": "hello"}]),
        ["must not set the field(s): spec.traffic[0].configurationName"],
        id="traffic-configuration-in-service",
    ),
    pytest.param(
        service(traffic=[{"percent": 100, "revisionName": "hello-1", "latestRevision": True}]),
        ['may not set revisionName "hello-1" when latestRevision is true: spec.traffic[0].latestRevision'],
        id="traffic-latest-with-revision",
    ),
    pytest.param(
        service(traffic=[{"percent": 100, "latestRevision": False}]),
        ['may not set revisionName "" when latestRevision is false: spec.traffic[0].latestRevision'],
        id="traffic-pinned-without-revision",
    ),
    pytest.param(
        service(traffic=[{"percent": 100, "tag": "Canary"}]),
        [f"invalid value: not a DNS 1035 label: {DNS1035}: spec.traffic.tag[0]"],
        id="traffic-tag-dns",
    ),
    pytest.param(
        service(traffic=[{"percent": 50, "tag": "a"}, {"percent": 50, "tag": "a", "revisionName": "hello-1"}]),
        ['Multiple definitions for "a": spec.traffic[0].tag, spec.traffic[1].tag'],
        id="traffic-tag-unique",
    ),
    pytest.param(
        service(traffic=[{"percent": 100, "url": "http://x"}]),
        ["must not set the field(s): spec.traffic[0].url"],
        id="traffic-url",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), SERVICE_CASES)
def test_service_errors(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(SERVICE, obj) == sorted(expected)


ENV_NAME = "a valid environment variable name must consist only of printable ASCII characters other than '='"
NUL = "must not contain a NUL byte"
RES = f"{C0}.resources"
PROCESS_CASES = [  # issue 11, item 1: what the kernel cannot take is refused with its path
    pytest.param(
        f"{C0}.env",
        [{"name": "A", "value": "a\x00b"}],
        [f'invalid value: "a\\u0000b": {C0}.env[0].value\n{NUL}'],
        id="env-value-nul",
    ),
    pytest.param(
        f"{C0}.command", ["py\x00"], [f'invalid value: "py\\u0000": {C0}.command[0]\n{NUL}'], id="command-nul"
    ),
    pytest.param(f"{C0}.args", ["ok", "-v\x00"], [f'invalid value: "-v\\u0000": {C0}.args[1]\n{NUL}'], id="args-nul"),
    pytest.param(
        f"{C0}.workingDir", "/tmp\x00", [f'invalid value: "/tmp\\u0000": {C0}.workingDir\n{NUL}'], id="working-dir-nul"
    ),
    pytest.param(
        f"{C0}.env",
        [{"name": "A", "value": "\udc80"}],
        [f"not valid UTF-8 (lone surrogate \\udc80): {C0}.env[0].value"],
        id="env-value-surrogate",
    ),
    pytest.param(
        f"{C0}.args", ["\ud800"], [f"not valid UTF-8 (lone surrogate \\ud800): {C0}.args[0]"], id="args-surrogate"
    ),
    pytest.param(
        f"{C0}.env",
        [{"name": "A=B", "value": "v"}],
        [f"invalid value: A=B: {C0}.env[0].name\n{ENV_NAME}"],
        id="env-name-equals",
    ),
    pytest.param(
        f"{C0}.env", [{"name": "A\tB"}], [f'invalid value: "A\\tB": {C0}.env[0].name\n{ENV_NAME}'], id="env-name-tab"
    ),
    pytest.param(
        f"{C0}.env", [{"name": "é"}], [f"invalid value: é: {C0}.env[0].name\n{ENV_NAME}"], id="env-name-non-ascii"
    ),
    pytest.param(
        f"{RES}",
        {"limits": {"cpu": "-1"}},
        [f"invalid value: -1: {RES}.limits.cpu\nmust be greater than or equal to 0"],
        id="cpu-negative",
    ),
    pytest.param(
        f"{RES}",
        {"requests": {"memory": -5}},
        [f"invalid value: -5: {RES}.requests.memory\nmust be greater than or equal to 0"],
        id="memory-negative-number",
    ),
    pytest.param(
        f"{RES}",
        {"limits": {"cpu": "1e400"}},
        [f"invalid value: 1e400: {RES}.limits.cpu\nmust be less than or equal to 9223372036854775807m"],
        id="cpu-absurd",
    ),
    pytest.param(
        f"{RES}",
        {"limits": {"memory": "lots"}},
        [
            f"invalid value: lots: {RES}.limits.memory\n"
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ],
        id="memory-not-a-quantity",
    ),
    pytest.param(
        f"{RES}",
        {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}},
        [f"invalid value: 2: {RES}.requests.cpu\nmust be less than or equal to cpu limit of 1"],
        id="request-over-limit",
    ),
    pytest.param(
        f"{RES}",
        {"limits": {"cpu": True}},
        [f'invalid type: got "boolean", expected "string or number": {RES}.limits.cpu'],
        id="cpu-bool",
    ),
    pytest.param(
        "spec.template.spec.containerConcurrency",
        True,
        ['invalid type: got "boolean", expected "integer": spec.template.spec.containerConcurrency'],
        id="bool-for-int64",
    ),
    pytest.param(
        "spec.template.spec.timeoutSeconds",
        5.0,
        ['invalid type: got "number", expected "integer": spec.template.spec.timeoutSeconds'],
        id="float-for-int64",
    ),
    pytest.param(
        f"{C0}.ports",
        [{"containerPort": 2**31}],
        [f"expected -2147483648 <= 2147483648 <= 2147483647: {C0}.ports[0].containerPort"],
        id="int32-overflow",
    ),
    pytest.param(
        f"{C0}.readinessProbe",
        {"tcpSocket": {"port": True}},
        [f'invalid type: got "boolean", expected "integer or string": {C0}.readinessProbe.tcpSocket.port'],
        id="bool-for-int-or-string",
    ),
    pytest.param(
        "spec.traffic",
        [{"latestRevision": "yes", "percent": 100}],
        ['invalid type: got "string", expected "boolean": spec.traffic[0].latestRevision'],
        id="string-for-bool",
    ),
    pytest.param(
        "spec.template.spec.securityContext",
        True,
        ['invalid type: got "boolean", expected "map": spec.template.spec.securityContext'],
        id="pod-security-context-not-a-map",
    ),
    pytest.param(
        f"{C0}.securityContext",
        {"runAsUser": True, "runAsNonRoot": "yes"},
        [
            f'invalid type: got "boolean", expected "integer": {C0}.securityContext.runAsUser',
            f'invalid type: got "string", expected "boolean": {C0}.securityContext.runAsNonRoot',
        ],
        id="security-context-types",
    ),
    pytest.param(
        f"{C0}.readinessProbe",
        {"httpGet": {"path": "/x\r\nX-Evil: 1", "httpHeaders": [{"name": "Bad Name", "value": "a\nb"}]}},
        [
            f'invalid value: "/x\\r\\nX-Evil: 1": {C0}.readinessProbe.httpGet.path\n'
            "must not contain control characters",
            f'invalid value: "a\\nb": {C0}.readinessProbe.httpGet.httpHeaders[0].value\n'
            "must not contain control characters",
            f"invalid value: Bad Name: {C0}.readinessProbe.httpGet.httpHeaders[0].name\n"
            "a valid HTTP header must consist of alphanumeric characters or '-' "
            "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
        ],
        id="probe-request-injection",
    ),
    pytest.param(
        "metadata.labels",
        "app=x",
        ['invalid type: got "string", expected "map": metadata.labels'],
        id="labels-not-a-map",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), PROCESS_CASES)
def test_input_hardening_errors(path: str, value: Any, expected: list[str]) -> None:
    errors = errors_of(SERVICE, with_path(service(), path, value))
    assert errors == sorted(expected)
    assert not any("Input should" in e or "valid dictionary" in e for e in errors)  # pydantic's words never leak


ANNOTATION_CASES = [
    pytest.param(
        ann(**{"class": "foo.knative.dev"}),
        f"invalid value: foo.knative.dev: {ANN}autoscaling.knative.dev/class",
        Config(),
        id="class",
    ),
    pytest.param(
        ann(metric="cpu"), f"invalid value: cpu: {ANN}autoscaling.knative.dev/metric", Config(), id="metric-kpa"
    ),
    pytest.param(
        ann(**{"class": "hpa.autoscaling.knative.dev", "metric": ""}),
        f"invalid value: : {ANN}autoscaling.knative.dev/metric",
        Config(),
        id="metric-hpa-empty",
    ),
    pytest.param(
        ann(metric="cpu"),
        None,
        Config(autoscaler=AutoscalerConfig(pod_autoscaler_class="hpa.autoscaling.knative.dev")),
        id="metric-follows-config-class",
    ),
    pytest.param(
        ann(target="-11"),
        f"target -11 should be at least 0.01: {ANN}autoscaling.knative.dev/target",
        Config(),
        id="target-min",
    ),
    pytest.param(
        ann(target="100}"), f"invalid value: 100}}: {ANN}autoscaling.knative.dev/target", Config(), id="target-invalid"
    ),
    pytest.param(
        ann(target_utilization_percentage="101"),
        f"expected 1 <= 101 <= 100: {ANN}autoscaling.knative.dev/target-utilization-percentage",
        Config(),
        id="target-utilization",
    ),
    pytest.param(
        raw_ann({"autoscaling.knative.dev/targetUtilizationPercentage": "0.5"}),
        f"expected 1 <= 0.5 <= 100: {ANN}autoscaling.knative.dev/targetUtilizationPercentage",
        Config(),
        id="target-utilization-alias",
    ),
    pytest.param(
        ann(window="1s"),
        f"expected 6s <= 1s <= 1h0m0s: {ANN}autoscaling.knative.dev/window",
        Config(),
        id="window-range",
    ),
    pytest.param(
        ann(window="10.5s"),
        f"must be specified with at most second precision: {ANN}autoscaling.knative.dev/window",
        Config(),
        id="window-precision",
    ),
    pytest.param(
        ann(window="soon"), f"invalid value: soon: {ANN}autoscaling.knative.dev/window", Config(), id="window-invalid"
    ),
    pytest.param(
        ann(panic_window_percentage="202"),
        f"expected 1 <= 202 <= 100: {ANN}autoscaling.knative.dev/panic-window-percentage",
        Config(),
        id="panic-window",
    ),
    pytest.param(
        ann(panic_threshold_percentage="109"),
        f"expected 110 <= 109 <= 1000: {ANN}autoscaling.knative.dev/panic-threshold-percentage",
        Config(),
        id="panic-threshold",
    ),
    pytest.param(
        ann(min_scale="-1"),
        f"expected 0 <= -1 <= 2147483647: {ANN}autoscaling.knative.dev/min-scale",
        Config(),
        id="min-scale-negative",
    ),
    pytest.param(
        ann(min_scale="foo"),
        f"invalid value: foo: {ANN}autoscaling.knative.dev/min-scale",
        Config(),
        id="min-scale-invalid",
    ),
    pytest.param(
        raw_ann({"autoscaling.knative.dev/minScale": "5", "autoscaling.knative.dev/maxScale": "2"}),
        f"max-scale=2 is less than min-scale=5: {ANN}autoscaling.knative.dev/max-scale, "
        f"{ANN}autoscaling.knative.dev/min-scale",
        Config(),
        id="max-less-than-min-aliases",
    ),
    pytest.param(
        ann(max_scale="11"),
        f"expected 1 <= 11 <= 10: {ANN}autoscaling.knative.dev/max-scale",
        Config(autoscaler=AutoscalerConfig(max_scale_limit=10)),
        id="max-scale-limit",
    ),
    pytest.param(
        ann(max_scale="0"),
        f"max-scale=0 (unlimited), must be less than 10: {ANN}autoscaling.knative.dev/max-scale",
        Config(autoscaler=AutoscalerConfig(max_scale_limit=10)),
        id="max-scale-unlimited-with-limit",
    ),
    pytest.param(
        ann(initial_scale="0"),
        f"invalid value: 0: {ANN}autoscaling.knative.dev/initial-scale=0 not allowed by cluster",
        Config(),
        id="initial-scale-zero",
    ),
    pytest.param(
        ann(initial_scale="0"),
        None,
        Config(autoscaler=AutoscalerConfig(allow_zero_initial_scale=True)),
        id="initial-scale-zero-allowed",
    ),
    pytest.param(
        ann(initial_scale="-1"),
        f"invalid value: -1: {ANN}autoscaling.knative.dev/initial-scale must be greater than 0",
        Config(),
        id="initial-scale-negative",
    ),
    pytest.param(
        ann(activation_scale="1"),
        f"activation-scale=1 must be greater than 1: {ANN}autoscaling.knative.dev/activation-scale",
        Config(),
        id="activation-scale-one",
    ),
    pytest.param(
        ann(activation_scale="2", min_scale="3"),
        f"min-scale=3 is greater than activation-scale=2: {ANN}autoscaling.knative.dev/activation-scale",
        Config(),
        id="activation-below-min",
    ),
    pytest.param(
        ann(activation_scale="2", max_scale="1"),
        f"max-scale=1 is less than activation-scale=2: {ANN}autoscaling.knative.dev/activation-scale",
        Config(),
        id="activation-above-max",
    ),
    pytest.param(
        ann(scale_down_delay="311m"),
        f"expected 0s <= 311m <= 1h0m0s: {ANN}autoscaling.knative.dev/scale-down-delay",
        Config(),
        id="scale-down-delay-range",
    ),
    pytest.param(
        ann(scale_down_delay="1.5s"),
        f"must be specified with at most second precision: {ANN}autoscaling.knative.dev/scale-down-delay",
        Config(),
        id="scale-down-delay-precision",
    ),
    pytest.param(
        ann(scale_to_zero_pod_retention_period="-42s"),
        f"expected 0s <= -42s <= 1h0m0s: {ANN}autoscaling.knative.dev/scale-to-zero-pod-retention-period",
        Config(),
        id="retention-period",
    ),
    pytest.param(
        ann(target_burst_capacity="-11"),
        f"invalid value: -11: {ANN}autoscaling.knative.dev/target-burst-capacity",
        Config(),
        id="target-burst-capacity",
    ),
    pytest.param(ann(target_burst_capacity="-1"), None, Config(), id="target-burst-capacity-unlimited"),
    pytest.param(
        ann(**{"class": "kpa.autoscaling.knative.dev", "metric_aggregation_algorithm": "random-selection"}),
        f"invalid value: random-selection: {ANN}autoscaling.knative.dev/metric-aggregation-algorithm",
        Config(),
        id="aggregation-algorithm",
    ),
    pytest.param(
        raw_ann({"serving.knative.dev/progress-deadline": "1.5s"}),
        f"progress-deadline=1.5s is not at second precision: {ANN}serving.knative.dev/progress-deadline",
        Config(),
        id="progress-deadline-precision",
    ),
    pytest.param(
        raw_ann({"serving.knative.dev/progress-deadline": "-10s"}),
        f"progress-deadline=-10s must be positive: {ANN}serving.knative.dev/progress-deadline",
        Config(),
        id="progress-deadline-negative",
    ),
    pytest.param(
        raw_ann({"serving.knative.dev/progress-deadline": "later"}),
        f"invalid value: later: {ANN}serving.knative.dev/progress-deadline",
        Config(),
        id="progress-deadline-invalid",
    ),
]


@pytest.mark.parametrize(("obj", "expected", "cfg"), ANNOTATION_CASES)
def test_annotation_errors(obj: dict[str, Any], expected: str | None, cfg: Config) -> None:
    if expected is None:
        admit(SERVICE, obj, None, cfg)
    else:
        assert errors_of(SERVICE, obj, cfg) == [expected]


ROUTE_CASES = [
    pytest.param(
        route(traffic=[{"percent": 100}]),
        ["expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName"],
        id="neither",
    ),
    pytest.param(
        route(traffic=[{"percent": 100, "configurationName": "hello", "revisionName": "hello-1"}]),
        ["expected exactly one, got both: spec.traffic[0].configurationName, spec.traffic[0].revisionName"],
        id="both",
    ),
    pytest.param(
        route(traffic=[{"percent": 100, "revisionName": "bad name!"}]),
        [
            'invalid key name "bad name!": spec.traffic[0].revisionName\n'
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ],
        id="revision-name-qualified",
    ),
    pytest.param(route(traffic=[]), ["Traffic targets sum to 0, want 100: spec.traffic"], id="no-default-traffic"),
    pytest.param(
        with_path(route(), "metadata.labels", {"serving.knative.dev/service": "hello"}),
        ["missing field(s): metadata.labels.serving.knative.dev/service"],
        id="service-label-without-owner",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), ROUTE_CASES)
def test_route_errors(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(ROUTE, obj) == expected


def test_configuration_label_requires_owner() -> None:
    obj = with_path(configuration(), "metadata.labels", {"serving.knative.dev/service": "hello"})
    assert errors_of(CONFIGURATION, obj) == ["missing field(s): metadata.labels.serving.knative.dev/service"]
    owned = with_path(
        obj,
        "metadata.ownerReferences",
        [{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello", "uid": "u1"}],
    )
    admit(CONFIGURATION, owned, None, Config())


def test_revision_label_requires_owner() -> None:
    obj = with_path(revision(), "metadata.labels", {"serving.knative.dev/configuration": "hello"})
    assert errors_of(REVISION, obj) == ["missing field(s): metadata.labels.serving.knative.dev/configuration"]


def test_container_concurrency_zero_disallowed_by_config() -> None:
    cfg = Config(defaults=DefaultsConfig(allow_container_concurrency_zero=False, container_concurrency=1))
    obj = with_path(service(), "spec.template.spec.containerConcurrency", 0)
    assert errors_of(SERVICE, obj, cfg) == ["expected 1 <= 0 <= 1000: spec.template.spec.containerConcurrency"]


def test_errors_are_all_collected_and_sorted() -> None:
    obj = with_path(service(traffic=[{"percent": 90}]), "spec.template.spec.timeoutSeconds", 601)
    obj = with_path(obj, "metadata.name", "Hello")
    with pytest.raises(Invalid) as info:
        admit(SERVICE, obj, None, Config())
    lines = str(info.value).split(": ", 1)[1].split("\n")
    assert str(info.value).startswith('Service "Hello" is invalid: ')
    assert lines == [
        "Traffic targets sum to 90, want 100: spec.traffic",
        "expected 0 <= 601 <= 600: spec.template.spec.timeoutSeconds",
        f"not a DNS 1035 label: {DNS1035}: metadata.name",
    ]


def test_same_message_errors_merge_their_paths() -> None:
    obj = with_path(service(), f"{C0}.env", [{"value": "a"}, {"value": "b"}])
    assert errors_of(SERVICE, obj) == [f"missing field(s): {C0}.env[0].name, {C0}.env[1].name"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(f"{C0}.command", ["python", "app.py"], id="command-only"),
        pytest.param(f"{C0}.envFrom", [{"configMapRef": {"name": "cm"}}], id="env-from"),
        pytest.param(
            f"{C0}.env", [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}], id="value-from"
        ),
        pytest.param("spec.template.spec.serviceAccountName", "builder", id="service-account"),
        pytest.param("spec.template.spec.imagePullSecrets", [{"name": "regcred"}], id="image-pull-secrets"),
        pytest.param(
            f"{C0}.securityContext", {"runAsNonRoot": True, "privileged": False}, id="container-security-context"
        ),
        pytest.param("spec.template.spec.automountServiceAccountToken", False, id="automount-false"),
        pytest.param(f"{C0}.ports", [{"containerPort": 9000, "name": "h2c"}], id="h2c-port"),
        pytest.param(f"{C0}.readinessProbe", {"httpGet": {"path": "/healthz", "port": "http"}}, id="probe-named-http"),
        pytest.param(f"{C0}.env", [{"name": "my.env-name", "value": "v"}], id="relaxed-env-name"),
        pytest.param(f"{C0}.env", [{"name": "A", "value": "café ☕"}], id="env-value-unicode"),
        pytest.param(
            f"{C0}.resources", {"limits": {"cpu": 0.5, "memory": "64Mi"}, "requests": {"cpu": "250m"}}, id="quantities"
        ),
    ],
)
def test_accepted_and_kept(path: str, value: Any) -> None:
    obj = service()
    obj = with_path(obj, C0, {"command": value}) if path == f"{C0}.command" else with_path(obj, path, value)
    out = admit(SERVICE, obj, None, Config())
    cur: Any = out
    for part in path.replace("[", ".[").split("."):
        cur = cur[int(part[1:-1])] if part.startswith("[") else cur[part]
    if isinstance(value, dict):
        assert value.items() <= cur.items()
    else:
        assert cur == value


@pytest.mark.parametrize(
    "path",
    ["metadata.annotations", "metadata.labels", "spec.template.metadata.annotations", "spec.traffic", f"{C0}.env"],
)
def test_null_is_absent(path: str) -> None:
    """``annotations:`` with nothing after it (as in Knative's docs) is absent, as in Go's decoding."""
    assert admit(SERVICE, with_path(service(), path, None), None, Config()) == admit(SERVICE, service(), None, Config())
