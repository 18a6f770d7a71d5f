"""Test helpers: Google-style ID tokens, Cloud Run's error pages, an upstream that misbehaves."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request, stream_with_context

GOOGLE_ISSUER = "http://google-issuer.test"
CALLER = "caller@wiflab-demo.iam.gserviceaccount.com"
CALLER_UNIQUE_ID = "100000000000000000001"
STRANGER = "stranger@wiflab-demo.iam.gserviceaccount.com"
CUSTOM_AUDIENCE = "https://dump.custom.example"

BIG_CHUNK = bytes(range(256)) * 256  # 64 KiB
BIG_CHUNKS = 64  # 4 MiB in all


def id_token_claims(audience: str, **overrides: Any) -> dict[str, Any]:
    """Claims as Google's generateIdToken(includeEmail=true) sets them."""
    now = int(time.time())
    claims = {
        "iss": GOOGLE_ISSUER,
        "aud": audience,
        "azp": CALLER_UNIQUE_ID,
        "sub": CALLER_UNIQUE_ID,
        "email": CALLER,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    return {**claims, **overrides}


def forbidden_page(path: str) -> bytes:
    """Google's 403 page as captured from Cloud Run (leading newline included)."""
    return (
        "\n<html><head>\n"
        '<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
        "<title>403 Forbidden</title>\n"
        "</head>\n"
        "<body text=#000000 bgcolor=#ffffff>\n"
        "<h1>Error: Forbidden</h1>\n"
        f"<h2>Your client does not have permission to get URL <code>{path}</code>"
        " from this server.</h2>\n"
        "<h2></h2>\n"
        "</body></html>\n"
    ).encode()


def unauthorized_page(path: str) -> bytes:
    return (
        "\n<html><head>\n"
        '<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
        "<title>401 Unauthorized</title>\n"
        "</head>\n"
        "<body text=#000000 bgcolor=#ffffff>\n"
        "<h1>Error: Unauthorized</h1>\n"
        f"<h2>Your client does not have permission to the requested URL <code>{path}</code>."
        "</h2>\n"
        "<h2></h2>\n"
        "</body></html>\n"
    ).encode()


class EchoUpstream:
    """An app behind the front end that echoes requests and streams on demand."""

    def __init__(self) -> None:
        self.release = threading.Event()
        app = Flask(__name__)

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]

        @app.route("/echo/<path:rest>", methods=methods, provide_automatic_options=False)
        def echo(rest: str) -> Response:
            response = jsonify(
                method=request.method,
                target=request.environ.get("REQUEST_URI"),
                body=request.get_data(as_text=True),
                headers=dict(request.headers.items()),
            )
            response.headers["X-Method"] = request.method
            return response

        @app.get("/big")
        def big() -> Response:
            def chunks() -> Any:
                for _ in range(BIG_CHUNKS):
                    yield BIG_CHUNK

            return Response(chunks(), mimetype="application/octet-stream")

        @app.get("/slow")
        def slow() -> Response:
            def chunks() -> Any:
                yield b"first;"
                # A buffering proxy keeps the first chunk until this gives up.
                yield b"released" if self.release.wait(10) else b"timed-out"

            return Response(stream_with_context(chunks()), mimetype="text/plain")

        @app.get("/cookies")
        def cookies() -> Response:
            response = Response(b"\x1f\x8bnot-really-gzip", status=207)
            response.headers["Content-Type"] = "application/x-custom"
            response.headers["Content-Encoding"] = "gzip"
            response.headers.add("Set-Cookie", "a=1")
            response.headers.add("Set-Cookie", "b=2")
            return response

        self.app = app
