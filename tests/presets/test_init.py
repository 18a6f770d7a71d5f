"""`wiflab init --preset`: Google's template as a topology provider, which works through STS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
import jwt
import pytest
import yaml

from mock_gcp.topology import load_topology
from wiflab.cli import main
from wiflab_lab.testing import (
    ExternalAccounts,
    TopologyOverride,
    WifStack,
    example_topology,
    local_stack,
)

# Google's text for a token the attribute condition refuses (reference: failure mode 2).
REJECTED = "The given credential is rejected by the attribute condition."
DEPLOYMENT_PIPELINES = (
    "https://docs.cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines"
)


def run_init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["init", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_github_template_with_the_owner_id(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_init(capsys, "--preset", "github", "--owner-id", "1342004", "--print")
    assert status == 0
    assert f"# Source: {DEPLOYMENT_PIPELINES}" in out
    doc = yaml.safe_load(out)
    provider = doc["pools"][0]["providers"][0]
    assert provider["attributeCondition"] == "assertion.repository_owner_id == '1342004'"
    assert provider["attributeMapping"]["google.subject"] == "assertion.sub"
    assert provider["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    member = doc["serviceAccounts"][0]["policy"]["bindings"][0]["members"][0]
    assert member.endswith("/workloadIdentityPools/github-pool/attribute.repository/acme/app")


def test_a_missing_placeholder_names_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_init(capsys, "--preset", "gitlab", "--print")
    assert status == 2
    assert "--namespace-id: Google's condition for GitLab CI" in err
    status, _, err = run_init(capsys, "--preset", "terraform", "--print")
    assert "--organization-id:" in err
    status, _, err = run_init(capsys, "--preset", "circleci", "--print")
    assert status == 2 and "Google gives no recommended mapping" in err


def test_written_file_loads_and_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "wif-gitlab.yaml"
    args = ["--preset", "gitlab", "--namespace-id", "72", "--output", str(target)]
    assert run_init(capsys, *args)[0] == 0
    topology = load_topology(target)
    provider = topology.pools[0].providers[0]
    assert provider.attribute_condition is not None
    assert provider.attribute_condition.source == "assertion.namespace_id == '72'"
    assert provider.oidc.issuer_uri == "https://gitlab.com"
    status, _, err = run_init(capsys, *args)
    assert status == 2 and "exists" in err


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WifStack]:
    with local_stack(example_topology(), tmp_path_factory.mktemp("init-stack")) as running:
        yield running


def test_a_preset_token_passes_the_template_through_google_auth(
    stack: WifStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The provider `wiflab init` writes (with GitHub's real issuer, which the lab IdP's
    /presets/github stands in for locally) admits the owner's token and refuses another
    owner's with Google's text, through google-auth's STS exchange."""
    idp = stack.endpoints.idp
    assert idp is not None
    issuer = idp.issuer + "/presets/github"
    target = tmp_path / "wif-github.yaml"
    status, _, _ = run_init(
        capsys,
        "--preset",
        "github",
        "--owner-id",
        "1342004",
        "--output",
        str(target),
    )
    assert status == 0
    override = TopologyOverride(stack.backend) if stack.backend else None
    assert override is not None
    accounts = ExternalAccounts(stack, tmp_path)
    audience = stack.audience("github-pool/github")
    request = google.auth.transport.requests.Request()
    try:
        override.apply(target)
        owner = stack.idp.mint_preset(
            "github", params={"repository": "acme/app", "owner_id": "1342004"}, audience=audience
        )
        assert jwt.decode(owner, options={"verify_signature": False})["iss"] == issuer
        creds = accounts.credentials("github-pool/github", subject_token=owner)
        creds.refresh(request)
        assert creds.token
        other = stack.idp.mint_preset(
            "github",
            params={"repository": "acme-evil/app", "owner_id": "99999999"},
            audience=audience,
        )
        refused = accounts.credentials("github-pool/github", subject_token=other)
        with pytest.raises(google.auth.exceptions.OAuthError) as raised:
            refused.refresh(request)
        assert REJECTED in str(raised.value)
    finally:
        override.restore()
