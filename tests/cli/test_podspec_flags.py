"""kn's ConfigMap/Secret flags on ``service create|update`` as template edits (pure; cases after
knative/client ``pkg/flags/podspec_helper_test.go`` and ``pkg/util/corev1_helper_test.go``)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from zeroserve import errors
from zeroserve.cli.podspec import env_file_lines, generate_volume_name, update_env, update_env_from, update_volumes
from zeroserve.cli.service import TemplateOptions, build_service, edit_template


def _sum(path: str) -> str:
    return hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:8]


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("Ab12~`!@#$%^&*()-=_+[]{}|/\\<>,./?:;\"'xZ", "ab12---------------------------------xz"),
        ("/Ab12~`!@#$%^&*()-=_+[]{}|/\\<>,./?:;\"'xZ/", "ab12---------------------------------xz-"),
        ("", "k-"),
        ("/", "k-"),
        ("/path.mypath/", "path-mypath-"),
        ("/.path.mypath", "k--path-mypath"),
        ("/etc/config", "etc-config"),
    ],
)
def test_generate_volume_name_as_kn(path: str, want: str) -> None:
    assert generate_volume_name(path) == f"{want}-{_sum(path)}"


def test_generate_volume_name_cut_to_63() -> None:
    part = "Ab12~`!@#$%^&*()-=_+[]{}|/\\<>,./?:;\"'xZ/"
    name = generate_volume_name("/./" + part + part)
    assert name == "k---ab12---------------------------------xz-ab12--------------n"
    assert len(name) == 63


CM = {"configMapKeyRef": {"name": "cfg", "key": "k"}}
SC = {"secretKeyRef": {"name": "db", "key": "password"}}


@pytest.mark.parametrize(
    ("env", "value_from", "file", "before", "after"),
    [
        pytest.param((), ("A=cm:cfg:k",), (), [], [{"name": "A", "valueFrom": CM}], id="cm"),
        pytest.param((), ("A=config-map:cfg:k",), (), [], [{"name": "A", "valueFrom": CM}], id="config-map"),
        pytest.param((), ("P=secret:db:password",), (), [], [{"name": "P", "valueFrom": SC}], id="secret"),
        pytest.param((), ("P=sc: db : password",), (), [], [{"name": "P", "valueFrom": SC}], id="sc-trimmed"),
        pytest.param(
            (("A", "1"),), ("A=cm:cfg:k",), (), [], [{"name": "A", "valueFrom": CM}], id="value-from-after-env"
        ),
        pytest.param(
            (),
            ("B=cm:cfg:k",),
            (),
            [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": CM}],
            id="replaced-in-place",
        ),
        pytest.param(
            (),
            ("B-",),
            (),
            [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": CM}],
            [{"name": "A", "value": "1"}],
            id="removed",
        ),
        pytest.param(
            (("C", "3"),),
            (),
            ("A=f", "B=f"),
            [{"name": "B", "value": "0"}],
            [{"name": "B", "value": "f"}, {"name": "A", "value": "f"}, {"name": "C", "value": "3"}],
            id="file-then-env",
        ),
        pytest.param((("A", "x"),), (), ("A=f",), [], [{"name": "A", "value": "x"}], id="env-overrides-file"),
        pytest.param((), (), ("A-",), [{"name": "A", "value": "1"}], [], id="file-removes"),
    ],
)
def test_update_env(
    env: tuple[tuple[str, str], ...],
    value_from: tuple[str, ...],
    file: tuple[str, ...],
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
) -> None:
    container: dict[str, Any] = {"env": copy.deepcopy(before)} if before else {}
    update_env(container, env, value_from, file)
    assert container.get("env", []) == after


@pytest.mark.parametrize(
    ("value_from", "message"),
    [
        ("A", 'Invalid --env-value-from: argument requires a value that contains the "=" character; got "A"'),
        ("A=cm:cfg", 'argument requires a value in form "resourceType:name:key"'),
        ("A=vol:cfg:k", 'unsupported env source type ""vol""'),
        ("A=cm::k", "the name of ConfigMap cannot be an empty string"),
        ("A=secret:db:", 'the key referenced by resource Secret "db" cannot be an empty string'),
    ],
)
def test_update_env_value_from_errors(value_from: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        update_env({}, (), (value_from,), ())
    assert message in e.value.message


def test_env_file_lines_skip_blank_lines_and_comments() -> None:
    assert env_file_lines("A=1\n\n# note\n  #B=2\nC=x=y\nD-\n") == ["A=1", "C=x=y", "D-"]


@pytest.mark.parametrize(
    ("items", "before", "after"),
    [
        pytest.param(
            ("cm:cfg", "secret:db"), [], [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "db"}}], id="add"
        ),
        pytest.param(
            ("config-map:cfg", "sc:db", "cm:cfg"),
            [],
            [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "db"}}],
            id="once",
        ),
        pytest.param(
            # kn's TestUpdateEnvFrom
            ("config-map:new-1", "secret:new-2", "config-map:old-1-", "secret:old-2-"),
            [{"configMapRef": {"name": "old-1"}}, {"secretRef": {"name": "old-2"}}],
            [{"configMapRef": {"name": "new-1"}}, {"secretRef": {"name": "new-2"}}],
            id="kn",
        ),
        pytest.param(("cm:cfg-",), [{"configMapRef": {"name": "cfg"}}], None, id="last-removed"),
        pytest.param(
            ("secret:cfg-",), [{"configMapRef": {"name": "cfg"}}], [{"configMapRef": {"name": "cfg"}}], id="type"
        ),
    ],
)
def test_update_env_from(items: tuple[str, ...], before: list[Any], after: list[Any] | None) -> None:
    container: dict[str, Any] = {"envFrom": copy.deepcopy(before)} if before else {}
    update_env_from(container, items)
    assert container.get("envFrom") == after


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("-", '"-" is not a valid value for "--env-from"'),
        ("cfg", "argument requires a value that contains the : character"),
        ("vol:x", 'unsupported volume source type ""vol""'),
        ("cm:", "the name of config-map cannot be an empty string"),
        ("ed:x", "only a ConfigMap (cm:) or a Secret (secret:) can be a source"),
    ],
)
def test_update_env_from_errors(item: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        update_env_from({}, (item,))
    assert message in e.value.message


def _vol(path: str) -> str:
    return generate_volume_name(path)


@pytest.mark.parametrize(
    ("mounts", "volumes", "want_volumes", "want_mounts"),
    [
        pytest.param(
            ("/etc/config=cm:cfg",),
            (),
            [{"name": _vol("/etc/config"), "configMap": {"name": "cfg"}}],
            [{"name": _vol("/etc/config"), "mountPath": "/etc/config", "readOnly": True}],
            id="cm",
        ),
        pytest.param(
            ("/s=secret:db", "/t=sc:tls"),
            (),
            [
                {"name": _vol("/s"), "secret": {"secretName": "db"}},
                {"name": _vol("/t"), "secret": {"secretName": "tls"}},
            ],
            [
                {"name": _vol("/s"), "mountPath": "/s", "readOnly": True},
                {"name": _vol("/t"), "mountPath": "/t", "readOnly": True},
            ],
            id="secret",
        ),
        pytest.param(
            ("/cache=emptyDir:scratch",),
            (),
            [{"name": _vol("/cache"), "emptyDir": {}}],
            [{"name": _vol("/cache"), "mountPath": "/cache"}],
            id="emptyDir-writable",
        ),
        pytest.param(
            ("/app/settings.py=cm:cfg/settings.py",),
            (),
            [{"name": _vol("/app/settings.py"), "configMap": {"name": "cfg"}}],
            [
                {
                    "name": _vol("/app/settings.py"),
                    "mountPath": "/app/settings.py",
                    "readOnly": True,
                    "subPath": "settings.py",
                }
            ],
            id="subPath",
        ),
        pytest.param(
            ("/data=ed:d:readOnly=true",),
            (),
            [{"name": _vol("/data"), "emptyDir": {}}],
            [{"name": _vol("/data"), "mountPath": "/data", "readOnly": True}],
            id="readOnly-option",
        ),
        pytest.param(
            ("/c=myvol",),
            ("myvol=cm:cfg",),
            [{"name": "myvol", "configMap": {"name": "cfg"}}],
            [{"name": "myvol", "mountPath": "/c", "readOnly": True}],
            id="named-volume",
        ),
        pytest.param(
            ("/m=mem",),
            ("mem=emptyDir:x:type=Memory,size=10Mi",),
            [{"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "10Mi"}}],
            [{"name": "mem", "mountPath": "/m"}],
            id="emptyDir-options",
        ),
    ],
)
def test_update_volumes_new(
    mounts: tuple[str, ...], volumes: tuple[str, ...], want_volumes: list[Any], want_mounts: list[Any]
) -> None:
    spec: dict[str, Any] = {}
    container: dict[str, Any] = {}
    update_volumes(spec, container, mounts, volumes)
    assert spec["volumes"] == want_volumes
    assert container["volumeMounts"] == want_mounts


def test_update_volumes_edits_and_removes() -> None:
    spec: dict[str, Any] = {}
    container: dict[str, Any] = {}
    update_volumes(spec, container, ("/c=cm:cfg", "/s=secret:db", "/x=shared"), ("shared=cm:other",))
    # the shared volume now reads a Secret instead (a cm is replaced, as kn's updateVolume)
    update_volumes(spec, container, (), ("shared=secret:creds",))
    assert spec["volumes"][-1] == {"name": "shared", "secret": {"secretName": "creds"}}
    # unmounting /c drops the volume its --mount generated; the named volume stays until removed
    update_volumes(spec, container, ("/c-", "/x-"), ())
    assert [v["name"] for v in spec["volumes"]] == [_vol("/s"), "shared"]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/s"]
    update_volumes(spec, container, ("/s-",), ("shared-",))
    assert "volumes" not in spec and "volumeMounts" not in container


@pytest.mark.parametrize(
    ("mounts", "volumes", "message"),
    [
        (("/c",), (), 'Invalid --mount: argument requires a value that contains the "=" character; got "/c"'),
        (("/c=vol:x",), (), 'unsupported volume type ""vol""'),
        (("/c=cm:x:ro=true",), (), 'unknown mount option "ro"'),
        (("/c=cm:x:readOnly=maybe",), (), "invalid syntax"),
        ((), ("v=cm:a:b",), 'incorrect mount details for type "cm"'),
        ((), ("v=ed:a:type",), "incorrect format to specify emptyDir type"),
        ((), ("v=ed:a:size=lots",), "incorrect format to specify emptyDir type"),
        ((), ("v=ed:a:size=1Gi,size=2Gi",), 'cannot repeat the key "size"'),
        ((), ("v",), 'Invalid --volume: argument requires a value that contains the "=" character'),
    ],
)
def test_update_volumes_errors(mounts: tuple[str, ...], volumes: tuple[str, ...], message: str) -> None:
    with pytest.raises(errors.BadRequest) as e:
        update_volumes({}, {}, mounts, volumes)
    assert message in e.value.message


def test_mounted_volume_cannot_be_removed_nor_an_existing_mount_pointed_at_nothing() -> None:
    spec: dict[str, Any] = {}
    container: dict[str, Any] = {}
    update_volumes(spec, container, ("/c=v",), ("v=cm:cfg",))
    with pytest.raises(errors.BadRequest, match='The volume "v" cannot be removed because it is mounted'):
        update_volumes(spec, container, (), ("v-",))
    with pytest.raises(errors.BadRequest, match='There is no volume matched with "nope"'):
        update_volumes(spec, container, ("/c=nope",), ())


def test_service_template_with_every_storage_flag_and_a_second_update_is_a_change() -> None:
    opts = TemplateOptions(
        env_value_from=("PASSWORD=secret:db:password",),
        env_from=("cm:app",),
        mounts=("/etc/app=cm:app", "/etc/db=secret:db"),
    )
    svc = build_service("s", "default", opts)
    container = svc["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    assert container["envFrom"] == [{"configMapRef": {"name": "app"}}]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/etc/app", "/etc/db"]
    assert [next(k for k in v if k != "name") for v in svc["spec"]["template"]["spec"]["volumes"]] == [
        "configMap",
        "secret",
    ]
    assert edit_template(svc, opts) is False  # the same flags again: no new revision
    assert edit_template(svc, TemplateOptions(env_from=("cm:app-",))) is True
    assert "envFrom" not in svc["spec"]["template"]["spec"]["containers"][0]
