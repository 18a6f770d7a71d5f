"""cloudbuild.yaml parses, documents its substitutions, and every image, file and command it
names exists here: the Dockerfile and its targets, the images it pushes before deploying them,
the setup command (accepted by this wiflab) and the e2e suite it runs with --target=gcp."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from deploy.source_tag import shipped
from deploy.target import IMAGE_TARGETS
from tests.deploy.cases import ROOT, wiflab

SUBSTITUTION = re.compile(r"\$\{(_[A-Z_]+)\}")
BUILT_IN = {"$PROJECT_ID": "my-lab-project", "$BUILD_ID": "b-123"}


@pytest.fixture(scope="module")
def build() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())


def steps_by_id(build: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in build["steps"]}


def text_of(step: dict[str, Any]) -> str:
    return " ".join(step.get("args", [])) + " " + step.get("entrypoint", "")


def expand(text: str, build: dict[str, Any]) -> str:
    text = SUBSTITUTION.sub(lambda m: build["substitutions"][m[1]], text)
    for name, value in BUILT_IN.items():
        text = text.replace(name, value)
    return text


def test_every_substitution_is_declared_and_documented(build) -> None:
    used = set(SUBSTITUTION.findall((ROOT / "cloudbuild.yaml").read_text()))
    declared = set(build["substitutions"])
    assert used == declared
    header = (ROOT / "cloudbuild.yaml").read_text().split("\nsubstitutions:")[0]
    readme = (ROOT / "README.md").read_text()
    for name in declared:
        assert f"#   {name}" in header, f"{name} is not documented at the top of cloudbuild.yaml"
        assert name in readme, f"{name} is not documented in the README"


def test_each_image_is_built_from_a_dockerfile_here_and_pushed_before_setup(build) -> None:
    steps = steps_by_id(build)
    order = list(steps)
    built = {}
    for step in build["steps"]:
        dockerfile = next(
            (a.split("=", 1)[1] for a in step.get("args", []) if "--file=" in a), None
        )
        if dockerfile:
            assert (ROOT / dockerfile).is_file(), dockerfile
            target = next(a.split("=", 1)[1] for a in step["args"] if a.startswith("--target="))
            assert target in IMAGE_TARGETS.values()
            assert shipped(ROOT, target)
            tag = next(a.split("=", 1)[1] for a in step["args"] if a.startswith("--tag="))
            built[tag] = step["id"]
    assert len(built) == 2
    setup = steps["setup"]
    for tag, build_id in built.items():
        push = next(
            s for s in build["steps"] if s.get("args", [None])[0] == "push" and tag in s["args"]
        )
        assert build_id in push["waitFor"] and "repository" in push["waitFor"]
        assert push["id"] in setup["waitFor"] and order.index(push["id"]) < order.index("setup")
        assert any(arg.endswith(f"={tag}") for arg in setup["args"] if arg.startswith("--image="))


def test_the_setup_step_is_a_setup_this_wiflab_accepts(build) -> None:
    setup = steps_by_id(build)["setup"]
    assert setup["entrypoint"] == "/workspace/.venv/bin/wiflab"
    assert "install" in setup["waitFor"]
    args = [expand(arg, build) for arg in setup["args"]]
    assert args[:2] == ["deploy", "setup"]
    result = wiflab(*args, "--dry-run")
    assert result.returncode == 0, result.stderr
    # The images come from the build: the dry run builds none and deploys the pushed ones.
    assert "gcloud builds submit" not in result.stdout
    assert "--image=us-central1-docker.pkg.dev/my-lab-project/wiflab/idp-server:b-123" in (
        result.stdout
    )


def test_the_e2e_step_runs_the_suite_against_google_cloud_last(build) -> None:
    steps = steps_by_id(build)
    e2e = steps["e2e"]
    script = text_of(e2e)
    assert list(steps)[-1] == "e2e" and e2e["waitFor"] == ["setup"]
    assert "pytest e2e --target=gcp" in script
    assert (
        "--gcp-config=" in script
        and "WIFLAB_GCP_CONFIG=/workspace/wiflab-gcp/endpoints.json" in (script)
    )
    assert "--state-dir=/workspace/wiflab-gcp" in steps["setup"]["args"]
    assert "wiflab deploy tokens" in script
    assert (ROOT / "e2e").is_dir() and (ROOT / build["substitutions"]["_TOPOLOGY"]).is_file()
    # pytest's exit status is the step's: `set -e` and pytest last, so a red suite fails the build.
    commands = e2e["args"][-1].strip().splitlines()
    assert commands[0] == "set -euo pipefail"
    assert commands[-1].startswith("/workspace/.venv/bin/pytest e2e")


def test_the_image_build_config_builds_one_pushed_image() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "build-image.yaml").read_text())
    (step,) = config["steps"]
    assert step["args"][:5] == ["build", "--file", "Dockerfile", "--target", "${_TARGET}"]
    assert (ROOT / "Dockerfile").is_file()
    assert config["images"] == ["${_IMAGE}"]
    assert set(config["substitutions"]) == {"_TARGET", "_IMAGE"}
    # Setup's targets, and the default, are targets of the Dockerfile.
    for target in {*IMAGE_TARGETS.values(), config["substitutions"]["_TARGET"]}:
        assert shipped(ROOT, target)
