"""The official SARIF 2.1.0 JSON schema (OASIS's sarif-schema-2.1.0, final "rtm.5" text), as
the npm package @microsoft/jest-sarif ships it (MIT; lib/schemas/sarif-2.1.0-rtm.5.json).
Fetched with npm on first use into the user's cache, never committed."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0"
MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "wiflab"
    / "sarif-2.1.0-rtm.5.json"
)


class Missing(Exception):
    """npm is not there to fetch the schema."""


def schema() -> dict[str, Any]:
    if not CACHE.exists():
        _fetch()
    doc: dict[str, Any] = json.loads(CACHE.read_text(encoding="utf-8"))
    return doc


def _fetch() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise Missing("npm is missing: it fetches the SARIF 2.1.0 schema (.ci/clients-setup.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
        tarball = Path(tmp) / done.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(MEMBER)
            assert member is not None, f"{PACKAGE} no longer ships {MEMBER}"
            data = io.BytesIO(member.read()).getvalue()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = CACHE.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, CACHE)  # two xdist workers may fetch at once
