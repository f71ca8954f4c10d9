"""``describe``: a human summary of one resource, laid out as ``kn ... describe`` does."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime

from zeroserve.api import kinds, labels
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.cli import output
from zeroserve.cli.client import ApiClient

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SCALE_KEYS = ("autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale")


def _kv(items: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(items.items()))


def _field(lines: list[str], label: str, value: object, indent: str = "") -> None:
    if value not in (None, "", [], {}):
        lines.append(f"{indent}{label + ':':<14}{value}")


def _header(obj: Obj, now: datetime) -> list[str]:
    meta = obj.get("metadata", {})
    lines: list[str] = []
    _field(lines, "Name", meta.get("name"))
    _field(lines, "Namespace", meta.get("namespace"))
    _field(lines, "Labels", _kv(meta.get("labels") or {}))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    _field(lines, "Annotations", _kv(annotations))
    _field(lines, "Age", output.age(meta.get("creationTimestamp"), now))
    return lines


def _template(spec: Obj, annotations: dict[str, str], indent: str) -> list[str]:
    lines: list[str] = []
    for c in spec.get("containers") or []:
        _field(lines, "Image", c.get("image"), indent)
        _field(lines, "Command", " ".join(c.get("command") or []), indent)
        _field(lines, "Args", " ".join(c.get("args") or []), indent)
        _field(lines, "Env", ", ".join(_env(e) for e in c.get("env") or []), indent)
        _field(lines, "EnvFrom", ", ".join(_env_from(e) for e in c.get("envFrom") or []), indent)
        _field(lines, "Port", ", ".join(str(p.get("containerPort")) for p in c.get("ports") or []), indent)
        _field(lines, "Working dir", c.get("workingDir"), indent)
    _field(lines, "Concurrency", spec.get("containerConcurrency"), indent)
    lo, hi = (annotations.get(k) for k in SCALE_KEYS)
    if lo or hi:
        _field(lines, "Scale", f"{lo or 0} ... {hi or '∞'}", indent)
    return lines


def _env(var: Obj) -> str:
    """kn's ``stringifyEnv``: a value from a ConfigMap or Secret shows as ``[ref]``."""
    return f"{var.get('name')}={'[ref]' if var.get('valueFrom') else var.get('value', '')}"


def _env_from(source: Obj) -> str:
    """kn's ``stringifyEnvFrom``: ``cm:NAME`` / ``secret:NAME``."""
    if source.get("configMapRef"):
        return f"cm:{source['configMapRef'].get('name', '')}"
    return f"secret:{(source.get('secretRef') or {}).get('name', '')}"


def _traffic_lines(traffic: Sequence[Obj], indent: str = "  ") -> list[str]:
    lines = []
    for t in traffic:
        name = "@latest" if t.get("latestRevision") else ""
        rev = t.get("revisionName") or ""
        target = f"{name} ({rev})" if name and rev else (name or rev)
        tag = f" #{t['tag']}" if t.get("tag") else ""
        url = f" {t['url']}" if t.get("url") else ""
        lines.append(f"{indent}{int(t.get('percent') or 0):>3}%  {target}{tag}{url}")
    return lines


def _conditions(obj: Obj, now: datetime) -> list[str]:
    table = output.conditions_table(obj, now)
    return ["Conditions:", *("  " + line for line in table.splitlines())]


def service(client: ApiClient, obj: Obj, now: datetime) -> list[str]:
    status, spec = obj.get("status", {}), obj.get("spec", {})
    lines = _header(obj, now)
    _field(lines, "URL", status.get("url"))
    template = spec.get("template", {})
    lines += _template(template.get("spec", {}), template.get("metadata", {}).get("annotations") or {}, "")
    ns, name = obj["metadata"].get("namespace", "default"), obj["metadata"]["name"]
    revs = client.list(kinds.REVISION, ns, f"{labels.SERVICE}={name}").get("items") or []
    traffic = status.get("traffic") or spec.get("traffic") or []
    lines.append("")
    lines.append("Revisions:")
    for rev in sorted(revs, key=generation, reverse=True):
        rname = rev["metadata"]["name"]
        hits = [t for t in traffic if t.get("revisionName") == rname]
        if not hits and rname == status.get("latestReadyRevisionName"):
            hits = [t for t in traffic if t.get("latestRevision") and not t.get("revisionName")]
        percent = sum(int(t.get("percent") or 0) for t in hits)
        tags = ",".join(t["tag"] for t in hits if t.get("tag"))
        latest = "@latest " if rname == status.get("latestReadyRevisionName") else ""
        ready, reason = output.ready_columns(rev)
        mark = {"True": "+", "False": "!"}.get(ready, "?")
        lines.append(
            f"  {percent:>3}%  {mark} {latest}{rname}" + (f" #{tags}" if tags else "") + f" [{generation(rev)}]"
            f" ({output.age(rev['metadata'].get('creationTimestamp'), now)})" + (f" {reason}" if reason else "")
        )
    if not revs:
        lines.append("  (none)")
    lines.append("")
    return [*lines, *_conditions(obj, now)]


def generation(rev: Obj) -> int:
    value = (rev.get("metadata", {}).get("labels") or {}).get(labels.CONFIGURATION_GENERATION, "0")
    return int(value) if str(value).isdigit() else 0


def revision(obj: Obj, now: datetime) -> list[str]:
    meta, status = obj.get("metadata", {}), obj.get("status", {})
    lines = _header(obj, now)
    lab = meta.get("labels") or {}
    _field(lines, "Service", lab.get(labels.SERVICE))
    _field(lines, "Configuration", lab.get(labels.CONFIGURATION))
    _field(lines, "Generation", lab.get(labels.CONFIGURATION_GENERATION))
    lines += _template(obj.get("spec", {}), meta.get("annotations") or {}, "")
    _field(lines, "Replicas", f"{status.get('actualReplicas', 0)}/{status.get('desiredReplicas', 0)}")
    lines.append("")
    return [*lines, *_conditions(obj, now)]


def route(obj: Obj, now: datetime) -> list[str]:
    status = obj.get("status", {})
    lines = _header(obj, now)
    _field(lines, "URL", status.get("url"))
    lines += [
        "",
        "Traffic Targets:",
        *_traffic_lines(status.get("traffic") or obj.get("spec", {}).get("traffic") or []),
    ]
    lines.append("")
    return [*lines, *_conditions(obj, now)]


def configuration(obj: Obj, now: datetime) -> list[str]:
    status = obj.get("status", {})
    lines = _header(obj, now)
    _field(lines, "Latest created", status.get("latestCreatedRevisionName"))
    _field(lines, "Latest ready", status.get("latestReadyRevisionName"))
    template = obj.get("spec", {}).get("template", {})
    lines += _template(template.get("spec", {}), template.get("metadata", {}).get("annotations") or {}, "")
    lines.append("")
    return [*lines, *_conditions(obj, now)]


def domain_mapping(obj: Obj, now: datetime) -> list[str]:
    """knative/client ``pkg/commands/domain/describe.go``: URL, the reference, the conditions."""
    meta, ref = obj.get("metadata", {}), obj.get("spec", {}).get("ref") or {}
    lines = _header(obj, now)
    lines.append("")
    _field(lines, "URL", obj.get("status", {}).get("url"))
    lines += ["", "Reference:"]
    _field(lines, "APIVersion", ref.get("apiVersion"), "  ")
    _field(lines, "Kind", ref.get("kind"), "  ")
    _field(lines, "Name", ref.get("name"), "  ")
    if ref.get("namespace") != meta.get("namespace"):
        _field(lines, "Namespace", ref.get("namespace"), "  ")
    lines.append("")
    return [*lines, *_conditions(obj, now)]


# -- core kinds, laid out as kubectl describe (k8s.io/kubectl pkg/describe/describe.go) ------------


def tabbed(lines: Sequence[str]) -> str:
    """kubectl's tabwriter (padding 2): in each run of lines holding a tab, the text before the tab
    is padded to the run's widest plus two."""
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(head) for head, _ in run), default=0) + 2
        out.extend(f"{head:<{width}}{rest}" for head, rest in run)
        run.clear()

    for line in lines:
        if "\t" in line:
            head, _, rest = line.partition("\t")
            run.append((head, rest))
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


def _multiline(title: str, items: dict[str, str], sep: str) -> list[str]:
    """``printLabelsMultiline`` (``k=v``) / ``printAnnotationsMultiline`` (``k: v``, no last-applied)."""
    keys = sorted(k for k in items if k != LAST_APPLIED)
    if not keys:
        return [f"{title}:\t<none>"]
    return [f"{title + ':' if i == 0 else ''}\t{k}{sep}{items[k]}" for i, k in enumerate(keys)]


def _core_header(meta: Obj, namespaced: bool = True) -> list[str]:
    lines = [f"Name:\t{meta.get('name', '')}"]
    if namespaced:
        lines.append(f"Namespace:\t{meta.get('namespace', '')}")
    return [
        *lines,
        *_multiline("Labels", meta.get("labels") or {}, "="),
        *_multiline("Annotations", meta.get("annotations") or {}, ": "),
    ]


def secret_lines(obj: Obj) -> list[str]:
    """``describeSecret``: keys and their sizes in bytes, never a value."""
    lines = [*_core_header(obj.get("metadata", {})), "", f"Type:\t{obj.get('type', '')}", "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        lines.append(f"{key}:\t{len(_decoded(value))} bytes")
    return lines


def _decoded(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return str(value).encode()


def config_map_lines(obj: Obj) -> list[str]:
    """``ConfigMapDescriber``: each key and its value, then binaryData keys and sizes."""
    lines = [*_core_header(obj.get("metadata", {})), "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        lines += [f"{key}:", "----", str(value), ""]
    lines += ["", "BinaryData", "===="]
    for key, value in sorted((obj.get("binaryData") or {}).items()):
        lines.append(f"{key}: {len(_decoded(value))} bytes")
    return [*lines, ""]


def namespace_lines(obj: Obj) -> list[str]:
    """``describeNamespace``: name, labels, annotations, phase."""
    phase = obj.get("status", {}).get("phase", "")
    return [*_core_header(obj.get("metadata", {}), namespaced=False), f"Status:\t{phase}"]


CORE_DESCRIBERS = {"Secret": secret_lines, "ConfigMap": config_map_lines, "Namespace": namespace_lines}


def describe(client: ApiClient, kind: Kind, namespace: str, name: str, now: datetime) -> str:
    obj = client.get(kind, namespace, name)
    if not kind.group and kind.kind in CORE_DESCRIBERS:
        return tabbed(CORE_DESCRIBERS[kind.kind](obj))
    if kind is kinds.SERVICE:
        lines = service(client, obj, now)
    elif kind is kinds.REVISION:
        lines = revision(obj, now)
    elif kind is kinds.ROUTE:
        lines = route(obj, now)
    elif kind is kinds.DOMAINMAPPING:
        lines = domain_mapping(obj, now)
    else:
        lines = configuration(obj, now)
    return "\n".join(lines)
