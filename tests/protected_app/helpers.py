"""Test helpers: a JWKS served over loopback, token claims, the signature Cloud Run removes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify

from protected_app.settings import Settings
from wiflab_core.keys import SigningKey, render_jwks
from wiflab_core.serving import ThreadedServer

ISSUER = "https://idp.example"
AUDIENCE = "https://dump.example"

ServeDump = Callable[[Settings], str]


class JwksServer:
    """A JWKS over HTTP whose keys can change and which counts how often it is fetched."""

    def __init__(self, keys: list[SigningKey]):
        self.keys = keys
        self.fetches = 0
        app = Flask(__name__)

        @app.get("/certs")
        def certs() -> Any:
            self.fetches += 1
            return jsonify(render_jwks(k.public_jwk for k in self.keys))

        self.server = ThreadedServer(app)
        self.url = self.server.url + "/certs"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "112233445566778899",
        "email": "caller@project.iam.gserviceaccount.com",
        "iat": now,
        "exp": now + 3600,
    }
    return {**base, **overrides}


def signature_removed(token: str) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"
