"""``metadata.managedFields`` as kube-apiserver's field manager writes them (create, update, apply,
conflicts, before-first-apply, the updater cap, kubectl's client-side to server-side migration)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from zeroserve.api.kinds import CONFIGMAP, SERVICE
from zeroserve.api.ssa import managedfields as mf
from zeroserve.api.ssa.fieldpath import FieldSet, field, go_json
from zeroserve.api.ssa.typeschema import kind_type
from zeroserve.api.ssa.updater import VersionedSet

T0 = "2025-01-01T00:00:00Z"
T1 = "2025-01-01T00:00:01Z"
T2 = "2025-01-01T00:00:02Z"
KSVC = "serving.knative.dev/v1"
SVC = mf.Scope(kind_type(SERVICE), KSVC, "Service", reset=FieldSet.of((field("status"),)))
SVC_STATUS = mf.Scope(kind_type(SERVICE), KSVC, "Service", "status", FieldSet.of((field("spec"),)))
CM = mf.Scope(kind_type(CONFIGMAP), "v1", "ConfigMap")


def ksvc(image: str = "example.com/a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": KSVC,
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}, **spec},
    }


def cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": data}


def stored(obj: dict[str, Any], uid: str = "u1") -> dict[str, Any]:
    """``obj`` as the store keeps it (a uid: the object exists)."""
    out = copy.deepcopy(obj)
    out["metadata"]["uid"] = uid
    return out


def entries(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["manager"], e["operation"], e.get("subresource", "")) for e in obj["metadata"].get("managedFields", [])]


def fields_of(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)["fieldsV1"]
    return found


# ---- entries -----------------------------------------------------------------------------------


def test_entries_are_written_as_kubernetes_writes_them() -> None:
    out = mf.update(CM, None, cm(a="1"), "kubectl-create", T0)
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}},
        }
    ]
    assert list(out["metadata"]["managedFields"][0]) == [
        "manager",
        "operation",
        "apiVersion",
        "time",
        "fieldsType",
        "fieldsV1",
    ]


def test_entries_sort_by_operation_time_and_manager() -> None:
    managed = mf.Managed(
        {
            mf.Manager("b", "Update", "v1"): VersionedSet(FieldSet.of((field("a"),)), "v1", False),
            mf.Manager("a", "Update", "v1"): VersionedSet(FieldSet.of((field("b"),)), "v1", False),
            mf.Manager("z", "Apply"): VersionedSet(FieldSet.of((field("c"),)), "v1", True),
            mf.Manager("c", "Update", "v1", "status"): VersionedSet(FieldSet.of((field("d"),)), "v1", False),
        },
        {mf.Manager("b", "Update", "v1"): T0, mf.Manager("a", "Update", "v1"): T1},
    )
    encoded = mf.encode(managed)
    assert encoded is not None
    assert [(e["manager"], e.get("subresource")) for e in encoded] == [
        ("z", None),
        ("c", "status"),
        ("b", None),
        ("a", None),
    ]
    assert mf.decode(encoded).fields == managed.fields


@pytest.mark.parametrize(
    ("entries_", "message"),
    [
        pytest.param("x", "managedFields must be a list", id="not-a-list"),
        pytest.param([{"operation": "Patch", "apiVersion": "v1"}], "operation must be `Apply` or `Update`", id="op"),
        pytest.param([{"operation": "Apply"}], "apiVersion must not be empty", id="version"),
        pytest.param(
            [{"operation": "Apply", "apiVersion": "v1"}], "missing fieldsType in managed fields entry 0", id="type"
        ),
        pytest.param(
            [{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}],
            'invalid fieldsType "FieldsV2" in managed fields entry 0',
            id="type-v2",
        ),
    ],
)
def test_bad_entries_do_not_decode(entries_: Any, message: str) -> None:
    with pytest.raises(mf.ManagedFieldsError, match=message.replace("(", r"\(")):
        mf.decode(entries_)


def test_manager_identities_and_descriptions() -> None:
    update = mf.Manager("controller", "Update", KSVC, "status")
    assert (
        update.identifier()
        == '{"manager":"controller","operation":"Update","apiVersion":"serving.knative.dev/v1","subresource":"status"}'
    )
    assert update.describe() == '"controller" with subresource "status" using serving.knative.dev/v1'
    assert mf.Manager("kubectl", "Apply").describe() == '"kubectl"'


# ---- update ------------------------------------------------------------------------------------


def test_a_create_is_tracked_an_untracked_object_stays_untracked() -> None:
    created = mf.update(CM, None, cm(a="1"), "kubectl-create", T0)
    assert entries(created) == [("kubectl-create", "Update", "")]
    untracked = stored(cm(a="1"))
    assert "managedFields" not in mf.update(CM, untracked, cm(a="2"), "edit", T1)["metadata"]


def test_an_update_moves_fields_and_time_only_when_they_change() -> None:
    live = stored(mf.update(CM, None, cm(a="1", b="1"), "one", T0))
    out = mf.update(CM, live, {**live, "data": {"a": "2", "b": "1"}}, "two", T1)
    assert fields_of(out, "one") == {"f:data": {".": {}, "f:b": {}}}
    assert fields_of(out, "two") == {"f:data": {"f:a": {}}}
    same = mf.update(CM, out, copy.deepcopy(out), "three", T2)
    assert entries(same) == entries(out) and same["metadata"]["managedFields"] == out["metadata"]["managedFields"]


def test_server_set_metadata_is_never_owned() -> None:
    live = stored(mf.update(CM, None, cm(a="1"), "one", T0))
    bumped = copy.deepcopy(live)
    bumped["metadata"].update(resourceVersion="9", generation=3, labels={"x": "y"})
    out = mf.update(CM, live, bumped, "two", T1)
    assert fields_of(out, "two") == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}


def test_managed_fields_a_client_sends_replace_them_and_empty_clears_them() -> None:
    live = stored(mf.update(CM, None, cm(a="1"), "one", T0))
    given = copy.deepcopy(live)
    given["metadata"]["managedFields"][0]["manager"] = "renamed"
    assert entries(mf.update(CM, live, given, "two", T1)) == [("renamed", "Update", "")]
    resets: list[list[dict[str, Any]]] = [[], [{}]]
    for reset in resets:
        cleared = copy.deepcopy(live)
        cleared["metadata"]["managedFields"] = reset
        assert "managedFields" not in mf.update(CM, live, cleared, "two", T1)["metadata"]


def test_managed_fields_that_do_not_decode_are_ignored_for_the_stored_ones() -> None:
    live = stored(mf.update(CM, None, cm(a="1"), "one", T0))
    bad = copy.deepcopy(live)
    bad["metadata"]["managedFields"] = [{"manager": "x", "operation": "Delete"}]
    assert entries(mf.update(CM, live, bad, "two", T1)) == [("one", "Update", "")]


def test_a_status_write_is_its_own_manager_and_cannot_own_spec() -> None:
    live = stored(mf.update(SVC, None, ksvc(), "kubectl", T0))
    new = copy.deepcopy(live)
    new["status"] = {"observedGeneration": 1}
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    out = mf.update(SVC_STATUS, live, new, "controller", T1)
    assert entries(out) == [("kubectl", "Update", ""), ("controller", "Update", "status")]
    assert fields_of(out, "controller") == {"f:status": {".": {}, "f:observedGeneration": {}}}


def test_a_status_write_leaves_the_entries_without_status_fields_exactly_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = stored(mf.update(SVC, None, ksvc(), "kubectl", T0))
    live = stored(mf.update(SVC_STATUS, live, {**live, "status": {"observedGeneration": 1}}, "controller", T0))
    live = stored(mf.update(SVC, live, {**live, "metadata": {**live["metadata"], "labels": {"a": "b"}}}, "labeler", T0))
    new = {**copy.deepcopy(live), "status": {"observedGeneration": 2, "url": "http://x"}}
    out = mf.update(SVC_STATUS, live, new, "controller", T1)
    untouched = [e for e in live["metadata"]["managedFields"] if e["manager"] != "controller"]
    kept = [e for e in out["metadata"]["managedFields"] if e["manager"] != "controller"]
    assert kept == untouched
    assert all(k["fieldsV1"] is u["fieldsV1"] for k, u in zip(kept, untouched, strict=True))  # not decoded again
    assert fields_of(out, "controller") == {"f:status": {".": {}, "f:observedGeneration": {}, "f:url": {}}}
    monkeypatch.setattr(mf, "_untouched", lambda entries, _touched, _mine: (entries, []))
    assert mf.update(SVC_STATUS, live, new, "controller", T1) == out  # as when every entry is decoded


def test_the_main_resource_never_owns_status() -> None:
    out = mf.update(SVC, None, {**ksvc(), "status": {"observedGeneration": 1}}, "kubectl", T0)
    assert "f:status" not in fields_of(out, "kubectl")


def test_more_than_ten_updaters_merge_into_ancient_changes() -> None:
    obj = stored(mf.update(CM, None, cm(k0="v"), "m0", "2025-01-01T00:00:00Z"))
    for i in range(1, 12):
        obj = stored(
            mf.update(CM, obj, {**obj, "data": {**obj["data"], f"k{i}": "v"}}, f"m{i}", f"2025-01-01T00:00:{i:02d}Z")
        )
    names = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(names) == 10 and "ancient-changes" in names and "m0" not in names and "m1" not in names
    assert fields_of(obj, "ancient-changes") == {"f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}}


# ---- apply -------------------------------------------------------------------------------------


def test_create_by_apply_owns_exactly_the_configuration() -> None:
    out, changed = mf.apply(SVC, None, ksvc(), "kubectl", False, T0)
    assert changed
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": KSVC,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
        }
    ]


def test_reapplying_the_same_configuration_changes_nothing() -> None:
    live = stored(mf.apply(SVC, None, ksvc(), "kubectl", False, T0)[0])
    out, changed = mf.apply(SVC, live, ksvc(), "kubectl", False, T1)
    assert not changed and out == live


def test_a_conflict_names_the_manager_and_field_as_kube_apiserver() -> None:
    live = stored(mf.update(SVC, None, ksvc(), "kubectl-client-side-apply", T0))
    with pytest.raises(mf.ApplyConflict) as e:
        mf.apply(SVC, live, ksvc("example.com/b"), "other", False, T1)
    assert e.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using serving.knative.dev/v1: '
        ".spec.template.spec.containers"
    )
    assert e.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using serving.knative.dev/v1',
            "field": ".spec.template.spec.containers",
        }
    ]
    forced, _ = mf.apply(SVC, live, ksvc("example.com/b"), "other", True, T1)
    assert forced["spec"]["template"]["spec"]["containers"] == [{"image": "example.com/b"}]
    assert "f:containers" not in json.dumps(fields_of(forced, "kubectl-client-side-apply"))


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = stored(mf.update(CM, None, cm(a="1", b="1"), "one", T0))
    live = stored(mf.update(CM, live, {**live, "data": {"a": "1", "b": "1", "c": "1"}}, "two", T1))
    with pytest.raises(mf.ApplyConflict) as e:
        mf.apply(CM, live, cm(a="2", b="2", c="2"), "three", False, T2)
    assert e.value.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "one" using v1:\n- .data.a\n- .data.b\n'
        'conflicts with "two" using v1:\n- .data.c'
    )


def test_an_applier_cannot_take_anothers_list_item_field() -> None:
    env = [{"name": "A", "value": "1"}]
    live = stored(mf.apply(SVC, None, ksvc(), "one", False, T0)[0])
    cfg = ksvc()
    cfg["spec"]["template"]["spec"]["containers"][0]["env"] = env
    with pytest.raises(mf.ApplyConflict, match=r"\.spec\.template\.spec\.containers"):
        mf.apply(SVC, live, cfg, "two", False, T1)  # containers is atomic in Knative's CRD


def test_the_first_apply_to_an_untracked_object_gives_its_fields_to_before_first_apply() -> None:
    live = stored(cm(a="1", b="1"))
    out, _ = mf.apply(CM, live, cm(a="1"), "kubectl", False, T1)
    assert entries(out) == [("kubectl", "Apply", ""), ("before-first-apply", "Update", "")]
    assert fields_of(out, "before-first-apply") == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}
    with pytest.raises(mf.ApplyConflict, match=r'conflict with "before-first-apply" using v1: \.data\.b'):
        mf.apply(CM, live, cm(a="1", b="2"), "kubectl", False, T1)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({**cm(), "kind": "Secret"}, "invalid object type: /v1, Kind=Secret", id="kind"),
        pytest.param(
            {**ksvc(), "apiVersion": "serving.knative.dev/v2"},
            "invalid object type: serving.knative.dev/v2, Kind=Service",
            id="version",
        ),
        pytest.param(
            {**cm(), "metadata": {"name": "c", "managedFields": []}}, "metadata.managedFields must be nil", id="mf"
        ),
        pytest.param(
            {**ksvc(), "spec": {"foo": 1}},
            "failed to create typed patch object (default/hello; serving.knative.dev/v1, Kind=Service): "
            ".spec.foo: field not declared in schema",
            id="unknown-field",
        ),
    ],
)
def test_a_configuration_the_server_cannot_apply(config: dict[str, Any], message: str) -> None:
    with pytest.raises(mf.ManagedFieldsError) as e:
        mf.apply(SVC if config["kind"] == "Service" else CM, None, config, "kubectl", False, T0)
    assert str(e.value) == message


def test_a_write_that_changes_only_times_keeps_the_old_ones() -> None:
    live = stored(mf.update(CM, None, cm(a="1"), "one", T0))
    later = copy.deepcopy(live)
    later["metadata"]["managedFields"][0]["time"] = T1
    assert mf.restore_times(later, live) == live
    changed = copy.deepcopy(later)
    changed["data"] = {"a": "2"}
    assert mf.restore_times(changed, live) == changed
    assert mf.restore_times(live, live) is live


def _client_side_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as ``kubectl apply`` (client-side) leaves it: the last-applied annotation, owned by
    ``kubectl-client-side-apply``."""
    out = copy.deepcopy(obj)
    annotation = go_json(obj) + "\n"
    out["metadata"]["annotations"] = {mf.LAST_APPLIED: annotation}
    return stored(mf.update(CM, None, out, "kubectl-client-side-apply", T0))


def test_kubectl_takes_over_its_own_client_side_fields_without_conflict() -> None:
    live = _client_side_applied(cm(a="1"))
    out, _ = mf.apply(CM, live, cm(a="2"), "kubectl", False, T1)
    assert out["data"] == {"a": "2"}
    assert json.loads(out["metadata"]["annotations"][mf.LAST_APPLIED]) == cm(a="2")
    with pytest.raises(mf.ApplyConflict):
        mf.apply(CM, live, cm(a="2"), "someone-else", False, T1)


def test_fields_changed_since_the_last_client_side_apply_still_conflict() -> None:
    live = _client_side_applied(cm(a="1"))
    live = stored(mf.update(CM, live, {**live, "data": {"a": "edited"}}, "kubectl-client-side-apply", T1))
    with pytest.raises(mf.ApplyConflict, match=r'conflict with "kubectl-client-side-apply" using v1: \.data\.a'):
        mf.apply(CM, live, cm(a="2"), "kubectl", False, T2)


def _objects_of_every_shape() -> list[tuple[mf.Scope, dict[str, Any]]]:
    """Objects the controller creates and their edges: nulls, empty maps and lists, undeclared keys,
    associative lists (with a duplicate key), atomic lists, status on a kind that resets it."""
    from zeroserve.api.kinds import EVENT, NAMESPACE, REVISION

    service = ksvc()
    service["metadata"]["labels"] = {"app": "a", "empty": ""}
    service["metadata"]["annotations"] = {}
    service["spec"]["template"]["spec"]["containers"][0].update(
        env=[{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        ports=[{"containerPort": 8080, "name": "http1"}],
        args=["--a", "--b"],
        resources={},
        securityContext=None,
    )
    service["spec"]["traffic"] = [{"latestRevision": True, "percent": 100}, {"revisionName": "r", "tag": "t"}]
    service["status"] = {"conditions": [{"type": "Ready", "status": "Unknown"}], "url": "http://a"}
    duplicate = copy.deepcopy(service)
    duplicate["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "A", "value": "2"})
    revision = {
        "apiVersion": KSVC,
        "kind": "Revision",
        "metadata": {"name": "a-00001", "namespace": "ns", "ownerReferences": [{"uid": "u", "name": "a"}]},
        "spec": {"containers": [{"image": "example.com/a", "volumeMounts": []}], "timeoutSeconds": 300},
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "a.1", "namespace": "ns"},
        "involvedObject": {"kind": "Revision", "name": "a-00001", "uid": "u"},
        "reason": "Created",
        "message": "Created Revision",
        "count": 1,
        "source": {"component": "controller"},
        "series": None,
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"x": "y"}}}
    return [
        (SVC, service),
        (SVC, duplicate),
        (SVC_STATUS, service),
        (mf.scope_of(REVISION), revision),
        (mf.scope_of(EVENT), event),
        (mf.scope_of(NAMESPACE), namespace),
        (CM, cm(a="1", b="")),
        (CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}}),
    ]


@pytest.mark.parametrize("case", range(8))
def test_a_create_owns_what_the_full_update_path_gives_it(case: int) -> None:
    """The create's shortcut (every field of the object, its named parents, less the reset and
    stripped fields) equals the compare of nothing with the object that an update makes."""
    scope, obj = _objects_of_every_shape()[case]
    created = mf.update(scope, None, copy.deepcopy(obj), "controller", T0)
    full = mf._with_fields(obj, mf._track_update(scope, {}, obj, mf.Managed(), "controller", T0))
    assert created == full
    bare = set(obj) <= {"apiVersion", "kind", "metadata"} and set(obj["metadata"]) <= {"name", "namespace"}
    assert bool(created["metadata"].get("managedFields")) is not bare, "owns what it set (a bare object: nothing)"
