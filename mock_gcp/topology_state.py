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

import json
import logging
import threading
from pathlib import Path

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
