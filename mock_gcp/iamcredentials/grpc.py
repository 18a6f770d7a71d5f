"""``google.iam.credentials.v1.IAMCredentials`` over gRPC, as google-cloud-iam's default
transport (and Node's, Go's, Java's) calls it.

The transport only, like ``http.py``: the request message is read with the protobuf classes
google-cloud-iam ships (no generated code of our own), turned into the proto3 JSON the REST
body would be, and handed to the same rules (``methods.IamCredentials.call``) with the same
``GoogleBackend``: federated tokens from STS are accepted, and every refusal is the REST
one. A refusal becomes Google's gRPC status: the canonical code of the REST ``status``
(``PERMISSION_DENIED``, ``UNAUTHENTICATED``, ...), the same message, and the same details
(``ErrorInfo``, ``BadRequest``) as a ``google.rpc.Status`` in ``grpc-status-details-bin``.
Google's REST errors are the JSON form of that very Status, so each REST capture is also
the gRPC one (unverified for the details: no first-hand gRPC capture of them was found).

The server is plaintext HTTP/2 (h2c) on loopback: the intercepting proxy terminates TLS for
``iamcredentials.googleapis.com`` and forwards here.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.cloud.iam_credentials_v1 import types
from google.protobuf import any_pb2, json_format, message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError, invalid_argument
from mock_gcp.iamcredentials.methods import IamCredentials

SERVICE_NAME = "google.iam.credentials.v1.IAMCredentials"
log = logging.getLogger("wiflab.google.grpc")
# Imported for their descriptors: the details' "@type"s resolve in the default pool.
_DETAIL_TYPES = (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest)
# Google's front end refuses larger requests; the REST side's limit is 64 KiB (MAX_BODY).
MAX_MESSAGE_BYTES = 64 * 1024
# unverified: Google's text for a request that is not a valid protobuf message.
MALFORMED = "Invalid request: the message could not be parsed."
_WORKERS = 16


@dataclass(frozen=True)
class _Method:
    rest: str  # the REST method name, as methods.IamCredentials.call takes it
    request: type[message.Message]
    response: type[message.Message]


METHODS: dict[str, _Method] = {
    "GenerateAccessToken": _Method(
        "generateAccessToken",
        types.GenerateAccessTokenRequest.pb(),
        types.GenerateAccessTokenResponse.pb(),
    ),
    "GenerateIdToken": _Method(
        "generateIdToken", types.GenerateIdTokenRequest.pb(), types.GenerateIdTokenResponse.pb()
    ),
    "SignBlob": _Method("signBlob", types.SignBlobRequest.pb(), types.SignBlobResponse.pb()),
    "SignJwt": _Method("signJwt", types.SignJwtRequest.pb(), types.SignJwtResponse.pb()),
}


def grpc_status(error: ApiError) -> grpc.Status:
    """Google's gRPC answer for a REST refusal: its canonical code (the REST ``status``), the
    same message, the same details packed as ``google.rpc.Status`` details."""
    code = getattr(grpc.StatusCode, error.status, grpc.StatusCode.UNKNOWN)
    details = []
    for detail in error.details:
        packed = any_pb2.Any()
        json_format.ParseDict(detail, packed)
        details.append(packed)
    status = status_pb2.Status(code=code.value[0], message=error.message, details=details)
    return rpc_status.to_status(status)


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    """The call's metadata, keys lowercase (the last of a repeated key wins); binary
    (``-bin``) entries are not text and are left out."""
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            found[key.lower()] = value
    return found


class IamCredentialsGrpc:
    """The four methods as gRPC handlers over ``IamCredentials`` (the REST rules)."""

    def __init__(self, backend: GoogleBackend):
        self._service = IamCredentials(backend)

    def handle(self, name: str, data: bytes, context: grpc.ServicerContext) -> bytes:
        method = METHODS[name]
        try:
            body = self._request_body(method, data)
        except ApiError as error:
            context.abort_with_status(grpc_status(error))
            raise AssertionError("abort_with_status returned") from None
        resource = body.pop("name", "")
        # x-goog-request-params (name=projects%2F-%2F...) routes the call at Google's front
        # end; the resource is the message's own name, so it is accepted and not needed.
        authorization = _metadata(context).get("authorization")
        outcome = self._service.call(method.rest, resource, authorization, body)
        if outcome.error is not None:
            context.abort_with_status(grpc_status(outcome.error))
            raise AssertionError("abort_with_status returned")
        assert outcome.body is not None
        answer = method.response()
        json_format.ParseDict(outcome.body, answer)
        return answer.SerializeToString()

    @staticmethod
    def _request_body(method: _Method, data: bytes) -> dict[str, Any]:
        """The request as the proto3 JSON a REST body would carry (camelCase names)."""
        request = method.request()
        try:
            request.ParseFromString(data)
            return json_format.MessageToDict(request)
        except (message.DecodeError, ValueError, json_format.Error, RecursionError):
            # Not a message of this type (truncated, a wrong wire type, invalid UTF-8 in a
            # string), or a Duration out of range.
            raise invalid_argument(MALFORMED) from None

    def generic_handler(self) -> grpc.GenericRpcHandler:
        def unary(name: str) -> grpc.RpcMethodHandler:
            def call(data: bytes, context: grpc.ServicerContext) -> bytes:
                return self.handle(name, data, context)

            # No deserializer: the handler parses, so a malformed message is Google's
            # INVALID_ARGUMENT and not grpcio's INTERNAL "Exception deserializing request!".
            return grpc.unary_unary_rpc_method_handler(call)

        return grpc.method_handlers_generic_handler(
            SERVICE_NAME, {name: unary(name) for name in METHODS}
        )


def grpc_address(host: str, port: int) -> str:
    """``HOST:PORT`` as gRPC targets spell it (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def reserve_port(host: str, port: int = 0) -> socket.socket:
    """A socket bound (not listening) with SO_REUSEPORT: it holds the port, known before
    the gRPC server starts, for a server in this process or a child (which binds the same
    port with SO_REUSEPORT, as grpcio does). Connections go only to the listening one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class GrpcServer:
    """The gRPC listener beside the Google side's HTTP one, on loopback, same backend."""

    def __init__(
        self,
        backend: GoogleBackend,
        address: str,
        *,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
    ):
        self.address = address
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="wiflab-grpc"),
            handlers=[IamCredentialsGrpc(backend).generic_handler()],
            interceptors=list(interceptors),
            options=[
                ("grpc.so_reuseport", 1),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                # Half-open connections (a client gone without a FIN) are found and closed.
                ("grpc.keepalive_time_ms", 60_000),
            ],
        )
        bound = self._server.add_insecure_port(address)
        if bound == 0:
            raise OSError(f"gRPC could not listen on {address}")
        self.port = bound
        self._stopped = threading.Event()

    def start(self) -> GrpcServer:
        self._server.start()
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, let calls in flight finish for ``grace`` seconds, then end."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.stop(grace).wait(grace + 1)

    def __enter__(self) -> GrpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(backend: GoogleBackend, host: str, port: int = 0) -> GrpcServer:
    """A started server on HOST:PORT (0: an ephemeral port, see ``.port``)."""
    return GrpcServer(backend, grpc_address(host, port)).start()
