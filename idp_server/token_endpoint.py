"""``/token`` as plain WSGI in front of Flask: the IdP's one hot route.

Profiled under gunicorn (bench/idp_tokens.py) as a Flask route, a token cost ~455 us of CPU:
RS256 signing ~225 (OpenSSL's own floor), gunicorn's sync worker and the TCP connection ~90,
and Flask's per-request machinery (request context, URL adapter, session, signals) ~80, more
than all of the IdP's own rules. Served here it costs ~380 us. The rules (caller check, claims,
key choice) and the error rendering are the ones the Flask routes use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host, get_input_stream

from idp_server.errors import IdpError
from idp_server.minting import MAX_BODY_BYTES, Minter, parse_claims
from idp_server.responses import JSON, TEXT, error_response, json_response
from idp_server.settings import normalise_issuer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def issuer_of(configured: str | None, environ: dict[str, Any]) -> str:
    """The configured issuer, else (IDP_ISSUER_FROM_HOST) the URL this request came in on."""
    if configured is not None:
        return configured
    root = f"{environ['wsgi.url_scheme']}://{get_host(environ)}{environ.get('SCRIPT_NAME', '')}"
    return normalise_issuer(root)


class TokenEndpoint:
    """Serves ``/token`` itself and hands every other path to the Flask app."""

    def __init__(self, app: WsgiApp, minter: Minter, issuer: str | None):
        self._app = app
        self._minter = minter
        self._issuer = issuer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != "/token":
            return self._app(environ, start_response)
        try:
            response = self._mint(environ)
        except IdpError as exc:
            response = error_response(exc, "/token")
        return response(environ, start_response)

    def _mint(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "")
        if method != "POST":
            raise IdpError(
                405,
                "method_not_allowed",
                f"method: {method} is not allowed on /token",
                {"Allow": "POST"},
            )
        self._minter.check_caller(environ.get("HTTP_AUTHORIZATION"))
        claims = parse_claims(_read_body(environ))
        args = _query_args(environ.get("QUERY_STRING", ""))
        minted = self._minter.mint(
            claims,
            issuer=issuer_of(self._issuer, environ),
            alg=args.get("alg"),
            kid=args.get("kid"),
        )
        if _wants_json(environ.get("HTTP_ACCEPT")):
            return json_response(minted.as_json())
        return Response(minted.token, mimetype=TEXT)


def _read_body(environ: dict[str, Any]) -> bytes:
    # One byte over the limit is read, so that a chunked body (no Content-Length) that is too
    # large is told apart from one exactly at the limit: werkzeug stops quietly at its limit.
    # read() with no size reads to the end: one sized read may stop at a chunk boundary.
    try:
        body = get_input_stream(environ, max_content_length=MAX_BODY_BYTES + 1).read()
    except RequestEntityTooLarge:
        raise too_large() from None
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    return body


def too_large() -> IdpError:
    return IdpError(413, "request_too_large", f"body: larger than the {MAX_BODY_BYTES}-byte limit")


def _query_args(query: str) -> dict[str, str]:
    """The first value of each parameter, as Flask's request.args.get gives it."""
    args: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        args.setdefault(name, value)
    return args


def _wants_json(accept: str | None) -> bool:
    """JSON only when asked for: text/plain (what curl users expect) otherwise and on ties."""
    if not accept:
        return False
    return parse_accept_header(accept, MIMEAccept).best_match([TEXT, JSON]) == JSON
