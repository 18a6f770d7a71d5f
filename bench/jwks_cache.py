"""The issuer-JWKS cache, private to a worker (before issue 17's shared cache) and shared
through the state dir (one ``os.stat`` of the issuer's file per lookup), in the same run:

- warm lookups of a known kid per second, each way, alternating rounds;
- one verification of an RS256 subject token per second (what STS pays per exchange anyway),
  to put the stat's cost beside the work it adds to.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cel import rate
from wiflab_core import keys
from wiflab_core.jose import verify
from wiflab_core.jwks_cache import IssuerKeyCache
from wiflab_core.serving import ThreadedServer

ROUNDS = 5


def main() -> None:
    key = keys.generate("RS256")
    server = ThreadedServer()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body: dict[str, Any] = (
            {"issuer": server.url, "jwks_uri": f"{server.url}/certs"}
            if environ["PATH_INFO"] == "/.well-known/openid-configuration"
            else keys.render_jwks([key.public_jwk])
        )
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    server.app = app
    now = int(time.time())
    token = key.sign({"iss": server.url, "sub": "s", "aud": "a", "iat": now, "exp": now + 600})
    with server, tempfile.TemporaryDirectory(prefix="wiflab-bench-jwks-") as tmp:
        private = IssuerKeyCache()
        shared = IssuerKeyCache(shared=Path(tmp))
        for cache in (private, shared):
            assert cache.key(server.url, key.kid) is not None  # warm
        before: list[float] = []
        after: list[float] = []

        def lookups(cache: IssuerKeyCache) -> float:
            return rate(lambda: cache.key(server.url, key.kid), 0.5)

        for i in range(ROUNDS):
            pair = [(before, private), (after, shared)]
            for samples, cache in pair if i % 2 == 0 else reversed(pair):
                samples.append(lookups(cache))
        lookup = shared.lookup(server.url)
        verifications = rate(
            lambda: verify(token, lookup, algorithms=("RS256",), issuer=[server.url], now=now)
        )
    b, a = statistics.median(before), statistics.median(after)
    print(f"warm lookups, private cache: {b:12,.0f} /s (median of {ROUNDS})")
    print(f"warm lookups, shared cache:  {a:12,.0f} /s  shared/private {a / b:5.2f}x")
    print(f"the stat's cost per lookup:  {1e6 / a - 1e6 / b:8.2f} us")
    print(f"RS256 verify through the shared cache: {verifications:8,.0f} /s")
    print(f"  the stat is {100 * (1 / a - 1 / b) * verifications:.2f}% of one verification")
