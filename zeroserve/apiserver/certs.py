"""The API's TLS: a local certificate authority and the serving certificate it signs.

``zeroserve up`` serves the API over HTTPS because kubectl never sends a bearer token over plain
http (kubernetes/kubectl#744). :func:`ensure_serving_certs` keeps, in the data dir, as kubeadm's
``pki/`` does:

* ``ca.crt`` / ``ca.key``: a self-signed CA (ECDSA P-256, 10 years), the one clients trust
  (``certificate-authority-data`` of ``DATA/kubeconfig``, ``curl --cacert``);
* ``apiserver.crt`` / ``apiserver.key``: the serving certificate (1 year) with the SANs
  ``IP:127.0.0.1``, ``IP:::1``, ``DNS:localhost`` and the API's listen host (Go checks SANs only,
  never the CN).

Keys are 0600 from birth. Both are reused across restarts and made again when missing, unreadable,
due to expire within :data:`RENEW_BEFORE`, not matching their key, not signed by the CA, or (the
serving certificate) naming other SANs. A new CA means a new serving certificate: clients then
need the new ``ca.crt`` (``up`` rewrites ``DATA/kubeconfig``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT: Final = "ca.crt"
CA_KEY: Final = "ca.key"
SERVING_CERT: Final = "apiserver.crt"
SERVING_KEY: Final = "apiserver.key"
CA_VALIDITY: Final = timedelta(days=3650)
SERVING_VALIDITY: Final = timedelta(days=365)
RENEW_BEFORE: Final = timedelta(days=30)
"""A certificate expiring sooner than this is made again at the next start."""
BACKDATE: Final = timedelta(minutes=5)
"""``notBefore`` is this far in the past: a client clock slightly behind still accepts it."""
DEFAULT_HOSTS: Final = ("127.0.0.1", "::1", "localhost")

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class ServingCerts:
    """Where the CA and the serving certificate are (PEM files)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def ca_pem(self) -> bytes:
        return self.ca_file.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        """The server side: TLS 1.2 or newer, HTTP/1.1 offered by ALPN."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        context.set_alpn_protocols(["http/1.1"])
        return context


def client_context(ca_file: str | Path | None = None, ca_data: str | None = None) -> ssl.SSLContext:
    """A client context trusting only the given CA (a file or PEM text), host names checked."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None, cadata=ca_data)


def wanted_sans(hosts: Sequence[str] = ()) -> list[x509.GeneralName]:
    """The SANs for the default hosts plus ``hosts`` (IPs as IP SANs, names as DNS SANs), no duplicates."""
    names: list[x509.GeneralName] = []
    for host in (*DEFAULT_HOSTS, *hosts):
        if not host or host in ("0.0.0.0", "::"):
            continue
        name: x509.GeneralName
        try:
            name = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host.lower())
        if name not in names:
            names.append(name)
    return names


def ensure_serving_certs(data_dir: Path, now: datetime, hosts: Sequence[str] = ()) -> ServingCerts:
    """The CA and serving certificate in ``data_dir``, made (again) when they will not do."""
    certs = ServingCerts(data_dir / CA_CERT, data_dir / SERVING_CERT, data_dir / SERVING_KEY)
    ca = _load(data_dir / CA_CERT, data_dir / CA_KEY)
    if ca is None or not _ca_usable(*ca, now):
        ca = _new_ca(now)
        _write(data_dir / CA_KEY, _key_pem(ca[1]), private=True)
        _write(data_dir / CA_CERT, ca[0].public_bytes(serialization.Encoding.PEM))
    sans = wanted_sans(hosts)
    serving = _load(certs.cert_file, certs.key_file)
    if serving is None or not _serving_usable(*serving, ca[0], sans, now):
        cert, key = _new_serving(ca, sans, now)
        _write(certs.key_file, _key_pem(key), private=True)
        _write(certs.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return certs


# -- checks ------------------------------------------------------------------------------------


def _load(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, Key] | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return cert, key


def _matches(cert: x509.Certificate, key: Key) -> bool:
    return cert.public_key() == key.public_key()


def _fresh(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _ca_usable(cert: x509.Certificate, key: Key, now: datetime) -> bool:
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return basic.ca and _matches(cert, key) and _fresh(cert, now)


def _serving_usable(
    cert: x509.Certificate, key: Key, ca: x509.Certificate, sans: list[x509.GeneralName], now: datetime
) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        present = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return sorted(map(str, present)) == sorted(map(str, sans)) and _matches(cert, key) and _fresh(cert, now)


# -- making ------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zeroserve"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """Digital signatures (ECDSA), plus certificate and CRL signing for the CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _new_ca(now: datetime) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("zeroserve-ca")
    usage = _key_usage(signs_certificates=True)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_serving(
    ca: tuple[x509.Certificate, Key], sans: list[x509.GeneralName], now: datetime
) -> tuple[x509.Certificate, Key]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usage = _key_usage(signs_certificates=False)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("zeroserve-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVING_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` atomically; a private file is 0600 from its creation (never readable first)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)
