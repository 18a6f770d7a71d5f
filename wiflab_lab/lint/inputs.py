"""Reading what lint checks: a wiflab topology, the JSON of ``gcloud iam
workload-identity-pools providers describe`` (one provider or a list), ``gcloud iam
service-accounts get-iam-policy`` and ``terraform show -json``. The kind is told from the
content; each resource keeps the line it starts on (YAML and JSON alike)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from mock_gcp.topology import TopologyError, parse_topology
from mock_gcp.topology.resources import CONDITION_MUST_READ_A_CLAIM, DEFAULT_AWS_MAPPING
from wiflab_lab.lint.model import BindingSpec, Inventory, ProviderSpec, Where

_PROVIDER_NAME = re.compile(
    r"projects/(?P<project>[^/]+)/locations/global/workloadIdentityPools/(?P<pool>[^/]+)"
    r"/providers/(?P<provider>[^/]+)"
)
_SA_IN_ID = re.compile(r"(?:projects/[^/]+/serviceAccounts/)?(?P<email>[^/]+@[^/]+)")
KINDS = ("topology", "gcloud-provider", "iam-policy", "terraform")


class InputError(ValueError):
    """An input lint cannot read: which file, which field, and why."""

    def __init__(self, file: str, field: str | None, message: str):
        super().__init__(f"{file}: {field + ': ' if field else ''}{message}")
        self.file, self.field, self.message = file, field, message


def _path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _lines(node: yaml.Node, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str, int]]:
    yield _path(at), node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield from _lines(value, (*at, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _lines(item, (*at, i))


class _Doc:
    """One input's data, and the line each path in it starts on."""

    def __init__(self, file: str, data: Any, lines: Mapping[str, int]):
        self.file, self.data, self.lines = file, data, lines
        self.places: dict[str, Where] = {}  # resource path -> where (Inventory.places)

    def provider_places(
        self, resource: str, at: str, condition: str, mapping: str, audiences: str
    ) -> None:
        """Where a provider's condition, each mapping key and each allowed audience are, by
        the names findings use."""
        at = f"{at}." if at else ""
        self.places[f"{resource}.attributeCondition"] = self.where(f"{at}{condition}")
        for i in range(16):
            if f"{at}{audiences}[{i}]" in self.lines:
                where = self.where(f"{at}{audiences}[{i}]")
                self.places[f"{resource}.oidc.allowedAudiences[{i}]"] = where
        for key in self.lines_of(f"{at}{mapping}"):
            where = self.where(f"{at}{mapping}.{key}")
            self.places[f"{resource}.attributeMapping[{key!r}]"] = where

    def lines_of(self, path: str) -> list[str]:
        """The keys below ``path`` that have a line."""
        prefix = f"{path}."
        return [p[len(prefix) :] for p in self.lines if p.startswith(prefix)]

    def where(self, path: str) -> Where:
        # The line of the path, or of the nearest enclosing one that has one.
        probe = path
        while probe and probe not in self.lines:
            probe = re.sub(r"(\.[^.\[]*|\[[^\]]*\])$", "", probe)
        line = self.lines.get(probe) if probe else self.lines.get("")
        return Where(self.file, line)


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(path: str | Path) -> _Doc:
    """The file's data (JSON, else YAML) and its lines, from one YAML parse."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(file, None, f"cannot read: {exc}") from None
    data: Any = None
    try:
        data, is_json = json.loads(text), True
    except ValueError:
        is_json = False
    except RecursionError:
        raise InputError(file, None, "nested too deeply") from None
    node: yaml.Node | None = None
    try:
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            if not is_json and node is not None:
                data = loader.construct_document(node)
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as exc:
        if not is_json:
            raise InputError(file, None, f"neither JSON nor YAML: {exc}") from None
        node = None  # valid JSON that YAML does not read (rare): no line numbers
    lines = dict(_lines(node)) if node is not None else {}
    return _Doc(file, data, lines)


def kind_of(data: Any) -> str | None:
    if isinstance(data, dict):
        if "format_version" in data and ("values" in data or "planned_values" in data):
            return "terraform"
        if "project" in data and any(
            k in data for k in ("pools", "serviceAccounts", "services", "policy", "idp")
        ):
            return "topology"
        if isinstance(data.get("name"), str) and _PROVIDER_NAME.fullmatch(data["name"]):
            return "gcloud-provider"
        if "bindings" in data or ("etag" in data and "version" in data):
            return "iam-policy"
    if isinstance(data, list) and data and all(kind_of(x) == "gcloud-provider" for x in data):
        return "gcloud-provider"
    return None


def load_inventory(
    path: str | Path, *, resource: str | None = None, validate: bool = True
) -> Inventory:
    """The inventory of one input file. ``resource``: what an IAM policy is the policy of
    (default: the file's name when it names a service account). ``validate=False``: a
    topology the caller has just loaded itself is not validated again (no WIF000)."""
    doc = read(path)
    kind = kind_of(doc.data)
    if kind == "topology":
        return _topology(doc, validate)
    if kind == "gcloud-provider":
        items = doc.data if isinstance(doc.data, list) else [doc.data]
        prefix = "[{}]" if isinstance(doc.data, list) else ""
        return sum(
            (_gcloud_provider(doc, item, prefix.format(i)) for i, item in enumerate(items)),
            Inventory(),
        )
    if kind == "iam-policy":
        return _iam_policy(doc, resource or _resource_from_name(Path(path)))
    if kind == "terraform":
        return _terraform(doc)
    raise InputError(
        doc.file,
        None,
        "not a wiflab topology (project, pools), gcloud provider JSON (name: projects/N/"
        "locations/global/workloadIdentityPools/P/providers/X), an IAM policy (bindings) "
        "or `terraform show -json` output (format_version, values)",
    )


# --- the shapes ------------------------------------------------------------------------------


def _dict(doc: _Doc, value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(doc.file, field, f"must be a mapping, not {type(value).__name__}")
    return value


def _list(doc: _Doc, value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(doc.file, field, f"must be a list, not {type(value).__name__}")
    return value


def _text(doc: _Doc, value: Any, field: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InputError(doc.file, field, f"must be a string, not {type(value).__name__}")
    return value


def _mapping(doc: _Doc, value: Any, field: str, *, aws: bool = False) -> dict[str, str]:
    """A provider's attributeMapping; an AWS provider that leaves it out has Google's default."""
    if aws and value is None:
        return dict(DEFAULT_AWS_MAPPING)
    mapping = _dict(doc, value, field)
    for key, expr in mapping.items():
        if not isinstance(expr, str):
            raise InputError(doc.file, f"{field}[{key!r}]", "must be a CEL expression string")
    return {str(k): v for k, v in mapping.items()}


def _members(doc: _Doc, value: Any, field: str) -> tuple[str, ...]:
    members = _list(doc, value, field)
    for i, member in enumerate(members):
        _text(doc, member, f"{field}[{i}]", optional=False)
    return tuple(members)


def _bindings(doc: _Doc, policy: Any, at: str, target: str) -> list[BindingSpec]:
    found = []
    for i, b in enumerate(_list(doc, _dict(doc, policy, at).get("bindings"), f"{at}.bindings")):
        path = f"{at}.bindings[{i}]" if at else f"bindings[{i}]"
        b = _dict(doc, b, path)
        role = _text(doc, b.get("role"), f"{path}.role", optional=False) or ""
        members = _members(doc, b.get("members"), f"{path}.members")
        found.append(BindingSpec(path, target, role, members, doc.where(path)))
        for j in range(len(members)):
            doc.places[f"{path}.members[{j}]"] = doc.where(f"{path}.members[{j}]")
    return found


def _topology(doc: _Doc, validate: bool = True) -> Inventory:
    data = doc.data
    project = _dict(doc, data.get("project"), "project")
    providers, bindings, pools = [], [], set()
    for i, pool in enumerate(_list(doc, data.get("pools"), "pools")):
        pool = _dict(doc, pool, f"pools[{i}]")
        pool_id = str(pool.get("id", ""))
        pools.add(pool_id)
        for j, p in enumerate(_list(doc, pool.get("providers"), f"pools[{i}].providers")):
            at = f"pools[{i}].providers[{j}]"
            p = _dict(doc, p, at)
            oidc = _dict(doc, p.get("oidc"), f"{at}.oidc")
            providers.append(
                ProviderSpec(
                    at,
                    pool_id,
                    str(p.get("id", "")),
                    _text(doc, oidc.get("issuerUri"), f"{at}.oidc.issuerUri"),
                    _mapping(
                        doc, p.get("attributeMapping"), f"{at}.attributeMapping", aws="aws" in p
                    ),
                    _text(doc, p.get("attributeCondition"), f"{at}.attributeCondition"),
                    tuple(
                        _members(doc, oidc.get("allowedAudiences"), f"{at}.oidc.allowedAudiences")
                    ),
                    doc.where(at),
                )
            )
            doc.provider_places(
                at, at, "attributeCondition", "attributeMapping", "oidc.allowedAudiences"
            )
    bindings += _bindings(doc, data.get("policy"), "policy", "the project")
    for kind, key in (("serviceAccounts", "email"), ("services", "name")):
        for i, item in enumerate(_list(doc, data.get(kind), kind)):
            item = _dict(doc, item, f"{kind}[{i}]")
            target = str(item.get(key, f"{kind}[{i}]"))
            bindings += _bindings(doc, item.get("policy"), f"{kind}[{i}].policy", target)
    number = project.get("number")
    return Inventory(
        tuple(providers),
        tuple(bindings),
        frozenset(pools),
        str(number) if number is not None else None,
        _text(doc, project.get("id"), "project.id"),
        tuple(_validation_problems(doc)) if validate else (),
        MappingProxyType(doc.places),
        _preset_params(doc, _dict(doc, data.get("idp"), "idp").get("presets")),
    )


def _preset_params(doc: _Doc, value: Any) -> Mapping[str, Mapping[str, str]]:
    """``idp.presets`` where it is well-formed (the topology's validation says where not)."""
    presets = value if isinstance(value, dict) else {}
    return MappingProxyType(
        {
            str(name): {str(k): v for k, v in params.items() if isinstance(v, str)}
            for name, params in presets.items()
            if isinstance(params, dict)
        }
    )


def _validation_problems(doc: _Doc) -> Iterator[tuple[str, str, Where | None]]:
    """What the stand-in's own loading refuses, less what a rule reports better."""
    try:
        parse_topology(doc.data)
    except TopologyError as exc:
        for path, message in exc.problems:
            if message == CONDITION_MUST_READ_A_CLAIM:
                continue  # WIF001
            if re.search(r"members\[\d+\]$", path):
                continue  # every member is checked by WIF005 / WIF007 / WIF008
            yield path, message, doc.where(path)


def _gcloud_provider(doc: _Doc, item: Any, at: str) -> Inventory:
    item = _dict(doc, item, at or "(top level)")
    name = _text(doc, item.get("name"), f"{at}.name" if at else "name", optional=False) or ""
    m = _PROVIDER_NAME.fullmatch(name)
    if m is None:
        raise InputError(doc.file, f"{at}.name" if at else "name", f"not a provider name: {name!r}")

    def field(name: str) -> str:
        return f"{at}.{name}" if at else name

    oidc = _dict(doc, item.get("oidc"), field("oidc"))
    spec = ProviderSpec(
        name,
        m["pool"],
        m["provider"],
        _text(doc, oidc.get("issuerUri"), field("oidc.issuerUri"))
        or ("" if "aws" in item else None),
        _mapping(doc, item.get("attributeMapping"), field("attributeMapping"), aws="aws" in item),
        _text(doc, item.get("attributeCondition"), field("attributeCondition")),
        _members(doc, oidc.get("allowedAudiences"), field("oidc.allowedAudiences")),
        doc.where(at),
    )
    doc.provider_places(name, at, "attributeCondition", "attributeMapping", "oidc.allowedAudiences")
    number = m["project"] if m["project"].isdigit() else None
    places = MappingProxyType(doc.places)
    return Inventory((spec,), (), frozenset({m["pool"]}), number, places=places)


def _resource_from_name(path: Path) -> str:
    stem = path.name.removesuffix(".json").removesuffix(".policy").removesuffix("-policy")
    return stem if "@" in stem else path.name


def _iam_policy(doc: _Doc, target: str) -> Inventory:
    bindings = _bindings(doc, doc.data, "", target)
    places = MappingProxyType({f"{target}/{k}": v for k, v in doc.places.items()})
    return Inventory((), tuple(_prefixed(b, target) for b in bindings), places=places)


def _prefixed(b: BindingSpec, target: str) -> BindingSpec:
    return BindingSpec(f"{target}/{b.resource}", b.target, b.role, b.members, b.where)


def _modules(doc: _Doc, module: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    module = _dict(doc, module, at)
    for i, resource in enumerate(_list(doc, module.get("resources"), f"{at}.resources")):
        yield f"{at}.resources[{i}]", _dict(doc, resource, f"{at}.resources[{i}]")
    for i, child in enumerate(_list(doc, module.get("child_modules"), f"{at}.child_modules")):
        yield from _modules(doc, child, f"{at}.child_modules[{i}]")


def _terraform(doc: _Doc) -> Inventory:
    top = "values" if "values" in doc.data else "planned_values"
    values = _dict(doc, doc.data.get(top), top)
    providers, bindings, pools = [], [], set()
    number = None
    for at, resource in _modules(doc, values.get("root_module"), f"{top}.root_module"):
        kind = resource.get("type")
        address = str(resource.get("address", at))
        v = _dict(doc, resource.get("values"), f"{at}.values")
        field = functools.partial("{}.values.{}".format, at)
        if kind == "google_iam_workload_identity_pool":
            pools.add(str(v.get("workload_identity_pool_id", "")))
        elif kind == "google_iam_workload_identity_pool_provider":
            oidc_blocks = _list(doc, v.get("oidc"), field("oidc"))
            oidc = _dict(doc, oidc_blocks[0] if oidc_blocks else None, field("oidc[0]"))
            name = v.get("name")
            m = _PROVIDER_NAME.fullmatch(name) if isinstance(name, str) else None
            if m and m["project"].isdigit():
                number = m["project"]
            pool_id = str(v.get("workload_identity_pool_id", ""))
            pools.add(pool_id)
            providers.append(
                ProviderSpec(
                    address,
                    pool_id,
                    str(v.get("workload_identity_pool_provider_id", "")),
                    _text(doc, oidc.get("issuer_uri"), field("oidc[0].issuer_uri")),
                    _mapping(
                        doc,
                        v.get("attribute_mapping"),
                        field("attribute_mapping"),
                        aws=bool(v.get("aws")),
                    ),
                    _text(doc, v.get("attribute_condition"), field("attribute_condition")),
                    _members(
                        doc, oidc.get("allowed_audiences"), field("oidc[0].allowed_audiences")
                    ),
                    doc.where(at),
                )
            )
            doc.provider_places(
                address,
                f"{at}.values",
                "attribute_condition",
                "attribute_mapping",
                "oidc[0].allowed_audiences",
            )
        elif kind in ("google_service_account_iam_binding", "google_service_account_iam_member"):
            said = _text(doc, v.get("service_account_id"), field("service_account_id")) or ""
            m2 = _SA_IN_ID.fullmatch(said)
            target = m2["email"] if m2 else said
            role = _text(doc, v.get("role"), field("role"), optional=False) or ""
            if kind.endswith("_member"):
                member = _text(doc, v.get("member"), field("member"))
                members: tuple[str, ...] = (member,) if member else ()
                doc.places[f"{address}.members[0]"] = doc.where(field("member"))
            else:
                members = _members(doc, v.get("members"), field("members"))
                for j in range(len(members)):
                    doc.places[f"{address}.members[{j}]"] = doc.where(field(f"members[{j}]"))
            bindings.append(BindingSpec(address, target, role, members, doc.where(at)))
    return Inventory(
        tuple(providers),
        tuple(bindings),
        frozenset(pools) if pools else None,
        number,
        places=MappingProxyType(doc.places),
    )
