"""The gcp config: what ``e2e --target=gcp``, ``wiflab demo --target gcp`` and the clients read.

``STATE_DIR/endpoints.json`` (``wiflab_core.endpoints``, ``"target": "gcp"``) has Google's
URLs and the Cloud Run services' own; ``STATE_DIR/topology.yaml`` is the topology as deployed
(project id and number, renamed pools and providers); ``STATE_DIR/credentials/`` holds
external-account configs named as the local stack names them (``POOL.PROVIDER.file[.SA]``).

They are file-sourced: each reads a subject token from ``POOL.PROVIDER.subject-token``, which
``wiflab deploy tokens`` mints from the IdP's ``/token/<profile>`` (it needs the IdP's /token
secret, from the environment, and writes each token owner-only). No config holds a secret.

With ``google_url`` (a shared stand-in, ``wiflab deploy shared-google``) STS, IAM Credentials
and Google's issuer are that service instead of Google's, and the credentials' token and
impersonation URLs name it: a CI job then runs its suite against the stand-in with the project
number it was given (``--project-number``), as it would against Google.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

from deploy.errors import DeployError
from deploy.names import TOKEN_SECRET
from deploy.target import Retarget, Target
from mock_gcp.topology import IDP_APP, Topology, TopologyError, parse_topology, topology_to_dict
from wiflab_core import endpoints as endpoints_file
from wiflab_core import external_account as credentials
from wiflab_core.endpoints import (
    Endpoints,
    EndpointsError,
    GoogleIssuer,
    IamCredentials,
    Idp,
    Project,
    ProviderEndpoint,
    ServiceEndpoint,
    Sts,
    SubjectToken,
)
from wiflab_core.private_file import write_private
from wiflab_lab import credential_set
from wiflab_lab.credential_set import enabled_providers

GOOGLE_ISSUER = GoogleIssuer(
    issuer="https://accounts.google.com",
    certs_v1="https://www.googleapis.com/oauth2/v1/certs",
    certs_v3="https://www.googleapis.com/oauth2/v3/certs",
    tokeninfo="https://oauth2.googleapis.com/tokeninfo",
)
TOPOLOGY_FILE = "topology.yaml"
MINT_TIMEOUT = 30.0


def deployed_topology(topology: Topology, target: Target, project_number: str) -> dict[str, Any]:
    """The topology with the names it has on Google Cloud (a YAML document). A provider with
    no issuerUri still means the lab's own IdP: the config's ``idp.issuer`` says where it is."""
    doc = Retarget(topology, target, project_number).document(topology_to_dict(topology))
    doc["project"] = {"id": target.project, "number": project_number}
    for pool in doc["pools"]:
        for provider in pool["providers"]:
            provider["id"] = target.provider_id(pool["id"], provider["id"])
        pool["id"] = target.pool_id(pool["id"])
    for account in doc["serviceAccounts"]:
        del account["uniqueId"]  # Google assigns it; the stand-in's is derived from the email
    doc.pop("local", None)  # the stand-in's own settings
    return doc


def shared_google(url: str) -> tuple[Sts, IamCredentials, GoogleIssuer]:
    """A shared stand-in's STS, IAM Credentials and issuer, at the paths Google serves them."""
    base = url.rstrip("/")
    return (
        Sts(token_url=f"{base}/v1/token"),
        IamCredentials(api_endpoint=base),
        GoogleIssuer(
            issuer=base,
            certs_v1=f"{base}/oauth2/v1/certs",
            certs_v3=f"{base}/oauth2/v3/certs",
            tokeninfo=f"{base}/oauth2/v3/tokeninfo",
        ),
    )


def write_gcp_config(
    topology: Topology,
    target: Target,
    project_number: str,
    service_urls: Mapping[str, str],
    google_url: str | None = None,
) -> Path:
    """Write endpoints.json, topology.yaml and credentials/ under the state dir; Google's side
    is Google's, or the shared stand-in at ``google_url``."""
    missing = [s.name for s in topology.services if s.name not in service_urls]
    if missing:
        raise DeployError(f"--service-url: no URL for {', '.join(missing)}", 2)
    doc = deployed_topology(topology, target, project_number)
    try:
        deployed = parse_topology(doc)
    except TopologyError as exc:
        raise DeployError(f"the deployed topology is not valid: {exc}", 2) from None
    state = target.state_dir
    (state / "credentials").mkdir(parents=True, exist_ok=True)
    header = f"# {topology.project_id}'s topology as deployed by wiflab deploy setup.\n"
    write_private(state / TOPOLOGY_FILE, header + yaml.safe_dump(doc, sort_keys=False))
    lab_providers = {
        (target.pool_id(p.pool_id), target.provider_id(p.pool_id, p.provider_id))
        for p in enabled_providers(topology)
        if p.oidc and p.oidc.issuer_uri is None
    }
    if google_url is None:
        sts = Sts(token_url=credentials.GOOGLE_STS_TOKEN_URL)
        iam = IamCredentials(api_endpoint=credentials.GOOGLE_IAMCREDENTIALS)
        issuer = GOOGLE_ISSUER
    else:
        sts, iam, issuer = shared_google(google_url)
    written, tokens = _credentials(deployed, state / "credentials", lab_providers, sts, iam)
    idp_url = _idp_url(topology, service_urls)
    endpoints = Endpoints(
        target="gcp",
        project=Project(id=target.project, number=project_number),
        region=target.region,
        topology=str((state / TOPOLOGY_FILE).resolve()),
        idp=Idp(
            issuer=idp_url,
            token_url=f"{idp_url}/token",
            profile_url=f"{idp_url}/token/{{profile}}",
            # Where the /token secret is kept (clients read it from IDP_TOKEN_SECRET).
            token_secret=f"projects/{target.project}/secrets/{TOKEN_SECRET}",
        )
        if idp_url
        else None,
        sts=sts,
        iamcredentials=iam,
        google_issuer=issuer,
        services={s.name: ServiceEndpoint(url=service_urls[s.name]) for s in topology.services},
        providers={
            f"{p.pool_id}/{p.provider_id}": ProviderEndpoint(
                audience=deployed.provider_audience(p.pool_id, p.provider_id)
            )
            for p in enabled_providers(deployed)
        },
        service_accounts=tuple(sa.email for sa in deployed.service_accounts),
        credentials=written,
        subject_tokens=tokens,
    )
    return endpoints.write(state / endpoints_file.FILE_NAME)


def _idp_url(topology: Topology, service_urls: Mapping[str, str]) -> str | None:
    idp = next((s for s in topology.services if s.app == IDP_APP), None)
    return service_urls[idp.name].rstrip("/") if idp else None


def _credentials(
    deployed: Topology,
    directory: Path,
    lab_providers: set[tuple[str, str]],
    sts: Sts,
    iam: IamCredentials,
) -> tuple[dict[str, str], tuple[SubjectToken, ...]]:
    """File-sourced configs for the providers that trust the lab's IdP and accept one of its
    profiles; the subject-token files are minted by ``wiflab deploy tokens``."""
    plans = credential_set.plan(
        deployed, include=lambda p: (p.pool_id, p.provider_id) in lab_providers
    )
    written = credential_set.write(
        plans,
        directory,
        lambda entry: {
            "file": credentials.file_source(str(entry.subject_token_file(directory).resolve()))
        },
        token_url=sts.token_url,
        iamcredentials=iam.api_endpoint,
    )
    tokens = tuple(
        SubjectToken(
            file=str(entry.subject_token_file(directory).resolve()),
            profile=entry.profile,
            audience=entry.audience,
        )
        for entry in plans
    )
    # AWS callers' configs: gcloud's create-cred-config --aws [--enable-imdsv2] files (AWS's
    # instance metadata service), with the same STS and IAM Credentials as the others: Google's,
    # or the shared stand-in's.
    aws = credential_set.aws_plan(deployed)
    written |= credential_set.write(
        aws,
        directory,
        lambda _: credential_set.aws_sources(),
        token_url=sts.token_url,
        iamcredentials=iam.api_endpoint,
    )
    return written, tokens


def mint_subject_tokens(config_path: Path, token_secret: str | None) -> list[Path]:
    """Fresh subject tokens (1 h) for every file-sourced credential of the gcp config."""
    try:
        endpoints = endpoints_file.load(config_path)
        idp = endpoints.require_idp()
        if endpoints.subject_tokens is None:
            raise EndpointsError(config_path, "subject_tokens", "missing")
    except EndpointsError as exc:
        raise DeployError(f"not a gcp config from wiflab deploy setup: {exc}", 2) from None
    if not token_secret:
        raise DeployError(
            f"IDP_TOKEN_SECRET is not set; it is the secret "
            f"{idp.token_secret or TOKEN_SECRET}: export IDP_TOKEN_SECRET="
            f'"$(gcloud secrets versions access latest --secret={TOKEN_SECRET} '
            f'--project={endpoints.project.id})"',
            2,
        )
    minted = []
    for entry in endpoints.subject_tokens:
        url = idp.profile_url.format(profile=quote(entry.profile, safe=""))
        try:
            response = requests.get(
                url,
                params={"aud": entry.audience},
                headers={"Authorization": f"Bearer {token_secret}"},
                timeout=MINT_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise DeployError(f"cannot reach the IdP at {url}: {exc}") from None
        try:
            token = response.json()["id_token"] if response.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str):
            raise DeployError(
                f"the IdP refused {url}: {response.status_code} {response.text[:300]}"
            )
        path = Path(entry.file)
        write_private(path, token)
        minted.append(path)
    return minted
