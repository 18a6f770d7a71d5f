"""``wiflab deploy setup`` as a plan: the topology turned into gcloud commands, in the order
their dependencies need.

APIs and the project number; images; service accounts; the IdP's secrets; the Cloud Run
services (the IdP first: its URL is the providers' issuer); pools and providers; every IAM
binding; the config file the e2e suite, the demo and the clients read. Each resource is looked
at before it is made, so a second run changes nothing (see ``deploy.steps.Check``).
"""

from __future__ import annotations

import json
from typing import Any

from deploy import gcloud as g
from deploy.layout import Layout, layout_of
from deploy.names import (
    CONFIG_LABEL,
    PENDING,
    PROJECT_NUMBER,
    RUNTIME_ACCOUNTS,
    RUNTIME_DISPLAY_NAMES,
    SIGNING_KEY_FILE,
    SIGNING_KEY_SECRET,
    TOKEN_SECRET,
    TOKEN_SECRET_VARIABLE,
    fingerprint,
    url_variable,
    variable,
)
from deploy.steps import Check, Command, Generated, Note, Plan, Section, Step, WriteFile
from deploy.target import IMAGE_TARGETS, Retarget, Target
from mock_gcp.topology import IDP_APP, Policy, Pool, Provider, Service, Topology

APIS = (
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "run.googleapis.com",
    "iam.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    # gcloud projects describe / add-iam-policy-binding go through it.
    "cloudresourcemanager.googleapis.com",
)
BUILD_CONFIG = "deploy/build-image.yaml"  # relative to the checkout, which Cloud Build uploads
LIFETIME_CONSTRAINT = "constraints/iam.allowServiceAccountCredentialLifetimeExtension"
RSA_KEY = Generated(
    "rsa-private-key", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"
)
TOKEN = Generated("token-secret", "openssl rand -hex 32 | tr -d '\\n'")


def setup_plan(topology: Topology, target: Target, topology_file: str) -> Plan:
    layout = layout_of(topology, target)
    names = Retarget(topology, target, variable(PROJECT_NUMBER))
    steps: list[Step] = [
        *_apis(target),
        *_images(layout, target),
        *_accounts(topology, layout, target, names),
        *_secrets(layout, target),
        *_services(topology, layout, target),
        *_pools(topology, layout, target, names),
        *_bindings(topology, target, names),
        *_org_policy(topology, target, names),
        *_config(layout, target, topology_file),
    ]
    title = f"wiflab deploy setup: {topology_file} -> project {target.project}, {target.region}"
    return Plan(title, tuple(steps))


def _apis(target: Target) -> list[Step]:
    return [
        Section("APIs and the project number"),
        g.gcloud("services", "enable", *APIS, g.project(target)),
        g.project_number(target, PROJECT_NUMBER),
    ]


def _images(layout: Layout, target: Target) -> list[Step]:
    apps = layout.apps_to_build(target)
    if not apps:
        return []
    return [
        Section("Artifact Registry and the images (Cloud Build, from this checkout)"),
        repository(target),
        *(built(target, target.image(app), IMAGE_TARGETS[app]) for app in apps),
    ]


def repository(target: Target) -> Check:
    """The Artifact Registry repository, made when missing."""
    create = g.gcloud(
        "artifacts",
        "repositories",
        "create",
        target.repository,
        g.project(target),
        f"--location={target.region}",
        "--repository-format=docker",
    )
    return Check(g.describe_repository(target), (("", (create,)),))


def built(target: Target, image: str, dockerfile_target: str) -> Check:
    """The image, built by Cloud Build from the Dockerfile's target when its tag is missing."""
    describe = g.gcloud(
        "artifacts",
        "docker",
        "images",
        "describe",
        image,
        "--format=value(image_summary.digest)",
    )
    build = g.gcloud(
        "builds",
        "submit",
        ".",
        g.project(target),
        f"--config={BUILD_CONFIG}",
        f"--substitutions=_TARGET={dockerfile_target},_IMAGE={image}",
    )
    return Check(describe, (("", (build,)),))


def _accounts(topology: Topology, layout: Layout, target: Target, names: Retarget) -> list[Step]:
    steps: list[Step] = [Section("service accounts")]
    for app in layout.apps:
        account_id = RUNTIME_ACCOUNTS[app]
        steps.append(_account(target, account_id, RUNTIME_DISPLAY_NAMES[app]))
    for account in topology.service_accounts:
        email = names.text(account.email)
        steps.append(_account(target, email.split("@")[0], "wiflab: from the topology"))
        if account.disabled:
            describe = g.gcloud(
                "iam",
                "service-accounts",
                "describe",
                email,
                g.project(target),
                "--format=value(disabled)",
            )
            disable = g.gcloud("iam", "service-accounts", "disable", email, g.project(target))
            steps.append(Check(describe, (("True", ()),), (disable,)))
    return steps


def _account(target: Target, account_id: str, display_name: str) -> Check:
    create = g.gcloud(
        "iam",
        "service-accounts",
        "create",
        account_id,
        g.project(target),
        f"--display-name={display_name}",
    )
    return Check(g.describe_account(target, target.service_account(account_id)), (("", (create,)),))


def _secrets(layout: Layout, target: Target) -> list[Step]:
    if layout.idp is None:
        return []
    runtime = f"serviceAccount:{target.service_account(RUNTIME_ACCOUNTS[IDP_APP])}"
    return [
        Section("the IdP's signing key and /token secret (Secret Manager)"),
        *secrets_for(target, ((SIGNING_KEY_SECRET, RSA_KEY), (TOKEN_SECRET, TOKEN)), runtime),
    ]


def secrets_for(target: Target, made: tuple[tuple[str, Generated], ...], reader: str) -> list[Step]:
    """Each secret made (once, its data piped in from what makes it), then ``reader`` (a
    member) granted secretAccessor on each of them: on those secrets, nothing else."""
    steps: list[Step] = []
    for secret, made_by in made:
        create = Command(
            (
                "gcloud",
                "secrets",
                "create",
                secret,
                g.project(target),
                "--replication-policy=automatic",
                "--data-file=-",
            ),
            stdin=made_by,
        )
        steps.append(Check(g.describe_secret(target, secret), (("", (create,)),)))
    for secret, _ in made:
        holder = g.PolicyHolder.secret(target, secret)
        steps.append(_binding(holder, "roles/secretmanager.secretAccessor", reader))
    return steps


def _services(topology: Topology, layout: Layout, target: Target) -> list[Step]:
    steps: list[Step] = [Section("Cloud Run services")]
    for service in layout.services:
        if service is layout.idp:
            steps += _idp_service(service, topology.idp.plain(), target)
        else:
            steps += _app(service, target)
    return steps


def _deploy(service: Service, target: Target, *flags: str) -> tuple[str, ...]:
    account = target.service_account(RUNTIME_ACCOUNTS[service.app])
    audiences = service.custom_audiences
    return (
        "run",
        "deploy",
        service.name,
        g.project(target),
        g.region(target),
        f"--image={target.image(service.app)}",
        f"--service-account={account}",
        "--allow-unauthenticated"
        if service.allow_unauthenticated
        else "--no-allow-unauthenticated",
        *flags,
        *([f"--set-custom-audiences={g.joined(audiences)}"] if audiences else []),
    )


def _idp_service(service: Service, profiles: dict[str, Any], target: Target) -> list[Step]:
    """Deployed with its issuer taken from each request's Host, then pinned to its own URL once
    Cloud Run has given it one; every instance signs with the one key from Secret Manager."""
    env = (
        "IDP_ISSUER_FROM_HOST=1",
        f"IDP_KEY_FILE={SIGNING_KEY_FILE}",
        f"IDP_PROFILES={json.dumps(profiles, separators=(',', ':'))}",
    )
    secrets = (
        f"IDP_TOKEN_SECRET={TOKEN_SECRET}:latest",
        f"{SIGNING_KEY_FILE}={SIGNING_KEY_SECRET}:latest",
    )
    deploy = _deploy(
        service, target, f"--set-env-vars={g.joined(env)}", f"--set-secrets={g.joined(secrets)}"
    )
    pin = (
        "run",
        "services",
        "update",
        service.name,
        g.project(target),
        g.region(target),
        f"--update-env-vars=IDP_ISSUER={variable(url_variable(service.name))}",
        "--remove-env-vars=IDP_ISSUER_FROM_HOST",
    )
    # Both commands' fingerprint, labelled only by the second: a run stopped between them
    # deploys again.
    applied = fingerprint(deploy, pin)
    label = g.describe_service(target, service.name, f"metadata.labels.{CONFIG_LABEL}")
    return [
        Check(label, ((applied, ()),), (_retried(*deploy, f"--update-labels={_label(PENDING)}"),)),
        _url(service, target),
        Check(label, ((applied, ()),), (_retried(*pin, f"--update-labels={_label(applied)}"),)),
    ]


def _label(value: str) -> str:
    return f"{CONFIG_LABEL}={value}"


def _retried(*args: str) -> Command:
    """A deploy checks that its runtime account exists and may read its secrets: both were
    granted moments ago, and IAM takes a while to agree."""
    return g.gcloud(*args, retry=True)


def _app(service: Service, target: Target) -> list[Step]:
    # A public service's requests never pass Cloud Run's check: the app must not trust a
    # signature marker on them (protected_app/settings.py, PROTECTED_APP_PUBLIC).
    public = ("--set-env-vars=PROTECTED_APP_PUBLIC=1",) if service.allow_unauthenticated else ()
    deploy = _deploy(service, target, *public)
    applied = fingerprint(deploy)
    label = g.describe_service(target, service.name, f"metadata.labels.{CONFIG_LABEL}")
    return [
        Check(label, ((applied, ()),), (_retried(*deploy, f"--update-labels={_label(applied)}"),)),
        _url(service, target),
    ]


def _url(service: Service, target: Target) -> Command:
    describe = g.describe_service(target, service.name, "status.url")
    return Command(describe.argv, capture=url_variable(service.name))


def _pools(topology: Topology, layout: Layout, target: Target, names: Retarget) -> list[Step]:
    steps: list[Step] = []
    if topology.pools:
        steps.append(Section("workload identity pools and providers"))
    for pool in topology.pools:
        steps.append(_pool(pool, target))
        for provider in pool.providers:
            steps += _provider(provider, layout, target, names)
    return steps


def _pool(pool: Pool, target: Target) -> Check:
    pool_id = target.pool_id(pool.id)
    where = (pool_id, g.project(target), g.GLOBAL)
    create = ("iam", "workload-identity-pools", "create", *where, *_disabled(pool.disabled, False))
    applied = fingerprint(create)
    return _create_or_update(
        g.describe_pool(target, pool_id),
        applied,
        g.gcloud(*create, f"--description={applied}"),
        g.gcloud("iam", "workload-identity-pools", "undelete", *where),
        g.gcloud(
            "iam",
            "workload-identity-pools",
            "update",
            *where,
            *_disabled(pool.disabled, True),
            f"--description={applied}",
        ),
    )


def _provider(provider: Provider, layout: Layout, target: Target, names: Retarget) -> list[Step]:
    pool_id = target.pool_id(provider.pool_id)
    provider_id = target.provider_id(provider.pool_id, provider.provider_id)
    where = (provider_id, g.project(target), g.GLOBAL, f"--workload-identity-pool={pool_id}")
    steps: list[Step] = []
    mapping = (f"{k}={v}" for k, v in provider.attribute_mapping.source.items())
    # Always written out (Google's default for an AWS provider left without one, too): an
    # update then sets it back whatever was there.
    flags = [f"--attribute-mapping={g.joined(mapping)}"]
    if provider.attribute_condition is not None:
        flags.append(f"--attribute-condition={provider.attribute_condition.source}")
    kind = "aws" if provider.aws is not None else "oidc"
    if provider.aws is not None:
        flags.insert(0, f"--account-id={provider.aws.account_id}")
    oidc = provider.oidc
    if oidc is not None:
        issuer = oidc.issuer_uri or variable(url_variable(layout.idp.name))  # type: ignore[union-attr]
        flags.insert(0, f"--issuer-uri={issuer}")
    if oidc is not None and oidc.allowed_audiences:
        audiences = (names.text(a) for a in oidc.allowed_audiences)
        flags.append(f"--allowed-audiences={g.joined(audiences)}")
    if oidc is not None and oidc.jwks_json is not None:
        path = f"{target.state_dir.as_posix()}/jwks/{pool_id}.{provider_id}.json"
        steps.append(WriteFile(path, oidc.jwks_json.rstrip("\n") + "\n"))
        flags.append(f"--jwk-json-path={path}")
    providers = ("iam", "workload-identity-pools", "providers")
    create = (*providers, f"create-{kind}", *where, *flags, *_disabled(provider.disabled, False))
    applied = fingerprint(create)
    steps.append(
        _create_or_update(
            g.describe_provider(target, pool_id, provider_id),
            applied,
            g.gcloud(*create, f"--description={applied}"),
            g.gcloud(*providers, "undelete", *where),
            g.gcloud(
                *providers,
                f"update-{kind}",
                *where,
                *flags,
                *_disabled(provider.disabled, True),
                f"--description={applied}",
            ),
        )
    )
    return steps


def _disabled(disabled: bool, updating: bool) -> tuple[str, ...]:
    """Created enabled by default; an update says which, so a pool can be enabled again."""
    if disabled:
        return ("--disabled",)
    return ("--no-disabled",) if updating else ()


def _create_or_update(
    describe: Command, applied: str, create: Command, undelete: Command, update: Command
) -> Check:
    """Absent: create. Applied with these settings: nothing. Deleted (pools and providers
    keep their ids for 30 days): undelete, then update. Otherwise: update."""
    return Check(
        describe,
        (("", (create,)), (f"ACTIVE:{applied}", ()), ("DELETED:*", (undelete, update))),
        (update,),
    )


def _bindings(topology: Topology, target: Target, names: Retarget) -> list[Step]:
    steps: list[Step] = [Section("IAM bindings")]
    for account in topology.service_accounts:
        holder = g.PolicyHolder.service_account(target, names.text(account.email))
        steps += _policy(holder, account.policy, names)
    for service in topology.services:
        steps += _policy(g.PolicyHolder.service(target, service.name), service.policy, names)
    steps += _policy(g.PolicyHolder.of_project(target), topology.policy, names)
    return steps if len(steps) > 1 else []


def _policy(holder: g.PolicyHolder, policy: Policy, names: Retarget) -> list[Step]:
    return [
        _binding(holder, binding.role, names.text(member))
        for binding in policy.bindings
        for member in binding.members
    ]


def _binding(holder: g.PolicyHolder, role: str, member: str) -> Check:
    return Check(holder.has(role, member), (("", (holder.add(role, member),)),))


def _org_policy(topology: Topology, target: Target, names: Retarget) -> list[Step]:
    if not topology.lifetime_extension:
        return []
    accounts = sorted(names.text(email) for email in topology.lifetime_extension)
    allow = g.gcloud(
        "resource-manager",
        "org-policies",
        "allow",
        LIFETIME_CONSTRAINT,
        *accounts,
        g.project(target),
    )
    return [
        Section("organization policy (not applied)"),
        Note(
            "orgPolicy.allowServiceAccountCredentialLifetimeExtension lets these accounts get "
            "access tokens of up to 12 h. It is an organization policy constraint: only an "
            "organization policy administrator (roles/orgpolicy.policyAdmin on the project's "
            "organization) can set it, and a project outside an organization cannot have it. "
            "Setup leaves it to them; until then such tokens are refused beyond 1 h. They run:",
            allow,
        ),
    ]


def write_config(target: Target, topology_file: str, *flags: str) -> Command:
    """``wiflab deploy write-config`` for the target, with flags."""
    return Command(
        (
            "wiflab",
            "deploy",
            "write-config",
            f"--topology={topology_file}",
            g.project(target),
            g.region(target),
            f"--state-dir={target.state_dir.as_posix()}",
            *flags,
        )
    )


def _config(layout: Layout, target: Target, topology_file: str) -> list[Step]:
    state = target.state_dir.as_posix()
    renames = [
        *(f"--pool-id={old}={new}" for old, new in sorted(target.pool_ids.items())),
        *(f"--provider-id={old}={new}" for old, new in sorted(target.provider_ids.items())),
    ]
    urls = [f"--service-url={s.name}={variable(url_variable(s.name))}" for s in layout.services]
    write = write_config(
        target, topology_file, f"--project-number={variable(PROJECT_NUMBER)}", *urls, *renames
    )
    steps: list[Step] = [
        Section(f"the gcp config: {state}/endpoints.json and credentials/ (e2e --target=gcp)"),
        write,
    ]
    if layout.idp is not None:
        access = g.gcloud(
            "secrets",
            "versions",
            "access",
            "latest",
            f"--secret={TOKEN_SECRET}",
            g.project(target),
        )
        steps += [
            Command(access.argv, capture=TOKEN_SECRET_VARIABLE, secret=True),
            Command(
                ("wiflab", "deploy", "tokens", f"--config={state}/endpoints.json"),
                env={TOKEN_SECRET_VARIABLE: variable(TOKEN_SECRET_VARIABLE)},
            ),
        ]
    return steps
