"""What the metadata server serves under ``/computeMetadata/v1/``: one tree, answered as
Google's server answers it, so every client's probe finds what it looks for.

- a directory (``instance/``) answers its listing, one entry a line, subdirectories with a
  trailing slash; the same path without the slash answers ``301`` to it (what Node's
  gcp-metadata ``isAvailable()`` and .NET's ``Platform`` meet on Google: gcp-metadata #361,
  gax-dotnet #410);
- ``?recursive=true`` on a directory answers JSON with the camelCase keys of Google's server
  (``serviceAccounts``, ``numericProjectId``, ``projectId``; numbers as JSON numbers), which
  Java's ``ComputeEngineCredentials`` and google-auth's ``get_service_account_info`` parse;
- a value answers text (lists one item a line), or JSON with ``?alt=json``;
- ``token`` and ``identity`` are listed in their account's directory but are methods, not
  values: recursive JSON leaves them out, as Google's does.

Names are Google's (``instance/zone`` = ``projects/NUMBER/zones/ZONE``, the hostname
``NAME.ZONE.c.PROJECT.internal``); the values agree with what ``format=full`` ID tokens carry.
Rules only: no HTTP here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

UNIVERSE_DOMAIN = "googleapis.com"


@dataclass(frozen=True)
class Value:
    """A leaf: text by default, JSON with ``alt=json``."""

    value: str | int | tuple[str, ...]


@dataclass(frozen=True)
class Method:
    """Listed in its directory, answered by its own route (``token``, ``identity``)."""


@dataclass(frozen=True)
class Directory:
    entries: tuple[tuple[str, Node], ...]
    # Whether entry names become camelCase keys in recursive JSON: Google's fixed names do
    # (``service-accounts`` -> ``serviceAccounts``); service-account emails and aliases do not.
    camel_keys: bool = True


Node = Value | Method | Directory


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends: a body and whether it is JSON, or a redirect."""

    status: int
    body: str = ""
    is_json: bool = False
    location: str | None = None


class BadParameter(ValueError):
    """A query parameter the server cannot use; the text names it."""


def account_directory(email: str, scopes: tuple[str, ...]) -> Directory:
    return Directory(
        (
            ("aliases", Value(("default",))),
            ("email", Value(email)),
            ("identity", Method()),
            ("scopes", Value(scopes)),
            ("token", Method()),
        )
    )


def build(
    *,
    project_id: str,
    project_number: str,
    zone: str,
    instance_id: str,
    instance_name: str,
    email: str | None,
    scopes: tuple[str, ...],
) -> Directory:
    """The whole tree below ``/computeMetadata/v1/`` for a VM that runs as ``email``."""
    accounts: tuple[tuple[str, Node], ...] = ()
    if email:
        account = account_directory(email, scopes)
        accounts = (("default", account), (email, account))
    instance = Directory(
        (
            ("attributes", Directory(())),
            ("hostname", Value(f"{instance_name}.{zone}.c.{project_id}.internal")),
            ("id", Value(int(instance_id))),
            ("name", Value(instance_name)),
            ("service-accounts", Directory(accounts, camel_keys=False)),
            ("zone", Value(f"projects/{project_number}/zones/{zone}")),
        )
    )
    project = Directory(
        (
            ("attributes", Directory(())),
            ("numeric-project-id", Value(int(project_number))),
            ("project-id", Value(project_id)),
        )
    )
    universe = Directory((("universe-domain", Value(UNIVERSE_DOMAIN)),))
    return Directory((("instance", instance), ("project", project), ("universe", universe)))


def answer(root: Directory, key: str, *, recursive: str | None, alt: str | None) -> Answer:
    """The answer to ``GET /computeMetadata/v1/KEY`` (``""``: the root directory); ``status``
    404 when nothing is there."""
    if alt is not None and alt not in ("json", "text"):
        # unverified: Google's text for an unknown alt was not captured.
        raise BadParameter(f'alt: "{alt}" is not one of "json", "text"')
    as_dir = key == "" or key.endswith("/")
    node = lookup(root, key.rstrip("/"))
    if node is None or isinstance(node, Method):
        return Answer(404)
    if isinstance(node, Value):
        if as_dir:  # unverified: a value asked for as a directory
            return Answer(404)
        if alt == "json":
            return Answer(200, _dumps(to_json(node)), is_json=True)
        return Answer(200, to_text(node))
    if not as_dir:
        return Answer(301, location=key + "/")
    if (recursive or "").lower() == "true":
        if alt == "text":
            return Answer(200, "".join(f"{path} {text}\n" for path, text in flatten(node, "")))
        return Answer(200, _dumps(to_json(node)), is_json=True)
    names = [name + ("/" if isinstance(child, Directory) else "") for name, child in node.entries]
    if alt == "json":  # unverified: a listing asked for as JSON
        return Answer(200, _dumps(names), is_json=True)
    return Answer(200, "".join(f"{name}\n" for name in names))


def lookup(root: Directory, key: str) -> Node | None:
    node: Node = root
    for part in key.split("/") if key else ():
        if not isinstance(node, Directory):
            return None
        found = dict(node.entries).get(part)
        if found is None:
            return None
        node = found
    return node


def to_json(node: Node) -> Any:
    if isinstance(node, Value):
        return list(node.value) if isinstance(node.value, tuple) else node.value
    assert isinstance(node, Directory)
    return {
        (camel(name) if node.camel_keys else name): to_json(child)
        for name, child in node.entries
        if not isinstance(child, Method)
    }


def to_text(value: Value) -> str:
    if isinstance(value.value, tuple):
        return "".join(f"{item}\n" for item in value.value)
    return str(value.value)


def flatten(node: Directory, prefix: str) -> list[tuple[str, str]]:
    """``?recursive=true&alt=text``: one ``path value`` line a value (list items numbered,
    as Google numbers ``disks/0/...``; unverified for lists of strings)."""
    lines: list[tuple[str, str]] = []
    for name, child in node.entries:
        path = f"{prefix}{name}"
        if isinstance(child, Directory):
            lines.extend(flatten(child, path + "/"))
        elif isinstance(child, Value):
            if isinstance(child.value, tuple):
                lines.extend((f"{path}/{i}", item) for i, item in enumerate(child.value))
            else:
                lines.append((path, str(child.value)))
    return lines


def camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
