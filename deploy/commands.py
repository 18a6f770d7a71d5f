"""``wiflab deploy``: the topology on real Google Cloud, and the config that points at it.

- ``setup`` / ``teardown`` plan gcloud commands from the topology and run them (``--dry-run``
  prints them as a bash script instead);
- ``write-config`` writes the gcp config (setup's last step, runnable on its own);
- ``tokens`` mints fresh subject tokens for the config's credentials;
- ``google-side`` serves Google's side locally for IdP and apps running elsewhere (compose.yaml);
- ``shared-google`` deploys Google's side as one shared Cloud Run service for many CI jobs.

Each raises a DeployError saying what went wrong and which kind (a command failed on Google
Cloud, or bad flags or topology: nothing run); ``wiflab.commands.deploy`` maps the flags here
and the errors to the exit status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.errors import EXIT_USAGE, DeployError, PlanError
from deploy.gcp_config import mint_subject_tokens, write_gcp_config
from deploy.layout import layout_of
from deploy.runner import Runner
from deploy.setup_plan import BUILD_CONFIG, setup_plan
from deploy.shared_google_plan import IMAGE_TARGET, SharedGoogle, shared_google_plan
from deploy.shell import render
from deploy.source_tag import source_tag
from deploy.target import DEFAULT_REPOSITORY, DEFAULT_STATE_DIR, IMAGE_TARGETS, Target
from deploy.teardown_plan import teardown_plan
from mock_gcp.topology import Topology, TopologyError, load_topology

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
PLANS = {"setup": setup_plan, "teardown": teardown_plan}


@dataclass(frozen=True)
class TargetFlags:
    """Where the topology goes, as the flags say it (renames still ``OLD=NEW`` text)."""

    project: str
    region: str
    topology: Path = Path("wif.yaml")
    repository: str = DEFAULT_REPOSITORY
    state_dir: Path = DEFAULT_STATE_DIR
    pool_ids: Sequence[str] = ()
    provider_ids: Sequence[str] = ()


def run_plan(
    kind: str,
    flags: TargetFlags,
    *,
    dry_run: bool = False,
    image_tag: str | None = None,
    images: Sequence[str] = (),
) -> None:
    """``setup`` or ``teardown``: run its gcloud commands, or print them (``dry_run``)."""
    topology = _topology(flags.topology)
    # Each image's own digest by default: an edit rebuilds only the images that ship it.
    target = _target(
        flags,
        image_tag=image_tag or "latest",
        image_tags={} if image_tag else _source_tags(),
        images=_pairs(images, "--image"),
    )
    plan = PLANS[kind](topology, target, flags.topology.as_posix())
    if dry_run:
        print(render(plan), end="")
        return
    builds = layout_of(topology, target).apps_to_build(target)
    if kind == "setup" and builds and not Path(BUILD_CONFIG).is_file():
        # Cloud Build uploads the current directory: it must be this checkout.
        raise DeployError(
            f"run setup from the repository root (no {BUILD_CONFIG} here), or pass "
            "--image for each app to deploy images built elsewhere",
            EXIT_USAGE,
        )
    Runner(cwd=Path.cwd()).run(plan)
    print(f"wiflab deploy {kind}: done")


def write_config(
    flags: TargetFlags,
    project_number: str,
    service_urls: Sequence[str],
    google_url: str | None = None,
) -> None:
    """``google_url``: a shared stand-in (``shared-google``) in place of Google's side."""
    if not project_number.isdigit():
        raise PlanError("--project-number", f"must be all digits, not {project_number!r}")
    urls = _pairs(service_urls, "--service-url")
    for name, url in urls.items():
        if not url.startswith(("https://", "http://")):
            raise PlanError("--service-url", f"{name}: {url!r} is not an http(s) URL")
    if google_url is not None and not google_url.startswith(("https://", "http://")):
        raise PlanError("--google-url", f"{google_url!r} is not an http(s) URL")
    path = write_gcp_config(
        _topology(flags.topology), _target(flags), project_number, urls, google_url
    )
    print(f"wiflab deploy: wrote {path}")


def run_shared_google(
    flags: TargetFlags,
    shared: SharedGoogle,
    *,
    dry_run: bool = False,
    image_tag: str | None = None,
) -> None:
    """``shared-google``: the Google side as one shared Cloud Run service (or its commands)."""
    topology = _topology(flags.topology)
    tags = {} if image_tag else {IMAGE_TARGET: source_tag(REPOSITORY_ROOT, IMAGE_TARGET)}
    target = _target(flags, image_tag=image_tag or "latest", image_tags=tags)
    plan = shared_google_plan(topology, target, shared, flags.topology.as_posix())
    if dry_run:
        print(render(plan), end="")
        return
    if shared.image is None and not Path(BUILD_CONFIG).is_file():
        raise DeployError(
            f"run shared-google from the repository root (no {BUILD_CONFIG} here), or pass "
            "--image with the google image built elsewhere",
            EXIT_USAGE,
        )
    Runner(cwd=Path.cwd()).run(plan)
    print("wiflab deploy shared-google: done")


def tokens(config: Path, token_secret: str | None) -> None:
    for path in mint_subject_tokens(config, token_secret):
        print(f"wiflab deploy: minted {path} (valid 1 h; owner-only)")


def _topology(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        raise DeployError(f"{path}: {exc}", EXIT_USAGE) from None


def _source_tags() -> dict[str, str]:
    return {app: source_tag(REPOSITORY_ROOT, name) for app, name in IMAGE_TARGETS.items()}


def _target(flags: TargetFlags, **extra: Any) -> Target:
    return Target(
        project=flags.project,
        region=flags.region,
        repository=flags.repository,
        state_dir=flags.state_dir,
        pool_ids=_pairs(flags.pool_ids, "--pool-id"),
        provider_ids=_pairs(flags.provider_ids, "--provider-id"),
        **extra,
    )


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, new = value.partition("=")
        if not sep or not key or not new:
            raise PlanError(flag, f"expected KEY=VALUE, not {value!r}")
        pairs[key] = new
    return pairs
