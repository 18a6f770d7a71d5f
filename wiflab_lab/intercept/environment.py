"""The variables that send a client's Google traffic through the intercepting proxy.

Every CA variable that *replaces* a client's roots (Python requests, OpenSSL, Go, gRPC, gcloud,
curl) points at a bundle holding the local CA **and** the system roots, so unrelated HTTPS
still verifies; Node's ``NODE_EXTRA_CA_CERTS`` adds to its built-in roots, so it gets the CA
alone. ``NO_PROXY`` keeps loopback direct (the lab IdP, the parts themselves).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from wiflab_core.private_file import write_private

BUNDLE_FILE = "ca-bundle.pem"
# Where the system's roots are, in the order tried (Debian, Fedora, Alpine), else certifi's.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
NO_PROXY = "localhost,127.0.0.1,::1"


def system_roots() -> str:
    for candidate in SYSTEM_BUNDLES:
        path = Path(candidate)
        if path.is_file():
            return path.read_text(encoding="utf-8")
    import certifi

    return Path(certifi.where()).read_text(encoding="utf-8")


def write_bundle(ca_pem: str, directory: Path) -> Path:
    """The local CA followed by the system roots."""
    path = directory / BUNDLE_FILE
    write_private(path, ca_pem.rstrip("\n") + "\n" + system_roots())
    path.chmod(0o644)
    return path


def variables(proxy_url: str, ca_file: Path, bundle: Path) -> dict[str, str]:
    """The environment of a client that should use intercept mode."""
    proxy = urlsplit(proxy_url)
    return {
        "HTTPS_PROXY": proxy_url,
        "HTTP_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "http_proxy": proxy_url,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
        # Python requests / google-auth, and OpenSSL-based clients (Go reads SSL_CERT_FILE).
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SSL_CERT_FILE": str(bundle),
        "CURL_CA_BUNDLE": str(bundle),
        # The AWS SDKs and CLI (botocore: AWS_CA_BUNDLE wins over REQUESTS_CA_BUNDLE).
        "AWS_CA_BUNDLE": str(bundle),
        # Node adds these to its own roots.
        "NODE_EXTRA_CA_CERTS": str(ca_file),
        # gRPC (C core: Python, Ruby, C++) replaces its roots with these.
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(bundle),
        # gcloud: its CA file, and its own proxy settings (core/custom_ca_certs_file, proxy/*).
        "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE": str(bundle),
        "CLOUDSDK_PROXY_TYPE": "http",
        "CLOUDSDK_PROXY_ADDRESS": proxy.hostname or "127.0.0.1",
        "CLOUDSDK_PROXY_PORT": str(proxy.port),
    }


def shell_lines(env: Mapping[str, str]) -> str:
    """``export NAME=value`` lines for ``eval "$(wiflab env)"`` (POSIX shells)."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def unset_lines() -> str:
    """``unset`` lines for every variable ``variables`` sets."""
    names = variables("http://127.0.0.1:1", Path("ca"), Path("bundle"))
    return f"unset {' '.join(names)}\n"
