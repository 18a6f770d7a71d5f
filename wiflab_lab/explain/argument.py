"""TOKEN_OR_FILE: a token itself, a file holding one, or an external-account config whose
``credential_source.file`` holds one (as google-auth reads it: text, or JSON with
``subject_token_field_name``). Also the IdP's and Google's token answers (``{"id_token": ...}``,
``{"access_token": ...}``). Every failure is an ``ArgumentError`` naming what is wrong; nothing
here raises anything else for any input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from wiflab_core import json_limits

ARGUMENT = "TOKEN_OR_FILE"
# Real subject tokens are a few KB; a config far less. Anything larger is not one of them.
MAX_FILE_BYTES = 1024 * 1024
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ACCESS_TOKEN = re.compile(r"^ya29\.[A-Za-z0-9._-]+$")
# Keys of token answers: the IdP's /token, STS, IAM Credentials' generateIdToken/AccessToken.
_ANSWER_KEYS = ("id_token", "token", "accessToken", "access_token")


class ArgumentError(ValueError):
    """TOKEN_OR_FILE cannot be read as a token; the message says which part and why."""


@dataclass(frozen=True)
class Argument:
    """The token, and where it was read from (for the reader)."""

    token: str
    source: str
    # An external-account config's audience: the provider its client would use.
    config_audience: str | None = None

    @property
    def is_jwt(self) -> bool:
        # Google's access tokens may hold dots too: ya29.c.A.B is no JWT.
        return not _ACCESS_TOKEN.match(self.token) and bool(_JWT.match(self.token))


def read_argument(value: str) -> Argument:
    """The token TOKEN_OR_FILE stands for, or ArgumentError."""
    text = value.strip()
    if _JWT.match(text) or _ACCESS_TOKEN.match(text):
        return _checked(Argument(text, "the argument"), ARGUMENT)
    path = _existing_file(value)
    if path is None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ArgumentError(
            f"{ARGUMENT}: {json.dumps(shown)} is neither a JWT, a Google access token (ya29.…) "
            "nor a readable file"
        )
    return _from_file(path, f"file {path}")


def _existing_file(value: str) -> Path | None:
    if not value or "\x00" in value:
        return None
    try:
        path = Path(value)
        return path if path.is_file() else None
    except (OSError, ValueError):  # a name too long, or otherwise no path at all
        return None


def _read(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ArgumentError(f"{what}: {exc.strerror or 'cannot be read'}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ArgumentError(f"{what}: larger than {MAX_FILE_BYTES} bytes: not a token")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArgumentError(f"{what}: not UTF-8 text: not a token") from None


def _from_file(path: Path, what: str) -> Argument:
    text = _read(path, what).strip()
    if _JWT.match(text) or _ACCESS_TOKEN.match(text):
        return _checked(Argument(text, what), what)
    doc = _json_object(text)
    if doc is None:
        raise ArgumentError(
            f"{what}: holds neither a JWT, a Google access token nor a JSON object "
            "(an external-account config or a token answer)"
        )
    if doc.get("type") == "external_account":
        return _from_config(doc, path, what)
    for key in _ANSWER_KEYS:
        token = doc.get(key)
        if isinstance(token, str) and (_JWT.match(token) or _ACCESS_TOKEN.match(token)):
            return _checked(Argument(token.strip(), f"{what} ({key})"), f"{what}: {key}")
    raise ArgumentError(
        f"{what}: a JSON object, but not an external-account config (type: external_account) "
        f"and without a token in any of {', '.join(_ANSWER_KEYS)}"
    )


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _from_config(doc: dict[str, Any], path: Path, what: str) -> Argument:
    source = doc.get("credential_source")
    audience = doc.get("audience") if isinstance(doc.get("audience"), str) else None
    if not isinstance(source, dict):
        raise ArgumentError(f"{what}: credential_source: missing, or not an object")
    if "file" not in source:
        kinds = ", ".join(sorted(k for k in ("url", "executable", "environment_id") if k in source))
        raise ArgumentError(
            f"{what}: credential_source.{kinds or 'file'}: explain reads token files only "
            "(it sends nothing and runs nothing); pass the token or its file instead"
        )
    file_name = source["file"]
    if not isinstance(file_name, str) or not file_name:
        raise ArgumentError(f"{what}: credential_source.file: must be a file name")
    token_path = Path(file_name)
    if not token_path.is_absolute() and not token_path.exists():
        token_path = path.parent / token_path
    where = f"{what}'s credential_source.file {token_path}"
    text = _read(token_path, where).strip()
    found = source.get("format")
    form: dict[str, Any] = found if isinstance(found, dict) else {}
    if form.get("type") == "json":
        field = form.get("subject_token_field_name")
        inner = _json_object(text)
        token = inner.get(field) if inner is not None and isinstance(field, str) else None
        if not isinstance(token, str):
            raise ArgumentError(
                f"{where}: format.subject_token_field_name {json.dumps(field)}: "
                "no such string field in the file's JSON"
            )
        text = token.strip()
    if not (_JWT.match(text) or _ACCESS_TOKEN.match(text)):
        raise ArgumentError(f"{where}: does not hold a JWT")
    return _checked(Argument(text, where, audience), where)


def _checked(argument: Argument, what: str) -> Argument:
    """A JWT-shaped token must decode: a header and claims, each a JSON object."""
    if not argument.is_jwt:
        return argument
    try:
        json_limits.check_jws_depth(argument.token)
        header = jwt.get_unverified_header(argument.token)
        claims = jwt.decode(argument.token, options={"verify_signature": False})
        json_limits.check_value(header, "header")
        json_limits.check_value(claims, "")
    except (jwt.PyJWTError, json_limits.JsonInputError, ValueError, RecursionError) as exc:
        raise ArgumentError(f"{what}: not a JWT ({exc})") from None
    if not isinstance(claims, dict):
        raise ArgumentError(f"{what}: not a JWT (its claims are not a JSON object)")
    return argument
