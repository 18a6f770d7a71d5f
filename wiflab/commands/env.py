"""``wiflab env``: the shell lines that make one shell's clients use intercept mode.

``eval "$(wiflab env --endpoints STATE_DIR/endpoints.json)"`` sets them in the current shell
only (and its children); ``eval "$(wiflab env --unset)"`` removes them again.

``wiflab env --preset github|gitlab|kubernetes [--repository ... --ref ... --param K=V]``
prints instead what a CI job of that provider would have, against the running stack's IdP
(wiflab_lab.ci_env): GitHub's runner variables and its OIDC request pair, GitLab's
``id_tokens`` variable and ``CI_*`` variables, or the path of a Kubernetes projected token
file (written now; wiflab_lab.projected_token keeps one fresh).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_USAGE

ENDPOINTS_ENV = "WIFLAB_ENDPOINTS"


@click.command("env")
@click.option(
    "--endpoints",
    type=click.Path(path_type=Path),
    help=f"the endpoints.json of a `wiflab up --intercept` (default: ${ENDPOINTS_ENV})",
)
@click.option("--unset", is_flag=True, help="print the lines that unset the same variables")
@click.option(
    "--preset",
    type=click.Choice(("github", "gitlab", "kubernetes")),
    help="print what a CI job of this provider has (its token endpoint's variables)",
)
@click.option("--variant", help="the preset's variant (e.g. github: pull_request, environment)")
@click.option("--repository", help="github: OWNER/REPO")
@click.option("--ref", help="github, gitlab: the git ref the job runs on")
@click.option("--owner-id", help="github: the owner's numeric id")
@click.option("--environment", "environment_name", help="github: the job's environment")
@click.option("--project-path", help="gitlab: GROUP/PROJECT")
@click.option("--namespace", help="kubernetes: the pod's namespace")
@click.option("--service-account", help="kubernetes: the pod's service account")
@click.option("--param", "params", multiple=True, help="any other preset param, NAME=VALUE")
@click.option("--audience", help="gitlab, kubernetes: the token's aud")
@click.option(
    "--token-variable",
    default="GITLAB_OIDC_TOKEN",
    show_default=True,
    help="gitlab: the id_tokens entry's name",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    help="kubernetes: the projected token file (default: STATE_DIR/projected-token)",
)
def env(endpoints: Path | None, unset: bool, preset: str | None, **options: Any) -> int:
    from wiflab_core import endpoints as endpoints_file
    from wiflab_lab.intercept import environment

    if preset is not None and not unset:
        return _preset_env(endpoints, preset, options)
    if unset:
        sys.stdout.write(environment.unset_lines())
        return EXIT_OK
    path = endpoints or (Path(os.environ[ENDPOINTS_ENV]) if os.environ.get(ENDPOINTS_ENV) else None)
    if path is None:
        print(
            f"wiflab env: pass --endpoints STATE_DIR/endpoints.json (or set {ENDPOINTS_ENV}): "
            "the file `wiflab up --intercept` names in its ready line",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        intercept = endpoints_file.load(path).require_intercept()
    except endpoints_file.EndpointsError as exc:
        where = "" if str(path) in str(exc) else f"{path}: "
        print(f"wiflab env: {where}{exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(environment.shell_lines(intercept.env))
    return EXIT_OK


# --name -> the preset's param (only the ones the preset has are passed on).
_PARAM_OPTIONS = {
    "repository": "repository",
    "ref": "ref",
    "owner_id": "owner_id",
    "environment_name": "environment",
    "project_path": "project_path",
    "namespace": "namespace",
    "service_account": "service_account",
}


def _preset_env(endpoints: Path | None, preset: str, options: dict[str, Any]) -> int:
    """``--preset``: a CI job's variables, as ``export`` lines."""
    from wiflab_core import endpoints as endpoints_file
    from wiflab_lab import ci_env
    from wiflab_lab.intercept import environment

    path = endpoints or (Path(os.environ[ENDPOINTS_ENV]) if os.environ.get(ENDPOINTS_ENV) else None)
    if path is None:
        print(
            f"wiflab env: --preset needs the running stack: pass --endpoints "
            f"STATE_DIR/endpoints.json (or set {ENDPOINTS_ENV})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    params = {_PARAM_OPTIONS[k]: v for k, v in options.items() if k in _PARAM_OPTIONS and v}
    for item in options["params"]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"wiflab env: --param: expected NAME=VALUE, not {item!r}", file=sys.stderr)
            return EXIT_USAGE
        params[name] = value
    variant = options["variant"]
    secret = os.environ.get("IDP_TOKEN_SECRET") or None
    try:
        loaded = endpoints_file.load(path)
        if preset == "github":
            values = ci_env.github_environment(loaded, variant, **params)
        elif preset == "gitlab":
            values = ci_env.gitlab_environment(
                loaded,
                variant,
                audience=options["audience"] or ci_env.default_audience(loaded),
                token_variable=options["token_variable"],
                secret=secret,
                **params,
            )
        else:
            token_file = options["token_file"] or path.parent / "projected-token"
            values = ci_env.kubernetes_environment(
                loaded, token_file, variant, audience=options["audience"], secret=secret, **params
            )
    except (endpoints_file.EndpointsError, ci_env.CiEnvError) as exc:
        print(f"wiflab env: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(environment.shell_lines(values))
    return EXIT_OK
