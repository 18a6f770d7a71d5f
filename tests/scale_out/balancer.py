"""A small round-robin HTTP balancer on loopback: each request goes to the next instance.

Per request, not per connection (clients keep their connections alive, so a TCP balancer
would pin a whole chain to one instance). Like any load balancer in front of instances that
may die, a request whose connection to an instance fails before any answer (refused, reset:
a killed worker) is sent on to the next instance; an answer, whatever its status, is passed
back as it is. Every hop is recorded: which instance answered which path.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

import requests

# RFC 9110 section 7.6.1, plus what requests recomputes (the body is passed decoded).
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        "host",
    }
)


@dataclass(frozen=True)
class Hop:
    instance: int
    method: str
    path: str
    status: int


class RoundRobin:
    def __init__(self, upstreams: list[str]):
        self.upstreams = upstreams
        self._next = itertools.cycle(range(len(upstreams)))
        self._lock = threading.Lock()
        self.hops: list[Hop] = []
        self.passed_on = 0  # requests whose first instance failed to answer

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        target = path + (f"?{query}" if query else "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _DROPPED
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        with self._lock:
            first = next(self._next)
        for attempt in range(len(self.upstreams)):
            instance = (first + attempt) % len(self.upstreams)
            try:
                answer = requests.request(
                    method,
                    self.upstreams[instance] + target,
                    headers=headers,
                    data=body,
                    timeout=30,
                    allow_redirects=False,
                )
            # An instance that died before or while answering (a reset mid-body too: this
            # balancer buffers the whole answer before sending it on, so it may retry, as a
            # buffering proxy such as Envoy with retry_on: reset does).
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                with self._lock:
                    self.passed_on += 1
                continue
            with self._lock:
                self.hops.append(Hop(instance, method, path, answer.status_code))
            kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _DROPPED]
            kept.append(("Content-Length", str(len(answer.content))))
            start_response(f"{answer.status_code} {answer.reason}", kept)
            return [answer.content]
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"no instance answered\n"]
