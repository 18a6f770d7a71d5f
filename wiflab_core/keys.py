"""Signing keys, RFC 7638 key ids and JWKS rendering: the one place JOSE key work happens.

The fake IdP, the stand-in's Google issuer and every verifier share this module, so a
key is parsed once (PEM parsing costs milliseconds; pyjwt given a PEM string re-parses it
on every call) and its kid is the same wherever it is published.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SUPPORTED_ALGS = ("RS256", "ES256")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# RFC 7638 section 3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


class KeyLoadError(ValueError):
    """A key could not be loaded: the message says which and why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url), used as the kid."""
    members = _THUMBPRINT_MEMBERS.get(public_jwk.get("kty", ""))
    if members is None:
        raise KeyLoadError(f"unsupported key type {public_jwk.get('kty')!r}")
    canonical = json.dumps(
        {m: public_jwk[m] for m in members}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _alg_for(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name != "secp256r1":
            raise KeyLoadError(f"EC keys must use P-256 for ES256, not {key.curve.name}")
        return "ES256"
    raise KeyLoadError(f"unsupported key type {type(key).__name__}")


def public_jwk_of(key: PrivateKey | PublicKey) -> dict[str, Any]:
    """The public JWK (kid, kty, alg, use and public parameters only)."""
    alg = _alg_for(key)
    public = (
        key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    )
    jwk = _jwk_params(public)
    return {"kid": thumbprint(jwk), "alg": alg, "use": "sig", **jwk}


@dataclass(frozen=True)
class SigningKey:
    """A parsed private key with its public JWK rendered once."""

    private: PrivateKey = field(repr=False)
    alg: str
    kid: str
    public_jwk: Mapping[str, Any] = field(repr=False)

    @classmethod
    def of(cls, private: PrivateKey, kid: str | None = None) -> SigningKey:
        """kid defaults to the RFC 7638 thumbprint; Google's service-account keys use others."""
        jwk = public_jwk_of(private)
        if kid is not None:
            jwk["kid"] = kid
        return cls(private=private, alg=jwk["alg"], kid=jwk["kid"], public_jwk=jwk)

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        return jwt.encode(
            dict(claims),
            self.private,
            algorithm=self.alg,
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )

    def sign_bytes(self, payload: bytes) -> bytes:
        """A raw signature over payload with this key's algorithm (for signBlob)."""
        return jwt.get_algorithm_by_name(self.alg).sign(payload, self.private)

    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def certificate_pem(self, common_name: str, days: int = 30) -> str:
        """A self-signed X.509 certificate for this key, as Google serves in its PEM maps."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def private_jwk(self) -> dict[str, Any]:
        params = _jwk_params(self.private)
        return {"kid": self.kid, "alg": self.alg, "use": "sig", **params}


def _jwk_params(key: PrivateKey | PublicKey) -> dict[str, Any]:
    """The JWK members of a key (public or private), as pyjwt writes them."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSAAlgorithm.to_jwk(key, as_dict=True)
    return ECAlgorithm.to_jwk(key, as_dict=True)


def generate(alg: str = "RS256", kid: str | None = None) -> SigningKey:
    """A fresh key in memory; never written anywhere by this function."""
    if alg == "RS256":
        return SigningKey.of(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)
    if alg == "ES256":
        return SigningKey.of(ec.generate_private_key(ec.SECP256R1()), kid)
    raise KeyLoadError(f"unsupported alg {alg!r}; supported: {', '.join(SUPPORTED_ALGS)}")


def load_signing_keys(text: str) -> list[SigningKey]:
    """Private keys from PEM (one or more blocks) or from a JWK set / single JWK with "d"."""
    text = text.strip()
    if not text:
        raise KeyLoadError("the key source is empty")
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyLoadError(f"not valid JSON: {exc.msg}") from None
        jwks = doc.get("keys", [doc]) if isinstance(doc, dict) else None
        if not isinstance(jwks, list) or not jwks:
            raise KeyLoadError('a JWK set needs a non-empty "keys" list')
        return [_signing_key_from_jwk(j, i) for i, j in enumerate(jwks)]
    blocks = _pem_blocks(text)
    if not blocks:
        raise KeyLoadError("no PEM private key block and not a JWK set")
    keys = []
    for i, block in enumerate(blocks):
        try:
            private = serialization.load_pem_private_key(block.encode("ascii"), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyLoadError(f"PEM block {i}: {exc}") from None
        if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyLoadError(f"PEM block {i}: only RSA and EC P-256 keys are supported")
        keys.append(SigningKey.of(private))
    return keys


def _pem_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith("-----END"):
                if "PRIVATE KEY" in current[0]:
                    blocks.append("\n".join(current) + "\n")
                current = []
    return blocks


def _signing_key_from_jwk(jwk: Any, index: int) -> SigningKey:
    if not isinstance(jwk, dict) or "d" not in jwk:
        raise KeyLoadError(f'keys[{index}]: a private JWK (with "d") is required')
    try:
        algo = RSAAlgorithm if jwk.get("kty") == "RSA" else ECAlgorithm
        private = algo.from_jwk(jwk)
    except (jwt.InvalidKeyError, ValueError, KeyError, TypeError) as exc:
        raise KeyLoadError(f"keys[{index}]: {exc}") from None
    if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyLoadError(f'keys[{index}]: a private JWK (with "d") is required')
    return SigningKey.of(private)


def render_jwks(public_jwks: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [dict(j) for j in public_jwks]}


class VerificationKeys:
    """Public keys from a JWKS document, parsed once, looked up by kid."""

    def __init__(self, jwks: Mapping[str, Any]):
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list):
            raise KeyLoadError('a JWKS document needs a "keys" list')
        self._by_kid: dict[str, jwt.PyJWK] = {}
        for i, jwk in enumerate(keys):
            if not isinstance(jwk, dict):
                raise KeyLoadError(f"keys[{i}] is not an object")
            if "x5c" in jwk or "x5t" in jwk:
                raise KeyLoadError(f"keys[{i}]: x5c/x5t members are not accepted")
            try:
                parsed = jwt.PyJWK(jwk)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
                raise KeyLoadError(f"keys[{i}]: {exc}") from None
            kid = jwk.get("kid") or thumbprint(jwk)
            self._by_kid[kid] = parsed

    def get(self, kid: str) -> jwt.PyJWK | None:
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self._by_kid)
