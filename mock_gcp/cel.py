"""Attribute mapping and attribute condition: the CEL a workload identity provider runs.

Google compiles a provider's expressions when the provider is created and evaluates them on
every STS exchange: the mapping turns the token's claims (``assertion``) into ``google.subject``,
``google.groups`` and ``attribute.NAME``; the condition (over ``assertion``, ``google`` and
``attribute``) then accepts or rejects the credential. The same happens here, with cel-python:
compile once at topology load, evaluate per exchange.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.evaluation import CELEvalError, base_functions

# Limits from the WorkloadIdentityPoolProvider reference (attributeMapping, attributeCondition).
MAX_SUBJECT_BYTES = 127
MAX_CUSTOM_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME_CHARS = 100
MAX_MAPPING_EXPRESSION_CHARS = 2048
MAX_CONDITION_CHARS = 4096
MAX_MAPPED_BYTES = 8192

SUBJECT_KEY = "google.subject"
GROUPS_KEY = "google.groups"
ATTRIBUTE_PREFIX = "attribute."
ATTRIBUTE_NAME = re.compile(r"[a-z0-9_]+")

_MAPPING_VARIABLES = frozenset({"assertion"})
_CONDITION_VARIABLES = frozenset({"assertion", "google", "attribute"})
# Macros bind their first argument as a variable over the other arguments.
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
# Type names are values in CEL (`type(x) == string`).
_TYPE_NAMES = frozenset(
    {"bool", "bytes", "double", "duration", "int", "list", "map", "null_type", "string"}
    | {"timestamp", "type", "uint"}
)
_FUNCTIONS = frozenset(
    name for name in base_functions if name[0].isalpha() and not name.endswith("_")
) | {"has", "extract", "split"}


class CelCompileError(ValueError):
    """An expression (or mapping) Google would refuse when the provider is created.

    ``key`` names the attributeMapping key it belongs to, when there is one.
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(f"{key}: {message}" if key else message)
        self.message = message
        self.key = key


class MappingFailure(enum.Enum):
    """Why the attribute mapping could not produce acceptable attributes."""

    CLAIMS_NOT_JSON = "the claims are not JSON values"
    SUBJECT_NOT_STRING = "google.subject is not a string"
    SUBJECT_TOO_LONG = f"google.subject is over {MAX_SUBJECT_BYTES} bytes"
    GROUPS_NOT_LIST = "google.groups is not a list of strings"
    ATTRIBUTE_NOT_STRING_OR_LIST = "an attribute is not a string or a list of strings"
    TOO_LARGE = f"the mapped attributes are over {MAX_MAPPED_BYTES} bytes"


class ConditionFailure(enum.Enum):
    """Why the attribute condition gave no boolean."""

    CLAIMS_NOT_JSON = "the claims are not JSON values"
    DID_NOT_EVALUATE = "the condition did not evaluate"
    NOT_BOOL = "the condition is not a bool"


class MappingError(Exception):
    """The attribute mapping cannot produce acceptable attributes from this credential.

    ``key`` names the attributeMapping key concerned, when there is one.
    """

    def __init__(self, failure: MappingFailure, key: str | None = None):
        super().__init__(f"{key}: {failure.value}" if key else failure.value)
        self.failure = failure
        self.key = key


class ConditionError(Exception):
    """The attribute condition does not evaluate to a bool over this credential."""

    def __init__(self, failure: ConditionFailure, detail: str = ""):
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class ConditionResult:
    """The condition's value over one credential, and what it read.

    ``clauses``: for a top-level ``&&`` or ``||`` chain, each clause's source and value (True,
    False, or None when it did not evaluate); ``inputs``: each ``assertion.X`` /
    ``attribute.X`` / ``google.X`` it names, with its value (None: not set).
    """

    allowed: bool
    operator: str | None = None
    clauses: tuple[tuple[str, bool | None], ...] = ()
    inputs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class MappedAttributes:
    """What the mapping made of one credential; the caller's identity in IAM."""

    subject: str
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, str | tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def google(self) -> dict[str, Any]:
        """The ``google`` variable as the condition sees it."""
        return {"subject": self.subject, "groups": list(self.groups)}

    def byte_size(self) -> int:
        values = [self.subject, *self.groups]
        for value in self.attributes.values():
            values.extend([value] if isinstance(value, str) else value)
        # surrogatepass: a lone surrogate (jose.verify refuses them in claims; a mapping can
        # still build one) counts its 3 bytes instead of raising.
        return sum(len(v.encode("utf-8", "surrogatepass")) for v in values)


# --- compilation ---------------------------------------------------------------------------

_ENVIRONMENT = celpy.Environment()
# cel-python predeclares a `google.protobuf` package, which would shadow the `google` variable.
_ENVIRONMENT.annotations = {}


@dataclass(frozen=True)
class _Program:
    """One expression, parsed and checked by cel-python (its errors in cel-go's shape, the
    references it makes) and evaluated by Google's CEL runtime (cel-expr-python, the C++
    cel-cpp) when that compiles it too; else by cel-python. bench/cel.py: the same answers,
    several times faster."""

    runner: celpy.Runner
    compiled: Any = None  # cel_expr_python.cel.Expression


def _compile(expr: str, variables: frozenset[str]) -> _Program:
    try:
        ast = _ENVIRONMENT.compile(expr)
    except celpy.CELParseError as exc:
        raise CelCompileError(_parse_message(exc)) from None
    except (lark.exceptions.LarkError, RecursionError, ValueError) as exc:
        raise CelCompileError(f"ERROR: <input>: {type(exc).__name__}: {exc}") from None
    _check_references(ast, variables, frozenset())
    runner = _ENVIRONMENT.program(ast, functions={"extract": _extract, "split": _split})
    return _Program(runner, _google_compile(expr))


def _google_compile(expr: str) -> Any:
    """cel-expr-python's compiled expression, or None (not installed, or it refuses one that
    cel-python accepts: cel-python then evaluates it)."""
    if _GOOGLE_ENV is None:
        return None
    try:
        return _GOOGLE_ENV.compile(expr)
    except Exception:  # its parser's limits (nesting depth): cel-python's answer stands
        return None


def _parse_message(exc: celpy.CELParseError) -> str:
    """cel-go's shape: ``ERROR: <input>:LINE:COLUMN: Syntax error: ...``."""
    cause = exc.__context__
    what = "invalid expression"
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        end = cause.token.type == "$END"
        what = "unexpected end of expression" if end else f"unexpected {cause.token.value!r}"
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters):
        what = f"unexpected character {cause.char!r}"
    return f"ERROR: <input>:{exc.line}:{exc.column}: Syntax error: {what}"


def _check_references(node: Any, variables: frozenset[str], bound: frozenset[str]) -> None:
    """Reject undeclared variables and functions, as Google's type checker does at creation.

    cel-python only notices them at evaluation; a typo such as ``assertoin.sub`` must fail
    when the topology loads, not on the first token exchange.
    """
    if not isinstance(node, lark.Tree):
        return
    if node.data == "ident":
        name = str(node.children[0])
        if name not in variables | bound | _TYPE_NAMES:
            raise CelCompileError(f"undeclared reference to '{name}'")
        return
    if node.data in ("ident_arg", "dot_ident_arg"):
        _require_function(str(node.children[0]))
        for child in node.children[1:]:
            _check_references(child, variables, bound)
        return
    if node.data == "dot_ident":
        raise CelCompileError(f"undeclared reference to '.{node.children[0]}'")
    if node.data == "member_dot_arg":
        target, method, *rest = node.children
        _check_references(target, variables, bound)
        args = list(rest[0].children) if rest and rest[0] is not None else []
        if str(method) in _MACROS:
            variable = _macro_variable(str(method), args)
            for arg in args[1:]:
                _check_references(arg, variables, bound | {variable})
            return
        _require_function(str(method))
        for arg in args:
            _check_references(arg, variables, bound)
        return
    for child in node.children:
        _check_references(child, variables, bound)


def _macro_variable(macro: str, args: list[Any]) -> str:
    idents = [t for t in args[0].iter_subtrees() if t.data == "ident"] if args else []
    if len(args) < 2 or len(idents) != 1:
        raise CelCompileError(f"{macro}() needs a variable name and an expression")
    return str(idents[0].children[0])


def _require_function(name: str) -> None:
    if name not in _FUNCTIONS:
        raise CelCompileError(f"undeclared reference to '{name}'")


def _extract(value: Any, template: Any) -> celtypes.StringType:
    """Google's ``extract()``: the part of a string a ``{name}`` placeholder stands for.

    ``'alice@domain.com'.extract('{user}@')`` is ``'alice'``; text before the placeholder is
    found first, the match runs to the first occurrence of the text after it. No match gives
    an empty string (unverified: as IAM Conditions' ``extract`` documents).
    """
    if not isinstance(value, str) or not isinstance(template, str):
        raise CELEvalError("extract() applies to a string and takes a string template")
    try:
        return celtypes.StringType(_extract_text(value, template))
    except ValueError as exc:
        raise CELEvalError(str(exc)) from None


def _split(value: Any, separator: Any) -> celtypes.ListType:
    """CEL's strings extension ``split()``, which Google's own Azure DevOps mapping uses
    (``assertion.sub.split('/sc/')[1]``, workload-identity-federation-with-deployment-pipelines)."""
    if not isinstance(value, str) or not isinstance(separator, str):
        raise CELEvalError("split() applies to a string and takes a string separator")
    return celtypes.ListType(celtypes.StringType(part) for part in _split_text(value, separator))


def _split_text(value: str, separator: str) -> list[str]:
    # The strings extension: an empty separator splits into characters.
    return list(value) if separator == "" else value.split(separator)


def _extract_text(value: str, template: str) -> str:
    match = re.fullmatch(r"([^{}]*)\{[A-Za-z0-9_]*\}([^{}]*)", template)
    if match is None:
        raise ValueError("extract() template needs exactly one {placeholder}")
    prefix, suffix = match.groups()
    start = value.find(prefix)
    if start < 0:
        return ""
    start += len(prefix)
    end = value.find(suffix, start) if suffix else len(value)
    return value[start:end] if end >= 0 else ""


def _google_env() -> tuple[Any, Any]:
    """Google's CEL runtime with the stand-in's variables and ``extract()``, and its error
    type; (None, None) without it."""
    try:
        from cel_expr_python import cel
    except ImportError:
        return None, None
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    extract = cel.FunctionDecl(
        "extract",
        [
            cel.Overload(
                "string_extract_string",
                cel.Type.STRING,
                [cel.Type.STRING, cel.Type.STRING],
                is_member=True,
                impl=_extract_text,
            )
        ],
    )
    split = cel.FunctionDecl(
        "split",
        [
            cel.Overload(
                "string_split_string",
                cel.Type.List(cel.Type.STRING),
                [cel.Type.STRING, cel.Type.STRING],
                is_member=True,
                impl=_split_text,
            )
        ],
    )
    env = cel.NewEnv(
        variables=dict.fromkeys(_CONDITION_VARIABLES, dyn_map),
        extensions=[cel.CelExtension("wiflab", [extract, split])],
    )
    return env, cel.Type.ERROR


_GOOGLE_ENV, _GOOGLE_ERROR = _google_env()


# --- evaluation ----------------------------------------------------------------------------


def _to_cel(value: Any) -> Any:
    """A JSON claim as a CEL value (celpy.json_to_cel, but big integers become doubles)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return celtypes.IntType(value)
        return celtypes.DoubleType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list | tuple):
        return celtypes.ListType([_to_cel(v) for v in value])
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): _to_cel(v) for k, v in value.items()})
    raise TypeError(f"not a JSON value: {type(value).__name__}")


class _Failed(Exception):
    """An expression did not evaluate (missing claim, wrong operand types, ...)."""


def _evaluate(program: _Program, activation: Mapping[str, Any]) -> Any:
    if program.compiled is not None:
        try:
            return _google_evaluate(program.compiled, activation)
        except TypeError:
            pass  # a value JSON has no form for (a timestamp, bytes): cel-python's answer
    try:
        result = program.runner.evaluate(dict(activation))
    # cel-python reports most failures as CELEvalError but lets some Python errors (regex
    # syntax, recursion, overflow) escape; all of them mean "did not evaluate" here.
    except Exception as exc:
        raise _Failed(str(exc)) from None
    if isinstance(result, CELEvalError):
        raise _Failed(str(result))
    return result


class _Activation(dict[str, Any]):
    """An expression's variables as cel-python values; their plain form, which cel-expr-python
    reads, is made once for all the expressions evaluated over them."""

    @cached_property
    def plain(self) -> dict[str, Any]:
        return {name: _plain(value) for name, value in self.items()}


def _google_evaluate(compiled: Any, activation: Mapping[str, Any]) -> Any:
    """cel-expr-python's answer, as the cel-python value callers read."""
    if isinstance(activation, _Activation):
        data = activation.plain
    else:
        data = {name: _plain(value) for name, value in activation.items()}
    try:
        value = compiled.eval(data=data)
    except Exception as exc:  # an error raised from extract(), or a value it cannot take
        raise _Failed(str(exc)) from None
    if value.type() == _GOOGLE_ERROR:
        raise _Failed(str(value.plain_value()))
    return _to_cel(value.plain_value())  # TypeError: not a JSON value


def _plain(value: Any) -> Any:
    """A cel-python value (from ``_to_cel``) as the plain Python cel-expr-python reads."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _as_strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    return None


def _claims(assertion: Mapping[str, Any], rejection: Exception) -> Any:
    # Claims arrive as parsed JSON, so this only fails for callers passing other objects.
    try:
        return _to_cel(assertion)
    except (TypeError, ValueError, RecursionError):
        raise rejection from None


class AttributeMapping:
    """A compiled ``attributeMapping``: key -> CEL expression over ``assertion``."""

    def __init__(self, source: Mapping[str, str], programs: Mapping[str, _Program]):
        self.source: Mapping[str, str] = MappingProxyType(dict(source))
        self._programs = dict(programs)

    @classmethod
    def compile(cls, mapping: Mapping[str, str]) -> AttributeMapping:
        if not isinstance(mapping, Mapping):
            raise CelCompileError("must be a map of attribute name to CEL expression")
        if SUBJECT_KEY not in mapping:
            raise CelCompileError(f"{SUBJECT_KEY} is required")
        custom = [k for k in mapping if isinstance(k, str) and k.startswith(ATTRIBUTE_PREFIX)]
        if len(custom) > MAX_CUSTOM_ATTRIBUTES:
            raise CelCompileError(
                f"at most {MAX_CUSTOM_ATTRIBUTES} custom attributes are allowed, not {len(custom)}"
            )
        programs = {}
        for key, expr in mapping.items():
            _check_mapping_key(key)
            if not isinstance(expr, str) or not expr.strip():
                raise CelCompileError("must be a CEL expression (a non-empty string)", key)
            if len(expr) > MAX_MAPPING_EXPRESSION_CHARS:
                raise CelCompileError(
                    f"the expression is longer than {MAX_MAPPING_EXPRESSION_CHARS} characters", key
                )
            try:
                programs[key] = _compile(expr, _MAPPING_VARIABLES)
            except CelCompileError as exc:
                raise CelCompileError(exc.message, key) from None
        return cls(mapping, programs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AttributeMapping) and dict(self.source) == dict(other.source)

    def __hash__(self) -> int:
        return hash(frozenset(self.source.items()))

    def __repr__(self) -> str:
        return f"AttributeMapping({dict(self.source)!r})"

    def apply(self, assertion: Mapping[str, Any]) -> MappedAttributes:
        unusable = MappingError(MappingFailure.CLAIMS_NOT_JSON)
        activation = _Activation(assertion=_claims(assertion, unusable))
        subject = self._subject(activation)
        groups: tuple[str, ...] = ()
        attributes: dict[str, str | tuple[str, ...]] = {}
        for key, program in self._programs.items():
            if key == SUBJECT_KEY:
                continue
            value = self._optional(program, activation)
            if value is None:
                continue
            if key == GROUPS_KEY:
                groups = self._groups(value)
            else:
                attributes[key.removeprefix(ATTRIBUTE_PREFIX)] = self._attribute(key, value)
        mapped = MappedAttributes(subject, groups, MappingProxyType(attributes))
        if mapped.byte_size() > MAX_MAPPED_BYTES:
            raise MappingError(MappingFailure.TOO_LARGE)
        return mapped

    def _subject(self, activation: Mapping[str, Any]) -> str:
        value = self._optional(self._programs[SUBJECT_KEY], activation)
        # A subject that does not evaluate at all (missing claim) is unverified, taken as
        # one that is not a string.
        if not isinstance(value, str):
            raise MappingError(MappingFailure.SUBJECT_NOT_STRING, SUBJECT_KEY)
        if len(value.encode("utf-8", "surrogatepass")) > MAX_SUBJECT_BYTES:
            raise MappingError(MappingFailure.SUBJECT_TOO_LONG, SUBJECT_KEY)
        return str(value)

    @staticmethod
    def _optional(program: _Program, activation: Mapping[str, Any]) -> Any:
        # unverified: a mapping that does not evaluate (typically a claim this token lacks)
        # leaves the attribute unset rather than failing the exchange; null counts as unset.
        try:
            return _evaluate(program, activation)
        except _Failed:
            return None

    @staticmethod
    def _groups(value: Any) -> tuple[str, ...]:
        groups = _as_strings(value)
        if groups is None:
            raise MappingError(MappingFailure.GROUPS_NOT_LIST, GROUPS_KEY)
        return groups

    @staticmethod
    def _attribute(key: str, value: Any) -> str | tuple[str, ...]:
        if isinstance(value, str):
            return str(value)
        values = _as_strings(value)
        if values is None:
            raise MappingError(MappingFailure.ATTRIBUTE_NOT_STRING_OR_LIST, key)
        return values


def _check_mapping_key(key: Any) -> None:
    if not isinstance(key, str):
        raise CelCompileError(f"attribute names are strings, not {type(key).__name__}")
    if key in (SUBJECT_KEY, GROUPS_KEY):
        return
    if not key.startswith(ATTRIBUTE_PREFIX):
        raise CelCompileError(
            f"unsupported attribute; use {SUBJECT_KEY}, {GROUPS_KEY} or attribute.NAME", key
        )
    name = key.removeprefix(ATTRIBUTE_PREFIX)
    if not ATTRIBUTE_NAME.fullmatch(name):
        raise CelCompileError("custom attribute names may only contain [a-z0-9_]", key)
    if len(name) > MAX_ATTRIBUTE_NAME_CHARS:
        raise CelCompileError(
            f"custom attribute names are at most {MAX_ATTRIBUTE_NAME_CHARS} characters", key
        )


class Condition:
    """A compiled ``attributeCondition``: a CEL bool over assertion, google and attribute."""

    def __init__(
        self,
        source: str,
        program: _Program,
        operator: str | None = None,
        clauses: tuple[tuple[str, _Program], ...] = (),
    ):
        self.source = source
        self._program = program
        self.operator = operator
        self._clauses = clauses

    @classmethod
    def compile(cls, expr: str) -> Condition:
        if not isinstance(expr, str) or not expr.strip():
            raise CelCompileError("must be a CEL expression (a non-empty string)")
        if len(expr) > MAX_CONDITION_CHARS:
            raise CelCompileError(f"the expression is longer than {MAX_CONDITION_CHARS} characters")
        program = _compile(expr, _CONDITION_VARIABLES)
        operator, parts = _top_level_clauses(expr)
        try:
            clauses = tuple((part, _compile(part, _CONDITION_VARIABLES)) for part in parts)
        except CelCompileError:
            operator, clauses = None, ()  # explained as a whole only
        return cls(expr, program, operator, clauses)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and self.source == other.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def allows(self, assertion: Mapping[str, Any], mapped: MappedAttributes) -> bool:
        """True or False; ConditionError when it does not evaluate to a bool."""
        return self._value(self._program, self._activation(assertion, mapped))

    def evaluate(
        self, assertion: Mapping[str, Any], mapped: MappedAttributes, clauses: bool = True
    ) -> ConditionResult:
        """``allows``, with the inputs it read and (``clauses``: when someone will read them,
        the journal) each top-level clause's value over the same activation."""
        activation = self._activation(assertion, mapped)
        allowed = self._value(self._program, activation)
        values: list[tuple[str, bool | None]] = []
        for source, program in self._clauses if clauses else ():
            try:
                values.append((source, self._value(program, activation)))
            except ConditionError:
                values.append((source, None))
        return ConditionResult(
            allowed, self.operator, tuple(values), self.inputs(assertion, mapped)
        )

    def inputs(
        self, assertion: Mapping[str, Any], mapped: MappedAttributes
    ) -> tuple[tuple[str, Any], ...]:
        """Each ``assertion.X`` / ``attribute.X`` / ``google.X`` it names, with its value."""
        return _referenced_values(self.source, assertion, mapped)

    def _activation(self, assertion: Mapping[str, Any], mapped: MappedAttributes) -> dict[str, Any]:
        return _Activation(
            assertion=_claims(assertion, ConditionError(ConditionFailure.CLAIMS_NOT_JSON)),
            google=_to_cel(mapped.google()),
            attribute=_to_cel(dict(_attribute_items(mapped))),
        )

    @staticmethod
    def _value(program: _Program, activation: Mapping[str, Any]) -> bool:
        try:
            result = _evaluate(program, activation)
        except _Failed as exc:
            # unverified: an evaluation error most plausibly rejects like a false condition.
            raise ConditionError(ConditionFailure.DID_NOT_EVALUATE, str(exc)) from None
        if not isinstance(result, celtypes.BoolType):
            # unverified: Google requires a bool; a non-bool result taken as a rejection.
            raise ConditionError(ConditionFailure.NOT_BOOL, type(result).__name__)
        return bool(result)


def _attribute_items(mapped: MappedAttributes) -> Iterator[tuple[str, Any]]:
    for name, value in mapped.attributes.items():
        yield name, value if isinstance(value, str) else list(value)


def mapped_value(mapped: MappedAttributes, key: str) -> Any:
    """The value an attributeMapping key produced, as JSON (None: not set)."""
    if key == SUBJECT_KEY:
        return mapped.subject
    if key == GROUPS_KEY:
        return list(mapped.groups)
    value = mapped.attributes.get(key.removeprefix(ATTRIBUTE_PREFIX))
    return value if value is None or isinstance(value, str) else list(value)


_CEL_NAME = re.compile(r"\b(assertion|attribute|google)\.([A-Za-z_][A-Za-z0-9_]*)")


def _referenced_values(
    source: str, claims: Mapping[str, Any], mapped: MappedAttributes
) -> tuple[tuple[str, Any], ...]:
    """Each ``assertion.X`` / ``attribute.X`` / ``google.X`` the condition names, and its value."""
    scopes: dict[str, Mapping[str, Any]] = {
        "assertion": claims,
        "attribute": {k: mapped_value(mapped, f"{ATTRIBUTE_PREFIX}{k}") for k in mapped.attributes},
        "google": mapped.google(),
    }
    seen: dict[str, Any] = {}
    for scope, name in _CEL_NAME.findall(source):
        seen.setdefault(f"{scope}.{name}", scopes[scope].get(name))
    return tuple(seen.items())


def _top_level_clauses(expr: str) -> tuple[str | None, tuple[str, ...]]:
    """``a && b && c`` -> ("&&", (a, b, c)); ``||`` binds looser, so it is split first.

    Only operators outside parentheses, brackets and string literals count; an expression
    that is not such a chain gives (None, ()).
    """
    for operator in ("||", "&&"):
        parts, depth, quote, start, i = [], 0, "", 0, 0
        while i < len(expr):
            char = expr[i]
            if quote:
                if char == "\\":
                    i += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
            elif depth == 0 and char == "?":
                return None, ()  # a conditional binds looser than both
            elif depth == 0 and expr.startswith(operator, i):
                parts.append(expr[start:i].strip())
                start = i + len(operator)
                i += 1
            i += 1
        if parts:
            parts.append(expr[start:].strip())
            return operator, tuple(parts)
    return None, ()
