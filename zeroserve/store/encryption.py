"""Encryption at rest: what the store writes of a Secret is AES-256-GCM ciphertext.

Kubernetes encrypts Secrets in etcd with an ``EncryptionConfiguration`` provider; its own docs rank
``aescbc`` as weak and recommend an AEAD. zeroserve does the same always, with no configuration:

* the key is 256 random bits in ``DATA/secrets.key`` (mode 0600, created on first start). The file
  is a keyring, one ``ID BASE64KEY`` per line: the first key encrypts, every key decrypts, so a key
  can be rotated later by putting a new one first (and rewriting the Secrets);
* a value is ``zeroserve:enc:aesgcm:v1:ID:`` + base64(96-bit random nonce + ciphertext + tag), the
  same shape as kube-apiserver's ``k8s:enc:aesgcm:v1:NAME:`` prefix;
* the associated data is the resource, namespace and name (``secrets/default/db``): a ciphertext
  copied onto another object's row does not decrypt.

The whole stored object is encrypted, not only ``data``: neither a value nor its base64 is anywhere
on disk (the objects table, the watch event log, the WAL). Only the row's key columns (resource,
namespace, name: what etcd's keys hold in Kubernetes) are plain; labels are inside the ciphertext,
and label selectors run on the store's decrypted in-memory rows.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_FILE: Final = "secrets.key"
PREFIX: Final = "zeroserve:enc:aesgcm:v1:"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class KeyringError(Exception):
    """The key file is unreadable or malformed, or a stored value does not decrypt with any key."""


class Keyring:
    """AES-256-GCM keys by id: ``encrypt`` uses the first, ``decrypt`` the one a value names."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyringError("a keyring needs at least one key")
        for key_id, key in keys:
            if len(key) != KEY_BYTES or not key_id or ":" in key_id or " " in key_id:
                raise KeyringError(f"key {key_id!r}: expected an id without ':' and a {KEY_BYTES * 8}-bit key")
        self._primary = keys[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def ephemeral(cls) -> Keyring:
        """A random key that lives as long as the process (a ``:memory:`` store writes nothing)."""
        return cls([(_new_id(), AESGCM.generate_key(bit_length=KEY_BYTES * 8))])

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The keyring in ``path``, made with one new key (mode 0600) when the file does not exist."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls._load(path)
        with os.fdopen(fd, "w") as f:
            key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
            f.write(f"{_new_id()} {base64.b64encode(key).decode()}\n")
            f.flush()
            os.fsync(f.fileno())
        return cls._load(path)

    @classmethod
    def _load(cls, path: Path) -> Keyring:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); made 0600", path, mode)
            path.chmod(0o600)
        keys: list[tuple[str, bytes]] = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                keys.append((parts[0], base64.b64decode(parts[1], validate=True)))
            except (ValueError, binascii.Error):
                raise KeyringError(f"{path}:{n}: expected 'ID BASE64KEY'") from None
        return cls(keys)

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._primary].encrypt(nonce, plaintext, aad)
        return f"{PREFIX}{self._primary}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, value: str, aad: bytes) -> bytes:
        if not value.startswith(PREFIX):
            raise KeyringError("a stored Secret is not encrypted")
        key_id, _, body = value[len(PREFIX) :].partition(":")
        aead = self._keys.get(key_id)
        if aead is None:
            raise KeyringError(f"a stored Secret is encrypted with key {key_id!r}, which the keyring does not hold")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (binascii.Error, ValueError, InvalidTag):
            raise KeyringError(f"a stored Secret does not decrypt with key {key_id!r}") from None


def _new_id() -> str:
    return "k" + secrets.token_hex(4)
