"""CEL: cel-python against cel-expr-python (Google's CEL runtime, the C++ cel-cpp).

For every provider of the example topology (wif.yaml): its attributeMapping expressions and
its attributeCondition, over a token its lab profile would mint, in the same run:

- the stand-in's whole path (``AttributeMapping.apply`` then ``Condition.evaluate``, with its
  per-clause explanations), evaluating with cel-python (before) and with cel-expr-python
  (what mock_gcp.cel does since issue 17; cel-python still parses and checks);
- the bare evaluations of both runtimes, and whether their answers are the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mock_gcp import cel as rules
from mock_gcp.topology import load_topology

TOPOLOGY = Path(__file__).resolve().parents[1] / "wif.yaml"
SECONDS = 1.0
ASSERTION = {
    "iss": "http://127.0.0.1:8700",
    "sub": "alice@domain.com",
    "aud": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/p",
    "isadmin": "true",
    "mygroups": ["group1", "group2"],
    "org_id": "org-acme",
    "owner_type": "Organization",
    "iat": 1_800_000_000,
    "exp": 1_800_003_600,
}


def rate(work: Callable[[], object], seconds: float = SECONDS) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        count += 1
    return count / (time.perf_counter() - start)


def cel_python_only(program: Any) -> Any:
    return rules._Program(program.runner)


def main() -> None:
    if rules._GOOGLE_ENV is None:
        print("cel-expr-python is not installed: nothing to compare (pip install cel-expr-python)")
        return
    topology = load_topology(TOPOLOGY)
    for pool in topology.pools:
        for provider in pool.providers:
            print(measure(f"{pool.id}/{provider.provider_id}", provider), flush=True)


def measure(name: str, provider: Any) -> str:
    mapping, condition = provider.attribute_mapping, provider.attribute_condition
    before_mapping = rules.AttributeMapping(
        mapping.source, {k: cel_python_only(p) for k, p in mapping._programs.items()}
    )
    before_condition = condition and rules.Condition(
        condition.source,
        cel_python_only(condition._program),
        condition.operator,
        tuple((source, cel_python_only(p)) for source, p in condition._clauses),
    )

    def path(mapping: Any, condition: Any) -> Callable[[], object]:
        def run() -> object:
            attributes = mapping.apply(ASSERTION)
            return condition.evaluate(ASSERTION, attributes) if condition else attributes

        return run

    before, after = path(before_mapping, before_condition), path(mapping, condition)
    same_path = before() == after()
    mapped = mapping.apply(ASSERTION)
    programs = list(mapping._programs.values())
    activations = [rules._Activation(assertion=rules._to_cel(ASSERTION))] * len(programs)
    if condition is not None:
        programs.append(condition._program)
        activations.append(condition._activation(ASSERTION, mapped))
    pairs = list(zip(programs, activations, strict=True))

    def bare_python() -> None:
        for program, activation in pairs:
            program.runner.evaluate(dict(activation))

    def bare_google() -> None:
        for program, activation in pairs:
            rules._google_evaluate(program.compiled, activation)

    same_bare = all(
        program.runner.evaluate(dict(a)) == rules._google_evaluate(program.compiled, a)
        for program, a in pairs
    )
    b, a = rate(before), rate(after)
    bp, bg = rate(bare_python), rate(bare_google)
    return (
        f"{name:30} stand-in path: cel-python {b:7,.0f}/s  cel-expr-python {a:7,.0f}/s"
        f" ({a / b:4.1f}x)  bare: {bp:7,.0f}/s vs {bg:7,.0f}/s ({bg / bp:4.1f}x)"
        f"  same answers: {same_path and same_bare}"
    )


if __name__ == "__main__":
    main()
