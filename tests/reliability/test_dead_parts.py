"""Item 8 of issue 12: a dead part is noticed (the stack stops and names it), and no child
outlives `wiflab up`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.wiflab_stack.test_up import all_urls, refuses_connections, start_up


def children(pid: int) -> dict[int, str]:
    """Every descendant of pid: pid -> command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def eventually(condition, attempts: int = 300) -> bool:
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_killed_idp_stops_the_stack_with_its_name(tmp_path):
    process, endpoints = start_up(tmp_path, "--mode", "processes")
    try:
        family = children(process.pid)
        idp_master = next(
            pid
            for pid, cmd in family.items()
            if "idp_server.app:create_app" in cmd and children(pid)  # the master has workers
        )
        os.kill(idp_master, signal.SIGKILL)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read()
    assert code == 1, stderr
    assert "wiflab up: idp (gunicorn killed by SIGKILL): stopped serving" in stderr
    assert "Traceback" not in stderr
    assert eventually(lambda: not any(alive(pid) for pid in family))
    assert all(refuses_connections(url) for url in all_urls(endpoints))


def test_no_child_outlives_a_killed_wiflab_up(tmp_path):
    process, endpoints = start_up(tmp_path, "--mode", "processes")
    family = children(process.pid)
    assert len(family) >= 6  # a gunicorn master and its workers per part
    process.kill()
    process.wait(timeout=10)
    assert eventually(lambda: not any(alive(pid) for pid in family)), {
        pid: cmd for pid, cmd in family.items() if alive(pid)
    }
    assert all(refuses_connections(url) for url in all_urls(endpoints))
