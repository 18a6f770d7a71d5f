"""The local AWS identities: ARNs as IAM spells them, keys as AWS shapes them, kept 0600."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aws_side.identities import Identities, IdentitiesError, IdentitySpec, make_identities
from wiflab_core.aws_arn import parse_arn

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arn", "kind", "name", "session"),
    [
        ("arn:aws:iam::111122223333:user/alice", "user", "alice", None),
        ("arn:aws:iam::111122223333:user/division/team/bob", "user", "bob", None),
        (
            "arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc",
            "assumed-role",
            "ec2-role",
            "i-0abc",
        ),
    ],
)
def test_principal_arns(arn: str, kind: str, name: str, session: str | None) -> None:
    parsed = parse_arn(arn)
    assert (parsed.account, parsed.kind, parsed.name, parsed.session) == (
        "111122223333",
        kind,
        name,
        session,
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::11112222333:user/alice",  # 11 digits
        "arn:aws:iam::111122223333:role/ec2-role",  # a role, not a session
        "arn:aws:sts::111122223333:assumed-role/ec2-role",  # no session
        "arn:aws:sts::111122223333:assumed-role/ec2-role/x",  # a 1-character session
        "arn:aws:iam::111122223333:user/al ice",
        "",
    ],
)
def test_other_strings_are_refused_saying_which_shapes_are_accepted(arn: str) -> None:
    with pytest.raises(
        ValueError, match=r"arn:aws:iam::ACCOUNT:user/NAME .*assumed-role/ROLE/SESSION"
    ):
        parse_arn(arn)


@given(st.one_of(st.text(max_size=120), st.integers(), st.none(), st.lists(st.text())))
def test_parse_arn_only_ever_raises_value_error(value: object) -> None:
    try:
        parse_arn(value)
    except ValueError as exc:
        assert "Traceback" not in str(exc)


def test_keys_are_shaped_as_aws_shapes_them() -> None:
    made = make_identities(
        [
            IdentitySpec("arn:aws:iam::111122223333:user/alice"),
            IdentitySpec("arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc", imds=True),
        ],
        NOW,
    )
    user, role = made.identities
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", user.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", user.secret_access_key)
    assert user.session_token is None and user.expiration is None
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user.user_id)
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", role.access_key_id)
    assert role.session_token and len(role.session_token) > 100
    assert role.expiration == NOW + timedelta(hours=12)
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:i-0abc", role.user_id)
    assert made.instance == role
    # A user's id is the same on every start, as a real user's is; keys are new.
    again = make_identities([IdentitySpec("arn:aws:iam::111122223333:user/alice")], NOW)
    assert again.identities[0].user_id == user.user_id
    assert again.identities[0].access_key_id != user.access_key_id


def test_secrets_never_show_in_a_repr() -> None:
    made = make_identities(
        [IdentitySpec("arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc")], NOW
    )
    role = made.identities[0]
    assert role.secret_access_key not in repr(made)
    assert role.session_token is not None and role.session_token not in repr(made)


def test_the_credentials_file_is_private_and_reads_back(tmp_path: Path) -> None:
    made = make_identities(
        [
            IdentitySpec("arn:aws:iam::111122223333:user/alice"),
            IdentitySpec("arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc", imds=True),
        ],
        NOW,
    )
    path = made.write(tmp_path / "aws" / "credentials.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identities.load(path) == made


def test_a_broken_credentials_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('{"identities": [{"arn": "arn:aws:iam::111122223333:user/alice"}]}')
    with pytest.raises(
        IdentitiesError, match=r"identities\[0\]\.accessKeyId: must be a non-empty string"
    ):
        Identities.load(path)
    path.write_text("{")
    with pytest.raises(IdentitiesError, match="not JSON"):
        Identities.load(path)


def test_one_instance_identity_at_most() -> None:
    with pytest.raises(IdentitiesError, match="at most one identity is the instance's"):
        make_identities(
            [
                IdentitySpec("arn:aws:iam::111122223333:user/alice", imds=True),
                IdentitySpec("arn:aws:iam::111122223333:user/bob", imds=True),
            ],
            NOW,
        )
