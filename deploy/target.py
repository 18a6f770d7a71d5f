"""Where a topology goes on Google Cloud, and how its names map onto the real ones.

A topology names its own project (``demo-project``, number ``123456789012`` in wif.yaml) in
service-account emails, principals and audiences. Deploying it to another project rewrites
those names: the project id from ``--project``, the number Google reports for it, and pool or
provider ids renamed with ``--pool-id`` / ``--provider-id`` (pool ids are unique per project
and a deleted pool keeps its id for 30 days, so a second lab in one project needs new ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.errors import PlanError
from mock_gcp.topology import IDP_APP, PROTECTED_APP, Topology

# Each app a topology service may run, with the target of the root Dockerfile that builds it.
IMAGE_TARGETS = {IDP_APP: "idp", PROTECTED_APP: "protected-app"}
DEFAULT_REPOSITORY = "wiflab"
DEFAULT_STATE_DIR = Path("wiflab-gcp")

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_REGION = re.compile(r"[a-z]+-[a-z]+[0-9]+")
_REPOSITORY = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_RESOURCE_ID = re.compile(r"[a-z0-9-]{4,32}")
# A pool (and maybe one of its providers) inside a resource name or principal.
_POOL_PATH = re.compile(
    r"workloadIdentityPools/(?P<pool>[a-z0-9-]+)(?:/providers/(?P<provider>[a-z0-9-]+))?(?=/|$)"
)


@dataclass(frozen=True)
class Target:
    project: str
    region: str
    repository: str = DEFAULT_REPOSITORY
    image_tag: str = "latest"
    image_tags: Mapping[str, str] = field(default_factory=dict)  # app -> its own tag instead
    images: Mapping[str, str] = field(default_factory=dict)  # app -> an image built elsewhere
    pool_ids: Mapping[str, str] = field(default_factory=dict)  # topology pool id -> deployed
    provider_ids: Mapping[str, str] = field(default_factory=dict)  # "POOL/PROVIDER" -> deployed
    state_dir: Path = DEFAULT_STATE_DIR

    def __post_init__(self) -> None:
        _check(self.project, _PROJECT_ID, "--project", "a project id (6-30 of [a-z0-9-])")
        _check(self.region, _REGION, "--region", "a region such as us-central1")
        _check(self.repository, _REPOSITORY, "--repository", "an Artifact Registry repository id")
        for tag in (self.image_tag, *self.image_tags.values()):
            _check(tag, _IMAGE_TAG, "--image-tag", "a Docker tag")
        for app in self.images:
            if app not in IMAGE_TARGETS:
                raise PlanError(
                    "--image", f"unknown app {app!r}; one of {', '.join(IMAGE_TARGETS)}"
                )
        renames = [*self.pool_ids.values(), *self.provider_ids.values()]
        for new_id in renames:
            _check(new_id, _RESOURCE_ID, "--pool-id/--provider-id", "an id of 4-32 [a-z0-9-]")
            if new_id.startswith("gcp-"):
                raise PlanError(
                    "--pool-id/--provider-id", f"the prefix 'gcp-' is reserved ({new_id})"
                )

    def image(self, app: str) -> str:
        default = (
            f"{self.region}-docker.pkg.dev/{self.project}/{self.repository}/"
            f"{app.replace('_', '-')}:{self.image_tags.get(app, self.image_tag)}"
        )
        return self.images.get(app, default)

    def service_account(self, account_id: str) -> str:
        return f"{account_id}@{self.project}.iam.gserviceaccount.com"

    def pool_id(self, pool: str) -> str:
        return self.pool_ids.get(pool, pool)

    def provider_id(self, pool: str, provider: str) -> str:
        return self.provider_ids.get(f"{pool}/{provider}", provider)

    def check_renames(self, topology: Topology) -> None:
        """Every rename names a pool or provider the topology has."""
        for pool_id in self.pool_ids:
            if topology.pool(pool_id) is None:
                raise PlanError("--pool-id", f"the topology has no pool {pool_id!r}")
        for key in self.provider_ids:
            pool_id, _, provider_id = key.partition("/")
            if topology.provider(pool_id, provider_id) is None:
                raise PlanError("--provider-id", f"the topology has no provider {key!r}")


class Retarget:
    """The topology's names rewritten into the target's, in any string that holds them."""

    def __init__(self, topology: Topology, target: Target, project_number: str):
        self._target = target
        self._number = project_number
        self._email = re.compile(
            rf"@{re.escape(topology.project_id)}\.iam\.gserviceaccount\.com\b", re.IGNORECASE
        )
        self._number_path = re.compile(rf"projects/{re.escape(topology.project_number)}(?=/)")
        self._id_path = re.compile(rf"projects/{re.escape(topology.project_id)}(?=/)")

    def text(self, value: str) -> str:
        # Replacements by function: a number given as ${PROJECT_NUMBER} is not a template.
        email = f"@{self._target.project}.iam.gserviceaccount.com"
        value = self._email.sub(lambda _: email, value)
        value = self._number_path.sub(lambda _: f"projects/{self._number}", value)
        value = self._id_path.sub(lambda _: f"projects/{self._target.project}", value)
        return _POOL_PATH.sub(self._pool_path, value)

    def _pool_path(self, match: re.Match[str]) -> str:
        pool = match["pool"]
        path = f"workloadIdentityPools/{self._target.pool_id(pool)}"
        if match["provider"]:
            path += f"/providers/{self._target.provider_id(pool, match['provider'])}"
        return path

    def document(self, doc: Any) -> Any:
        """Every string value in a YAML-shaped document rewritten (keys are field names)."""
        if isinstance(doc, dict):
            return {key: self.document(value) for key, value in doc.items()}
        if isinstance(doc, list):
            return [self.document(value) for value in doc]
        return self.text(doc) if isinstance(doc, str) else doc


def _check(value: str, pattern: re.Pattern[str], flag: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise PlanError(flag, f"{value!r} is not {what}")
