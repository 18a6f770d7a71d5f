"""The whole local chain on loopback: the IdP, Google's side, and a Cloud Run front end + app
per topology service.

``threads`` mode serves every part in this process (fast: tests, the demo); ``processes``
mode runs each under gunicorn, as in production. Either way every hop is real HTTP. The IdP
and the apps may also run elsewhere (compose's containers): given their URLs, the stack serves
the rest and waits for them. When all parts answer, it writes ``STATE_DIR/endpoints.json`` and
ready-to-use external-account configs under ``STATE_DIR/credentials/``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from idp_server.settings import is_loopback
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import IDP_APP, Service, Topology, load_topology
from wiflab_core import external_account as credentials
from wiflab_core.serving import LOOPBACK, GunicornProcess, ThreadedServer, wait_ready
from wiflab_lab import credential_set
from wiflab_lab.credential_set import ProviderCredentials, write_private

MODES = ("threads", "processes")
DEFAULT_PORT_BASE = 8700
# Subject-token files are re-minted well before the IdP's default 1 h lifetime runs out.
SUBJECT_TOKEN_REFRESH_SECONDS = 1800
ENDPOINTS_FILE = "endpoints.json"
ADMIN_SECRET_FILE = "idp-admin-secret"


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
    # The IdP's admin secret (key rotation); one given to an IdP elsewhere must be passed here.
    admin_secret: str | None = field(default=None, repr=False)
    # The secret /token needs (IDP_TOKEN_SECRET); required when the stack listens beyond
    # loopback, since then anyone who reaches the IdP could mint tokens.
    idp_token_secret: str | None = field(default=None, repr=False)
    elsewhere_wait_seconds: float = 120.0


@dataclass
class _Urls:
    idp: str
    google: str
    services: dict[str, str]


class Stack:
    def __init__(self, options: StackOptions):
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.options = options
        # Loaded before any port is bound: a wrong topology stops start-up cleanly.
        self.topology: Topology = load_topology(options.topology_path)
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
        self.backend: GoogleBackend | None = None
        self.endpoints: dict[str, Any] = {}
        self._admin_secret = options.admin_secret or secrets.token_urlsafe(24)
        self._exit = ExitStack()
        self._stop_refresh = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            urls = (
                self._start_threads() if self.options.mode == "threads" else self._start_processes()
            )
            for url in self._elsewhere(urls.idp):
                wait_ready(f"{url}/healthz", self.options.elsewhere_wait_seconds)
            self.endpoints = self._write_state(urls)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        self._stop_refresh.set()
        self._exit.close()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoints_path(self) -> Path:
        return self.options.state_dir / ENDPOINTS_FILE

    # -- servers -----------------------------------------------------------------------

    def _port(self, offset: int) -> int:
        return 0 if self.options.port_base == 0 else self.options.port_base + offset

    def _given_upstream(self, service: Service, idp_url: str) -> str | None:
        """The URL of the service's app when it runs elsewhere (or is the IdP), else None."""
        if service.app == IDP_APP:
            return idp_url
        return self.options.app_urls.get(service.name)

    def _elsewhere(self, idp_url: str) -> set[str]:
        given = set(self.options.app_urls.values())
        return given | {idp_url} if self.options.idp_url else given

    def _start_threads(self) -> _Urls:
        from idp_server.app import create_app as create_idp
        from idp_server.settings import IdpSettings
        from mock_gcp.app import create_app as create_google
        from mock_gcp.run.front_end import create_app_for_topology
        from protected_app.app import create_app as create_protected
        from protected_app.settings import Settings as ProtectedSettings
        from protected_app.settings import VerifyMode

        host = self.options.host
        servers: list[ThreadedServer] = []
        idp_url = self.options.idp_url
        if idp_url is None:
            idp = ThreadedServer(port=self._port(0), host=host)
            idp.app = create_idp(
                IdpSettings(
                    issuer=idp.url,
                    profiles=self.topology.idp.plain(),
                    admin_secret=self._admin_secret,
                    token_secret=self.options.idp_token_secret,
                    bind_host=host,
                )
            )
            servers.append(idp)
            idp_url = idp.url
        google = ThreadedServer(port=self._port(1), host=host)
        issuer = self.options.google_issuer or google.url
        backend = GoogleBackend(
            self.topology, LocalDeviations(google_issuer=issuer, lab_idp_issuer=idp_url)
        )
        google.app = create_google(backend)
        self.backend = backend
        servers.append(google)
        services: dict[str, str] = {}
        for i, service in enumerate(self.topology.services):
            upstream = self._given_upstream(service, idp_url)
            if upstream is None:
                app = ThreadedServer(port=self._port(11 + 2 * i), host=host)
                app.app = create_protected(
                    ProtectedSettings(
                        verify=VerifyMode.CLOUD_RUN, cloud_run=cloud_run_env(service.name)
                    )
                )
                servers.append(app)
                upstream = app.url
            front = ThreadedServer(port=self._port(10 + 2 * i), host=host)
            front.app = create_app_for_topology(
                lambda: backend.topology,
                service.name,
                service_url=front.url,
                upstream_url=upstream,
                google_keys=backend.issuer.key_for,
                google_issuers=[issuer],
            )
            servers.append(front)
            services[service.name] = front.url
        for server in servers:
            self._exit.enter_context(server)
        return _Urls(idp_url, google.url, services)

    def _start_processes(self) -> _Urls:
        from idp_server.keystore import create_state_file, initial_keyset

        host = self.options.host
        topology_path = str(self.options.topology_path.resolve())
        servers: list[GunicornProcess] = []
        idp_url = self.options.idp_url
        if idp_url is None:
            idp = GunicornProcess("idp_server.app:create_app()", host=host, port=self._port(0))
            key_state = create_state_file(initial_keyset(None), self.options.state_dir / "idp")
            idp.env.update(
                IDP_ISSUER=idp.url,
                IDP_BIND_HOST=host,
                IDP_KEY_STATE=str(key_state),
                IDP_PROFILES=json.dumps(self.topology.idp.plain()),
                IDP_ADMIN_SECRET=self._admin_secret,
                IDP_TOKEN_SECRET=self.options.idp_token_secret or "",
            )
            servers.append(idp)
            idp_url = idp.url
        google = GunicornProcess(
            "mock_gcp.app:create_app_from_env()",
            host=host,
            port=self._port(1),
            # One process: the tokens STS issues live in its memory, shared by its threads.
            workers=1,
            extra_args=["--threads", "8"],
        )
        issuer = self.options.google_issuer or google.url
        google.env.update(
            WIFLAB_TOPOLOGY=topology_path, WIFLAB_GOOGLE_ISSUER=issuer, WIFLAB_IDP_ISSUER=idp_url
        )
        servers.append(google)
        services: dict[str, str] = {}
        for i, service in enumerate(self.topology.services):
            upstream = self._given_upstream(service, idp_url)
            if upstream is None:
                app = GunicornProcess(
                    "protected_app.app:create_app()",
                    host=host,
                    port=self._port(11 + 2 * i),
                    workers=1,
                    extra_args=["--threads", "4"],
                    env=cloud_run_env(service.name),
                )
                servers.append(app)
                upstream = app.url
            front = GunicornProcess(
                "mock_gcp.run.front_end:create_app_from_env()",
                host=host,
                port=self._port(10 + 2 * i),
                workers=1,
                extra_args=["--threads", "8"],
            )
            front.env.update(
                WIFLAB_TOPOLOGY=topology_path,
                WIFLAB_RUN_SERVICE=service.name,
                WIFLAB_RUN_SERVICE_URL=front.url,
                WIFLAB_RUN_UPSTREAM=upstream,
                WIFLAB_GOOGLE_CERTS_URL=f"{google.url}/oauth2/v3/certs",
                WIFLAB_GOOGLE_ISSUER=issuer,
            )
            servers.append(front)
            services[service.name] = front.url
        # Boot side by side, then wait: start-up costs one gunicorn boot, not one per part.
        for server in servers:
            self._exit.callback(server.stop)
            server.launch()
        for server in servers:
            server.wait_ready()
        return _Urls(idp_url, google.url, services)

    # -- endpoints.json and credentials ----------------------------------------------------

    def _write_state(self, urls: _Urls) -> dict[str, Any]:
        state = self.options.state_dir
        idp, google = urls.idp, urls.google
        secret_file = state / ADMIN_SECRET_FILE
        write_private(secret_file, self._admin_secret)
        topology = self.topology
        endpoints: dict[str, Any] = {
            "target": "local",
            "mode": self.options.mode,
            "project": {"id": topology.project_id, "number": topology.project_number},
            "topology": str(self.options.topology_path.resolve()),
            "idp": {
                "issuer": idp,
                "token_url": f"{idp}/token",
                "profile_url": f"{idp}/token/{{profile}}",
                "admin_secret_file": str(secret_file),
            },
            "sts": {"token_url": f"{google}/v1/token"},
            "iamcredentials": {"api_endpoint": google},
            "google_issuer": {
                "issuer": self.options.google_issuer or google,
                "certs_v1": f"{google}/oauth2/v1/certs",
                "certs_v3": f"{google}/oauth2/v3/certs",
                "tokeninfo": f"{google}/oauth2/v3/tokeninfo",
            },
            "metadata": {"host": google.removeprefix("http://")},
            "services": {name: {"url": url} for name, url in urls.services.items()},
            "providers": {
                f"{p.pool_id}/{p.provider_id}": {
                    "audience": topology.provider_audience(p.pool_id, p.provider_id)
                }
                for p in credential_set.enabled_providers(topology)
            },
            "serviceAccounts": [sa.email for sa in topology.service_accounts],
            "credentials": self._write_credentials(idp, google),
        }
        write_private(self.endpoints_path, json.dumps(endpoints, indent=2) + "\n")
        return endpoints

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

        written = credential_set.write(
            plans, directory, sources, token_url=f"{google}/v1/token", iamcredentials=google
        )
        self._mint_subject_tokens(idp, plans, directory)
        if plans:
            threading.Thread(
                target=self._refresh_subject_tokens, args=(idp, plans, directory), daemon=True
            ).start()
        return written

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


def cloud_run_env(service: str) -> dict[str, str]:
    """What Cloud Run sets in a service's container."""
    return {"K_SERVICE": service, "K_REVISION": f"{service}-00001-wif", "K_CONFIGURATION": service}
