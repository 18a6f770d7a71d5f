"""Regenerates ``scopes.txt``: every OAuth scope Google's API discovery documents name.

The documents ship in the PyPI package google-api-python-client; from the repository root::

    pip download google-api-python-client==2.202.0 --no-deps -d /tmp/x
    python -m mock_gcp.iamcredentials.scopes_build /tmp/x/google_api_python_client-2.202.0-*.whl

Every ``auth.oauth2.scopes`` key of every document under
``googleapiclient/discovery_cache/documents``, and the few real scopes no discovery document
names (``BEYOND_DISCOVERY``), sorted, one a line. generateAccessToken refuses
a scope not in the file (Google answers 400 INVALID_ARGUMENT for an unknown scope).
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

DOCUMENTS = "googleapiclient/discovery_cache/documents/"
OUTPUT = Path(__file__).with_name("scopes.txt")
# A bound whatever the documents say: the stand-in keeps the set in memory.
MAX_SCOPES = 5000
MAX_SCOPE_CHARS = 256
# Scopes Google grants that no discovery document lists: gcloud asks for the first two on
# every impersonated token (googlecloudsdk/core/config.py CLOUDSDK_SCOPES, REAUTH_SCOPE), and
# for the IAM scope when it impersonates (IAM Credentials accepts tokens with "iam" or
# cloud-platform, per its reference).
BEYOND_DISCOVERY = (
    "https://www.googleapis.com/auth/iam",
    "https://www.googleapis.com/auth/sqlservice.login",
    "https://www.googleapis.com/auth/accounts.reauth",
)


def _documents(source: Path) -> Iterator[bytes]:
    if source.is_dir():
        for path in sorted(source.rglob("*.json")):
            yield path.read_bytes()
        return
    with zipfile.ZipFile(source) as wheel:
        for name in sorted(wheel.namelist()):
            if name.startswith(DOCUMENTS) and name.endswith(".json"):
                yield wheel.read(name)


def scopes_of(documents: Iterable[bytes]) -> list[str]:
    found: set[str] = set(BEYOND_DISCOVERY)
    for raw in documents:
        document = json.loads(raw)
        scopes = document.get("auth", {}).get("oauth2", {}).get("scopes", {})
        found.update(
            s for s in scopes if 0 < len(s) <= MAX_SCOPE_CHARS and not any(c.isspace() for c in s)
        )
    if len(found) > MAX_SCOPES:
        raise SystemExit(f"{len(found)} scopes: over the bound of {MAX_SCOPES}")
    return sorted(found)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    scopes = scopes_of(_documents(Path(argv[0])))
    OUTPUT.write_text("".join(f"{scope}\n" for scope in scopes), encoding="utf-8")
    print(f"{len(scopes)} scopes -> {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
