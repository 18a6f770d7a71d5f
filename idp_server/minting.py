"""What goes into a token: the posted claims, checked, with the defaults the IdP fills in.

The body of ``POST /token`` is exactly the claims object (the seed write-ups post one with
curl). The IdP fills in ``iss`` (its issuer), ``iat`` (now), ``exp`` (``iat`` + TTL) and
``jti``, and refuses what would make a token no real IdP issues: a foreign ``iss`` (unless
allowed, for negative tests), non-integer times, or ``exp - iat`` above the maximum.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp_server.errors import ConfigError, IdpError, invalid_request
from idp_server.guard import require_bearer
from idp_server.keystore import KeyStore
from wiflab_core import json_limits

MAX_BODY_BYTES = 64 * 1024
TIME_CLAIMS = ("iat", "exp", "nbf")


@dataclass(frozen=True)
class ClaimRules:
    token_ttl: int
    max_lifetime: int
    allow_foreign_issuer: bool


def parse_claims(body: bytes) -> dict[str, Any]:
    """The request body as a claims object, or a 400 naming what is wrong with it."""
    if not body.strip():
        raise invalid_request("body: expected a JSON object of claims, got an empty body")
    try:
        # Depth bounded before parsing, NaN/Infinity and lone surrogates refused: what the
        # IdP signs, every JSON parser reads back (a claim's error names the claim).
        claims = json_limits.loads(body, "body", values_path="")
    except json_limits.JsonInputError as exc:
        raise invalid_request(str(exc)) from None
    if not isinstance(claims, dict):
        raise invalid_request(f"body: expected a JSON object of claims, got {_json_type(claims)}")
    return claims


def complete_claims(
    claims: Mapping[str, Any], *, issuer: str, now: int, rules: ClaimRules
) -> dict[str, Any]:
    """The claims with the IdP's defaults filled in, or an IdpError naming the refused claim."""
    try:
        json_limits.check_value(claims)
    except json_limits.JsonInputError as exc:
        raise invalid_request(str(exc)) from None
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (not isinstance(value, int) or isinstance(value, bool)):
            raise invalid_request(
                f"{name}: must be an integer number of seconds since the epoch, "
                f"not {_json_type(value)}"
            )
    if "iss" in claims:
        if not isinstance(claims["iss"], str):
            raise invalid_request(f"iss: must be a string, not {_json_type(claims['iss'])}")
        if claims["iss"] != issuer and not rules.allow_foreign_issuer:
            raise invalid_request(
                f"iss: {claims['iss']!r} is not this IdP's issuer {issuer!r}; leave iss out, "
                "or start the IdP with IDP_ALLOW_FOREIGN_ISSUER=1 for negative tests"
            )
    completed = {"iss": issuer, "iat": now, **claims}
    completed.setdefault("exp", completed["iat"] + rules.token_ttl)
    completed.setdefault("jti", uuid.uuid4().hex)
    lifetime = completed["exp"] - completed["iat"]
    if lifetime > rules.max_lifetime:
        raise invalid_request(
            f"exp: the lifetime exp - iat = {lifetime} s exceeds the maximum "
            f"{rules.max_lifetime} s (IDP_MAX_LIFETIME)"
        )
    return completed


@dataclass(frozen=True)
class Minted:
    token: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"id_token": self.token, "token_type": "Bearer", "expires_in": self.expires_in}


class Minter:
    """What both token routes do between reading the request and writing the answer."""

    def __init__(self, rules: ClaimRules, store: KeyStore, secret: str | None):
        self._rules = rules
        self._store = store
        self._secret = secret

    def check_caller(self, authorization: str | None) -> None:
        if self._secret is not None:
            require_bearer(authorization, self._secret, "mint tokens", "IDP_TOKEN_SECRET")

    def mint(
        self,
        claims: Mapping[str, Any],
        *,
        issuer: str,
        alg: str | None = None,
        kid: str | None = None,
    ) -> Minted:
        now = int(time.time())
        completed = complete_claims(claims, issuer=issuer, now=now, rules=self._rules)
        key = self._store.current().signer(alg=alg, kid=kid)
        return Minted(key.sign(completed), max(0, completed["exp"] - now))


def check_profiles(
    profiles: Mapping[str, Mapping[str, Any]], *, issuer: str | None, now: int, rules: ClaimRules
) -> None:
    """Refuse at start-up a profile that every request would refuse."""
    for name, claims in profiles.items():
        # With the issuer taken from each request's Host, only the request can check iss.
        probe_issuer = issuer if issuer is not None else claims.get("iss", "")
        try:
            complete_claims(claims, issuer=probe_issuer, now=now, rules=rules)
        except IdpError as exc:
            raise ConfigError(f"profile {name!r}: {exc.description}") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a non-integer number"
    if isinstance(value, int):
        return "a number"
    kinds: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return kinds.get(type(value), "a value")
