"""A throwaway certificate authority and the stand-in's TLS server certificate.

Both keys live only in memory and in the stand-in's temporary directory. The
certificates are valid from one day before the stand-in starts to one day after,
by the real clock, because TLS clients check them against their own clock and
not against the stand-in's ``clock_offset``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import ssl
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_MARGIN: Final = datetime.timedelta(days=1)
"""Validity on each side of now: covers clock skew, and the CA dies with the run."""

# File names inside the stand-in's own directory from tempfile.mkdtemp, which is
# new and private (mode 0700), so fixed names cannot collide.
CA_FILE_NAME: Final = "standin-ca.pem"
"""The CA certificate that clients trust, returned as ``ca_bundle``."""
SERVER_CERT_FILE_NAME: Final = "standin-server.pem"
"""The server certificate, loaded by the TLS context."""
SERVER_KEY_FILE_NAME: Final = "standin-server-key.pem"
"""The server's private key, loaded by the TLS context."""


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files written by :func:`write_tls_files`.

    Attributes:
        ca_bundle: The CA certificate, for clients to trust.
        server_cert: The server certificate.
        server_key: The server's private key, mode 0600.
    """

    ca_bundle: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "posos-jwt stand-in"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - VALIDITY_MARGIN)
        .not_valid_after(now + VALIDITY_MARGIN)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    # A CA signs certificates only. A TLS server with an EC key signs its
    # handshakes only.
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Create a CA key (EC P-256) and its self-signed certificate.

    Returns:
        The CA's private key and certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("posos-jwt stand-in throwaway CA")
    key_usage = _key_usage(signs_certificates=True)
    certificate = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def make_server_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca_certificate: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Create a server key and a certificate for 127.0.0.1 and localhost.

    Args:
        ca_key: The CA's private key, which signs the certificate.
        ca_certificate: The CA's certificate, which names the issuer.

    Returns:
        The server's private key and certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName(
        [
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            x509.DNSName("localhost"),
        ]
    )
    key_usage = _key_usage(signs_certificates=False)
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    certificate = (
        _builder(_name("localhost"), ca_certificate.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(names, critical=False)
        .add_extension(authority, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def _write_private(path: pathlib.Path, data: bytes) -> None:
    # Create the file with mode 0600 so that the key is never readable by others,
    # not even between creation and a later chmod.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def write_tls_files(directory: pathlib.Path) -> TlsFiles:
    """Create a CA and a server certificate and write them as PEM files.

    Args:
        directory: An existing directory that only the stand-in uses.

    Returns:
        The paths of the files written.
    """
    ca_key, ca_certificate = make_ca()
    server_key, server_certificate = make_server_certificate(ca_key, ca_certificate)
    files = TlsFiles(
        ca_bundle=directory / CA_FILE_NAME,
        server_cert=directory / SERVER_CERT_FILE_NAME,
        server_key=directory / SERVER_KEY_FILE_NAME,
    )
    files.ca_bundle.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(
        server_certificate.public_bytes(serialization.Encoding.PEM)
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(files.server_key, key_pem)
    return files


def make_server_context(files: TlsFiles) -> ssl.SSLContext:
    """Build the server's TLS context from the files of :func:`write_tls_files`.

    Args:
        files: The certificate and key files.

    Returns:
        A server-side context that accepts TLS 1.2 and later.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.server_cert, files.server_key)
    return context
