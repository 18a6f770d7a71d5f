"""``/wiflab/v1/topology``: the topology in force, read and changed at run time over HTTP.

The lab's own API, not Google's (the flow explorer's Break it, the plugin's ``wif_topology``
in both stack modes):

- ``GET`` the document in force (REST field names, JSON);
- ``PUT`` a new document, validated exactly as at start-up: a 400 naming the field on error,
  and nothing changed; 200 with the document now in force;
- ``DELETE`` restores the start-up topology (200 with it).

Every process of the stack follows at once (``mock_gcp.topology_state``). Callers on loopback
may use it; callers beyond loopback need ``Authorization: Bearer <admin secret>``
(``WIFLAB_ADMIN_SECRET``), and without one set it is loopback only (``mock_gcp.admin_guard``).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from mock_gcp.admin_guard import require_admin
from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import invalid_argument
from mock_gcp.topology import Topology, TopologyError, parse_topology, topology_to_dict
from wiflab_core import json_limits

PATH = "/wiflab/v1/topology"


def blueprint(backend: GoogleBackend, admin_secret: str = "") -> Blueprint:
    bp = Blueprint("wiflab_topology", __name__)

    @bp.before_request
    def guard() -> None:
        require_admin(request.remote_addr, request.headers.get("Authorization"), admin_secret)

    @bp.get(PATH)
    def get() -> Response:
        return _document(backend.topology)

    @bp.put(PATH)
    def put() -> Response:
        data = request.get_data()
        if not data:
            raise invalid_argument("topology: the body must be a topology document (JSON)")
        try:
            document = json_limits.loads(data, "topology")
            topology = parse_topology(document)
        except json_limits.JsonInputError as exc:
            raise invalid_argument(f"topology: {exc.problem}", topology=exc.problem) from None
        except TopologyError as exc:
            raise invalid_argument(f"topology: {exc}", **{exc.path: exc.message}) from None
        backend.apply_topology(topology)
        return _document(topology)

    @bp.delete(PATH)
    def delete() -> Response:
        return _document(backend.reset_topology())

    return bp


def _document(topology: Topology) -> Response:
    """The document in its own key order (jsonify would sort the keys: the order of
    ``idp.profiles`` is meaningful, the first is the default profile)."""
    return Response(json.dumps(topology_to_dict(topology)), mimetype="application/json")
