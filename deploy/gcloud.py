"""gcloud command lines for each kind of resource, shared by setup and teardown.

Probes print one value and nothing when the resource is absent (gcloud then fails, and the
probe's answer counts as empty): a name, a state, or the fingerprint a resource was last
applied with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deploy.steps import Command
from deploy.target import Target

GLOBAL = "--location=global"
STATE_AND_DESCRIPTION = "--format=value[separator=:](state,description)"
# Delimiters tried, in order, when a list item holds a comma (gcloud topic escaping).
_DELIMITERS = ("|", "@", ";", "#", "~", "||", "@@")


def gcloud(*args: str, capture: str | None = None, retry: bool = False) -> Command:
    return Command(("gcloud", *args), capture=capture, retry=retry)


def joined(items: Iterable[str]) -> str:
    """A gcloud list or dict argument; ``^DELIM^`` first when an item holds a comma."""
    values = list(items)
    if not any("," in v for v in values):
        return ",".join(values)
    delimiter = next(d for d in _DELIMITERS if not any(d in v for v in values))
    return f"^{delimiter}^" + delimiter.join(values)


def project(target: Target) -> str:
    return f"--project={target.project}"


def region(target: Target) -> str:
    return f"--region={target.region}"


def project_number(target: Target, variable: str) -> Command:
    """Captures the number Google gave the project: principals and audiences name it."""
    return gcloud(
        "projects", "describe", target.project, "--format=value(projectNumber)", capture=variable
    )


# -- probes ---------------------------------------------------------------------------------


def describe_account(target: Target, email: str) -> Command:
    return gcloud(
        "iam", "service-accounts", "describe", email, project(target), "--format=value(email)"
    )


def describe_secret(target: Target, secret: str) -> Command:
    return gcloud("secrets", "describe", secret, project(target), "--format=value(name)")


def describe_service(target: Target, service: str, value: str) -> Command:
    return gcloud(
        "run",
        "services",
        "describe",
        service,
        project(target),
        region(target),
        f"--format=value({value})",
    )


def describe_pool(target: Target, pool: str) -> Command:
    return gcloud(
        "iam",
        "workload-identity-pools",
        "describe",
        pool,
        project(target),
        GLOBAL,
        STATE_AND_DESCRIPTION,
    )


def describe_provider(target: Target, pool: str, provider: str) -> Command:
    return gcloud(
        "iam",
        "workload-identity-pools",
        "providers",
        "describe",
        provider,
        project(target),
        GLOBAL,
        f"--workload-identity-pool={pool}",
        STATE_AND_DESCRIPTION,
    )


def describe_repository(target: Target) -> Command:
    return gcloud(
        "artifacts",
        "repositories",
        "describe",
        target.repository,
        project(target),
        f"--location={target.region}",
        "--format=value(name)",
    )


# -- IAM policies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyHolder:
    """A resource with an IAM policy: ``gcloud WORDS VERB NAME FLAGS``."""

    words: tuple[str, ...]
    name: str
    flags: tuple[str, ...]

    @classmethod
    def of_project(cls, target: Target) -> PolicyHolder:
        return cls(("projects",), target.project, ())

    @classmethod
    def service_account(cls, target: Target, email: str) -> PolicyHolder:
        return cls(("iam", "service-accounts"), email, (project(target),))

    @classmethod
    def service(cls, target: Target, service: str) -> PolicyHolder:
        return cls(("run", "services"), service, (project(target), region(target)))

    @classmethod
    def secret(cls, target: Target, secret: str) -> PolicyHolder:
        return cls(("secrets",), secret, (project(target),))

    def _change(self, verb: str, role: str, member: str) -> Command:
        # --condition=None: else gcloud asks, when the policy already has conditional bindings.
        condition = ("--condition=None",) if self.words == ("projects",) else ()
        return gcloud(
            *self.words,
            verb,
            self.name,
            *self.flags,
            f"--role={role}",
            f"--member={member}",
            *condition,
            retry=True,
        )

    def add(self, role: str, member: str) -> Command:
        return self._change("add-iam-policy-binding", role, member)

    def remove(self, role: str, member: str) -> Command:
        return self._change("remove-iam-policy-binding", role, member)

    def has(self, role: str, member: str) -> Command:
        """Prints the role when the policy binds it to the member."""
        return gcloud(
            *self.words,
            "get-iam-policy",
            self.name,
            *self.flags,
            "--flatten=bindings[].members",
            f'--filter=bindings.role="{role}" AND bindings.members="{member}"',
            "--format=value(bindings.role)",
        )
