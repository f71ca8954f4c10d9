"""kubectl's generic verbs on Knative resources: apply, get, describe, delete.

Each function takes an :class:`ApiClient` and returns the process exit code; documents go to
stdout, progress and errors to stderr.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroserve import errors
from zeroserve.api import kinds, labels, printercolumns, printers, validation
from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.api.loading import load_manifest
from zeroserve.api.meta import ObjectMeta
from zeroserve.cli import output, printing
from zeroserve.cli.client import ApiClient
from zeroserve.cli.wait import NotReady, wait_ready

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
WAITABLE = (kinds.SERVICE, kinds.CONFIGURATION, kinds.ROUTE, kinds.DOMAINMAPPING)


def err(line: str) -> None:
    print(output.terminal_safe(line), file=sys.stderr)


def resource_kind(name: str) -> Kind:
    kind = kinds.lookup(name)
    if kind is None:
        raise errors.BadRequest(f'the server doesn\'t have a resource type "{name}"')
    return kind


RBAC_KINDS = frozenset(
    {
        ("v1", "ServiceAccount"),
        *(("rbac.authorization.k8s.io/v1", k) for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")),
    }
)
"""Kubernetes' RBAC kinds, which Knative's samples apply (the ApiServerSource's) and zeroserve refuses."""
WORKLOAD_KINDS = frozenset(
    {("apps/v1", k) for k in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet")}
    | {("batch/v1", k) for k in ("Job", "CronJob")}
)
"""Kubernetes' workload kinds, which Knative's samples apply (the SinkBinding's CronJob) and zeroserve refuses."""


def _unserved_hint(api_version: str, kind: str) -> str:
    if (api_version, kind) in RBAC_KINDS:
        return (
            " (zeroserve has no RBAC: every client with DATA/token may do everything, so ServiceAccounts, "
            "Roles and their bindings are not served; leave them out, an ApiServerSource's serviceAccountName "
            "is accepted without one)"
        )
    if (api_version, kind) in WORKLOAD_KINDS:
        return (
            " (zeroserve runs Knative Services and ContainerSources, not Kubernetes workloads: a "
            "ContainerSource runs a process or an image kept running with K_SINK, and is what a "
            "SinkBinding binds here)"
        )
    return ""


def qualified(kind: Kind, plural: bool = False) -> str:
    """kubectl's resource name: ``service.serving.knative.dev``, ``secret`` for the core group."""
    name = kind.plural if plural else kind.singular
    return f"{name}.{kind.group}" if kind.group else name


def ref(kind: Kind, name: str) -> str:
    """kubectl's ``service.serving.knative.dev/hello`` (``secret/db``)."""
    return f"{qualified(kind)}/{name}"


# -- apply -----------------------------------------------------------------------------------------


@dataclass
class _Doc:
    source: str
    where: str
    kind: Kind
    obj: Obj
    existing: Obj | None = None
    unchanged: bool = False

    @property
    def name(self) -> str:
        return str(self.obj["metadata"].get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace") or "default")

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind.plural, self.namespace, self.name


def decode_text(raw: bytes, source: str) -> str:
    """UTF-8 text (a UTF-8 byte order mark is dropped), else BadRequest saying where it stops being
    so; a NUL byte is refused too (no manifest holds one; UTF-16 text is full of them)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at, what = e.start, f"byte 0x{raw[e.start]:02x}"
    else:
        if "\x00" not in text:
            return text
        at, what = raw.index(b"\x00"), "a NUL byte"
    line = raw.count(b"\n", 0, at) + 1
    column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
    hint = " (UTF-16?)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4] else ""
    raise errors.BadRequest(f"{source}: not UTF-8 text{hint}: {what} at line {line}, column {column}")


def _read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def read_sources(paths: Sequence[str], stdin: Callable[[], bytes] = _read_stdin) -> list[tuple[str, str]]:
    """``(source, text)`` for each ``-f``: a file, ``-`` for stdin, or a directory's manifests."""
    out: list[tuple[str, str]] = []
    for p in paths:
        try:
            if p == "-":
                out.append(("<stdin>", decode_text(stdin(), "<stdin>")))
                continue
            path = Path(p)
            if path.is_dir():
                files = sorted(f for f in path.iterdir() if f.suffix in MANIFEST_SUFFIXES and f.is_file())
                out.extend((str(f), decode_text(f.read_bytes(), str(f))) for f in files)
            elif path.is_file():
                out.append((p, decode_text(path.read_bytes(), p)))
            else:
                raise errors.BadRequest(f'the path "{p}" does not exist')
        except OSError as e:
            raise errors.BadRequest(f"{p}: {e.strerror or e}") from None
    return out


def _metadata(obj: Obj) -> list[errors.FieldError]:
    """Decode ``metadata`` as Kubernetes does (null is absent) and put the decoded form back;
    the errors, if any, in Knative's words with paths."""
    raw = obj.get("metadata")
    meta, errs = validation.parse(ObjectMeta, {} if raw is None else raw)
    if meta is None:
        return validation.via(errs, "metadata")
    decoded = {k: v for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}
    for key in ("labels", "annotations"):
        if not decoded.get(key):
            decoded.pop(key, None)
    obj["metadata"] = decoded
    if not meta.name:
        return [validation.err_missing("metadata.name")]
    return []


def _documents(sources: list[tuple[str, str]], namespace: str | None) -> tuple[list[_Doc], list[str]]:
    docs: list[_Doc] = []
    problems: list[str] = []
    for source, text in sources:
        try:
            loaded = load_manifest(text, source)
        except errors.ApiError as e:
            problems.extend(e.message.split("\n"))  # one problem a line (not splitlines: a \r is no break)
            continue
        for document in loaded:
            obj, where = document.obj, f"{source}: {document.where}"
            kind = kinds.served(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if kind is None:
                problems.append(
                    f'{where}: no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"'
                    + _unserved_hint(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
                )
                continue
            bad = _metadata(obj)
            if bad:
                problems.extend(f"{where}: {kind.kind}: {output.field_error(fe)}" for fe in bad)
                continue
            meta = obj["metadata"]
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                problems.append(
                    f'{where}: the namespace from the provided object "{meta["namespace"]}" does not match '
                    f'the namespace "{namespace}". Pass --namespace={meta["namespace"]}.'
                )
                continue
            meta["namespace"] = meta.get("namespace") or namespace or "default"
            docs.append(_Doc(source, document.where, kind, obj))
    return docs, problems + _duplicates(docs)


def _duplicates(docs: Sequence[_Doc]) -> list[str]:
    """kubectl would write the first and then update it with the second: a file holding one object
    twice is a mistake, refused before anything is written."""
    first: dict[tuple[str, str, str], _Doc] = {}
    problems: list[str] = []
    for doc in docs:
        seen = first.setdefault(doc.key, doc)
        if seen is not doc:
            also = seen.where if seen.source == doc.source else f"{seen.where} of {seen.source}"
            problems.append(f"{doc.source}: {doc.where}: {ref(doc.kind, doc.name)}: defined twice (also {also})")
    return problems


def three_way(live: object, last: object, desired: object) -> object:
    """kubectl apply's merge: ``desired`` wins, keys the last apply set and the file dropped are
    removed, and keys only the server set (defaults such as ``enableServiceLinks``) are kept.
    Lists are replaced whole."""
    if not (isinstance(live, dict) and isinstance(desired, dict)):
        return copy.deepcopy(desired)
    last_map = last if isinstance(last, dict) else {}
    out = {k: v for k, v in live.items() if k in desired or k not in last_map}
    for key, value in desired.items():
        out[key] = three_way(live.get(key), last_map.get(key), value)
    return out


ENVELOPE = ("apiVersion", "kind", "metadata", "status")
SECRET_VALUES = ("data", "stringData")


def content(obj: Obj) -> Obj:
    """What an object holds besides its envelope: ``spec`` for Knative's kinds, ``data``,
    ``binaryData``, ``type``, ``immutable`` for ConfigMaps and Secrets."""
    return {k: v for k, v in obj.items() if k not in ENVELOPE}


def _applied(obj: Obj) -> Obj:
    """What the file said: the part of it ``last-applied-configuration`` records. A Secret's values
    are left out of it (kubectl keeps them there, in every copy of the object): only its keys, which
    are all the three-way merge reads of it."""
    meta = obj.get("metadata", {})
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if meta.get(k)}
    if keep.get("annotations"):
        keep["annotations"] = {k: v for k, v in keep["annotations"].items() if k != LAST_APPLIED}
        if not keep["annotations"]:
            del keep["annotations"]
    body = content(obj)
    if (obj.get("apiVersion"), obj.get("kind")) == ("v1", "Secret"):
        for key in SECRET_VALUES:
            if isinstance(body.get(key), dict):
                body[key] = dict.fromkeys(body[key], "")
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": keep, **body}


def _with_last_applied(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    annotations = out.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[LAST_APPLIED] = json.dumps(_applied(obj), sort_keys=True, separators=(",", ":"))
    return out


def _merged(existing: Obj, wanted: Obj) -> Obj:
    """The existing object updated three-way with the file (resourceVersion kept, status left out)."""
    try:
        last: Obj = json.loads((existing.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED, "{}"))
    except ValueError:
        last = {}
    desired = _with_last_applied(wanted)
    out = copy.deepcopy(existing)
    meta, new_meta, last_meta = out.setdefault("metadata", {}), desired["metadata"], last.get("metadata", {})
    for key in ("labels", "annotations"):
        meta[key] = three_way(meta.get(key) or {}, last_meta.get(key) or {}, new_meta.get(key) or {})
    desired_content = content(wanted)
    if "spec" in existing:
        desired_content["spec"] = wanted.get("spec") or {}
    merged = three_way(content(existing), _last_content(last), desired_content)
    assert isinstance(merged, dict)
    out = {k: v for k, v in out.items() if k in ENVELOPE and k != "status"}
    out.update(merged)
    return out


def _last_content(last: Obj) -> Obj:
    """The last apply's content; a Secret's ``stringData`` keys count as ``data`` keys it set (the
    server merges them there), so a key the file drops from either is removed."""
    out = content(last)
    if (last.get("apiVersion"), last.get("kind")) == ("v1", "Secret") and isinstance(out.get("stringData"), dict):
        out["data"] = {**(out.get("data") or {}), **out["stringData"]}
    return out


def _essence(obj: Obj) -> tuple[object, object, object]:
    meta = obj.get("metadata", {})
    return meta.get("labels") or {}, meta.get("annotations") or {}, content(obj)


def _dry_run(client: ApiClient, doc: _Doc) -> list[str]:
    try:
        try:
            doc.existing = client.get(doc.kind, doc.namespace, doc.name)
        except errors.NotFound:
            client.create(doc.kind, _with_last_applied(doc.obj), dry_run=True)
            return []
        result = client.update(doc.kind, _merged(doc.existing, doc.obj), dry_run=True)
        doc.unchanged = _essence(result) == _essence(doc.existing)
        return []
    except errors.Invalid as e:
        return [f"{doc.source}: {ref(doc.kind, doc.name)}: {output.field_error(fe)}" for fe in e.errors]
    except errors.ApiError as e:
        return [f"{doc.source}: {ref(doc.kind, doc.name)}: {e.message}"]


def _write(client: ApiClient, doc: _Doc) -> str:
    if doc.existing is None:
        client.create(doc.kind, _with_last_applied(doc.obj))
        return "created"
    if doc.unchanged:
        return "unchanged"
    for _ in range(3):
        try:
            client.update(doc.kind, _merged(doc.existing, doc.obj))
            return "configured"
        except errors.Conflict:
            doc.existing = client.get(doc.kind, doc.namespace, doc.name)
    client.update(doc.kind, _merged(doc.existing, doc.obj))
    return "configured"


def apply(client: ApiClient, paths: Sequence[str], namespace: str | None, wait: bool, timeout: float) -> int:
    """Dry-run every document first (a bad file writes nothing), then create or update each."""
    docs, problems = _documents(read_sources(paths), namespace)
    for doc in docs:
        problems.extend(_dry_run(client, doc))
    if problems:
        for line in problems:
            err(f"error: {line}")
        return 1
    if not docs:
        err("error: no objects passed to apply")
        return 1
    for doc in docs:
        print(f"{ref(doc.kind, doc.name)} {_write(client, doc)}")
    if not wait:
        return 0
    code = 0
    for doc in docs:
        if doc.kind not in WAITABLE:
            continue
        try:
            wait_ready(client, doc.kind, doc.namespace, doc.name, timeout)
            err(f"{ref(doc.kind, doc.name)} is ready")
        except NotReady as e:
            err(f"error: {ref(doc.kind, doc.name)} is not ready: {e}")
            code = 1
    return code


# -- get -------------------------------------------------------------------------------------------


def _label(obj: Obj, key: str) -> str:
    return str((obj.get("metadata", {}).get("labels") or {}).get(key, ""))


def _num(value: object) -> str:
    return "" if value is None else str(value)


COLUMNS: dict[str, tuple[tuple[str, ...], Callable[[Obj], list[str]]]] = {
    "services": (
        ("NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"),
        lambda o: [
            o["metadata"]["name"],
            o.get("status", {}).get("url", ""),
            o.get("status", {}).get("latestCreatedRevisionName", ""),
            o.get("status", {}).get("latestReadyRevisionName", ""),
            *output.ready_columns(o),
        ],
    ),
    "configurations": (
        ("NAME", "LATESTCREATED", "LATESTREADY", "READY", "REASON"),
        lambda o: [
            o["metadata"]["name"],
            o.get("status", {}).get("latestCreatedRevisionName", ""),
            o.get("status", {}).get("latestReadyRevisionName", ""),
            *output.ready_columns(o),
        ],
    ),
    "revisions": (
        ("NAME", "CONFIG NAME", "GENERATION", "READY", "REASON", "ACTUAL REPLICAS", "DESIRED REPLICAS"),
        lambda o: [
            o["metadata"]["name"],
            _label(o, labels.CONFIGURATION),
            _label(o, labels.CONFIGURATION_GENERATION),
            *output.ready_columns(o),
            _num(o.get("status", {}).get("actualReplicas")),
            _num(o.get("status", {}).get("desiredReplicas")),
        ],
    ),
    "routes": (
        ("NAME", "URL", "READY", "REASON"),
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("url", ""), *output.ready_columns(o)],
    ),
    "podautoscalers": (
        ("NAME", "DESIREDSCALE", "ACTUALSCALE", "READY", "REASON"),
        lambda o: [
            o["metadata"]["name"],
            _num(o.get("status", {}).get("desiredScale")),
            _num(o.get("status", {}).get("actualScale")),
            *output.ready_columns(o),
        ],
    ),
    "domainmappings": (  # config/core/300-resources/domain-mapping.yaml's printer columns
        ("NAME", "URL", "READY", "REASON"),
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("url", ""), *output.ready_columns(o)],
    ),
    "clusterdomainclaims": (  # no printer columns in its CRD: kubectl's NAME and AGE
        ("NAME", "AGE"),
        lambda o: [o["metadata"]["name"], _age(o)],
    ),
    "serverlessservices": (
        ("NAME", "MODE", "ACTIVATORS", "SERVICENAME", "PRIVATESERVICENAME", "READY", "REASON"),
        lambda o: [
            o["metadata"]["name"],
            str(o.get("spec", {}).get("mode", "")),
            _num(o.get("spec", {}).get("numActivators")),
            str(o.get("status", {}).get("serviceName", "")),
            str(o.get("status", {}).get("privateServiceName", "")),
            *output.ready_columns(o),
        ],
    ),
    # The core kinds' columns as kube-apiserver's table printers (pkg/printers/internalversion), for
    # a server that answers without a Table.
    "configmaps": (
        ("NAME", "DATA", "AGE"),
        lambda o: [o["metadata"]["name"], str(len(o.get("data") or {}) + len(o.get("binaryData") or {})), _age(o)],
    ),
    "secrets": (
        ("NAME", "TYPE", "DATA", "AGE"),
        lambda o: [o["metadata"]["name"], str(o.get("type", "")), str(len(o.get("data") or {})), _age(o)],
    ),
    "namespaces": (
        ("NAME", "STATUS", "AGE"),
        lambda o: [o["metadata"]["name"], str(o.get("status", {}).get("phase", "")), _age(o)],
    ),
}


def _age(obj: Obj) -> str:
    return output.age(obj["metadata"].get("creationTimestamp"), output.now_utc())


def table_rows(
    kind: Kind, objs: Sequence[Obj], wide: bool = False, causes: Sequence[str] = ()
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of ``objs``: zeroserve's columns for the kinds in :data:`COLUMNS`, with each
    object's root cause (``causes``, :mod:`zeroserve.cli.printing`) beside its REASON; the others'
    the server's (Knative's printer columns, kube-apiserver's for core kinds), ``wide`` ones too."""
    if kind.plural in COLUMNS:
        headers, row = COLUMNS[kind.plural]
        rows = [[str(c) for c in row(o)] for o in objs]
        if "REASON" in headers and causes:
            at = headers.index("REASON")
            for r, cause in zip(rows, causes, strict=True):
                r[at] = printing.with_cause(r[at], cause)
        return list(headers), rows
    cols = tuple(c for c in printercolumns.table_columns(kind) if wide or not c.priority)
    now = output.now_utc()
    return [c.name.upper() for c in cols], [[_cell(v) for v in printers.row(cols, o, now)] for o in objs]


def kind_table(
    kind: Kind, objs: Sequence[Obj], all_namespaces: bool, wide: bool = False, causes: Sequence[str] = ()
) -> str:
    headers, rows = table_rows(kind, objs, wide, causes)
    if all_namespaces and kind.namespaced:
        return output.table(
            ("NAMESPACE", *headers), [[o["metadata"].get("namespace", ""), *r] for o, r in zip(objs, rows, strict=True)]
        )
    return output.table(headers, rows)


def get(
    client: ApiClient,
    kind_name: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    out: printing.Output,
    show_managed_fields: bool = False,
    watch: bool = False,
) -> int:
    """kubectl get: a table (``-o wide`` with more columns), names, documents or a jsonpath
    template; with ``watch``, then every change as it comes (:func:`watch_changes`)."""
    kind = resource_kind(kind_name)
    tabular = out.format in ("table", "wide")
    listing: Obj = {}
    if watch:
        listing = client.list(kind, None if all_namespaces else namespace)
        objs = [o for o in _sorted(listing.get("items") or []) if not name or o["metadata"].get("name") == name]
    elif tabular and not kind.group:
        answer = client.table(kind, None if all_namespaces else namespace, name)
        if answer.get("kind") == "Table":
            return _print_table(answer, kind, namespace, all_namespaces, wide=out.format == "wide")
        objs = [answer] if name else _sorted(answer.get("items") or [])
    elif name:
        objs = [client.get(kind, namespace, name)]
    else:
        objs = _sorted(client.list(kind, None if all_namespaces else namespace).get("items") or [])
    if not tabular:
        if objs or not watch:
            text = out.document(objs, kind, single=bool(name), show_managed_fields=show_managed_fields)
            print(text, end="" if out.format == "jsonpath" else "\n", flush=True)  # kubectl adds no newline
    elif not objs:
        _none_found(kind, namespace, all_namespaces)
    else:
        causes = printing.root_causes(client, kind, objs)
        print(kind_table(kind, objs, all_namespaces, out.format == "wide", causes), flush=True)
    if not watch:
        return 0
    rv = str((listing.get("metadata") or {}).get("resourceVersion") or "")
    return watch_changes(client, kind, name, namespace, all_namespaces, out, show_managed_fields, rv, objs)


def watch_changes(
    client: ApiClient,
    kind: Kind,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    out: printing.Output,
    show_managed_fields: bool,
    resource_version: str,
    shown: Sequence[Obj],
) -> int:
    """``get -w``: each change after ``resource_version`` as it comes, a table row (as wide as the
    columns printed first) or a document; until Ctrl-C (the caller's KeyboardInterrupt). A watch the
    server ends is resumed from the last version seen; one too old (410 Gone) starts over with a list."""
    tabular = out.format in ("table", "wide")
    widths: list[int] = []
    if tabular:
        headers, rows = table_rows(kind, shown, out.format == "wide")
        if all_namespaces and kind.namespaced:
            headers = ["NAMESPACE", *headers]
            rows = [[str(o["metadata"].get("namespace", "")), *r] for o, r in zip(shown, rows, strict=True)]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    rv = resource_version
    # Ctrl-C ends the watch at once, as kubectl's does: a KeyboardInterrupt raised while a finalizer
    # runs (a response or socket collected mid-stream) would be swallowed and the watch go on.
    signal.signal(signal.SIGINT, _interrupted)
    while True:
        try:
            for _, obj in client.watch(kind, None if all_namespaces else namespace, rv):
                rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                if name and obj.get("metadata", {}).get("name") != name:
                    continue
                line = _watch_line(client, kind, obj, out, show_managed_fields, all_namespaces, widths)
                print(line, end="" if out.format == "jsonpath" else "\n", flush=True)
        except errors.Gone:
            rv = str((client.list(kind, None if all_namespaces else namespace).get("metadata") or {}).get(
                "resourceVersion") or "")  # fmt: skip


def _interrupted(_signum: int, _frame: object) -> None:
    os._exit(130)  # every line was flushed as it was printed; nothing else to finish


def _watch_line(
    client: ApiClient,
    kind: Kind,
    obj: Obj,
    out: printing.Output,
    show_managed_fields: bool,
    all_namespaces: bool,
    widths: Sequence[int],
) -> str:
    if out.format not in ("table", "wide"):
        text = out.document([obj], kind, single=True, show_managed_fields=show_managed_fields)
        return f"---\n{text}" if out.format == "yaml" else text
    _, rows = table_rows(kind, [obj], out.format == "wide", printing.root_causes(client, kind, [obj]))
    row = rows[0]
    if all_namespaces and kind.namespaced:
        row = [str(obj["metadata"].get("namespace", "")), *row]
    cells = [c.ljust(w) for c, w in zip(row, [*widths, *([0] * len(row))], strict=False)]
    return output.terminal_safe("   ".join(cells).rstrip())


def _sorted(items: Sequence[Obj]) -> list[Obj]:
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))


def _none_found(kind: Kind, namespace: str, all_namespaces: bool) -> None:
    err("No resources found" + ("" if all_namespaces or not kind.namespaced else f" in {namespace} namespace") + ".")


def _cell(value: object) -> str:
    """A Table cell as kubectl prints it (``<none>`` for null)."""
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def server_table(table: Obj, with_namespace: bool, wide: bool = False) -> str:
    """A ``meta.k8s.io/v1`` Table as kubectl prints it: the priority-0 columns (all with ``wide``),
    names upper-cased, and a NAMESPACE column first across namespaces (from each row's object)."""
    columns = [(i, c) for i, c in enumerate(table.get("columnDefinitions") or []) if wide or not c.get("priority")]
    headers = [str(c.get("name", "")).upper() for _, c in columns]
    rows: list[list[str]] = []
    for r in table.get("rows") or []:
        cells = r.get("cells") or []
        row = [_cell(cells[i]) if i < len(cells) else "" for i, _ in columns]
        if with_namespace:
            row.insert(0, str(((r.get("object") or {}).get("metadata") or {}).get("namespace", "")))
        rows.append(row)
    return output.table(["NAMESPACE", *headers] if with_namespace else headers, rows)


def _print_table(table: Obj, kind: Kind, namespace: str, all_namespaces: bool, wide: bool = False) -> int:
    if not table.get("rows"):
        _none_found(kind, namespace, all_namespaces)
        return 0
    print(output.terminal_safe(server_table(table, all_namespaces and kind.namespaced, wide)))
    return 0


# -- delete ----------------------------------------------------------------------------------------


def delete(client: ApiClient, kind_name: str, names: Sequence[str], namespace: str) -> int:
    kind = resource_kind(kind_name)
    code = 0
    for name in names:
        try:
            client.delete(kind, namespace, name)
            print(f'{qualified(kind)} "{name}" deleted')
        except errors.NotFound:
            err(f'Error from server (NotFound): {qualified(kind, plural=True)} "{name}" not found')
            code = 1
    return code
