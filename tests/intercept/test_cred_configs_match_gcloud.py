"""Intercept mode's ready-made configs are, byte for byte, the files ``gcloud iam
workload-identity-pools create-cred-config`` writes with Google's default URLs (gcloud runs
offline for that command: a private config dir, no account)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.real_gcloud import gcloud_or_skip, run_gcloud
from wiflab_lab.stack import Stack, StackOptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("intercept-configs")
    with Stack(StackOptions(ROOT / "wif.yaml", state, port_base=0, intercept=True)) as stack:
        yield stack.endpoints.credentials


def source_flags(source: dict) -> list[str]:
    if "file" in source:
        return [f"--credential-source-file={source['file']}", "--credential-source-type=text"]
    flags = [
        f"--credential-source-url={source['url']}",
        "--credential-source-type=json",
        f"--credential-source-field-name={source['format']['subject_token_field_name']}",
    ]
    headers = source.get("headers") or {}
    if headers:
        flags.append(
            "--credential-source-headers=" + ",".join(f"{k}={v}" for k, v in headers.items())
        )
    return flags


def test_every_intercept_config_is_the_file_gcloud_writes(
    configs: dict[str, str], tmp_path: Path
) -> None:
    gcloud = gcloud_or_skip()
    assert {name.split(".")[2] for name in configs} == {"file", "url", "aws-env", "aws-imds"}
    # Each kind once (gcloud takes seconds a run): file and url, direct and impersonating.
    stem = "oidc-pool-run.oidc-provider-1"
    chosen = [
        f"{stem}.file",
        f"{stem}.file.oidc-federated",
        f"{stem}.url",
        f"{stem}.url.oidc-federated",
    ]
    for name in chosen:
        path = configs[name]
        ours = Path(path).read_bytes()
        config = json.loads(ours)
        impersonated = config.get("service_account_impersonation_url")
        account = impersonated.split("serviceAccounts/")[1].split(":")[0] if impersonated else None
        output = tmp_path / f"{name}.gcloud.json"
        result = run_gcloud(
            [
                gcloud, "iam", "workload-identity-pools", "create-cred-config",
                config["audience"].removeprefix("//iam.googleapis.com/"),
                *source_flags(config["credential_source"]),
                f"--output-file={output}",
                *([f"--service-account={account}"] if account else []),
            ],
            tmp_path / "gcloud-config",
            tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert ours == output.read_bytes(), name
