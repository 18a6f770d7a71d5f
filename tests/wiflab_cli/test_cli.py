"""The ``wiflab`` command line itself: what --help loads, and the layer's own copies of the
lab's choices and defaults (written there so that --help imports none of the lab)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wiflab.cli import SUBCOMMANDS, main

HEAVY = ("flask", "gunicorn", "celpy", "lark", "jwt", "requests", "yaml", "deploy")
LAYERS_BELOW = ("wiflab_lab", "idp_server", "mock_gcp", "protected_app", "wiflab_core")
# Runs the command line in this process, then prints the top-level packages it loaded.
LOADED = """
import json, sys
from wiflab.cli import main
status = main(sys.argv[1:])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
sys.exit(status)
"""


def loaded_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args], capture_output=True, text=True, timeout=60
    )
    return done, set(json.loads(done.stderr.splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("demo", "--help")], ids=["root", "demo"])
def test_help_loads_nothing_heavy(args: tuple[str, ...]) -> None:
    done, loaded = loaded_by(*args)
    assert done.returncode == 0, done.stderr
    assert "Usage: wiflab" in done.stdout
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)
    assert loaded.isdisjoint(LAYERS_BELOW), loaded & set(LAYERS_BELOW)


def test_root_help_lists_every_subcommand_with_its_line(capsys) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # click wraps long lines
    for name, (_, help_text) in SUBCOMMANDS.items():
        assert f"{name} {help_text}" in out


def test_a_subcommand_runs_only_once_it_is_named(capsys) -> None:
    assert main([]) == 2  # no subcommand: usage
    assert main(["nope"]) == 2
    assert "No such command 'nope'" in capsys.readouterr().err


def test_mutually_exclusive_key_states_are_a_usage_error(capsys) -> None:
    args = ["idp", "keys", "add", "--issuer-url=http://127.0.0.1:9", "--activate", "--held"]
    assert main(args) == 2
    assert "--held: not allowed with argument --activate" in capsys.readouterr().err


def test_idp_serve_answers_with_the_idps_own_flags(capsys) -> None:
    assert main(["idp", "serve", "--help"]) == 0
    assert "usage: wiflab idp serve" in capsys.readouterr().out
    assert main(["idp", "serve", "--port", "eighty"]) == 2
    assert "--port: invalid int value" in capsys.readouterr().err


def test_the_command_lines_copies_are_the_labs() -> None:
    from deploy import target
    from wiflab.commands import demo as demo_command
    from wiflab.commands import deploy as deploy_command
    from wiflab.commands import up as up_command
    from wiflab_core.serving import LOOPBACK
    from wiflab_lab import stack, up
    from wiflab_lab.demo import endpoints

    assert up_command.DEFAULT_TOPOLOGY == up.DEFAULT_TOPOLOGY == Path("wif.yaml")
    assert up_command.MODES == stack.MODES
    assert up_command.DEFAULT_PORT_BASE == stack.DEFAULT_PORT_BASE
    assert up_command.LOOPBACK == LOOPBACK
    assert demo_command.TARGETS == endpoints.TARGETS
    assert deploy_command.DEFAULT_REPOSITORY == target.DEFAULT_REPOSITORY
    assert deploy_command.DEFAULT_STATE_DIR == target.DEFAULT_STATE_DIR
