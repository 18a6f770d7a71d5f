"""What a CI job's environment holds, per preset, against a running lab IdP.

``wiflab env --preset NAME`` prints these; tests set them for real tooling:

- github: GitHub's runner variables (``GITHUB_REPOSITORY``, ``GITHUB_REF``, ``GITHUB_SHA``, ...,
  from the same claims the token will carry) and the OIDC request pair
  ``ACTIONS_ID_TOKEN_REQUEST_URL`` / ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` (the IdP's
  ``/ci/github/idtoken``, see idp_server.ci_endpoints). No token is minted here: the job asks
  for one, with its audience, as ``core.getIDToken(aud)`` does.
- gitlab: an ``id_tokens:`` variable holding a minted token (``GITLAB_OIDC_TOKEN`` unless
  named otherwise, with the job's ``aud:``), and GitLab's predefined ``CI_*`` variables.
- kubernetes: the projected token file (wiflab_lab.projected_token) and the variable naming it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from idp_server.ci_endpoints import GITHUB_API_VERSION, GITHUB_ROUTE
from wiflab_core.endpoints import Endpoints

# What ``wiflab env --preset`` supports.
PRESETS = ("github", "gitlab", "kubernetes")
GITLAB_TOKEN_VARIABLE = "GITLAB_OIDC_TOKEN"
PROJECTED_TOKEN_VARIABLE = "WIFLAB_PROJECTED_TOKEN_FILE"


class CiEnvError(ValueError):
    """A job environment that cannot be made; the text names the option or file."""


def preset(name: str) -> Any:
    from idp_server.presets import PRESETS as CATALOGUE

    found = CATALOGUE.get(name)
    if found is None:
        raise CiEnvError(f"--preset: {name!r} is not a preset ({', '.join(CATALOGUE)})")
    return found


def idp_url(endpoints: Endpoints) -> str:
    if endpoints.idp is None:
        raise CiEnvError("endpoints.json: the chain has no lab IdP (idp is absent)")
    return endpoints.idp.issuer


def github_request_url(endpoints: Endpoints, variant: str | None = None, **params: str) -> str:
    """``ACTIONS_ID_TOKEN_REQUEST_URL``: like GitHub's, it carries a query already (the job's
    params, which GitHub's runtime knows from the job's id in its path)."""
    query = {"api-version": GITHUB_API_VERSION, **({"variant": variant} if variant else {})}
    query.update(params)
    return f"{idp_url(endpoints)}{GITHUB_ROUTE}?{urlencode(query)}"


def github_request_token(endpoints: Endpoints) -> str:
    path = endpoints.idp.ci_request_token_file if endpoints.idp is not None else None
    if not path:
        raise CiEnvError(
            "endpoints.json: idp.ci_request_token_file is absent (an IdP the stack did not "
            "start: its IDP_CI_REQUEST_TOKEN is the token)"
        )
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CiEnvError(f"{path}: {exc.strerror}") from None


def github_environment(
    endpoints: Endpoints, variant: str | None = None, *, now: int | None = None, **params: str
) -> dict[str, str]:
    """A GitHub Actions job's variables, with ``permissions: id-token: write``."""
    claims = _claims("github", endpoints, variant, None, now, params)
    ref = str(claims["ref"])
    ref_name = ref.split("/", 2)[-1] if ref.startswith(("refs/heads/", "refs/tags/")) else ref
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_REPOSITORY": str(claims["repository"]),
        "GITHUB_REPOSITORY_ID": str(claims["repository_id"]),
        "GITHUB_REPOSITORY_OWNER": str(claims["repository_owner"]),
        "GITHUB_REPOSITORY_OWNER_ID": str(claims["repository_owner_id"]),
        "GITHUB_REF": ref,
        "GITHUB_REF_NAME": ref_name,
        "GITHUB_REF_TYPE": str(claims["ref_type"]),
        "GITHUB_REF_PROTECTED": str(claims["ref_protected"]),
        "GITHUB_SHA": str(claims["sha"]),
        "GITHUB_HEAD_REF": str(claims.get("head_ref", "")),
        "GITHUB_BASE_REF": str(claims.get("base_ref", "")),
        "GITHUB_EVENT_NAME": str(claims["event_name"]),
        "GITHUB_ACTOR": str(claims["actor"]),
        "GITHUB_ACTOR_ID": str(claims["actor_id"]),
        "GITHUB_WORKFLOW": str(claims["workflow"]),
        "GITHUB_WORKFLOW_REF": str(claims["workflow_ref"]),
        "GITHUB_WORKFLOW_SHA": str(claims["workflow_sha"]),
        "GITHUB_RUN_ID": str(claims["run_id"]),
        "GITHUB_RUN_NUMBER": str(claims["run_number"]),
        "GITHUB_RUN_ATTEMPT": str(claims["run_attempt"]),
        "RUNNER_ENVIRONMENT": str(claims["runner_environment"]),
        "ACTIONS_ID_TOKEN_REQUEST_URL": github_request_url(endpoints, variant, **params),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": github_request_token(endpoints),
    }


def gitlab_environment(
    endpoints: Endpoints,
    variant: str | None = None,
    *,
    audience: str,
    token_variable: str = GITLAB_TOKEN_VARIABLE,
    secret: str | None = None,
    now: int | None = None,
    **params: str,
) -> dict[str, str]:
    """A GitLab CI job's variables with ``id_tokens: {TOKEN_VARIABLE: {aud: AUDIENCE}}``."""
    if not token_variable.isidentifier():
        raise CiEnvError(f"--token-variable: {token_variable!r} is not a variable name")
    claims = _claims("gitlab", endpoints, variant, audience, now, params)
    token = mint(endpoints, "gitlab", variant, audience=audience, secret=secret, **params)
    values = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": str(claims["iss"]),
        "CI_PROJECT_PATH": str(claims["project_path"]),
        "CI_PROJECT_ID": str(claims["project_id"]),
        "CI_PROJECT_NAMESPACE": str(claims["namespace_path"]),
        "CI_PROJECT_NAMESPACE_ID": str(claims["namespace_id"]),
        "CI_COMMIT_REF_NAME": str(claims["ref"]),
        "CI_COMMIT_REF_PROTECTED": str(claims["ref_protected"]),
        "CI_COMMIT_SHA": str(claims["sha"]),
        "CI_PIPELINE_ID": str(claims["pipeline_id"]),
        "CI_PIPELINE_SOURCE": str(claims["pipeline_source"]),
        "CI_JOB_ID": str(claims["job_id"]),
        "GITLAB_USER_LOGIN": str(claims["user_login"]),
    }
    return {**values, token_variable: token}


def mint(
    endpoints: Endpoints,
    name: str,
    variant: str | None = None,
    *,
    audience: str | None = None,
    secret: str | None = None,
    **params: str,
) -> str:
    """A preset's token from the running IdP's ``GET /presets/NAME/token`` (presets_http)."""
    import requests

    query = {**({"variant": variant} if variant else {}), **({"aud": audience} if audience else {})}
    query.update(params)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    url = f"{idp_url(endpoints)}{preset(name).issuer_path}/token?{urlencode(query)}"
    try:
        response = requests.get(url, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise CiEnvError(f"the IdP at {idp_url(endpoints)}: {exc}") from None
    if response.status_code != 200:
        try:
            description = response.json().get("error_description", response.text)
        except ValueError:
            description = response.text
        raise CiEnvError(f"the IdP refused ({response.status_code}): {description}")
    return str(response.json()["id_token"])


def topology_defaults(endpoints: Endpoints) -> dict[str, dict[str, str]]:
    """The topology's ``idp.presets``: the params the running IdP starts from."""
    from mock_gcp.topology import TopologyError, load_topology

    path = Path(endpoints.topology)
    try:
        return load_topology(path).idp.preset_params()
    except (OSError, TopologyError) as exc:
        raise CiEnvError(f"endpoints.json: topology {path}: {exc}") from None


def _claims(
    name: str,
    endpoints: Endpoints,
    variant: str | None,
    audience: str | None,
    now: int | None,
    params: Mapping[str, str],
) -> dict[str, Any]:
    """The claims the IdP will put in the job's token (same params, over the topology's
    ``idp.presets`` defaults, as the IdP layers them), for its variables."""
    chosen = preset(name)
    params = chosen.layered(topology_defaults(endpoints).get(name, {}), params)
    try:
        claims: dict[str, Any] = chosen.claims(
            variant,
            issuer=idp_url(endpoints) + chosen.issuer_path,
            audience=audience,
            now=int(time.time()) if now is None else now,
            **params,
        )
    except ValueError as exc:
        raise CiEnvError(str(exc)) from None
    return claims


def kubernetes_environment(
    endpoints: Endpoints,
    token_file: Path,
    variant: str | None = None,
    *,
    audience: str | None = None,
    secret: str | None = None,
    **params: str,
) -> dict[str, str]:
    """A pod's projected token, written once to ``token_file`` (0600, atomically), and the
    variable naming it; ``projected_token.ProjectedToken`` keeps such a file fresh."""
    from wiflab_lab.projected_token import ProjectedToken, ProjectedTokenError

    audience = audience or default_audience(endpoints)
    projected = ProjectedToken(
        token_file,
        lambda: mint(endpoints, "kubernetes", variant, audience=audience, secret=secret, **params),
    )
    try:
        projected.write()
    except ProjectedTokenError as exc:
        raise CiEnvError(str(exc)) from None
    except OSError as exc:
        raise CiEnvError(f"--token-file: {token_file}: {exc.strerror}") from None
    return {PROJECTED_TOKEN_VARIABLE: str(token_file)}


def default_audience(endpoints: Endpoints) -> str:
    """The audience Google expects of a provider's tokens when the job names none: the first
    provider's resource name as ``https://iam.googleapis.com/projects/...`` (what gcloud's
    create-cred-config and google-github-actions/auth use)."""
    if not endpoints.providers:
        raise CiEnvError("--audience: needed (endpoints.json names no provider)")
    first = next(iter(endpoints.providers.values()))
    return "https:" + first.audience if first.audience.startswith("//") else first.audience
