"""Why Google said yes or no, as the demo and ``wiflab log`` show it: the services' own
decisions, rendered.

Nothing here decides anything. Locally, the decisions come from the journal (what the
services decided for the very request, ``shown_checks``); on real Google Cloud, which sends
no explanation, STS's ``map_and_check``, IAM Credentials' ``decide`` and Cloud Run's
``decide_invoke`` are asked with the topology's inputs. Both are turned into the same lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_gcp.iam import Caller
from mock_gcp.iamcredentials.methods import decide
from mock_gcp.run.admission import INVOKE_PERMISSION, decide_invoke, service_audiences
from mock_gcp.sts.exchange import map_and_check
from mock_gcp.topology import Provider, Service, ServiceAccount, Topology
from wiflab_core.decisions import Check, Decision, Refusal

INVOKE = INVOKE_PERMISSION
_FEDERATED_PREFIX = re.compile(
    r"^(principal|principalSet)://iam\.googleapis\.com/projects/\d+/locations/global/"
    r"workloadIdentityPools/"
)
_MAPPING = "mapping "


@dataclass(frozen=True)
class ShownCheck:
    """One rule Google applied to this request, as the demo shows it."""

    rule: str
    passed: bool
    text: str
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rule": self.rule, "passed": self.passed, "text": self.text}
        if self.details:
            body["details"] = list(self.details)
        if self.data:
            body["data"] = dict(self.data)
        return body


@dataclass(frozen=True)
class ExchangeVerdict:
    """What STS makes of a token: the checks shown, and the caller when accepted."""

    checks: tuple[ShownCheck, ...]
    caller: Caller | None
    decision: Decision | None = None

    @property
    def accepted(self) -> bool:
        return self.caller is not None


def short_member(member: str) -> str:
    """``principal://…/oidc-pool-run/subject/alice@domain.com``: the pool and what follows."""
    return _FEDERATED_PREFIX.sub(lambda m: f"{m.group(1)}://…/", member)


def token_audience(provider: Provider, sts_audience: str) -> str:
    """The ``aud`` a token needs: a listed allowed audience, else the provider's own name."""
    allowed = provider.oidc.allowed_audiences if provider.oidc else ()
    return allowed[0] if allowed else sts_audience


def explain_token_audience(provider: Provider) -> ShownCheck:
    if provider.aws is not None:
        return ShownCheck(
            "audience", True, "x-goog-cloud-target-resource is the provider's resource name"
        )
    if provider.oidc and provider.oidc.allowed_audiences:
        return ShownCheck("audience", True, "aud is listed in the provider's oidc.allowedAudiences")
    return ShownCheck(
        "audience", True, "aud is the provider's resource name (oidc.allowedAudiences is empty)"
    )


def explain_exchange(
    topology: Topology, provider: Provider, claims: Mapping[str, Any]
) -> ExchangeVerdict:
    """STS's attribute mapping and condition over these claims, as STS decides them."""
    mapped = map_and_check(topology, provider, claims)
    checks = exchange_checks(mapped.decision)
    return ExchangeVerdict(checks, mapped.caller, mapped.decision)


def exchange_checks(decision: Decision) -> tuple[ShownCheck, ...]:
    """An STS exchange's decision as the demo shows it: the subject token's checks (when the
    journal recorded them), the mapping, the condition, and who the caller became."""
    token = [c for c in decision.checks if c.name.startswith("token.")]
    shown: list[ShownCheck] = list(aws_checks(decision))
    if any(not check.passed for check in shown):
        return tuple(shown)
    if token:
        failed = next((c for c in token if not c.passed), None)
        if failed is not None:
            detail = (
                failed.detail or f"expected {_json(failed.expected)}, found {_json(failed.actual)}"
            )
            shown.append(ShownCheck("subject token", False, f"{failed.name}: {detail}"))
            return tuple(shown)
        shown.append(ShownCheck("subject token", True, "issuer, key, signature, times and aud"))
    mapping = [c for c in decision.checks if c.name.startswith(_MAPPING)]
    if any(not c.passed for c in mapping):
        text = decision.refusal.text if decision.refusal else "the mapping failed"
        return (*shown, ShownCheck("attribute mapping", False, text))
    if not mapping:
        return tuple(shown)
    checks = [*shown, _mapping_check(mapping)]
    condition = decision.check("condition")
    if condition is not None:
        checks.append(_condition_check(condition.passed, condition.expected, condition.actual))
        if not condition.passed:
            return tuple(checks)
    caller = decision.check("caller")
    if caller is not None and decision.allowed:
        checks.append(_identity_check(caller.actual))
    return tuple(checks)


def aws_checks(decision: Decision) -> tuple[ShownCheck, ...]:
    """An AWS caller's checks (``mock_gcp.sts.aws``): the signed request, what AWS said of
    it, and its account against the provider's; none for an OIDC token."""
    checks = [c for c in decision.checks if c.name.startswith("aws.")]
    if not checks:
        return ()
    request = [c for c in checks if c.name not in ("aws.call", "aws.account")]
    failed = next((c for c in request if not c.passed), None)
    if failed is not None:
        detail = failed.detail or f"expected {_json(failed.expected)}, found {_json(failed.actual)}"
        return (ShownCheck("signed request", False, f"{failed.name}: {detail}"),)
    shown = [
        ShownCheck(
            "signed request",
            True,
            "a SigV4-signed GetCallerIdentity to an AWS STS host, "
            "x-goog-cloud-target-resource = the audience",
        )
    ]
    call = next((c for c in checks if c.name == "aws.call"), None)
    if call is not None:
        if not call.passed:
            text = call.detail or f"AWS answered {_json(call.actual)}"
            return (*shown, ShownCheck("AWS's answer", False, text))
        who = call.actual if isinstance(call.actual, Mapping) else {}
        shown.append(
            ShownCheck(
                "AWS's answer",
                True,
                "Google's STS sent the request to AWS, which verified the signature:",
                tuple(
                    f"assertion.{key} = {_json(who[key])}"
                    for key in ("arn", "account", "userid")
                    if key in who
                ),
            )
        )
    account = next((c for c in checks if c.name == "aws.account"), None)
    if account is not None:
        text = (
            f"{account.actual} is the provider's aws.accountId"
            if account.passed
            else f"the caller's account {_json(account.actual)} is not the provider's "
            f"aws.accountId {_json(account.expected)}"
        )
        shown.append(ShownCheck("AWS account", account.passed, text))
    return tuple(shown)


def _mapping_check(mapping: list[Any]) -> ShownCheck:
    keys = [c.name.removeprefix(_MAPPING) for c in mapping]
    width = max(len(key) for key in keys)
    lines = [
        f"{key:<{width}} = {check.expected} → {_json(check.actual)}"
        for key, check in zip(keys, mapping, strict=True)
    ]
    values = dict(zip(keys, (c.actual for c in mapping), strict=True))
    attributes = {
        key.removeprefix("attribute."): value
        for key, value in values.items()
        if key.startswith("attribute.") and value is not None
    }
    data = {
        "subject": values.get("google.subject"),
        "groups": values.get("google.groups") or [],
        "attributes": attributes,
    }
    text = "the token's claims, as Google sees them"
    return ShownCheck("attribute mapping", True, text, tuple(lines), data)


def _condition_check(passed: bool, source: Any, actual: Any) -> ShownCheck:
    if source is None:
        return ShownCheck("attribute condition", True, "none set: every valid token passes")
    read = actual.get("read", {}) if isinstance(actual, dict) else {}
    return ShownCheck(
        "attribute condition",
        passed,
        f"{source} → {'true' if passed else 'false'}",
        tuple(f"with {name} = {_json(value)}" for name, value in read.items()),
    )


def _identity_check(caller: Mapping[str, Any]) -> ShownCheck:
    principal, members = caller["principal"], caller["members"]
    others = sorted(m for m in members if m not in ("allUsers", principal))
    return ShownCheck(
        "identity",
        True,
        "Google now knows the caller as",
        (principal, "and as a member of", *(f"  {short_member(m)}" for m in others)),
        {"principal": principal, "members": sorted(members)},
    )


def explain_account_grant(
    topology: Topology, caller: Caller, account: ServiceAccount, permission: str
) -> ShownCheck:
    return grant_check(decide(topology, caller, account, permission).decision, account.email)


def grant_check(decision: Decision, account: str) -> ShownCheck:
    """Whether a binding on the service account granted the permission, and which."""
    permission_check = decision.check("permission")
    permission = str(permission_check.expected) if permission_check else "the permission"
    if permission_check is None or not permission_check.passed:
        members = decision.check("caller")
        listed = members.actual["members"] if members is not None else []
        return ShownCheck(
            "IAM binding",
            False,
            f"no binding on serviceAccount {account} grants {permission} to the caller",
            (
                "the caller is any of:",
                *(f"  {short_member(m)}" for m in sorted(listed) if m != "allUsers"),
            ),
        )
    return _granted(permission_check.actual, permission)


def explain_invoke(topology: Topology, service: Service, account_email: str) -> ShownCheck:
    caller = Caller("serviceAccount", account_email)
    decision = decide_invoke(topology, service, caller).decision
    return invoke_check(decision, service.name, caller.principal())


def invoke_check(decision: Decision, service: str, principal: str | None) -> ShownCheck:
    """Whether the service is public, or a binding grants run.routes.invoke, and which."""
    public = decision.check("public")
    if public is not None and public.actual == "allowUnauthenticated":
        return ShownCheck("IAM binding", True, "the service allows unauthenticated calls")
    granted = public if public is not None and public.passed else decision.check("permission")
    if granted is None or not granted.passed:
        return ShownCheck(
            "IAM binding",
            False,
            f"no binding on service {service} grants {INVOKE} to {principal or 'the caller'}",
        )
    return _granted(granted.actual, INVOKE)


def explain_service_audience(service: Service, service_url: str, aud: Any) -> ShownCheck:
    url = service_url.rstrip("/")
    if not isinstance(aud, str):
        aud_ok = custom_ok = False
    else:
        aud_ok = aud in service_audiences(service_url, ())
        custom_ok = aud in service_audiences(service_url, service.custom_audiences)
    if aud_ok:
        return ShownCheck("audience", True, "the ID token's aud is the service URL")
    if custom_ok:
        return ShownCheck(
            "audience", True, "the ID token's aud is one of the service's customAudiences"
        )
    return ShownCheck("audience", False, f"the ID token's aud {aud!r} is not the service URL {url}")


def _granted(grant: Mapping[str, str], permission: str) -> ShownCheck:
    role, resource, member = grant["role"], grant["resource"], grant["member"]
    return ShownCheck(
        "IAM binding",
        True,
        f"allowed by {role}",
        (f"on {resource}", f"via {short_member(member)}", f"(the role includes {permission})"),
        {"role": role, "resource": resource, "member": member, "permission": permission},
    )


def _json(value: Any) -> str:
    return "(not set)" if value is None else json.dumps(value, ensure_ascii=False)


# -- from the journal --------------------------------------------------------------------


def decision_of(entry: Mapping[str, Any]) -> Decision:
    """The decision a journal entry records, as the service made it."""
    checks = tuple(
        Check(
            str(c.get("name")),
            bool(c.get("passed")),
            c.get("expected"),
            c.get("actual"),
            str(c.get("detail") or ""),
        )
        for c in entry.get("checks") or []
        if isinstance(c, Mapping)
    )
    refused = entry.get("refusal")
    refusal = None
    if isinstance(refused, Mapping):
        refusal = Refusal(
            int(refused.get("status") or 0), str(refused.get("code")), str(refused.get("text"))
        )
    return Decision(str(entry.get("service")), str(entry.get("action")), checks, refusal)


def shown_checks(entry: Mapping[str, Any]) -> tuple[ShownCheck, ...]:
    """A journal entry's decision, as the demo shows the same step."""
    decision = decision_of(entry)
    service = entry.get("service")
    if service == "sts" and decision.action == "exchange":
        return exchange_checks(decision)
    if service == "iamcredentials" and decision.check("permission") is not None:
        account = str(entry.get("path", "")).rpartition("/serviceAccounts/")[2].partition(":")[0]
        return (grant_check(decision, account),)
    if service == "run":
        shown = []
        audience = decision.check("token.audience")
        if audience is not None:
            text = (
                "the ID token's aud is the service URL or one of its customAudiences"
                if audience.passed
                else f"the ID token's aud {audience.actual!r} is not the service's"
            )
            shown.append(ShownCheck("audience", audience.passed, text))
        request = entry.get("request")
        name = request.get("service") if isinstance(request, Mapping) else None
        public = decision.check("public")
        if (public is not None and public.passed) or decision.check("permission") is not None:
            shown.append(invoke_check(decision, str(name), entry.get("principal")))
        failed = decision.failed
        if failed is not None and failed.name.startswith(("credential", "token.", "caller")):
            shown.append(_generic(failed))
        return tuple(shown)
    failed = next((c for c in reversed(decision.checks) if not c.passed), None)
    if failed is not None:
        return (_generic(failed),)
    ruled = [c for c in decision.checks if c.name != "request"]
    text = f"{len(ruled)} checks passed" if ruled else "served"
    return (ShownCheck(decision.action, True, text),)


def _generic(check: Check) -> ShownCheck:
    text = check.detail or (
        f"expected {_json(check.expected)}, found {_json(check.actual)}"
        if check.expected is not None
        else _json(check.actual)
    )
    return ShownCheck(check.name, check.passed, text)
