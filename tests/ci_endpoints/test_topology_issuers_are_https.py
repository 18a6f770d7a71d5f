"""A topology names the real CI issuers (https, as Google requires); locally the lab IdP's
preset paths stand in for them (mock_gcp.backend.LocalDeviations.preset_issuers), so no http
issuer, not even a loopback one, is ever written into a topology."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from mock_gcp.topology import TopologyError, parse_topology

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "wif.yaml").read_text())


def with_issuer(issuer: str) -> dict:
    document = copy.deepcopy(EXAMPLE)
    document["pools"][0]["providers"][0]["oidc"]["issuerUri"] = issuer
    return document


@pytest.mark.parametrize(
    "issuer",
    [
        "https://token.actions.githubusercontent.com",
        "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "https://gitlab.com",
    ],
)
def test_a_real_https_issuer_is_accepted(issuer):
    topology = parse_topology(with_issuer(issuer))
    assert topology.pools[0].providers[0].oidc.issuer_uri == issuer


@pytest.mark.parametrize(
    "issuer",
    [
        "http://idp.example.com",
        "http://127.0.0.1:41234/presets/github",
        "http://localhost:8080/presets/azure",
        "http://[::1]:9000/presets/kubernetes",
        "http://127.0.0.1.evil.example/presets/github",
        "http://localhost.evil.example",
        "http://10.0.0.1/presets/github",
        "ftp://127.0.0.1/x",
    ],
)
def test_any_http_issuer_is_refused_with_the_field(issuer):
    with pytest.raises(TopologyError) as refused:
        parse_topology(with_issuer(issuer))
    assert "pools[0].providers[0].oidc.issuerUri: must be an https:// URL" in str(refused.value)
