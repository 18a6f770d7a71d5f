"""Issue 17: the issuer-JWKS cache shared by a part's workers through the state dir.

Two ``IssuerKeyCache`` objects over one directory stand for two Google-side workers (each
follows the files by stat, as separate processes do); the e2e key-rotation test proves the
same through the real processes-mode stack with two workers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.test_jwks_hammer import NOW, FakeIdp, idp  # noqa: F401 (fixture)
from wiflab_core import keys
from wiflab_core.jose import Reason, TokenRejected, verify
from wiflab_core.jwks_cache import IssuerKeyCache

OLD = keys.generate("RS256")


def token(key: keys.SigningKey, iss: str) -> str:
    return key.sign({"iss": iss, "sub": "alice", "aud": "a", "iat": NOW, "exp": NOW + 600})


def verifies(cache: IssuerKeyCache, key: keys.SigningKey, iss: str) -> bool:
    try:
        verify(token(key, iss), cache.lookup(iss), algorithms=("RS256", "ES256"), now=NOW)
    except TokenRejected as rejected:
        assert rejected.reason is Reason.UNKNOWN_KID
        return False
    return True


def workers(shared: Path | None, wall: list[float], n: int = 2) -> list[IssuerKeyCache]:
    return [
        IssuerKeyCache(clock=lambda: wall[0], wall=lambda: wall[0], shared=shared) for _ in range(n)
    ]


def rotate(idp: FakeIdp) -> keys.SigningKey:  # noqa: F811
    """The IdP publishes a new key and retires the old one."""
    new = keys.generate("ES256")
    idp.published = [new]
    return new


def test_a_key_one_worker_saw_retired_is_refused_by_every_worker(
    idp: FakeIdp,  # noqa: F811
    tmp_path: Path,
) -> None:
    idp.published = [OLD]
    wall = [1000.0]
    first, second = workers(tmp_path / "jwks", wall)
    assert verifies(first, OLD, idp.url) and verifies(second, OLD, idp.url)
    new = rotate(idp)
    wall[0] += 1
    assert verifies(first, new, idp.url)  # its unknown kid: the first worker refetches
    fetches = sum(idp.fetches.values())
    # The second worker knows the new key without a fetch of its own: it followed the first's.
    assert verifies(second, new, idp.url)
    assert sum(idp.fetches.values()) == fetches
    assert not verifies(second, OLD, idp.url)


def test_without_the_shared_directory_the_other_worker_keeps_the_retired_key(
    idp: FakeIdp,  # noqa: F811
) -> None:
    """What the last stop saw in processes mode: the reason for the shared directory."""
    idp.published = [OLD]
    wall = [1000.0]
    first, second = workers(None, wall)
    assert verifies(first, OLD, idp.url) and verifies(second, OLD, idp.url)
    new = rotate(idp)
    assert verifies(first, new, idp.url)
    assert verifies(second, OLD, idp.url)


def test_the_shared_files_age_counts_against_every_workers_ttl(
    idp: FakeIdp,  # noqa: F811
    tmp_path: Path,
) -> None:
    idp.published = [OLD]
    wall = [1000.0]
    first, second = workers(tmp_path, wall)
    assert verifies(first, OLD, idp.url)
    wall[0] += 200  # the second worker's first request: the file, 200 s old, answers
    assert verifies(second, OLD, idp.url)
    assert idp.fetches["/certs"] == 1
    new = rotate(idp)
    idp.published = [OLD, new]
    wall[0] += 101  # 301 s after the fetch: past the 300 s TTL for both
    assert verifies(second, OLD, idp.url)
    assert idp.fetches["/certs"] == 2
    assert verifies(first, new, idp.url)  # the second's refetch, followed
    assert idp.fetches["/certs"] == 2


def test_a_fetch_that_started_earlier_does_not_overwrite_a_later_one(
    idp: FakeIdp,  # noqa: F811
    tmp_path: Path,
) -> None:
    idp.published = [OLD]
    late = IssuerKeyCache(wall=lambda: 2000.0, shared=tmp_path)
    assert verifies(late, OLD, idp.url)
    new = rotate(idp)
    early = IssuerKeyCache(wall=lambda: 1000.0, shared=tmp_path)  # its fetch "started" first
    assert verifies(early, new, idp.url)
    reader = IssuerKeyCache(wall=lambda: 2000.0, shared=tmp_path)
    fetches = sum(idp.fetches.values())
    assert verifies(reader, OLD, idp.url)  # from the later fetch's file, not the earlier's
    assert sum(idp.fetches.values()) == fetches


def test_the_shared_files_are_the_owners_only(idp: FakeIdp, tmp_path: Path) -> None:  # noqa: F811
    idp.published = [OLD]
    cache = IssuerKeyCache(shared=tmp_path / "jwks")
    assert verifies(cache, OLD, idp.url)
    files = sorted((tmp_path / "jwks").iterdir())
    assert files and all(path.stat().st_mode & 0o077 == 0 for path in files)


def test_a_directory_that_cannot_be_written_leaves_the_worker_correct(
    idp: FakeIdp,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    idp.published = [OLD]
    cache = IssuerKeyCache(shared=blocker)
    with caplog.at_level(logging.WARNING):
        assert verifies(cache, OLD, idp.url)
        new = rotate(idp)
        assert verifies(cache, new, idp.url)
        assert not verifies(cache, OLD, idp.url)
    assert "cannot be written" in caplog.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["source", "fetched_at", "jwks", "keys"]), inner)
            ),
            max_leaves=12,
        ).map(lambda doc: json.dumps(doc).encode()),
    )
)
def test_a_broken_shared_file_is_ignored(idp: FakeIdp, tmp_path: Path, content: bytes) -> None:  # noqa: F811
    """Whatever another process (or anyone) left in the file, the worker answers from its own
    fetch: the current key verifies, an unknown one is refused, nothing raises."""
    idp.published = [OLD]
    shared = tmp_path / "fuzz"
    writer = IssuerKeyCache(shared=shared)
    assert verifies(writer, OLD, idp.url)
    (path,) = shared.glob("*.json")
    path.write_bytes(content)
    reader = IssuerKeyCache(shared=shared)
    assert verifies(reader, OLD, idp.url)
    assert not verifies(reader, keys.generate("RS256"), idp.url)
