"""``wiflab deploy teardown`` as a plan: what setup made, removed in reverse order.

Each removal looks first, so a second teardown (or one after a failed setup) changes nothing.
Bindings on a service account, a service or a secret go with it; the project's own bindings are
removed one by one. APIs stay enabled: other things in the project may use them.
"""

from __future__ import annotations

from deploy import gcloud as g
from deploy.layout import layout_of
from deploy.names import (
    PROJECT_NUMBER,
    RUNTIME_ACCOUNTS,
    SIGNING_KEY_SECRET,
    TOKEN_SECRET,
    variable,
)
from deploy.steps import Check, Command, Note, Plan, Section, Step
from deploy.target import Retarget, Target
from mock_gcp.topology import Topology

QUIET = "--quiet"  # no "are you sure?": the plan is the confirmation


def teardown_plan(topology: Topology, target: Target, topology_file: str) -> Plan:
    layout = layout_of(topology, target)
    names = Retarget(topology, target, variable(PROJECT_NUMBER))
    state = target.state_dir.as_posix()
    steps: list[Step] = [
        Section(f"the gcp config in {state}"),
        Command(("rm", "-rf", f"{state}/credentials", f"{state}/jwks")),
        Command(("rm", "-f", f"{state}/endpoints.json", f"{state}/topology.yaml")),
    ]
    project = g.PolicyHolder.of_project(target)
    bindings = [
        _unless_absent(project.has(b.role, names.text(m)), project.remove(b.role, names.text(m)))
        for b in reversed(topology.policy.bindings)
        for m in reversed(b.members)
    ]
    if bindings:  # their members name the project by number
        number = g.project_number(target, PROJECT_NUMBER)
        steps += [Section("the project's IAM bindings"), number, *bindings]
    if topology.pools:
        steps.append(Section("workload identity pools and providers"))
    for pool in reversed(topology.pools):
        pool_id = target.pool_id(pool.id)
        for provider in reversed(pool.providers):
            provider_id = target.provider_id(pool.id, provider.provider_id)
            delete = g.gcloud(
                "iam",
                "workload-identity-pools",
                "providers",
                "delete",
                provider_id,
                g.project(target),
                g.GLOBAL,
                f"--workload-identity-pool={pool_id}",
                QUIET,
            )
            steps.append(_unless_gone(g.describe_provider(target, pool_id, provider_id), delete))
        delete = g.gcloud(
            "iam", "workload-identity-pools", "delete", pool_id, g.project(target), g.GLOBAL, QUIET
        )
        steps.append(_unless_gone(g.describe_pool(target, pool_id), delete))
    steps.append(Section("Cloud Run services"))
    for service in reversed(layout.services):
        delete = g.gcloud(
            "run", "services", "delete", service.name, g.project(target), g.region(target), QUIET
        )
        steps.append(
            _unless_absent(g.describe_service(target, service.name, "metadata.name"), delete)
        )
    if layout.idp is not None:
        steps.append(Section("the IdP's secrets"))
        for secret in (TOKEN_SECRET, SIGNING_KEY_SECRET):
            delete = g.gcloud("secrets", "delete", secret, g.project(target), QUIET)
            steps.append(_unless_absent(g.describe_secret(target, secret), delete))
    steps.append(Section("service accounts"))
    emails = [names.text(sa.email) for sa in reversed(topology.service_accounts)]
    emails += [target.service_account(RUNTIME_ACCOUNTS[app]) for app in reversed(layout.apps)]
    for email in emails:
        delete = g.gcloud("iam", "service-accounts", "delete", email, g.project(target), QUIET)
        steps.append(_unless_absent(g.describe_account(target, email), delete))
    if layout.apps_to_build(target):
        delete = g.gcloud(
            "artifacts",
            "repositories",
            "delete",
            target.repository,
            g.project(target),
            f"--location={target.region}",
            QUIET,
        )
        steps += [
            Section("Artifact Registry"),
            Note(f"This deletes the repository {target.repository} and every image in it."),
            _unless_absent(g.describe_repository(target), delete),
        ]
    steps += [
        Section("APIs"),
        Note("The APIs setup enabled stay enabled: other things in the project may use them."),
    ]
    title = f"wiflab deploy teardown: {topology_file} -> project {target.project}, {target.region}"
    return Plan(title, tuple(steps))


def _unless_absent(probe: Command, remove: Command) -> Check:
    return Check(probe, (("", ()),), (remove,))


def _unless_gone(probe: Command, delete: Command) -> Check:
    """Pools and providers: a deleted one is still described (state DELETED) for 30 days."""
    return Check(probe, (("", ()), ("DELETED:*", ())), (delete,))
