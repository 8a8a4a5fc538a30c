"""The declarative CSP format: pydantic models, loaded from JSON or YAML.

A CSP has named finite domains, variables (each with a domain: an explicit list of
integers or strings, an inclusive integer range, or the name of a shared domain) and
constraints, each one of:

``all_different``, ``equal``, ``not_equal``, ``linear`` (``sum coeff*var  op  rhs`` with
``==``, ``<=``, ``>=``), ``in_set``, ``not_in_set``, ``table`` (allowed tuples) and
``expression`` (the grammar of :mod:`llm_modulo.verifiers.csp.expr`). An optional ``objective``
(``minimize`` or ``maximize`` an integer expression) asks for an optimal assignment.
See ``docs/csp-format.md``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from llm_modulo.bounds import NestingError, loads_bounded, read_text_capped, yaml_load_plain
from llm_modulo.errors import ProblemError
from llm_modulo.verifiers.csp import expr as ex

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DOMAIN_SIZE = 1_000_000
MAX_ABS_VALUE = 10**15
# matched with ``fullmatch`` (``$`` alone would also accept a name ending in a newline)
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Value = StrictInt | StrictStr


class Range(BaseModel):
    """An inclusive integer range ``{"range": [low, high]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    range: tuple[StrictInt, StrictInt]

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        low, high = self.range
        if low > high:
            raise ValueError(f"range [{low}, {high}] is empty")
        if high - low + 1 > MAX_DOMAIN_SIZE:
            raise ValueError(f"range [{low}, {high}] has more than {MAX_DOMAIN_SIZE} values")
        if max(abs(low), abs(high)) > MAX_ABS_VALUE:
            raise ValueError(f"range bounds must be within ±{MAX_ABS_VALUE}")
        return self


DomainSpec = Annotated[list[Value], Field(min_length=1, max_length=MAX_DOMAIN_SIZE)] | Range
VariableSpec = DomainSpec | StrictStr  # a string names an entry of `domains`


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(default=None, max_length=200,
                             description="A label used in critiques, e.g. 'row 3'.")


class AllDifferent(_Base):
    kind: Literal["all_different"]
    vars: list[str] = Field(min_length=2)


class Equal(_Base):
    kind: Literal["equal"]
    vars: list[str] = Field(min_length=2)


class NotEqual(_Base):
    kind: Literal["not_equal"]
    vars: list[str] = Field(min_length=2, max_length=2)


class Linear(_Base):
    kind: Literal["linear"]
    vars: list[str] = Field(min_length=1)
    coeffs: list[StrictInt] | None = None
    op: Literal["==", "<=", ">="]
    rhs: StrictInt

    @model_validator(mode="after")
    def _shape(self) -> Linear:
        if self.coeffs is not None and len(self.coeffs) != len(self.vars):
            raise ValueError(f"{len(self.coeffs)} coeffs for {len(self.vars)} vars")
        return self


class InSet(_Base):
    kind: Literal["in_set"]
    vars: list[str] = Field(min_length=1)
    values: list[Value]


class NotInSet(_Base):
    kind: Literal["not_in_set"]
    vars: list[str] = Field(min_length=1)
    values: list[Value]


class Table(_Base):
    kind: Literal["table"]
    vars: list[str] = Field(min_length=1)
    tuples: list[list[Value]]

    @model_validator(mode="after")
    def _arity(self) -> Table:
        for i, row in enumerate(self.tuples):
            if len(row) != len(self.vars):
                raise ValueError(f"tuple {i} has {len(row)} values for {len(self.vars)} vars")
        return self


class Expression(_Base):
    kind: Literal["expression"]
    expr: str = Field(max_length=ex.MAX_LENGTH)


Constraint = Annotated[
    AllDifferent | Equal | NotEqual | Linear | InSet | NotInSet | Table | Expression,
    Field(discriminator="kind"),
]


class Objective(BaseModel):
    """``{"minimize": "expr"}`` or ``{"maximize": "expr"}``: an optimal assignment is asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    minimize: str | None = Field(default=None, max_length=ex.MAX_LENGTH)
    maximize: str | None = Field(default=None, max_length=ex.MAX_LENGTH)

    @model_validator(mode="after")
    def _one(self) -> Objective:
        if (self.minimize is None) == (self.maximize is None):
            raise ValueError("give exactly one of minimize / maximize")
        return self

    @property
    def text(self) -> str:
        return self.minimize if self.minimize is not None else str(self.maximize)

    @property
    def sense(self) -> Literal["minimize", "maximize"]:
        return "minimize" if self.minimize is not None else "maximize"


class CSP(BaseModel):
    """A constraint satisfaction problem (optionally with an objective)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    domains: dict[str, DomainSpec] = Field(default_factory=dict)
    variables: dict[str, VariableSpec] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    objective: Objective | None = None

    @model_validator(mode="after")
    def _references(self) -> CSP:
        for name, spec in self.variables.items():
            if not NAME_RE.fullmatch(name):
                raise ValueError(f"variable name {name!r} must be letters, digits and _ "
                                 "and not start with a digit")
            if isinstance(spec, str) and spec not in self.domains:
                raise ValueError(f"variable {name!r}: no domain named {spec!r}")
        for dname, dspec in self.domains.items():
            if isinstance(dspec, list):
                _check_values(dspec, f"domain {dname!r}")
        for name, spec in self.variables.items():
            if isinstance(spec, list):
                _check_values(spec, f"variable {name!r}")
        for i, c in enumerate(self.constraints):
            where = f"constraint {i} ({c.kind})"
            if isinstance(c, Expression):
                continue  # checked with types when compiled
            for v in c.vars:
                if v not in self.variables:
                    raise ValueError(f"{where}: unknown variable {v!r}")
            if isinstance(c, InSet | NotInSet | Table):
                self._check_literals(c, where)
        return self

    def _check_literals(self, c: InSet | NotInSet | Table, where: str) -> None:
        """The literal values of a set or table constraint have their variables' types: a
        string ``"0"`` in a ``not_in_set`` over an integer variable would forbid nothing."""
        kinds = [self._kind_of(v) for v in c.vars]
        if isinstance(c, Table):
            for k, row in enumerate(c.tuples):
                for v, want, value in zip(c.vars, kinds, row, strict=True):
                    if type(value) is not want:
                        raise ValueError(f"{where}: tuple {k} gives {v} the value {value!r}, "
                                         f"not {_article(want)}")
            return
        if len(set(kinds)) > 1:
            raise ValueError(f"{where} mixes integer and string variables")
        for value in c.values:
            if type(value) is not kinds[0]:
                raise ValueError(f"{where}: the value {value!r} is not {_article(kinds[0])} "
                                 f"like {c.vars[0]}")

    def _kind_of(self, variable: str) -> type:
        spec = self.variables[variable]
        if isinstance(spec, str):
            spec = self.domains[spec]
        return int if isinstance(spec, Range) else type(spec[0])

    def domain_of(self, variable: str) -> list[int | str] | range:
        spec = self.variables[variable]
        if isinstance(spec, str):
            spec = self.domains[spec]
        if isinstance(spec, Range):
            return range(spec.range[0], spec.range[1] + 1)
        return list(spec)


def _article(kind: type) -> str:
    return "an integer" if kind is int else "a string"


def _check_values(values: list[Any], where: str) -> None:
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise ValueError(f"{where} mixes integers and strings")
    if len(set(values)) != len(values):
        raise ValueError(f"{where} lists a value twice")
    if str in kinds and len({unicodedata.normalize("NFC", v) for v in values}) != len(values):
        # two values that print alike would let all_different hold between look-alikes
        raise ValueError(f"{where} lists two strings that differ only in Unicode "
                         "normalisation")
    if int in kinds and any(abs(v) > MAX_ABS_VALUE for v in values):
        raise ValueError(f"{where}: values must be within ±{MAX_ABS_VALUE}")


def format_validation_error(exc: ValidationError) -> str:
    """One line: where and what, for the most telling error (a union reports one error per
    alternative: our own value errors first, then the most specific location)."""
    errors = exc.errors()
    first = min(errors, key=lambda e: (e["type"] != "value_error", -len(e["loc"])))
    loc = ".".join(str(p) for p in first["loc"] if not _is_union_tag(p)) or "csp"
    msg = str(first["msg"]).removeprefix("Value error, ")
    if isinstance(first.get("input"), bool):
        msg += " (YAML reads yes/no/on/off/true/false as booleans: quote them)"
    more = f" (and {exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
    return f"{loc}: {msg}{more}"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in {
        "all_different", "equal", "not_equal", "linear", "in_set", "not_in_set", "table",
        "expression", "list[union[int,str]]", "Range", "str", "int"}


def parse_csp(data: Any) -> CSP:
    """Validate a decoded CSP document; raise :class:`ProblemError` with one line."""
    if not isinstance(data, dict):
        raise ProblemError("a CSP must be a mapping with 'variables' and 'constraints'")
    try:
        return CSP.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(f"invalid CSP: {format_validation_error(exc)}") from None


def decode_text(text: str, source: str = "CSP") -> Any:
    """JSON, or YAML (safe subset: no anchors, aliases or tags). One-line errors."""
    if len(text) > MAX_FILE_BYTES:
        raise ProblemError(f"{source} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return loads_bounded(text)
        except NestingError as exc:
            raise ProblemError(f"{source}: {exc}") from None
        except ValueError as exc:  # also NaN, Infinity and integers of over 4300 digits
            raise ProblemError(f"{source} is not valid JSON: {exc}") from None
    return yaml_load_plain(text, source)


def load_csp(path: str | Path) -> CSP:
    """Read a CSP file (``.json``, ``.yaml`` or ``.yml``)."""
    p = Path(path)
    text = read_text_capped(p, "CSP file", limit=MAX_FILE_BYTES)
    return parse_csp(decode_text(text, f"CSP file {p}"))
