"""Intercept mode's cost: the whole chain through the proxy (Google's URLs, TLS to the local
CA's leaves) against the same chain straight to the parts' loopback URLs, on one stack.

Printed, in one run: p50 and p99 of each (blocks interleaved, so both see the same machine),
their ratio (target: through the proxy within 1.5x of direct), and the set-up cost of a new
TLS connection through the proxy (CONNECT + handshake + one small GET) against a new plain
connection straight to Google's side.
"""

from __future__ import annotations

import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.chain import CHAINS, SERVICE, WARMUP, Chain, percentile
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
BLOCK = 25
CONNECTIONS = 200
RATIO_TARGET = 1.5


def direct_chain(stack: Stack) -> Chain:
    """The chain at the parts' own loopback URLs (the front end still expects its run.app
    audience, as in intercept mode)."""
    chain = Chain(stack.endpoints)
    parts = stack.part_urls
    google = parts["google"]
    chain.session.trust_env = False
    chain.idp = f"{parts['idp']}/token"
    chain.sts = f"{google}/v1/token"
    chain.iam = google
    chain.service = parts[f"run:{SERVICE}"]
    chain.service_audience = stack.endpoints.services[SERVICE].url
    return chain


def proxied_chain(stack: Stack) -> Chain:
    """The chain as an unchanged client runs it: Google's URLs, through the proxy."""
    env = stack.endpoints.require_intercept().env
    chain = Chain(stack.endpoints)
    chain.session.trust_env = False
    # HTTPS only: the lab IdP is on loopback, which NO_PROXY keeps direct for a client that
    # reads the environment (requests ignores NO_PROXY for proxies it is given explicitly).
    chain.session.proxies = {"https": env["HTTPS_PROXY"]}
    chain.session.verify = env["REQUESTS_CA_BUNDLE"]
    return chain


def timed(chain: Chain, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        chain.run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


class _ContextAdapter(HTTPAdapter):
    """An adapter whose connections share one client SSLContext (the bundle loaded once)."""

    def __init__(self, context: ssl.SSLContext):
        self._context = context
        super().__init__()

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests names a CA file on every connection (certifi's for verify=True), which
        # urllib3 then loads into the context again: leave the context as it is.
        conn.cert_reqs = "CERT_REQUIRED"


def new_connection_ms(stack: Stack, through_proxy: bool, client_context: bool = False) -> float:
    """Median time of one GET on a connection made for it. Through the proxy, requests loads
    the CA bundle (the local CA and the system roots) on every new connection, as it loads
    certifi's for any HTTPS connection, real Google's too; with ``client_context`` the
    connections share one loaded context, which leaves the proxy's own part (CONNECT,
    handshake, relay)."""
    env = stack.endpoints.require_intercept().env
    if through_proxy:
        url = "https://www.googleapis.com/oauth2/v3/certs"
        proxies = {"https": env["HTTPS_PROXY"]}
        verify: str | bool = True if client_context else env["REQUESTS_CA_BUNDLE"]
    else:
        url, proxies, verify = f"{stack.part_urls['google']}/oauth2/v3/certs", {}, True
    context = ssl.create_default_context(cafile=env["REQUESTS_CA_BUNDLE"])
    samples = []
    for _ in range(CONNECTIONS):
        with requests.Session() as session:
            session.trust_env = False
            if client_context:
                session.mount("https://", _ContextAdapter(context))
            start = time.perf_counter()
            response = session.get(url, proxies=proxies, verify=verify)
            samples.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
    return statistics.median(samples)


def bundle_load_ms(stack: Stack, rounds: int = 50) -> float:
    """Median time to load the CA bundle into a new client SSLContext."""
    bundle = stack.endpoints.require_intercept().env["REQUESTS_CA_BUNDLE"]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        ssl.create_default_context(cafile=bundle)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    for mode in ("threads", "processes"):
        measure(mode)


def measure(mode: str) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-") as state,
        Stack(StackOptions(TOPOLOGY, Path(state), mode=mode, port_base=0, intercept=True)) as stack,
    ):
        direct, proxied = direct_chain(stack), proxied_chain(stack)
        timed(direct, WARMUP)
        timed(proxied, WARMUP)
        plain: list[float] = []
        through: list[float] = []
        for _ in range(CHAINS // BLOCK):
            plain += timed(direct, BLOCK)
            through += timed(proxied, BLOCK)
        for name, samples in (("direct", plain), ("proxy", through)):
            p50, p99 = statistics.median(samples), percentile(samples, 99)
            print(f"{mode:9} {name:6} chain (REST): p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        ratio = statistics.median(through) / statistics.median(plain)
        verdict = "meets" if ratio <= RATIO_TARGET else "MISSES"
        print(f"  proxy/direct p50 {ratio:4.2f}x ({verdict} the {RATIO_TARGET}x target)")
        bare = new_connection_ms(stack, through_proxy=False)
        tls = new_connection_ms(stack, through_proxy=True)
        print(f"  new connection + GET: direct plain {bare:5.2f} ms, proxy (CONNECT + TLS)", end="")
        print(f" {tls:5.2f} ms: set-up {tls - bare:5.2f} ms per new TLS connection")
        shared = new_connection_ms(stack, through_proxy=True, client_context=True)
        print(f"    of which the client's CA bundle load {bundle_load_ms(stack):5.2f} ms;", end="")
        print(f" with one client SSLContext: {shared:5.2f} ms, set-up {shared - bare:5.2f} ms")
