"""What Google's side would do with one token, asked of the services' own rules, here.

Nothing is decided in this module: STS's ``SecurityTokenService.decide`` (the whole exchange,
on a Google side built in memory from the topology and a clock), IAM Credentials' ``decide``,
Cloud Run's ``decide_invoke`` and its front end's ``FrontEndCheck.decide`` answer, and their
``Decision`` values are collected into paths: provider -> service account -> service.

What explain may not know without a running stack (``Sources``): the lab IdP's issuer URL and
keys, Google's signing keys, the services' URLs, which opaque tokens exist. Where one is
missing, the check is recorded as not checked (``jose.KeyNotChecked``, or a value taken from
the token itself and marked so), never as passed silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jwt

from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.iam import Caller
from mock_gcp.iamcredentials.methods import decide as decide_permission
from mock_gcp.run.admission import FrontEndCheck, decide_invoke, invoke_policies
from mock_gcp.sts.exchange import SecurityTokenService
from mock_gcp.topology import Provider, Service, ServiceAccount, Topology
from wiflab_core.decisions import Check, Decision, Refusal
from wiflab_core.jose import NOT_CHECKED, KeyLookup, KeyNotChecked
from wiflab_core.wire import GOOGLE_ISSUERS, token_exchange_form
from wiflab_lab.demo.explain import ShownCheck, explain_exchange, short_member
from wiflab_lab.demo.plan import ACCESS_TOKEN_PERMISSION, ID_TOKEN_PERMISSION
from wiflab_lab.demo.tokens import DecodedJwt, decode, readable_time

SUBJECT_TOKEN = "subject token"
GOOGLE_ID_TOKEN = "Google ID token"
ACCESS_TOKEN = "access token"
_ROLE_FLOW = {
    "roles/iam.workloadIdentityUser": "impersonation",
    "roles/iam.serviceAccountTokenCreator": "direct federation",
    "roles/iam.serviceAccountOpenIdTokenCreator": "direct federation, ID tokens only",
}
NO_STACK = "no running stack: pass --endpoints to check it"


@dataclass(frozen=True)
class Sources:
    """What explain knows of a running stack; the defaults: nothing (a topology only)."""

    lab_idp_issuer: str | None = None
    # kid -> key: the lab IdP's JWKS (fetched over loopback), or None.
    lab_idp_keys: KeyLookup | None = None
    google_issuer: str | None = None
    google_keys: KeyLookup | None = None
    service_urls: Mapping[str, str] = field(default_factory=dict)
    # An access token -> its tokeninfo answer, or the refusal when the Google side does not
    # know it.
    tokeninfo: Callable[[str], Mapping[str, Any] | Refusal] | None = None

    @property
    def running(self) -> bool:
        return self.lab_idp_issuer is not None or self.google_issuer is not None


@dataclass(frozen=True)
class Hop:
    """One service's decision on the way, and the lines that show it."""

    title: str
    decision: Decision
    shown: tuple[ShownCheck, ...]


@dataclass(frozen=True)
class ExplainedPath:
    """One way the token could be used, hop by hop; it succeeds when every hop allows it."""

    title: str
    hops: tuple[Hop, ...]

    @property
    def allowed(self) -> bool:
        return all(hop.decision.allowed for hop in self.hops)

    @property
    def refusing(self) -> Hop | None:
        return next((hop for hop in self.hops if not hop.decision.allowed), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.title,
            "outcome": "allowed" if self.allowed else "refused",
            "decisions": [hop.decision.to_json() for hop in self.hops],
        }


@dataclass(frozen=True)
class Section:
    """Paths that share their first hop (one provider's exchange); ``head`` shown once."""

    title: str
    head: Hop | None
    paths: tuple[ExplainedPath, ...]


@dataclass(frozen=True)
class Explanation:
    kind: str
    token: str
    decoded: DecodedJwt | None
    at: float
    facts: Mapping[str, str]
    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()

    @property
    def paths(self) -> list[ExplainedPath]:
        return [path for section in self.sections for path in section.paths]

    @property
    def allowed(self) -> bool:
        return any(path.allowed for path in self.paths)

    def to_json(self) -> list[dict[str, Any]]:
        """Each path's decisions, with the heading it is shown under (its provider)."""
        return [
            {"section": section.title, **path.to_json()}
            for section in self.sections
            for path in section.paths
        ]


def explain_token(
    token: str,
    topology: Topology,
    sources: Sources | None = None,
    *,
    clock: Callable[[], float] = time.time,
    config_audience: str | None = None,
) -> Explanation:
    """Every path the token could take through ``topology``, as the services decide it."""
    sources = sources or Sources()
    decoded = None if token.startswith("ya29.") else decode("the token", token)
    if decoded is None:
        return _access_token(token, topology, sources, clock)
    if _is_google_id_token(decoded, topology, sources):
        return _google_id_token(token, decoded, topology, sources, clock)
    return _subject_token(token, decoded, topology, sources, clock, config_audience)


def _is_google_id_token(decoded: DecodedJwt, topology: Topology, sources: Sources) -> bool:
    iss = decoded.claims.get("iss")
    if iss in GOOGLE_ISSUERS or (sources.google_issuer and iss == sources.google_issuer):
        return True
    if sources.running:
        return False
    # Without a stack the stand-in's issuer URL is unknown: a token naming one of the
    # topology's service accounts is taken for one of its ID tokens.
    email, sub = decoded.claims.get("email"), decoded.claims.get("sub")
    named = [v for v in (email, sub) if isinstance(v, str) and v]
    return any(
        account.email.lower() == value.lower() or account.unique_id == value
        for account in topology.service_accounts
        for value in named
    )


# -- subject tokens ---------------------------------------------------------------------------


class _ExplainKeys:
    """STS's issuer keys, as explain may see them: the lab IdP's only, over loopback."""

    def __init__(self, sources: Sources):
        self._sources = sources

    def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        sources = self._sources
        if sources.lab_idp_keys is not None and issuer == sources.lab_idp_issuer:
            return sources.lab_idp_keys(kid)
        if sources.lab_idp_keys is None and not sources.running:
            raise KeyNotChecked(NO_STACK)
        if issuer == sources.lab_idp_issuer:
            raise KeyNotChecked("the lab IdP is not on loopback: explain fetches nothing else")
        raise KeyNotChecked(
            f"explain fetches only the lab IdP's keys, not those of {issuer} (it sends nothing)"
        )


def _backend(
    topology: Topology, sources: Sources, issuer: str | None, clock: Callable[[], float]
) -> GoogleBackend:
    """A Google side in memory: the services' state, keys seen through ``_ExplainKeys``."""
    deviations = LocalDeviations(
        google_issuer=sources.google_issuer or GOOGLE_ISSUERS[0], lab_idp_issuer=issuer
    )
    backend = GoogleBackend(topology, deviations, clock=clock)
    backend.issuer_keys = _ExplainKeys(sources)  # type: ignore[assignment]
    return backend


def _subject_token(
    token: str,
    decoded: DecodedJwt,
    topology: Topology,
    sources: Sources,
    clock: Callable[[], float],
    config_audience: str | None,
) -> Explanation:
    iss = decoded.claims.get("iss")
    # Without a stack, providers that trust the lab IdP compare iss with the token's own.
    assumed_issuer = sources.lab_idp_issuer or (iss if isinstance(iss, str) else None)
    sts = SecurityTokenService(_backend(topology, sources, assumed_issuer, clock))
    sections = []
    aws_notes: list[str] = []
    for pool in topology.pools:
        for provider in pool.providers:
            if provider.aws is not None:
                # A JWT never passes an AWS provider: it takes a signed GetCallerIdentity.
                aws_notes.append(
                    f"{pool.id}/{provider.provider_id} is an AWS provider (account "
                    f"{provider.aws.account_id}): it takes a signed GetCallerIdentity, not a JWT"
                )
                continue
            audience = topology.provider_audience(pool.id, provider.provider_id)
            outcome = sts.decide(token_exchange_form(audience, token))
            decision = outcome.decision
            if (
                sources.lab_idp_issuer is None
                and provider.oidc
                and provider.oidc.issuer_uri is None
            ):
                decision = _not_checked(
                    decision, "token.issuer", "the lab IdP's URL is known only with --endpoints"
                )
            key = f"{pool.id}/{provider.provider_id}"
            title = f"STS exchange at {key}"
            if config_audience == audience:
                title += " (the config's audience)"
            lines = _sts_lines(decision, topology, provider, decoded, clock())
            head = Hop(title, decision, tuple(lines))
            if outcome.exchange is None:
                refused = ExplainedPath(f"{key}: refused by STS", (head,))
                sections.append(Section(title, head, (refused,)))
                continue
            issued = outcome.exchange.token
            paths = _caller_paths(topology, head, issued.caller, issued.token)
            sections.append(Section(title, head, tuple(paths)))
    notes = _public_notes(topology) + tuple(aws_notes)
    if not sections:
        notes += ("the topology has no providers: no exchange can succeed",)
    now = clock()
    facts = _facts(SUBJECT_TOKEN, decoded, now)
    return Explanation(SUBJECT_TOKEN, token, decoded, now, facts, tuple(sections), notes)


def _caller_paths(
    topology: Topology, head: Hop, caller: Caller, federated_token: str
) -> list[ExplainedPath]:
    private = [s for s in topology.services if not _public(topology, s)]
    paths = []
    for account in topology.service_accounts:
        short = account.email
        access = _iam_hop(topology, caller, account, ACCESS_TOKEN_PERMISSION)
        paths.append(ExplainedPath(f"act as {short} (generateAccessToken)", (head, access)))
        id_token = _iam_hop(topology, caller, account, ID_TOKEN_PERMISSION)
        if not private:
            paths.append(ExplainedPath(f"{short}'s ID token (generateIdToken)", (head, id_token)))
        elif not id_token.decision.allowed:
            title = f"{short}'s ID token (generateIdToken), for any service"
            paths.append(ExplainedPath(title, (head, id_token)))
        else:
            for service in private:
                run = _invoke_hop(topology, service, Caller("serviceAccount", account.email))
                title = f"invoke {service.name} as {short} (its ID token)"
                paths.append(ExplainedPath(title, (head, id_token, run)))
    for service in private:
        # A federated token straight to Cloud Run, where a binding names the caller itself.
        named = decide_invoke(topology, service, caller).decision
        if named.allowed:
            run = _direct_hop(topology, service, federated_token)
            paths.append(
                ExplainedPath(f"invoke {service.name} with the federated token", (head, run))
            )
    return paths


def _iam_hop(topology: Topology, caller: Caller, account: ServiceAccount, permission: str) -> Hop:
    decision = decide_permission(topology, caller, account, permission).decision
    method = decision.action
    return Hop(f"IAM Credentials {method} for {account.email}", decision, (_iam_line(decision),))


def _iam_line(decision: Decision) -> ShownCheck:
    permission = decision.check("permission")
    if decision.allowed and permission is not None and isinstance(permission.actual, dict):
        grant = permission.actual
        role = grant["role"]
        flow = _ROLE_FLOW.get(role)
        return ShownCheck(
            "IAM binding",
            True,
            f"allowed by {role}" + (f" ({flow})" if flow else ""),
            (f"on {grant['resource']}", f"via {short_member(grant['member'])}"),
        )
    if permission is not None and permission.passed:  # granted, but the account is disabled
        refusal = decision.refusal
        text = f"{refusal.status} {refusal.code}: {refusal.text}" if refusal else "refused"
        return ShownCheck("account", False, "the service account is disabled", (text,))
    wanted = permission.expected if permission is not None else decision.action
    return ShownCheck(
        "IAM binding",
        False,
        f"nothing grants {wanted} to the caller",
        _near_misses(decision, str(wanted)),
    )


def _near_misses(decision: Decision, permission: str) -> tuple[str, ...]:
    """The bindings that hold the permission but name someone else (what to change)."""
    considered = [c for c in decision.checks if c.name == "binding"]
    near = [_binding_detail(c) for c in considered if "lacks" not in c.detail]
    if near:
        return tuple(near)
    where = sorted(
        {str(c.expected.get("resource")) for c in considered if isinstance(c.expected, dict)}
    )
    on = f"on {' or '.join(where)} " if where else ""
    return (f"no binding {on}has a role with {permission}",)


def _binding_detail(check: Check) -> str:
    considered = check.expected if isinstance(check.expected, dict) else {}
    members = ", ".join(short_member(m) for m in considered.get("members", ()))
    return (
        f"{considered.get('role')} on {considered.get('resource')} names {members}: {check.detail}"
    )


def _invoke_hop(topology: Topology, service: Service, caller: Caller) -> Hop:
    decision = decide_invoke(topology, service, caller).decision
    return Hop(f"Cloud Run {service.name}", decision, (_run_line(decision, service),))


def _run_line(decision: Decision, service: Service) -> ShownCheck:
    permission = decision.check("permission")
    if decision.allowed and permission is not None and isinstance(permission.actual, dict):
        grant = permission.actual
        return ShownCheck(
            "invoker",
            True,
            f"allowed by {grant['role']}",
            (f"on {grant['resource']}", f"via {short_member(grant['member'])}"),
        )
    if decision.allowed:
        return ShownCheck("invoker", True, "the service is public")
    refusal = decision.refusal
    failed = decision.failed
    text = f"{refusal.status} {refusal.code}: {refusal.text}" if refusal else "refused"
    why = (
        _token_line(failed, 0) if failed is not None and failed.name.startswith("token.") else None
    )
    details = (why.text, text) if why is not None else (text,)
    considered = _near_misses(decision, "run.routes.invoke") if why is None else ()
    return ShownCheck(
        "invoker", False, f"{service.name} does not admit the caller", (*details, *considered)
    )


def _direct_hop(topology: Topology, service: Service, federated_token: str) -> Hop:
    """The front end's own check of a federated token: Cloud Run takes ID tokens only."""
    check = _front_end(topology, service, f"https://{service.name}.invalid", None, time.time)
    decision = check.decide({"Authorization": f"Bearer {federated_token}"}, "/").decision
    line = ShownCheck(
        "invoker",
        decision.allowed,
        "a binding names the federated principal, but Cloud Run takes only Google-signed ID tokens",
        (_refusal_text(decision),),
    )
    return Hop(f"Cloud Run {service.name}", decision, (line,))


def _public(topology: Topology, service: Service) -> bool:
    """Whether Cloud Run lets anyone in (it then looks at no token)."""
    public = decide_invoke(topology, service, Caller("anonymous", "")).decision.check("public")
    return public is not None and public.passed


def _public_notes(topology: Topology) -> tuple[str, ...]:
    public = [s.name for s in topology.services if _public(topology, s)]
    if not public:
        return ()
    return (f"public, so anyone may call them, with or without a token: {', '.join(public)}",)


# -- Google ID tokens -------------------------------------------------------------------------


def _front_end(
    topology: Topology,
    service: Service,
    service_url: str,
    google_keys: KeyLookup | None,
    clock: Callable[[], float],
    issuers: Sequence[str] = GOOGLE_ISSUERS,
) -> FrontEndCheck:
    def email_for(unique_id: str) -> str | None:
        account = topology.service_account(unique_id)
        return account.email if account else None

    def disabled(email: str) -> bool:
        account = topology.service_account(email)
        return account is not None and account.disabled

    def no_keys(kid: str) -> jwt.PyJWK | None:
        raise KeyNotChecked(NO_STACK)

    return FrontEndCheck(
        service_url=service_url,
        custom_audiences=service.custom_audiences,
        google_keys=google_keys or no_keys,
        google_issuers=tuple(issuers),
        policies=lambda: invoke_policies(topology, service),
        allow_unauthenticated=lambda: service.allow_unauthenticated,
        email_for_unique_id=email_for,
        account_disabled=disabled,
        clock=clock,
    )


def _google_id_token(
    token: str,
    decoded: DecodedJwt,
    topology: Topology,
    sources: Sources,
    clock: Callable[[], float],
) -> Explanation:
    claims = decoded.claims
    iss, aud = claims.get("iss"), claims.get("aud")
    issuers = list(GOOGLE_ISSUERS)
    if sources.google_issuer:
        issuers.append(sources.google_issuer)
    elif isinstance(iss, str):
        issuers.append(iss)  # the stand-in's URL is known only with --endpoints
    paths = []
    for service in topology.services:
        if _public(topology, service):
            continue
        url = sources.service_urls.get(service.name)
        assumed_url = url is None
        if url is None:
            url = aud if isinstance(aud, str) else f"https://{service.name}.invalid"
        check = _front_end(topology, service, url, sources.google_keys, clock, issuers)
        decision = check.decide({"Authorization": f"Bearer {token}"}, "/").decision
        if assumed_url and decision.check("token.audience") is not None:
            decision = _not_checked(
                decision, "token.audience", "the service URL is known only with --endpoints"
            )
        if sources.google_issuer is None:
            decision = _not_checked(
                decision, "token.issuer", "the stand-in's issuer URL is known only with --endpoints"
            )
        shown = (*_token_lines(decision, clock()), _run_line(decision, service))
        hop = Hop(f"Cloud Run {service.name}", decision, tuple(shown))
        paths.append(ExplainedPath(f"invoke {service.name} with this ID token", (hop,)))
    now = clock()
    facts = _facts(GOOGLE_ID_TOKEN, decoded, now)
    caller = _caller_of_id_token(topology, claims)
    facts["who"] = caller.principal() if caller else "no email, and a sub no service account has"
    section = Section("Cloud Run services", None, tuple(paths))
    notes = _public_notes(topology)
    if not paths:
        notes += ("the topology has no private Cloud Run service to admit it",)
    return Explanation(GOOGLE_ID_TOKEN, token, decoded, now, facts, (section,), notes)


def _caller_of_id_token(topology: Topology, claims: Mapping[str, Any]) -> Caller | None:
    """Whom Cloud Run takes the ID token's caller for (its front end's own reading)."""
    if not topology.services:
        return None
    return _front_end(topology, topology.services[0], "", None, time.time).caller_of(claims)


# -- access tokens ----------------------------------------------------------------------------


def _access_token(
    token: str, topology: Topology, sources: Sources, clock: Callable[[], float]
) -> Explanation:
    now = clock()
    facts = {"kind": "an opaque Google access token (ya29.…): only its issuer knows what it is"}
    if sources.tokeninfo is None:
        notes = ("pass --endpoints to ask the local Google side's tokeninfo who it is",)
        return Explanation(ACCESS_TOKEN, token, None, now, facts, (), notes)
    info = sources.tokeninfo(token)
    if isinstance(info, Refusal):
        decision = Decision(
            "issuer",
            "tokeninfo",
            (Check("access_token", False, "a live access token", None),),
            info,
        )
        line = ShownCheck(
            "tokeninfo",
            False,
            "the local Google side does not know this token",
            (
                f"tokeninfo answers {info.status} {info.code}: {info.text}",
                "expired, revoked, a federated token (tokeninfo knows only service accounts' "
                "tokens), or from another stack or real Google",
            ),
        )
        hop = Hop("tokeninfo", decision, (line,))
        section = Section("tokeninfo", hop, (ExplainedPath("tokeninfo", (hop,)),))
        return Explanation(ACCESS_TOKEN, token, None, now, facts, (section,))
    who = str(info.get("email") or info.get("azp") or "")
    account = topology.service_account(who) if who else None
    email = account.email if account else who
    shown = {k: str(v) for k, v in info.items() if k in ("azp", "email", "scope", "expires_in")}
    decision = Decision(
        "issuer", "tokeninfo", (Check("access_token", True, "a live access token", shown),)
    )
    details = [f"{key} = {value}" for key, value in shown.items()]
    head = Hop(
        "tokeninfo",
        decision,
        (ShownCheck("tokeninfo", True, f"a live token of {email}", tuple(details)),),
    )
    facts["who"] = f"serviceAccount:{email}"
    facts["scopes"] = str(info.get("scope") or "(none)")
    paths = []
    for service in topology.services:
        if _public(topology, service):
            continue
        run = _invoke_hop(topology, service, Caller("serviceAccount", email))
        title = f"invoke {service.name} as {email} (its ID token: Cloud Run takes no access tokens)"
        paths.append(ExplainedPath(title, (head, run)))
    if not paths:
        paths.append(ExplainedPath("tokeninfo", (head,)))
    return Explanation(
        ACCESS_TOKEN,
        token,
        None,
        now,
        facts,
        (Section("tokeninfo", head, tuple(paths)),),
        _public_notes(topology),
    )


# -- shared -----------------------------------------------------------------------------------


def _not_checked(decision: Decision, name: str, why: str) -> Decision:
    """The decision with check ``name`` marked as not checked (explain supplied its value)."""
    checks = tuple(
        replace(c, detail=f"{NOT_CHECKED}: {why}") if c.name == name and c.passed else c
        for c in decision.checks
    )
    return replace(decision, checks=checks)


def _facts(kind: str, decoded: DecodedJwt, now: float) -> dict[str, str]:
    return {
        "kind": f"a {kind}, from {_json(decoded.claims.get('iss'))}",
        "as of": readable_time(now, now).split(" (")[0],
    }


def _sts_lines(
    decision: Decision, topology: Topology, provider: Provider, decoded: DecodedJwt, now: float
) -> list[ShownCheck]:
    lines: list[ShownCheck] = []
    for check in decision.checks:
        if check.name == "provider":
            text = "enabled" if check.passed else "no such enabled pool and provider"
            lines.append(ShownCheck("provider", check.passed, text))
        elif _shown_token_check(check):
            lines.append(_token_line(check, now))
    mapped = [c for c in decision.checks if c.name.startswith(("mapping ", "condition"))]
    if mapped:
        verdict = explain_exchange(topology, provider, decoded.claims)
        clauses = [c for c in decision.checks if c.name.startswith("condition clause")]
        for shown in verdict.checks:
            if shown.rule == "attribute condition" and clauses:
                extra = tuple(
                    f"{'✓' if c.passed else '✗'} clause {c.expected} → {_json(c.actual)}"
                    for c in clauses
                )
                shown = replace(shown, details=extra + shown.details)
            lines.append(shown)
        condition = decision.check("condition")
        mapping_failed = next(
            (c for c in mapped if c.name.startswith("mapping") and not c.passed), None
        )
        if (
            condition is not None
            and not condition.passed
            and not any(s.rule == "attribute condition" for s in verdict.checks)
        ):
            lines.append(
                ShownCheck(
                    "attribute condition", False, f"{condition.expected}: {condition.detail}"
                )
            )
        elif mapping_failed is not None and not any(
            s.rule == "attribute mapping" for s in verdict.checks
        ):
            lines.append(ShownCheck("attribute mapping", False, mapping_failed.detail))
    if decision.refusal is not None:
        lines.append(ShownCheck("STS answers", False, _refusal_text(decision)))
    return lines


def _token_lines(decision: Decision, now: float) -> list[ShownCheck]:
    return [_token_line(c, now) for c in decision.checks if _shown_token_check(c)]


def _shown_token_check(check: Check) -> bool:
    """Token checks worth a line: not the passed presence and type checks of time claims
    (their bounds follow)."""
    if not check.name.startswith("token."):
        return False
    return not (check.passed and check.expected in ("present", "a NumericDate"))


_RULES = {
    "token.structure": "structure",
    "token.kid": "kid",
    "token.alg": "alg",
    "token.issuer": "issuer",
    "token.key": "key",
    "token.key.alg": "key alg",
    "token.signature": "signature",
    "token.audience": "audience",
    "token.iat.age": "iat age",
}


def _token_line(check: Check, now: float) -> ShownCheck:
    rule = _RULES.get(check.name, check.name.removeprefix("token."))
    actual, expected, detail = check.actual, check.expected, check.detail
    if detail.startswith(NOT_CHECKED):
        value = f"{_json(actual)}: " if actual is not None and check.name != "token.key" else ""
        return ShownCheck(rule, True, f"{value}{detail}")
    if check.name in ("token.iat", "token.exp", "token.nbf", "token.iat.age") and _number(actual):
        text = f"{_json(actual)} {readable_time(actual, now).split(' (')[0]}"
        if expected is not None and expected not in ("present", "a NumericDate"):
            text += f", must be {_readable_bound(expected)}"
        return ShownCheck(rule, check.passed, text)
    if check.passed:
        text = {
            "token.structure": "a JWS compact JWT",
            "token.key": f"kid {actual} is one of the issuer's keys",
            "token.signature": "valid",
        }.get(check.name, _json(actual))
        if check.name in ("token.issuer", "token.audience", "token.alg"):
            text = f"{_json(actual)} is one of {_json(expected)}"
        return ShownCheck(rule, True, text)
    text = detail or f"{_json(actual)}, expected {_json(expected)}"
    if check.name in ("token.issuer", "token.audience", "token.alg"):
        text = f"{_json(actual)} is not {_json(expected)}"
    elif check.name == "token.key":
        text = detail or f"no key {expected} in the issuer's keys"
    return ShownCheck(rule, False, text)


def _readable_bound(expected: Any) -> str:
    """``> 1764612000`` -> ``after 2025-12-01 18:00:00 UTC``."""
    if not isinstance(expected, str):
        return _json(expected)
    operator, _, number = expected.partition(" ")
    try:
        moment = readable_time(float(number), 0).split(" (")[0]
    except ValueError:
        return expected
    words = {">": "after", ">=": "at or after", "<=": "at or before", "<": "before"}
    return f"{words.get(operator, operator)} {moment}"


def _refusal_text(decision: Decision) -> str:
    refusal = decision.refusal
    if refusal is None:
        return "allowed"
    return f"{refusal.status} {refusal.code}: {refusal.text}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
