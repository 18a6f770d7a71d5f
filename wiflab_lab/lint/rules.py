"""The lint rules: one pure function each, from an inventory (and what the presets know of
the providers) to findings. ``lint`` runs them all, in rule order."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from mock_gcp.cel import AttributeMapping, CelCompileError, MappingError
from mock_gcp.iam import validate_member
from mock_gcp.topology.resources import CONDITION_MUST_READ_A_CLAIM, SHARED_ISSUERS
from wiflab_lab.lint.model import Finding, Inventory, ProviderSpec, Rule, Where
from wiflab_lab.lint.providers import KnownProvider, identify, is_shared_issuer

PIPELINES = (
    "https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines"
)
BEST_PRACTICES = (
    "https://cloud.google.com/iam/docs/best-practices-for-using-workload-identity-federation"
)
MAPPING_DOC = "https://cloud.google.com/iam/docs/workload-identity-federation#mapping"
PRINCIPALS_DOC = "https://cloud.google.com/iam/docs/principal-identifiers"
SECURITY_CONSIDERATIONS = (
    "https://github.com/google-github-actions/auth/blob/main/docs/SECURITY_CONSIDERATIONS.md"
)
CEL_EQUALITY = "https://github.com/google/cel-spec/blob/master/doc/langdef.md#equality"
IMPERSONATION_DOC = "https://cloud.google.com/iam/docs/service-account-impersonation"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
MAX_SUBJECT_BYTES = 127

_R = Rule
INVALID = _R(
    "WIF000",
    "invalid-input",
    "error",
    "The input is not a valid setup",
    "The input's own validation refused it (the same check `wiflab up` and Google make).",
    MAPPING_DOC,
)
SHARED_ISSUER = _R(
    "WIF001",
    "shared-issuer-condition",
    "error",
    "A provider for a shared issuer has no condition on the provider's claims",
    "GitHub, GitLab SaaS and HCP Terraform use one issuer URL for every customer: without an "
    "attributeCondition that reads the token's claims, any repository, project or workspace "
    "of any customer could exchange its tokens. Google refuses to create such a provider: "
    f"'Error 400: {CONDITION_MUST_READ_A_CLAIM}'.",
    f"{PIPELINES}#conditions",
)
NAME_CLAIM = _R(
    "WIF002",
    "mutable-name-claim",
    "warning",
    "A condition or mapping trusts a mutable name claim where an immutable id exists",
    "Names (repository_owner, repository, namespace_path, project_path, ...) can be renamed, "
    "deleted and registered again by someone else; the matching *_id claim cannot. Google's "
    "guide and google-github-actions/auth's security considerations say to use the id.",
    SECURITY_CONSIDERATIONS,
)
NUMBER_ID = _R(
    "WIF003",
    "id-compared-as-number",
    "error",
    "An id claim or attribute is compared with a number, but it is a string",
    'Tokens carry ids as strings ("repository_owner_id": "1342004") and mapped attributes '
    "are always strings. In CEL a string never equals an int, so the comparison is always "
    "false: every token is refused with 'The given credential is rejected by the attribute "
    "condition.' (or, with !=, always true).",
    CEL_EQUALITY,
)
PREFIX = _R(
    "WIF004",
    "prefix-without-delimiter",
    "warning",
    "A startsWith() prefix does not end with a delimiter",
    "A prefix check such as startsWith('group') on a path also lets 'group-evil/...' through: "
    "anyone who can create a similarly named group, repository or branch passes the "
    "condition. End the prefix with the delimiter ('group/').",
    "https://docs.gitlab.com/ci/cloud_services/google_cloud/",
)
UNMAPPED = _R(
    "WIF005",
    "unmapped-attribute",
    "error",
    "An attribute is used in a principalSet or condition but no provider maps it",
    "Only attributes the attributeMapping sets exist; names are case-sensitive. A principalSet "
    "on an attribute no provider of the pool maps never matches anyone, and a condition on "
    "an unmapped attribute refuses every token.",
    MAPPING_DOC,
)
SUBJECT_LENGTH = _R(
    "WIF006",
    "subject-too-long",
    "warning",
    "The provider's longest realistic subject maps to a google.subject over 127 bytes",
    "Google refuses the exchange when google.subject is longer than 127 bytes: 'The size of "
    "mapped attribute google.subject exceeds the 127 bytes limit. Either modify your "
    "attribute mapping or the incoming assertion to produce a mapped attribute that is less "
    "than 127 bytes.' Long branch, environment or workspace names get there.",
    PIPELINES,
)
MALFORMED = _R(
    "WIF007",
    "malformed-principal",
    "error",
    "A member string is malformed",
    "IAM refuses a binding whose member it cannot parse ('Error 400: ... member ... is of an "
    "unknown type'), or the binding silently names nobody.",
    PRINCIPALS_DOC,
)
PROJECT_ID = _R(
    "WIF008",
    "principal-project-id",
    "error",
    "A principal names the project by its id where the project number belongs",
    "Workload identity pool principals are "
    "principal://iam.googleapis.com/projects/PROJECT_NUMBER/...: with the project id the "
    "member names no pool and matches nobody.",
    PRINCIPALS_DOC,
)
UNKNOWN_POOL = _R(
    "WIF009",
    "unknown-pool",
    "error",
    "A principal names a workload identity pool the setup does not define",
    "The member names a pool (or a project number) that is not the one the providers are "
    "in, so no federated token ever carries it.",
    PRINCIPALS_DOC,
)
TOKEN_CREATOR_FEDERATED = _R(
    "WIF010",
    "token-creator-for-federated",
    "note",
    "Federated principals are granted Token Creator where Workload Identity User is enough",
    "Impersonating a service account with a federated token needs "
    "iam.serviceAccounts.getAccessToken (and getOpenIdToken), which "
    "roles/iam.workloadIdentityUser grants. Token Creator works too, but also lets every "
    "external workload in the set sign arbitrary blobs and JWTs as the service account "
    "(signBlob, signJwt) and delegate: more than impersonation needs. Keep it only where the "
    "workload signs (direct signBlob/signJwt calls), which is why this is a note.",
    f"{PIPELINES}#impersonation",
)
WIU_NON_FEDERATED = _R(
    "WIF011",
    "workload-identity-user-for-non-federated",
    "warning",
    "Workload Identity User is granted to a user, group or service account",
    "roles/iam.workloadIdentityUser is for federated identities (principal://, principalSet:// "
    "and GKE's PROJECT.svc.id.goog members). A user or service account impersonating a "
    "service account needs roles/iam.serviceAccountTokenCreator: with Workload Identity User "
    "only, signBlob and signJwt (signed URLs, self-signed JWTs) are refused with "
    "\"Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist).\". "
    "This direction is the real mistake: the other one works, only with too much.",
    IMPERSONATION_DOC,
)

GITHUB_SUBJECT = _R(
    "WIF012",
    "github-mutable-subject",
    "warning",
    "A principal:// binding on GitHub's name-based subject format",
    "GitHub's immutable subject claims, repo:OWNER@OWNER_ID/REPO@REPO_ID:..., are the default "
    "sub for repositories created or renamed on or after 2026-07-15 (reported: github/docs PR "
    "#45221, GitHub changelog 2026-04-23). A principal://.../subject/repo:OWNER/REPO:... "
    "binding then silently stops matching; one on ids does not.",
    "https://docs.github.com/en/actions/reference/security/oidc",
)
AUDIENCE = _R(
    "WIF013",
    "allowed-audience-not-this-provider",
    "warning",
    "An allowed audience looks like a provider's name but is not this provider's",
    "Clients send the provider's canonical name as the token's aud unless told otherwise "
    "(google-github-actions/auth: https://iam.googleapis.com/projects/NUMBER/locations/global/"
    "workloadIdentityPools/POOL/providers/PROVIDER). An allowed audience with the project id, "
    "the pool without /providers/, or another provider never equals it: 'The audience in ID "
    "Token [...] does not match the expected audience.'",
    "https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations."
    "workloadIdentityPools.providers#oidc",
)

# --- reading CEL source (enough for these rules; the CEL itself is compiled by mock_gcp.cel) ---

_LITERAL = re.compile(
    r"""[rR]?('''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""", re.S
)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(
    rf"\b(?P<var>assertion|attribute|google)\s*(?:\.\s*(?P<dot>{_NAME})|\[\s*(?P<q>['\"])(?P<key>[^'\"]+)(?P=q)\s*\])"
)


@dataclass(frozen=True)
class _Ref:
    var: str
    name: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.var}.{self.name}"


def _literal_spans(source: str) -> list[tuple[int, int]]:
    return [m.span() for m in _LITERAL.finditer(source)]


def _inside(pos: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def references(source: str) -> list[_Ref]:
    """``assertion.X``, ``assertion['X']``, ``attribute.X``, ``google.X`` outside literals."""
    spans = _literal_spans(source)
    found = []
    for m in _REF.finditer(source):
        if not _inside(m.start(), spans):
            found.append(_Ref(m["var"], m["dot"] or m["key"], m.start(), m.end()))
    return found


def _unquote(literal: str) -> str:
    body = literal.lstrip("rR")
    quote = 3 if body[:3] in ("'''", '"""') else 1
    return body[quote:-quote]


def _reads_a_claim(condition: str | None) -> bool:
    return bool(condition) and any(
        r.var in ("assertion", "attribute", "google") for r in references(condition or "")
    )


# Claims that are strings in every JWT (RFC 7519 4.1: StringOrURI, and jti a string).
_ALWAYS_STRINGS = frozenset({"iss", "sub", "jti"})

# --- the rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    inventory: Inventory
    known: tuple[KnownProvider, ...]

    def provider_of(self, spec: ProviderSpec) -> KnownProvider | None:
        return identify(spec.issuer, self.known)

    def id_claims(self, spec: ProviderSpec) -> Mapping[str, str]:
        found = self.provider_of(spec)
        if found is not None:
            return found.id_claims
        merged: dict[str, str] = {}
        for k in self.known:
            merged.update(k.id_claims)
        return merged

    def string_ids(self, spec: ProviderSpec) -> frozenset[str]:
        found = self.provider_of(spec)
        if found is not None:
            return found.string_claims | _ALWAYS_STRINGS
        return frozenset().union(_ALWAYS_STRINGS, *(k.string_id_claims for k in self.known))

    def pool_providers(self, pool_id: str) -> list[ProviderSpec]:
        return [p for p in self.inventory.providers if p.pool_id == pool_id]


def shared_issuer_condition(ctx: Context) -> Iterator[Finding]:
    for p in ctx.inventory.providers:
        if not is_shared_issuer(p.issuer, ctx.known) or _reads_a_claim(p.condition):
            continue
        found = ctx.provider_of(p)
        what = found.title if found else p.issuer
        example = {
            "github": "assertion.repository_owner_id == 'OWNER_ID'",
            "gitlab": "assertion.namespace_id == 'GROUP_ID'",
            "terraform": "assertion.terraform_organization_id == 'ORGANIZATION_ID'",
        }.get(found.name if found else "", "assertion.OWNER_ID_CLAIM == 'YOUR_ID'")
        refused = (p.issuer or "").rstrip("/") in SHARED_ISSUERS
        yield Finding(
            SHARED_ISSUER,
            f"{p.resource}.attributeCondition",
            f"{p.issuer} is {what}'s issuer, shared by all its customers, and this provider "
            + (
                "has no attributeCondition"
                if not p.condition
                else "has a condition that reads no claim"
            )
            + (
                ""
                if refused
                # unverified: Google names GitHub, GitLab SaaS and HCP Terraform only.
                else ": any of its customers' tokens would pass (whether Google refuses this "
                "provider too is unverified)"
            ),
            SHARED_ISSUER.description,
            f'set attributeCondition to pin your own organization by id, e.g. "{example}"',
            p.where,
        )


def mutable_name_claims(ctx: Context) -> Iterator[Finding]:
    for p in ctx.inventory.providers:
        ids = ctx.id_claims(p)
        if p.condition:
            refs = references(p.condition)
            named = {r.name for r in refs if r.var == "assertion"}
            # A name below a pinned id (a repository of the pinned owner) is the owner's own.
            pins_an_id = bool(named & set(ids.values()))
            for name in dict.fromkeys(r.name for r in refs if r.var == "assertion"):
                if name in ids and not pins_an_id:
                    yield Finding(
                        NAME_CLAIM,
                        f"{p.resource}.attributeCondition",
                        f"the condition checks assertion.{name}, a name that can change hands; "
                        f"the token also carries its immutable id assertion.{ids[name]}",
                        NAME_CLAIM.description,
                        f"compare assertion.{ids[name]} (a string, e.g. '1342004') instead of, "
                        f"or as well as, assertion.{name}",
                        p.where,
                    )
        subject = p.mapping.get("google.subject", "")
        for r in references(subject):
            if r.var == "assertion" and r.name in ids:
                yield Finding(
                    NAME_CLAIM,
                    f"{p.resource}.attributeMapping['google.subject']",
                    f"google.subject is mapped from assertion.{r.name}, a name that can change "
                    f"hands; principal:// bindings on it follow the name, not the owner",
                    NAME_CLAIM.description,
                    f"map google.subject from assertion.sub or assertion.{ids[r.name]}",
                    p.where,
                )
    for b in ctx.inventory.bindings:
        for i, member in enumerate(b.members):
            parsed = _parse_federated(member)
            if parsed is None or parsed.attribute is None:
                continue
            for p in ctx.pool_providers(parsed.pool):
                ids = ctx.id_claims(p)
                expr = p.mapping.get(f"attribute.{parsed.attribute}", "")
                names = [r.name for r in references(expr) if r.var == "assertion"]
                if len(names) == 1 and names[0] in ids:
                    yield Finding(
                        NAME_CLAIM,
                        f"{b.resource}.members[{i}]",
                        f"{member} matches attribute.{parsed.attribute}, which {p.resource} maps "
                        f"from the mutable name claim assertion.{names[0]}",
                        NAME_CLAIM.description,
                        f"map an attribute from assertion.{ids[names[0]]} and bind "
                        f"principalSet://.../attribute.{ids[names[0]]}/ID instead",
                        b.where,
                    )
                    break


_INT = r"-?\d+(?:[uU])?(?![\w.'\"])"


def ids_as_numbers(ctx: Context) -> Iterator[Finding]:
    for p in ctx.inventory.providers:
        if not p.condition:
            continue
        source = p.condition
        string_ids = ctx.string_ids(p)
        reported: set[int] = set()
        for r in references(source):
            is_string = (
                r.var == "attribute"
                or (r.var == "google" and r.name == "subject")
                or (r.var == "assertion" and r.name in string_ids)
            )
            if not is_string or r.start in reported:
                continue
            after, before = source[r.end :], source[: r.start]
            m = re.match(rf"\s*(==|!=)\s*({_INT})", after)
            m_before = re.search(rf"({_INT})\s*(==|!=)\s*$", before)
            m_in = re.match(r"\s+in\s*\[([^\]]*)\]", after)
            number, operator = None, "=="
            if m:
                number, operator = m[2], m[1]
            elif m_before and not re.search(r"[\w.]$", before[: m_before.start()]):
                number, operator = m_before[1], m_before[2]
            elif m_in:
                bare = [x.strip() for x in m_in[1].split(",") if re.fullmatch(_INT, x.strip())]
                number = bare[0] if bare else None
            if number is None:
                continue
            reported.add(r.start)
            value = number.rstrip("uU")
            yield Finding(
                NUMBER_ID,
                f"{p.resource}.attributeCondition",
                f"{r} is compared with the number {number}, but it is a string: "
                + (
                    "the comparison is never true"
                    if operator == "=="
                    else "!= is always true, so it excludes nobody"
                ),
                NUMBER_ID.description,
                f"quote the id: {r} {operator} '{value}'",
                p.where,
            )


_STARTS_WITH = re.compile(r"\.\s*startsWith\s*\(\s*(" + _LITERAL.pattern + r")\s*\)", re.S)
_DELIMITERS = ("/", ":", "@")


def prefix_without_delimiter(ctx: Context) -> Iterator[Finding]:
    for p in ctx.inventory.providers:
        sources = [(f"{p.resource}.attributeCondition", p.condition or "")]
        sources += [
            (f"{p.resource}.attributeMapping[{key!r}]", expr) for key, expr in p.mapping.items()
        ]
        for resource, source in sources:
            spans = _literal_spans(source)
            for m in _STARTS_WITH.finditer(source):
                if _inside(m.start(), spans):
                    continue
                prefix = _unquote(m[1])
                if not prefix or prefix.endswith(_DELIMITERS):
                    continue
                receiver = [r for r in references(source) if r.end <= m.start()]
                what = str(receiver[-1]) if receiver else "the value"
                yield Finding(
                    PREFIX,
                    resource,
                    f"{what}.startsWith('{prefix}') also accepts '{prefix}-evil/...': the prefix "
                    "does not end with a delimiter",
                    PREFIX.description,
                    f"end the prefix with its delimiter: startsWith('{prefix}/') (or ':' where "
                    "the claim separates with colons), or compare the whole value with ==",
                    p.where,
                )


@dataclass(frozen=True)
class _Federated:
    project: str
    pool: str
    attribute: str | None  # principalSet .../attribute.NAME/VALUE: NAME as written


_FEDERATED = re.compile(
    r"principal(?:Set)?://iam\.googleapis\.com/projects/(?P<project>[^/]+)/locations/global/"
    r"workloadIdentityPools/(?P<pool>[^/]+)(?:/attribute\.(?P<attr>[^/]+)/.+)?(?:/.*)?"
)


def _parse_federated(member: str) -> _Federated | None:
    m = _FEDERATED.fullmatch(member)
    if m is None:
        return None
    return _Federated(m["project"], m["pool"], m["attr"])


def _uppercase_attribute_only(member: str) -> bool:
    parsed = _parse_federated(member)
    return (
        parsed is not None
        and parsed.attribute is not None
        and parsed.attribute != parsed.attribute.lower()
        and validate_member(member.replace(parsed.attribute, parsed.attribute.lower(), 1)) is None
    )


def unmapped_attributes(ctx: Context) -> Iterator[Finding]:
    for b in ctx.inventory.bindings:
        for i, member in enumerate(b.members):
            parsed = _parse_federated(member)
            if parsed is None:
                continue
            providers = ctx.pool_providers(parsed.pool)
            if not providers:
                continue  # the pool's providers are not among the inputs
            if parsed.attribute is None:
                if "/group/" in member and not any("google.groups" in p.mapping for p in providers):
                    yield Finding(
                        UNMAPPED,
                        f"{b.resource}.members[{i}]",
                        f"{member}: no provider of pool {parsed.pool} maps google.groups: this "
                        "binding never matches anyone",
                        UNMAPPED.description,
                        'map "google.groups": "assertion.GROUPS_CLAIM" (a list of strings)',
                        b.where,
                    )
                continue
            mapped = {k.removeprefix("attribute.") for p in providers for k in p.mapping}
            if parsed.attribute in mapped:
                continue
            yield _unmapped(
                f"{b.resource}.members[{i}]",
                f"{member}: no provider of pool {parsed.pool} maps attribute.{parsed.attribute}",
                parsed.attribute,
                mapped,
                b.where,
                "this binding never matches anyone",
            )
    for p in ctx.inventory.providers:
        mapped = {k.removeprefix("attribute.") for k in p.mapping if k.startswith("attribute.")}
        for r in references(p.condition or ""):
            if r.var == "attribute" and r.name not in mapped:
                yield _unmapped(
                    f"{p.resource}.attributeCondition",
                    f"the condition reads attribute.{r.name}, which this provider's "
                    "attributeMapping does not set",
                    r.name,
                    mapped,
                    p.where,
                    "the condition refuses every token",
                )


def _unmapped(
    resource: str, message: str, name: str, mapped: set[str], where: Where | None, effect: str
) -> Finding:
    same = [m for m in mapped if m.lower() == name.lower()]
    if same:
        message += f" (attribute names are case-sensitive: it maps attribute.{same[0]})"
        fix = f"write attribute.{same[0]}"
    else:
        fix = (
            f'add "attribute.{name.lower()}": "assertion.CLAIM" to the attributeMapping of '
            "the pool's providers, or use an attribute they map"
        )
    return Finding(UNMAPPED, resource, f"{message}: {effect}", UNMAPPED.description, fix, where)


def subject_length(ctx: Context) -> Iterator[Finding]:
    for p in ctx.inventory.providers:
        found = ctx.provider_of(p)
        expr = p.mapping.get("google.subject")
        if found is None or expr is None:
            continue
        audience = p.allowed_audiences[0] if p.allowed_audiences else None
        own = ctx.inventory.preset_params.get(found.name, {})
        claims = found.longest(p.issuer or "", audience, own)
        if claims is None:
            continue
        try:
            # google.subject evaluated as a custom attribute: its value whatever its length.
            mapped = AttributeMapping.compile(
                {"google.subject": "'x'", "attribute.lint_subject": expr}
            ).apply(claims)
        except (CelCompileError, MappingError):
            continue
        value = mapped.attributes.get("lint_subject")
        if not isinstance(value, str):
            continue
        size = len(value.encode("utf-8"))
        if size <= MAX_SUBJECT_BYTES:
            continue
        yield Finding(
            SUBJECT_LENGTH,
            f"{p.resource}.attributeMapping['google.subject']",
            f"the longest realistic {found.title} token maps to a google.subject of {size} "
            f"bytes (limit {MAX_SUBJECT_BYTES}): {value[:60]}...",
            SUBJECT_LENGTH.description,
            "map google.subject from a shorter claim that is still unique (an id), or cut the "
            "long part"
            + (
                " as Google's template does: assertion.sub.split('/sc/')[1]"
                if found.name == "azure-devops"
                else ""
            ),
            p.where,
        )


def principals(ctx: Context) -> Iterator[Finding]:
    inv = ctx.inventory
    for b in inv.bindings:
        for i, member in enumerate(b.members):
            resource = f"{b.resource}.members[{i}]"
            # GKE's workload identities (PROJECT.svc.id.goog[NS/KSA]) are valid IAM members.
            problem = None if _gke_workload(member) else validate_member(member)
            if problem is not None:
                parsed = _parse_federated(member)
                if (
                    _uppercase_attribute_only(member)
                    and parsed is not None
                    and ctx.pool_providers(parsed.pool)
                ):
                    continue  # WIF005 says it, with the right case
                if problem.startswith("use the project number"):
                    project = member.split("/projects/", 1)[1].split("/", 1)[0]
                    number = inv.project_number or "PROJECT_NUMBER"
                    yield Finding(
                        PROJECT_ID,
                        resource,
                        f"{member}: names the project by its id {project!r}",
                        PROJECT_ID.description,
                        f"write projects/{number}/ (gcloud projects describe {project} "
                        "--format='value(projectNumber)')",
                        b.where,
                    )
                else:
                    yield Finding(
                        MALFORMED,
                        resource,
                        f"{member}: {problem}",
                        MALFORMED.description,
                        "write it as principal://iam.googleapis.com/projects/PROJECT_NUMBER/"
                        "locations/global/workloadIdentityPools/POOL_ID/subject/SUBJECT (or "
                        "principalSet://... /group/G, /attribute.NAME/VALUE, /*)",
                        b.where,
                    )
                continue
            parsed = _parse_federated(member)
            if parsed is None:
                continue
            other_project = inv.project_number is not None and parsed.project != inv.project_number
            unknown = inv.pools is not None and parsed.pool not in inv.pools
            if not (other_project or unknown):
                continue
            where_said = (
                f"project {parsed.project}, not this setup's {inv.project_number}"
                if other_project
                else f"pool {parsed.pool!r}, which is none of {_listed(inv.pools)}"
            )
            yield Finding(
                UNKNOWN_POOL,
                resource,
                f"{member}: names {where_said}",
                UNKNOWN_POOL.description,
                "name a pool the providers are in (check the spelling and the project number)",
                b.where,
            )


def _listed(pools: frozenset[str] | None) -> str:
    return ", ".join(sorted(pools or ())) or "no pools"


def _federated(member: str) -> bool:
    return member.startswith(("principal://", "principalSet://"))


def _gke_workload(member: str) -> bool:
    return member.startswith("serviceAccount:") and ".svc.id.goog[" in member


def role_mismatches(ctx: Context) -> Iterator[Finding]:
    for b in ctx.inventory.bindings:
        if b.role == TOKEN_CREATOR:
            federated = [(i, m) for i, m in enumerate(b.members) if _federated(m)]
            for i, member in federated:
                yield Finding(
                    TOKEN_CREATOR_FEDERATED,
                    f"{b.resource}.members[{i}]",
                    f"{member} is granted {TOKEN_CREATOR} on {b.target}; impersonation by a "
                    f"federated principal needs only {WORKLOAD_IDENTITY_USER}",
                    TOKEN_CREATOR_FEDERATED.description,
                    f"grant {WORKLOAD_IDENTITY_USER} instead (keep Token Creator only if this "
                    "workload signs blobs or JWTs as the service account)",
                    b.where,
                )
        elif b.role == WORKLOAD_IDENTITY_USER:
            for i, member in enumerate(b.members):
                if _federated(member) or _gke_workload(member):
                    continue
                if not member.startswith(("user:", "group:", "serviceAccount:", "domain:")):
                    continue
                yield Finding(
                    WIU_NON_FEDERATED,
                    f"{b.resource}.members[{i}]",
                    f"{member} is granted {WORKLOAD_IDENTITY_USER} on {b.target}, a role for "
                    "federated identities; a user or service account impersonating it needs "
                    f"{TOKEN_CREATOR}",
                    WIU_NON_FEDERATED.description,
                    f"grant {TOKEN_CREATOR} to {member} instead",
                    b.where,
                )


_NAME_BASED_GITHUB_SUB = re.compile(r"repo:[^/@:]+/[^/@:]+:.+")


def github_subject_format(ctx: Context) -> Iterator[Finding]:
    for b in ctx.inventory.bindings:
        for i, member in enumerate(b.members):
            parsed = _parse_federated(member)
            if parsed is None or "/subject/" not in member:
                continue
            subject = member.split("/subject/", 1)[1]
            if not _NAME_BASED_GITHUB_SUB.fullmatch(subject):
                continue
            github = [
                p
                for p in ctx.pool_providers(parsed.pool)
                if (found := ctx.provider_of(p)) is not None
                and found.name == "github"
                and p.mapping.get("google.subject", "").replace(" ", "") == "assertion.sub"
            ]
            if not github:
                continue
            yield Finding(
                GITHUB_SUBJECT,
                f"{b.resource}.members[{i}]",
                f"{member}: GitHub's name-based sub; for repositories created or renamed on or "
                "after 2026-07-15 the sub is repo:OWNER@OWNER_ID/REPO@REPO_ID:..., and this "
                "binding stops matching",
                GITHUB_SUBJECT.description,
                "map attribute.repository_id=assertion.repository_id and bind principalSet://"
                ".../attribute.repository_id/REPO_ID (with the ref in the condition), or bind "
                "the immutable form as well",
                b.where,
            )


_IAM_AUDIENCE = re.compile(r"(?:https:)?//iam\.googleapis\.com/(?P<name>.*)")


def allowed_audiences(ctx: Context) -> Iterator[Finding]:
    number = ctx.inventory.project_number
    for p in ctx.inventory.providers:
        name = (
            f"projects/{number}/locations/global/workloadIdentityPools/{p.pool_id}/"
            f"providers/{p.provider_id}"
        )
        for i, audience in enumerate(p.allowed_audiences):
            m = _IAM_AUDIENCE.fullmatch(audience)
            if m is None or number is None or m["name"].rstrip("/") == name:
                continue
            yield Finding(
                AUDIENCE,
                f"{p.resource}.oidc.allowedAudiences[{i}]",
                f"{audience} is not this provider's name ({name})",
                AUDIENCE.description,
                f"allow https://iam.googleapis.com/{name} (or leave allowedAudiences empty: the "
                "provider's name, with or without https:, is then the one accepted)",
                p.where,
            )


def invalid_input(ctx: Context) -> Iterator[Finding]:
    for resource, message, where in ctx.inventory.invalid:
        yield Finding(
            INVALID, resource, message, INVALID.description, "correct the field it names", where
        )


RuleFunction = Callable[[Context], Iterator[Finding]]
RULES: tuple[tuple[tuple[Rule, ...], RuleFunction], ...] = (
    ((INVALID,), invalid_input),
    ((SHARED_ISSUER,), shared_issuer_condition),
    ((NAME_CLAIM,), mutable_name_claims),
    ((NUMBER_ID,), ids_as_numbers),
    ((PREFIX,), prefix_without_delimiter),
    ((UNMAPPED,), unmapped_attributes),
    ((SUBJECT_LENGTH,), subject_length),
    ((MALFORMED, PROJECT_ID, UNKNOWN_POOL), principals),
    ((TOKEN_CREATOR_FEDERATED, WIU_NON_FEDERATED), role_mismatches),
    ((GITHUB_SUBJECT,), github_subject_format),
    ((AUDIENCE,), allowed_audiences),
)
ALL_RULES: tuple[Rule, ...] = tuple(r for rules, _ in RULES for r in rules)


def lint(inventory: Inventory, known: tuple[KnownProvider, ...] | None = None) -> list[Finding]:
    """Every finding for ``inventory``; ``known`` defaults to the IdP presets' knowledge."""
    if known is None:
        from wiflab_lab.lint.providers import known_providers

        known = known_providers()
    ctx = Context(inventory, known)
    findings: list[Finding] = []
    for _, rule in RULES:
        for finding in rule(ctx):
            place = inventory.places.get(finding.resource)
            findings.append(finding if place is None else replace(finding, where=place))
    return findings
