"""The default image tags: one digest per image of what it ships (the Dockerfile's COPY lines),
so an edit rebuilds exactly the images that hold the edited file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy.source_tag import DOCKERFILE, shipped, source_tag
from tests.deploy.cases import ROOT
from tests.deploy.test_commands import EXAMPLE, setup_dry_run

TARGETS = ("idp", "protected-app", "google")


def checkout(tmp_path: Path) -> Path:
    """The parts of this checkout the images ship, and some they do not."""
    for name in ("pyproject.toml", DOCKERFILE):
        shutil.copy(ROOT / name, tmp_path / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in (
        "wiflab",
        "wiflab_core",
        "wiflab_lab",
        "idp_server",
        "protected_app",
        "mock_gcp",
        "aws_side",
        "deploy",
    ):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    return tmp_path


def tags(root: Path) -> dict[str, str]:
    return {target: source_tag(root, target) for target in TARGETS}


def test_the_default_image_tag_follows_the_sources(tmp_path) -> None:
    shutil.copy(ROOT / DOCKERFILE, tmp_path / DOCKERFILE)
    for name in ("pyproject.toml", "wiflab/a.py", "wiflab_core/c.py", "idp_server/b.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    tag = source_tag(tmp_path, "idp")
    (tmp_path / "idp_server" / "__pycache__").mkdir()
    (tmp_path / "idp_server" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("not in an image")
    (tmp_path / "wiflab" / "a.py").write_text("the command line is in no image")
    assert source_tag(tmp_path, "idp") == tag
    (tmp_path / "idp_server" / "b.py").write_text("changed")
    assert source_tag(tmp_path, "idp") != tag
    assert tag.startswith("src-") and len(tag) == 16


def test_editing_the_demo_or_the_command_line_rebuilds_no_image(tmp_path) -> None:
    root = checkout(tmp_path)
    before = tags(root)
    assert len(set(before.values())) == len(TARGETS)  # one tag per image
    (root / "wiflab_lab" / "demo" / "__init__.py").write_text('"""edited"""\n')
    (root / "wiflab" / "cli.py").write_text("# edited\n", encoding="utf-8")
    (root / "deploy" / "setup_plan.py").write_text("# edited\n", encoding="utf-8")
    assert tags(root) == before


@pytest.mark.parametrize(
    ("edited", "rebuilt"),
    [
        ("idp_server/app.py", {"idp", "google"}),
        ("protected_app/app.py", {"protected-app", "google"}),
        ("mock_gcp/sts/exchange.py", {"google"}),
        ("wiflab_lab/stack.py", {"google"}),
        ("wiflab_core/keys.py", set(TARGETS)),
        ("pyproject.toml", set(TARGETS)),
        (DOCKERFILE, set(TARGETS)),
    ],
)
def test_an_edit_rebuilds_the_images_that_ship_it(tmp_path, edited, rebuilt) -> None:
    root = checkout(tmp_path)
    before = tags(root)
    with (root / edited).open("a", encoding="utf-8") as file:
        file.write("\n# edited\n")
    after = tags(root)
    assert {t for t in TARGETS if after[t] != before[t]} == rebuilt


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="no target 'demo'"):
        shipped(ROOT, "demo")


def test_setup_tags_each_image_with_its_own_digest(capsys) -> None:
    assert setup_dry_run(EXAMPLE) == 0
    script = capsys.readouterr().out
    for app, target in (("idp-server", "idp"), ("protected-app", "protected-app")):
        image = f"us-central1-docker.pkg.dev/my-lab/wiflab/{app}:{source_tag(ROOT, target)}"
        assert f"_TARGET={target},_IMAGE={image}" in script
        assert f"--image={image}" in script
