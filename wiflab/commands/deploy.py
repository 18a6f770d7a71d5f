"""``wiflab deploy setup | teardown | write-config | tokens | google-side | shared-google``: its
flags, mapped
to ``deploy.commands`` and ``deploy.google_side``; a DeployError becomes the exit status its
kind names. ``deploy`` is imported only when a subcommand runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wiflab.commands.conventions import EXIT_OK, IDP_TOKEN_SECRET
from wiflab.commands.groups import LazyGroup, options
from wiflab.commands.up import DEFAULT_TOPOLOGY, PATH

if TYPE_CHECKING:
    from deploy.commands import TargetFlags

DEFAULT_REPOSITORY = "wiflab"  # deploy.target.DEFAULT_REPOSITORY
DEFAULT_STATE_DIR = Path("wiflab-gcp")  # deploy.target.DEFAULT_STATE_DIR

# One-line helps, listed whole by the group (click would shorten a long docstring).
SETUP_HELP = "create or update everything the topology needs, then write the gcp config"
TEARDOWN_HELP = "remove what setup made, in reverse order"
WRITE_CONFIG_HELP = "write the gcp config for a deployed topology (setup's last step)"
TOKENS_HELP = "mint fresh subject tokens for the gcp config (IDP_TOKEN_SECRET from env)"
GOOGLE_SIDE_HELP = "serve Google's side locally for an IdP and apps running elsewhere (compose)"
SHARED_GOOGLE_HELP = "deploy Google's side as one shared Cloud Run service for many CI jobs"


# google-side is defined beside what it runs (the google image runs it without this CLI).
@click.group(
    "deploy",
    cls=LazyGroup,
    lazy={"google-side": ("deploy.google_side:command", GOOGLE_SIDE_HELP)},
)
def deploy() -> None:
    """the topology on real Google Cloud, and the config that points at it"""


target_options = options(
    click.option("--topology", type=PATH, default=DEFAULT_TOPOLOGY, show_default=True),
    click.option("--project", required=True, help="the Google Cloud project id"),
    click.option("--region", required=True, help="the Cloud Run region, e.g. us-central1"),
    click.option("--repository", default=DEFAULT_REPOSITORY, help="Artifact Registry repo"),
    click.option(
        "--state-dir",
        type=PATH,
        default=DEFAULT_STATE_DIR,
        help=f"where the gcp config goes (default: {DEFAULT_STATE_DIR})",
    ),
    click.option(
        "--pool-id",
        "pool_ids",
        multiple=True,
        metavar="OLD=NEW",
        help="deploy the topology's pool OLD as NEW",
    ),
    click.option(
        "--provider-id",
        "provider_ids",
        multiple=True,
        metavar="POOL/OLD=NEW",
        help="deploy the topology's provider POOL/OLD as NEW",
    ),
)


plan_options = options(
    click.option("--dry-run", is_flag=True, help="print the commands as a bash script, run none"),
    click.option(
        "--image-tag",
        help="tag of the images to build and deploy (default: a digest of the sources)",
    ),
    click.option(
        "--image",
        "images",
        multiple=True,
        metavar="APP=IMAGE",
        help="deploy an image built elsewhere for idp_server or protected_app (no build)",
    ),
)


@deploy.command("setup", help=SETUP_HELP, short_help=SETUP_HELP)
@target_options
@plan_options
def setup(dry_run: bool, image_tag: str | None, images: tuple[str, ...], **target: Any) -> int:
    return _plan("setup", dry_run, image_tag, images, target)


@deploy.command("teardown", help=TEARDOWN_HELP)
@target_options
@plan_options
def teardown(dry_run: bool, image_tag: str | None, images: tuple[str, ...], **target: Any) -> int:
    return _plan("teardown", dry_run, image_tag, images, target)


def _plan(
    kind: str, dry_run: bool, image_tag: str | None, images: tuple[str, ...], target: dict[str, Any]
) -> int:
    from deploy.commands import run_plan

    return _run(
        kind,
        lambda: run_plan(kind, _flags(target), dry_run=dry_run, image_tag=image_tag, images=images),
    )


@deploy.command("write-config", help=WRITE_CONFIG_HELP, short_help=WRITE_CONFIG_HELP)
@target_options
@click.option("--project-number", required=True)
@click.option("--service-url", "service_urls", multiple=True, required=True, metavar="SERVICE=URL")
@click.option(
    "--google-url",
    help="a shared stand-in (shared-google) to use in place of Google's STS, IAM Credentials "
    "and issuer",
)
def write_config(
    project_number: str, service_urls: tuple[str, ...], google_url: str | None, **target: Any
) -> int:
    from deploy.commands import write_config

    return _run(
        "write-config",
        lambda: write_config(_flags(target), project_number, service_urls, google_url),
    )


@deploy.command("shared-google", help=SHARED_GOOGLE_HELP, short_help=SHARED_GOOGLE_HELP)
@target_options
@click.option("--dry-run", is_flag=True, help="print the commands as a bash script, run none")
@click.option("--image-tag", help="tag of the google image (default: a digest of its sources)")
@click.option("--image", help="deploy a google image built elsewhere (no build)")
@click.option("--service", default="wiflab-google", show_default=True)
@click.option("--min-instances", type=int, default=0, show_default=True)
@click.option(
    "--max-instances",
    type=int,
    default=1,
    show_default=True,
    help="more than 1: projects put at run time and the journal are per instance",
)
@click.option("--concurrency", type=int, default=80, show_default=True)
@click.option("--cpu", default="1", show_default=True)
@click.option("--memory", default="512Mi", show_default=True)
@click.option("--ingress", default="all", show_default=True)
@click.option("--workers", type=int, default=2, show_default=True, help="gunicorn workers")
def shared_google(dry_run: bool, image_tag: str | None, image: str | None, **options: Any) -> int:
    from deploy.commands import run_shared_google
    from deploy.shared_google_plan import SharedGoogle

    scale = {k: options.pop(k) for k in list(options) if k in SHARED_GOOGLE_OPTIONS}

    def action() -> None:
        shared = SharedGoogle(image=image, **scale)
        run_shared_google(_flags(options), shared, dry_run=dry_run, image_tag=image_tag)

    return _run("shared-google", action)


SHARED_GOOGLE_OPTIONS = (
    "service",
    "min_instances",
    "max_instances",
    "concurrency",
    "cpu",
    "memory",
    "ingress",
    "workers",
)


@deploy.command("tokens", help=TOKENS_HELP, short_help=TOKENS_HELP)
@click.option(
    "--config", type=PATH, default=DEFAULT_STATE_DIR / "endpoints.json", show_default=True
)
def tokens(config: Path) -> int:
    from deploy.commands import tokens as mint

    return _run("tokens", lambda: mint(config, os.environ.get(IDP_TOKEN_SECRET)))


def _flags(target: dict[str, Any]) -> TargetFlags:
    from deploy.commands import TargetFlags

    return TargetFlags(**target)


def _run(name: str, action: Callable[[], None]) -> int:
    """Run a deploy action; a DeployError is printed and its kind is the exit status."""
    from deploy.errors import DeployError

    try:
        action()
    except DeployError as exc:
        print(f"wiflab deploy {name}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return EXIT_OK
