"""The metadata server as clients probe it: listings, recursive JSON, values, 301s and 404s.

Expected answers are Google's, written out literally: listings one entry a line with
directories slashed (Compute Engine's "Querying VM metadata" guide), recursive JSON with the
camelCase keys Java's ComputeEngineCredentials and google-auth read, Google's 404 page.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_gcp.app import create_app

from .conftest import CLOUD_PLATFORM, PROJECT_NUMBER, VM_SA

FLAVOR = {"Metadata-Flavor": "Google"}
V1 = "/computeMetadata/v1"


def get(google, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{google.url}{V1}/{path}",
        params=params,
        headers=FLAVOR,
        allow_redirects=False,
        timeout=10,
    )


def test_root_and_instance_listings(google):
    assert get(google, "").text == "instance/\nproject/\nuniverse/\n"
    instance = get(google, "instance/")
    assert instance.status_code == 200
    assert instance.headers["Metadata-Flavor"] == "Google"
    assert instance.headers["Content-Type"] == "application/text"
    assert instance.text == ("attributes/\nhostname\nid\nname\nservice-accounts/\nzone\n")
    assert get(google, "project/").text == "attributes/\nnumeric-project-id\nproject-id\n"
    assert get(google, "universe/").text == "universe-domain\n"
    assert get(google, "instance/service-accounts/").text == f"default/\n{VM_SA}/\n"
    for account in ("default", VM_SA):
        assert get(google, f"instance/service-accounts/{account}/").text == (
            "aliases\nemail\nidentity\nscopes\ntoken\n"
        )


def test_a_directory_without_its_slash_moves_permanently_keeping_the_query(google):
    """gcp-metadata #361: .../v1/instance -> 301 .../v1/instance/ (what isAvailable() meets)."""
    moved = get(google, "instance", recursive="true")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{google.url}{V1}/instance/?recursive=true"
    assert moved.headers["Metadata-Flavor"] == "Google"
    root = requests.get(f"{google.url}{V1}", headers=FLAVOR, allow_redirects=False, timeout=10)
    assert (root.status_code, root.headers["Location"]) == (301, f"{google.url}{V1}/")
    followed = requests.get(f"{google.url}{V1}/instance", headers=FLAVOR, timeout=10)
    assert followed.text.startswith("attributes/\nhostname\n")


def test_values_agree_with_format_full_id_tokens(google):
    values = {
        name: get(google, name).text
        for name in (
            "instance/zone",
            "instance/id",
            "instance/name",
            "instance/hostname",
            "project/project-id",
            "project/numeric-project-id",
            "universe/universe-domain",
            "instance/service-accounts/default/email",
            "instance/service-accounts/default/aliases",
            "instance/service-accounts/default/scopes",
        )
    }
    token = get(google, "instance/service-accounts/default/identity", audience="a", format="full")
    engine = google.backend.issuer.verify(token.text, audience="a")["google"]["compute_engine"]
    assert values == {
        "instance/zone": f"projects/{PROJECT_NUMBER}/zones/{engine['zone']}",
        "instance/id": engine["instance_id"],
        "instance/name": engine["instance_name"],
        "instance/hostname": f"{engine['instance_name']}.{engine['zone']}.c.demo-project.internal",
        "project/project-id": "demo-project",
        "project/numeric-project-id": PROJECT_NUMBER,
        "universe/universe-domain": "googleapis.com",
        "instance/service-accounts/default/email": VM_SA,
        "instance/service-accounts/default/aliases": "default\n",
        "instance/service-accounts/default/scopes": f"{CLOUD_PLATFORM}\n",
    }
    assert engine["project_id"] == "demo-project"
    assert engine["project_number"] == int(PROJECT_NUMBER)


def test_recursive_directories_answer_json_with_googles_keys(google):
    accounts = get(google, "instance/service-accounts/", recursive="true")
    assert accounts.headers["Content-Type"] == "application/json"
    entry = {"aliases": ["default"], "email": VM_SA, "scopes": [CLOUD_PLATFORM]}
    assert accounts.json() == {"default": entry, VM_SA: entry}
    project = get(google, "project/", recursive="true")
    assert project.json() == {
        "attributes": {},
        "numericProjectId": 123456789012,
        "projectId": "demo-project",
    }
    instance = json.loads(get(google, "instance/", recursive="True").text)
    assert set(instance) == {"attributes", "hostname", "id", "name", "serviceAccounts", "zone"}
    assert isinstance(instance["id"], int)
    assert instance["zone"] == f"projects/{PROJECT_NUMBER}/zones/us-central1-a"
    whole = get(google, "", recursive="true").json()
    assert whole["universe"] == {"universeDomain": "googleapis.com"}
    assert whole["project"]["projectId"] == "demo-project"


def test_alt_json_and_alt_text(google):
    assert get(google, "project/numeric-project-id", alt="json").text == PROJECT_NUMBER
    assert get(google, "instance/zone", alt="json").json() == (
        f"projects/{PROJECT_NUMBER}/zones/us-central1-a"
    )
    assert get(google, "instance/service-accounts/default/scopes", alt="json").json() == [
        CLOUD_PLATFORM
    ]
    assert get(google, "project/", recursive="true", alt="text").text == (
        f"numeric-project-id {PROJECT_NUMBER}\nproject-id demo-project\n"
    )
    bad = get(google, "instance/id", alt="xml")
    assert (bad.status_code, bad.text) == (400, 'alt: "xml" is not one of "json", "text"')


@pytest.mark.parametrize(
    "path",
    [
        "instance/attributes/pod-cidr",
        "instance/nothing",
        "instance/zone/",
        "instance/service-accounts/default/token/",
        "instance/service-accounts/nobody@demo-project.iam.gserviceaccount.com/",
        "instance/service-accounts/nobody@demo-project.iam.gserviceaccount.com/token",
        "oauth2/v9",
    ],
)
def test_404s_are_the_metadata_servers_page_not_json(google, path):
    """The page as captured (kubernetes-the-hard-way #454, ansible google.cloud #568)."""
    response = get(google, path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.headers["Metadata-Flavor"] == "Google"
    assert "<title>Error 404 (Not Found)!!1</title>" in response.text
    assert (
        f"The requested URL <code>{V1}/{path}</code> was not found on this server."
        "  <ins>That’s all we know.</ins>"  # noqa: RUF001 (Google's apostrophe)
    ) in response.text


def test_the_flavor_rule_still_guards_listings(google):
    response = requests.get(f"{google.url}{V1}/instance/", timeout=10)
    assert response.status_code == 403
    assert response.text == (
        f"Your client does not have permission to get URL <code>{V1}/instance/</code> from this "
        "server. Missing Metadata-Flavor:Google header."
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.text(st.characters(codec="utf-8", exclude_characters="?#\x00"), max_size=40),
    recursive=st.sampled_from([None, "true", "false", "", "TRUE"]),
    alt=st.sampled_from([None, "json", "text", "", "yaml"]),
)
def test_any_path_answers_without_a_server_error(google, path, recursive, alt):
    client = create_app(google.backend).test_client()
    query = {k: v for k, v in (("recursive", recursive), ("alt", alt)) if v is not None}
    response = client.get(f"{V1}/{path}", query_string=query, headers=FLAVOR)
    # 308: werkzeug merges a doubled slash (``v1//x``) by redirecting; never a server error.
    assert response.status_code in (200, 301, 308, 400, 404), response.text
    assert response.headers["Metadata-Flavor"] == "Google"
    if response.status_code == 404:
        assert "was not found on this server." in response.get_data(as_text=True)


def test_a_404_for_an_account_the_vm_lacks_says_why_in_a_comment(google):
    nobody = "nobody@demo-project.iam.gserviceaccount.com"
    response = get(google, f"instance/service-accounts/{nobody}/token")
    assert response.status_code == 404
    assert response.text.endswith(
        f"<!-- wiflab: service account {nobody} not found on this instance -->\n"
    )
