"""One key source for Google's side: the issuer's signing keys, service accounts' keys and the
key that seals the stand-in's opaque tokens.

Every worker and every instance that opens the same source signs and seals with the same keys,
so an ID token, a signed JWT or an access token from one is good on all the others. The
source is a JSON file (mode 0600, written through ``wiflab_core.private_file``): in the state
dir locally, or a path given by ``WIFLAB_GOOGLE_KEYS`` (a mounted secret on Cloud Run). It is
made at first start and read afterwards. Without a path the keys live in this process only.

Rotation needs no restart: ``rotate`` writes a new issuer key and a new sealing key in front of
the previous ones (which stay published and usable for verification), and every reader notices
the change with one ``os.stat`` per request and parses the file again only when it changed
(as ``idp_server.keystore`` does for the IdP's keys). A service account's key is made the
first time that account signs and written to the file under an exclusive lock, so two workers
never make two keys; a read-only source (a mounted secret) keeps such a key in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wiflab_core import keys
from wiflab_core.state_file import Stamp, exclusive, stamp_of, stamp_or_missing, write_stamped

log = logging.getLogger(__name__)

KEY_FILE_NAME = "google-keys.json"
FORMAT = "wiflab-google-keys/1"
# Google publishes the current and the previous issuer keys; tokens sealed with the previous
# sealing key stay good until they expire (an hour at most for the ones issued by default).
KEPT_KEYS = 2
SEALING_KEY_BYTES = 32  # AES-256-GCM
SEALING_ID_BYTES = 4


class KeySourceError(ValueError):
    """The key file cannot be read or is not one: the message names the file."""


@dataclass(frozen=True)
class SealingKey:
    """An AES-256-GCM key and the short id tokens name it by."""

    key: bytes = field(repr=False)

    @cached_property
    def id(self) -> bytes:
        return hashlib.sha256(b"wiflab-sealing-key-id:" + self.key).digest()[:SEALING_ID_BYTES]

    @cached_property
    def aead(self) -> AESGCM:
        return AESGCM(self.key)

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(AESGCM.generate_key(bit_length=SEALING_KEY_BYTES * 8))


@dataclass(frozen=True)
class Certified:
    """A signing key with the self-signed certificate Google's PEM maps publish for it."""

    key: keys.SigningKey
    certificate: str


def google_key_id(key: keys.SigningKey) -> str:
    """Google's service-account key ids: 40 hex characters (a SHA-1 of the public key)."""
    der = key.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(der).hexdigest()


def new_issuer_key() -> Certified:
    key = keys.generate("RS256")
    return Certified(key, key.certificate_pem("wiflab-google-issuer"))


def new_account_key(email: str) -> Certified:
    generated = keys.generate("RS256")
    key = keys.SigningKey.of(generated.private, kid=google_key_id(generated))
    return Certified(key, key.certificate_pem(email))


@dataclass(frozen=True)
class KeyMaterial:
    """One consistent set of keys; newest first in each list."""

    sealing: tuple[SealingKey, ...]
    issuer: tuple[Certified, ...]
    accounts: Mapping[str, Certified] = field(default_factory=dict)

    @classmethod
    def fresh(cls, issuer_keys: list[keys.SigningKey] | None = None) -> KeyMaterial:
        issuer = (
            tuple(Certified(k, k.certificate_pem("wiflab-google-issuer")) for k in issuer_keys)
            if issuer_keys
            else (new_issuer_key(),)
        )
        return cls(sealing=(SealingKey.generate(),), issuer=issuer[:KEPT_KEYS])

    # -- what readers use --------------------------------------------------------------

    @property
    def active_issuer(self) -> keys.SigningKey:
        return self.issuer[0].key

    @cached_property
    def issuer_jwks(self) -> dict[str, Any]:
        return keys.render_jwks(c.key.public_jwk for c in self.issuer)

    @cached_property
    def issuer_pem_map(self) -> dict[str, str]:
        return {c.key.kid: c.certificate for c in self.issuer}

    @cached_property
    def _verification(self) -> keys.VerificationKeys:
        return keys.VerificationKeys(self.issuer_jwks)

    def issuer_key(self, kid: str) -> jwt.PyJWK | None:
        return self._verification.get(kid)

    @cached_property
    def sealing_by_id(self) -> dict[bytes, SealingKey]:
        return {k.id: k for k in self.sealing}

    # -- changes -----------------------------------------------------------------------

    def rotated(self, *, issuer: bool = True, sealing: bool = True) -> KeyMaterial:
        """New active keys in front; the previous ones stay for verification."""
        return replace(
            self,
            issuer=((new_issuer_key(), *self.issuer) if issuer else self.issuer)[:KEPT_KEYS],
            sealing=((SealingKey.generate(), *self.sealing) if sealing else self.sealing)[
                :KEPT_KEYS
            ],
        )

    def with_account(self, email: str, certified: Certified) -> KeyMaterial:
        return replace(self, accounts={**self.accounts, email: certified})

    # -- the file ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        def certified(c: Certified) -> dict[str, str]:
            return {"kid": c.key.kid, "pem": c.key.private_pem(), "certificate": c.certificate}

        return {
            "format": FORMAT,
            "sealing": [_b64(k.key) for k in self.sealing],
            "issuer": [certified(c) for c in self.issuer],
            "service_accounts": {email: certified(c) for email, c in self.accounts.items()},
        }

    @classmethod
    def from_state(cls, text: str) -> KeyMaterial:
        """Raises KeySourceError saying what is wrong (never the keys themselves)."""
        try:
            state = json.loads(text)
        except ValueError:
            raise KeySourceError("not JSON") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise KeySourceError(f"not a key file (format is not {FORMAT!r})")
        try:
            sealing = tuple(SealingKey(_unb64(k)) for k in state["sealing"])
            if not sealing or any(len(k.key) != SEALING_KEY_BYTES for k in sealing):
                raise KeySourceError(f"sealing: one or more {SEALING_KEY_BYTES}-byte keys")
            issuer = tuple(_certified(c) for c in state["issuer"])
            if not issuer:
                raise KeySourceError("issuer: one or more keys")
            accounts = {str(email): _certified(c) for email, c in state["service_accounts"].items()}
        except KeySourceError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise KeySourceError(f"malformed ({type(exc).__name__}: {exc})") from None
        return cls(sealing=sealing, issuer=issuer, accounts=accounts)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise KeySourceError("sealing: keys are base64url strings")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _certified(entry: Any) -> Certified:
    if not isinstance(entry, dict):
        raise KeySourceError("a key entry is not an object")
    loaded = keys.load_signing_keys(str(entry["pem"]))
    if len(loaded) != 1:
        raise KeySourceError("a key entry holds more than one key")
    key = keys.SigningKey.of(loaded[0].private, kid=str(entry["kid"]))
    return Certified(key, str(entry["certificate"]))


class KeySource:
    """The current key material: in memory, or in one file every worker and instance shares."""

    def __init__(self, material: KeyMaterial | None = None, path: Path | None = None):
        self._material = material or KeyMaterial.fresh()
        self._path = path
        self._stamp = stamp_of(path) if path else None
        self._lock = threading.Lock()
        # Keys made here that the file could not take (a read-only mounted secret).
        self._local_accounts: dict[str, Certified] = {}

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> KeySource:
        """The source in path; made there (0600) first when missing and ``create``."""
        if create and not path.exists():
            with _exclusive(path):
                if not path.exists():
                    _write(path, KeyMaterial.fresh())
        try:
            return cls(KeyMaterial.from_state(path.read_text(encoding="utf-8")), path)
        except OSError as exc:
            raise KeySourceError(f"WIFLAB_GOOGLE_KEYS: cannot read {path}: {exc}") from None
        except KeySourceError as exc:
            raise KeySourceError(f"WIFLAB_GOOGLE_KEYS: {path}: {exc}") from None

    @property
    def path(self) -> Path | None:
        return self._path

    def current(self) -> KeyMaterial:
        """The newest keys: one stat of the file, and a parse only when it changed."""
        if self._path is not None:
            self._reload_if_changed(self._path)
        return self._material

    def update(self, change: Callable[[KeyMaterial], KeyMaterial]) -> KeyMaterial:
        """Apply change to the newest keys and store the result where every reader sees it."""
        with self._lock, _exclusive(self._path):
            if self._path is not None:
                self._reload_if_changed(self._path)
            material = change(self._material)
            if self._path is not None:
                self._stamp = _write(self._path, material)
            self._material = material
        return material

    def rotate(self, *, issuer: bool = True, sealing: bool = True) -> KeyMaterial:
        return self.update(lambda m: m.rotated(issuer=issuer, sealing=sealing))

    def account_key(self, email: str) -> Certified:
        """The account's key, made (once, across workers) the first time it is asked for."""
        found = self.current().accounts.get(email) or self._local_accounts.get(email)
        if found is not None:
            return found

        def add(material: KeyMaterial) -> KeyMaterial:
            if email in material.accounts:
                return material
            return material.with_account(email, new_account_key(email))

        try:
            return self.update(add).accounts[email]
        except OSError as exc:
            with self._lock:
                if email not in self._local_accounts:
                    log.warning(
                        "key file %s cannot take the key of %s (%s): it is kept in this "
                        "process only",
                        self._path,
                        email,
                        exc,
                    )
                    self._local_accounts[email] = new_account_key(email)
                return self._local_accounts[email]

    def _reload_if_changed(self, path: Path) -> None:
        stamp = stamp_or_missing(path)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a broken file is reported once, not on every request
        try:
            self._material = KeyMaterial.from_state(path.read_text(encoding="utf-8"))
        except (OSError, KeySourceError) as exc:
            # Keep serving the last good keys rather than failing every request.
            log.error("key file %s unreadable, keeping the previous keys: %s", path, exc)


def _write(path: Path, material: KeyMaterial) -> Stamp:
    """Store material where every reader notices it (wiflab_core.state_file); its stamp."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return write_stamped(path, json.dumps(material.to_state()))


@contextmanager
def _exclusive(path: Path | None) -> Iterator[None]:
    """An exclusive lock across processes, so two changes never interleave."""
    if path is None:
        yield
        return
    with exclusive(path):
        yield


USAGE = (
    "usage: python -m mock_gcp.key_source rotate PATH\n"
    "       python -m mock_gcp.key_source new [--account=EMAIL]..."
)


def new_key_file(accounts: list[str]) -> str:
    """A fresh key source's text, with a key for each account already in it: instances that
    mount it read-only (a Secret Manager secret) then sign as those accounts with one key."""
    material = KeyMaterial.fresh()
    for email in dict.fromkeys(accounts):
        material = material.with_account(email, new_account_key(email))
    return json.dumps(material.to_state())


def main(argv: list[str]) -> int:
    """``python -m mock_gcp.key_source rotate PATH``: new issuer and sealing keys in front of
    the previous ones, seen by every worker and instance at their next request.
    ``new [--account=EMAIL]...``: a fresh key source on stdout (for ``gcloud secrets create
    --data-file=-``), never written to a file here."""
    if argv[:1] == ["new"]:
        accounts = [a.removeprefix("--account=") for a in argv[1:]]
        if any(a.startswith("-") or "@" not in a for a in accounts):
            print(USAGE, file=sys.stderr)
            return 2
        sys.stdout.write(new_key_file(accounts))
        return 0
    if len(argv) != 2 or argv[0] != "rotate":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        material = KeySource.open(Path(argv[1]), create=False).rotate()
    except (KeySourceError, OSError) as exc:
        print(f"mock_gcp.key_source: {exc}", file=sys.stderr)
        return 1
    published = ", ".join(c.key.kid for c in material.issuer)
    print(f"rotated: issuer keys now {published} (the first signs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
