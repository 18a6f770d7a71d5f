"""Item 5 of issue 12: tokens with fresh random kids must not hammer the issuer, and a hung
issuer must not take every request thread."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from wiflab_core import keys
from wiflab_core.jose import Reason, TokenRejected, verify
from wiflab_core.jwks_cache import IssuerKeyCache, IssuerUnreachable
from wiflab_core.serving import ThreadedServer

KEY = keys.generate("RS256")
NOW = 1_700_000_000


class FakeIdp:
    """Discovery and JWKS on port 0; counts every fetch; hangs while ``hang`` is set."""

    def __init__(self) -> None:
        self.fetches: Counter[str] = Counter()
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hung = threading.Semaphore(0)
        self.published = [KEY]
        self.server = ThreadedServer(self.app)
        self.url = self.server.url

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        self.fetches[path] += 1
        if self.hang.is_set():
            self.hung.release()
            self.release.wait(30)
        if path == "/.well-known/openid-configuration":
            body = {"issuer": self.url, "jwks_uri": f"{self.url}/certs"}
        else:
            body = {"keys": [dict(key.public_jwk) for key in self.published]}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    fake = FakeIdp()
    fake.server.start()
    yield fake
    fake.release.set()
    fake.server.stop()


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(kid: str, iss: str) -> str:
    """A token whose signature is junk, under a kid nobody published."""
    header = b64({"alg": "RS256", "typ": "JWT", "kid": kid})
    payload = b64({"iss": iss, "sub": "x", "aud": "a", "iat": NOW, "exp": NOW + 600})
    return f"{header}.{payload}.c2lnbmF0dXJl"


def test_200_fresh_kids_cost_one_refetch_per_cooldown(idp: FakeIdp) -> None:
    now = [1000.0]
    cache = IssuerKeyCache(clock=lambda: now[0])
    good = KEY.sign({"iss": idp.url, "sub": "alice", "aud": "a", "iat": NOW, "exp": NOW + 600})
    lookup = cache.lookup(idp.url)
    assert verify(good, lookup, algorithms=("RS256",), issuer=[idp.url], audience=["a"], now=NOW)
    reasons = set()
    for i in range(200):
        with pytest.raises(TokenRejected) as rejected:
            verify(unsigned(f"random-{i}", idp.url), lookup, algorithms=("RS256",), now=NOW)
        reasons.add(rejected.value.reason)
    assert reasons == {Reason.UNKNOWN_KID}
    # the first fetch, then one refetch for the first unknown kid: 2 + 2 GETs, not 400
    assert idp.fetches == {"/.well-known/openid-configuration": 2, "/certs": 2}

    now[0] += 5.0  # the cooldown has passed: one more refetch, then quiet again
    for i in range(50):
        assert cache.key(idp.url, f"later-{i}") is None
    assert idp.fetches == {"/.well-known/openid-configuration": 3, "/certs": 3}


def test_a_rotated_key_is_found_at_once_after_the_cache_filled(idp: FakeIdp) -> None:
    cache = IssuerKeyCache(clock=lambda: 1000.0)
    assert cache.key(idp.url, KEY.kid) is not None
    rotated = keys.generate("ES256")
    idp.published.append(rotated)
    assert cache.key(idp.url, rotated.kid) is not None


def test_a_hung_issuer_holds_only_the_request_that_fetches(idp: FakeIdp) -> None:
    now = [1000.0]
    cache = IssuerKeyCache(clock=lambda: now[0], refetch_cooldown=5.0)
    assert cache.key(idp.url, KEY.kid) is not None  # cached
    idp.hang.set()
    now[0] += 301.0  # the TTL ran out: the next request refetches, and the IdP hangs

    leader_result: list[object] = []
    leader = threading.Thread(target=lambda: leader_result.append(cache.key(idp.url, KEY.kid)))
    leader.start()
    assert idp.hung.acquire(timeout=10)  # the leader's GET is now stuck at the IdP

    # 50 more requests, while it hangs: each answered from the cache, none waits for it
    answers: list[object] = []
    others = [
        threading.Thread(target=lambda i=i: answers.append(cache.key(idp.url, f"kid-{i}")))
        for i in range(49)
    ] + [threading.Thread(target=lambda: answers.append(cache.key(idp.url, KEY.kid)))]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(timeout=10)
    assert leader.is_alive(), "the IdP was released before the other requests finished"
    assert len(answers) == 50
    assert answers[:49] == [None] * 49 and answers[49] is not None
    assert sum(idp.fetches.values()) == 3  # 2 at first, 1 stuck: nobody else fetched

    idp.release.set()
    leader.join(timeout=10)
    assert leader_result and leader_result[0] is not None


def test_with_nothing_cached_a_hung_issuer_fails_followers_after_a_bounded_wait(
    idp: FakeIdp,
) -> None:
    cache = IssuerKeyCache(follower_wait=0.2)
    idp.hang.set()
    leader = threading.Thread(target=lambda: _swallow(lambda: cache.key(idp.url, KEY.kid)))
    leader.start()
    assert idp.hung.acquire(timeout=10)
    failures: list[str] = []
    followers = [
        threading.Thread(target=lambda: failures.append(_swallow(lambda: cache.key(idp.url, "k"))))
        for _ in range(20)
    ]
    for thread in followers:
        thread.start()
    for thread in followers:
        thread.join(timeout=10)
    assert leader.is_alive()
    assert len(failures) == 20
    assert all("still being fetched by another request" in f for f in failures)
    assert idp.fetches["/.well-known/openid-configuration"] == 1
    idp.release.set()
    leader.join(timeout=10)


def _swallow(call: Any) -> str:
    try:
        call()
    except IssuerUnreachable as exc:
        return str(exc)
    return ""


def test_a_rotated_keys_first_tokens_arriving_together_all_verify(idp: FakeIdp) -> None:
    cache = IssuerKeyCache(clock=lambda: 1000.0, follower_wait=30)
    assert cache.key(idp.url, KEY.kid) is not None
    rotated = keys.generate("RS256")
    idp.published.append(rotated)
    idp.hang.set()
    found: list[object] = []
    first = threading.Thread(target=lambda: found.append(cache.key(idp.url, rotated.kid)))
    first.start()
    assert idp.hung.acquire(timeout=10)  # the refetch for the new kid is in flight
    together = [
        threading.Thread(target=lambda: found.append(cache.key(idp.url, rotated.kid)))
        for _ in range(15)
    ]
    for thread in together:
        thread.start()
    idp.release.set()
    for thread in [first, *together]:
        thread.join(timeout=20)
    assert len(found) == 16 and all(key is not None for key in found)
    assert idp.fetches["/certs"] == 2


def test_two_rotations_in_a_row_are_both_seen_at_once(idp: FakeIdp) -> None:
    cache = IssuerKeyCache(clock=lambda: 1000.0)
    assert cache.key(idp.url, KEY.kid) is not None
    for _ in range(2):
        rotated = keys.generate("RS256")
        idp.published.append(rotated)
        assert cache.key(idp.url, rotated.kid) is not None
    assert cache.key(idp.url, "random-kid") is None
    assert cache.key(idp.url, "another-random-kid") is None  # within the cooldown: no fetch
    assert idp.fetches["/certs"] == 4
