"""``wiflab env --preset``: what a CI job of the provider would have, against a running stack,
and the job's token endpoint agreeing with it."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import jwt
import pytest
import requests

from wiflab.cli import main


@pytest.fixture
def endpoints_file(wif_stack, tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.json"
    wif_stack.endpoints.write(path)
    return path


def exported(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        values[name] = value
    return values


def run_env(capsys, *args: str) -> tuple[int, dict[str, str], str]:
    code = main(["env", *args])
    out, err = capsys.readouterr()
    return code, (exported(out) if code == 0 else {}), err


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_github_prints_the_jobs_variables_and_a_request_url_that_answers_for_them(
    capsys, endpoints_file, wif_stack
):
    code, values, err = run_env(
        capsys,
        "--preset",
        "github",
        "--endpoints",
        str(endpoints_file),
        "--repository",
        "octo/site",
        "--ref",
        "refs/heads/dev",
    )
    assert code == 0, err
    assert values["GITHUB_ACTIONS"] == "true"
    assert values["GITHUB_REPOSITORY"] == "octo/site"
    assert values["GITHUB_REPOSITORY_OWNER"] == "octo"
    assert values["GITHUB_REF"] == "refs/heads/dev"
    assert values["GITHUB_REF_NAME"] == "dev"
    idp = wif_stack.endpoints.idp
    assert values["ACTIONS_ID_TOKEN_REQUEST_URL"].startswith(
        f"{idp.issuer}/ci/github/idtoken?api-version=2.0&"
    )
    assert values["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == Path(idp.ci_request_token_file).read_text()
    answer = requests.get(
        values["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=sts.googleapis.com",
        headers={"Authorization": f"Bearer {values['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    claims = claims_of(answer.json()["value"])
    assert (claims["repository"], claims["ref"], claims["aud"]) == (
        "octo/site",
        "refs/heads/dev",
        "sts.googleapis.com",
    )
    assert claims["sha"] == values["GITHUB_SHA"]


def test_the_request_token_file_is_the_owners_only(wif_stack):
    path = Path(wif_stack.endpoints.idp.ci_request_token_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_gitlab_prints_the_id_tokens_variable_with_the_jobs_audience(capsys, endpoints_file):
    code, values, err = run_env(
        capsys,
        "--preset",
        "gitlab",
        "--endpoints",
        str(endpoints_file),
        "--project-path",
        "acme/infra",
        "--audience",
        "https://iam.googleapis.com/x",
        "--token-variable",
        "GCP_ID_TOKEN",
    )
    assert code == 0, err
    claims = claims_of(values["GCP_ID_TOKEN"])
    assert claims["aud"] == "https://iam.googleapis.com/x"
    assert claims["project_path"] == values["CI_PROJECT_PATH"] == "acme/infra"
    assert values["GITLAB_CI"] == "true"
    assert "GITLAB_OIDC_TOKEN" not in values


def test_kubernetes_writes_the_projected_token_and_prints_its_path(
    capsys, endpoints_file, tmp_path
):
    target = tmp_path / "var" / "run" / "token"
    code, values, err = run_env(
        capsys,
        "--preset",
        "kubernetes",
        "--endpoints",
        str(endpoints_file),
        "--namespace",
        "ci",
        "--service-account",
        "builder",
        "--token-file",
        str(target),
    )
    assert code == 0, err
    assert values == {"WIFLAB_PROJECTED_TOKEN_FILE": str(target)}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert claims_of(target.read_text())["sub"] == "system:serviceaccount:ci:builder"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--param", "novalue"), "--param: expected NAME=VALUE, not 'novalue'"),
        (("--param", "colour=blue"), "colour: not a param of github"),
        (("--variant", "nightly"), "variant: 'nightly' is not a variant of github"),
    ],
)
def test_a_bad_option_is_a_usage_error_naming_it(capsys, endpoints_file, args, message):
    code, _, err = run_env(capsys, "--preset", "github", "--endpoints", str(endpoints_file), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_without_a_running_stack_it_says_what_to_pass(capsys, monkeypatch):
    monkeypatch.delenv("WIFLAB_ENDPOINTS", raising=False)
    code, _, err = run_env(capsys, "--preset", "github")
    assert code == 2
    assert "--endpoints STATE_DIR/endpoints.json" in err
