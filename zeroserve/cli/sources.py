"""The data of a Secret or ConfigMap from the command line: literals, files, directories, env files.

kubectl's rules (``pkg/cmd/create/create_secret.go``, ``create_configmap.go``, ``pkg/util``,
``pkg/cmd/util/env_file.go``), with its messages: ``[KEY=]PATH`` where the key defaults to the file's
base name, a directory gives one key per regular file in it, an env file gives one key per
``KEY=VALUE`` line (``#`` comments; a bare ``KEY`` takes the value from the environment), keys must
be valid config keys and may not repeat. kn's ``secret create --from-literal`` differs only in its
parsing (:func:`kn_literals`).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zeroserve import errors
from zeroserve.api.names import go_list, max_len_error, regex_error

CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
SUBDOMAIN_MAX = 253
DOCKER_HUB = "https://index.docker.io/v1/"
"""kubectl ``create secret docker-registry``'s default ``--docker-server``."""


def _q(text: str) -> str:
    """Go's ``%q``."""
    return json.dumps(text, ensure_ascii=False)


def config_key_errors(key: str) -> list[str]:
    """apimachinery ``IsConfigMapKey`` (Secret keys follow the same rule)."""
    errs = [max_len_error(SUBDOMAIN_MAX)] if len(key) > SUBDOMAIN_MAX else []
    if re.fullmatch(CONFIG_KEY_FMT, key) is None:
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def env_var_name_errors(name: str) -> list[str]:
    """apimachinery ``IsEnvVarName``."""
    if re.fullmatch(ENV_VAR_NAME_FMT, name):
        return []
    return [
        regex_error(
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
            "and must not start with a digit",
            ENV_VAR_NAME_FMT,
            "my.env-name",
            "MY_ENV.NAME",
            "MyEnvName1",
        )
    ]


def split_list(values: Sequence[str]) -> list[str]:
    """pflag's ``StringSlice``: every value is a CSV record (``a,b`` is two; ``"a,b"`` one)."""
    out: list[str] = []
    for value in values:
        if value == "":
            continue
        try:
            out.extend(next(csv.reader([value], strict=True)))
        except csv.Error as e:
            raise errors.BadRequest(f"invalid argument {_q(value)}: {e}") from None
    return out


def kn_literals(values: Sequence[str]) -> list[tuple[str, str]]:
    """kn ``secret create --from-literal`` / ``-l``: comma-separated ``key=value`` pairs (pflag's
    ``StringSlice``), read by kn's ``util.MapFromArray``: every pair needs ``=``, a key is not empty
    and not repeated."""
    items = split_list(values)
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise errors.BadRequest(
                f'Argument requires a value that contains the "=" character as delimiter; got {_q(item)}'
            )
        if not key:
            raise errors.BadRequest("The key is empty")
        if key in out:
            raise errors.BadRequest(f"The key {_q(key)} has been duplicate in {go_list(items)}")
        out[key] = value
    return list(out.items())


def literal_source(source: str) -> tuple[str, str]:
    """kubectl ``ParseLiteralSource``: ``key=value`` (the value may hold ``=``)."""
    key, sep, value = source.partition("=")
    if not sep or not key:
        raise errors.BadRequest(f"invalid literal source {source}, expected key=value")
    return key, value


def file_source(source: str) -> tuple[str, str]:
    """kubectl ``ParseFileSource``: ``PATH`` (the key is its base name) or ``KEY=PATH``."""
    n = source.count("=")
    if n == 0:
        return posixpath.basename(source.replace(os.sep, "/").rstrip("/")) or "/", source
    if n > 1:
        raise errors.BadRequest("key names or file paths cannot contain '='")
    key, path = source.split("=")
    if not key:
        raise errors.BadRequest(f"key name for file path {path} missing")
    if not path:
        raise errors.BadRequest(f"file path for key name {key} missing")
    return key, path


@dataclass
class Data:
    """Keys collected for one object, each once; ``what`` names it in messages (``Secret``,
    ``ConfigMap``)."""

    what: str
    name: str
    values: dict[str, bytes] = field(default_factory=dict)

    def add(self, key: str, value: bytes) -> None:
        problems = config_key_errors(key)
        if problems:
            sep = ": " if self.what == "ConfigMap" else " "
            verb = "is not a valid" if self.what == "ConfigMap" else "is not valid"
            raise errors.BadRequest(f"{_q(key)} {verb} key name for a {self.what}{sep}{';'.join(problems)}")
        if key in self.values:
            if self.what == "ConfigMap":
                raise errors.BadRequest(
                    f"cannot add key {_q(key)}, another key by that name already exists in Data for ConfigMap "
                    f"{_q(self.name)}"
                )
            raise errors.BadRequest(f"cannot add key {key}, another key by that name already exists")
        self.values[key] = value

    def add_files(self, sources: Sequence[str]) -> None:
        """``--from-file``: files and directories (their regular files, by name)."""
        for source in sources:
            key, path = file_source(source)
            p = Path(path)
            try:
                if p.is_dir():
                    if "=" in source:
                        raise errors.BadRequest("cannot give a key name for a directory path")
                    for item in sorted(p.iterdir()):
                        if item.is_file() and not item.is_symlink():
                            self.add(item.name, item.read_bytes())
                else:
                    self.add(key, p.read_bytes())
            except OSError as e:
                raise errors.BadRequest(f"error reading {path}: {e.strerror or e}") from None

    def add_env_files(self, paths: Sequence[str], environ: Mapping[str, str]) -> None:
        """``--from-env-file``: ``KEY=VALUE`` lines."""
        for path in paths:
            p = Path(path)
            if p.is_dir():
                kind = "secret" if self.what == "Secret" else "config"
                raise errors.BadRequest(f"env {kind} file cannot be a directory")
            try:
                raw = p.read_bytes()
            except OSError as e:
                raise errors.BadRequest(f"error reading {path}: {e.strerror or e}") from None
            for key, value in env_file(raw, path, environ):
                self.add(key, value.encode())


def env_file(raw: bytes, path: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """kubectl ``AddFromEnvFile``: leading blanks dropped, blank and ``#`` lines skipped, a UTF-8 BOM
    dropped from the first line, ``KEY`` alone takes ``environ[KEY]``."""
    out: list[tuple[str, str]] = []
    for n, line in enumerate(raw.split(b"\n")):
        line = line.removesuffix(b"\r")
        try:
            text = line.decode()
        except UnicodeDecodeError:
            raise errors.BadRequest(f"env file {path} contains invalid utf8 bytes at line {n + 1}") from None
        if n == 0:
            text = text.removeprefix("\ufeff")
        text = text.lstrip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        problems = env_var_name_errors(key)
        if problems:
            raise errors.BadRequest(f"{_q(key)} is not a valid key name: {';'.join(problems)}")
        out.append((key, value if sep else environ.get(key, "")))
    return out


def docker_config_json(server: str, username: str, password: str, email: str) -> bytes:
    """kubectl ``create secret docker-registry``'s ``.dockerconfigjson``."""
    entry = {"username": username, "password": password, "email": email}
    entry = {k: v for k, v in entry.items() if v}
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: entry}}, separators=(",", ":")).encode()


def read_file(path: str, flag: str) -> bytes:
    """A file named by a flag (``--tls-cert``), or a BadRequest naming both."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise errors.BadRequest(f"{flag}: cannot read {path}: {e.strerror or e}") from None


def encode(values: Mapping[str, bytes]) -> dict[str, str]:
    """A Secret's ``data`` (base64)."""
    return {k: base64.b64encode(v).decode() for k, v in values.items()}


def split_text(values: Mapping[str, bytes]) -> tuple[dict[str, str], dict[str, str]]:
    """A ConfigMap's ``data`` (UTF-8 text) and ``binaryData`` (base64, the rest), as kubectl splits them."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in values.items():
        try:
            data[key] = value.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    return data, binary
