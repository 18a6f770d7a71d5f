"""The negative catalogue (e2e/catalogue.py): each refusal with Google's status, code and text."""

from __future__ import annotations

import pytest

from e2e.catalogue import CASES, Case


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_refused_as_google_refuses(case: Case, chain, fidelity) -> None:
    refusal = case.produce(chain)
    fidelity.check(case, refusal, chain.facts)


def test_the_catalogue_spans_every_hop() -> None:
    """At least 40 cases, over STS, IAM Credentials, Cloud Run, the metadata server and the IdP."""
    prefixes = {case.id.split("-")[0] for case in CASES}
    assert len(CASES) >= 40
    assert prefixes == {"sts", "iam", "run", "metadata", "idp"}
    assert len({case.id for case in CASES}) == len(CASES)
