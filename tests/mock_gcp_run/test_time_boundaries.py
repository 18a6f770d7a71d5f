"""Cloud Run's leeway on an ID token's exp and iat (10 s), just inside and just outside.

Admission reads the wall clock (through pyjwt), so time-machine stops it at ``T`` for the
request; the token's times are set relative to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import time_machine

from tests.mock_gcp_run.conftest import FrontEndServer, StartFrontEnd
from tests.mock_gcp_run.helpers import EchoUpstream, id_token_claims, unauthorized_page

T = 1_800_000_000  # 2027-01-15T08:00:00Z


@pytest.fixture
def front(start_front_end: StartFrontEnd, echo: tuple[EchoUpstream, str]) -> FrontEndServer:
    return start_front_end(upstream=echo[1])


@pytest.fixture
def at_t() -> Iterator[None]:
    with time_machine.travel(T, tick=False):
        yield


def call(front: FrontEndServer, iat: int, exp: int) -> requests.Response:
    token = front.token(id_token_claims(front.url, iat=iat, exp=exp))
    return requests.get(front.url + "/echo/x", headers={"Authorization": f"Bearer {token}"})


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.content == unauthorized_page("/echo/x")


def test_token_expired_within_the_leeway_is_let_through(front, at_t):
    assert call(front, iat=T - 3600, exp=T - 9).status_code == 200


def test_token_expired_by_the_leeway_is_401(front, at_t):
    assert_refused(call(front, iat=T - 3600, exp=T - 10))


def test_token_expired_ten_minutes_is_401(front, at_t):
    assert_refused(call(front, iat=T - 3600, exp=T - 600))


def test_iat_within_the_leeway_in_the_future_is_let_through(front, at_t):
    assert call(front, iat=T + 10, exp=T + 3600).status_code == 200


def test_iat_beyond_the_leeway_in_the_future_is_401(front, at_t):
    assert_refused(call(front, iat=T + 11, exp=T + 3600))
