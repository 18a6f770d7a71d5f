"""``wiflab demo``: the whole WIF chain, one numbered step at a time, explained.

Without ``--endpoints`` it starts the local stack (threads mode, ephemeral ports, a temporary
state dir) and stops it at the end; with ``--endpoints`` it uses a running stack, local
(``wiflab up``) or on Google Cloud (``--target gcp``, the endpoints.json ``deploy/`` writes;
format in ``wiflab_lab.demo.endpoints``). Exit status: 0 when every step passed, 1 when Google
refused one (its error and what to check are printed), 2 for a bad flag, topology or
endpoints file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from mock_gcp.topology import Topology, TopologyError, load_topology
from wiflab_lab.demo.endpoints import TARGETS, Endpoints, EndpointsError, load_endpoints
from wiflab_lab.demo.plan import PlanError, choose, forecast
from wiflab_lab.demo.render import Style, render_ending, render_json, render_preamble, render_step
from wiflab_lab.demo.steps import Chain, DemoResult
from wiflab_lab.up import DEFAULT_TOPOLOGY, EXIT_USAGE, add_stack_arguments, stack_from_args

EXIT_REFUSED = 1
MAX_SUGGESTIONS = 5

DESCRIPTION = """\
Mint a fake OIDC token, exchange it at STS, get a Google ID token and an access
token from IAM Credentials, call the protected service. Each step shows its
request, the answer, every JWT decoded and the rule that allowed or refused it."""

EPILOG = """\
examples:
  wiflab demo                    alice: every step passes
  wiflab demo --profile bob      STS refuses bob (attribute condition)
  wiflab demo --profile dave     IAM refuses dave (no binding names him)
  wiflab demo --json             every step as one JSON document
  wiflab demo --endpoints STATE_DIR/endpoints.json   use a stack from `wiflab up`

exit status: 0 every step passed, 1 a step was refused, 2 bad flags or files."""


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole WIF chain, explained step by step",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Ephemeral ports: the demo never clashes with a `wiflab up` already running.
    add_stack_arguments(demo, port_base=0)
    demo.add_argument(
        "--endpoints",
        type=Path,
        help="use the running stack this endpoints.json describes instead of starting one",
    )
    demo.add_argument(
        "--target",
        choices=TARGETS,
        help="local (default) or gcp: real Google Cloud, from the endpoints.json deploy/ "
        "writes (needs --endpoints)",
    )
    demo.add_argument("--profile", help="the fake user (default alice; see idp.profiles)")
    demo.add_argument(
        "--provider", metavar="POOL/PROVIDER", help="default: the first that accepts the profile"
    )
    demo.add_argument(
        "--service-account",
        metavar="EMAIL",
        help="default: the one whose policy names the caller and may invoke the service",
    )
    demo.add_argument("--service", metavar="NAME", help="default: the first private service")
    demo.add_argument("--json", action="store_true", help="one JSON document, for machines")
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
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
        args.topology = args.topology or endpoints.topology or DEFAULT_TOPOLOGY
        topology = _load_topology(args.topology)
        where = "real Google Cloud" if endpoints.target == "gcp" else "the running stack"
        return _run(args, topology, endpoints, f"{where} of {args.endpoints}", started_here=False)
    with tempfile.TemporaryDirectory(prefix="wiflab-demo-") as state_dir:
        # The state dir holds the IdP's admin secret and minted tokens: gone when we are.
        args.state_dir = args.state_dir or Path(state_dir)
        stack = stack_from_args(args)
        try:
            document = stack.start()
        except (OSError, RuntimeError, requests.RequestException) as exc:
            print(f"wiflab demo: the local stack did not start: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        try:
            how = f"started for this demo ({args.mode} mode), stopped at the end"
            return _run(args, stack.topology, Endpoints.from_model(document), how, True)
        finally:
            stack.stop()


def _run(
    args: argparse.Namespace,
    topology: Topology,
    endpoints: Endpoints,
    stack: str,
    started_here: bool,
) -> int:
    label = str(args.topology)
    try:
        plan = choose(
            topology, endpoints, args.profile, args.provider, args.service_account, args.service
        )
    except PlanError as exc:
        return _usage(str(exc))
    chain = Chain(endpoints, topology, plan, label, started_here)
    result = DemoResult(endpoints.target, stack, label, plan, [])
    style = Style(colour=sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    _write("" if args.json else render_preamble(result, style))
    for step in chain.steps():
        result.steps.append(step)
        _write("" if args.json else render_step(step, time.time(), style))
    result.dump = chain.dump
    if result.ok:
        result.try_next = _try_next(topology, endpoints, plan.profile)
    _write(render_json(result, time.time()) if args.json else render_ending(result, style))
    return 0 if result.ok else EXIT_REFUSED


def _try_next(topology: Topology, endpoints: Endpoints, current: str) -> dict[str, str]:
    """Other fake users, each with what the rules say the chain will do for them."""
    suggestions: dict[str, str] = {}
    for profile in topology.idp.profiles:
        if profile == current or len(suggestions) == MAX_SUGGESTIONS:
            continue
        try:
            suggestions[profile] = forecast(topology, endpoints, profile)
        except PlanError:
            continue  # no provider or account fits it at all: nothing to teach
    return suggestions


def _load_topology(path: Path) -> Topology:
    try:
        return load_topology(path)
    except TopologyError as exc:
        print(f"wiflab: {path}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"wiflab: {path}: {exc.strerror}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _usage(message: str) -> int:
    print(f"wiflab demo: {message}", file=sys.stderr)
    return EXIT_USAGE


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
