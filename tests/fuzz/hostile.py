"""A corpus of hostile manifests for ``zeroserve apply -f`` (issue 11, item 6).

Each :class:`Hostile` is the bytes of one file, the category it belongs to and what ``apply`` must
do with it: ``"error"`` (exit 1, every stderr line ``error: FILE: ...``), ``"ok"`` (exit 0: the
input is odd but valid, as in Kubernetes) or ``"either"``. ``must_say`` is a fragment the error
must contain (usually the field path). The corpus is pure data: ``tests/fuzz/test_hostile_cli.py``
runs it through the CLI in-process, ``bench/fuzz_manifests.py corpus`` through the real CLI in a
subprocess (tracebacks counted, the alias bomb's RSS measured).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Expect = Literal["ok", "error", "either"]

HEAD = "apiVersion: serving.knative.dev/v1\nkind: Service\n"
META = "metadata:\n  name: hostile\n"
C0 = "spec.template.spec.containers[0]"


@dataclass(frozen=True)
class Hostile:
    id: str
    category: str
    data: bytes
    expect: Expect = "error"
    must_say: str = ""


def service(meta: str = META, container: str = "", spec: str = "", extra: str = "") -> str:
    """A Service manifest with ``container`` lines added to its one container (6-space indent)."""
    return (
        HEAD
        + meta
        + "spec:\n  template:\n    spec:\n"
        + spec
        + "      containers:\n        - command: [python3, app.py]\n"
        + container
        + extra
    )


def _text(id_: str, category: str, text: str, expect: Expect = "error", must_say: str = "") -> Hostile:
    return Hostile(id_, category, text.encode("utf-8", "surrogatepass"), expect, must_say)


def _encoding() -> list[Hostile]:
    good = service()
    return [
        Hostile("latin1", "encoding", service(container="          env: [{name: A, value: café}]\n").encode("latin-1")),
        Hostile("utf16-bom", "encoding", good.encode("utf-16")),
        Hostile("utf16-no-bom", "encoding", good.encode("utf-16-le")),
        Hostile("binary", "encoding", bytes(range(256)) * 4),
        Hostile("truncated-utf8", "encoding", good.encode() + b"# \xc3"),
        Hostile("utf8-encoded-surrogate", "encoding", good.encode() + b"# \xed\xa0\x80\n"),
        Hostile("nul-byte-in-file", "encoding", good.encode() + b"\x00\n"),
        Hostile("utf8-bom", "encoding", b"\xef\xbb\xbf" + good.encode(), "ok"),
    ]


def _yaml_types() -> list[Hostile]:
    env = "          env:\n            - name: A\n              value: {}\n"
    ann = "metadata:\n  name: hostile\n  annotations:\n    {}\n"
    cc = "      containerConcurrency: {}\n"
    return [
        _text("date-name", "yaml-types", service(meta="metadata:\n  name: 2024-01-01\n"), must_say="metadata.name"),
        _text("date-annotation", "yaml-types", service(meta=ann.format("built: 2024-01-01")), "ok"),
        _text("timestamp-env", "yaml-types", service(container=env.format("2024-01-01T10:00:00Z")), "ok"),
        _text("binary-env", "yaml-types", service(container=env.format("!!binary aGVsbG8=")), must_say="env[0].value"),
        _text(
            "set-labels",
            "yaml-types",
            service(meta="metadata:\n  name: x\n  labels: !!set {a, b}\n"),
            must_say="metadata.labels",
        ),
        _text("set-document", "yaml-types", "!!set {a, b}\n"),
        _text(
            "omap-annotations",
            "yaml-types",
            service(meta="metadata:\n  name: x\n  annotations: !!omap [a: b]\n"),
            must_say="metadata.annotations",
        ),
        _text("pairs-spec", "yaml-types", HEAD + META + "spec: !!pairs [a: 1, a: 2]\n", must_say="spec"),
        _text("python-tag", "yaml-types", HEAD + META + "spec: !!python/object/apply:os.system [true]\n"),
        _text("inf-concurrency", "yaml-types", service(spec=cc.format(".inf")), must_say="containerConcurrency"),
        _text("nan-concurrency", "yaml-types", service(spec=cc.format(".nan")), must_say="containerConcurrency"),
        _text("float-concurrency", "yaml-types", service(spec=cc.format("5.5")), must_say="containerConcurrency"),
        _text("bool-concurrency", "yaml-types", service(spec=cc.format("true")), must_say="containerConcurrency"),
        _text("string-concurrency", "yaml-types", service(spec=cc.format('"5"')), must_say="containerConcurrency"),
        _text("int-label-key", "yaml-types", service(meta="metadata:\n  name: x\n  labels: {1: a}\n"), "either"),
        _text("null-label-key", "yaml-types", service(meta="metadata:\n  name: x\n  labels: {null: a}\n"), "either"),
        _text("complex-key", "yaml-types", service(meta="metadata:\n  name: x\n  labels: {? [a] : b}\n")),
    ]


def _metadata() -> list[Hostile]:
    body = "spec:\n  template:\n    spec:\n      containers: [{command: [python3, app.py]}]\n"

    def meta(id_: str, text: str, expect: Expect = "error", must_say: str = "metadata") -> Hostile:
        return _text(id_, "metadata", HEAD + text + body, expect, must_say)

    return [
        meta("metadata-null", "metadata:\n", must_say="metadata.name"),
        meta("metadata-list", "metadata: []\n"),
        meta("metadata-string", "metadata: hostile\n"),
        meta("metadata-int", "metadata: 5\n"),
        meta("metadata-missing", "", must_say="metadata.name"),
        meta("name-missing", "metadata: {namespace: default}\n", must_say="metadata.name"),
        meta("name-generate-only", "metadata: {generateName: x-}\n", must_say="metadata.name"),
        meta("name-int", "metadata: {name: 123}\n", must_say="metadata.name"),
        meta("name-list", "metadata: {name: [a]}\n", must_say="metadata.name"),
        meta("name-null", "metadata: {name: null}\n", must_say="metadata.name"),
        meta("name-bool", "metadata: {name: true}\n", must_say="metadata.name"),
        meta("namespace-bool", "metadata: {name: x, namespace: true}\n", must_say="metadata.namespace"),
        meta("namespace-yes", "metadata: {name: x, namespace: yes}\n", must_say="metadata.namespace"),
        meta("namespace-int", "metadata: {name: x, namespace: 7}\n", must_say="metadata.namespace"),
        meta("namespace-list", "metadata: {name: x, namespace: [a]}\n", must_say="metadata.namespace"),
        meta("namespace-null", "metadata: {name: x, namespace: null}\n", "ok"),
        meta("namespace-path", "metadata: {name: x, namespace: ../../x}\n", must_say="metadata.namespace"),
        meta("name-path", "metadata: {name: ../x}\n", must_say="metadata.name"),
    ]


def _annotations() -> list[Hostile]:
    def meta(id_: str, text: str, expect: Expect = "error", must_say: str = "") -> Hostile:
        return _text(id_, "labels-annotations", service(meta="metadata:\n  name: hostile\n" + text), expect, must_say)

    tmpl_null = HEAD + META + "spec:\n  template:\n    metadata:\n      annotations:\n    spec:\n"
    tmpl_null += "      containers: [{command: [python3, app.py]}]\n"
    return [
        meta("annotations-string", "  annotations: oops\n", must_say="metadata.annotations"),
        meta("annotations-list", "  annotations: [a, b]\n", must_say="metadata.annotations"),
        meta("annotations-empty", "  annotations:\n", "ok"),  # as in Knative's docs: null means absent
        meta("labels-empty", "  labels:\n", "ok"),
        meta("labels-int-value", "  labels: {a: 1}\n", must_say="metadata.labels.a"),
        meta("annotations-bool-value", "  annotations: {a: true}\n", must_say="metadata.annotations.a"),
        meta("annotations-map-value", "  annotations: {a: {b: c}}\n", must_say="metadata.annotations.a"),
        meta("annotations-null-value", "  annotations: {a: null}\n", must_say="metadata.annotations.a"),
        _text("template-annotations-empty", "labels-annotations", tmpl_null, "ok"),
    ]


def _shapes() -> list[Hostile]:
    def spec(id_: str, text: str, must_say: str = "spec") -> Hostile:
        return _text(id_, "shape", HEAD + META + text, "error", must_say)

    def cont(id_: str, text: str, must_say: str = C0) -> Hostile:
        return _text(id_, "shape", service(container=text), "error", must_say)

    containers = "spec:\n  template:\n    spec:\n      containers: {}\n"
    return [
        spec("spec-null", "spec:\n"),
        spec("spec-string", "spec: run it\n"),
        spec("spec-list", "spec: [a]\n"),
        spec("template-string", "spec:\n  template: x\n", "spec.template"),
        spec("containers-map", containers.format("{command: [a]}"), "spec.template.spec.containers"),
        spec("containers-null", containers.format("null"), "spec.template.spec.containers"),
        spec("container-string", containers.format("[python3]"), "spec.template.spec.containers[0]"),
        cont("env-string", "          env: A=B\n", C0 + ".env"),
        cont("env-item-string", "          env: [A=B]\n", C0 + ".env[0]"),
        cont("env-value-int", "          env: [{name: A, value: 1}]\n", C0 + ".env[0].value"),
        _text(
            "command-string",
            "shape",
            HEAD + META + containers.format("[{command: python3 app.py}]"),
            "error",
            C0 + ".command",
        ),
        cont("args-ints", "          args: [1, 2]\n", C0 + ".args[0]"),
        cont("ports-string", "          ports: '8080'\n", C0 + ".ports"),
        _text("traffic-map", "shape", service(extra="  traffic: {percent: 100}\n"), "error", "spec.traffic"),
        _text(
            "percent-string",
            "shape",
            service(extra="  traffic: [{latestRevision: true, percent: '100'}]\n"),
            "error",
            "spec.traffic[0].percent",
        ),
        _text(
            "percent-bool",
            "shape",
            service(extra="  traffic: [{latestRevision: true, percent: true}]\n"),
            "error",
            "spec.traffic[0].percent",
        ),
        _text("kind-list", "shape", "apiVersion: serving.knative.dev/v1\nkind: [Service]\n" + META),
        _text("api-version-int", "shape", "apiVersion: 1\nkind: Service\n" + META),
        _text("unknown-kind", "shape", "apiVersion: v1\nkind: Pod\n" + META, must_say="Pod"),
        _text("list-items-scalars", "shape", "apiVersion: v1\nkind: List\nitems: [1, 2]\n", must_say="items[0]"),
        _text("top-scalar", "shape", "hello\n"),
        _text("top-list", "shape", "- a\n- b\n"),
    ]


def _text_hazards() -> list[Hostile]:
    env = "          env:\n            - name: {}\n              value: {}\n"
    return [
        _text("surrogate-env", "text", service(container=env.format("A", '"\\ud800"')), must_say=C0 + ".env[0].value"),
        _text("surrogate-name", "text", service(meta='metadata:\n  name: "x\\udc80"\n'), must_say="metadata.name"),
        _text(
            "surrogate-annotation-key",
            "text",
            service(meta='metadata:\n  name: x\n  annotations: {"\\ud800": v}\n'),
            must_say="metadata.annotations",
        ),
        Hostile(
            "surrogate-json",
            "text",
            _json_service(env=[{"name": "A", "value": "\udc80"}]),
            must_say=C0 + ".env[0].value",
        ),
        _text("nul-env-value", "text", service(container=env.format("A", '"a\\0b"')), must_say=C0 + ".env[0].value"),
        _text(
            "nul-command",
            "text",
            HEAD + META + 'spec:\n  template:\n    spec:\n      containers: [{command: ["py\\0"]}]\n',
            must_say=C0 + ".command[0]",
        ),
        _text("nul-args", "text", service(container='          args: ["-v\\0"]\n'), must_say=C0 + ".args[0]"),
        _text(
            "nul-working-dir",
            "text",
            service(container='          workingDir: "/tmp\\0"\n'),
            must_say=C0 + ".workingDir",
        ),
        _text("env-name-equals", "text", service(container=env.format("A=B", "v")), must_say=C0 + ".env[0].name"),
        _text("env-name-tab", "text", service(container=env.format('"A\\tB"', "v")), must_say=C0 + ".env[0].name"),
        _text("env-name-non-ascii", "text", service(container=env.format("É", "v")), must_say=C0 + ".env[0].name"),
        _text("env-name-dotted", "text", service(container=env.format("my.env-name", "v")), "ok"),
        _text("nul-annotation", "text", service(meta='metadata:\n  name: x\n  annotations: {a: "\\0"}\n'), "either"),
        _text(
            "control-chars-name", "text", service(meta='metadata:\n  name: "a\\x1b[31m"\n'), must_say="metadata.name"
        ),
    ]


def _json_service(env: list[dict[str, str]]) -> bytes:
    doc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hostile"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python3"], "env": env}]}}},
    }
    return json.dumps(doc).encode()


def _quantities() -> list[Hostile]:
    def res(id_: str, text: str, expect: Expect = "error", field: str = "limits.cpu") -> Hostile:
        container = f"          resources:\n            {text}\n"
        return _text(
            id_,
            "quantity",
            service(container=container),
            expect,
            f"{C0}.resources.{field}" if expect == "error" else "",
        )

    return [
        res("cpu-negative", 'limits: {cpu: "-1"}'),
        res("cpu-1e400", "limits: {cpu: 1e400}"),
        res("cpu-inf-float", "limits: {cpu: 1.0e+400}"),
        res("memory-garbage", "requests: {memory: lots}", field="requests.memory"),
        res("memory-bool", "limits: {memory: true}", field="limits.memory"),
        res("memory-negative-number", "requests: {memory: -5}", field="requests.memory"),
        res("cpu-number", "limits: {cpu: 0.5}", "ok"),
        res("memory-suffix", "limits: {memory: 64Mi}", "ok"),
    ]


def _nested(depth: int, flow: str = "[]") -> str:
    return flow[0] * depth + flow[1] * depth


def _sizes() -> list[Hostile]:
    cc = "      containerConcurrency: {}\n"
    return [
        _text("deep-list-500", "size", service(extra="  x: " + _nested(500) + "\n")),
        _text("deep-list-5000", "size", service(extra="  x: " + _nested(5000) + "\n")),
        _text("deep-map-500", "size", service(extra="  x: " + "{a: " * 500 + "1" + "}" * 500 + "\n")),
        _text("deep-block-300", "size", HEAD + META + "".join(f"{'  ' * i}k:\n" for i in range(300))),
        _text("int-5000-digits", "size", service(spec=cc.format("9" * 5000))),
        _text("int-25-digits", "size", service(spec=cc.format("9" * 25)), must_say="containerConcurrency"),
        _text("negative-huge-int", "size", service(spec=cc.format("-" + "9" * 40)), must_say="containerConcurrency"),
        _text("timeout-huge", "size", service(spec="      timeoutSeconds: 1e400\n"), must_say="timeoutSeconds"),
        _text(
            "annotation-2mib",
            "size",
            service(meta="metadata:\n  name: x\n  annotations: {a: " + "x" * (2 << 20) + "}\n"),
        ),
    ]


def _aliases() -> list[Hostile]:
    shared = "          env: &env [{name: A, value: b}]\n"
    benign = service(container=shared) + "        - name: side\n          command: [sleep]\n          env: *env\n"
    return [
        _text("alias-bomb", "alias", bomb(9, 10)),
        _text("alias-bomb-small", "alias", bomb(6, 10)),
        _text("alias-recursive-list", "alias", HEAD + META + "spec: &a [*a]\n"),
        _text("alias-recursive-map", "alias", HEAD + "metadata: &m {name: x, labels: *m}\n"),
        _text("alias-benign", "alias", benign, "either"),
    ]


def bomb(levels: int, fanout: int) -> str:
    """Billion laughs: ``fanout ** levels`` strings once expanded (10**9 for 9 levels of 10)."""
    anchors = ['  a0: &a0 "lol"\n']
    anchors += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]\n" for i in range(1, levels + 1)]
    return "anchors:\n" + "".join(anchors) + HEAD + META + f"spec: *a{levels}\n"


def _duplicates() -> list[Hostile]:
    two = service() + "---\n" + service()
    return [
        _text("duplicate-documents", "duplicates", two, must_say="hostile"),
        _text(
            "duplicate-key",
            "duplicates",
            HEAD + "metadata:\n  name: a\n  name: b\n" + service()[len(HEAD + META) :],
            must_say='"name" already defined at line 4',
        ),
        _text(
            "duplicate-flow-key",
            "duplicates",
            service(meta="metadata: {name: a, name: a}\n"),
            must_say='"name" already defined',
        ),
    ]


def corpus() -> list[Hostile]:
    """Every hostile input, in a stable order (ids are unique)."""
    return [
        *_encoding(),
        *_yaml_types(),
        *_metadata(),
        *_annotations(),
        *_shapes(),
        *_text_hazards(),
        *_quantities(),
        *_sizes(),
        *_aliases(),
        *_duplicates(),
    ]
