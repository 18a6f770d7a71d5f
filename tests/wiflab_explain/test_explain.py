"""``wiflab explain``: what a person reads for tokens the lab IdP and the stand-in mint at run
time, against the example topology; Google's words compared with the reference's texts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mock_gcp.iam import Caller
from tests.wiflab_explain.conftest import explain
from wiflab_lab.testing import WifStack, example_topology

# Google's texts (reference/gcp-wif-behaviour.md).
CONDITION_REJECTED = (
    "400 unauthorized_client: The given credential is rejected by the attribute condition."
)
FORBIDDEN = (
    "403 Forbidden: Your client does not have permission to get URL <code>/</code> from this "
    "server."
)
SA = "oidc-federated@demo-project.iam.gserviceaccount.com"
TARGET_SA = "target-serviceaccount@demo-project.iam.gserviceaccount.com"
SERVICE = "federated-auth-cloud-run"


def test_a_passing_token_names_the_binding_and_the_service(
    stack: WifStack, endpoints_file: Path
) -> None:
    token = stack.mint("alice")
    ran = explain("--endpoints", str(endpoints_file), token)
    assert ran.status == 0, ran.err
    assert token not in ran.out  # shortened wherever shown
    lines = ran.lines
    assert "── STS exchange at oidc-pool-run/oidc-provider-1 · allowed" in lines
    # The key and the signature were checked against the lab IdP's published keys.
    assert "✓ signature: valid" in lines
    assert any(line.startswith("✓ key: kid ") for line in lines)
    assert "✓ attribute condition: attribute.isadmin == 'true' → true" in lines
    path = lines.index(f"2. ✓ invoke {SERVICE} as {SA} (its ID token)")
    assert (
        lines[path + 1]
        == "✓ IAM binding: allowed by roles/iam.workloadIdentityUser (impersonation)"
    )
    assert "✓ invoker: allowed by roles/run.invoker" in lines[path:]
    # Direct federation: alice's own principal holds Token Creator on the target account.
    direct = lines.index(f"3. ✓ act as {TARGET_SA} (generateAccessToken)")
    assert "direct federation" in lines[direct + 1]
    # ... whose ID tokens Cloud Run refuses: no run.invoker for it.
    refused = lines.index(f"4. ✗ invoke {SERVICE} as {TARGET_SA} (its ID token)")
    assert FORBIDDEN in lines[refused:]
    # The AWS provider is no path for a JWT: a note says what it takes.
    assert (
        "note: aws-pool-1/aws-provider-1 is an AWS provider (account 111122223333): it takes a "
        "signed GetCallerIdentity, not a JWT"
    ) in lines
    assert "3 of 16 paths succeed (exit 0)" in lines


def test_a_false_condition_shows_the_clause_and_its_inputs(
    stack: WifStack, endpoints_file: Path
) -> None:
    ran = explain("--endpoints", str(endpoints_file), stack.mint("bob"))
    assert ran.status == 1
    lines = ran.lines
    assert "── STS exchange at oidc-pool-run/oidc-provider-1 · refused" in lines
    assert "✗ attribute condition: attribute.isadmin == 'true' → false" in lines
    assert 'with attribute.isadmin = "false"' in lines
    assert 'attribute.isadmin = assertion.isadmin → "false"' in lines
    assert f"✗ STS answers: {CONDITION_REJECTED}" in lines
    assert "no path succeeds (5 considered; exit 1)" in lines


def test_each_top_level_clause_is_shown_with_its_value(stack: WifStack, tmp_path: Path) -> None:
    condition = "attribute.isadmin == 'true' && 'admins' in google.groups"
    text = (
        example_topology()
        .read_text()
        .replace(
            "attributeCondition: \"attribute.isadmin == 'true'\"",
            f'attributeCondition: "{condition}"',
        )
    )
    topology = tmp_path / "wif.yaml"
    topology.write_text(text)
    ran = explain("--topology", str(topology), stack.mint("alice"))
    assert ran.status == 1
    lines = ran.lines
    assert f"✗ attribute condition: {condition} → false" in lines
    assert "✓ clause attribute.isadmin == 'true' → true" in lines
    assert "✗ clause 'admins' in google.groups → false" in lines
    assert 'with google.groups = ["group1", "group2"]' in lines


def test_a_wrong_audience_is_refused_with_googles_words(
    stack: WifStack, endpoints_file: Path
) -> None:
    ran = explain("--endpoints", str(endpoints_file), stack.mint("alice", aud="https://wrong"))
    assert ran.status == 1
    assert (
        ran.out.count(
            "✗ STS answers: 400 invalid_grant: The audience in ID Token [https://wrong] does not "
            "match the expected audience."
        )
        == 2
    )  # both providers
    assert any(line.startswith("✗ audience: https://wrong is not [") for line in ran.lines)


def test_an_expired_token_is_refused_at_the_moment_given(
    stack: WifStack, endpoints_file: Path
) -> None:
    token = stack.mint("alice")
    iat = json.loads(explain("--json", "--endpoints", str(endpoints_file), token).out)[0][
        "decisions"
    ][0]["checks"]
    issued = next(c["actual"] for c in iat if c["name"] == "token.iat")
    later = str(issued + 2 * 3600)  # an hour past exp, the IdP's tokens living one hour
    ran = explain("--endpoints", str(endpoints_file), "--at", later, token)
    assert ran.status == 1
    stale = f"✗ STS answers: 400 invalid_grant: ID Token issued at {issued} is stale to sign-in."
    assert stale in ran.lines
    assert any(line.startswith("✗ exp: ") and ", must be after " in line for line in ran.lines)
    # The same token, judged now: accepted.
    assert explain("--endpoints", str(endpoints_file), token).status == 0


def test_without_a_stack_the_key_is_not_checked_and_says_so(stack: WifStack) -> None:
    forged_elsewhere = stack.mint("alice")
    ran = explain(forged_elsewhere)  # the example topology, nothing running known
    assert ran.status == 0
    assert "✓ signature: not checked: no running stack: pass --endpoints to check it" in ran.lines
    assert any(
        line.startswith("✓ issuer: ") and "not checked: the lab IdP's URL is known only" in line
        for line in ran.lines
    )


def test_a_google_id_token_says_who_and_where_it_is_admitted(
    stack: WifStack, endpoints_file: Path
) -> None:
    backend = stack.backend
    assert backend is not None
    url = stack.service_url(SERVICE)
    for account, status, verdict in [(SA, 0, "✓"), (TARGET_SA, 1, "✗")]:
        found = backend.topology.service_account(account)
        assert found is not None
        token = backend.issuer.id_token(found, url, include_email=True)
        ran = explain("--endpoints", str(endpoints_file), token)
        assert ran.status == status, ran.out
        assert f"who       serviceAccount:{account}" in ran.out
        assert f"{verdict} invoke {SERVICE} with this ID token" in " ".join(ran.lines)
        assert ("✓ signature: valid" in ran.lines) is True
    # An ID token for another audience: Cloud Run's 401.
    found = backend.topology.service_account(SA)
    assert found is not None
    elsewhere = backend.issuer.id_token(found, "https://elsewhere.example", include_email=True)
    ran = explain("--endpoints", str(endpoints_file), elsewhere)
    assert ran.status == 1
    unauthorized = (
        "401 Unauthorized: Your client does not have permission to the requested URL "
        "<code>/</code>."
    )
    assert unauthorized in ran.lines


def test_an_access_token_is_known_by_tokeninfo_only(stack: WifStack, endpoints_file: Path) -> None:
    backend = stack.backend
    assert backend is not None
    scopes = ("https://www.googleapis.com/auth/cloud-platform",)
    issued = backend.tokens.issue("access", Caller("serviceAccount", SA), 3600, scopes=scopes)
    ran = explain("--endpoints", str(endpoints_file), issued.token)
    assert ran.status == 0, ran.out
    assert f"scopes    {scopes[0]}" in ran.out
    assert f"✓ tokeninfo: a live token of {SA}" in ran.lines
    assert issued.token not in ran.out  # shown shortened only
    unknown = explain("--endpoints", str(endpoints_file), "ya29.c.never-issued")
    assert unknown.status == 1
    assert "✗ tokeninfo: the local Google side does not know this token" in unknown.lines
    offline = explain(issued.token)
    assert offline.status == 1
    assert "pass --endpoints to ask the local Google side's tokeninfo who it is" in offline.out


def test_an_external_account_config_is_read_through_its_token_file(
    stack: WifStack, endpoints_file: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps({"id_token": stack.mint("carol")}))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": stack.audience("oidc-pool-run/oidc-provider-1"),
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {
                    "file": str(token_file),
                    "format": {"type": "json", "subject_token_field_name": "id_token"},
                },
            }
        )
    )
    ran = explain("--endpoints", str(endpoints_file), str(config))
    assert ran.status == 0
    assert f"from      file {config}'s credential_source.file {token_file}" in ran.out
    header = "── STS exchange at oidc-pool-run/oidc-provider-1 (the config's audience) · allowed"
    assert header in ran.lines
    # carol is in group1: the group binding, not her name.
    assert "via principalSet://…/oidc-pool-run/group/group1" in ran.lines


def test_json_is_each_paths_decisions_with_tokens_shortened(
    stack: WifStack, endpoints_file: Path
) -> None:
    token = stack.mint("alice")
    ran = explain("--json", "--endpoints", str(endpoints_file), token)
    assert ran.status == 0
    paths = json.loads(ran.out)
    assert token not in ran.out
    invoke = next(p for p in paths if p["path"] == f"invoke {SERVICE} as {SA} (its ID token)")
    assert invoke["outcome"] == "allowed"
    services = [d["service"] for d in invoke["decisions"]]
    assert services == ["sts", "iamcredentials", "run"]
    assert invoke["decisions"][1]["action"] == "generateIdToken"
    grant = next(c for c in invoke["decisions"][2]["checks"] if c["name"] == "permission")
    assert grant["actual"]["role"] == "roles/run.invoker"


def test_the_verdict_follows_the_clock(stack: WifStack) -> None:
    # --at takes RFC 3339 as well as epoch seconds.
    token = stack.mint("alice")
    tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 2))
    assert explain("--at", tomorrow, token).status == 1
    assert explain("--at", "yesterday-ish", token).status == 2


def test_a_disabled_account_is_refused_after_its_binding(stack: WifStack, tmp_path: Path) -> None:
    text = example_topology().read_text()
    text = text.replace(f"  - email: {SA}\n", f"  - email: {SA}\n    disabled: true\n", 1)
    topology = tmp_path / "wif.yaml"
    topology.write_text(text)
    ran = explain("--topology", str(topology), stack.mint("alice"))
    lines = ran.lines
    path = lines.index(f"1. ✗ act as {SA} (generateAccessToken)")
    assert lines[path + 1] == "✗ account: the service account is disabled"
    # The binding matched; the account cannot be used (the README's unverified row).
    assert lines[path + 2] == "400 FAILED_PRECONDITION: Precondition check failed."
    # Direct federation on the other account still works.
    assert ran.status == 0


def test_a_google_id_token_without_a_stack_checks_what_the_topology_says(
    stack: WifStack,
) -> None:
    backend = stack.backend
    assert backend is not None
    found = backend.topology.service_account(SA)
    assert found is not None
    token = backend.issuer.id_token(found, "https://anything.example", include_email=True)
    ran = explain(token)
    assert ran.status == 0
    assert f"who       serviceAccount:{SA}" in ran.out
    assert (
        "✓ audience: https://anything.example: not checked: the service URL is known only "
        "with --endpoints"
    ) in ran.lines
    assert "✓ invoker: allowed by roles/run.invoker" in ran.lines


def uploaded_jwks_topology(tmp_path: Path, jwks: str) -> Path:
    """The example topology plus a provider for an outside issuer whose keys it holds."""
    pool = f"""  - id: uploaded-pool
    providers:
      - id: uploaded
        attributeMapping: {{google.subject: assertion.sub}}
        oidc: {{issuerUri: "{ISSUER}", jwksJson: '{jwks}'}}
"""
    text = example_topology().read_text().replace("pools:\n", "pools:\n" + pool, 1)
    path = tmp_path / "wif.yaml"
    path.write_text(text)
    return path


ISSUER = "https://issuer.example"


def test_a_providers_uploaded_jwks_checks_the_key_without_a_stack(tmp_path: Path) -> None:
    from idp_server.minting import ClaimRules, complete_claims
    from wiflab_core import keys

    signer = keys.generate("RS256")
    jwks = json.dumps(keys.render_jwks([signer.public_jwk]))
    topology = uploaded_jwks_topology(tmp_path, jwks)
    audience = (
        "//iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/uploaded-pool/providers/uploaded"
    )
    rules = ClaimRules(token_ttl=3600, max_lifetime=86400, allow_foreign_issuer=False)
    claims = complete_claims(
        {"sub": "ci-job", "aud": audience}, issuer=ISSUER, now=int(time.time()), rules=rules
    )
    ran = explain("--topology", str(topology), signer.sign(claims))
    assert ran.status == 1  # STS accepts it, but no binding names ci-job: nothing to act as
    assert "── STS exchange at uploaded-pool/uploaded · allowed" in ran.lines
    assert f"✓ key: kid {signer.kid} is one of the issuer's keys" in ran.lines
    forged = keys.generate("RS256").sign(claims, headers={"kid": signer.kid})
    ran = explain("--topology", str(topology), forged)
    assert ran.status == 1
    assert "✗ STS answers: 400 invalid_grant: Unable to verify the ID Token signature." in ran.lines


def test_a_federated_token_is_no_id_token_for_cloud_run(stack: WifStack, tmp_path: Path) -> None:
    pool = "principalSet://iam.googleapis.com/projects/123456789012/locations/global/"
    member = f"{pool}workloadIdentityPools/oidc-pool-run/group/group2"
    text = (
        example_topology()
        .read_text()
        .replace(
            "            - serviceAccount:workload-runner@demo-project.iam.gserviceaccount.com\n",
            "            - serviceAccount:workload-runner@demo-project.iam.gserviceaccount.com\n"
            f"            - {member}\n",
            1,
        )
    )
    topology = tmp_path / "wif.yaml"
    topology.write_text(text)
    ran = explain("--topology", str(topology), stack.mint("dave"))  # group2, bound to nothing else
    assert ran.status == 1
    lines = ran.lines
    path = next(
        i
        for i, line in enumerate(lines)
        if line.endswith(f"✗ invoke {SERVICE} with the federated token")
    )
    assert lines[path + 1].startswith("✗ invoker: a binding names the federated principal, but")
    unauthorized = (
        "401 Unauthorized: Your client does not have permission to the requested URL "
        "<code>/</code>."
    )
    assert lines[path + 2] == unauthorized


def test_a_condition_over_a_missing_claim_did_not_evaluate(
    stack: WifStack, endpoints_file: Path
) -> None:
    # alice's claims have no org_id: tenant-provider's condition reads it.
    token = stack.mint("alice", provider="tenant-pool/tenant-provider")
    ran = explain("--endpoints", str(endpoints_file), token)
    assert ran.status == 1, ran.out
    section = ran.lines.index("── STS exchange at tenant-pool/tenant-provider · refused")
    shown = ran.lines[section:]
    assert "✗ attribute condition: assertion.org_id == 'org-acme' → false" in shown
    assert "with assertion.org_id = (not set)" in shown
    assert f"✗ STS answers: {CONDITION_REJECTED}" in shown
