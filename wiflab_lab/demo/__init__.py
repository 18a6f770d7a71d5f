"""``wiflab demo``: the whole WIF chain, one numbered step at a time, explained.

Without ``--endpoints`` it starts the local stack (threads mode, ephemeral ports, a temporary
state dir) and stops it at the end; with ``--endpoints`` it uses a running stack, local
(``wiflab up``) or on Google Cloud (``--target gcp``, the endpoints.json ``deploy/`` writes;
format in ``wiflab_lab.demo.endpoints``). ``run`` says whether every step passed (when Google
refused one, its error and what to check are printed), or raises a UsageError for a bad flag,
topology or endpoints file; ``wiflab.commands.demo`` turns that into the exit status.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import requests

from mock_gcp.topology import Topology, TopologyError, load_topology
from wiflab_lab.demo.endpoints import Endpoints, EndpointsError, load_endpoints
from wiflab_lab.demo.plan import PlanError, aws_profiles, choose, forecast
from wiflab_lab.demo.render import Style, render_ending, render_json, render_preamble, render_step
from wiflab_lab.demo.steps import Chain, DemoResult
from wiflab_lab.up import DEFAULT_TOPOLOGY, StackFlags, UsageError, stack_from_flags

MAX_SUGGESTIONS = 5


@dataclass
class DemoOptions(StackFlags):
    """What `wiflab demo` is asked (``wiflab.commands.demo`` maps the flags here)."""

    # Ephemeral ports: the demo never clashes with a `wiflab up` already running.
    port_base: int = 0
    endpoints: Path | None = None
    target: str | None = None
    profile: str | None = None
    provider: str | None = None
    service_account: str | None = None
    service: str | None = None
    json: bool = False
    colour: bool = True  # when stdout is a terminal


def run(args: DemoOptions) -> bool:
    """Whether every step passed; a UsageError (nothing run) for bad options or files."""
    if args.target == "gcp" and args.endpoints is None:
        return _usage("--target gcp needs --endpoints: the endpoints.json deploy/ wrote")
    if args.endpoints is not None:
        try:
            endpoints = load_endpoints(args.endpoints)
        except EndpointsError as exc:
            return _usage(f"{args.endpoints}: {exc}")
        if args.target is not None and args.target != endpoints.target:
            return _usage(f"--target {args.target}, but {args.endpoints} is for {endpoints.target}")
        # The topology the running stack was started from, unless told otherwise.
        path = args.topology or endpoints.topology or DEFAULT_TOPOLOGY
        args = replace(args, topology=path)
        topology = _load_topology(path)
        where = "real Google Cloud" if endpoints.target == "gcp" else "the running stack"
        return _run(args, topology, endpoints, f"{where} of {args.endpoints}", started_here=False)
    with tempfile.TemporaryDirectory(prefix="wiflab-demo-") as state_dir:
        # The state dir holds the IdP's admin secret and minted tokens: gone when we are.
        args = replace(
            args,
            state_dir=args.state_dir or Path(state_dir),
            topology=args.topology or DEFAULT_TOPOLOGY,
        )
        stack = stack_from_flags(args)
        try:
            document = stack.start()
        except (OSError, RuntimeError, requests.RequestException) as exc:
            print(f"wiflab demo: the local stack did not start: {exc}", file=sys.stderr)
            return False
        try:
            how = f"started for this demo ({args.mode} mode), stopped at the end"
            return _run(args, stack.topology, Endpoints.from_model(document), how, True)
        finally:
            stack.stop()


def _run(
    args: DemoOptions,
    topology: Topology,
    endpoints: Endpoints,
    stack: str,
    started_here: bool,
) -> bool:
    label = str(args.topology)
    try:
        plan = choose(
            topology, endpoints, args.profile, args.provider, args.service_account, args.service
        )
    except PlanError as exc:
        return _usage(str(exc))
    chain = Chain(endpoints, topology, plan, label, started_here)
    result = DemoResult(endpoints.target, stack, label, plan, [])
    style = Style(colour=args.colour and sys.stdout.isatty())
    _write("" if args.json else render_preamble(result, style))
    for step in chain.steps():
        result.steps.append(step)
        _write("" if args.json else render_step(step, time.time(), style))
    result.dump = chain.dump
    if result.ok:
        result.try_next = _try_next(topology, endpoints, plan.profile)
    _write(render_json(result, time.time()) if args.json else render_ending(result, style))
    if not args.json:
        _write(_explorer_line(endpoints, started_here))
    return result.ok


def _explorer_line(endpoints: Endpoints, started_here: bool) -> str:
    """Where to watch the chain in a browser (the flow explorer)."""
    if started_here:
        return (
            "\nTo watch every request in a browser: run `wiflab up` and open the flow "
            "explorer it prints (wiflab explorer: URL).\n"
        )
    if endpoints.explorer:
        return f"\nThe flow explorer shows these requests: {endpoints.explorer}/\n"
    return ""


def _try_next(topology: Topology, endpoints: Endpoints, current: str) -> dict[str, str]:
    """Other fake users, each with what the rules say the chain will do for them."""
    suggestions: dict[str, str] = {}
    # Up to MAX_SUGGESTIONS of each kind of caller: the IdP's users, then the AWS identities.
    aws = list(aws_profiles(topology)) if endpoints.aws_sts_url else []
    for kind in (topology.idp.profiles, aws):
        shown = 0
        for profile in kind:
            if profile == current or shown == MAX_SUGGESTIONS:
                continue
            try:
                suggestions[profile] = forecast(topology, endpoints, profile)
            except PlanError:
                continue  # no provider or account fits it at all: nothing to teach
            shown += 1
    return suggestions


def _load_topology(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def _usage(message: str) -> NoReturn:
    raise UsageError(message, command="wiflab demo")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
