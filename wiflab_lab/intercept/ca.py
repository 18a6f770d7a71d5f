"""The local certificate authority of intercept mode, one per state dir.

Its X.509 name constraints (critical, permitted subtrees only) limit it to the hosts wiflab
serves: a certificate it signed for any other name does not verify, so trusting it lends no
trust to the rest of the web. Its key is written owner-only beside endpoints.json and never
leaves the state dir; a missing or unreadable pair is made again. Leaf certificates are made
on demand per host, short-lived, and cached in memory with their ``ssl.SSLContext``.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wiflab_core.private_file import write_private
from wiflab_lab.intercept.routes import AWS_STS_HOSTS

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
# What the CA may vouch for: DNS subtrees match the name and every name below it (RFC 5280
# 4.2.1.10), so "googleapis.com" covers sts.googleapis.com.
PERMITTED_DNS: tuple[str, ...] = (
    "googleapis.com",
    "accounts.google.com",
    "run.app",
    "metadata.google.internal",
    # The real CI issuers the lab IdP's presets serve (routes.PRESET_HOSTS).
    "token.actions.githubusercontent.com",
    "gitlab.com",
    # AWS STS's own hosts (issue 15), each by name: not amazonaws.com, which would cover all
    # of AWS.
    *AWS_STS_HOSTS,
)
PERMITTED_IPS = ("169.254.169.254/32",)
CA_LIFETIME = datetime.timedelta(days=365)
LEAF_LIFETIME = datetime.timedelta(hours=24)
# A cached leaf is made again when less than this is left of it.
LEAF_RENEW_BEFORE = datetime.timedelta(hours=1)
# Some verifiers refuse certificates whose notBefore is a moment in their future.
BACKDATE = datetime.timedelta(minutes=5)
CA_NAME = "wiflab local CA (Google hosts only)"


class NotPermitted(ValueError):
    """A host outside the CA's name constraints: no certificate is made for it."""


def permits(host: str) -> bool:
    """Whether the name constraints allow ``host`` (a DNS name or an IP address)."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(host == base or host.endswith("." + base) for base in PERMITTED_DNS)
    return any(address in ipaddress.ip_network(net) for net in PERMITTED_IPS)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def name_constraints() -> x509.NameConstraints:
    permitted: list[x509.GeneralName] = [x509.DNSName(d) for d in PERMITTED_DNS]
    permitted += [x509.IPAddress(ipaddress.ip_network(n)) for n in PERMITTED_IPS]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def make_ca(
    now: datetime.datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = now or _utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(name_constraints(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def sign_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    leaf_key: ec.EllipticCurvePrivateKey,
    host: str,
    now: datetime.datetime,
    lifetime: datetime.timedelta = LEAF_LIFETIME,
) -> x509.Certificate:
    """A server certificate for ``host`` (SAN = the host), whatever the constraints say:
    ``LocalCA.leaf`` refuses names outside them; tests use this to show they are enforced."""
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(host[:64]))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Leaf:
    host: str
    certificate: x509.Certificate
    context: ssl.SSLContext

    @property
    def expires(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc


class LocalCA:
    """The CA of one state dir: ``LocalCA.load_or_create(directory)``."""

    def __init__(
        self,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        cert_file: Path,
        clock: Callable[[], datetime.datetime] = _utcnow,
    ):
        self.certificate = certificate
        self._key = key
        self.cert_file = cert_file
        self._clock = clock
        # One key for every leaf of this process: a new TLS host costs a signature, not a
        # key generation. It lives in memory only.
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaves: dict[tuple[str, tuple[str, ...]], Leaf] = {}
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, directory: Path) -> LocalCA:
        """The CA in ``directory`` (ca.pem, ca-key.pem 0600), made anew when either is missing
        or unreadable, when the certificate has expired, or when its name constraints are not
        today's (a CA made before the AWS hosts were served)."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError("not an EC key")
            if cert.public_key() != key.public_key():
                raise ValueError("the key is not the certificate's")
            if cert.not_valid_after_utc - _utcnow() < LEAF_LIFETIME:
                raise ValueError("expired")
            constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
            if constraints != name_constraints():
                raise ValueError("made for other hosts (an earlier wiflab's CA)")
        except (OSError, ValueError, x509.ExtensionNotFound):
            cert, key = make_ca()
            write_private(
                key_file,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
            )
            # The certificate is public; write_private still gives an atomic replace.
            write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM).decode())
            cert_file.chmod(0o644)
        return cls(cert, key, cert_file)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def leaf(self, host: str, alpn: Sequence[str] = ("http/1.1",)) -> Leaf:
        """The (cached) certificate and server context for ``host``; NotPermitted outside the
        name constraints."""
        host = host.lower().rstrip(".")
        if not permits(host):
            raise NotPermitted(f"{host!r} is outside the local CA's name constraints")
        key = (host, tuple(alpn))
        with self._lock:
            cached = self._leaves.get(key)
            now = self._clock()
            if cached is not None and cached.expires - now > LEAF_RENEW_BEFORE:
                return cached
            cert = sign_leaf(self.certificate, self._key, self._leaf_key, host, now)
            leaf = Leaf(host, cert, self._context(cert, alpn))
            self._leaves[key] = leaf
            return leaf

    def _context(self, cert: x509.Certificate, alpn: Sequence[str]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if alpn:
            # The server's order decides (OpenSSL picks the first of ours the client offers).
            context.set_alpn_protocols(list(alpn))
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.certificate.public_bytes(
            serialization.Encoding.PEM
        )
        key = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # ssl loads a chain from files only: an owner-only temporary, removed at once.
        with tempfile.TemporaryDirectory(prefix="wiflab-leaf-") as tmp:
            path = Path(tmp) / "leaf.pem"
            write_private(path, (chain + key).decode())
            context.load_cert_chain(path)
        return context
