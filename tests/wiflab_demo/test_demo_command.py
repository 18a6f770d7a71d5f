"""``wiflab demo`` end to end: a subprocess against a real local stack on loopback."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.wiflab_demo.conftest import TOPOLOGY, run_demo
from wiflab_lab.stack import Stack, StackOptions

ACCOUNT = "oidc-federated@demo-project.iam.gserviceaccount.com"
STEP_KEYS = ["mint", "sts", "id_token", "access_token", "dump"]
# A usable token: a whole JWT (three base64url segments) or a whole ya29.* OAuth token.
FULL_JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}")
FULL_OAUTH = re.compile(r"ya29\.[\w.-]{40,}")
SHORTENED = re.compile(r"(eyJ[\w-]{9}|ya29\.[\w.-]{7})…[\w.-]{4} \(\d+ chars\)")


def _assert_no_usable_token(text: str) -> None:
    assert FULL_JWT.search(text) is None, FULL_JWT.search(text)
    assert FULL_OAUTH.search(text) is None, FULL_OAUTH.search(text)


def test_default_demo_passes_each_numbered_step(alice_run: subprocess.CompletedProcess) -> None:
    assert alice_run.returncode == 0, alice_run.stderr
    out = alice_run.stdout
    positions = [out.index(f"── Step {n}/5 · ") for n in range(1, 6)]
    assert positions == sorted(positions)
    for title in ("Mint the fake OIDC token", "STS", "generateIdToken", "generateAccessToken"):
        assert title in out
    assert "→ POST http://127.0.0.1:" in out
    assert "← 200 OK" in out
    assert "\033[" not in out  # not a TTY: no colour


def test_default_demo_decodes_each_jwt(alice_run: subprocess.CompletedProcess) -> None:
    out = alice_run.stdout
    assert out.count("Decoded JWT") == 2  # the IdP's subject token, Google's ID token
    assert re.search(r'sub\s+"alice@domain\.com"', out)
    assert re.search(r'isadmin\s+"true"', out)
    assert re.search(rf'email\s+"{re.escape(ACCOUNT)}"', out)
    assert re.search(r'"alg": "RS256"', out)
    assert re.search(r"exp\s+\d{10}  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 60 min\)", out)


def test_default_demo_shows_the_rules_that_allowed_it(
    alice_run: subprocess.CompletedProcess,
) -> None:
    out = alice_run.stdout
    assert "✓ attribute condition: attribute.isadmin == 'true' → true" in out
    assert "principal://iam.googleapis.com/projects/123456789012/locations/global/" in out
    assert "allowed by roles/iam.workloadIdentityUser" in out
    assert f"on serviceAccount {ACCOUNT}" in out
    assert "via principal://…/oidc-pool-run/subject/alice@domain.com" in out
    assert "allowed by roles/run.invoker" in out
    assert f"via serviceAccount:{ACCOUNT}" in out


def test_default_demo_ends_with_what_dump_saw(alice_run: subprocess.CompletedProcess) -> None:
    out = alice_run.stdout
    saw = out[out.index("── What /dump saw") :]
    assert re.search(rf"caller\s+{re.escape(ACCOUNT)}", saw)
    assert "verified, by Cloud Run front end" in saw
    assert ".SIGNATURE_REMOVED_BY_GOOGLE" in saw
    assert "── What just happened" in saw
    assert "wiflab demo --profile bob" in saw and "wiflab up" in saw


def test_default_demo_prints_no_usable_token(alice_run: subprocess.CompletedProcess) -> None:
    out = alice_run.stdout + alice_run.stderr
    _assert_no_usable_token(out)
    # The tokens are there, shortened: subject token, federated token, ID and access tokens.
    assert len(set(SHORTENED.findall(out))) >= 2
    assert re.search(r"Authorization: Bearer ya29\.d\.\S+…", out)


def test_json_output_has_every_step_and_no_usable_token() -> None:
    result = run_demo("--json")
    assert result.returncode == 0, result.stderr
    _assert_no_usable_token(result.stdout)
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert [step["key"] for step in doc["steps"]] == STEP_KEYS
    for step in doc["steps"]:
        assert step["ok"] is True
        assert step["request"]["url"].startswith("http://127.0.0.1:")
        assert step["response"]["status"] == 200
        assert step["decision"], step["key"]
    mint, sts, id_token = doc["steps"][0], doc["steps"][1], doc["steps"][2]
    assert mint["tokens"][0]["claims"]["sub"] == "alice@domain.com"
    assert "UTC" in mint["tokens"][0]["times"]["exp"]
    assert sts["request"]["body"]["subject_token"].endswith("chars)")
    condition = next(c for c in sts["decision"] if c["rule"] == "attribute condition")
    assert condition["passed"] is True
    grant = id_token["decision"][0]["data"]
    assert grant["role"] == "roles/iam.workloadIdentityUser"
    assert grant["resource"] == f"serviceAccount {ACCOUNT}"
    assert id_token["tokens"][0]["claims"]["email"] == ACCOUNT
    assert doc["dump"]["email"] == ACCOUNT
    assert doc["dump"]["verified"] is True


def test_bob_is_refused_by_sts_with_googles_words_and_a_hint() -> None:
    result = run_demo("--profile", "bob")
    assert result.returncode == 1
    out = result.stdout
    assert "← 400 Bad Request" in out
    assert "unauthorized_client" in out
    assert "The given credential is rejected by the attribute condition." in out
    assert "✗ attribute condition: attribute.isadmin == 'true' → false" in out
    assert 'with attribute.isadmin = "false"' in out
    assert "what to check:" in out and "attributeCondition" in out
    assert "Step 3/5" not in out
    assert "✗ Stopped at step 2/5" in out


def test_dave_is_refused_by_iam_with_the_permission_text() -> None:
    result = run_demo("--profile", "dave", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["failedStep"] == 3
    assert [step["key"] for step in doc["steps"]] == STEP_KEYS[:3]
    refused = doc["steps"][2]
    assert refused["response"]["status"] == 403
    assert refused["error"]["code"] == "PERMISSION_DENIED"
    assert refused["error"]["message"] == (
        "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."
    )
    assert refused["decision"][0]["passed"] is False
    assert any(
        "add-iam-policy-binding" in hint and "dave@domain.com" in hint for hint in refused["hints"]
    )


def test_endpoints_uses_the_running_stack(running_stack: Stack) -> None:
    endpoints = running_stack.endpoints_path
    result = run_demo("--endpoints", str(endpoints), "--topology", str(TOPOLOGY), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["stack"] == f"the running stack of {endpoints}"
    urls = [step["request"]["url"] for step in doc["steps"]]
    stack = running_stack.endpoints
    service_url = stack.services["federated-auth-cloud-run"].url
    assert urls[0] == stack.require_idp().token_url
    assert urls[1] == stack.sts.token_url
    assert urls[2].startswith(stack.iamcredentials.api_endpoint + "/v1/projects/-/")
    assert urls[4] == f"{service_url}/dump"
    assert doc["dump"]["aud"] == service_url


def _endpoints_file(tmp_path: Path, target: str, base: str) -> Path:
    endpoints = {
        "target": target,
        "project": {"id": "demo-project", "number": "123456789012"},
        "topology": str(TOPOLOGY),
        "idp": {
            "issuer": base,
            "token_url": f"{base}/token",
            "profile_url": f"{base}/token/{{profile}}",
        },
        "sts": {"token_url": f"{base}/v1/token"},
        "iamcredentials": {"api_endpoint": base},
        "google_issuer": {
            "issuer": base,
            "certs_v1": f"{base}/oauth2/v1/certs",
            "certs_v3": f"{base}/oauth2/v3/certs",
            "tokeninfo": f"{base}/oauth2/v3/tokeninfo",
        },
        "services": {"federated-auth-cloud-run": {"url": base}},
        "serviceAccounts": [],
        "credentials": {},
        "providers": {
            "oidc-pool-run/oidc-provider-1": {
                "audience": "//iam.googleapis.com/projects/123456789012/locations/global/"
                "workloadIdentityPools/oidc-pool-run/providers/oidc-provider-1"
            }
        },
    }
    path = tmp_path / f"{target}-endpoints.json"
    path.write_text(json.dumps(endpoints))
    return path


def test_unreachable_stack_is_a_clear_failure(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens there
    result = run_demo("--endpoints", str(_endpoints_file(tmp_path, "local", dead)))
    assert result.returncode == 1
    assert f"could not reach {dead}/token" in result.stdout
    assert "wiflab up" in result.stdout
    assert "Traceback" not in result.stderr


def test_bad_flags_and_files_exit_2_naming_the_field(tmp_path: Path) -> None:
    unknown = run_demo("--profile", "zed")
    assert unknown.returncode == 2
    assert "--profile: 'zed' is not a profile (known: alice, bob" in unknown.stderr

    gcp = run_demo("--target", "gcp")
    assert gcp.returncode == 2
    assert "--target gcp needs --endpoints" in gcp.stderr

    incomplete = tmp_path / "endpoints.json"
    incomplete.write_text(json.dumps({"target": "gcp", "idp": {"token_url": "https://x"}}))
    missing = run_demo("--endpoints", str(incomplete))
    assert missing.returncode == 2
    assert "sts: missing" in missing.stderr

    gcp_file = _endpoints_file(tmp_path, "gcp", "https://example.invalid")
    mismatch = run_demo("--endpoints", str(gcp_file), "--target", "local")
    assert mismatch.returncode == 2
    assert "is for gcp" in mismatch.stderr
    for result in (unknown, gcp, missing, mismatch):
        assert "Traceback" not in result.stderr


def test_endpoints_bring_the_stacks_own_topology(tmp_path: Path) -> None:
    """Started from another topology file, the running stack's endpoints.json names it, and
    the demo explains with that file rather than ./wif.yaml."""
    mine = tmp_path / "my-wif.yaml"
    mine.write_text(TOPOLOGY.read_text().replace("alice", "alicia"))
    with Stack(StackOptions(mine, tmp_path / "state", port_base=0)) as stack:
        result = run_demo("--endpoints", str(stack.endpoints_path), "--profile", "alicia", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["topology"] == str(mine)
    assert doc["plan"]["profile"] == "alicia"
