"""AWS callers' ready-made configs are, byte for byte, what ``gcloud iam
workload-identity-pools create-cred-config --aws [--enable-imdsv2]`` writes (gcloud offline: a
private config dir, no account)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_gcp.topology import load_topology
from tests.deploy.real_gcloud import gcloud_or_skip, run_gcloud
from wiflab_lab import credential_set

ROOT = Path(__file__).resolve().parents[2]
STEM = "aws-pool-1.aws-provider-1"


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    topology = load_topology(ROOT / "wif.yaml")
    directory = tmp_path_factory.mktemp("aws-configs")
    plans = credential_set.aws_plan(topology)
    return credential_set.write(plans, directory, lambda _: credential_set.aws_sources())


def test_env_and_imds_configs_federated_and_impersonated(configs: dict[str, str]) -> None:
    assert sorted(configs) == [
        f"{STEM}.aws-env",
        f"{STEM}.aws-env.aws-federated",
        f"{STEM}.aws-imds",
        f"{STEM}.aws-imds.aws-federated",
    ]


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        (f"{STEM}.aws-env", ["--aws"]),
        (
            f"{STEM}.aws-imds.aws-federated",
            [
                "--aws",
                "--enable-imdsv2",
                "--service-account=aws-federated@demo-project.iam.gserviceaccount.com",
            ],
        ),
        (f"{STEM}.aws-imds", ["--aws", "--enable-imdsv2"]),
        (
            f"{STEM}.aws-env.aws-federated",
            ["--aws", "--service-account=aws-federated@demo-project.iam.gserviceaccount.com"],
        ),
    ],
)
def test_each_is_the_file_gcloud_writes(
    configs: dict[str, str], tmp_path: Path, name: str, flags: list[str]
) -> None:
    gcloud = gcloud_or_skip()
    ours = Path(configs[name]).read_bytes()
    audience = json.loads(ours)["audience"]
    output = tmp_path / "gcloud.json"
    result = run_gcloud(
        [
            gcloud, "iam", "workload-identity-pools", "create-cred-config",
            audience.removeprefix("//iam.googleapis.com/"), *flags, f"--output-file={output}",
        ],
        tmp_path / "gcloud-config",
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ours == output.read_bytes(), name
