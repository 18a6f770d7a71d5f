"""Constants of the wire that more than one package speaks: written once, here.

RFC 8693 token exchange (the grant, the token types, the form a client posts), Google's
ID-token issuer names, and the marker Cloud Run leaves in place of a checked JWT's signature.
"""

from __future__ import annotations

# RFC 8693 section 2.1 (the grant) and section 3 (token type identifiers).
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
# The subject token types STS accepts from OIDC providers.
OIDC_SUBJECT_TOKEN_TYPES = (JWT_TOKEN_TYPE, ID_TOKEN_TYPE)
# A serialized, SigV4-signed AWS GetCallerIdentity request (AWS providers).
AWS4_REQUEST_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# Real Google ID tokens say https://accounts.google.com, or the same without scheme.
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")

# Cloud Run forwards the credential it checked with this in place of the JWT's signature.
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"

# The lab's Cloud Run front end tells its app what it checked (not a Google header): its
# value is "checked=<header name>" or "checked=none" (a public service checks nothing), then
# "; secret=<the shared secret>" when one is configured. Any such header a caller sends is
# dropped by the front end.
FRONT_END_HEADER = "X-Wiflab-Front-End"


def token_exchange_form(
    audience: str,
    subject_token: str,
    *,
    scope: str = CLOUD_PLATFORM_SCOPE,
    subject_token_type: str = JWT_TOKEN_TYPE,
) -> dict[str, str]:
    """The form body of ``POST /v1/token`` as google-auth sends it (RFC 8693 section 2.1)."""
    return {
        "grant_type": TOKEN_EXCHANGE,
        "audience": audience,
        "scope": scope,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
    }
