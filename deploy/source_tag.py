"""The default image tag: a digest of what one image ships.

Setup builds an image only when its tag is missing from Artifact Registry, so the tag must
change exactly when what the image ships does: the same checkout never builds twice, and an
edit rebuilds only the images that hold the edited file (the demo and the CLI are in none).
What a target ships is read from the Dockerfile's COPY lines, the one place that says it.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

DOCKERFILE = "Dockerfile"  # at the repository root, one target per image
_FROM = re.compile(r"FROM\s+(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?\s*$", re.IGNORECASE)
_COPY = re.compile(r"(?:COPY|ADD)\s+(?P<args>.+)$", re.IGNORECASE)


def source_tag(root: Path, target: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(_files(root, target)):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


def shipped(root: Path, target: str) -> tuple[str, ...]:
    """The paths the target's stage and the stages below it copy from the build context."""
    stages: dict[str, tuple[str | None, list[str]]] = {}  # name -> (parent stage, sources)
    sources: list[str] = []
    for line in _instructions((root / DOCKERFILE).read_text(encoding="utf-8")):
        if match := _FROM.match(line):
            parent = match["image"] if match["image"] in stages else None
            sources = []
            stages[match["name"] or f"#{len(stages)}"] = (parent, sources)
        elif (match := _COPY.match(line)) and "--from=" not in line:
            args = [a for a in shlex.split(match["args"]) if not a.startswith("--")]
            sources += [a.rstrip("/") for a in args[:-1]]
    if target not in stages:
        raise ValueError(f"{DOCKERFILE} has no target {target!r}")
    paths: list[str] = []
    stage: str | None = target
    while stage is not None:
        parent, copied = stages[stage]
        paths = copied + paths
        stage = parent
    return tuple(dict.fromkeys(paths))


def _instructions(text: str) -> list[str]:
    """One line per instruction: comments dropped, continuation lines joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").splitlines()]


def _files(root: Path, target: str) -> list[Path]:
    files = [root / DOCKERFILE]
    for name in shipped(root, target):
        top = root / name
        if not top.exists():
            raise FileNotFoundError(f"{DOCKERFILE} target {target} copies {name}, not found")
        candidates = [top] if top.is_file() else top.rglob("*")
        files += [
            p
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return files
