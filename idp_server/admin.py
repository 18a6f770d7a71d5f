"""Key rotation over HTTP, guarded by ``Authorization: Bearer <IDP_ADMIN_SECRET>``.

- ``GET /admin/keys``: ``{"keys": [{"kid", "alg", "status"}]}``
- ``POST /admin/keys`` with an optional JSON body ``{"alg": "RS256"|"ES256",
  "status": "published"|"held"|"active"}`` (defaults RS256, published): a new key, generated
  in memory on the server; answers 201 with ``{"added": {...}, "keys": [...]}``.
- ``POST /admin/keys/<kid>/activate``: the key signs from now on; the previous signer stays
  published, so tokens it signed still verify.
- ``POST /admin/keys/<kid>/retire``: the key leaves /certs and stops signing.

With no IDP_ADMIN_SECRET set, every admin route answers 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from idp_server.errors import IdpError, invalid_request
from idp_server.guard import require_bearer
from idp_server.keyset import KeyEntry, KeySet, KeyStatus
from idp_server.keystore import KeyStore
from idp_server.responses import json_response
from wiflab_core import json_limits
from wiflab_core.keys import SUPPORTED_ALGS, generate
from wiflab_core.private_file import is_disk_full

log = logging.getLogger(__name__)

_NEW_KEY_STATUSES = (KeyStatus.PUBLISHED, KeyStatus.HELD, KeyStatus.ACTIVE)


def parse_new_key(body: bytes) -> tuple[str, KeyStatus]:
    """The alg and status asked for by ``POST /admin/keys``."""
    try:
        fields: Any = json_limits.loads(body, "body") if body.strip() else {}
    except json_limits.JsonInputError as exc:
        raise invalid_request(str(exc)) from None
    if not isinstance(fields, dict):
        raise invalid_request('body: expected a JSON object such as {"alg": "ES256"}')
    alg = fields.get("alg", "RS256")
    if alg not in SUPPORTED_ALGS:
        raise invalid_request(f"alg: unsupported {alg!r}; supported: {', '.join(SUPPORTED_ALGS)}")
    status = fields.get("status", KeyStatus.PUBLISHED.value)
    if status not in [s.value for s in _NEW_KEY_STATUSES]:
        allowed = ", ".join(s.value for s in _NEW_KEY_STATUSES)
        raise invalid_request(f"status: {status!r} is not one of {allowed}")
    return alg, KeyStatus(status)


def stored(store: KeyStore, change: Callable[[KeySet], KeySet]) -> KeySet:
    """store.update, with a failure to write the key state told as what it is: 507
    ``insufficient_storage`` for a full disk, else 500 ``server_error``; the stored keys (and
    the keys served) stay as they were."""
    try:
        return store.update(change)
    except OSError as exc:
        log.error("key state not written, keys unchanged: %s", exc)
        if is_disk_full(exc):
            raise IdpError(
                507,
                "insufficient_storage",
                f"key state: not written, the disk is full ({exc.strerror}); keys unchanged",
            ) from None
        raise IdpError(
            500, "server_error", f"key state: not written ({exc.strerror}); keys unchanged"
        ) from None


def admin_blueprint(store: KeyStore, admin_secret: str | None) -> Blueprint:
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.before_request
    def guard_admin() -> None:
        if admin_secret is None:
            raise IdpError(
                403, "forbidden", "admin routes are disabled: start the IdP with IDP_ADMIN_SECRET"
            )
        require_bearer(
            request.headers.get("Authorization"),
            admin_secret,
            "use the admin routes",
            "IDP_ADMIN_SECRET",
        )

    def listing(keyset: KeySet, status: int = 200, **extra: Any) -> Response:
        return json_response({**extra, "keys": keyset.listing()}, status)

    @admin.get("/keys")
    def list_keys() -> Response:
        return listing(store.current())

    @admin.post("/keys")
    def add_key() -> Response:
        alg, status = parse_new_key(request.get_data(cache=False))
        key = generate(alg)
        keyset = stored(store, lambda keys: keys.added(key, status))
        log.info("key %s added (%s, %s)", key.kid, alg, status.value)
        return listing(keyset, 201, added=KeyEntry(key, status).describe())

    @admin.post("/keys/<kid>/activate")
    def activate_key(kid: str) -> Response:
        keyset = stored(store, lambda keys: keys.activated(kid))
        log.info("key %s activated", kid)
        return listing(keyset)

    @admin.post("/keys/<kid>/retire")
    def retire_key(kid: str) -> Response:
        keyset = stored(store, lambda keys: keys.retired(kid))
        log.info("key %s retired", kid)
        return listing(keyset)

    return admin
