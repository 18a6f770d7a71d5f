"""The projected token file: written 0600 and atomically, rewritten once 80 % of the token's
lifetime (at most 24 h) has passed, as the kubelet does; time is the injected clock."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiflab_lab.projected_token import ProjectedToken, ProjectedTokenError, token_times


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def minter(clock: Clock, lifetime: int) -> tuple[list[str], object]:
    minted: list[str] = []

    def mint() -> str:
        now = int(clock())
        token = jwt.encode(
            {
                "sub": "system:serviceaccount:ns:sa",
                "iat": now,
                "exp": now + lifetime,
                "n": len(minted),
            },
            "k" * 32,
            algorithm="HS256",
        )
        minted.append(token)
        return token

    return minted, mint


def test_the_file_holds_the_token_readable_by_its_owner_only(tmp_path: Path):
    clock = Clock()
    minted, mint = minter(clock, 3600)
    path = tmp_path / "token"
    ProjectedToken(path, mint, clock=clock).write()
    assert path.read_text() == minted[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["token"]  # no temporary file left beside it


def test_it_is_rewritten_only_after_80_percent_of_its_lifetime(tmp_path: Path):
    clock = Clock()
    minted, mint = minter(clock, 3600)
    projected = ProjectedToken(tmp_path / "token", mint, clock=clock)
    assert projected.refresh() is True  # never written: written now
    clock.now += 2879  # 79.97 % of an hour
    assert projected.refresh() is False
    assert (tmp_path / "token").read_text() == minted[0]
    clock.now += 1  # 2880 s = 80 %
    assert projected.refresh() is True
    assert (tmp_path / "token").read_text() == minted[1] != minted[0]


def test_a_long_lived_token_is_rewritten_after_24_hours(tmp_path: Path):
    clock = Clock()
    _, mint = minter(clock, 7 * 24 * 3600)  # a week: 80 % would be 5.6 days
    projected = ProjectedToken(tmp_path / "token", mint, clock=clock)
    projected.refresh()
    clock.now += 24 * 3600 - 1
    assert projected.refresh() is False
    clock.now += 1
    assert projected.refresh() is True


def test_a_reader_never_sees_half_a_token(tmp_path: Path):
    clock = Clock()
    minted, mint = minter(clock, 3600)
    path = tmp_path / "token"
    projected = ProjectedToken(path, mint, clock=clock)
    projected.write()
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(50):
        projected.write()
    stop.set()
    reader.join()
    assert seen <= set(minted)


def test_in_the_background_it_keeps_the_file_fresh(tmp_path: Path):
    clock = Clock()
    minted, mint = minter(clock, 3600)
    path = tmp_path / "token"
    with ProjectedToken(path, mint, clock=clock, poll_seconds=0.05) as projected:
        assert path.read_text() == minted[0]
        first = projected.written
        clock.now += 3600  # past due: the thread rewrites it on its next turn
        for _ in range(400):
            if projected.written != first:
                break
            threading.Event().wait(0.05)
        assert path.read_text() == minted[-1] != minted[0]


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJpYXQiOjF9.", "eyJhbGciOiJub25lIn0.W10.x"],
)
def test_a_minted_value_that_is_no_token_is_refused_by_name(tmp_path: Path, token: str):
    projected = ProjectedToken(tmp_path / "token", lambda: token, clock=Clock())
    with pytest.raises(ProjectedTokenError, match=r"^token: "):
        projected.write()
    assert not (tmp_path / "token").exists()


@given(st.text(max_size=200))
def test_token_times_never_raises_anything_but_its_own_error(text: str):
    with contextlib.suppress(ProjectedTokenError):
        token_times(text)
