"""Real providers' tokens through the whole chain, with google-auth (file-sourced configs).

The example topology's github, gitlab and kubernetes providers carry Google's templates and the
providers' real issuers; locally the lab IdP's /presets/NAME stands in for each issuer, so the
lab's look-alike tokens (POST /presets/NAME/token) reach STS as the real ones would. Each
victim token federates and impersonates ci-deployer; each attack token an attacker could get
from the same issuer is refused by STS with Google's words.
"""

from __future__ import annotations

from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
import pytest

from idp_server.presets import PRESETS
from wiflab_lab.testing import ExternalAccounts, WifStack

# Google's text for a token the attribute condition refuses (reference, failure mode 2).
REJECTED = "The given credential is rejected by the attribute condition."
ACCOUNT = "ci-deployer"
PROVIDERS = {
    "github": "github-pool/github",
    "gitlab": "gitlab-pool/gitlab",
    "kubernetes": "kubernetes-pool/prod-cluster",
}
# Attacks the lab IdP can mint through the preset's own issuer path (another cluster's issuer
# and legacy tokens are the unit tests' business: tests/attacks).
ATTACKS = [
    (name, attack)
    for name in PROVIDERS
    for attack, described in PRESETS[name].attacks.items()
    if not described.issuer_params and described.variant != "legacy"
]


@pytest.fixture
def accounts(wif_stack: WifStack, tmp_path: Path) -> ExternalAccounts:
    if wif_stack.target != "local":
        pytest.skip("the presets' tokens come from the lab IdP: local target only")
    return ExternalAccounts(wif_stack, tmp_path)


def victim_params(stack: WifStack, preset: str) -> dict[str, str]:
    return dict(stack.topology.idp.presets.get(preset, {}))


@pytest.mark.parametrize("preset", list(PROVIDERS))
def test_a_preset_token_impersonates_the_deployer(
    wif_stack: WifStack, accounts: ExternalAccounts, preset: str
) -> None:
    provider = PROVIDERS[preset]
    token = wif_stack.idp.mint_preset(preset, audience=wif_stack.audience(provider))
    credentials = accounts.credentials(provider, subject_token=token, service_account=ACCOUNT)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token
    assert credentials.service_account_email == wif_stack.account(ACCOUNT)


@pytest.mark.parametrize(("preset", "attack"), ATTACKS, ids=[f"{p}-{a}" for p, a in ATTACKS])
def test_an_attack_token_is_refused_with_googles_text(
    wif_stack: WifStack, accounts: ExternalAccounts, preset: str, attack: str
) -> None:
    provider = PROVIDERS[preset]
    variant, params = PRESETS[preset].attack_params(attack, **victim_params(wif_stack, preset))
    token = wif_stack.idp.mint_preset(
        preset, variant=variant, params=params, audience=wif_stack.audience(provider)
    )
    credentials = accounts.credentials(provider, subject_token=token)
    with pytest.raises(google.auth.exceptions.OAuthError) as raised:
        credentials.refresh(google.auth.transport.requests.Request())
    assert REJECTED in str(raised.value)
