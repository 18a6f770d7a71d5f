"""Intercept mode: GitHub's and GitLab's real issuer hosts answer from the lab IdP's presets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from wiflab_lab.intercept.ca import permits
from wiflab_lab.intercept.routes import Routes, Upstream
from wiflab_lab.testing import WifStack, example_topology, intercept_environment, local_stack

GITHUB = "https://token.actions.githubusercontent.com"


def test_routes_send_the_ci_issuers_to_the_idp_only_when_given() -> None:
    routes = Routes.build("http://127.0.0.1:1", {}, None, "http://127.0.0.1:2")
    assert routes.tls_host("token.actions.githubusercontent.com")
    assert routes.upstream("gitlab.com") == Upstream("127.0.0.1", 2)
    assert not Routes.build("http://127.0.0.1:1", {}).tls_host("gitlab.com")
    assert permits("token.actions.githubusercontent.com") and permits("gitlab.com")
    assert not permits("github.com")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WifStack]:
    state: Path = tmp_path_factory.mktemp("intercept-presets")
    with local_stack(example_topology(), state, intercept=True) as running:
        yield running


def test_githubs_issuer_is_served_at_its_own_url(stack: WifStack) -> None:
    with intercept_environment(stack.endpoints):
        discovery = requests.get(f"{GITHUB}/.well-known/openid-configuration", timeout=10).json()
        assert discovery["issuer"] == GITHUB
        keys = requests.get(discovery["jwks_uri"], timeout=10).json()
        token = requests.post(
            f"{GITHUB}/token", json={"aud": "sts", "variant": "environment"}, timeout=10
        ).text
        gitlab = requests.get("https://gitlab.com/.well-known/openid-configuration", timeout=10)
    key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="sts", issuer=GITHUB)
    assert claims["sub"] == "repo:acme/app:environment:production"
    assert gitlab.json()["issuer"] == "https://gitlab.com"
