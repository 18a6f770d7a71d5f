"""Hostile claims at the IdP: it never signs what a JSON parser cannot read back.

Before: ``{"sub": "\\ud800"}`` was signed (a token no verifier can encode again), and a body
nested 2,474-2,476 levels parsed and then failed to encode, a 500.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.idp_server.helpers import Idp, error_of

fuzz = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(
    where=st.sampled_from(["sub", "groups", "nested", "key"]),
    code=st.integers(0xD800, 0xDFFF),
)
def test_a_lone_surrogate_in_a_claim_is_refused_naming_the_claim(idp: Idp, where, code) -> None:
    lone = f"\\u{code:04x}"
    body, claim = {
        "sub": (f'{{"sub": "a{lone}"}}', "sub"),
        "groups": (f'{{"sub": "a", "groups": ["ok", "{lone}"]}}', "groups[1]"),
        "nested": (f'{{"sub": "a", "ctx": {{"team": "{lone}"}}}}', "ctx.team"),
        "key": (f'{{"sub": "a", "ctx": {{"{lone}": 1}}}}', "ctx"),
    }[where]
    status, error, description = error_of(idp.post_token(body))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith(f"{claim}: "), description
    assert f"lone UTF-16 surrogate ({lone})" in description


def test_surrogates_as_utf8_bytes_are_refused_too(idp: Idp) -> None:
    # ED A0 80 is how "surrogatepass" would write U+D800: not UTF-8.
    status, _, description = error_of(idp.post_token(b'{"sub": "a\xed\xa0\x80"}'))
    assert status == 400 and description.startswith("body: not valid JSON"), description


def test_a_paired_surrogate_is_one_character_and_is_signed(idp: Idp) -> None:
    token = idp.mint({"sub": "\U0001f600", "aud": "aud-1"})  # json.dumps writes \\ud83d\\ude00
    assert idp.verify(token)["sub"] == "\U0001f600"


@pytest.mark.parametrize("levels", [65, 971, 2_475, 30_000])
def test_a_body_nested_deeper_than_64_levels_is_one_clear_400(idp: Idp, levels: int) -> None:
    body = '{"sub": "a", "x": ' + "[" * levels + "]" * levels + "}"
    assert error_of(idp.post_token(body)) == (
        400,
        "invalid_request",
        "body: nested more than 64 levels deep",
    )


def test_brackets_inside_strings_do_not_count(idp: Idp) -> None:
    token = idp.mint({"sub": "[" * 5_000 + '{"\\', "aud": "aud-1"})
    assert idp.verify(token)["sub"].startswith("[[[")


def test_64_levels_are_signed(idp: Idp) -> None:
    nested: list = []
    for _ in range(62):  # the claims object and "x" are two levels: 64 in all
        nested = [nested]
    token = idp.mint({"sub": "a", "aud": "aud-1", "x": nested})
    assert "x" in idp.verify(token)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
@pytest.mark.parametrize("claim", ["exp", "iat", "score"])
def test_non_finite_numbers_are_refused(idp: Idp, claim: str, number: str) -> None:
    status, error, description = error_of(idp.post_token(f'{{"sub": "a", "{claim}": {number}}}'))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith("body: not valid JSON ("), description
    assert number.lstrip("-") in description


def test_admin_keys_body_nested_deep_is_a_400(idp: Idp) -> None:
    response = idp.admin("POST", "/keys", data="[" * 5_000)
    assert error_of(response)[:2] == (400, "invalid_request")


@fuzz
@given(
    body=st.binary(max_size=300)
    | st.text(alphabet='[]{}"\\:,NaInfity0123e.- ud8sb', max_size=300).map(str.encode)
)
def test_raw_bodies_never_5xx_nor_a_traceback(idp: Idp, body: bytes) -> None:
    for response in (
        idp.post_token(body),
        idp.post_token(body, headers={"Accept": "application/json"}),
        idp.admin("POST", "/keys", data=body),
    ):
        assert response.status_code < 500, response.text
        assert "Traceback" not in response.text
