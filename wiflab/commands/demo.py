"""``wiflab demo``: its flags, mapped to ``wiflab_lab.demo.DemoOptions``."""

from __future__ import annotations

import os
from typing import Any

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, NO_COLOR
from wiflab.commands.up import PATH, idp_token_secret, stack_options, usage_failed

TARGETS = ("local", "gcp")  # wiflab_lab.demo.endpoints.TARGETS

# \b keeps click from rewrapping the paragraph that follows it.
DESCRIPTION = """\
Mint a fake OIDC token, exchange it at STS, get a Google ID token and an access
token from IAM Credentials, call the protected service. Each step shows its
request, the answer, every JWT decoded and the rule that allowed or refused it."""

EPILOG = """\
\b
examples:
  wiflab demo                    alice: every step passes
  wiflab demo --profile bob      STS refuses bob (attribute condition)
  wiflab demo --profile dave     IAM refuses dave (no binding names him)
  wiflab demo --profile aws:svcacct1   an AWS IAM user signs GetCallerIdentity
  wiflab demo --profile aws:ec2role    an EC2 instance's role, its keys from the IMDSv2
  wiflab demo --profile aws:outsider   STS refuses another AWS account
  wiflab demo --json             every step as one JSON document
  wiflab demo --endpoints STATE_DIR/endpoints.json   use a stack from `wiflab up`

\b
exit status: 0 every step passed, 1 a step was refused, 2 bad flags or files."""


@click.command("demo", help=DESCRIPTION, epilog=EPILOG)
# Ephemeral ports: the demo never clashes with a `wiflab up` already running.
@stack_options(port_base=0)
@click.option(
    "--endpoints",
    type=PATH,
    help="use the running stack this endpoints.json describes instead of starting one",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    help="local (default) or gcp: real Google Cloud, from the endpoints.json deploy/ "
    "writes (needs --endpoints)",
)
@click.option(
    "--profile",
    help="the caller: a fake user (default alice; see idp.profiles) or aws:NAME "
    "(local.aws.identities)",
)
@click.option(
    "--provider", metavar="POOL/PROVIDER", help="default: the first that accepts the profile"
)
@click.option(
    "--service-account",
    metavar="EMAIL",
    help="default: the one whose policy names the caller and may invoke the service",
)
@click.option("--service", metavar="NAME", help="default: the first private service")
@click.option("--json", "json_output", is_flag=True, help="one JSON document, for machines")
def demo(json_output: bool, **options: Any) -> int:
    from wiflab_lab.demo import DemoOptions, run
    from wiflab_lab.up import UsageError

    asked = DemoOptions(
        **options,
        json=json_output,
        colour=not os.environ.get(NO_COLOR),
        idp_token_secret=idp_token_secret(),
    )
    try:
        return EXIT_OK if run(asked) else EXIT_REFUSED
    except UsageError as exc:
        return usage_failed(exc)
