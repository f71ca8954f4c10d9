"""A revision's imagePullSecrets as a keyring (controller/resources/pullsecrets.py, pure)."""

from __future__ import annotations

import json

from zeroserve.controller.resources.configdata import SECRET, Data, Ref, references
from zeroserve.controller.resources.pullsecrets import pull_secrets
from zeroserve.images.keyring import Credential


def dockerconfig(host: str, user: str) -> Data:
    raw = json.dumps({"auths": {host: {"username": user, "password": "pw"}}}).encode()
    return Data(files={".dockerconfigjson": raw}, secret_type="kubernetes.io/dockerconfigjson")


def test_secrets_are_read_in_order_and_missing_ones_skipped_with_the_kubelets_warning() -> None:
    sources = {
        Ref(SECRET, "first"): dockerconfig("r.example.com", "first"),
        Ref(SECRET, "second"): dockerconfig("r.example.com", "second"),
        Ref(SECRET, "opaque"): Data(files={"password": b"x"}, secret_type="Opaque"),
        Ref(SECRET, "gone"): None,
    }
    pulls = pull_secrets(["second", "gone", "opaque", "first", "unknown"], sources)
    assert [c.username for c in pulls.keyring.lookup("r.example.com/app")] == ["second", "first"]
    assert pulls.missing == ("gone", "unknown")
    assert pulls.warning() == (
        "Unable to retrieve some image pull secrets (gone, unknown); attempting to pull the image may not succeed."
    )
    assert pull_secrets([], sources).warning() == ""


def test_an_unreadable_pull_secret_is_skipped_and_said() -> None:
    bad = Data(files={".dockerconfigjson": b"[]"}, secret_type="kubernetes.io/dockerconfigjson")
    pulls = pull_secrets(["bad"], {Ref(SECRET, "bad"): bad})
    assert not pulls.keyring and pulls.missing == ("bad",) and pulls.problems[0].startswith("bad: ")
    assert pull_secrets(["x"], {Ref(SECRET, "x"): dockerconfig("h", "u")}).keyring.lookup("h/a") == [
        Credential("u", "pw")
    ]


def test_pull_secrets_are_among_what_a_revision_reads() -> None:
    spec = {"imagePullSecrets": [{"name": "regcred"}, {}], "containers": [{"image": "x"}]}
    assert references(spec) == {Ref(SECRET, "regcred")}
