"""The journal (issue 13) as a user reads it after running their own google-auth code: the
refused exchange with the condition clause that was false and its inputs, one chain from the
subject token to the Cloud Run call (recorded by separate processes in processes mode), and
no whole token anywhere in it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import Request

from e2e.names import FEDERATED_SA, LAB_PROVIDER, SERVICE

# Google's words for a condition that refuses (gcp-wif-behaviour.md).
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."


def journal_url(wif_stack: Any) -> str:
    section = wif_stack.endpoints.journal
    if section is None:
        pytest.skip(f"the {wif_stack.target} target has no journal (a local stand-in's feature)")
    return section.url


def read(url: str, since: int, **params: str) -> list[dict[str, Any]]:
    response = requests.get(url, params={"since": str(since), **params}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def chain_through_run(url: str, since: int, chain: str) -> list[dict[str, Any]]:
    """The chain once its Cloud Run call is in: a front end in another process (processes
    mode) records it once its response is sent, so it may land a moment after."""
    for _ in range(100):
        entries = read(url, since, chain=chain)
        if entries and entries[-1]["service"] == "run":
            return entries
        time.sleep(0.05)
    return read(url, since, chain=chain)


def mark(url: str) -> int:
    """Where the journal is now: the tests read what happens after."""
    return requests.get(url, timeout=10).json()["next"]


@pytest.mark.wif_requires(in_process=True)
def test_a_refused_exchange_shows_the_false_clause_and_what_it_read(
    wif_stack, wif_topology, external_account_credentials
):
    """carol is an admin in group1 only: the clause asking for group2 is the one that failed."""
    document = wif_topology.document()
    provider = document["pools"][0]["providers"][0]
    provider["attributeCondition"] = "attribute.isadmin == 'true' && 'group2' in google.groups"
    wif_topology.apply(document)
    url = journal_url(wif_stack)
    since = mark(url)
    credentials = external_account_credentials(LAB_PROVIDER, profile="carol")

    with pytest.raises(GoogleAuthError) as refused:
        credentials.refresh(Request())

    assert "unauthorized_client" in str(refused.value)
    (entry,) = [e for e in read(url, since) if e["service"] == "sts"]
    assert entry["outcome"] == "refused"
    assert entry["refusal"] == {
        "status": 400,
        "code": "unauthorized_client",
        "text": CONDITION_REJECTED,
    }
    clauses = {
        c["expected"]: c["actual"]
        for c in entry["checks"]
        if c["name"].startswith("condition clause")
    }
    assert clauses == {"attribute.isadmin == 'true'": True, "'group2' in google.groups": False}
    condition = next(c for c in entry["checks"] if c["name"] == "condition")
    assert condition["actual"]["read"]["google.groups"] == ["group1"]
    miss = entry["hint"]["nearest_miss"]
    assert "'group2' in google.groups` is false" in miss
    assert 'google.groups = ["group1"]' in miss
    assert entry["tokens"]["subject_token"]["claims"]["sub"] == "carol@domain.com"


def test_one_chain_from_the_exchange_to_the_cloud_run_call(wif_stack, external_account_info):
    """google-auth exchanges and impersonates, google-cloud-iam mints the ID token, Cloud Run
    admits it: one chain, steps in order, each hop's service and principal."""
    from wiflab_lab.testing import credentials_from_info

    url = journal_url(wif_stack)
    since = mark(url)
    info = external_account_info(LAB_PROVIDER, profile="alice")
    credentials = credentials_from_info(info)
    account = wif_stack.account(FEDERATED_SA)
    service = wif_stack.service_url(SERVICE)
    token = (
        wif_stack.iam_client(credentials)
        .generate_id_token(name=f"projects/-/serviceAccounts/{account}", audience=service)
        .token
    )
    dump = requests.get(f"{service}/dump", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert dump.status_code == 200, dump.text

    entries = read(url, since)
    exchange = next(e for e in entries if e["service"] == "sts" and e["action"] == "exchange")
    chain = chain_through_run(url, since, exchange["chain"])
    hops = [(e["step"], e["service"], e["action"], e["outcome"]) for e in chain]
    assert hops[0] == (1, "sts", "exchange", "allowed")
    assert (hops[1][1], hops[1][2]) == ("iamcredentials", "generateIdToken")
    assert hops[-1][1:] == ("run", "invoke", "allowed")
    assert [step for step, *_ in hops] == list(range(1, len(hops) + 1))
    run = chain[-1]
    assert run["principal"] == f"serviceAccount:{account}"
    assert run["tokens"]["Authorization"]["claims"]["aud"] == service
    # Nothing in the journal can be used as a credential: no issued token appears whole.
    text = json.dumps(read(url, 0))
    assert token not in text
    assert credentials.token and credentials.token not in text
