"""The whole local chain on loopback: the IdP, Google's side, and a Cloud Run front end + app
per topology service.

``threads`` mode serves every part in this process (fast: tests, the demo); ``processes``
mode runs each under gunicorn, as in production. Either way every hop is real HTTP. When all
parts answer, the stack writes ``STATE_DIR/endpoints.json`` and ready-to-use external-account
configs under ``STATE_DIR/credentials/``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.cel import ConditionError, MappingError
from mock_gcp.topology import Provider, Topology, load_topology
from wiflab import credentials
from wiflab.serving import LOOPBACK, GunicornProcess, ThreadedServer

MODES = ("threads", "processes")
DEFAULT_PORT_BASE = 8700
# Subject-token files are re-minted well before the IdP's default 1 h lifetime runs out.
SUBJECT_TOKEN_REFRESH_SECONDS = 1800
ENDPOINTS_FILE = "endpoints.json"


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


class Stack:
    def __init__(self, options: StackOptions):
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.options = options
        # Loaded before any port is bound: a wrong topology stops start-up cleanly.
        self.topology: Topology = load_topology(options.topology_path)
        self.backend: GoogleBackend | None = None
        self.endpoints: dict[str, Any] = {}
        self._exit = ExitStack()
        self._stop_refresh = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        state = self.options.state_dir
        state.mkdir(parents=True, exist_ok=True)
        try:
            if self.options.mode == "threads":
                urls = self._start_threads()
            else:
                urls = self._start_processes()
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

    def _services(self) -> Iterator[tuple[int, Any]]:
        yield from enumerate(self.topology.services)

    def _start_threads(self) -> dict[str, Any]:
        from idp_server.app import create_app as create_idp
        from idp_server.settings import IdpSettings
        from mock_gcp.api.app import create_app as create_google
        from mock_gcp.run import create_app_for_topology
        from protected_app.app import create_app as create_protected
        from protected_app.settings import Settings as ProtectedSettings
        from protected_app.settings import VerifyMode

        host = self.options.host
        idp = ThreadedServer(port=self._port(0), host=host)
        google = ThreadedServer(port=self._port(1), host=host)
        self._admin_secret = secrets.token_urlsafe(24)
        idp.app = create_idp(
            IdpSettings(
                issuer=idp.url,
                profiles=self.topology.idp.plain(),
                admin_secret=self._admin_secret,
                bind_host=host,
            )
        )
        issuer = self.options.google_issuer or google.url
        backend = GoogleBackend(
            self.topology, LocalDeviations(google_issuer=issuer, lab_idp_issuer=idp.url)
        )
        google.app = create_google(backend)
        self.backend = backend
        servers = [idp, google]
        services: dict[str, str] = {}
        for i, service in self._services():
            front = ThreadedServer(port=self._port(10 + 2 * i), host=host)
            if service.app == "idp_server":
                upstream = idp.url
            else:
                app = ThreadedServer(port=self._port(11 + 2 * i), host=host)
                app.app = create_protected(
                    ProtectedSettings(
                        verify=VerifyMode.CLOUD_RUN, cloud_run=_cloud_run_env(service.name)
                    )
                )
                servers.append(app)
                upstream = app.url
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
        return {"idp": idp.url, "google": google.url, "services": services}

    def _start_processes(self) -> dict[str, Any]:
        from idp_server.keystore import create_state_file, initial_keyset

        host = self.options.host
        state = self.options.state_dir
        idp = GunicornProcess("idp_server.app:create_app()", host=host, port=self._port(0))
        google = GunicornProcess(
            "mock_gcp.api.app:create_app_from_env()",
            host=host,
            port=self._port(1),
            # One process: the tokens STS issues live in its memory, shared by its threads.
            workers=1,
            extra_args=["--threads", "8"],
        )
        self._admin_secret = secrets.token_urlsafe(24)
        key_state = create_state_file(initial_keyset(None), state / "idp")
        idp.env.update(
            IDP_ISSUER=idp.url,
            IDP_BIND_HOST=host,
            IDP_KEY_STATE=str(key_state),
            IDP_PROFILES=json.dumps(self.topology.idp.plain()),
            IDP_ADMIN_SECRET=self._admin_secret,
        )
        issuer = self.options.google_issuer or google.url
        google.env.update(
            WIFLAB_TOPOLOGY=str(self.options.topology_path.resolve()),
            WIFLAB_GOOGLE_ISSUER=issuer,
            WIFLAB_IDP_ISSUER=idp.url,
        )
        servers = [idp, google]
        services: dict[str, str] = {}
        for i, service in self._services():
            front = GunicornProcess(
                "mock_gcp.run:create_app_from_env()",
                host=host,
                port=self._port(10 + 2 * i),
                workers=1,
                extra_args=["--threads", "8"],
            )
            if service.app == "idp_server":
                upstream = idp.url
            else:
                app = GunicornProcess(
                    "protected_app.app:create_app()",
                    host=host,
                    port=self._port(11 + 2 * i),
                    workers=1,
                    extra_args=["--threads", "4"],
                    env=_cloud_run_env(service.name),
                )
                servers.append(app)
                upstream = app.url
            front.env.update(
                WIFLAB_TOPOLOGY=str(self.options.topology_path.resolve()),
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
        return {"idp": idp.url, "google": google.url, "services": services}

    # -- endpoints.json and credentials ----------------------------------------------------

    def _write_state(self, urls: dict[str, Any]) -> dict[str, Any]:
        state = self.options.state_dir
        idp, google = urls["idp"], urls["google"]
        secret_file = state / "idp-admin-secret"
        _write_private(secret_file, self._admin_secret)
        topology = self.topology
        providers = {
            f"{p.pool_id}/{p.provider_id}": {
                "audience": topology.provider_audience(p.pool_id, p.provider_id)
            }
            for p in _providers(topology)
        }
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
            "services": {name: {"url": url} for name, url in urls["services"].items()},
            "providers": providers,
            "serviceAccounts": [sa.email for sa in topology.service_accounts],
            "credentials": self._write_credentials(idp, google),
        }
        _write_private(self.endpoints_path, json.dumps(endpoints, indent=2) + "\n")
        return endpoints

    def _write_credentials(self, idp: str, google: str) -> dict[str, str]:
        directory = self.options.state_dir / "credentials"
        directory.mkdir(parents=True, exist_ok=True)
        written: dict[str, str] = {}
        token_files: list[tuple[Path, str, str]] = []
        for provider in _providers(self.topology):
            profile = _accepted_profile(self.topology, provider)
            if profile is None:
                continue  # no configured profile passes this provider: nothing ready to use
            audience = self.topology.provider_audience(provider.pool_id, provider.provider_id)
            stem = f"{provider.pool_id}.{provider.provider_id}"
            token_file = directory / f"{stem}.subject-token"
            token_files.append((token_file, profile, audience))
            sources = {
                "file": credentials.file_source(str(token_file)),
                "url": credentials.url_source(
                    f"{idp}/token/{profile}?aud={quote(audience, safe='')}"
                ),
            }
            for source_name, source in sources.items():
                for account in [None, *_reachable_accounts(self.topology, provider)]:
                    name = f"{stem}.{source_name}" + (
                        f".{account.split('@')[0]}" if account else ""
                    )
                    config = credentials.external_account(
                        audience,
                        source,
                        token_url=f"{google}/v1/token",
                        service_account=account,
                        iamcredentials=google,
                    )
                    path = directory / f"{name}.json"
                    path.write_text(json.dumps(config, indent=2) + "\n")
                    written[name] = str(path)
        self._mint_subject_tokens(idp, token_files)
        if token_files:
            threading.Thread(
                target=self._refresh_subject_tokens, args=(idp, token_files), daemon=True
            ).start()
        return written

    def _mint_subject_tokens(self, idp: str, token_files: list[tuple[Path, str, str]]) -> None:
        for path, profile, audience in token_files:
            response = requests.get(f"{idp}/token/{profile}", params={"aud": audience}, timeout=10)
            response.raise_for_status()
            _write_private(path, response.json()["id_token"])

    def _refresh_subject_tokens(self, idp: str, token_files: list[tuple[Path, str, str]]) -> None:
        while not self._stop_refresh.wait(SUBJECT_TOKEN_REFRESH_SECONDS):
            try:
                self._mint_subject_tokens(idp, token_files)
            except requests.RequestException:
                return  # the stack is going down


def _cloud_run_env(service: str) -> dict[str, str]:
    """What Cloud Run sets in a service's container."""
    return {"K_SERVICE": service, "K_REVISION": f"{service}-00001-wif", "K_CONFIGURATION": service}


def _providers(topology: Topology) -> Iterator[Provider]:
    for pool in topology.pools:
        if not pool.disabled:
            yield from (p for p in pool.providers if not p.disabled)


def _accepted_profile(topology: Topology, provider: Provider) -> str | None:
    """The first IdP profile whose claims this provider's mapping and condition accept."""
    audience = topology.provider_audience(provider.pool_id, provider.provider_id)
    for name in topology.idp.profiles:
        claims = {**topology.idp.claims(name), "aud": audience}
        try:
            mapped = provider.attribute_mapping.apply(claims)
            condition = provider.attribute_condition
            if condition is None or condition.allows(claims, mapped):
                return name
        except (MappingError, ConditionError):
            continue
    return None


def _reachable_accounts(topology: Topology, provider: Provider) -> list[str]:
    """Service accounts whose policy names any identity of the provider's pool."""
    pool = f"iam.googleapis.com/{topology.pool_name(provider.pool_id)}/"
    return [
        sa.email
        for sa in topology.service_accounts
        if any(pool in m for b in sa.policy.bindings for m in b.members)
    ]


def _write_private(path: Path, text: str) -> None:
    """Atomically, readable by the owner only: these files hold tokens and secrets."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
