"""``wiflab up``: the local stack in the foreground until SIGINT or SIGTERM.

The command line (``wiflab.commands.up``) maps its flags to ``StackFlags``; this module knows
nothing of flags parsing or exit statuses.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mock_gcp.topology import TopologyError
from wiflab_lab.stack import DEFAULT_PORT_BASE, Stack, StackOptions

DEFAULT_TOPOLOGY = Path("wif.yaml")


class UsageError(Exception):
    """Bad flags, topology or settings: nothing was started. ``command`` prefixes the message
    when it is shown."""

    def __init__(self, message: str, command: str = "wiflab"):
        super().__init__(message)
        self.message = message
        self.command = command


@dataclass
class StackFlags:
    """The stack `wiflab up` (and `wiflab demo`) is asked to start."""

    topology: Path | None = None  # None: DEFAULT_TOPOLOGY
    state_dir: Path | None = None  # None: a new temp dir
    mode: str = "threads"
    host: str = "127.0.0.1"
    port_base: int = DEFAULT_PORT_BASE
    google_issuer: str | None = None
    idp_token_secret: str | None = None
    intercept: bool = False
    journal_size: int = 1000
    google_workers: int | None = None  # None: the number of cores (processes mode)
    # More projects the Google side serves, one topology file each (--topology repeated).
    more_topologies: tuple[Path, ...] = ()


def stack_from_flags(flags: StackFlags, loaded: Callable[[Path], None] | None = None) -> Stack:
    """A Stack, or a UsageError saying what is wrong (the topology, the settings) before any
    port opens. ``loaded``: called with the topology's path once the stack has loaded it
    (`wiflab up` passes lint's warnings, ``wiflab_lab.lint.warn``)."""
    state_dir = flags.state_dir or Path(tempfile.mkdtemp(prefix="wiflab-"))
    topology = flags.topology or DEFAULT_TOPOLOGY
    options = StackOptions(
        topology,
        state_dir,
        flags.mode,
        flags.host,
        flags.port_base,
        flags.google_issuer,
        idp_token_secret=flags.idp_token_secret or None,
        intercept=flags.intercept,
        journal_size=flags.journal_size,
        google_workers=flags.google_workers,
        more_topology_paths=flags.more_topologies,
    )
    try:
        stack = Stack(options)
    except ValueError as exc:  # a TopologyError, or settings the stack refuses
        # A topology error names the file itself when it could not be read at all.
        named = not isinstance(exc, TopologyError) or str(topology) in str(exc)
        raise UsageError(f"{'' if named else f'{topology}: '}{exc}") from None
    if loaded is not None:
        loaded(topology)
    return stack


class PartDied(Exception):
    """A part of the running stack stopped by itself; the stack was stopped because of it."""

    def __init__(self, dead: list[str]):
        self.dead = dead
        self.message = (
            f"{', '.join(dead)}: stopped serving; the whole stack was stopped "
            "(a part is not restarted: see the README's reliability section)"
        )
        super().__init__(self.message)


# How often `wiflab up` checks that every part still serves.
WATCH_SECONDS = 0.5


def up(flags: StackFlags, loaded: Callable[[Path], None] | None = None) -> None:
    serve_until_signalled(stack_from_flags(flags, loaded))


def serve_until_signalled(stack: Stack) -> None:
    """Start the stack, print the ready line, and stop cleanly on SIGINT or SIGTERM.

    A part that stops by itself stops the whole stack: ``PartDied`` names it. Not restarted,
    because a restarted part is a different one: the IdP's clients would see a gap they cannot
    explain, and a part that crashes again would loop unseen. A lab should show the failure,
    not hide it. (Google's side itself loses nothing: its tokens are sealed, its keys in the
    state dir.)"""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stack.start()
    except OSError as exc:  # a full disk, an unwritable state dir, a port in use
        raise UsageError(f"cannot start: {exc}", "wiflab up") from None
    try:
        print(f"wiflab ready: {stack.endpoints_path}", flush=True)
        explorer = stack.endpoints.explorer
        if explorer is not None:
            print(f"wiflab explorer: {explorer.url}/ (the flow explorer: open it in a browser)")
            sys.stdout.flush()
        while not stopping.wait(WATCH_SECONDS):
            dead = stack.dead_parts()
            if dead:
                raise PartDied(dead)
    finally:
        stack.stop()
