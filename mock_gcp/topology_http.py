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
import re
import secrets

from flask import Blueprint, Response, request

from mock_gcp.admin_guard import (
    project_secret_digest,
    project_secret_refused,
    require_admin,
    require_project,
)
from mock_gcp.backend import GoogleBackend
from mock_gcp.errors import ApiError, invalid_argument
from mock_gcp.projects import ProjectConflict
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
        topology = _parsed_body()
        try:
            # Another project served here may not be given the default one's number or id.
            backend.check_clashes(topology, besides=backend.topology.project_number)
        except ProjectConflict as clash:
            raise ApiError(
                409, "ALREADY_EXISTS", f"topology: {clash.field}: {clash.message}"
            ) from None
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


PROJECT_PATH = "/wiflab/v1/projects/<number>/topology"
SECRET_HEADER = "X-Wiflab-Project-Secret"
_PROJECT_NUMBER = re.compile(r"\d{1,20}")


def projects_blueprint(backend: GoogleBackend, admin_secret: str = "") -> Blueprint:
    """``/wiflab/v1/projects/NUMBER/topology``: one project of the many this instance serves
    (``mock_gcp.projects``), each CI job its own.

    - ``PUT`` a topology whose ``project.number`` is NUMBER (else a 400 naming the field):
      a new project answers 201 and, once, its project secret in ``X-Wiflab-Project-Secret``;
      an existing one 200. A project id another project has is a 409 naming both.
    - ``GET`` the document in force (404 when the project is not served);
    - ``DELETE`` stops serving it (``{"deleted": NUMBER}``; tokens issued for it are refused
      from then on, a use-time check); a project loaded at start-up goes back to its start-up
      document instead (answered, as ``DELETE /wiflab/v1/topology`` does).

    A project created here needs its secret (or the admin secret) for every later call, even
    from loopback; the others are guarded as the rest of the API (``mock_gcp.admin_guard``).
    """
    bp = Blueprint("wiflab_projects", __name__)

    @bp.before_request
    def guard() -> None:
        number = (request.view_args or {}).get("number", "")
        if not _PROJECT_NUMBER.fullmatch(number):
            raise invalid_argument(
                f"project number: digits expected in the path, not {number[:40]!r}",
                number="digits expected",
            )
        require_project(
            number,
            request.remote_addr,
            request.headers.get("Authorization"),
            admin_secret,
            backend.project_secret_sha256(number),
        )

    @bp.get(PROJECT_PATH)
    def get(number: str) -> Response:
        topology = backend.project(number)
        if topology is None:
            raise ApiError(404, "NOT_FOUND", f"Project {number} is not served here.")
        return _document(topology)

    @bp.put(PROJECT_PATH)
    def put(number: str) -> Response:
        topology = _parsed_body()
        if topology.project_number != number:
            message = f"must be {number} (the number in the path), not {topology.project_number}"
            raise invalid_argument(
                f"topology: project.number: {message}", **{"project.number": message}
            )
        new = backend.project(number) is None
        secret = secrets.token_urlsafe(32) if new else None
        try:
            put_done = backend.put_project(
                topology, project_secret_digest(secret) if secret else None
            )
        except ProjectConflict as clash:
            raise ApiError(
                409, "ALREADY_EXISTS", f"topology: {clash.field}: {clash.message}"
            ) from None
        if not put_done:  # another caller created it between our look and our claim
            raise project_secret_refused(number)
        response = _document(topology)
        if secret is not None:
            response.status_code = 201
            response.headers[SECRET_HEADER] = secret
            response.headers["Cache-Control"] = "no-store"
        return response

    @bp.delete(PROJECT_PATH)
    def delete(number: str) -> Response:
        outcome = backend.delete_project(number)
        if outcome is False:
            raise ApiError(404, "NOT_FOUND", f"Project {number} is not served here.")
        if isinstance(outcome, Topology):  # loaded at start-up: its start-up document again
            return _document(outcome)
        return Response(json.dumps({"deleted": number}), mimetype="application/json")

    return bp


def _parsed_body() -> Topology:
    data = request.get_data()
    if not data:
        raise invalid_argument("topology: the body must be a topology document (JSON)")
    try:
        return parse_topology(json_limits.loads(data, "topology"))
    except json_limits.JsonInputError as exc:
        raise invalid_argument(f"topology: {exc.problem}", topology=exc.problem) from None
    except TopologyError as exc:
        raise invalid_argument(f"topology: {exc}", **{exc.path: exc.message}) from None
