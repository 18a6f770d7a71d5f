"""``wiflab mint``: a token from a running IdP, printed for a shell to capture.

``--claims`` posts the claims as they are (``POST /token``); ``--preset NAME`` asks for a token
shaped like a real provider's (``POST /presets/NAME/token``), with ``--variant``, the common
params as flags (``--repository``, ``--ref``) and any other as ``--param NAME=VALUE``.
"""

from __future__ import annotations

import os
import sys

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, IDP_TOKEN_SECRET


def preset_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--param NAME=VALUE`` flags as a mapping (mint, init and attack take them)."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint="--param")
        params[name.strip()] = value
    return params


@click.command("mint")
@click.option("--issuer-url", required=True, help="the running IdP's URL")
@click.option("--claims", help="the claims, a JSON object (default {})")
@click.option("--alg", help="sign with the active or a published key of this alg")
@click.option("--kid", help="sign with this key")
@click.option("--preset", help="a real provider's token shape: github, gitlab, kubernetes, ...")
@click.option("--variant", help="the preset's variant (e.g. pull_request, environment)")
@click.option("--aud", "audience", help="the token's audience (default: the preset's)")
@click.option("--repository", help="preset param: OWNER/REPO (github)")
@click.option("--ref", help="preset param: the git ref (github, gitlab)")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="any preset param")
def mint(
    issuer_url: str,
    claims: str | None,
    alg: str | None,
    kid: str | None,
    preset: str | None,
    variant: str | None,
    audience: str | None,
    repository: str | None,
    ref: str | None,
    pairs: tuple[str, ...],
) -> int:
    from idp_server.client import IdpClient, IdpClientError

    client = IdpClient(issuer_url, token_secret=os.environ.get(IDP_TOKEN_SECRET))
    preset_only = {"--variant": variant, "--aud": audience, "--repository": repository}
    preset_only.update({"--ref": ref, "--param": ",".join(pairs) or None})
    try:
        if preset is None:
            given = [flag for flag, value in preset_only.items() if value is not None]
            if given:
                raise click.UsageError(f"{given[0]}: only with --preset")
            print(client.mint(claims or "{}", alg=alg, kid=kid))
            return EXIT_OK
        if claims is not None:
            raise click.UsageError("--claims: not with --preset (use --param NAME=VALUE)")
        params = preset_params(pairs)
        params.update({k: v for k, v in (("repository", repository), ("ref", ref)) if v})
        token = client.mint_preset(
            preset, variant=variant, params=params, audience=audience, alg=alg, kid=kid
        )
        print(token)
    except IdpClientError as exc:
        print(f"wiflab mint: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK
