"""The services' decisions as values, without HTTP: what each check compared, in order."""

from __future__ import annotations

import json

from mock_gcp.iam import Caller
from mock_gcp.iamcredentials.methods import decide
from mock_gcp.run.admission import decide_invoke
from mock_gcp.sts.exchange import map_and_check
from mock_gcp.topology import Topology, parse_topology
from tests.mock_gcp_rules.conftest import minimal_doc

GET_ID_TOKEN = "iam.serviceAccounts.getOpenIdToken"
OIDC_SA = "oidc-federated@demo-project.iam.gserviceaccount.com"


def test_sts_records_each_mapped_attribute_and_the_condition(wif: Topology) -> None:
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    assert provider is not None
    bob = {**(wif.idp.claims("bob") or {}), "aud": "x"}
    mapped = map_and_check(wif, provider, bob)
    decision = mapped.decision
    assert mapped.caller is None and decision.outcome == "refused"
    assert decision.refusal is not None
    assert (decision.refusal.status, decision.refusal.code) == (400, "unauthorized_client")
    assert decision.refusal.text == "The given credential is rejected by the attribute condition."
    isadmin = decision.check("mapping attribute.isadmin")
    assert isadmin is not None and (isadmin.expected, isadmin.actual) == (
        "assertion.isadmin",
        "false",
    )
    condition = decision.failed
    assert condition is not None and condition.name == "condition"
    assert condition.expected == "attribute.isadmin == 'true'"
    assert condition.actual == {"result": False, "read": {"attribute.isadmin": "false"}}
    json.dumps(decision.to_json())  # plain data


def test_sts_records_each_clause_of_a_top_level_chain() -> None:
    doc = minimal_doc()
    provider_doc = doc["pools"][0]["providers"][1]
    provider_doc["attributeCondition"] = "assertion.sub != '' && assertion.tier == 'gold'"
    topology = parse_topology(doc)
    provider = topology.provider("pool-a", "prov-b")
    assert provider is not None
    decision = map_and_check(topology, provider, {"sub": "alice", "tier": "silver"}).decision
    clauses = [(c.expected, c.actual) for c in decision.checks if c.name.startswith("condition ")]
    assert clauses == [("assertion.sub != ''", True), ("assertion.tier == 'gold'", False)]
    assert not decision.allowed


def test_accepted_claims_name_the_caller_google_knows(wif: Topology) -> None:
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    assert provider is not None
    mapped = map_and_check(wif, provider, {**(wif.idp.claims("alice") or {}), "aud": "x"})
    caller = mapped.decision.check("caller")
    assert mapped.caller is not None and caller is not None
    assert caller.actual["principal"] == mapped.caller.principal()


def test_iam_lists_every_binding_considered_and_the_one_that_matched(wif: Topology) -> None:
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    assert provider is not None
    account = wif.service_account(OIDC_SA)
    assert account is not None
    for profile, allowed in (("alice", True), ("dave", False)):
        claims = {**(wif.idp.claims(profile) or {}), "aud": "x"}
        caller = map_and_check(wif, provider, claims).caller
        assert caller is not None
        authorization = decide(wif, caller, account, GET_ID_TOKEN)
        decision = authorization.decision
        assert decision.allowed is allowed, profile
        bindings = [c for c in decision.checks if c.name == "binding"]
        assert bindings and all(c.expected["resource"] for c in bindings)
        last = decision.check("permission")
        assert last is not None and last.passed is allowed
        # Granted: then whether the account can be used at all, as a call checks it.
        ends = ["permission", "account.disabled"] if allowed else ["binding", "permission"]
        assert [c.name for c in decision.checks[-2:]] == ends
        if allowed:
            assert authorization.grant is not None and bindings[-1].passed
            assert last.actual == authorization.grant.to_json()
        else:
            assert decision.refusal is not None and decision.refusal.code == "PERMISSION_DENIED"
            assert decision.refusal.text == (
                f"Permission '{GET_ID_TOKEN}' denied on resource (or it may not exist)."
            )


def test_cloud_run_invoke_decision(wif: Topology) -> None:
    service = wif.service("federated-auth-cloud-run")
    assert service is not None
    allowed = decide_invoke(wif, service, Caller("serviceAccount", OIDC_SA))
    assert allowed.decision.allowed and allowed.grant and "roles/run.invoker" in allowed.grant
    stranger = Caller("serviceAccount", "nobody@demo-project.iam.gserviceaccount.com")
    refused = decide_invoke(wif, service, stranger).decision
    assert refused.refusal is not None and refused.refusal.status == 403
    assert refused.check("public") is not None
