"""Knative's additionalPrinterColumns and how their cells are filled (apiextensions' table convertor)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zeroserve.api import printercolumns
from zeroserve.api.kinds import CLUSTERDOMAINCLAIM, CONFIGMAP, EVENT, KINDS, REVISION, SERVICE, TRIGGER
from zeroserve.api.printercolumns import PrinterColumn

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)

SERVICE_OBJ: dict[str, Any] = {
    "metadata": {"name": "hello", "creationTimestamp": "2026-01-02T11:55:00Z"},
    "status": {
        "url": "http://hello.default.127.0.0.1.sslip.io",
        "latestCreatedRevisionName": "hello-00002",
        "latestReadyRevisionName": "hello-00001",
        "conditions": [
            {"type": "ConfigurationsReady", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "RevisionMissing"},
        ],
    },
}


def _names(kind: Any) -> list[str]:
    return [c.name for c in printercolumns.table_columns(kind)]


def test_service_columns_are_the_crds() -> None:
    assert _names(SERVICE) == ["Name", "URL", "LatestCreated", "LatestReady", "Ready", "Reason"]
    cells = [c.cell(SERVICE_OBJ, NOW) for c in printercolumns.table_columns(SERVICE)]
    assert cells == [
        "hello",
        "http://hello.default.127.0.0.1.sslip.io",
        "hello-00002",
        "hello-00001",
        "False",
        "RevisionMissing",
    ]


def test_revision_columns_read_labels_and_keep_integers() -> None:
    assert _names(REVISION) == [
        "Name",
        "Config Name",
        "Generation",
        "Ready",
        "Reason",
        "Actual Replicas",
        "Desired Replicas",
    ]
    rev = {
        "metadata": {
            "name": "hello-00001",
            "labels": {
                "serving.knative.dev/configuration": "hello",
                "serving.knative.dev/configurationGeneration": "1",
            },
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "actualReplicas": 0, "desiredReplicas": 1},
    }
    cells = [c.cell(rev, NOW) for c in printercolumns.table_columns(REVISION)]
    assert cells == ["hello-00001", "hello", "1", "True", None, 0, 1]


def test_missing_values_are_null_cells() -> None:
    cells = [c.cell({"metadata": {"name": "new"}}, NOW) for c in printercolumns.table_columns(SERVICE)]
    assert cells == ["new", None, None, None, None, None]


def test_a_crd_without_columns_gets_age_as_a_date() -> None:
    cols = printercolumns.table_columns(CLUSTERDOMAINCLAIM)
    assert [(c.name, c.type) for c in cols] == [("Name", "string"), ("Age", "date")]
    assert cols[1].cell({"metadata": {"creationTimestamp": "2026-01-02T09:00:00Z"}}, NOW) == "3h"


def test_eventing_columns_include_age_and_a_wide_only_class() -> None:
    broker = {c.name: c for c in printercolumns.table_columns(next(k for k in KINDS if k.kind == "Broker"))}
    assert list(broker) == ["Name", "URL", "Age", "Ready", "Reason", "Class"]
    assert broker["Class"].priority == 1
    assert broker["Class"].cell({"metadata": {"annotations": {"eventing.knative.dev/broker.class": "MT"}}}, NOW) == "MT"
    assert _names(TRIGGER) == ["Name", "Broker", "Subscriber_URI", "Age", "Ready", "Reason"]


def test_core_kinds_keep_kube_apiservers_columns() -> None:
    assert _names(CONFIGMAP) == ["Name", "Data", "Age"]


def test_every_kind_has_a_name_column_first() -> None:
    for kind in KINDS:
        cols = printercolumns.table_columns(kind)
        if kind is EVENT:  # kube-apiserver's printEvent: NAME is the last column, shown with -o wide only
            cols = cols[::-1]
        assert cols[0].name == "Name" and cols[0].format == "name", kind.kind


@pytest.mark.parametrize(
    ("type_", "value", "cell"),
    [
        pytest.param("integer", 3, 3, id="integer"),
        pytest.param("integer", 3.0, 3, id="integer-from-float"),
        pytest.param("integer", "3", None, id="integer-not-a-string"),
        pytest.param("integer", True, None, id="integer-not-a-bool"),
        pytest.param("number", 2, 2.0, id="number"),
        pytest.param("boolean", False, False, id="boolean"),
        pytest.param("boolean", "false", None, id="boolean-not-a-string"),
        pytest.param("string", 7, "7", id="string-prints-anything"),
        pytest.param("string", {"a": 1}, '{"a":1}', id="string-of-a-map"),
        pytest.param("date", "2026-01-02T11:59:15Z", "45s", id="date"),
        pytest.param("date", "yesterday", "<invalid>", id="date-invalid"),
    ],
)
def test_cells_by_type(type_: str, value: Any, cell: Any) -> None:
    column = PrinterColumn("X", type_, ".spec.x")
    assert column.cell({"spec": {"x": value}}, NOW) == cell


def test_crd_entries() -> None:
    assert printercolumns.COLUMNS[("eventing.knative.dev/v1", "Broker")][-1].crd() == {
        "name": "Class",
        "type": "string",
        "jsonPath": ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class",
        "priority": 1,
    }


def test_descriptions_default_to_the_json_path() -> None:
    url = printercolumns.table_columns(SERVICE)[1]
    assert url.description == "Custom resource definition column (in JSONPath format): .status.url"
