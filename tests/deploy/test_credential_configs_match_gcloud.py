"""The external-account configs setup writes equal, key for key and in order, the ones
``gcloud iam workload-identity-pools create-cred-config`` writes for the same provider, token
file and service account (gcloud runs offline for that command)."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.gcp_config import write_gcp_config
from deploy.target import Target
from mock_gcp.topology import load_topology
from tests.deploy.cases import ROOT
from tests.deploy.real_gcloud import gcloud_or_skip, run_gcloud

URLS = {
    "idp-on-cloud-run": "https://idp-on-cloud-run-abc123-uc.a.run.app",
    "federated-auth-cloud-run": "https://federated-auth-cloud-run-abc123-uc.a.run.app",
}


def test_every_config_is_the_one_gcloud_writes(tmp_path: Path) -> None:
    gcloud = gcloud_or_skip()
    target = Target("my-lab-project", "us-central1", state_dir=tmp_path / "state")
    endpoints_path = write_gcp_config(load_topology(ROOT / "wif.yaml"), target, "987654321", URLS)
    written = json.loads(endpoints_path.read_text())["credentials"]
    # Both kinds: direct federation and impersonation of a service account.
    assert "oidc-pool-run.oidc-provider-1.file" in written
    assert "oidc-pool-run.oidc-provider-1.file.oidc-federated" in written
    # AWS callers' configs: gcloud's --aws files (tests/sts_aws compares them with gcloud).
    assert "aws-pool-1.aws-provider-1.aws-imds.aws-federated" in written
    for name, path in written.items():
        ours = json.loads(Path(path).read_text())
        if ours["subject_token_type"] == "urn:ietf:params:aws:token-type:aws4_request":
            assert ours["credential_source"]["environment_id"] == "aws1"
            continue
        impersonated = ours.get("service_account_impersonation_url")
        account = impersonated.split("serviceAccounts/")[1].split(":")[0] if impersonated else None
        output = tmp_path / f"{name}.gcloud.json"
        result = run_gcloud(
            [
                gcloud,
                "iam",
                "workload-identity-pools",
                "create-cred-config",
                ours["audience"].removeprefix("//iam.googleapis.com/"),
                f"--credential-source-file={ours['credential_source']['file']}",
                "--credential-source-type=text",
                f"--output-file={output}",
                *([f"--service-account={account}"] if account else []),
            ],
            tmp_path / "gcloud-config",
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        theirs = json.loads(output.read_text())
        assert list(ours.items()) == list(theirs.items()), name


def test_the_configs_hold_no_secret_and_name_google_endpoints(tmp_path: Path) -> None:
    target = Target("my-lab-project", "us-central1", state_dir=tmp_path / "state")
    endpoints_path = write_gcp_config(load_topology(ROOT / "wif.yaml"), target, "987654321", URLS)
    for path in json.loads(endpoints_path.read_text())["credentials"].values():
        config = json.loads(Path(path).read_text())
        assert config["token_url"] == "https://sts.googleapis.com/v1/token"
        assert "headers" not in config["credential_source"]
        if "environment_id" in config["credential_source"]:  # AWS: its metadata service
            assert config["credential_source"]["url"].startswith("http://169.254.169.254/")
            continue
        assert "url" not in config["credential_source"]
