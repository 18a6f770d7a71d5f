"""Loading topology files, the example wif.yaml, lookups and the round trip to the REST shape."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from mock_gcp.topology import (
    Topology,
    TopologyError,
    derive_unique_id,
    load_topology,
    parse_topology,
    topology_to_dict,
)
from tests.mock_gcp_rules.conftest import NUMBER, WIF_YAML, minimal_doc

OIDC_FEDERATED = "oidc-federated@demo-project.iam.gserviceaccount.com"


def test_wif_yaml_describes_the_seed_setups(wif: Topology):
    assert (wif.project_id, wif.project_number) == ("demo-project", NUMBER)
    provider = wif.provider("oidc-pool-run", "oidc-provider-1")
    assert dict(provider.attribute_mapping.source) == {
        "google.subject": "assertion.sub",
        "google.groups": "assertion.mygroups",
        "attribute.isadmin": "assertion.isadmin",
        "attribute.aud": "assertion.aud",
    }
    assert provider.attribute_condition.source == "attribute.isadmin == 'true'"
    assert provider.oidc.issuer_uri is None
    assert wif.service("federated-auth-cloud-run").app == "protected_app"
    assert {"alice", "bob"} <= set(wif.idp.profiles)
    assert wif.local.metadata_service_account in {sa.email for sa in wif.service_accounts}


def test_wif_yaml_round_trips_through_the_rest_shape(wif: Topology, tmp_path):
    doc = topology_to_dict(wif)
    assert parse_topology(doc) == wif
    # The dict is plain data: JSON for the HTTP API, YAML for deploy/.
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(json.loads(json.dumps(doc))))
    assert load_topology(again) == wif


def test_minimal_document_round_trips():
    topology = parse_topology(minimal_doc())
    assert parse_topology(topology_to_dict(topology)) == topology


def test_names_follow_googles_resource_names(wif: Topology):
    pool = f"projects/{NUMBER}/locations/global/workloadIdentityPools/oidc-pool-run"
    assert wif.pool_name("oidc-pool-run") == pool
    assert (
        wif.provider_name("oidc-pool-run", "oidc-provider-1") == f"{pool}/providers/oidc-provider-1"
    )
    assert (
        wif.provider_audience("oidc-pool-run", "oidc-provider-1")
        == f"//iam.googleapis.com/{pool}/providers/oidc-provider-1"
    )


def test_lookups_find_what_exists_and_nothing_else(wif: Topology):
    account = wif.service_account(OIDC_FEDERATED)
    assert wif.service_account(OIDC_FEDERATED.upper()) is account
    assert wif.service_account(account.unique_id) is account
    assert wif.service_account("nobody@demo-project.iam.gserviceaccount.com") is None
    assert wif.pool("no-such-pool") is None
    assert wif.provider("oidc-pool-run", "no-such-provider") is None
    assert wif.provider("no-such-pool", "oidc-provider-1") is None
    assert wif.service("no-such-service") is None


def test_unique_ids_are_derived_the_same_way_on_every_run(wif: Topology):
    account = wif.service_account(OIDC_FEDERATED)
    assert account.unique_id == "149051888280037488346" == derive_unique_id(OIDC_FEDERATED)
    ids = {sa.unique_id for sa in wif.service_accounts}
    assert len(ids) == len(wif.service_accounts)
    assert all(len(i) == 21 and i.isdigit() for i in ids)


def test_a_topology_cannot_be_changed_in_place(wif: Topology):
    with pytest.raises(dataclasses.FrozenInstanceError):
        wif.pools = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        wif.idp.profiles["alice"]["sub"] = "mallory"  # type: ignore[index]
    claims = wif.idp.claims("alice")
    claims["mygroups"].append("admins")
    assert wif.idp.claims("alice")["mygroups"] == ["group1", "group2"]
    assert wif.idp.claims("nobody") is None
    assert json.loads(json.dumps(wif.idp.plain()))["alice"] == wif.idp.claims("alice")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("project: {id: demo-project\n")
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert caught.value.path == str(path)
    assert caught.value.message.startswith("not valid YAML:")


def test_a_missing_file_names_the_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert caught.value.path == str(path)
    assert caught.value.message.startswith("cannot read:")


def test_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(WIF_YAML.read_text() + "\npools: []\n")
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert caught.value.path == str(path)
    assert "duplicate key 'pools'" in caught.value.message


def test_validation_errors_from_a_file_name_the_path_inside_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        WIF_YAML.read_text().replace("google.subject: assertion.sub\n", "google.subject: 1 +\n", 1)
    )
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert caught.value.path == "pools[0].providers[0].attributeMapping['google.subject']"


def test_a_document_that_refers_to_itself_is_refused():
    doc = minimal_doc()
    loop: list[object] = []
    loop.append(loop)
    doc["idp"]["profiles"]["alice"]["loop"] = loop
    with pytest.raises(TopologyError) as caught:
        parse_topology(doc)
    assert caught.value.path == "topology"
