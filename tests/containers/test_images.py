"""What each image ships is enough to run it and no more than it names: every module it
ships imports only modules it ships (or the standard library, or its extra's distributions),
its extra is the project's own requirements, and the build context holds exactly what some
target copies. (Static checks: no engine needed.)"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from deploy.source_tag import shipped
from tests.containers.conftest import ROOT, TARGETS

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PYPROJECT["optional-dependencies"]
DOCKER_TARGETS = sorted(target for target, _ in TARGETS.values())


def shipped_modules(target: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py the target copies."""
    modules = {}
    for name in shipped(ROOT, target):
        top = ROOT / name
        for path in [top] if top.is_file() else sorted(top.rglob("*.py")):
            if path.suffix != ".py":
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(module: str, path: Path) -> set[str]:
    """The absolute names a module imports at run time (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for statement in branch.body
        for node in ast.walk(statement)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them (pydantic_core is pydantic-core)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, their own requirements included."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonical(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            child = Requirement(text)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
                todo.append(child)
    return seen


FIRST_PARTY = {m.split(".")[0] for t in DOCKER_TARGETS for m in shipped_modules(t)} | {"wiflab"}


@pytest.mark.parametrize("target", DOCKER_TARGETS)
def test_every_module_an_image_ships_imports_only_what_it_has(target) -> None:
    modules = shipped_modules(target)
    installed = distributions(EXTRAS[target])
    owners = metadata.packages_distributions()
    missing = set()
    for module, path in modules.items():
        for name in imports(module, path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names:
                continue
            if top in FIRST_PARTY:
                # `from package import name` names a module or an attribute: one must ship.
                if name not in modules and name.rpartition(".")[0] not in modules:
                    missing.add(f"{module} imports {name}, which {target} does not ship")
            elif not {canonical(d) for d in owners.get(top, [top])} & installed:
                missing.add(f"{module} imports {top}, not installed by the [{target}] extra")
    assert not missing, "\n".join(sorted(missing))


def test_the_idp_and_the_app_ship_no_other_service_nor_the_lab() -> None:
    for target, own in (("idp", "idp_server"), ("protected-app", "protected_app")):
        assert {m.split(".")[0] for m in shipped_modules(target)} == {"wiflab_core", own}


@pytest.mark.parametrize("target", DOCKER_TARGETS)
def test_each_extra_is_the_projects_own_requirements(target) -> None:
    assert set(EXTRAS[target]) <= set(PYPROJECT["dependencies"])
    assert set(EXTRAS["google"]) == set(PYPROJECT["dependencies"])  # it runs the whole stand-in


def test_the_build_context_is_what_the_targets_copy() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {path for t in DOCKER_TARGETS for path in shipped(ROOT, t)}
