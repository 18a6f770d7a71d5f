"""The tokens an attacker can get from your providers' issuers, tried against the topology.

For each provider whose issuer is a preset's (GitHub's, GitLab's, a GKE cluster's, ...), each of
the preset's attacks (``Preset.attacks``: another owner with a similar name, a fork's pull
request, another branch, namespace or cluster, ...) becomes a token, signed by a key made here,
and STS's own ``SecurityTokenService.decide`` judges it exactly as the exchange would (on a
Google side built in memory from the topology, as ``wiflab explain`` does; nothing is sent).
A result says whether the attack got through and with which decision: the checks that let it
in, or the one that stopped it. The victim's own token is tried first: when even it is
refused, the provider is not set up for the victim's params and the attack results prove
nothing (``victim_allowed``).

The victim's params are the topology's ``idp.presets.NAME`` over the preset's defaults, with
those the provider's issuer names (a GKE cluster's project, location and name).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from idp_server.presets import PRESETS, Preset
from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.sts.exchange import SecurityTokenService
from mock_gcp.topology import Provider, Topology
from wiflab_core import keys
from wiflab_core.decisions import Check, Decision
from wiflab_core.wire import GOOGLE_ISSUERS, token_exchange_form

VICTIM = "victim"


@dataclass(frozen=True)
class AttackResult:
    preset: str
    attack: str
    description: str
    # POOL/PROVIDER
    provider: str
    got_through: bool
    decision: Decision
    claims: Mapping[str, Any]
    # Whether the victim's own token passes this provider (else the result proves nothing).
    victim_allowed: bool

    @property
    def deciding(self) -> tuple[Check, ...]:
        """Through: the condition's checks that let it in (or, with no condition, the
        mapping's); stopped: the checks that failed (each false clause of the condition)."""
        checks = self.decision.checks
        if not self.got_through:
            failed = tuple(c for c in checks if not c.passed)
            return _clauses(failed) or failed
        condition = tuple(c for c in checks if c.name.startswith("condition"))
        return (
            _clauses(condition)
            or condition
            or tuple(c for c in checks if c.name.startswith("mapping"))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "attack": self.attack,
            "description": self.description,
            "provider": self.provider,
            "outcome": "got through" if self.got_through else "refused",
            "victim_allowed": self.victim_allowed,
            "refusal": self.decision.refusal.to_json() if self.decision.refusal else None,
            "deciding": [c.to_json() for c in self.deciding],
            "checks": [c.to_json() for c in self.decision.checks],
            "claims": dict(self.claims),
        }


def _clauses(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    return tuple(c for c in checks if c.name.startswith("condition clause"))


class _Keys:
    """STS's issuer keys here: each issuer's own key, made for this run."""

    def __init__(self) -> None:
        self._keys: dict[str, keys.SigningKey] = {}

    def signer(self, issuer: str) -> keys.SigningKey:
        key = self._keys.get(issuer)
        if key is None:
            key = self._keys[issuer] = keys.generate("RS256")
        return key

    def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(issuer)
        if key is None or key.kid != kid:
            return None
        return jwt.PyJWK(dict(key.public_jwk))


def trusted_presets(
    topology: Topology, provider: Provider, preset: str | None = None
) -> list[tuple[Preset, dict[str, str], str]]:
    """The presets whose issuer the provider trusts: (preset, victim params, issuer); none for
    an AWS provider (it takes a signed GetCallerIdentity, not a JWT)."""
    issuer = provider.oidc.issuer_uri if provider.oidc is not None else None
    if not issuer:
        return []
    chosen = [PRESETS[preset]] if preset is not None else list(PRESETS.values())
    found = []
    for candidate in chosen:
        defaults = dict(topology.idp.presets.get(candidate.name, {}))
        params = _issuer_params(candidate, issuer, defaults, explicit=preset is not None)
        if params is not None:
            found.append((candidate, {**defaults, **params}, issuer))
    return found


def _issuer_params(
    preset: Preset, issuer: str, defaults: Mapping[str, str], *, explicit: bool
) -> dict[str, str] | None:
    """The params the issuer names, when it is the preset's (None: it is not)."""
    if issuer == preset.issuer_for(**defaults):
        return {}
    template = preset.real_issuer
    host_only = (urlsplit(template).hostname or "").startswith("{")
    if "{" not in template or (host_only and not explicit):
        return None
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([a-z_]+)\})?", template):
        pattern += re.escape(literal) + (f"(?P<{name}>[^/]+)" if name else "")
    match = re.fullmatch(pattern, issuer)
    return dict(match.groupdict()) if match else None


def run_attacks(
    topology: Topology,
    preset: str | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> list[AttackResult]:
    """Every attack of every preset whose issuer a provider of the topology trusts (or of
    ``preset`` only), judged by STS's rules; ``clock``: the moment tokens are minted and judged."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"preset: {preset!r} is not one of {', '.join(PRESETS)}")
    signing = _Keys()
    backend = GoogleBackend(topology, LocalDeviations(google_issuer=GOOGLE_ISSUERS[0]), clock=clock)
    backend.issuer_keys = signing  # type: ignore[assignment]
    sts = SecurityTokenService(backend)
    now = int(clock())
    results = []
    for pool in topology.pools:
        for provider in pool.providers:
            if pool.disabled or provider.disabled:
                continue
            audience = _audience(topology, provider)
            name = f"{pool.id}/{provider.provider_id}"
            for chosen, victim, issuer in trusted_presets(topology, provider, preset):
                victim_claims = chosen.claims(issuer=issuer, audience=audience, now=now, **victim)
                victim_allowed = _judge(sts, signing, audience, victim_claims).allowed
                for attack, described in chosen.attacks.items():
                    claims = chosen.attack_claims(
                        attack, issuer=issuer, audience=audience, now=now, **victim
                    )
                    decision = _judge(sts, signing, audience, claims)
                    results.append(
                        AttackResult(
                            chosen.name,
                            attack,
                            described.description,
                            name,
                            decision.allowed,
                            decision,
                            claims,
                            victim_allowed,
                        )
                    )
    return results


def _judge(
    sts: SecurityTokenService, signing: _Keys, audience: str, claims: Mapping[str, Any]
) -> Decision:
    """STS's decision on a token with these claims, signed by its issuer's key."""
    token = signing.signer(str(claims.get("iss", ""))).sign(claims)
    return sts.decide(token_exchange_form(audience, token)).decision


def _audience(topology: Topology, provider: Provider) -> str:
    """What the attacker asks its issuer for: the audience the provider accepts."""
    allowed = provider.oidc.allowed_audiences if provider.oidc is not None else ()
    if allowed:
        return allowed[0]
    return topology.provider_audience(provider.pool_id, provider.provider_id)


def render_text(results: list[AttackResult]) -> str:
    """One line per attack, and for each that got through the checks that let it in."""
    if not results:
        return "no provider trusts a preset's issuer: nothing to attack\n"
    lines = []
    for result in results:
        mark = "GOT THROUGH" if result.got_through else "refused"
        lines.append(f"{mark:11}  {result.provider}  {result.preset}/{result.attack}: ")
        lines[-1] += result.description
        for check in result.deciding:
            verdict = "passed" if check.passed else "failed"
            actual = check.actual
            if isinstance(actual, dict) and "read" in actual:
                actual = actual["read"]
            if check.expected is None and check.detail:
                lines.append(f"             {check.name} {verdict}: {check.detail}")
                continue
            lines.append(
                f"             {check.name} {verdict}: {_shown(check.expected)} <- {_shown(actual)}"
            )
        if not result.victim_allowed:
            lines.append(
                "             note: the victim's own token is refused too; this provider is "
                f"not set up for the idp.presets.{result.preset} params"
            )
    through = sum(r.got_through for r in results)
    lines.append(f"{through} of {len(results)} attacks got through")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."
