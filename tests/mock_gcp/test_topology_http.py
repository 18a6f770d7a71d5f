"""``/wiflab/v1/topology``: the topology in force, read, replaced and restored over HTTP; every
process sharing the state file follows it; bad documents are 400s naming the field, with
nothing changed; beyond loopback only with the admin secret."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import Topology, topology_to_dict
from tests.mock_gcp.conftest import AUDIENCE, SA, FakeIssuer
from wiflab_core.wire import token_exchange_form

PATH = "/wiflab/v1/topology"


def backend_for(topology: Topology, issuer_url: str, state: Path | None) -> GoogleBackend:
    deviations = LocalDeviations(google_issuer="http://google.test", lab_idp_issuer=issuer_url)
    return GoogleBackend(topology, deviations, topology_state=state)


@pytest.fixture
def workers(topology: Topology, issuer: FakeIssuer, tmp_path: Path):
    """Two Google-side workers (two apps, two backends) sharing one state file."""
    state = tmp_path / "google" / "topology-in-force.json"
    backends = [backend_for(topology, issuer.url, state) for _ in range(2)]
    return [create_app(b, admin_secret="let-me-in").test_client() for b in backends]


def without_alice(document: dict) -> dict:
    changed = copy.deepcopy(document)
    account = next(sa for sa in changed["serviceAccounts"] if sa["email"] == SA)
    account["policy"]["bindings"] = []
    return changed


def exchange(client, token: str):
    return client.post("/v1/token", data=token_exchange_form(AUDIENCE, token))


def generate_id_token(client, federated: str):
    return client.post(
        f"/v1/projects/-/serviceAccounts/{SA}:generateIdToken",
        json={"audience": "https://a.example"},
        headers={"Authorization": f"Bearer {federated}"},
    )


def test_get_is_the_document_in_force_with_googles_field_names(workers, topology):
    answer = workers[0].get(PATH)
    assert answer.status_code == 200
    document = answer.get_json()
    assert document == topology_to_dict(topology)
    provider = document["pools"][0]["providers"][0]
    assert provider["attributeCondition"] == "attribute.isadmin == 'true'"
    assert provider["attributeMapping"]["google.subject"] == "assertion.sub"


def test_a_put_through_one_worker_is_in_force_in_the_other_and_delete_restores_it(workers, issuer):
    first, second = workers
    original = first.get(PATH).get_json()
    federated = exchange(second, issuer.mint()).get_json()["access_token"]
    assert generate_id_token(second, federated).status_code == 200

    put = first.put(PATH, json=without_alice(original))
    assert put.status_code == 200
    assert second.get(PATH).get_json() == without_alice(original)
    refused = generate_id_token(second, federated)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    )

    restored = second.delete(PATH)
    assert restored.status_code == 200
    assert restored.get_json() == original
    assert first.get(PATH).get_json() == original
    # (the federated token is known to the worker that issued it)
    assert generate_id_token(second, federated).status_code == 200


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["pools"][0]["providers"][0].pop("attributeMapping"), "attributeMapping"),
        (
            lambda d: d["pools"][0]["providers"][0].update(attributeCondition="assertion.("),
            "attributeCondition",
        ),
        (lambda d: d["serviceAccounts"][0].update(email="not-an-email"), "serviceAccounts[0]"),
        (lambda d: d.update(project="x"), "project"),
    ],
)
def test_a_bad_document_is_a_400_naming_the_field_and_changes_nothing(workers, change, named):
    before = workers[0].get(PATH).get_json()
    document = copy.deepcopy(before)
    change(document)
    answer = workers[0].put(PATH, json=document)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert named in error["message"]
    assert workers[1].get(PATH).get_json() == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[1, 2]",
        b"null",
        b'{"project": ' * 200,
        "\ud800".encode("utf-8", "surrogatepass"),
    ],
)
def test_bodies_that_are_no_document_are_400s(workers, body):
    answer = workers[0].put(PATH, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"].startswith("topology")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_json_is_answered_without_a_5xx(workers, value):
    answer = workers[0].put(PATH, data=json.dumps(value), content_type="application/json")
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert answer.get_json()["error"]["message"].startswith("topology")


def test_beyond_loopback_only_with_the_admin_secret(workers):
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    for method in ("get", "put", "delete"):
        answer = getattr(workers[0], method)(PATH, environ_base=remote)
        assert answer.status_code == 401
        assert "Bearer <WIFLAB_ADMIN_SECRET>" in answer.get_json()["error"]["message"]
    wrong = workers[0].get(PATH, environ_base=remote, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = workers[0].get(PATH, environ_base=remote, headers={"Authorization": "Bearer let-me-in"})
    assert right.status_code == 200


def test_without_an_admin_secret_it_is_loopback_only(topology, issuer):
    client = create_app(backend_for(topology, issuer.url, None)).test_client()
    answer = client.get(PATH, environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"})
    assert answer.status_code == 403
    assert "loopback callers only" in answer.get_json()["error"]["message"]
    assert client.get(PATH, environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_the_document_keeps_its_order_the_first_profile_stays_the_default(workers):
    document = workers[0].get(PATH).get_json()
    profiles = {"zed": {"sub": "zed"}, "alice": {"sub": "alice"}}
    document["idp"] = {"profiles": profiles}
    # (the test client's json= would sort the keys itself)
    sent = workers[0].put(PATH, data=json.dumps(document), content_type="application/json")
    assert sent.status_code == 200
    shown = json.loads(workers[1].get(PATH).get_data(as_text=True))
    assert list(shown["idp"]["profiles"]) == ["zed", "alice"]
