"""AWS principal ARNs, as ``GetCallerIdentity`` returns them: an IAM user
(``arn:aws:iam::ACCOUNT:user[/PATH]/NAME``) or an assumed role's session
(``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``).

The grammar is IAM's (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html):
account ids are 12 digits; user and role names 1-64 of ``[A-Za-z0-9+=,.@_-]``; a role session
name 2-64 of the same; a path is ``/`` or ``/SEGMENTS/``. The topology (``local.aws``) and the
local AWS side (``aws_side``) read ARNs through this one parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_NAME = r"[A-Za-z0-9+=,.@_-]"
_USER = re.compile(rf"arn:aws:iam::(\d{{12}}):user(/(?:{_NAME}+/)*)({_NAME}{{1,64}})")
_SESSION = re.compile(rf"arn:aws:sts::(\d{{12}}):assumed-role/({_NAME}{{1,64}})/({_NAME}{{2,64}})")
SHAPES = (
    "arn:aws:iam::ACCOUNT:user/NAME (an IAM user) or "
    "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION (an assumed role)"
)


@dataclass(frozen=True)
class Arn:
    text: str
    account: str
    kind: Literal["user", "assumed-role"]
    # The user's name, or the role's.
    name: str
    # Users: their path ("/" by default); assumed roles: "/".
    path: str = "/"
    # Assumed roles: the role session name.
    session: str | None = None

    @property
    def temporary(self) -> bool:
        """Whether its keys are temporary (ASIA..., with a session token)."""
        return self.kind == "assumed-role"


def parse_arn(value: object) -> Arn:
    """The ARN ``value`` spells; ValueError (saying which shapes are accepted) otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ARN string, not {type(value).__name__}")
    if (user := _USER.fullmatch(value)) is not None:
        account, path, name = user.groups()
        return Arn(value, account, "user", name, path)
    if (role := _SESSION.fullmatch(value)) is not None:
        account, name, session = role.groups()
        return Arn(value, account, "assumed-role", name, session=session)
    raise ValueError(f"{value!r} is not {SHAPES}; ACCOUNT is 12 digits")
