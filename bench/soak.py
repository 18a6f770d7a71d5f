"""A bounded soak on loopback, in both modes: ``make soak`` (``python -m bench.soak``).

Figures, each mode:
- chains completed and failed, 16 concurrent clients x 50 chains each;
- the same while the IdP's keys rotate (a new active key every ``ROTATE_SECONDS``: longer than
  STS's refetch cooldown, as a real rotation is);
- RSS growth of Google's side per 10,000 STS exchanges (measured over ``EXCHANGES``, scaled);
- the time to recover after the IdP is killed (SIGKILL) and restarted on its port: from the
  restart to the first whole chain that succeeds;
- the latency of a normal chain while 50 slow clients (headers never finished) hold each part.

The IdP runs as its own process (``python -m idp_server``, as in its image) so it can be killed
and restarted; the stack serves the rest and is told its URL. Everything listens on loopback,
on ephemeral ports. Prints one table (the README's reliability section has one run's).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.chain import Chain
from idp_server.serve_process import ServeProcess
from mock_gcp.topology import load_topology
from wiflab_core.keys import generate
from wiflab_lab.stack import Stack, StackOptions

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
CLIENTS = 16
CHAINS_PER_CLIENT = 50
EXCHANGES = 2000
SLOW_CLIENTS = 50
SLOW_CHAINS = 50
ROTATE_SECONDS = 6.0
RECOVER_LIMIT_SECONDS = 60.0
ADMIN_SECRET = "soak-admin-secret"


def concurrently(work: Callable[[], None], clients: int, each: int) -> tuple[int, int, str]:
    """clients threads each calling work `each` times: (completed, failed, first failure)."""
    counts = {"ok": 0, "failed": 0}
    first: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(each):
            try:
                work()
                outcome = "ok"
            except (RuntimeError, requests.RequestException) as exc:
                outcome = "failed"
                with lock:
                    first.append(str(exc)[:160])
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["ok"], counts["failed"], first[0] if first else ""


def chains(stack: Stack) -> tuple[int, int, str]:
    local = threading.local()

    def one() -> None:
        if not hasattr(local, "chain"):
            local.chain = Chain(stack.endpoints)
        local.chain.run()

    return concurrently(one, CLIENTS, CHAINS_PER_CLIENT)


def rotating(idp_url: str, stop: threading.Event, rotations: list[str]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    while not stop.is_set():
        response = requests.post(
            f"{idp_url}/admin/keys", json={"alg": "RS256", "status": "active"}, headers=headers
        )
        response.raise_for_status()
        rotations.append(response.json()["added"]["kid"])
        stop.wait(ROTATE_SECONDS)


def family(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [c for c, p in parents.items() if p == parent]
        found += kids
        frontier += kids
    return found


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def google_pids(mode: str) -> list[int]:
    if mode == "threads":
        return [os.getpid()]
    for pid in family(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"mock_gcp.app:create_app_from_settings" in cmd and b"gunicorn" in cmd:
            return family(pid)
    raise RuntimeError("Google's side is not running")


def exchange_growth_per_10k(stack: Stack, mode: str) -> float:
    chain = Chain(stack.endpoints)
    claims = {"sub": "alice@domain.com", "isadmin": "true", "aud": chain.audience}
    subject = requests.post(chain.idp, json=claims, timeout=10).text
    local = threading.local()
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "audience": chain.audience,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    }

    def exchange() -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(chain.sts, data=form, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(response.text)

    concurrently(exchange, CLIENTS, 200 // CLIENTS)  # warm-up
    before = rss_kib(google_pids(mode))
    ok, failed, why = concurrently(exchange, CLIENTS, EXCHANGES // CLIENTS)
    if failed:
        raise RuntimeError(f"{failed} exchanges failed: {why}")
    after = rss_kib(google_pids(mode))
    return (after - before) / 1024 * 10_000 / ok


def slowloris(url: str, exit_stack: ExitStack) -> None:
    parts = urlsplit(url)
    for i in range(SLOW_CLIENTS):
        sock = exit_stack.enter_context(socket.create_connection((parts.hostname, parts.port)))
        sock.sendall(f"GET /healthz?slow={i} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-A: ".encode())


def latency_with_slow_clients(stack: Stack) -> tuple[float, float]:
    """p50 and max of a sequential chain, in ms, while every part holds 50 slow clients."""
    chain = Chain(stack.endpoints)
    chain.run()
    with ExitStack() as slow:
        for url in stack.part_urls.values():
            slowloris(url, slow)
        samples = []
        for _ in range(SLOW_CHAINS):
            start = time.perf_counter()
            chain.run()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def kill_family(pid: int) -> None:
    for member in family(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def recover_seconds(
    stack: Stack, idp: ServeProcess, restart: Callable[[], ServeProcess]
) -> tuple[float, ServeProcess]:
    chain = Chain(stack.endpoints)
    chain.run()
    assert idp.process is not None
    kill_family(idp.process.pid)
    idp.process.wait()
    start = time.perf_counter()
    replacement = restart()
    while True:
        try:
            Chain(stack.endpoints).run()
            return time.perf_counter() - start, replacement
        except (RuntimeError, requests.RequestException):
            if time.perf_counter() - start > RECOVER_LIMIT_SECONDS:
                return float("inf"), replacement
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def soak(mode: str, workdir: Path) -> dict[str, str]:
    key_file = workdir / "idp-key.pem"
    if not key_file.exists():
        key_file.write_text(generate("RS256").private_pem())
        key_file.chmod(0o600)
    profiles = load_topology(TOPOLOGY).idp.plain()
    port = free_port()
    env = {"IDP_PROFILES": json.dumps(profiles), "IDP_ADMIN_SECRET": ADMIN_SECRET}

    def start_idp() -> ServeProcess:
        return ServeProcess("--port", str(port), "--key-file", str(key_file), env=env).start()

    idp = start_idp()
    row: dict[str, str] = {}
    try:
        options = StackOptions(
            TOPOLOGY,
            workdir / mode,
            mode=mode,
            port_base=0,
            idp_url=idp.url,
            admin_secret=ADMIN_SECRET,
        )
        with Stack(options) as stack:
            ok, failed, why = chains(stack)
            row["chains ok / failed (16 x 50)"] = f"{ok} / {failed}"
            if why:
                print(f"  [{mode}] first failure: {why}", file=sys.stderr)
            stop = threading.Event()
            rotations: list[str] = []
            rotator = threading.Thread(target=rotating, args=(idp.url, stop, rotations))
            rotator.start()
            try:
                ok, failed, why = chains(stack)
            finally:
                stop.set()
                rotator.join()
            row["... while keys rotate"] = f"{ok} / {failed} ({len(rotations)} new keys)"
            if why:
                print(f"  [{mode}] first failure while rotating: {why}", file=sys.stderr)
            row["RSS growth per 10,000 exchanges"] = (
                f"{exchange_growth_per_10k(stack, mode):.1f} MiB"
            )
            p50, worst = latency_with_slow_clients(stack)
            row["chain with 50 slow clients/part"] = f"p50 {p50:.0f} ms, max {worst:.0f} ms"
            seconds, idp = recover_seconds(stack, idp, start_idp)
            row["recovery after IdP kill + restart"] = f"{seconds:.2f} s"
    finally:
        idp.stop()
    return row


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wiflab-soak-") as work:
        rows = {mode: soak(mode, Path(work)) for mode in ("threads", "processes")}
    names = list(rows["threads"])
    width = max(len(n) for n in names)
    print(f"| {'figure'.ljust(width)} | threads | processes |")
    print(f"|{'-' * (width + 2)}|---------|-----------|")
    for name in names:
        print(f"| {name.ljust(width)} | {rows['threads'][name]} | {rows['processes'][name]} |")


if __name__ == "__main__":
    main()
