"""JSON responses, for every route and error alike."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

JSON = "application/json"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=JSON)
