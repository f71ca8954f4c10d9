"""Fuzz ``zeroserve apply -f`` on generated files (issue 11, items 6 and 7): the CLI in-process
against a real store + API server on 127.0.0.1. Every file is applied (exit 0) or refused with
``error: FILE: ...`` lines and exit 1 with nothing written; a file that was applied applies again
as ``unchanged``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.cli_harness import Api, running_api
from tests.fuzz.cli_runner import apply, assert_refused, clear, stored
from tests.fuzz.strategies import fuzz_settings, manifests

TEXT_MUTATIONS: tuple[Callable[[str], str], ...] = (
    lambda t: t,
    lambda t: t.replace("name: fuzz", "name: !!binary Zm9v", 1),
    lambda t: t.replace("metadata:", "metadata: !!set", 1),
    lambda t: t.replace("metadata:", "metadata: &m", 1) + "extra: *m\n",
    lambda t: t.replace("spec:", "spec: &s", 1).replace("kind:", "loop: &l [*l]\nkind:", 1),
    lambda t: t + t.splitlines()[-1] + "\n" if t.strip() else t,
    lambda t: t.replace("  ", "\t", 1),
    lambda t: t[: len(t) // 2],
    lambda t: t.replace("name: fuzz", "name: 2024-01-01", 1),
    lambda t: t.replace("namespace: default", "namespace: yes", 1),
    lambda t: t.replace("metadata:", "metadata:\n  annotations:", 1),
    lambda t: "---\n" + t + "---\n" + t,
)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    docs = draw(st.lists(manifests(), min_size=1, max_size=2))
    text = "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
    text = draw(st.sampled_from(TEXT_MUTATIONS))(text)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # a stray byte somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
    return data


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from running_api(tmp_path_factory.mktemp("fuzz-cli"))


@given(files())
@fuzz_settings(60)
def test_apply_is_all_or_nothing_and_idempotent(
    api: Api, tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("manifest") / "fuzz.yaml"
    path.write_bytes(data)
    clear(api)
    code, out, err = apply(api, path)
    assert code in (0, 1), err
    if code == 1:
        assert_refused(path, out, err)
        assert stored(api) == 0, err
        return
    again, out2, err2 = apply(api, path)
    assert again == 0, err2
    assert out2 and all(line.endswith(" unchanged") for line in out2.splitlines()), out2
