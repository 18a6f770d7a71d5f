"""What a preset is: a real identity provider's token shape, its variants, Google's template for
it and the tokens an attacker can get from the same issuer.

A preset's claims are plain data built by its family's module (``github.py``, ...); this module
holds the types the other engineers' code reads (the preset contract of issue 16) and the
parameter handling every preset shares: defaults, the topology's ``idp.presets`` values and the
caller's, where a default may name another parameter (``"{owner}/app"``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Claims = dict[str, Any]
# (variant, resolved params, issuer, audience list or None, now) -> claims
Builder = Callable[[str, Mapping[str, str], str, list[str] | None, int], Claims]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PREFIXED_ID = re.compile(r"([a-z]{2,4}-)([A-Za-z0-9]{8,32})")
# What a parameter's value may be: printable, and bounded (a token is not a place for megabytes).
MAX_PARAM_LENGTH = 512


class PresetError(ValueError):
    """A bad variant, parameter or audience; the text names which."""


@dataclass(frozen=True)
class Param:
    default: str
    help: str


@dataclass(frozen=True)
class Template:
    """Google's recommended provider settings for this issuer, with ``{PLACEHOLDER}``s."""

    attribute_mapping: Mapping[str, str]
    attribute_condition: str | None
    # PLACEHOLDER -> the param whose value fills it (e.g. OWNER_ID -> owner_id).
    placeholders: Mapping[str, str]
    source: str

    def filled(self, values: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
        """The mapping and condition with each placeholder replaced by its param's value
        (``values``: param -> value); a PresetError names a missing one."""
        missing = [p for p, param in self.placeholders.items() if not values.get(param)]
        if missing:
            raise PresetError(
                ", ".join(f"{p}: needs a value for {self.placeholders[p]}" for p in missing)
            )

        def fill(text: str) -> str:
            for placeholder, param in self.placeholders.items():
                text = text.replace("{" + placeholder + "}", values[param])
            return text

        mapping = {k: fill(v) for k, v in self.attribute_mapping.items()}
        condition = fill(self.attribute_condition) if self.attribute_condition else None
        return mapping, condition


@dataclass(frozen=True)
class Attack:
    """A token an attacker can get from the same issuer. ``params``: what the attacker sets,
    as templates over the victim's params (``"{owner}-evil"``); ``variant``: the variant the
    attacker's token is (None: the victim's default); ``issuer``: a different issuer's
    template (another cluster), None: the victim's."""

    description: str
    params: Mapping[str, str] = field(default_factory=dict)
    variant: str | None = None
    issuer_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    real_issuer: str
    default_audience: str | None
    params: Mapping[str, Param]
    variants: Mapping[str, str]
    shared_issuer: bool
    id_claims: Mapping[str, str]
    string_id_claims: frozenset[str]
    template: Template | None
    attacks: Mapping[str, Attack]
    # The per-preset path on the lab IdP, where its discovery and certs are served.
    issuer_path: str = ""
    # The longest realistic values of params (for the 127-byte google.subject limit).
    longest: Mapping[str, str] = field(default_factory=dict)
    # The variant whose sub is the longest.
    longest_variant: str | None = None
    # Params that a caller's value of another param implies when not given themselves
    # (github: --repository acme/app implies owner acme): given -> {param: value}.
    derive: Callable[[Mapping[str, str]], Mapping[str, str]] | None = field(
        default=None, repr=False, compare=False
    )
    build: Builder | None = field(default=None, repr=False, compare=False)
    # The audience is a list (Kubernetes projected tokens), else a string when one.
    list_audience: bool = False

    def __post_init__(self) -> None:
        if not self.issuer_path:
            object.__setattr__(self, "issuer_path", f"/presets/{self.name}")
        for name in ("params", "variants", "id_claims", "attacks", "longest"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def default_variant(self) -> str:
        return next(iter(self.variants))

    def resolve(self, **params: str) -> dict[str, str]:
        """Every param's value: the caller's, else one implied by them, else the default (a
        default may name other params: ``{owner}/app``)."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(self.params)
            raise PresetError(f"{', '.join(unknown)}: not a param of {self.name} ({known})")
        given = {}
        for name, value in params.items():
            if value is None:
                continue
            if not isinstance(value, str):
                raise PresetError(f"{name}: must be a string, not {type(value).__name__}")
            if len(value) > MAX_PARAM_LENGTH or not value.isprintable():
                raise PresetError(
                    f"{name}: must be printable and at most {MAX_PARAM_LENGTH} characters"
                )
            given[name] = value
        if self.derive is not None:
            given = {**self.derive(given), **given}
        values = {name: given.get(name, param.default) for name, param in self.params.items()}
        for _ in range(3):  # defaults naming defaults naming defaults
            values = {
                name: value if name in given else _format(value, values)
                for name, value in values.items()
            }
        return values

    def layered(self, defaults: Mapping[str, str], params: Mapping[str, str]) -> dict[str, str]:
        """The params a token is minted with: the caller's and what they imply (``--repository
        octo/site`` implies owner octo) over ``defaults`` (the topology's ``idp.presets``), so
        a default never contradicts what the caller asked for."""
        given = {k: v for k, v in params.items() if v is not None}
        implied = self.derive(given) if self.derive is not None else {}
        return {**defaults, **implied, **given}

    def claims(
        self,
        variant: str | None = None,
        *,
        issuer: str,
        audience: str | list[str] | None,
        now: int,
        **params: str,
    ) -> dict[str, Any]:
        """A token's claims, every claim the provider documents, ids as the strings they are."""
        chosen = variant or self.default_variant
        if chosen not in self.variants:
            known = ", ".join(self.variants)
            raise PresetError(f"variant: {chosen!r} is not a variant of {self.name} ({known})")
        values = self.resolve(**params)
        audiences = self._audiences(audience, values)
        assert self.build is not None
        return self.build(chosen, values, issuer, audiences, now)

    def longest_subject(self, **params: str) -> str:
        """The longest realistic ``sub``: long branch, environment or workspace names."""
        values = {**self.longest, **{k: v for k, v in params.items() if v is not None}}
        claims = self.claims(
            self.longest_variant,
            issuer=self.real_issuer,
            audience=self.default_audience or "https://example.com",
            now=0,
            **values,
        )
        return str(claims["sub"])

    def attack_params(self, attack: str, **victim_params: str) -> tuple[str | None, dict[str, str]]:
        """The attacker's variant and params for ``attack`` against a victim with these."""
        chosen = self._attack(attack)
        victim = self.resolve(**victim_params)
        context = {**victim, **_derived(victim)}
        attacker = {**victim_params, **{k: _format(v, context) for k, v in chosen.params.items()}}
        return chosen.variant, {k: v for k, v in attacker.items() if v is not None}

    def attack_issuer(self, attack: str, issuer: str, **victim_params: str) -> str:
        """The issuer of the attacker's token: the victim's, unless the attack is another
        issuer of the same kind (another cluster): then the real issuer template filled with
        the attacker's params."""
        chosen = self._attack(attack)
        if not chosen.issuer_params:
            return issuer
        victim = self.resolve(**victim_params)
        context = {**victim, **_derived(victim)}
        values = {**victim, **{k: _format(v, context) for k, v in chosen.issuer_params.items()}}
        return _format(self.real_issuer, values)

    def attack_claims(
        self,
        attack: str,
        *,
        issuer: str,
        audience: str | list[str] | None,
        now: int,
        **victim_params: str,
    ) -> dict[str, Any]:
        variant, params = self.attack_params(attack, **victim_params)
        return self.claims(
            variant,
            issuer=self.attack_issuer(attack, issuer, **victim_params),
            audience=audience,
            now=now,
            **params,
        )

    def issuer_for(self, **params: str) -> str:
        """The real issuer with its ``{param}`` placeholders filled."""
        return _format(self.real_issuer, self.resolve(**params))

    def _attack(self, attack: str) -> Attack:
        chosen = self.attacks.get(attack)
        if chosen is None:
            known = ", ".join(self.attacks) or "none"
            raise PresetError(f"attack: {attack!r} is not an attack on {self.name} ({known})")
        return chosen

    def _audiences(self, audience: str | list[str] | None, values: Mapping[str, str]) -> list[str]:
        if audience is None:
            if self.default_audience is None:
                raise PresetError(f"aud: {self.name} tokens have no default audience; give one")
            audience = _format(self.default_audience, values)
        if isinstance(audience, str):
            audience = [audience]
        if not isinstance(audience, list) or not audience:
            raise PresetError("aud: must be a string or a non-empty list of strings")
        for item in audience:
            if not isinstance(item, str) or not item or len(item) > MAX_PARAM_LENGTH:
                raise PresetError("aud: must be a string or a non-empty list of strings")
        return list(audience)


def _format(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), template)


def _derived(values: Mapping[str, str]) -> dict[str, str]:
    """Values attack templates may name besides the params: ``other_X``, a different value of
    X's shape; ``X_name``, the part after the last ``/`` of a path-like X."""
    derived = {f"other_{k}": _other_id(v) for k, v in values.items()}
    derived.update({f"{k}_name": v.rsplit("/", 1)[1] for k, v in values.items() if "/" in v})
    return derived


def _other_id(value: str) -> str:
    """A different id of the same shape (digits stay digits, a UUID stays a UUID)."""
    if value.isdigit():
        return str(int(value) + 7919)
    prefixed = _PREFIXED_ID.fullmatch(value)
    if prefixed:  # HCP Terraform's org-XXXX, ws-XXXX: the same prefix and length
        body = prefixed[2]
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        digest = hashlib.sha256(value.encode("utf-8")).digest()
        other = "".join(alphabet[b % len(alphabet)] for b in digest[: len(body)])
        return prefixed[1] + other
    return stable_uuid("other", value, braces=value.startswith("{"))


# -- helpers the families share -----------------------------------------------------------------


def audience_claim(audiences: list[str] | None, as_list: bool = False) -> str | list[str]:
    """One audience as a string (what most issuers do), several as a list."""
    assert audiences
    if as_list or len(audiences) > 1:
        return list(audiences)
    return audiences[0]


def as_int(params: Mapping[str, str], name: str) -> int:
    """A param that the token carries as a number (GitLab's runner_id, Buildkite's build_number)."""
    value = params[name]
    if not value.isdigit() or len(value) > 18:
        raise PresetError(f"{name}: must be a decimal number, not {value!r}")
    return int(value)


def jti() -> str:
    return str(uuid.uuid4())


def stable_uuid(*parts: str, braces: bool = False) -> str:
    """A UUID derived from ``parts``: the same victim gives the same ids in every token."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    text = str(uuid.UUID(bytes=digest[:16], version=4))
    return "{" + text + "}" if braces else text


def stable_digits(*parts: str, length: int = 10) -> str:
    """A decimal id derived from ``parts`` (run ids, pipeline ids, ...), no leading zero."""
    digest = int.from_bytes(hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()[:8], "big")
    return str(10 ** (length - 1) + digest % (9 * 10 ** (length - 1)))


def stable_hex(*parts: str, length: int = 40) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:length]


def ref_name(ref: str) -> str:
    """``refs/heads/main`` -> ``main``; ``refs/tags/v1`` -> ``v1``."""
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))
