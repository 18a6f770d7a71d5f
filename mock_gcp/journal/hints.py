"""For a refused request: the nearest miss, and what to check, keyed to Google's WIF
troubleshooting steps (https://cloud.google.com/iam/docs/troubleshooting-workload-identity-federation).

A hint reads the decision's checks only (the values the service compared); it never
re-runs a rule. ``nearest_miss`` is one sentence with the values that mattered, ``check`` the
settings to look at, ``doc`` Google's page for that step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from wiflab_core.decisions import Check, Decision
from wiflab_core.redact import redact

TROUBLESHOOTING = "https://cloud.google.com/iam/docs/troubleshooting-workload-identity-federation"
CONDITIONS_DOC = "https://cloud.google.com/iam/docs/workload-identity-federation#conditions"
MAPPING_DOC = "https://cloud.google.com/iam/docs/workload-identity-federation#mapping"
PRINCIPALS_DOC = "https://cloud.google.com/iam/docs/principal-identifiers"
RUN_AUTH_DOC = "https://cloud.google.com/run/docs/authenticating/service-to-service"

Hint = dict[str, Any]


def hint(decision: Decision) -> Hint | None:
    """The hint for a refused decision; None when it was allowed."""
    if decision.refusal is None:
        return None
    # The last failed check refused: earlier ones may fail without refusing (a service
    # that is not public still admits a token; bindings before the one that matches).
    failed = next((c for c in reversed(decision.checks) if not c.passed), None)
    name = failed.name if failed is not None else ""
    for prefix, explain in _BY_CHECK:
        if name.startswith(prefix):
            assert failed is not None
            found = explain(decision, failed)
            if found is not None:
                return redact(found)
    if failed is None or name == "request":
        # Refused before any rule ran (an unknown path, a broken body): Google's words say it.
        miss, check = decision.refusal.text, ["the request as sent: its method, path and body"]
    else:
        expected = f" (expected {_shown(failed.expected)})" if failed.expected is not None else ""
        miss = f"{failed.name}: {failed.detail or _shown(failed.actual)}{expected}"
        check = [f"the request's {failed.name.removeprefix('request.')}"]
    return redact({"nearest_miss": miss, "check": check, "doc": TROUBLESHOOTING})


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _condition(decision: Decision, failed: Check) -> Hint:
    whole = decision.check("condition")
    read: Mapping[str, Any] = {}
    if whole is not None and isinstance(whole.actual, Mapping):
        read = whole.actual.get("read") or {}
    clauses = [c for c in decision.checks if c.name.startswith("condition clause") and not c.passed]
    if clauses:
        parts = []
        for clause in clauses:
            source = str(clause.expected)
            inputs = _inputs_of(source, read)
            value = "did not evaluate" if clause.actual is None else "is false"
            parts.append(
                f"the clause `{source}` {value}" + (f" (it read {inputs})" if inputs else "")
            )
        miss = "; ".join(parts)
    else:
        source = whole.expected if whole is not None else ""
        inputs = _inputs_of(str(source), read) or ", ".join(
            f"{k} = {_json(v)}" for k, v in read.items()
        )
        what = failed.detail or "is false"
        miss = f"the condition `{source}` {what}" + (f" (it read {inputs})" if inputs else "")
    return {
        "nearest_miss": miss,
        "check": [
            "the provider's attributeCondition, clause by clause, against the token's claims",
            "a claim the condition reads must be in the token (assertion.X) "
            "or mapped (attribute.X)",
            "names are case-sensitive",
        ],
        "doc": CONDITIONS_DOC,
    }


def _inputs_of(source: str, read: Mapping[str, Any]) -> str:
    names = [name for name in read if re.search(rf"\b{re.escape(name)}\b", source)]
    return ", ".join(f"{name} = {_json(read[name])}" for name in names)


def _json(value: Any) -> str:
    """A value as CEL reads it: ``"false"`` (a string) is not ``false``."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _mapping(decision: Decision, failed: Check) -> Hint:
    key = failed.name.removeprefix("mapping ")
    return {
        "nearest_miss": f"the attribute mapping of {key} (`{failed.expected}`): {failed.detail}",
        "check": [
            "the provider's attributeMapping and the claims the token carries",
            "google.subject must be a string of at most 127 bytes",
        ],
        "doc": MAPPING_DOC,
    }


def _members_of(decision: Decision) -> list[str]:
    caller = decision.check("caller")
    if caller is not None and isinstance(caller.actual, Mapping):
        return [str(m) for m in caller.actual.get("members") or []]
    return []


def _groups(members: Sequence[str]) -> list[str]:
    return [m.rpartition("/group/")[2] for m in members if "/group/" in m]


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _binding(decision: Decision, failed: Check) -> Hint:
    """No binding granted the permission: the binding member closest to the caller's."""
    permission = str(failed.expected)
    members = _members_of(decision)
    caller = decision.check("caller")
    principal = (
        caller.actual.get("principal") if caller and isinstance(caller.actual, Mapping) else None
    )
    considered = [c for c in decision.checks if c.name == "binding" and not c.passed]
    right_role = [c for c in considered if "lacks" not in c.detail]
    best: tuple[int, str] | None = None
    for check in right_role or considered:
        for member in (check.expected or {}).get("members", []):
            score = max((_common(member, m) for m in members), default=0)
            if best is None or score > best[0]:
                best = (score, member)
    groups = _groups(members)
    who = f"the caller is {principal}" if principal else "the caller"
    if groups:
        who += f", in groups {', '.join(groups)}"
    if best is None:
        miss = f"no binding on the resource grants {permission}; {who}"
    elif not right_role:
        miss = f"no binding with a role that has {permission}; the nearest names {best[1]}; {who}"
    else:
        miss = f"the binding names {best[1]}; {who}"
    service_account = decision.service == "iamcredentials"
    return {
        "nearest_miss": miss,
        "check": [
            "the member string: principal:// for one subject, "
            "principalSet:// for a group or an attribute",
            "the pool's project number and pool id in the member",
            "roles/iam.workloadIdentityUser (impersonation) or roles/iam.serviceAccountTokenCreator"
            if service_account
            else "roles/run.invoker on the service or the project",
        ],
        "doc": TROUBLESHOOTING if service_account else RUN_AUTH_DOC,
    }


def _token(decision: Decision, failed: Check) -> Hint:
    what = failed.name.removeprefix("token.")
    miss = (
        f"the token's {what}: expected {_shown(failed.expected)}, "
        f"found {_shown(failed.actual)}" + (f" ({failed.detail})" if failed.detail else "")
    )
    checks = {
        "issuer": [
            "the provider's oidc.issuerUri must equal the token's iss exactly (trailing slash)"
        ],
        "audience": [
            "the token's aud must be the provider's full resource name, or one of its "
            "oidc.allowedAudiences"
            if decision.service == "sts"
            else "the ID token's aud must be the service URL or one of its custom audiences"
        ],
        "key": ["the issuer's jwks_uri must serve the key with the token's kid"],
        "signature": ["the token must be signed by the issuer's key, unaltered"],
    }.get(what.partition(".")[0], ["the token's time claims (iat, exp) and this machine's clock"])
    return {"nearest_miss": miss, "check": checks, "doc": TROUBLESHOOTING}


def _provider(decision: Decision, failed: Check) -> Hint:
    return {
        "nearest_miss": f"no enabled pool and provider at {failed.actual}",
        "check": [
            "the audience: //iam.googleapis.com/projects/NUMBER/locations/global/"
            "workloadIdentityPools/POOL/providers/PROVIDER",
            "the project number (not its id), and that the pool and provider are enabled",
        ],
        "doc": TROUBLESHOOTING,
    }


def _credential(decision: Decision, failed: Check) -> Hint:
    if decision.service == "run":
        return {
            "nearest_miss": f"{failed.name}: expected {_shown(failed.expected)}",
            "check": [
                "send a Google-signed ID token: Authorization: Bearer TOKEN "
                "(or X-Serverless-Authorization)",
                "its aud must be the service URL or one of its custom audiences",
            ],
            "doc": RUN_AUTH_DOC,
        }
    return {
        "nearest_miss": f"{failed.name}: expected {_shown(failed.expected)}"
        + (f", found {_shown(failed.actual)}" if failed.actual is not None else ""),
        "check": [
            "the token must come from this Google side (the same STS and IAM Credentials) "
            "and be live",
            "its scopes must include https://www.googleapis.com/auth/cloud-platform",
        ],
        "doc": TROUBLESHOOTING,
    }


_BY_CHECK = (
    ("condition", _condition),
    ("mapping ", _mapping),
    ("permission", _binding),
    ("token.", _token),
    ("provider", _provider),
    ("credential", _credential),
)
