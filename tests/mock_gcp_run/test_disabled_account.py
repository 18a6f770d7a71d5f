"""Cloud Run's front end refuses the ID tokens of a disabled service account (read per request)."""

from __future__ import annotations

import html

from mock_gcp.run.admission import FrontEndCheck
from mock_gcp.topology import Binding, Policy
from tests.mock_gcp_run.helpers import CALLER, GOOGLE_ISSUER, id_token_claims
from wiflab_core.keys import VerificationKeys, generate, render_jwks

URL = "https://dump-abc.a.run.app"
POLICY = Policy((Binding("roles/run.invoker", (f"serviceAccount:{CALLER}",)),))


def test_a_disabled_callers_id_token_is_refused_and_admitted_again_once_enabled() -> None:
    key = generate("RS256")
    disabled: set[str] = set()
    check = FrontEndCheck(
        service_url=URL,
        custom_audiences=(),
        google_keys=VerificationKeys(render_jwks([key.public_jwk])).get,
        google_issuers=(GOOGLE_ISSUER,),
        policies=lambda: [("projects/p/locations/local/services/dump", POLICY)],
        allow_unauthenticated=lambda: False,
        account_disabled=disabled.__contains__,
    )
    headers = {"Authorization": f"Bearer {key.sign(id_token_claims(URL))}"}
    assert check.decide(headers, "/dump").admission is not None

    disabled.add(CALLER)
    outcome = check.decide(headers, "/dump")
    assert outcome.error is not None
    assert outcome.error.status == 403
    page = outcome.error.page().decode()
    assert "<title>403 Forbidden</title>" in page
    assert (
        "Your client does not have permission to get URL <code>/dump</code> from this server."
        in html.unescape(page)
    )
    failed = outcome.decision.checks[-1]
    assert (failed.name, failed.passed, failed.actual) == ("caller.disabled", False, CALLER)

    disabled.clear()
    assert check.decide(headers, "/dump").admission is not None
