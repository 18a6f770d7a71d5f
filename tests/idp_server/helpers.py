"""A running IdP seen from outside: everything goes over HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import jwt
import requests

ADMIN_SECRET = "admin-secret-for-tests-7f3a"
TOKEN_SECRET = "token-secret-for-tests-91c2"


class Idp:
    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def post_token(
        self,
        body: bytes | str | dict[str, Any],
        headers: dict[str, str] | None = None,
        **params: str,
    ) -> requests.Response:
        data = json.dumps(body) if isinstance(body, dict) else body
        return self.session.post(
            f"{self.url}/token", data=data, params=params, headers=headers, timeout=10
        )

    def mint(self, claims: dict[str, Any], **params: str) -> str:
        response = self.post_token(claims, **params)
        assert response.status_code == 200, response.text
        return response.text

    def discovery(self) -> dict[str, Any]:
        return self.session.get(f"{self.url}/.well-known/openid-configuration", timeout=10).json()

    def jwks(self) -> dict[str, Any]:
        return self.session.get(f"{self.url}/certs", timeout=10).json()

    def kids(self) -> list[str]:
        return [k["kid"] for k in self.jwks()["keys"]]

    def verify(self, token: str, audience: str = "aud-1") -> dict[str, Any]:
        """Verify as a relying party would: discovery, then its jwks_uri, then the kid."""
        discovery = self.discovery()
        key = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(
            token
        )
        return jwt.decode(
            token,
            key.key,
            algorithms=discovery["id_token_signing_alg_values_supported"],
            audience=audience,
            issuer=discovery["issuer"],
        )

    def admin(
        self, method: str, path: str, secret: str | None = ADMIN_SECRET, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return self.session.request(
            method, f"{self.url}/admin{path}", headers=headers, timeout=10, **kwargs
        )

    def add_key(self, alg: str = "RS256", status: str = "published") -> str:
        response = self.admin("POST", "/keys", json={"alg": alg, "status": status})
        assert response.status_code == 201, response.text
        return response.json()["added"]["kid"]


def error_of(response: requests.Response) -> tuple[int, str, str]:
    """(status, error, error_description), asserting the JSON error shape on the way."""
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    return response.status_code, body["error"], body["error_description"]
