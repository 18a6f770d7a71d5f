"""``/wiflab/v1/projects/NUMBER/topology`` and start-up loading, without servers: what a caller
is told when a document, a number, a secret or a second file is wrong; bad input of any shape
never gets a 500. No traffic leaves the process (Flask's test client; a "remote" caller is a
REMOTE_ADDR in the WSGI environ)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.app import create_app
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import TopologyError, load_topology
from tests.namespaces.conftest import A_NUMBER, EXAMPLE, project_document
from wiflab_lab.stack import Stack, StackOptions

B_NUMBER, B_ID = "222233334444", "team-b-project"
ADMIN = "the-admin-secret"
REMOTE = {"REMOTE_ADDR": "192.0.2.10"}  # TEST-NET-1: a caller beyond loopback, never reached


def client(tmp_path: Path | None = None, admin_secret: str | None = None) -> FlaskClient:
    state = tmp_path / "google" / "topology-in-force.json" if tmp_path else None
    backend = GoogleBackend(
        load_topology(EXAMPLE),
        LocalDeviations(google_issuer="http://127.0.0.1:9"),
        topology_state=state,
    )
    return create_app(backend, admin_secret=admin_secret).test_client()


def url(number: str) -> str:
    return f"/wiflab/v1/projects/{number}/topology"


def violations(answer: Any) -> dict[str, str]:
    details = answer.get_json()["error"].get("details", [])
    return {v["field"]: v["description"] for d in details for v in d.get("fieldViolations", [])}


def test_the_body_must_name_the_project_of_the_path() -> None:
    answer = client().put(url("999999999999"), json=project_document(B_NUMBER, B_ID))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    assert violations(answer) == {
        "project.number": f"must be 999999999999 (the number in the path), not {B_NUMBER}"
    }


def test_a_project_id_another_project_has_is_refused_naming_both() -> None:
    google = client()
    answer = google.put(url(B_NUMBER), json=project_document(B_NUMBER, "demo-project"))
    assert answer.status_code == 409
    message = answer.get_json()["error"]["message"]
    assert message == (
        f"topology: project.id: the document and project {A_NUMBER} both declare project id "
        "'demo-project': each project is loaded once"
    )
    assert google.get(url(B_NUMBER)).status_code == 404


def test_the_default_topology_may_not_take_another_project_number() -> None:
    google = client()
    assert google.put(url(B_NUMBER), json=project_document(B_NUMBER, B_ID)).status_code == 201
    answer = google.put("/wiflab/v1/topology", json=project_document(B_NUMBER, "x-default"))
    assert answer.status_code == 409
    assert "project.number" in answer.get_json()["error"]["message"]
    assert google.get("/wiflab/v1/topology").get_json()["project"]["number"] == A_NUMBER


def test_a_new_project_gets_a_secret_once_and_other_projects_stay(tmp_path: Path) -> None:
    google = client(tmp_path)
    created = google.put(url(B_NUMBER), json=project_document(B_NUMBER, B_ID))
    assert created.status_code == 201
    secret = created.headers["X-Wiflab-Project-Secret"]
    assert len(secret) >= 32
    # The state dir keeps the project for every worker, and only a hash of its secret.
    folder = tmp_path / "google" / "projects" / B_NUMBER
    assert json.loads((folder / "topology.json").read_text())["project"]["number"] == B_NUMBER
    assert secret not in (folder / "secret.sha256").read_text()
    assert (folder / "secret.sha256").stat().st_mode & 0o077 == 0
    # The default project is untouched, and a GET of B needs B's secret.
    assert google.get("/wiflab/v1/topology").get_json()["project"]["number"] == A_NUMBER
    assert google.get(url(B_NUMBER)).status_code == 403
    own = google.get(url(B_NUMBER), headers={"Authorization": f"Bearer {secret}"})
    assert own.get_json()["project"]["id"] == B_ID
    deleted = google.delete(url(B_NUMBER), headers={"Authorization": f"Bearer {secret}"})
    assert deleted.get_json() == {"deleted": B_NUMBER}
    assert not folder.exists()
    assert google.get(url(B_NUMBER)).status_code == 404


def test_beyond_loopback_a_project_is_created_with_the_admin_secret_only() -> None:
    google = client(admin_secret=ADMIN)
    document = project_document(B_NUMBER, B_ID)
    refused = google.put(url(B_NUMBER), json=document, environ_base=REMOTE)
    assert refused.status_code == 401
    created = google.put(
        url(B_NUMBER),
        json=document,
        headers={"Authorization": f"Bearer {ADMIN}"},
        environ_base=REMOTE,
    )
    assert created.status_code == 201
    secret = created.headers["X-Wiflab-Project-Secret"]
    # Its own secret from anywhere; the admin secret too.
    for credential in (secret, ADMIN):
        answer = google.get(
            url(B_NUMBER), headers={"Authorization": f"Bearer {credential}"}, environ_base=REMOTE
        )
        assert answer.status_code == 200
    # The project secret opens that project's journal, not the whole journal.
    bearer = {"Authorization": f"Bearer {secret}"}
    mine = google.get(f"/wiflab/v1/journal?project={B_NUMBER}", headers=bearer, environ_base=REMOTE)
    assert mine.status_code == 200
    everything = google.get("/wiflab/v1/journal", headers=bearer, environ_base=REMOTE)
    assert everything.status_code == 401
    # Nor another project's entries.
    c = google.put(url("555566667777"), json=project_document("555566667777", "team-c-x"))
    assert c.status_code == 201
    other = google.get(
        "/wiflab/v1/journal?project=555566667777", headers=bearer, environ_base=REMOTE
    )
    assert other.status_code == 403
    assert other.get_json()["error"]["message"].startswith(
        "Project 555566667777 belongs to the caller that created it"
    )


def test_two_topology_files_with_one_project_refuse_to_start_naming_both(tmp_path: Path) -> None:
    twin = tmp_path / "twin.yaml"
    twin.write_text(yaml.safe_dump(project_document(A_NUMBER, "another-id")))
    with pytest.raises(TopologyError) as refused:
        Stack(StackOptions(EXAMPLE, tmp_path, more_topology_paths=(twin,)))
    assert str(refused.value) == (
        f"project.number: {twin} and {EXAMPLE} both declare project number {A_NUMBER}: "
        "each project is loaded once"
    )


def test_projects_loaded_at_start_are_served(tmp_path: Path) -> None:
    other = tmp_path / "b.yaml"
    other.write_text(yaml.safe_dump(project_document(B_NUMBER, B_ID)))
    stack = Stack(StackOptions(EXAMPLE, tmp_path, more_topology_paths=(other,), port_base=0))
    with stack:
        google = stack.backend
        assert google is not None
        assert [t.project_number for t in google.projects] == [A_NUMBER, B_NUMBER]
        # A start-up project has no secret: loopback callers manage it, as the default one.
        base = stack.endpoints.iamcredentials.api_endpoint
        assert requests.get(base + url(B_NUMBER), timeout=10).json()["project"]["id"] == B_ID
        assert requests.delete(base + url(B_NUMBER), timeout=10).status_code == 200
        # Deleting a start-up project's run-time document brings back its start-up one.
        assert requests.get(base + url(B_NUMBER), timeout=10).status_code == 200


_GOOGLE = client()
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=st.one_of(
        st.from_regex(r"[0-9]{1,24}", fullmatch=True),
        st.sampled_from([A_NUMBER, B_NUMBER]),
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
            min_size=1,
            max_size=30,
        ),
    ),
    body=st.one_of(_JSON, st.builds(project_document, st.sampled_from([B_NUMBER]), st.just(B_ID))),
    method=st.sampled_from(["PUT", "GET", "DELETE"]),
)
def test_any_number_and_body_get_an_answer_not_a_500(number: str, body: Any, method: str) -> None:
    answer = _GOOGLE.open(url(number), method=method, json=body)
    assert answer.status_code in (200, 201, 400, 403, 404, 405, 409), answer.get_data()
    assert answer.get_json() is not None


@settings(max_examples=60, deadline=None)
@given(project=st.text(max_size=30))
def test_any_journal_project_filter_gets_an_answer_not_a_500(project: str) -> None:
    answer = _GOOGLE.get("/wiflab/v1/journal", query_string={"project": project})
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert "project must be a project number" in answer.get_json()["error"]["message"]


def test_wiflab_up_with_two_files_of_one_project_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wiflab.cli import main

    twin = tmp_path / "twin.yaml"
    twin.write_text(yaml.safe_dump(project_document("987654321098", "demo-project")))
    status = main(
        ["up", "--topology", str(EXAMPLE), "--topology", str(twin), "--state-dir", str(tmp_path)]
    )
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        f"wiflab: project.id: {twin} and {EXAMPLE} both declare project id 'demo-project': "
        "each project is loaded once"
    )
