"""RFC 7638 thumbprints (the kid of every key wiflab publishes) against published vectors."""

from __future__ import annotations

import json

import pytest
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from wiflab_core import keys

# RFC 7638 section 3.1: the example RSA key (RFC 7517 appendix A.1) and its thumbprint.
RFC7638_RSA = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_RSA_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# RFC 7517 appendix A.1's P-256 public key. RFC 7638 has no EC example; this thumbprint is
# the one other implementations assert for the same key (crv, kty, x, y in that order).
RFC7517_EC = {
    "kty": "EC",
    "crv": "P-256",
    "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    "use": "enc",
    "kid": "1",
}
RFC7517_EC_THUMBPRINT = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"

VECTORS = [(RFC7638_RSA, RFC7638_RSA_THUMBPRINT), (RFC7517_EC, RFC7517_EC_THUMBPRINT)]


@pytest.mark.parametrize(("jwk", "expected"), VECTORS, ids=["RSA", "EC"])
def test_thumbprint_of_the_published_key(jwk: dict, expected: str) -> None:
    # Optional members (alg, kid, use) are present and must not count.
    assert keys.thumbprint(jwk) == expected


@pytest.mark.parametrize(("jwk", "expected"), VECTORS, ids=["RSA", "EC"])
def test_thumbprint_ignores_member_order(jwk: dict, expected: str) -> None:
    assert keys.thumbprint(dict(reversed(list(jwk.items())))) == expected


@pytest.mark.parametrize(
    ("jwk", "algorithm", "expected"),
    [
        (RFC7638_RSA, RSAAlgorithm, RFC7638_RSA_THUMBPRINT),
        (RFC7517_EC, ECAlgorithm, RFC7517_EC_THUMBPRINT),
    ],
    ids=["RSA", "EC"],
)
def test_published_kid_of_the_key_is_its_thumbprint(jwk: dict, algorithm, expected: str) -> None:
    public = algorithm.from_jwk(json.dumps(jwk))
    assert keys.public_jwk_of(public)["kid"] == expected


def test_a_jwks_key_without_kid_is_found_by_its_thumbprint() -> None:
    bare = {k: v for k, v in RFC7638_RSA.items() if k != "kid"}
    verification = keys.VerificationKeys({"keys": [bare]})
    assert verification.get(RFC7638_RSA_THUMBPRINT) is not None
