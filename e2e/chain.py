"""One test's handle on the chain: make the calls the official clients make, and read a refusal
as Google answered it (status, error code, text), whatever the service's error shape.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request

from wiflab_core.keys import SigningKey
from wiflab_lab.testing import CLOUD_PLATFORM, ExternalAccounts, WifStack, credentials_from_info

# Google Front End's error page (Cloud Run): the title names the error, h2 says why.
_PAGE = re.compile(r"<h1>Error: (?P<title>[^<]*)</h1>\s*<h2>(?P<message>.*?)</h2>", re.S)


@dataclass(frozen=True)
class Refusal:
    """A refused call: HTTP status, the error code (None when the answer has none), the text."""

    status: int
    code: str | None
    text: str

    @classmethod
    def of(cls, response: requests.Response) -> Refusal:
        if "json" in response.headers.get("Content-Type", ""):
            body = response.json()
            error = body.get("error")
            if isinstance(error, dict):  # Google API style: {"error": {code, status, message}}
                return cls(response.status_code, error.get("status"), error.get("message"))
            return cls(response.status_code, error, body.get("error_description"))
        page = _PAGE.search(response.text)
        if page:
            return cls(response.status_code, page["title"], page["message"])
        return cls(response.status_code, None, response.text)


# tokeninfo names a token's account only when it carries the email scope (oauth2.v2.json).
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
OWNER_SCOPES = ("https://www.googleapis.com/auth/cloud-platform", USERINFO_EMAIL)


def token_owner(stack: WifStack, access_token: str) -> str:
    """Whose access token this is, as Google's tokeninfo endpoint says (the token must carry
    the email scope: credentials made with ``scopes=OWNER_SCOPES``)."""
    info = requests.get(
        stack.endpoints.google_issuer.tokeninfo,
        params={"access_token": access_token},
        timeout=10,
    )
    assert info.status_code == 200, info.text
    assert "email" in info.json(), f"tokeninfo shows no email without {USERINFO_EMAIL}: {info.text}"
    return info.json()["email"]


def token_account(stack: WifStack, access_token: str) -> str:
    """Whose access token this is, by tokeninfo's ``azp`` (the account's unique id, shown
    whatever the token's scopes: a metadata server's default token has no email scope)."""
    info = requests.get(
        stack.endpoints.google_issuer.tokeninfo,
        params={"access_token": access_token},
        timeout=10,
    )
    assert info.status_code == 200, info.text
    azp = info.json()["azp"]
    owners = [a.email for a in stack.topology.service_accounts if a.unique_id == azp]
    assert owners, f"tokeninfo's azp {azp} is no service account of the topology"
    return owners[0]


def google_error(refused: Exception) -> dict[str, Any]:
    """The JSON error body google-auth carries as a refresh error's second argument."""
    return json.loads(refused.args[1])


class Accepted(AssertionError):
    """The chain accepted what the case expected it to refuse."""


class _RecordingSession(requests.Session):
    """A requests session that remembers its responses, for google-auth's transport."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[requests.Response] = []
        self.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)


class Chain:
    def __init__(self, stack: WifStack, accounts: ExternalAccounts, forge_key: SigningKey):
        self.stack = stack
        self.accounts = accounts
        # A key no issuer publishes (except the forge provider, which has it uploaded).
        self.forge_key = forge_key
        # Values a refusal's text quotes (an iat, a kid, an issuer...); cases add their own.
        self.facts: dict[str, Any] = {
            "issuer": stack.endpoints.require_idp().issuer,
            "profiles": ", ".join(sorted(stack.topology.idp.profiles)),
        }

    def claims(self, profile: str | None = None, provider: str | None = None, **claims: Any):
        """A complete claim set as the lab IdP would sign it now (for tokens signed here)."""
        now = int(time.time())
        base = {"iss": self.facts["issuer"], "iat": now, "exp": now + 3600}
        return {**base, **self.stack.subject_claims(profile, provider=provider, **claims)}

    # -- the official clients -------------------------------------------------------------

    def credentials(self, provider: str | None = None, **kwargs: Any) -> Any:
        """google-auth credentials (ExternalAccounts.credentials); no service_account: the
        federated principal itself."""
        return self.accounts.credentials(provider, **kwargs)

    def credentials_with_audience(self, audience: str, token: str) -> Any:
        """An external account whose STS audience parameter is exactly ``audience``."""
        info = self.accounts.info(subject_token=token)
        return credentials_from_info({**info, "audience": audience})

    def refused_refresh(self, credentials: Any) -> Refusal:
        """Refresh through google-auth; the refusal as the last response showed it."""
        session = _RecordingSession()
        try:
            credentials.refresh(Request(session))
        except (auth_exceptions.OAuthError, auth_exceptions.RefreshError):
            return Refusal.of(session.responses[-1])
        raise Accepted("google-auth refreshed the credential: the exchange was accepted")

    def refused_exchange(self, subject_token: str, provider: str | None = None) -> Refusal:
        """Exchange subject_token through google-auth; its claims and kid become facts."""
        try:
            self.facts.update(jwt.decode(subject_token, options={"verify_signature": False}))
            self.facts["kid"] = jwt.get_unverified_header(subject_token).get("kid")
        except jwt.PyJWTError:
            pass  # not a JWT at all: nothing to quote
        credentials = self.accounts.credentials(provider, subject_token=subject_token)
        return self.refused_refresh(credentials)

    def refused_call(self, call: Callable[[], Any]) -> Refusal:
        """An API call through a google-cloud client; the refusal from its HTTP response."""
        try:
            call()
        except api_exceptions.GoogleAPICallError as exc:
            return Refusal.of(exc.response)
        raise Accepted("the client call succeeded")

    def iam(self, credentials: Any) -> Any:
        return self.stack.iam_client(credentials)

    def account_name(self, account: str) -> str:
        return f"projects/-/serviceAccounts/{self.stack.account(account)}"

    def id_token(self, account: str, audience: str, profile: str = "alice") -> str:
        """A Google-signed ID token for account, through direct federation (seed 001)."""
        client = self.iam(self.credentials(profile=profile))
        return client.generate_id_token(
            name=self.account_name(account), audience=audience, include_email=True
        ).token

    # -- plain HTTP, where no client library sends the request ------------------------------

    def sts(self, **fields: str) -> requests.Response:
        body = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": self.stack.audience(),
            "scope": CLOUD_PLATFORM,
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": self.stack.mint(),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            **fields,
        }
        return requests.post(self.stack.endpoints.sts.token_url, data=body, timeout=10)

    def iamcredentials_post(
        self, account: str, method: str, headers: dict[str, str], body: Any
    ) -> requests.Response:
        base = self.stack.endpoints.iamcredentials.api_endpoint.rstrip("/")
        url = f"{base}/v1/{self.account_name(account)}:{method}"
        return requests.post(url, json=body, headers=headers, timeout=10)

    def service(
        self, name: str, path: str = "/dump", headers: dict[str, str] | None = None
    ) -> requests.Response:
        url = self.stack.service_url(name).rstrip("/") + path
        return requests.get(url, headers=headers or {}, timeout=10)

    def metadata(self, path: str, headers: dict[str, str] | None = None) -> requests.Response:
        host = self.stack.endpoints.require_metadata().host
        return requests.get(f"http://{host}{path}", headers=headers or {}, timeout=10)

    def idp(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """A request to the lab IdP; minting routes carry the target's token secret, if any."""
        base = self.stack.endpoints.require_idp().token_url.removesuffix("/token")
        sent = dict(headers or {})
        secret = self.stack.token_secret
        if secret and path.startswith("/token"):
            sent.setdefault("Authorization", f"Bearer {secret}")
        return requests.request(method, base + path, headers=sent, timeout=10, **kwargs)
