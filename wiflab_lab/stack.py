"""The whole local chain on loopback: the IdP, Google's side, and a Cloud Run front end + app
per topology service.

Each part is described once (``wiflab_lab.parts``: name, port, settings, app factory) and
started by one of two launchers (``wiflab_lab.launchers``): ``threads`` mode serves every part
in this process (fast: tests, the demo); ``processes`` mode runs each under gunicorn, as in
production. Either way every hop is real HTTP. The IdP
and the apps may also run elsewhere (compose's containers): given their URLs, the stack serves
the rest and waits for them. When all parts answer, it writes ``STATE_DIR/endpoints.json`` and
ready-to-use external-account configs under ``STATE_DIR/credentials/``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from idp_server.settings import is_loopback
from mock_gcp.backend import GoogleBackend
from mock_gcp.projects import load_projects
from mock_gcp.topology import Topology
from wiflab_core import endpoints as endpoints_file
from wiflab_core import external_account as credentials
from wiflab_core.endpoints import (
    Aws,
    AwsKeys,
    Endpoints,
    ExplorerEndpoint,
    GoogleIssuer,
    IamCredentials,
    Idp,
    Intercept,
    JournalEndpoint,
    Metadata,
    Project,
    ProviderEndpoint,
    ServiceEndpoint,
    Sts,
)
from wiflab_core.private_file import write_private
from wiflab_core.serving import LOOPBACK, wait_ready
from wiflab_lab import credential_set
from wiflab_lab.credential_set import ProviderCredentials
from wiflab_lab.launchers import Launcher, launcher
from wiflab_lab.parts import Described, Layout, Sockets, describe

if TYPE_CHECKING:
    from wiflab_lab.intercept.proxy import InterceptProxy

MODES = ("threads", "processes")
DEFAULT_PORT_BASE = 8700
# Subject-token files are re-minted well before the IdP's default 1 h lifetime runs out.
SUBJECT_TOKEN_REFRESH_SECONDS = 1800
ADMIN_SECRET_FILE = "idp-admin-secret"
CI_REQUEST_TOKEN_FILE = "idp-ci-request-token"


@dataclass(frozen=True)
class StackOptions:
    topology_path: Path
    state_dir: Path
    mode: str = "threads"
    host: str = LOOPBACK
    # Fixed ports from here (IdP +0, Google +1, services +10, +11, ...); 0 = ephemeral.
    port_base: int = DEFAULT_PORT_BASE
    # The iss of Google-signed ID tokens; None = the stand-in's own URL. Set it to
    # https://accounts.google.com for relying parties that insist on Google's.
    google_issuer: str | None = None
    # Parts that run elsewhere: the IdP's URL, and the app behind each named service. The
    # stack starts every part not given here, and waits for the given ones to answer.
    idp_url: str | None = None
    app_urls: Mapping[str, str] = field(default_factory=dict)
    # The secret each app elsewhere shares with its front end (PROTECTED_APP_FRONT_END_SECRET):
    # without one, such an app cannot tell its front end's requests from others'.
    app_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The IdP's admin secret (key rotation); one given to an IdP elsewhere must be passed here.
    admin_secret: str | None = field(default=None, repr=False)
    # The secret /token needs (IDP_TOKEN_SECRET); required when the stack listens beyond
    # loopback, since then anyone who reaches the IdP could mint tokens.
    idp_token_secret: str | None = field(default=None, repr=False)
    elsewhere_wait_seconds: float = 120.0
    # Intercept mode (`wiflab up --intercept`): a loopback proxy serves Google's hosts with a
    # local CA, and endpoints.json names Google's own URLs (see wiflab_lab.intercept).
    intercept: bool = False
    # The flow explorer (wiflab_lab.explorer), on loopback.
    explorer: bool = True
    # The journal keeps the last N requests with their decisions (issue 13); 0 switches it off.
    journal_size: int = 1000
    # Processes mode: gunicorn workers of Google's side; None = the number of cores. They
    # share one key source (state_dir/google/google-keys.json) and the tokens are sealed, so
    # any worker answers any request.
    google_workers: int | None = None
    # More projects the Google side serves beside topology_path's (the default one), each
    # under its own project number (mock_gcp.projects).
    more_topology_paths: tuple[Path, ...] = ()


class Stack:
    def __init__(self, options: StackOptions):
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.options = options
        # Loaded before any port is bound: a wrong topology stops start-up cleanly.
        # Every project (the first the default one): two files with one project stop
        # start-up cleanly, naming both.
        self.topology: Topology
        self.topology, *more = load_projects((options.topology_path, *options.more_topology_paths))
        self.more_topologies = tuple(more)
        unknown = sorted(set(options.app_urls) - {s.name for s in self.topology.services})
        if unknown:
            raise ValueError(f"app URLs for services the topology lacks: {', '.join(unknown)}")
        if (
            options.idp_url is None
            and not is_loopback(options.host)
            and not options.idp_token_secret
        ):
            raise ValueError(
                f"the IdP would mint tokens for anyone who reaches {options.host}: set "
                "IDP_TOKEN_SECRET (clients then send Authorization: Bearer <secret>)"
            )
        # The in-process Google side (threads mode), for tests that change it at run time.
        self.backend: GoogleBackend | None = None
        self._endpoints: Endpoints | None = None
        self._admin_secret = options.admin_secret or secrets.token_urlsafe(24)
        self._ci_request_token = secrets.token_urlsafe(32)
        self._exit = ExitStack()
        self._stop_refresh = threading.Event()
        self._launcher: Launcher | None = None
        self._part_urls: dict[str, str] = {}
        self._intercept: Intercept | None = None
        self.intercept_proxy: InterceptProxy | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Endpoints:
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            parts = self._start_parts()
            self.backend = parts.backend
            self._part_urls = {part.name: part.url for part in parts.parts}
            for url in self._elsewhere(parts.idp_url):
                wait_ready(f"{url}/healthz", self.options.elsewhere_wait_seconds)
            if self.options.intercept:
                self._intercept = self._start_intercept(parts)
            self._endpoints = self._write_state(parts)
        except BaseException:
            self.stop()
            raise
        return self._endpoints

    def stop(self) -> None:
        self._stop_refresh.set()
        self._exit.close()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dead_parts(self) -> list[str]:
        """The parts started here that stopped serving by themselves (a killed gunicorn, say),
        each named with how it ended."""
        return self._launcher.dead() if self._launcher is not None else []

    @property
    def part_urls(self) -> dict[str, str]:
        """Every part started here, by name: its own URL (an app's too, behind its front end)."""
        return dict(self._part_urls)

    @property
    def endpoints(self) -> Endpoints:
        """What ``start`` wrote to endpoints.json."""
        if self._endpoints is None:
            raise RuntimeError("the stack has not started")
        return self._endpoints

    @property
    def endpoints_path(self) -> Path:
        return self.options.state_dir / endpoints_file.FILE_NAME

    # -- servers -----------------------------------------------------------------------

    def _elsewhere(self, idp_url: str) -> set[str]:
        given = set(self.options.app_urls.values())
        return given | {idp_url} if self.options.idp_url else given

    def _start_parts(self) -> Described:
        options = self.options
        layout = Layout(
            topology=self.topology,
            topology_path=options.topology_path.resolve(),
            more_topologies=tuple(
                zip(
                    self.more_topologies,
                    (p.resolve() for p in options.more_topology_paths),
                    strict=True,
                )
            ),
            state_dir=options.state_dir,
            in_process=options.mode == "threads",
            admin_secret=self._admin_secret,
            token_secret=options.idp_token_secret,
            google_issuer=options.google_issuer,
            idp_url=options.idp_url,
            app_urls=options.app_urls,
            app_secrets=options.app_secrets,
            intercept=options.intercept,
            explorer=options.explorer,
            journal_size=options.journal_size,
            google_workers=options.google_workers,
            ci_request_token=self._ci_request_token,
        )
        sockets = Sockets(options.host, options.port_base)
        try:
            described = describe(layout, sockets, options.host)
            # The gRPC port stays held until the stack stops (after its server: LIFO).
            for reservation in sockets.reservations():
                self._exit.callback(reservation.close)
            run = self._launcher = launcher(options.mode, self._exit)
            for part in described.parts:
                run.launch(part, sockets.take(part.port_offset))
            run.wait_ready()
        finally:
            sockets.close()
        return described

    # -- endpoints.json and credentials ----------------------------------------------------

    def _write_state(self, parts: Described) -> Endpoints:
        state = self.options.state_dir
        idp, google = parts.idp_url, parts.google_url
        secret_file = state / ADMIN_SECRET_FILE
        write_private(secret_file, self._admin_secret)
        ci_token_file = self._write_ci_request_token(state)
        topology = self.topology
        endpoints = Endpoints(
            target="local",
            mode="threads" if self.options.mode == "threads" else "processes",
            project=Project(id=topology.project_id, number=topology.project_number),
            topology=str(self.options.topology_path.resolve()),
            idp=Idp(
                issuer=idp,
                token_url=f"{idp}/token",
                profile_url=f"{idp}/token/{{profile}}",
                admin_secret_file=str(secret_file),
                ci_request_token_file=ci_token_file,
            ),
            sts=Sts(token_url=f"{google}/v1/token"),
            iamcredentials=IamCredentials(api_endpoint=google, grpc_target=parts.grpc_target),
            google_issuer=GoogleIssuer(
                issuer=self.options.google_issuer or google,
                certs_v1=f"{google}/oauth2/v1/certs",
                certs_v3=f"{google}/oauth2/v3/certs",
                tokeninfo=f"{google}/oauth2/v3/tokeninfo",
            ),
            metadata=Metadata(host=google.removeprefix("http://")),
            services={name: ServiceEndpoint(url=url) for name, url in parts.services.items()},
            providers={
                f"{p.pool_id}/{p.provider_id}": ProviderEndpoint(
                    audience=topology.provider_audience(p.pool_id, p.provider_id)
                )
                for p in credential_set.enabled_providers(topology)
            },
            service_accounts=tuple(sa.email for sa in topology.service_accounts),
            credentials={
                **self._write_credentials(idp, google),
                **self._write_aws_credentials(parts, google),
            },
            **journal_sections(google, self.options.journal_size, parts.explorer_url),
            aws=aws_section(parts),
        )
        if self._intercept is not None:
            endpoints = self._intercepted(endpoints, parts)
        endpoints.write(self.endpoints_path)
        return endpoints

    # -- intercept mode --------------------------------------------------------------------

    def _start_intercept(self, parts: Described) -> Intercept:
        """The local CA of the state dir, and the proxy routing Google's hosts to the parts."""
        from wiflab_lab.intercept import environment
        from wiflab_lab.intercept.ca import LocalCA
        from wiflab_lab.intercept.proxy import InterceptProxy
        from wiflab_lab.intercept.routes import Routes

        directory = self.options.state_dir / "intercept"
        ca = LocalCA.load_or_create(directory)
        public = parts.public_services
        routes = Routes.build(
            parts.google_url,
            {public[name]: front for name, front in parts.services.items()},
            parts.grpc_target,
            parts.idp_url,  # the real CI issuers' hosts (routes.PRESET_HOSTS)
            aws_sts_url=parts.aws.sts_url if parts.aws else None,
            aws_imds_url=parts.aws.imds_url if parts.aws else None,
        )
        proxy = InterceptProxy(
            ca, routes, self.options.host if is_loopback(self.options.host) else LOOPBACK
        )
        proxy_url = proxy.start()
        self._exit.callback(proxy.stop)
        self.intercept_proxy = proxy
        bundle = environment.write_bundle(ca.pem, directory)
        env = environment.variables(proxy_url, ca.cert_file, bundle)
        return Intercept(proxy_url=proxy_url, ca_file=str(ca.cert_file), env=env)

    def _intercepted(self, endpoints: Endpoints, parts: Described) -> Endpoints:
        """The endpoints clients use in intercept mode: Google's own URLs everywhere."""
        from wiflab_lab.intercept import routes

        return endpoints.model_copy(
            update={
                "sts": Sts(token_url=routes.STS_TOKEN_URL),
                "iamcredentials": IamCredentials(api_endpoint=routes.IAMCREDENTIALS_URL),
                "google_issuer": GoogleIssuer(
                    issuer=self.options.google_issuer or routes.GOOGLE_ISSUER,
                    certs_v1=routes.CERTS_V1,
                    certs_v3=routes.CERTS_V3,
                    tokeninfo=routes.TOKENINFO,
                ),
                "metadata": Metadata(host=routes.METADATA_HOSTS[0]),
                "services": {
                    name: ServiceEndpoint(url=url) for name, url in parts.public_services.items()
                },
                "intercept": self._intercept,
                "aws": intercepted_aws(endpoints.aws),
            }
        )

    def _write_ci_request_token(self, state: Path) -> str | None:
        """The lab IdP's ACTIONS_ID_TOKEN_REQUEST_TOKEN, 0600 (``wiflab env --preset github``
        reads it); None when the IdP runs elsewhere."""
        if self.options.idp_url is not None:
            return None
        path = state / CI_REQUEST_TOKEN_FILE
        write_private(path, self._ci_request_token)
        return str(path)

    def _write_credentials(self, idp: str, google: str) -> dict[str, str]:
        """File-sourced (re-minted here) and url-sourced (the IdP's profile route) configs."""
        directory = self.options.state_dir / "credentials"
        plans = credential_set.plan(self.topology)

        def sources(entry: ProviderCredentials) -> dict[str, dict[str, Any]]:
            aud = quote(entry.audience, safe="")
            return {
                "file": credentials.file_source(str(entry.subject_token_file(directory))),
                # A guarded IdP's secret travels in the (owner-only) config, as google-auth
                # sends credential_source.headers.
                "url": credentials.url_source(
                    f"{idp}/token/{entry.profile}?aud={aud}", self._minting_headers()
                ),
            }

        # Intercept mode: Google's default URLs, byte for byte what gcloud's create-cred-config
        # writes (credential_set.write's defaults).
        google_urls: dict[str, str] = (
            {}
            if self.options.intercept
            else {"token_url": f"{google}/v1/token", "iamcredentials": google}
        )
        written = credential_set.write(plans, directory, sources, **google_urls)
        self._mint_subject_tokens(idp, plans, directory)
        if plans:
            threading.Thread(
                target=self._refresh_subject_tokens, args=(idp, plans, directory), daemon=True
            ).start()
        return written

    def _write_aws_credentials(self, parts: Described, google: str) -> dict[str, str]:
        """AWS callers' configs (issue 15), env- and metadata-sourced: the lab's IMDS locally;
        in intercept mode gcloud's file as is (the proxy serves the metadata IP)."""
        if parts.aws is None:
            return {}
        directory = self.options.state_dir / "credentials"
        intercepted = self.options.intercept
        sources = credential_set.aws_sources(
            credentials.AWS_IMDS if intercepted else parts.aws.imds_url
        )
        google_urls = (
            {} if intercepted else {"token_url": f"{google}/v1/token", "iamcredentials": google}
        )
        plans = credential_set.aws_plan(self.topology)
        return credential_set.write(plans, directory, lambda _: sources, **google_urls)

    def _mint_subject_tokens(
        self, idp: str, plans: list[ProviderCredentials], directory: Path
    ) -> None:
        for entry in plans:
            response = requests.get(
                f"{idp}/token/{entry.profile}",
                params={"aud": entry.audience},
                headers=self._minting_headers(),
                timeout=10,
            )
            response.raise_for_status()
            write_private(entry.subject_token_file(directory), response.json()["id_token"])

    def _refresh_subject_tokens(
        self, idp: str, plans: list[ProviderCredentials], directory: Path
    ) -> None:
        while not self._stop_refresh.wait(SUBJECT_TOKEN_REFRESH_SECONDS):
            try:
                self._mint_subject_tokens(idp, plans, directory)
            except requests.RequestException:
                return  # the stack is going down

    def _minting_headers(self) -> dict[str, str]:
        secret = self.options.idp_token_secret
        return {"Authorization": f"Bearer {secret}"} if secret else {}


def journal_sections(google: str, journal_size: int, explorer: str | None) -> dict[str, Any]:
    """endpoints.json's ``journal`` (served by Google's side) and ``explorer`` (a part of its
    own, ``wiflab_lab.explorer``, on loopback), issue 13."""
    sections: dict[str, Any] = {}
    if journal_size != 0:
        sections["journal"] = JournalEndpoint(url=f"{google}/wiflab/v1/journal")
    if explorer is not None:
        sections["explorer"] = ExplorerEndpoint(url=explorer)
    return sections


def aws_section(parts: Described) -> Aws | None:
    """endpoints.json's ``aws`` section (issue 15): the local AWS side and its keys (the file
    is 0600, as ``state/aws/credentials.json`` is)."""
    aws = parts.aws
    if aws is None:
        return None
    return Aws(
        sts_url=aws.sts_url,
        imds_url=aws.imds_url,
        credentials_file=str(aws.credentials_file),
        identities={
            i.arn.text: AwsKeys.model_validate(i.keys()) for i in aws.identities.identities
        },
    )


def intercepted_aws(aws: Aws | None) -> Aws | None:
    """Intercept mode: AWS's own URLs too (STS's us-east-1 host; any region's is served)."""
    from wiflab_lab.intercept import routes

    if aws is None:
        return None
    return aws.model_copy(
        update={"sts_url": "https://sts.us-east-1.amazonaws.com", "imds_url": routes.AWS_IMDS_URL}
    )
