"""A gunicorn config module (``--config python:mock_gcp.iamcredentials.grpc_worker``): the
Google side's worker also serves IAM Credentials over gRPC, in its own process, so it shares
the worker's ``GoogleBackend`` (the tokens STS issued live in that process's memory).

The address comes from ``WIFLAB_GRPC_ADDRESS`` (``127.0.0.1:PORT``): the parent holds the
port with a socket bound with SO_REUSEPORT (``grpc.reserve_port``), and the worker's server
binds the same port. It starts before the worker accepts HTTP, so the part's HTTP readiness
covers it; the worker stops it (bounded) when it exits.
"""

from __future__ import annotations

import os
from typing import Any

ADDRESS_VARIABLE = "WIFLAB_GRPC_ADDRESS"
BACKEND_EXTENSION = "wiflab.backend"
# gunicorn's master imports this module too: grpc is imported in the worker only, after the
# fork (gRPC's core must not be started before one).
_servers: list[Any] = []


def post_worker_init(worker: Any) -> None:
    address = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if not address:
        return
    from mock_gcp.backend import GoogleBackend
    from mock_gcp.iamcredentials.grpc import GrpcServer

    backend = worker.wsgi.extensions.get(BACKEND_EXTENSION)
    if not isinstance(backend, GoogleBackend):
        raise RuntimeError(f"{ADDRESS_VARIABLE} is set but the app has no Google backend")
    _servers.append(GrpcServer(backend, address).start())


def worker_exit(server: Any, worker: Any) -> None:
    while _servers:
        _servers.pop().stop(grace=2.0)
