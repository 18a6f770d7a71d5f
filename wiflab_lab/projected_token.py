"""A Kubernetes projected service-account token file, kept fresh as the kubelet keeps it.

The kubelet writes a projected token (``serviceAccountToken`` volume source) atomically and
rewrites it once the token is older than 80 % of its lifetime or older than 24 hours
(kubernetes.io, "Configure Service Accounts for Pods", service-account-token-volume-projection);
a workload (google-auth's file-sourced credential, ``credential_source.file``) rereads it on
each refresh. ``ProjectedToken`` does the same with the lab IdP's kubernetes preset (or any
``mint`` callable): each write is mode 0600 and atomic (readers see the old token or the new,
never half), and time is an injected clock.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wiflab_core.private_file import write_private

REFRESH_FRACTION = 0.8
MAX_AGE_SECONDS = 24 * 3600


class ProjectedTokenError(ValueError):
    """A minted token the file cannot hold (not a JWT with iat and exp)."""


@dataclass(frozen=True)
class Written:
    """The token in the file now, and when it is due for a rewrite."""

    iat: int
    exp: int

    @property
    def refresh_at(self) -> float:
        lifetime = self.exp - self.iat
        return self.iat + min(REFRESH_FRACTION * lifetime, MAX_AGE_SECONDS)


def token_times(token: str) -> Written:
    """A JWT's ``iat`` and ``exp`` (read, not verified: the file's reader verifies nothing)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ProjectedTokenError("token: not a JWT (three dot-separated parts)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise ProjectedTokenError("token: its payload is not base64url JSON") from None
    iat, exp = (payload.get(name) if isinstance(payload, dict) else None for name in ("iat", "exp"))
    if not isinstance(iat, int) or not isinstance(exp, int) or exp <= iat:
        raise ProjectedTokenError("token: needs integer iat and exp, exp after iat")
    return Written(iat, exp)


class ProjectedToken:
    """The file at ``path``, holding ``mint()``'s token and rewritten before it goes stale."""

    def __init__(
        self,
        path: Path,
        mint: Callable[[], str],
        *,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 1.0,
    ):
        self.path = path
        self._poll = poll_seconds
        self._mint = mint
        self._clock = clock
        self._written: Written | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def written(self) -> Written | None:
        return self._written

    def write(self) -> Written:
        """Mint a token and put it in the file, now."""
        token = self._mint()
        written = token_times(token)
        with self._lock:
            write_private(self.path, token)
            self._written = written
        return written

    def refresh(self) -> bool:
        """Rewrite the file if it is due (or was never written); whether it was rewritten."""
        written = self._written
        if written is not None and self._clock() < written.refresh_at:
            return False
        self.write()
        return True

    def seconds_until_due(self) -> float:
        written = self._written
        return 0.0 if written is None else max(0.0, written.refresh_at - self._clock())

    # -- in the background, as the kubelet ---------------------------------------------

    def start(self) -> ProjectedToken:
        """Write the file now, then keep it fresh in a daemon thread until ``stop``."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="projected-token", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        # The clock is read again at least every poll_seconds (an injected clock may jump).
        while not self._stop.wait(min(self.seconds_until_due(), self._poll) or 0.05):
            try:
                self.refresh()
            except (OSError, ValueError):
                # The IdP gone for a moment: the old token stays; the next turn tries again.
                # A short pause rather than a spin while it is due.
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProjectedToken:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
