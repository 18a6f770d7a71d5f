"""JSON responses, for every route and every refusal alike."""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.wrappers import Response

from idp_server.errors import IdpError
from wiflab_core.keys import SUPPORTED_ALGS
from wiflab_core.log_safe import escaped

JSON = "application/json"
TEXT = "text/plain"
# The full header values, so that building a response does not compute them each time.
_TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

log = logging.getLogger(__name__)


# direct_passthrough: the body is one bytes object already, so the server gets that list as it
# is rather than werkzeug's re-encoding generator wrapped in a closing iterator.


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON, direct_passthrough=True)


def text_response(text: str) -> Response:
    return Response(text, content_type=_TEXT_CONTENT_TYPE, direct_passthrough=True)


def discovery_document(issuer: str, claims_supported: list[str]) -> bytes:
    """An OpenID discovery document for ``issuer``: keys at ``/certs``, tokens at ``/token``."""
    base = issuer.rstrip("/")
    return json.dumps(
        {
            "issuer": issuer,
            "jwks_uri": f"{base}/certs",
            "token_endpoint": f"{base}/token",
            "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": claims_supported,
        }
    ).encode("utf-8")


def error_response(exc: IdpError, path: str) -> Response:
    if exc.status == 401:
        # The description names the setting, never the secret sent or expected.
        log.warning("refused %s: %s", escaped(path), escaped(exc.description))
    response = json_response(exc.body(), exc.status)
    response.headers.update(exc.headers)
    return response
