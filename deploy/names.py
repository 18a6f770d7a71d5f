"""Names setup gives what it makes beyond the topology, shared with teardown and the config."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from mock_gcp.topology import IDP_APP, PROTECTED_APP

# One IdP per project: its signing key (a mounted file) and its /token secret (an env var).
SIGNING_KEY_SECRET = "wiflab-idp-signing-key"
TOKEN_SECRET = "wiflab-idp-token-secret"
SIGNING_KEY_FILE = "/secrets/idp/signing-key.pem"
# The identities the services run as: the IdP reads its secrets, the app needs nothing.
RUNTIME_ACCOUNTS = {IDP_APP: "wiflab-idp-runtime", PROTECTED_APP: "wiflab-app-runtime"}
RUNTIME_DISPLAY_NAMES = {IDP_APP: "wiflab IdP (Cloud Run)", PROTECTED_APP: "wiflab app (Cloud Run)"}

PROJECT_NUMBER = "PROJECT_NUMBER"
TOKEN_SECRET_VARIABLE = "IDP_TOKEN_SECRET"
# A Cloud Run label and a pool/provider description carry the fingerprint of the settings
# they were last applied with: equal means up to date, so a second run changes nothing.
CONFIG_LABEL = "wiflab_config"
PENDING = "pending"


def url_variable(service: str) -> str:
    """The shell variable holding a Cloud Run service's URL."""
    return "URL_" + service.upper().replace("-", "_")


def variable(name: str) -> str:
    return "${" + name + "}"


def fingerprint(*argvs: Sequence[str]) -> str:
    """``wiflab-`` and 16 hex digits of the commands' arguments: a label value and a
    description Google accepts."""
    digest = hashlib.sha256(json.dumps([list(a) for a in argvs]).encode("utf-8")).hexdigest()
    return f"wiflab-{digest[:16]}"
