"""The steps a plan is made of: plain data that ``deploy.shell`` prints and ``deploy.runner`` runs.

An argument may hold ``${NAME}``: a value an earlier ``Command`` captured (the project number,
a service URL). The dry run leaves it to the shell; the runner substitutes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Generated:
    """Data made on this machine and fed to a command's stdin, never shown: ``shell`` makes it
    in the dry run, the runner makes the same ``kind`` in Python."""

    kind: str
    shell: str


# A Generated of this kind is ``python -m MODULE ARGS...``: the runner runs it with its own
# Python and feeds its stdout on (the shared Google side's key source).
PYTHON_MODULE = "python-module"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    capture: str | None = None  # keep the stripped stdout as ${capture}
    secret: bool = False  # the captured value is a secret: never printed
    stdin: Generated | None = None
    # Extra environment, e.g. a captured secret, which must not sit in argv for ps to show.
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # IAM is eventually consistent: an account created a moment ago may not be found yet.
    retry: bool = False


@dataclass(frozen=True)
class Check:
    """Run ``probe``; its stripped stdout (empty when it fails) picks what runs next.

    ``cases`` are (glob pattern, commands), the first match wins, as in a shell ``case``;
    ``""`` matches only an empty answer (the resource is absent), and ``otherwise`` runs when no
    pattern matches. So ``Check(describe, (("", (create,)),), (update,))`` is create-or-update,
    and ``Check(describe, ((fingerprint, ()),), (deploy,))`` deploys only what changed.
    """

    probe: Command
    cases: tuple[tuple[str, tuple[Command, ...]], ...]
    otherwise: tuple[Command, ...] = ()


@dataclass(frozen=True)
class WriteFile:
    """A local file a later command reads (``--jwk-json-path``)."""

    path: str
    content: str


@dataclass(frozen=True)
class Section:
    title: str


@dataclass(frozen=True)
class Note:
    """Shown, never run: something the plan cannot or should not do itself."""

    text: str
    command: Command | None = None  # shown as a comment, for whoever can run it


Step = Command | Check | WriteFile | Section | Note


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...]
