"""Tokens no honest IdP issues, built by hand for the negative cases.

Each keeps everything else about a good token (claims, the IdP's kid) so the one defect under
test is what STS must catch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import jwt

from wiflab_core.keys import SigningKey, b64url


def _segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def unsigned(claims: Mapping[str, Any], kid: str) -> str:
    """``alg: none``: a header, the claims, and an empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def hmac_signed(claims: Mapping[str, Any], kid: str, secret: bytes) -> str:
    """HS256 keyed with public material: the algorithm-confusion attack on RS256 verifiers."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def without_kid(key: SigningKey, claims: Mapping[str, Any]) -> str:
    return jwt.encode(dict(claims), key.private, algorithm=key.alg, headers={"typ": "JWT"})


def tampered(token: str, **changes: Any) -> str:
    """The same header and signature over claims changed after signing."""
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    return f"{header}.{_segment({**claims, **changes})}.{signature}"


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})
