from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from zeroserve.apiserver import ensure_token
from zeroserve.apiserver.auth import check_bearer
from zeroserve.apiserver.patch import JSON_PATCH, MERGE, apply, merge_patch
from zeroserve.apiserver.status import UnsupportedMediaType
from zeroserve.errors import BadRequest, Unauthorized


def test_ensure_token_creates_private_file_and_reuses_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = ensure_token(data)
    assert len(token) >= 32
    path = data / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == token  # bare: no newline
    assert ensure_token(data) == token


def test_ensure_token_replaces_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("")
    token = ensure_token(tmp_path)
    assert token and (tmp_path / "token").read_text().strip() == token


def test_check_bearer() -> None:
    check_bearer("Bearer abc", "abc")
    check_bearer("bearer abc", "abc")
    for header in (None, "", "Bearer", "Bearer abd", "Basic abc"):
        with pytest.raises(Unauthorized):
            check_bearer(header, "abc")


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="replace"),
        pytest.param({"a": 1, "b": 2}, {"a": None}, {"b": 2}, id="null-deletes"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}, id="nested"),
        pytest.param({"a": [1, 2]}, {"a": [3]}, {"a": [3]}, id="lists-replace"),
        pytest.param({"a": 1}, {"b": {"c": None}}, {"a": 1, "b": {}}, id="new-object"),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_apply_rejects_bad_patches() -> None:
    with pytest.raises(BadRequest):
        apply(MERGE, {}, [1])
    with pytest.raises(BadRequest):
        apply(JSON_PATCH, {}, {"op": "add"})
    with pytest.raises(BadRequest):
        apply(JSON_PATCH, {}, [{"op": "bogus", "path": "/a"}])
    with pytest.raises(UnsupportedMediaType):
        apply("application/apply-patch+yaml", {}, {})
    assert apply(JSON_PATCH, {"a": 1}, [{"op": "add", "path": "/b", "value": 2}]) == {"a": 1, "b": 2}
