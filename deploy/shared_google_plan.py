"""``wiflab deploy shared-google`` as a plan: the Google side as ONE shared Cloud Run service
that many CI jobs use (each under its own project number), instead of a private stack per job.

The image is the root Dockerfile's ``google`` target, started as ``python -m
deploy.shared_google`` (gunicorn on ``$PORT``). Two secrets in Secret Manager, made here once
and never shown: the key source (mounted as a file, ``WIFLAB_GOOGLE_KEYS``: every instance
signs and seals with the same keys) and the admin secret (an env var, ``WIFLAB_ADMIN_SECRET``:
the service refuses to start beyond loopback without it). The service runs as its own account,
which may read those two secrets and nothing else. Every resource is looked at before it is
made, so a second run changes nothing (``deploy.steps.Check``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from deploy import gcloud as g
from deploy.errors import PlanError
from deploy.names import CONFIG_LABEL, PROJECT_NUMBER, fingerprint, variable
from deploy.setup_plan import TOKEN, built, repository, secrets_for, write_config
from deploy.steps import PYTHON_MODULE, Check, Command, Generated, Note, Plan, Section, Step
from deploy.target import Target
from mock_gcp.topology import Topology, topology_to_dict

SERVICE = "wiflab-google"
RUNTIME_ACCOUNT = "wiflab-google-runtime"
KEYS_SECRET = "wiflab-google-keys"
ADMIN_SECRET = "wiflab-google-admin-secret"
KEYS_FILE = "/secrets/google/keys.json"  # the mounted key source (WIFLAB_GOOGLE_KEYS)
IMAGE_TARGET = "google"  # the Dockerfile's target
IMAGE_NAME = "google-side"
ENTRYPOINT = ("python", "-m", "deploy.shared_google")
APIS = (
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
)
INGRESS = ("all", "internal", "internal-and-cloud-load-balancing")
_CPU = re.compile(r"[1-8]|[1-9][0-9]{2,3}m")
_MEMORY = re.compile(r"[1-9][0-9]{0,5}(Mi|Gi)")


@dataclass(frozen=True)
class SharedGoogle:
    """How the shared service runs: its scale and size, as the flags say."""

    service: str = SERVICE
    min_instances: int = 0
    # One instance by default: its workers share the projects jobs put at run time and the
    # journal through the instance's state dir; instances share only the keys (sealed tokens).
    max_instances: int = 1
    concurrency: int = 80
    cpu: str = "1"
    memory: str = "512Mi"
    ingress: str = "all"
    workers: int = 2  # gunicorn workers per instance (WIFLAB_GOOGLE_WORKERS)
    image: str | None = None  # one built elsewhere: no build

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z](?:[a-z0-9-]{0,47}[a-z0-9])?", self.service):
            raise PlanError("--service", f"{self.service!r} is not a Cloud Run service name")
        if not 0 <= self.min_instances <= 100:
            raise PlanError("--min-instances", f"{self.min_instances} is not from 0 to 100")
        if not max(1, self.min_instances) <= self.max_instances <= 1000:
            raise PlanError(
                "--max-instances",
                f"{self.max_instances} is not from max(1, --min-instances) to 1000",
            )
        if not 1 <= self.concurrency <= 1000:
            raise PlanError("--concurrency", f"{self.concurrency} is not from 1 to 1000")
        if not _CPU.fullmatch(self.cpu):
            raise PlanError("--cpu", f"{self.cpu!r} is not a CPU count (1-8) or millicores")
        if not _MEMORY.fullmatch(self.memory):
            raise PlanError("--memory", f"{self.memory!r} is not a size such as 512Mi or 2Gi")
        if self.ingress not in INGRESS:
            raise PlanError("--ingress", f"{self.ingress!r} is not one of {', '.join(INGRESS)}")
        if not 1 <= self.workers <= 64:
            raise PlanError("--workers", f"{self.workers} is not from 1 to 64")


def image_of(target: Target, shared: SharedGoogle) -> str:
    tag = target.image_tags.get(IMAGE_TARGET, target.image_tag)
    default = (
        f"{target.region}-docker.pkg.dev/{target.project}/{target.repository}/{IMAGE_NAME}:{tag}"
    )
    return shared.image or default


def service_url(target: Target, shared: SharedGoogle) -> str:
    """The URL Cloud Run gives the service: deterministic from the project number, so the
    issuer is known before the first deploy."""
    return f"https://{shared.service}-{variable(PROJECT_NUMBER)}.{target.region}.run.app"


def shared_google_plan(
    topology: Topology, target: Target, shared: SharedGoogle, topology_file: str
) -> Plan:
    accounts = [account.email for account in topology.service_accounts]
    steps: list[Step] = [
        Section("APIs and the project number"),
        g.gcloud("services", "enable", *APIS, g.project(target)),
        g.project_number(target, PROJECT_NUMBER),
        *_image(target, shared),
        Section("the runtime service account"),
        Check(
            g.describe_account(target, target.service_account(RUNTIME_ACCOUNT)),
            (("", (_create_account(target),)),),
        ),
        *_secrets(target, accounts),
        *_service(topology, target, shared),
        *_for_jobs(target, shared, topology_file),
    ]
    title = (
        f"wiflab deploy shared-google: {topology_file} -> service {shared.service}, "
        f"project {target.project}, {target.region}"
    )
    return Plan(title, tuple(steps))


def _image(target: Target, shared: SharedGoogle) -> list[Step]:
    if shared.image is not None:
        return []
    return [
        Section("Artifact Registry and the google image (Cloud Build, from this checkout)"),
        repository(target),
        built(target, image_of(target, shared), IMAGE_TARGET),
    ]


def _create_account(target: Target) -> Command:
    return g.gcloud(
        "iam",
        "service-accounts",
        "create",
        RUNTIME_ACCOUNT,
        g.project(target),
        "--display-name=wiflab shared Google side (Cloud Run)",
    )


def _secrets(target: Target, accounts: list[str]) -> list[Step]:
    keys = Generated(
        PYTHON_MODULE,
        " ".join(("python -m mock_gcp.key_source new", *(f"--account={a}" for a in accounts))),
    )
    runtime = f"serviceAccount:{target.service_account(RUNTIME_ACCOUNT)}"
    steps: list[Step] = [
        Section("the key source and the admin secret (Secret Manager)"),
        Note(
            "The key source holds the issuer's signing keys, the sealing key and a key for "
            "each service account of the topology; it is made on this machine and piped to "
            "Secret Manager, never written to disk."
        ),
    ]
    steps += secrets_for(target, ((KEYS_SECRET, keys), (ADMIN_SECRET, TOKEN)), runtime)
    rotate = Command(
        ("gcloud", "secrets", "versions", "add", KEYS_SECRET, g.project(target), "--data-file=-"),
        stdin=keys,
    )
    steps.append(
        Note(
            "To replace every key (tokens issued before stop working): add a new version, then "
            "deploy a new revision, so that every instance starts with it (Cloud Run reads a "
            "mounted secret's latest version; whether a running instance notices a new one is "
            "unverified):",
            rotate,
        )
    )
    return steps


def _service(topology: Topology, target: Target, shared: SharedGoogle) -> list[Step]:
    inline = json.dumps(topology_to_dict(topology), separators=(",", ":"), sort_keys=True)
    env = (
        f"WIFLAB_GOOGLE_ISSUER={service_url(target, shared)}",
        f"WIFLAB_GOOGLE_KEYS={KEYS_FILE}",
        f"WIFLAB_GOOGLE_WORKERS={shared.workers}",
        f"WIFLAB_TOPOLOGY_INLINE={inline}",
    )
    secrets = (f"WIFLAB_ADMIN_SECRET={ADMIN_SECRET}:latest", f"{KEYS_FILE}={KEYS_SECRET}:latest")
    deploy = (
        "run",
        "deploy",
        shared.service,
        g.project(target),
        g.region(target),
        f"--image={image_of(target, shared)}",
        f"--service-account={target.service_account(RUNTIME_ACCOUNT)}",
        f"--command={ENTRYPOINT[0]}",
        f"--args={g.joined(ENTRYPOINT[1:])}",
        f"--set-env-vars={g.joined(env)}",
        f"--set-secrets={g.joined(secrets)}",
        f"--min-instances={shared.min_instances}",
        f"--max-instances={shared.max_instances}",
        f"--concurrency={shared.concurrency}",
        f"--cpu={shared.cpu}",
        f"--memory={shared.memory}",
        f"--ingress={shared.ingress}",
        # Clients call STS with no Google identity (as they call Google's): the service is
        # public, and every token it mints is good against the stand-in only.
        "--allow-unauthenticated",
    )
    applied = fingerprint(deploy)
    label = g.describe_service(target, shared.service, f"metadata.labels.{CONFIG_LABEL}")
    return [
        Section("the shared Cloud Run service"),
        Check(
            label,
            ((applied, ()),),
            (g.gcloud(*deploy, f"--update-labels={CONFIG_LABEL}={applied}", retry=True),),
        ),
    ]


def _for_jobs(target: Target, shared: SharedGoogle, topology_file: str) -> list[Step]:
    write = write_config(
        target,
        topology_file,
        "--project-number=PER_JOB_NUMBER",
        f"--google-url={service_url(target, shared)}",
        "--service-url=SERVICE=URL",
    )
    return [
        Section("what each CI job runs to use it"),
        Note(
            "Each job writes a gcp config whose STS, IAM Credentials and Google issuer are the "
            "shared service, under a project number of its own, then runs its suite with "
            "--target=gcp --gcp-config=STATE_DIR/endpoints.json (or WIFLAB_GCP_CONFIG):",
            write,
        ),
    ]
