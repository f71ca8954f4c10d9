"""The API's CA and serving certificate: made once, reused, made again when they will not do."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from zeroserve.apiserver import certs
from zeroserve.apiserver.certs import ensure_serving_certs

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(names.get_values_for_type(x509.DNSName))


def test_made_with_go_friendly_sans_and_private_keys(tmp_path: Path) -> None:
    made = ensure_serving_certs(tmp_path, NOW)
    assert sans(made.cert_file) == {"127.0.0.1", "::1", "localhost"}
    for name in ("ca.key", "apiserver.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(made.cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(made.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - NOW == certs.SERVING_VALIDITY


def test_reused_across_restarts(tmp_path: Path) -> None:
    first = ensure_serving_certs(tmp_path, NOW)
    pems = (first.ca_file.read_bytes(), first.cert_file.read_bytes(), first.key_file.read_bytes())
    again = ensure_serving_certs(tmp_path, NOW + timedelta(days=100))
    assert (again.ca_file.read_bytes(), again.cert_file.read_bytes(), again.key_file.read_bytes()) == pems


def test_renewed_near_expiry_with_the_same_ca(tmp_path: Path) -> None:
    first = ensure_serving_certs(tmp_path, NOW)
    ca, cert = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    later = NOW + certs.SERVING_VALIDITY - certs.RENEW_BEFORE + timedelta(days=1)
    again = ensure_serving_certs(tmp_path, later)
    assert again.ca_file.read_bytes() == ca
    assert again.cert_file.read_bytes() != cert
    assert x509.load_pem_x509_certificate(again.cert_file.read_bytes()).not_valid_after_utc > later + certs.RENEW_BEFORE


def test_other_sans_a_new_ca_or_a_broken_file_make_a_new_certificate(tmp_path: Path) -> None:
    first = ensure_serving_certs(tmp_path, NOW)
    with_host = ensure_serving_certs(tmp_path, NOW, hosts=("127.0.0.2", "zs.local"))
    assert sans(with_host.cert_file) == {"127.0.0.1", "::1", "localhost", "127.0.0.2", "zs.local"}
    assert first.cert_file.read_bytes() != b""
    (tmp_path / "ca.key").write_text("garbage")
    renewed = ensure_serving_certs(tmp_path, NOW)
    ca = x509.load_pem_x509_certificate(renewed.ca_file.read_bytes())
    x509.load_pem_x509_certificate(renewed.cert_file.read_bytes()).verify_directly_issued_by(ca)
    (tmp_path / "apiserver.crt").write_text("")
    assert sans(ensure_serving_certs(tmp_path, NOW).cert_file) == {"127.0.0.1", "::1", "localhost"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_wildcard_listen_hosts_add_no_san(host: str) -> None:
    names = certs.wanted_sans((host,))
    assert [str(n.value) for n in names] == [str(ipaddress.ip_address("127.0.0.1")), "::1", "localhost"]


def test_contexts_load(tmp_path: Path) -> None:
    made = ensure_serving_certs(tmp_path, datetime.now(UTC))
    assert isinstance(made.server_context(), ssl.SSLContext)
    client = certs.client_context(made.ca_file)
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
