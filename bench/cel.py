"""CEL: cel-python (what mock_gcp.cel runs) against cel-expr-python (Google's CEL C++ runtime).

For every provider of the example topology (wif.yaml): its attributeMapping expressions and
its attributeCondition, evaluated over a token its lab profile would mint. Three figures per
provider, in the same run: the stand-in's own path (``AttributeMapping.apply`` then
``Condition.evaluate``, with its explanations), the bare cel-python programs, and the same
expressions compiled once by cel-expr-python; the answers of both runtimes are compared. One
STS exchange's rate under gunicorn (bench.google_side) puts the figures in proportion.

cel-expr-python is optional: ``pip install cel-expr-python``; without it only cel-python is
timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mock_gcp.cel import _claims, _evaluate
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


def _google_cel() -> Any:
    try:
        from cel_expr_python import cel
    except ImportError:
        return None
    return cel


def main() -> None:
    topology = load_topology(TOPOLOGY)
    cel = _google_cel()
    if cel is None:
        print("cel-expr-python not installed: only cel-python is timed")
    for pool in topology.pools:
        for provider in pool.providers:
            print(measure(f"{pool.id}/{provider.provider_id}", provider, cel), flush=True)


def measure(name: str, provider: Any, cel: Any) -> str:
    mapping, condition = provider.attribute_mapping, provider.attribute_condition
    mapped = mapping.apply(ASSERTION)
    sources = dict(mapping.source)
    programs = list(mapping._programs.values())  # the bench times them bare
    cel_assertion = {"assertion": _claims(ASSERTION, ValueError())}
    condition_activation: dict[str, Any] = {}
    if condition is not None:
        condition_activation = condition._activation(ASSERTION, mapped)
        sources["(condition)"] = condition.source

    def ours() -> None:
        attributes = mapping.apply(ASSERTION)
        if condition is not None:
            condition.evaluate(ASSERTION, attributes)

    def bare() -> None:
        for program in programs:
            _evaluate(program, cel_assertion)
        if condition is not None:
            _evaluate(condition._program, condition_activation)

    line = f"{name:34} stand-in {rate(ours):8,.0f}/s  bare cel-python {rate(bare):8,.0f}/s"
    if cel is None:
        return line
    env = cel.NewEnv(
        variables={
            name: cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
            for name in ("assertion", "attribute", "google")
        }
    )
    data = {
        "assertion": ASSERTION,
        "attribute": {
            k: v if isinstance(v, str) else list(v) for k, v in mapped.attributes.items()
        },
        "google": {"subject": mapped.subject, "groups": list(mapped.groups)},
    }
    compiled = {key: env.compile(expr) for key, expr in sources.items()}
    same = all(
        _answer(compiled[key], data) == _ours_answer(key, mapping, condition, mapped)
        for key in compiled
    )

    def theirs() -> None:
        activation = env.Activation(data)
        for expression in compiled.values():
            expression.eval(activation)

    return f"{line}  cel-expr-python {rate(theirs):8,.0f}/s  same answers: {same}"


def _answer(expression: Any, data: dict[str, Any]) -> Any:
    try:
        return expression.eval(data=data).plain_value()
    except Exception as exc:  # an error is an answer too
        return f"error: {type(exc).__name__}"


def _ours_answer(key: str, mapping: Any, condition: Any, mapped: Any) -> Any:
    if key == "(condition)":
        return condition.allows(ASSERTION, mapped)
    if key == "google.subject":
        return mapped.subject
    if key == "google.groups":
        return list(mapped.groups)
    value = mapped.attributes.get(key.removeprefix("attribute."))
    return value if value is None or isinstance(value, str) else list(value)


if __name__ == "__main__":
    main()
