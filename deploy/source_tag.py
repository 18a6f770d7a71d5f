"""The default image tag: a digest of what goes into the images.

Setup builds an image only when its tag is missing from Artifact Registry, so the tag must
change exactly when the sources do: the same checkout never builds twice, an edited one
always builds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# What the Dockerfiles copy (see .dockerignore), and the Dockerfiles themselves.
IMAGE_SOURCES = (
    "pyproject.toml",
    "wiflab",
    "wiflab_core",
    "wiflab_lab",
    "idp_server",
    "mock_gcp",
    "protected_app",
    "deploy",
)


def source_tag(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(_files(root)):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


def _files(root: Path) -> list[Path]:
    files = []
    for name in IMAGE_SOURCES:
        top = root / name
        candidates = [top] if top.is_file() else top.rglob("*")
        files += [
            p
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return files
