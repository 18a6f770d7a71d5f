"""The chain as raw REST calls, one step at a time, each recorded for display.

The seeds' flow: mint a fake OIDC token at the IdP; exchange it at STS (RFC 8693) for a
federated token; with that token call IAM Credentials' generateIdToken (direct federation,
seed 001) and generateAccessToken (impersonation, seed 004); call the Cloud Run service's
``/dump`` with the Google-signed ID token. Plain ``requests``, like the seeds' curl: the
official-library flows live in the samples and tests. The first refused step ends the run.
An AWS caller (``--profile aws:NAME``) signs GetCallerIdentity instead of minting a token
(step 1, ``aws_signing``: google-auth's own ``aws.Credentials``); the other steps are the same.

Every recorded value is display-safe: tokens are shortened (``tokens.redact``) before
they are stored, and the IdP's secret is shown by name only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests

from mock_gcp.iam import Caller
from mock_gcp.topology import Topology
from wiflab_core.decisions import Decision
from wiflab_core.wire import (
    AWS4_REQUEST_TOKEN_TYPE,
    CLOUD_PLATFORM_SCOPE,
    JWT_TOKEN_TYPE,
    token_exchange_form,
)
from wiflab_lab.demo import aws_signing
from wiflab_lab.demo.endpoints import Endpoints
from wiflab_lab.demo.errors import GoogleError, read_error
from wiflab_lab.demo.explain import (
    ShownCheck,
    decision_of,
    explain_account_grant,
    explain_exchange,
    explain_invoke,
    explain_service_audience,
    explain_token_audience,
    shown_checks,
)
from wiflab_lab.demo.hints import iam_hints, idp_hints, run_hints, sts_hints, unreachable_hints
from wiflab_lab.demo.journal import JournalReader
from wiflab_lab.demo.plan import ACCESS_TOKEN_PERMISSION, ID_TOKEN_PERMISSION, DemoPlan
from wiflab_lab.demo.tokens import DecodedJwt, decode, redact

CLOUD_PLATFORM = CLOUD_PLATFORM_SCOPE
ACCESS_TOKEN_LIFETIME = "3600s"
IDP_SECRET_ENV = "IDP_TOKEN_SECRET"
TIMEOUT_SECONDS = 30

STEP_TEXT = {
    "mint": (
        "Mint the fake OIDC token",
        "The workload's own credential: a JWT signed by an IdP the provider trusts.",
    ),
    "sts": (
        "Exchange it at Google's STS for a federated token",
        "STS checks issuer, signature and aud, maps the claims, applies the condition.",
    ),
    "id_token": (
        "generateIdToken with the federated token (direct federation)",
        "Cloud Run wants a Google-signed ID token; IAM mints one for a service account.",
    ),
    "access_token": (
        "generateAccessToken (impersonation)",
        "What service_account_impersonation_url does: the account's own access token.",
    ),
    "dump": (
        "Call the protected service's /dump with the ID token",
        "Cloud Run checks the token's signature and aud, and the caller's run.invoker.",
    ),
}
STEP_COUNT = len(STEP_TEXT)
# An AWS caller's chain (``--profile aws:NAME``): the same five steps, the first and the
# second explained for a signed request instead of a JWT.
AWS_STEP_TEXT = {
    "sign": (
        "Sign AWS STS GetCallerIdentity (google-auth's aws.Credentials)",
        "The workload's own credential: a SigV4-signed request only its AWS keys can make.",
    ),
    "sts": (
        "Exchange it at Google's STS for a federated token",
        "STS executes the signed request at AWS, checks the account, maps the ARN, applies "
        "the condition.",
    ),
}


@dataclass
class HttpCall:
    """One request and its answer, as shown: essential fields only, tokens shortened."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    status: int | None = None
    reason: str = ""
    response: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.headers,
                "body": self.body,
            },
            "response": {"status": self.status, "reason": self.reason, "body": self.response},
        }


@dataclass
class Step:
    number: int
    key: str
    call: HttpCall | None = None
    shown: dict[str, Any] = field(default_factory=dict)  # the answer's essential fields
    tokens: list[DecodedJwt] = field(default_factory=list)
    checks: list[ShownCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: GoogleError | None = None
    hints: tuple[str, ...] = ()

    aws: bool = False  # an AWS caller's chain (AWS_STEP_TEXT)

    @property
    def title(self) -> str:
        return self._text[0]

    @property
    def why(self) -> str:
        return self._text[1]

    @property
    def _text(self) -> tuple[str, str]:
        return (AWS_STEP_TEXT if self.aws else {}).get(self.key) or STEP_TEXT[self.key]

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "number": self.number,
            "key": self.key,
            "title": self.title,
            "why": self.why,
            "ok": self.ok,
        }
        if self.call is not None:
            body.update(self.call.to_json())
        body["tokens"] = [token.to_json(now) for token in self.tokens]
        body["decision"] = [check.to_json() for check in self.checks]
        if self.notes:
            body["notes"] = self.notes
        if self.error is not None:
            body["error"] = self.error.to_json()
            body["hints"] = list(self.hints)
        return body


class Chain:
    """The five steps against ``endpoints`` for ``plan``, run one by one by ``steps()``."""

    def __init__(
        self,
        endpoints: Endpoints,
        topology: Topology,
        plan: DemoPlan,
        topology_label: str,
        started_here: bool,
    ):
        self._endpoints = endpoints
        self._topology = topology
        self._plan = plan
        self._topology_label = topology_label
        self._started_here = started_here
        self._http = requests.Session()
        # Locally, each step shows what the service decided for its very request.
        self._journal = JournalReader(endpoints.journal, self._http) if endpoints.journal else None
        self._subject_token = ""
        self._subject_claims: dict[str, Any] = {}
        self._caller: Caller | None = None
        self._federated_token = ""
        self._id_token = ""
        self.dump: dict[str, Any] | None = None  # what /dump saw, once step 5 has run

    def steps(self) -> Iterator[Step]:
        """Each step once it has run; the first refused one is the last."""
        aws = self._plan.aws is not None
        actions: list[Callable[[Step], None]] = [
            self._sign if aws else self._mint,
            self._exchange,
            self._generate_id_token,
            self._generate_access_token,
            self._call_dump,
        ]
        keys = ["sign", *list(STEP_TEXT)[1:]] if aws else list(STEP_TEXT)
        for number, (key, action) in enumerate(zip(keys, actions, strict=True), start=1):
            step = Step(number, key, aws=aws)
            action(step)
            yield step
            if not step.ok:
                return

    # -- the steps ---------------------------------------------------------------------

    def _mint(self, step: Step) -> None:
        headers = {"Accept": "application/json"}
        shown_headers = dict(headers)
        secret = os.environ.get(IDP_SECRET_ENV)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
            shown_headers["Authorization"] = f"Bearer ${IDP_SECRET_ENV}"
        claims = self._plan.claims
        call = HttpCall("POST", self._endpoints.idp_token_url, shown_headers, redact(claims))
        answer = self._send(step, call, headers=headers, json=claims)
        if answer is None:
            return
        token = answer.get("id_token") if answer.status_code == 200 else None
        if not isinstance(token, str):
            self._refused(step, answer, idp_hints)
            return
        self._subject_token = token
        step.shown = _pick(answer.body, "id_token", "token_type", "expires_in")
        decoded = decode("the subject token, signed by the fake IdP", token)
        if decoded is not None:
            step.tokens.append(decoded)
            self._subject_claims = dict(decoded.claims)
        step.checks.append(explain_token_audience(self._plan.provider))

    def _sign(self, step: Step) -> None:
        """Step 1 for an AWS caller: google-auth signs GetCallerIdentity, from the ready-made
        config, with the keys of the environment (an IAM user) or of the IMDSv2 (the EC2
        role); the signed request is then sent to AWS's STS, as ``aws sts
        get-caller-identity`` would, to show who AWS says signed it."""
        signed = aws_signing.sign(self._endpoints, self._plan)
        if isinstance(signed, GoogleError):
            step.error = signed
            step.hints = aws_signing.SIGNING_HINTS
            return
        self._subject_token = signed.subject_token
        step.notes.append(signed.source)
        call = HttpCall(
            signed.request.method, signed.request.url, signed.shown_headers, signed.request.body
        )
        step.checks.append(explain_token_audience(self._plan.provider))
        answer = self._send_signed(step, call, signed.request)
        if answer is None:
            return
        identity = aws_signing.caller_identity(answer.text)
        if answer.status_code != 200 or identity is None:
            self._refused(step, answer, lambda e: ("AWS refused the signed request: " + e.message,))
            return
        step.shown = identity
        step.notes.append(
            f"AWS's STS answered (the lab's, at {self._endpoints.aws_sts_url}); Google's STS "
            "sends the very same request there in step 2"
        )
        self._subject_claims = {"arn": identity["Arn"], "account": identity["Account"]}

    def _send_signed(
        self, step: Step, call: HttpCall, request: aws_signing.SignedRequest
    ) -> _Answer | None:
        """The signed request at the lab's AWS STS, its signed Host header kept."""
        query = urlsplit(request.url).query
        base = str(self._endpoints.aws_sts_url).rstrip("/")
        return self._send(
            step,
            call,
            url=f"{base}/" + (f"?{query}" if query else ""),
            headers=request.headers,
            data=request.body.encode("utf-8"),
        )

    def _exchange(self, step: Step) -> None:
        token_type = AWS4_REQUEST_TOKEN_TYPE if self._plan.aws else JWT_TOKEN_TYPE
        form = token_exchange_form(
            self._plan.sts_audience, self._subject_token, subject_token_type=token_type
        )
        shown_form = redact(form)
        if self._plan.aws is not None:
            shown_form["subject_token"] = aws_signing.shown_subject_token(self._subject_token)
        call = HttpCall(
            "POST",
            self._endpoints.sts_token_url,
            {"Content-Type": "application/x-www-form-urlencoded"},
            shown_form,
        )
        verdict = explain_exchange(
            self._topology, self._plan.provider, self._subject_claims or self._plan.claims
        )
        step.checks.extend(verdict.checks)
        answer = self._send(step, call, data=form)
        if answer is None:
            return
        self._recorded(step, "sts", self._subject_token)
        token = answer.get("access_token") if answer.status_code == 200 else None
        if not isinstance(token, str):
            self._refused(step, answer, lambda e: sts_hints(e, self._plan, self._topology_label))
            if verdict.accepted:
                step.notes.append(self._expected_otherwise("accept this token"))
            return
        self._federated_token = token
        self._caller = verdict.caller
        step.shown = _pick(answer.body, "access_token", "issued_token_type", "token_type")
        step.shown |= _pick(answer.body, "expires_in")
        step.notes.append("the federated token is opaque: only Google can read it")
        if not verdict.accepted:
            step.notes.append(self._expected_otherwise("refuse this token"))

    def _generate_id_token(self, step: Step) -> None:
        body = {"audience": self._plan.service_url, "includeEmail": True}
        answer = self._iam_call(step, "generateIdToken", body, ID_TOKEN_PERMISSION, "token")
        if answer is None:
            return
        self._id_token = answer.body["token"]
        step.shown = _pick(answer.body, "token")
        decoded = decode("the Google-signed ID token", self._id_token)
        if decoded is not None:
            step.tokens.append(decoded)

    def _generate_access_token(self, step: Step) -> None:
        body = {"scope": [CLOUD_PLATFORM], "lifetime": ACCESS_TOKEN_LIFETIME}
        answer = self._iam_call(
            step, "generateAccessToken", body, ACCESS_TOKEN_PERMISSION, "accessToken"
        )
        if answer is None:
            return
        step.shown = _pick(answer.body, "accessToken", "expireTime")
        step.notes.append("the account's own access token, for APIs that refuse federated ones")

    def _call_dump(self, step: Step) -> None:
        url = f"{self._plan.service_url.rstrip('/')}/dump"
        headers = {"Authorization": f"Bearer {self._id_token}"}
        call = HttpCall("GET", url, redact(headers))
        decoded = decode("the Google-signed ID token", self._id_token)
        aud = decoded.claims.get("aud") if decoded is not None else None
        plan = self._plan
        step.checks.append(explain_service_audience(plan.service, plan.service_url, aud))
        step.checks.append(explain_invoke(self._topology, plan.service, plan.account.email))
        answer = self._send(step, call, headers=headers)
        if answer is None:
            return
        self._recorded(step, "run", self._id_token)
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            self._refused(step, answer, lambda e: run_hints(e, plan, self._topology_label))
            return
        self.dump = _what_dump_saw(answer.body)
        step.shown = {"identity.verified": self.dump["verified"], "identity.by": self.dump["by"]}

    # -- HTTP ----------------------------------------------------------------------------

    def _iam_call(
        self, step: Step, method: str, body: dict[str, Any], permission: str, answer_field: str
    ) -> _Answer | None:
        """An IAM Credentials call with the federated token; the answer when it has
        ``answer_field``, else None with the refusal recorded."""
        account = self._plan.account.email
        url = f"{self._endpoints.iamcredentials}/v1/projects/-/serviceAccounts/{account}:{method}"
        headers = {"Authorization": f"Bearer {self._federated_token}"}
        call = HttpCall("POST", url, redact(headers), body)
        if self._caller is not None:
            step.checks.append(
                explain_account_grant(self._topology, self._caller, self._plan.account, permission)
            )
        answer = self._send(step, call, headers=headers, json=body)
        if answer is None:
            return None
        self._recorded(step, "iamcredentials", self._federated_token)
        if answer.status_code != 200 or not isinstance(answer.get(answer_field), str):
            self._refused(
                step,
                answer,
                lambda e: iam_hints(e, self._plan, self._caller, self._topology_label),
            )
            if step.checks and step.checks[-1].passed:
                step.notes.append(self._expected_otherwise(f"allow {method}"))
            return None
        return answer

    def _recorded(self, step: Step, service: str, token: str) -> Decision | None:
        """The step's decision as the journal recorded it (local targets): its checks
        replace the ones derived from the topology, so the demo, ``wiflab log`` and the
        explorer show the same values. None when there is no journal or no entry."""
        if self._journal is None:
            return None
        entry = self._journal.entry_of(service, token)
        if entry is None:
            return None
        step.checks[:] = shown_checks(entry)
        hint = entry.get("hint")
        if isinstance(hint, dict) and hint.get("nearest_miss"):
            step.notes.append(f"nearest miss: {hint['nearest_miss']}")
        return decision_of(entry)

    def _send(
        self, step: Step, call: HttpCall, url: str | None = None, **kwargs: Any
    ) -> _Answer | None:
        """``call`` sent (to ``url`` when it is not the shown one), its answer recorded."""
        if self._journal is not None:
            self._journal.mark()
        step.call = call
        url = url or call.url
        try:
            response = self._http.request(
                call.method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            step.error = GoogleError(
                None, "unreachable", f"could not reach {url} ({type(exc).__name__})"
            )
            step.hints = unreachable_hints(self._started_here, self._endpoints.target)
            return None
        answer = _Answer(response)
        call.status, call.reason = answer.status_code, answer.reason
        call.response = redact(answer.body)
        return answer

    def _refused(
        self, step: Step, answer: _Answer, hints: Callable[[GoogleError], tuple[str, ...]]
    ) -> None:
        step.error = redact_error(read_error(answer.status_code, answer.reason, answer.text))
        step.shown = step.error.fields()
        step.hints = hints(step.error)

    def _expected_otherwise(self, outcome: str) -> str:
        return (
            f"{self._topology_label} says Google should {outcome}: "
            "is the running stack using that topology?"
        )


class _Answer:
    """A response read once: its JSON body when it has one, else its text."""

    def __init__(self, response: requests.Response):
        self.status_code = response.status_code
        try:
            self.reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            self.reason = response.reason or ""
        self.headers = response.headers
        self.text = response.text
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = self.text

    def get(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None


def redact_error(error: GoogleError) -> GoogleError:
    return GoogleError(error.status, error.code, redact(error.message), error.shape)


def _pick(body: Any, *keys: str) -> dict[str, Any]:
    return {key: redact(body[key]) for key in keys if isinstance(body, dict) and key in body}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _what_dump_saw(body: dict[str, Any]) -> dict[str, Any]:
    identity = _object(body.get("identity"))
    claims = _object(identity.get("claims"))
    header = identity.get("header")
    headers = _object(body.get("headers"))
    cloud_run = _object(body.get("cloud_run"))
    return redact(
        {
            "verified": identity.get("verified"),
            "by": identity.get("by"),
            "header": header,
            "forwarded": headers.get(header) if isinstance(header, str) else None,
            "email": claims.get("email"),
            "sub": claims.get("sub"),
            "aud": claims.get("aud"),
            "service": cloud_run.get("K_SERVICE"),
        }
    )


@dataclass
class DemoResult:
    """A whole run: where it ran, what was chosen, each step, and what /dump saw."""

    target: str
    stack: str  # how the stack came to be, e.g. "started for this demo (threads)"
    topology: str
    plan: DemoPlan
    steps: list[Step]
    dump: dict[str, Any] | None = None
    # Other fake users to try, each with what the rules say will happen.
    try_next: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return len(self.steps) == STEP_COUNT and all(step.ok for step in self.steps)

    @property
    def failed(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)

    def to_json(self, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "target": self.target,
            "stack": self.stack,
            "topology": self.topology,
            "plan": self.plan.to_json(),
            "steps": [step.to_json(now) for step in self.steps],
            "dump": self.dump,
        }
        if self.failed is not None:
            body["failedStep"] = self.failed.number
        body["tryNext"] = self.try_next
        return body
