"""RS256 tokens/s: the IdP as ``wiflab idp serve`` runs it, against npm's oauth2-mock-server.

One run measures, on this machine:
- raw pyjwt RS256 signing on one core (the floor any Python IdP stands on);
- ``POST /token`` on the IdP under gunicorn (2 gevent workers), driven by wrk over loopback;
- ``POST /token`` (grant_type=client_credentials) on oauth2-mock-server, driven the same way;
then prints tokens/s and the ratio. Both servers run all along and are measured in interleaved
pairs (ours, theirs, ours, theirs, ...), so other work on the machine falls on both of a pair
alike (after one unmeasured warm-up run of each); the figure is the median of the pairs'
ratios, and every pair's ratio is printed. The CPU time each server spent per token (from
/proc) is printed too: it hardly moves with the machine's other load, so it shows what the
throughput figures mean. wrk comes from Debian
(``apt-get install wrk``); oauth2-mock-server is installed from npm into a temp dir. A part
whose tool is missing is skipped with a line saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from idp_server.serve_process import ServeProcess
from wiflab_core.keys import generate

WRK_SECONDS = 4
PAIRS = 5
CONNECTIONS = 16
TARGET = 1.3
CLAIMS = {
    "sub": "alice@domain.com",
    "aud": "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
    "email": "alice@domain.com",
    "isadmin": "true",
}


def raw_rs256_per_core(seconds: float = 2.0) -> float:
    key = generate("RS256")
    claims = {**CLAIMS, "iat": 0, "exp": 3600}
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(claims)
        count += 1
    return count / (time.perf_counter() - start)


@dataclass(frozen=True)
class Run:
    tokens_per_s: float
    cpu_us_per_token: float


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, e.g. gunicorn's workers."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(wrk: str, url: str, script: Path, pid: int) -> Run:
    cpu_before = cpu_seconds(pid)
    requests, seconds = wrk_run(wrk, url, script)
    return Run(requests / seconds, (cpu_seconds(pid) - cpu_before) / requests * 1e6)


def wrk_rate(wrk: str, url: str, script: Path) -> float:
    """Requests/s of one wrk run (bench.google_side measures with it too)."""
    requests, seconds = wrk_run(wrk, url, script)
    return requests / seconds


def wrk_run(wrk: str, url: str, script: Path) -> tuple[int, float]:
    """(requests, seconds) of one wrk run; any non-2xx answer makes the figure worthless."""
    out = subprocess.run(
        [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{WRK_SECONDS}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=WRK_SECONDS + 30,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers from {url}:\n{out}")
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match is None:
        raise RuntimeError(f"no request count in wrk output:\n{out}")
    seconds = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    return int(match.group(1)), seconds


def post_script(directory: Path, name: str, body: str, content_type: str) -> Path:
    path = directory / f"{name}.lua"
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = [[{body}]]\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
    )
    return path


@dataclass(frozen=True)
class Reference:
    url: str
    version: str
    pid: int


@contextmanager
def oauth2_mock_server(directory: Path) -> Iterator[Reference | None]:
    """A running oauth2-mock-server, or None (with a line saying why)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("oauth2-mock-server: skipped, node/npm not found")
        yield None
        return
    npm_install = [npm, "install", "--prefix", str(directory), "--no-audit", "--no-fund"]
    install = subprocess.run(
        [*npm_install, "--silent", "oauth2-mock-server"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    package_dir = directory / "node_modules" / "oauth2-mock-server"
    if install.returncode != 0:
        print(f"oauth2-mock-server: skipped, npm install failed: {install.stderr.strip()[-300:]}")
        yield None
        return
    package = json.loads((package_dir / "package.json").read_text())
    command = [node, str(package_dir / package["bin"]["oauth2-mock-server"])]
    server = subprocess.Popen(
        [*command, "-a", "127.0.0.1", "-p", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                yield Reference(match.group(1), package["version"], server.pid)
                return
        raise RuntimeError("oauth2-mock-server exited before listening")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    raw = raw_rs256_per_core()
    print(f"raw pyjwt RS256 signing:          {raw:8,.0f} signs/s on one core")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("IdP and oauth2-mock-server: skipped, wrk not found (apt-get install wrk)")
        return
    with (
        tempfile.TemporaryDirectory(prefix="wiflab-bench-") as tmp,
        ServeProcess("--workers", "2") as idp,
        oauth2_mock_server(Path(tmp)) as reference,
    ):
        directory = Path(tmp)
        idp_script = post_script(directory, "idp", json.dumps(CLAIMS), "application/json")
        ref_script = post_script(
            directory,
            "reference",
            "grant_type=client_credentials",
            "application/x-www-form-urlencoded",
        )
        assert idp.process is not None
        # One unmeasured run of each first: node's JIT (and Python's caches) reach their steady
        # state there, not in the first measured pair.
        wrk_run(wrk, idp.url + "/token", idp_script)
        if reference is not None:
            wrk_run(wrk, reference.url + "/token", ref_script)
        idp_runs, ref_runs = [], []
        for _ in range(PAIRS if reference is not None else 1):
            idp_runs.append(measure(wrk, idp.url + "/token", idp_script, idp.process.pid))
            if reference is not None:
                ref_runs.append(measure(wrk, reference.url + "/token", ref_script, reference.pid))
    print(f"load: wrk -t1 -c{CONNECTIONS} over loopback, {WRK_SECONDS} s a run, medians shown")
    idp_median = report("wiflab IdP (gunicorn, 2 gevent)", idp_runs)
    print(f"  IdP / raw signing on one core:  {idp_median.tokens_per_s / raw:8.2f}x")
    if reference is None:
        return
    report(f"oauth2-mock-server {reference.version}", ref_runs)
    pairs = [i.tokens_per_s / r.tokens_per_s for i, r in zip(idp_runs, ref_runs, strict=True)]
    ratio = statistics.median(pairs)
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(
        f"  IdP / oauth2-mock-server:       {ratio:8.2f}x tokens/s, median of {len(pairs)} "
        f"interleaved pairs ({verdict} the {TARGET}x target)"
    )
    cpu_ratio = statistics.median(
        r.cpu_us_per_token / i.cpu_us_per_token for i, r in zip(idp_runs, ref_runs, strict=True)
    )
    print(f"                                  {cpu_ratio:8.2f}x less CPU per token (median pair)")
    print(f"  tokens/s ratio per pair:        {', '.join(f'{p:.2f}x' for p in pairs)}")


def report(name: str, runs: list[Run]) -> Run:
    """The runs' median tokens/s and median CPU per token (each taken on its own)."""
    median = Run(
        statistics.median(r.tokens_per_s for r in runs),
        statistics.median(r.cpu_us_per_token for r in runs),
    )
    print(
        f"{name:33} {median.tokens_per_s:8,.0f} tokens/s, "
        f"{median.cpu_us_per_token:4.0f} us CPU per token"
    )
    return median
