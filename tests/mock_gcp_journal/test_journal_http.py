"""What the journal shows of each request to Google's side, through its HTTP contract."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from tests.mock_gcp.conftest import AUDIENCE, GROUP_SA, POOL, SA, VM_SA

# Google's words (gcp-wif-behaviour.md, fidelity-evidence.md).
CONDITION_REJECTED = "The given credential is rejected by the attribute condition."
PERMISSION_DENIED = (
    "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
)


def test_a_refused_exchange_shows_the_condition_with_what_it_read(google, issuer, journal):
    response = google.exchange(issuer.mint(isadmin="false"))

    assert response.status_code == 400
    entry = journal.last()
    assert (entry["service"], entry["method"], entry["path"]) == ("sts", "POST", "/v1/token")
    assert (entry["outcome"], entry["status"], entry["chain"], entry["step"]) == (
        "refused",
        400,
        str(entry["id"]),
        1,
    )
    assert entry["refusal"] == {
        "status": 400,
        "code": "unauthorized_client",
        "text": CONDITION_REJECTED,
    }
    condition = entry["checks"][-1]
    assert condition["name"] == "condition"
    assert condition["actual"] == {"result": False, "read": {"attribute.isadmin": "false"}}
    assert entry["hint"]["nearest_miss"] == (
        "the condition `attribute.isadmin == 'true'` is false "
        '(it read attribute.isadmin = "false")'
    )
    assert entry["hint"]["doc"].startswith("https://cloud.google.com/iam/docs/")
    assert entry["tokens"]["subject_token"]["claims"]["isadmin"] == "false"
    assert entry["tokens"]["subject_token"]["header"]["alg"] == "RS256"


def test_a_chain_links_the_exchange_to_the_calls_its_token_makes(google, issuer, journal):
    federated = google.federated_token(issuer.mint())
    minted = google.iamcredentials(SA, "generateIdToken", federated, {"audience": "https://rp"})
    id_token = minted.json()["token"]
    info = requests.get(f"{google.url}/oauth2/v3/tokeninfo", params={"id_token": id_token})
    assert info.status_code == 200

    entries = journal.entries()
    chain = entries[0]["chain"]
    assert [(e["chain"], e["step"], e["service"], e["action"]) for e in entries] == [
        (chain, 1, "sts", "exchange"),
        (chain, 2, "iamcredentials", "generateIdToken"),
        (chain, 3, "tokeninfo", "tokeninfo"),
    ]
    assert [e["id"] for e in journal.entries(chain=chain)] == [e["id"] for e in entries]
    assert (
        entries[1]["principal"] == f"principal://iam.googleapis.com/{POOL}/subject/alice@domain.com"
    )
    assert entries[1]["tokens"]["issued.token"]["claims"]["aud"] == "https://rp"
    # No whole token, anywhere: not the subject token, the federated token, nor the ID token.
    text = json.dumps(entries)
    for token in (federated, id_token):
        assert token not in text
        assert token[:12] in text  # shown shortened, enough to tell tokens apart


def test_a_denied_call_names_the_nearest_binding_and_the_callers_groups(google, issuer, journal):
    federated = google.federated_token(issuer.mint(mygroups=["dev", "ops"]))
    response = google.iamcredentials(
        GROUP_SA,
        "generateAccessToken",
        federated,
        {"scope": ["https://www.googleapis.com/auth/cloud-platform"]},
    )

    assert response.status_code == 403
    entry = journal.last()
    assert entry["refusal"]["text"] == PERMISSION_DENIED
    assert entry["hint"]["nearest_miss"] == (
        f"the binding names principalSet://iam.googleapis.com/{POOL}/group/admins; the caller "
        f"is principal://iam.googleapis.com/{POOL}/subject/alice@domain.com, in groups dev, ops"
    )
    considered = [c for c in entry["checks"] if c["name"] == "binding"]
    assert considered and not any(c["passed"] for c in considered)


def test_requests_refused_before_any_rule_are_recorded_with_their_answer(google, journal):
    broken = requests.post(
        f"{google.url}/v1/token", data=b"{", headers={"Content-Type": "application/json"}
    )
    unknown = requests.get(f"{google.url}/v1/projects/-/serviceAccounts")

    assert (broken.status_code, unknown.status_code) == (400, 404)
    first, second = journal.entries()
    assert (first["service"], first["action"], first["status"]) == ("sts", "exchange", 400)
    assert first["refusal"]["code"] == "invalid_request"
    assert first["refusal"]["text"].startswith("Invalid JSON payload received.")
    assert (second["service"], second["status"], second["outcome"]) == (
        "iamcredentials",
        404,
        "refused",
    )


def test_secrets_are_never_shown(google, journal):
    requests.post(
        f"{google.url}/v1/introspect",
        data={"token": "ya29.d.not-a-real-token-at-all", "client_secret": "s3cret-value"},
        auth=("client-id", "hunter2-password"),
    )

    entry = journal.last()
    text = json.dumps(entry)
    assert "s3cret-value" not in text and "hunter2" not in text
    assert "ya29.d.not-a-real-token-at-all" not in text
    assert entry["request"]["headers"]["Authorization"] == "Basic (not shown)"


def test_the_journal_is_cleared_and_ids_go_on(google, issuer):
    google.exchange(issuer.mint())
    before = requests.get(f"{google.url}/wiflab/v1/journal").json()["next"]

    cleared = requests.delete(f"{google.url}/wiflab/v1/journal")
    assert cleared.status_code == 200
    assert requests.get(f"{google.url}/wiflab/v1/journal").json() == {"entries": [], "next": before}
    google.exchange(issuer.mint())
    (entry,) = requests.get(f"{google.url}/wiflab/v1/journal").json()["entries"]
    assert entry["id"] == before + 1


def test_the_stream_sends_each_entry_from_last_event_id(google, issuer, journal):
    google.exchange(issuer.mint(isadmin="false"))
    google.exchange(issuer.mint())
    ids = [e["id"] for e in journal.entries()]

    with requests.get(
        journal.url + "/stream",
        headers={"Last-Event-ID": str(ids[0])},
        stream=True,
        timeout=10,
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        events = []
        for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if events[-1]["id"] == ids[-1]:
                    break
    assert [e["id"] for e in events] == ids[1:]


def test_beyond_loopback_the_journal_needs_the_admin_secret(topology, issuer):
    backend = GoogleBackend(
        topology, LocalDeviations(google_issuer="http://g", lab_idp_issuer=issuer.url)
    )
    client = create_app(backend, admin_secret="the-admin-secret").test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}

    # The topology API's answer too (one guard): no secret or a wrong one is a 401.
    assert client.get("/wiflab/v1/journal", environ_base=remote).status_code == 401
    assert client.delete("/wiflab/v1/journal", environ_base=remote).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/wiflab/v1/journal", environ_base=remote, headers=wrong).status_code == 401
    stream = client.get("/wiflab/v1/journal/stream", environ_base=remote, headers=wrong)
    assert stream.status_code == 401
    right = {"Authorization": "Bearer the-admin-secret"}
    assert client.get("/wiflab/v1/journal", environ_base=remote, headers=right).status_code == 200
    assert client.get("/wiflab/v1/journal").status_code == 200  # loopback


def test_without_an_admin_secret_the_journal_is_loopback_only(topology, issuer):
    backend = GoogleBackend(
        topology, LocalDeviations(google_issuer="http://g", lab_idp_issuer=issuer.url)
    )
    client = create_app(backend).test_client()
    bearer = {"Authorization": "Bearer anything"}

    refused = client.get("/wiflab/v1/journal", environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"})
    assert refused.status_code == 403
    assert "loopback callers only" in refused.get_json()["error"]["message"]
    beyond = client.get(
        "/wiflab/v1/journal", environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers=bearer
    )
    assert beyond.status_code == 403
    for loopback in ("::1", "::ffff:127.0.0.1", "127.0.0.2"):
        answer = client.get("/wiflab/v1/journal", environ_base={"REMOTE_ADDR": loopback})
        assert answer.status_code == 200, loopback


def test_the_journal_switched_off_records_nothing(topology, issuer):
    from mock_gcp.journal.store import NoJournal

    deviations = LocalDeviations(google_issuer="http://g", lab_idp_issuer=issuer.url)
    client = create_app(GoogleBackend(topology, deviations, journal=NoJournal())).test_client()
    client.post("/v1/token", data={"audience": AUDIENCE})

    assert client.get("/wiflab/v1/journal").get_json() == {"entries": [], "next": 0}


_params = st.dictionaries(
    st.sampled_from(["since", "chain", "x"]), st.text(max_size=30), max_size=3
)


@pytest.fixture(scope="module")
def offline(topology, issuer):
    """Google's side as a Flask test client (no socket), its journal in memory."""
    deviations = LocalDeviations(google_issuer="http://g", lab_idp_issuer=issuer.url)
    return create_app(GoogleBackend(topology, deviations)).test_client()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=_params, last_event=st.one_of(st.none(), st.text(max_size=25)))
def test_any_query_gets_entries_or_a_400_naming_the_field(offline, params, last_event):
    response = offline.get("/wiflab/v1/journal", query_string=params)

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        message = response.get_json()["error"]["message"]
        assert message.startswith(("since", "chain"))
    else:
        assert set(response.get_json()) == {"entries", "next"}
    if last_event is not None:
        value = last_event.encode("latin-1", "replace").decode("latin-1")
        value = "".join(c for c in value if c.isprintable())
        headers = {"Last-Event-ID": value}
        stream = offline.get("/wiflab/v1/journal/stream", headers=headers, buffered=False)
        assert stream.status_code in (200, 400)
        if stream.status_code == 400:
            assert "Last-Event-ID" in stream.get_json()["error"]["message"]
        stream.close()


def test_a_token_from_the_metadata_server_starts_a_chain_its_calls_join(google, journal):
    flavor = {"Metadata-Flavor": "Google"}
    base = f"{google.url}/computeMetadata/v1/instance/service-accounts/default"
    token = requests.get(f"{base}/token", headers=flavor).json()["access_token"]
    identity = requests.get(f"{base}/identity", params={"audience": "https://rp"}, headers=flavor)
    info = requests.get(f"{google.url}/oauth2/v3/tokeninfo", params={"access_token": token})
    assert (identity.status_code, info.status_code) == (200, 200)

    first, second, third = journal.entries()
    assert (first["service"], first["action"], first["step"]) == ("metadata", "token", 1)
    assert first["principal"] == f"serviceAccount:{VM_SA}"
    assert (second["action"], second["chain"]) == ("identity", str(second["id"]))
    assert second["tokens"]["issued.token"]["claims"]["aud"] == "https://rp"
    assert (third["service"], third["chain"], third["step"]) == ("tokeninfo", first["chain"], 2)
    assert token not in json.dumps([first, second, third])
