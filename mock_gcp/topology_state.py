"""The topology in force, shared by every process of Google's side through one state file.

Every process (each Google-side worker, each Cloud Run front end) starts from the same
topology file. A topology applied at run time (``PUT /wiflab/v1/topology``, the plugin's
``wif_topology``) is written to the state file atomically (temp file + ``os.replace``, a
strictly newer mtime); every process notices the change with one ``os.stat`` per read and
parses the file again only when its stamp changed (the IdP key store's pattern). Removing the
file restores the start-up topology everywhere. Without a state file (a backend built in a
test), the topology lives in this object only.

No Flask here: the HTTP layer is ``mock_gcp.topology_http``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path

from mock_gcp.projects import Projects, numbered
from mock_gcp.topology import Topology, TopologyError, parse_topology, topology_to_dict
from wiflab_core.state_file import MISSING, Stamp, stamp_or_missing, write_stamped

log = logging.getLogger(__name__)

STATE_FILE_NAME = "topology-in-force.json"


class TopologyState:
    """The start-up topology, and the one in force (read per request, one stat)."""

    def __init__(self, initial: Topology, path: Path | None = None):
        self.initial = initial
        self.path = path
        self._topology = initial
        self._stamp: Stamp = MISSING
        self._lock = threading.Lock()
        if path is not None:
            self._reload_if_changed(path)

    def current(self) -> Topology:
        if self.path is not None:
            self._reload_if_changed(self.path)
        return self._topology

    def apply(self, topology: Topology) -> None:
        """Put ``topology`` in force here and, through the state file, in every process."""
        with self._lock:
            if self.path is not None:
                self._stamp = write_stamped(self.path, json.dumps(topology_to_dict(topology)))
            self._topology = topology

    def reset(self) -> Topology:
        """Back to the start-up topology, everywhere."""
        with self._lock:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
                self._stamp = MISSING
            self._topology = self.initial
        return self.initial

    def _reload_if_changed(self, path: Path) -> None:
        stamp = stamp_or_missing(path)
        if stamp == self._stamp:
            return
        with self._lock:
            self._stamp = stamp
            if stamp == MISSING:
                self._topology = self.initial
                return
            try:
                self._topology = parse_topology(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TopologyError) as exc:
                # Written only by apply(), after validation: keep the last good topology.
                log.error("topology state %s unreadable, keeping the previous one: %s", path, exc)


PROJECTS_DIR_NAME = "projects"
PROJECT_FILE_NAME = "topology.json"
SECRET_FILE_NAME = "secret.sha256"
GENERATION_FILE_NAME = "generation"


class ProjectsState:
    """The projects served beside the default one, shared by every process through files.

    Start-up projects (``--topology`` given more than once) are ``initial``; a project put at
    run time (``PUT /wiflab/v1/projects/NUMBER/topology``) is written to
    ``DIR/NUMBER/topology.json`` and replaces a start-up one of the same number; deleting it
    removes the file (a start-up project is then back to its start-up document, a run-time one
    is gone). Every write ends by rewriting ``DIR/generation``: the others notice any change
    with one ``os.stat`` of it per read, and parse again only the files whose stamp changed.
    Without a directory (a backend built in a test) the projects live in this object only.
    """

    def __init__(self, initial: tuple[Topology, ...] = (), directory: Path | None = None):
        self.initial = {t.project_number: t for t in initial}
        self.directory = directory
        self._lock = threading.Lock()
        self._generation: Stamp = MISSING
        self._files: dict[str, tuple[Stamp, Topology]] = {}
        self._overlay: dict[str, Topology | None] = {}
        self._current: dict[str, Topology] = dict(self.initial)
        self._memory_secrets: dict[str, str] = {}
        if directory is not None:
            self._reload_if_changed(directory)

    def current(self) -> dict[str, Topology]:
        """number -> topology; the same object until something changes (callers may cache
        what they build from it by identity)."""
        if self.directory is not None:
            self._reload_if_changed(self.directory)
        return self._current

    def put(self, topology: Topology) -> None:
        number = topology.project_number
        with self._lock:
            if self.directory is not None:
                folder = self.directory / number
                folder.mkdir(parents=True, exist_ok=True)
                text = json.dumps(topology_to_dict(topology))
                self._files[number] = (write_stamped(folder / PROJECT_FILE_NAME, text), topology)
                self._bump(self.directory)
            self._overlay[number] = topology
            self._current = {**self._current, number: topology}

    def delete(self, number: str) -> bool:
        """Remove the run-time document of ``number``; False when there was none."""
        with self._lock:
            existed = self._overlay.pop(number, None) is not None
            self._memory_secrets.pop(number, None)
            if self.directory is not None:
                folder = self.directory / number
                existed = (folder / PROJECT_FILE_NAME).exists() or existed
                for name in (PROJECT_FILE_NAME, SECRET_FILE_NAME):
                    (folder / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
                self._files.pop(number, None)
                self._bump(self.directory)
            current = dict(self._current)
            current.pop(number, None)
            if number in self.initial:
                current[number] = self.initial[number]
            self._current = current
        return existed

    def claim(self, number: str, secret_sha256: str) -> bool:
        """Give project ``number`` its secret, unless it has one already (another caller,
        maybe in another worker, created it first): exclusive creation of its secret file."""
        with self._lock:
            if self.directory is None:
                if number in self._memory_secrets:
                    return False
                self._memory_secrets[number] = secret_sha256
                return True
            folder = self.directory / number
            folder.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(folder / SECRET_FILE_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secret_sha256)
            return True

    def secret_sha256(self, number: str) -> str | None:
        """The hash of the project's secret, when a run-time PUT set one."""
        if self.directory is None:
            return self._memory_secrets.get(number)
        try:
            return (self.directory / number / SECRET_FILE_NAME).read_text(encoding="ascii")
        except OSError:
            return None

    def _bump(self, directory: Path) -> None:
        # The new stamp is not taken as seen: another worker may have changed another project
        # since this one last looked, so the next read scans again (this process's own file
        # is known by its stamp and not parsed again).
        write_stamped(directory / GENERATION_FILE_NAME, str(time.time_ns()))

    def _reload_if_changed(self, directory: Path) -> None:
        stamp = stamp_or_missing(directory / GENERATION_FILE_NAME)
        if stamp == self._generation:
            return
        with self._lock:
            self._generation = stamp
            files: dict[str, tuple[Stamp, Topology]] = {}
            try:
                numbers = sorted(p.name for p in directory.iterdir() if p.name.isdigit())
            except OSError:
                numbers = []
            for number in numbers:
                path = directory / number / PROJECT_FILE_NAME
                file_stamp = stamp_or_missing(path)
                if file_stamp == MISSING:
                    continue
                known = self._files.get(number)
                if known is not None and known[0] == file_stamp:
                    files[number] = known
                    continue
                try:
                    document = json.loads(path.read_text(encoding="utf-8"))
                    files[number] = (file_stamp, parse_topology(document))
                except (OSError, ValueError, TopologyError) as exc:
                    # Written only by put(), after validation: keep the last good one.
                    log.error("project state %s unreadable: %s", path, exc)
                    if known is not None:
                        files[number] = known
            self._files = files
            self._current = {**self.initial, **{n: t for n, (_, t) in files.items()}}


class ServedProjects:
    """The default project's state and the others', as one ``Projects`` snapshot per change
    (two ``os.stat`` per read with state files; rebuilt only when either changed)."""

    def __init__(self, default: TopologyState, others: ProjectsState):
        self.default = default
        self.others = others
        self._snapshot: tuple[Topology, dict[str, Topology], Projects] | None = None

    @classmethod
    def following(
        cls, initial: Topology, topology_state: Path | None, more: tuple[Topology, ...] = ()
    ) -> ServedProjects:
        """What a process of the stack serves: ``initial`` and the ``more`` projects loaded at
        start, as the state files beside ``topology_state`` change them."""
        return cls(
            TopologyState(initial, topology_state),
            ProjectsState(more, projects_dir(topology_state)),
        )

    def current(self) -> Projects:
        default, others = self.default.current(), self.others.current()
        snapshot = self._snapshot
        if snapshot is None or snapshot[0] is not default or snapshot[1] is not others:
            # A run-time project that shadows the default's number is left out (refused at
            # PUT; a start-up clash never loads).
            rest = {n: t for n, t in others.items() if n != default.project_number}
            snapshot = (default, others, Projects(default, numbered(rest)))
            self._snapshot = snapshot
        return snapshot[2]


def projects_dir(topology_state: Path | None) -> Path | None:
    """Where run-time projects live: ``projects/`` beside the topology state file."""
    return topology_state.parent / PROJECTS_DIR_NAME if topology_state is not None else None
