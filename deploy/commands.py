"""``wiflab deploy``: the topology on real Google Cloud, and the config that points at it.

- ``setup`` / ``teardown`` plan gcloud commands from the topology and run them (``--dry-run``
  prints them as a bash script instead);
- ``write-config`` writes the gcp config (setup's last step, runnable on its own);
- ``tokens`` mints fresh subject tokens for the config's credentials;
- ``google-side`` serves Google's side locally for IdP and apps running elsewhere (compose.yaml).

Exit status: 0 done, 1 a command failed on Google Cloud, 2 bad flags or topology.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from deploy.errors import EXIT_USAGE, DeployError, PlanError
from deploy.gcp_config import mint_subject_tokens, write_gcp_config
from deploy.google_side import register as register_google_side
from deploy.layout import layout_of
from deploy.runner import Runner
from deploy.setup_plan import BUILD_CONFIG, setup_plan
from deploy.shell import render
from deploy.source_tag import source_tag
from deploy.target import DEFAULT_REPOSITORY, DEFAULT_STATE_DIR, IMAGE_TARGETS, Target
from deploy.teardown_plan import teardown_plan
from mock_gcp.topology import Topology, TopologyError, load_topology

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
PLANS = {"setup": setup_plan, "teardown": teardown_plan}


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser(
        "deploy",
        help="set up Cloud Run and WIF on Google Cloud from the topology",
        description=__doc__.split("\n\n")[0],
    )
    commands = deploy.add_subparsers(dest="deploy_command", required=True, metavar="COMMAND")
    for name, help_text in (
        ("setup", "create or update everything the topology needs, then write the gcp config"),
        ("teardown", "remove what setup made, in reverse order"),
    ):
        parser = commands.add_parser(name, help=help_text)
        _target_arguments(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="print the commands as a bash script, run none"
        )
        parser.add_argument(
            "--image-tag",
            help="tag of the images to build and deploy (default: a digest of the sources)",
        )
        parser.add_argument(
            "--image",
            action="append",
            default=[],
            metavar="APP=IMAGE",
            help="deploy an image built elsewhere for idp_server or protected_app (no build)",
        )
        parser.set_defaults(func=plan_command)

    write = commands.add_parser(
        "write-config", help="write the gcp config for a deployed topology (setup's last step)"
    )
    _target_arguments(write)
    write.add_argument("--project-number", required=True)
    write.add_argument(
        "--service-url", action="append", default=[], metavar="SERVICE=URL", required=True
    )
    write.set_defaults(func=write_config_command)

    tokens = commands.add_parser(
        "tokens", help="mint fresh subject tokens for the gcp config (IDP_TOKEN_SECRET from env)"
    )
    tokens.add_argument("--config", type=Path, default=DEFAULT_STATE_DIR / "endpoints.json")
    tokens.set_defaults(func=tokens_command)

    register_google_side(commands)


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", type=Path, default=Path("wif.yaml"))
    parser.add_argument("--project", required=True, help="the Google Cloud project id")
    parser.add_argument("--region", required=True, help="the Cloud Run region, e.g. us-central1")
    parser.add_argument("--repository", default=DEFAULT_REPOSITORY, help="Artifact Registry repo")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where the gcp config goes (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--pool-id",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="deploy the topology's pool OLD as NEW",
    )
    parser.add_argument(
        "--provider-id",
        action="append",
        default=[],
        metavar="POOL/OLD=NEW",
        help="deploy the topology's provider POOL/OLD as NEW",
    )


def plan_command(args: argparse.Namespace) -> int:
    try:
        topology = _topology(args.topology)
        # Each image's own digest by default: an edit rebuilds only the images that ship it.
        tags = {} if args.image_tag else _source_tags()
        target = _target(
            args,
            image_tag=args.image_tag or "latest",
            image_tags=tags,
            images=_pairs(args.image, "--image"),
        )
        plan = PLANS[args.deploy_command](topology, target, args.topology.as_posix())
        if args.dry_run:
            print(render(plan), end="")
            return 0
        builds = layout_of(topology, target).apps_to_build(target)
        if args.deploy_command == "setup" and builds and not Path(BUILD_CONFIG).is_file():
            # Cloud Build uploads the current directory: it must be this checkout.
            raise DeployError(
                f"run setup from the repository root (no {BUILD_CONFIG} here), or pass "
                "--image for each app to deploy images built elsewhere",
                EXIT_USAGE,
            )
        Runner(cwd=Path.cwd()).run(plan)
    except DeployError as exc:
        return _fail(args, exc)
    print(f"wiflab deploy {args.deploy_command}: done")
    return 0


def write_config_command(args: argparse.Namespace) -> int:
    try:
        if not args.project_number.isdigit():
            raise PlanError("--project-number", f"must be all digits, not {args.project_number!r}")
        urls = _pairs(args.service_url, "--service-url")
        for name, url in urls.items():
            if not url.startswith(("https://", "http://")):
                raise PlanError("--service-url", f"{name}: {url!r} is not an http(s) URL")
        path = write_gcp_config(_topology(args.topology), _target(args), args.project_number, urls)
    except DeployError as exc:
        return _fail(args, exc)
    print(f"wiflab deploy: wrote {path}")
    return 0


def tokens_command(args: argparse.Namespace) -> int:
    try:
        minted = mint_subject_tokens(args.config, os.environ.get("IDP_TOKEN_SECRET"))
    except DeployError as exc:
        return _fail(args, exc)
    for path in minted:
        print(f"wiflab deploy: minted {path} (valid 1 h; owner-only)")
    return 0


def _topology(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        raise DeployError(f"{path}: {exc}", EXIT_USAGE) from None


def _source_tags() -> dict[str, str]:
    return {app: source_tag(REPOSITORY_ROOT, name) for app, name in IMAGE_TARGETS.items()}


def _target(args: argparse.Namespace, **extra: Any) -> Target:
    return Target(
        project=args.project,
        region=args.region,
        repository=args.repository,
        state_dir=args.state_dir,
        pool_ids=_pairs(args.pool_id, "--pool-id"),
        provider_ids=_pairs(args.provider_id, "--provider-id"),
        **extra,
    )


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, new = value.partition("=")
        if not sep or not key or not new:
            raise PlanError(flag, f"expected KEY=VALUE, not {value!r}")
        pairs[key] = new
    return pairs


def _fail(args: argparse.Namespace, exc: DeployError) -> int:
    print(f"wiflab deploy {args.deploy_command}: {exc.message}", file=sys.stderr)
    return exc.exit_code
