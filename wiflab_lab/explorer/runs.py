"""Try it and Break it: the whole chain run from the page, with real HTTP.

The explorer's server runs the demo's chain (``wiflab_lab.demo.steps.Chain``: IdP token ->
STS -> IAM Credentials generateIdToken -> the Cloud Run service) against the endpoints of
the stack's endpoints.json, the same ones any client uses, so every request lands in the
journal like a user's own. A Break it exercise first changes the topology in force
(``PUT /wiflab/v1/topology``) or the token's claims, then runs the same chain; Restore is
``DELETE /wiflab/v1/topology``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests

from mock_gcp.topology import Topology, TopologyError, parse_topology, topology_to_dict
from wiflab_lab.demo.endpoints import Endpoints
from wiflab_lab.demo.plan import DemoPlan, PlanError, choose
from wiflab_lab.demo.steps import Chain, DemoResult
from wiflab_lab.explorer.errors import RunError

TOPOLOGY_PATH = "/wiflab/v1/topology"
JOURNAL_PATH = "/wiflab/v1/journal"
TIMEOUT_SECONDS = 10
# Google's limit on google.subject (STS refuses more), plus one.
LONG_SUBJECT_BYTES = 128
MAX_CLAIMS = 64


class GoogleSide:
    """The lab's own API on the Google side: the topology in force and the journal."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._http = requests.Session()

    def topology_document(self) -> dict[str, Any]:
        response = self._http.get(self.url + TOPOLOGY_PATH, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def topology(self) -> Topology:
        return parse_topology(self.topology_document())

    def apply(self, document: Mapping[str, Any]) -> requests.Response:
        return self._http.put(self.url + TOPOLOGY_PATH, json=document, timeout=TIMEOUT_SECONDS)

    def restore(self) -> requests.Response:
        return self._http.delete(self.url + TOPOLOGY_PATH, timeout=TIMEOUT_SECONDS)

    def journal(self, query: Mapping[str, str]) -> requests.Response:
        return self._http.get(self.url + JOURNAL_PATH, params=query, timeout=TIMEOUT_SECONDS)

    def journal_next(self) -> int | None:
        """The id to ask the journal ``since`` to see only what comes next (None: no journal)."""
        try:
            response = self.journal({})
            if response.status_code != 200:
                return None
            value = response.json().get("next")
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None

    def journal_since(self, since: int | None) -> list[dict[str, Any]]:
        if since is None:
            return []
        try:
            response = self.journal({"since": str(since)})
            entries = response.json().get("entries") if response.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            return []
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    # What a person should learn: shown beside Google's answer.
    lesson: str
    # The topology document changed for the session (None: unchanged).
    topology: Callable[[dict[str, Any], DemoPlan], dict[str, Any]] | None = None
    # The subject token's claims changed (None: the profile's).
    claims: Callable[[dict[str, Any], float], dict[str, Any]] | None = None


def _remove_binding(document: dict[str, Any], plan: DemoPlan) -> dict[str, Any]:
    for account in document["serviceAccounts"]:
        if account["email"] == plan.account.email:
            account["policy"]["bindings"] = []
    return document


def _change_condition(document: dict[str, Any], plan: DemoPlan) -> dict[str, Any]:
    for pool in document["pools"]:
        for provider in pool["providers"]:
            if (pool["id"], provider["id"]) == (plan.provider.pool_id, plan.provider.provider_id):
                condition = provider.get("attributeCondition")
                provider["attributeCondition"] = f"!({condition})" if condition else "false"
    return document


def _wrong_audience(claims: dict[str, Any], now: float) -> dict[str, Any]:
    return {**claims, "aud": "https://wrong-audience.example.com"}


def _long_subject(claims: dict[str, Any], now: float) -> dict[str, Any]:
    return {**claims, "sub": "s" * LONG_SUBJECT_BYTES}


def _expired(claims: dict[str, Any], now: float) -> dict[str, Any]:
    return {**claims, "iat": int(now) - 7200, "exp": int(now) - 3600}


EXERCISES: dict[str, Exercise] = {
    e.key: e
    for e in (
        Exercise(
            "remove-binding",
            "Remove the binding",
            "The service account's IAM policy no longer names the federated principal: STS "
            "still exchanges the token, IAM Credentials refuses generateIdToken.",
            topology=_remove_binding,
        ),
        Exercise(
            "change-condition",
            "Change the condition",
            "The provider's attribute condition is turned around: STS rejects the token "
            "although it is validly signed and meant for this provider.",
            topology=_change_condition,
        ),
        Exercise(
            "wrong-audience",
            "Wrong audience",
            "The token's aud names another audience: STS refuses a token not meant for the "
            "provider (allowedAudiences, or the provider's own name).",
            claims=_wrong_audience,
        ),
        Exercise(
            "long-subject",
            "A 128-byte subject",
            "google.subject may hold at most 127 bytes: the mapping's result is too long.",
            claims=_long_subject,
        ),
        Exercise(
            "expired",
            "Expire the token",
            "The subject token's exp is an hour ago: STS refuses expired tokens.",
            claims=_expired,
        ),
    )
}


def check_claims(value: Any) -> dict[str, Any]:
    """The claim set a person edited on the page: a JSON object of at most MAX_CLAIMS."""
    if not isinstance(value, dict):
        raise RunError("claims", "must be a JSON object of claims")
    if len(value) > MAX_CLAIMS:
        raise RunError("claims", f"at most {MAX_CLAIMS} claims")
    return value


def plan_for(
    topology: Topology, endpoints: Endpoints, profile: Any, claims: Any = None
) -> DemoPlan:
    if profile is not None and (not isinstance(profile, str) or not profile):
        raise RunError("profile", "must be the name of one of the topology's IdP profiles")
    try:
        plan = choose(topology, endpoints, profile)
    except PlanError as exc:
        raise RunError(exc.flag.lstrip("-"), str(exc).split(": ", 1)[-1]) from None
    if claims is not None:
        plan = replace(plan, claims={"aud": plan.claims.get("aud"), **check_claims(claims)})
    return plan


def run_chain(
    google: GoogleSide,
    endpoints: Endpoints,
    *,
    profile: Any = None,
    claims: Any = None,
    exercise: Exercise | None = None,
) -> dict[str, Any]:
    """Run the chain (after the exercise's change, if any) and what it did: the demo's steps
    (Google's answers, the checks, the hints) and the journal entries it caused."""
    document = google.topology_document()
    topology = parse_topology(document)
    plan = plan_for(topology, endpoints, profile, claims)
    now = time.time()
    if exercise is not None and exercise.claims is not None:
        plan = replace(plan, claims=exercise.claims(dict(plan.claims), now))
    if exercise is not None and exercise.topology is not None:
        changed = exercise.topology(copy.deepcopy(document), plan)
        answer = google.apply(changed)
        if answer.status_code != 200:
            raise RunError("topology", answer.text[:500])
        try:
            topology = parse_topology(changed)
        except TopologyError as exc:  # accepted by Google's side, so not expected
            raise RunError("topology", str(exc)) from None
    since = google.journal_next()
    label = "the topology in force"
    chain = Chain(endpoints, topology, plan, label, started_here=False)
    result = DemoResult(endpoints.target, "the running stack", label, plan, list(chain.steps()))
    result.dump = chain.dump
    body = result.to_json(time.time())
    body["claims"] = plan.claims
    body["journal"] = google.journal_since(since)
    if exercise is not None:
        body["exercise"] = {"key": exercise.key, "title": exercise.title, "lesson": exercise.lesson}
    return body


def exercises_json() -> list[dict[str, str]]:
    return [{"key": e.key, "title": e.title, "lesson": e.lesson} for e in EXERCISES.values()]


def topology_json(google: GoogleSide) -> dict[str, Any]:
    """The document in force, as the page draws it."""
    return topology_to_dict(google.topology())
