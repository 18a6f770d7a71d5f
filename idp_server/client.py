"""A small HTTP client for a running IdP: minting and key rotation (used by the CLI)."""

from __future__ import annotations

from typing import Any

import requests


class IdpClientError(Exception):
    """The IdP refused, or could not be reached: the message says which and why."""


class IdpClient:
    def __init__(
        self,
        base_url: str,
        *,
        token_secret: str | None = None,
        admin_secret: str | None = None,
        timeout: float = 10.0,
    ):
        self.base_url = base_url.rstrip("/")
        self._token_secret = token_secret
        self._admin_secret = admin_secret
        self._timeout = timeout

    def mint(self, claims_json: str, *, alg: str | None = None, kid: str | None = None) -> str:
        """A token for claims_json, sent as-is so the IdP alone judges it."""
        params = {k: v for k, v in (("alg", alg), ("kid", kid)) if v is not None}
        response = self._send(
            "POST",
            "/token",
            self._token_secret,
            data=claims_json.encode("utf-8"),
            params=params,
            headers={"Accept": "text/plain"},
        )
        return response.text

    def mint_preset(
        self,
        preset: str,
        *,
        variant: str | None = None,
        params: dict[str, str] | None = None,
        audience: str | list[str] | None = None,
        alg: str | None = None,
        kid: str | None = None,
    ) -> str:
        """A token shaped like a real provider's (``POST /presets/NAME/token``)."""
        body: dict[str, Any] = {"params": params or {}}
        if variant is not None:
            body["variant"] = variant
        if audience is not None:
            body["aud"] = audience
        response = self._send(
            "POST",
            f"/presets/{preset}/token",
            self._token_secret,
            json=body,
            params={k: v for k, v in (("alg", alg), ("kid", kid)) if v is not None},
            headers={"Accept": "text/plain"},
        )
        return response.text

    def list_keys(self) -> list[dict[str, str]]:
        return self._send("GET", "/admin/keys", self._admin_secret).json()["keys"]

    def add_key(self, alg: str, status: str) -> dict[str, Any]:
        body = {"alg": alg, "status": status}
        return self._send("POST", "/admin/keys", self._admin_secret, json=body).json()

    def activate_key(self, kid: str) -> list[dict[str, str]]:
        return self._send("POST", f"/admin/keys/{kid}/activate", self._admin_secret).json()["keys"]

    def retire_key(self, kid: str) -> list[dict[str, str]]:
        return self._send("POST", f"/admin/keys/{kid}/retire", self._admin_secret).json()["keys"]

    def _send(self, method: str, path: str, secret: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        url = self.base_url + path
        try:
            response = requests.request(
                method, url, headers=headers, timeout=self._timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise IdpClientError(f"cannot reach {url}: {exc}") from None
        if not response.ok:
            raise IdpClientError(f"{method} {url}: {response.status_code} {_reason(response)}")
        return response


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{body['error']}: {body['error_description']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
