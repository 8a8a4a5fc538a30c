"""Checking a full assignment against a CSP, in time linear in the problem's size.

:func:`compile_csp` turns a :class:`~llm_modulo.verifiers.csp.model.CSP` into a
:class:`CompiledCSP`:
variables get slots, domains become sets or ranges, expressions are type-checked and
compiled to closures, and binary not-equal constraints (graph colouring's edges) are kept
in flat index arrays checked in one pass. :meth:`CompiledCSP.check` reads the assignment
once (unknown names, repeated variables, wrong types and out-of-domain values are
recorded, and such a variable counts as unassigned), then evaluates every constraint
whose variables are all assigned, once. Each failure is a plain value
(:class:`AssignmentIssue`, :class:`Violation`); verifiers turn them into critiques.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_modulo.errors import ProblemError
from llm_modulo.verifiers.csp import expr as ex
from llm_modulo.verifiers.csp import model as m

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

Value = int | str


@dataclass(frozen=True, slots=True)
class AssignmentIssue:
    """A problem with the assignment itself, before any constraint is looked at.

    ``kind``: ``missing``, ``unknown_variable``, ``repeated``, ``type`` or ``domain``.
    """

    kind: str
    variable: str
    value: Any = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Violation:
    """A constraint that the assignment breaks, with the values that break it."""

    index: int
    constraint: Any  # one of the llm_modulo.verifiers.csp.model constraint classes
    values: dict[str, Value]
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.constraint.name or constraint_text(self.constraint)


@dataclass(slots=True)
class Report:
    """Everything wrong with one assignment (empty lists: it satisfies the CSP)."""

    issues: list[AssignmentIssue]
    violations: list[Violation]
    values: list[Any]  # per slot: the accepted value or MISSING

    @property
    def ok(self) -> bool:
        return not self.issues and not self.violations


# A generic constraint check: values by slot -> None (holds) or (detail, data, involved slots).
_Check = Callable[[list[Any]], tuple[str, dict[str, Any], Sequence[int]] | None]
# A violation found: (constraint index, detail, data, involved slots).
_Found = tuple[int, str, dict[str, Any], Sequence[int]]


class CompiledCSP:
    """A CSP ready for fast repeated checking (and conversion to python-constraint)."""

    def __init__(self, csp: m.CSP) -> None:
        self.csp = csp
        self.names: list[str] = list(csp.variables)
        self.slot: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self.domains: list[frozenset[Value] | range] = []
        self.types: list[ex.Type] = []
        cache: dict[int, tuple[frozenset[Value] | range, ex.Type]] = {}
        for name in self.names:
            spec = csp.variables[name]
            key = id(csp.domains[spec]) if isinstance(spec, str) else id(spec)
            if key not in cache:
                dom = csp.domain_of(name)
                is_int = isinstance(dom, range) or isinstance(dom[0], int)
                cache[key] = (dom if isinstance(dom, range) else frozenset(dom),
                              ex.Type.INT if is_int else ex.Type.STR)
            dom_set, typ = cache[key]
            self.domains.append(dom_set)
            self.types.append(typ)
        self.var_types = {n: t for n, t in zip(self.names, self.types, strict=True)}
        # the exact Python type each slot's value must have (bool is not int, no str subclass)
        self.pytypes: list[type] = [int if t is ex.Type.INT else str for t in self.types]
        # binary not-equal constraints, checked in one vectorised pass
        self.ne_index: list[int] = []
        self.ne_a: list[int] = []
        self.ne_b: list[int] = []
        # (constraint index, slots, check, may it run with some variables unassigned?)
        self.checks: list[tuple[int, list[int], _Check, bool]] = []
        self.expressions: dict[int, tuple[ex.Node, ex.Compiled]] = {}
        for i, c in enumerate(csp.constraints):
            self._add(i, c)
        self.objective: tuple[ex.Node, ex.Compiled] | None = None
        if csp.objective is not None:
            node = self._typed(csp.objective.text, ex.Type.INT, "objective")
            self.objective = (node, ex.compile_node(node, self.slot))

    # -- compilation --------------------------------------------------------------------

    def _typed(self, text: str, want: ex.Type, where: str) -> ex.Node:
        try:
            node = ex.parse(text)
            got = ex.typecheck(node, self.var_types)
        except ex.ExprError as exc:
            raise ProblemError(f"invalid CSP: {where}: {exc}") from None
        if got is not want:
            raise ProblemError(f"invalid CSP: {where}: `{text}` is {got.value}-valued, "
                               f"not {want.value}-valued")
        return node

    def _slots(self, i: int, c: Any) -> list[int]:
        slots = [self.slot[v] for v in c.vars]
        if len(set(slots)) != len(slots) and c.kind in ("all_different", "not_equal", "table"):
            raise ProblemError(f"invalid CSP: constraint {i} ({c.kind}) lists a variable twice")
        kinds = {self.types[s] for s in slots}
        if len(kinds) > 1 and c.kind in ("all_different", "equal", "not_equal"):
            raise ProblemError(f"invalid CSP: constraint {i} ({c.kind}) mixes integer and "
                               "string variables")
        if c.kind == "linear" and kinds != {ex.Type.INT}:
            raise ProblemError(f"invalid CSP: constraint {i} (linear) needs integer variables")
        return slots

    def _add(self, i: int, c: Any) -> None:
        names = self.names
        if isinstance(c, m.Expression):
            node = self._typed(c.expr, ex.Type.BOOL, f"constraint {i} (expression)")
            fn = ex.compile_node(node, self.slot)
            slots = [self.slot[v] for v in ex.variables(node)]
            self.expressions[i] = (node, fn)
            self.checks.append((i, slots, _expression_check(fn, slots), False))
            return
        slots = self._slots(i, c)
        if isinstance(c, m.NotEqual):
            self.ne_index.append(i)
            self.ne_a.append(slots[0])
            self.ne_b.append(slots[1])
            return
        check: _Check
        if isinstance(c, m.AllDifferent):
            check = _all_different_check(slots, names)
        elif isinstance(c, m.Equal):
            check = _equal_check(slots, names)
        elif isinstance(c, m.Linear):
            check = _linear_check(slots, c.coeffs or [1] * len(slots), c.op, c.rhs)
        elif isinstance(c, m.InSet | m.NotInSet):
            check = _set_check(slots, frozenset(c.values), isinstance(c, m.InSet), names)
        else:
            assert isinstance(c, m.Table)
            check = _table_check(slots, frozenset(tuple(t) for t in c.tuples))
        # duplicates among the assigned values, or an assigned value outside/inside the set,
        # break the constraint whatever the unassigned ones become
        partial = isinstance(c, m.AllDifferent | m.InSet | m.NotInSet)
        self.checks.append((i, slots, check, partial))

    # -- checking -----------------------------------------------------------------------

    def read(self, pairs: Iterable[tuple[Any, Any]]) -> tuple[list[Any], list[AssignmentIssue]]:
        """Values by slot (MISSING where absent or unusable) and the assignment's issues."""
        n = len(self.names)
        vals: list[Any] = [MISSING] * n
        seen = bytearray(n)
        issues: list[AssignmentIssue] = []
        get, domains, types, pytypes = self.slot.get, self.domains, self.types, self.pytypes
        for name, value in pairs:
            i = get(name) if type(name) is str else None
            if i is None:
                issues.append(AssignmentIssue("unknown_variable", str(name)[:100], _short(value)))
                continue
            if seen[i]:
                issues.append(AssignmentIssue("repeated", name, _short(value)))
                continue
            seen[i] = 1
            if type(value) is not pytypes[i]:
                issues.append(AssignmentIssue("type", name, _short(value), types[i].value))
            elif value not in domains[i]:
                issues.append(AssignmentIssue("domain", name, value))
            else:
                vals[i] = value
        if len(issues) == 0 and seen.count(0) == 0:
            return vals, issues
        issues.extend(AssignmentIssue("missing", self.names[i])
                      for i in range(n) if not seen[i])
        return vals, issues

    def evaluate(self, vals: list[Any]) -> list[Violation]:
        """Every constraint whose variables are all assigned, evaluated once."""
        out: list[_Found] = []
        complete = MISSING not in vals
        ne_a, ne_b = self.ne_a, self.ne_b
        if complete:
            bad = [k for k, a, b in zip(range(len(ne_a)), ne_a, ne_b, strict=True)
                   if vals[a] == vals[b]]
        else:
            bad = [k for k, a, b in zip(range(len(ne_a)), ne_a, ne_b, strict=True)
                   if vals[a] is not MISSING and vals[a] == vals[b]]
        for k in bad:
            a, b = ne_a[k], ne_b[k]
            out.append((self.ne_index[k], f"{self.names[a]} = {self.names[b]} = {vals[a]!r}",
                        {}, (a, b)))
        for i, slots, check, partial in self.checks:
            if not complete and not partial and any(vals[s] is MISSING for s in slots):
                continue
            found = check(vals)
            if found is not None:
                detail, data, involved = found
                out.append((i, detail, data, involved))
        out.sort(key=lambda t: t[0])
        constraints = self.csp.constraints
        return [Violation(i, constraints[i], {self.names[s]: vals[s] for s in involved},
                          detail, data) for i, detail, data, involved in out]

    def check(self, pairs: Iterable[tuple[Any, Any]]) -> Report:
        vals, issues = self.read(pairs)
        return Report(issues, self.evaluate(vals), vals)

    def objective_value(self, vals: list[Any]) -> int:
        assert self.objective is not None
        value = self.objective[1](vals)
        assert isinstance(value, int)
        return value


def compile_csp(csp: m.CSP) -> CompiledCSP:
    return CompiledCSP(csp)


def _short(value: Any) -> Any:
    """A JSON-able, bounded rendering of a candidate's value for critiques."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "..."
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the generic checks ---------------------------------------------------------------


def _all_different_check(slots: list[int], names: list[str]) -> _Check:
    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        first: dict[Any, int] = {}
        dup: dict[Any, list[int]] = {}
        for s in slots:
            v = vals[s]
            if v is MISSING:
                continue
            if v in first:
                dup.setdefault(v, [first[v]]).append(s)
            else:
                first[v] = s
        if not dup:
            return None
        groups = [[v, [names[s] for s in ss]] for v, ss in dup.items()]
        detail = "; ".join(f"{' = '.join(vs)} = {v!r}" for v, vs in groups)
        return detail, {"groups": groups}, [s for ss in dup.values() for s in ss]
    return check


def _equal_check(slots: list[int], names: list[str]) -> _Check:
    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        v0 = vals[slots[0]]
        for s in slots[1:]:
            if vals[s] != v0:
                return (f"{names[slots[0]]} = {v0!r} but {names[s]} = {vals[s]!r}", {},
                        (slots[0], s))
        return None
    return check


_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


def _linear_check(slots: list[int], coeffs: list[int], op: str, rhs: int) -> _Check:
    holds = _OPS[op]
    pairs = list(zip(coeffs, slots, strict=True))

    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        total = sum(c * vals[s] for c, s in pairs)
        if holds(total, rhs):
            return None
        return f"the sum is {total}, which is not {op} {rhs}", {"sum": total}, slots
    return check


def _set_check(slots: list[int], values: frozenset[Value], inside: bool,
               names: list[str]) -> _Check:
    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        bad = [s for s in slots if vals[s] is not MISSING and (vals[s] in values) is not inside]
        if not bad:
            return None
        where = "not in" if inside else "in"
        detail = ", ".join(f"{names[s]} = {vals[s]!r}" for s in bad) + f" {where} the set"
        return detail, {}, bad
    return check


def _table_check(slots: list[int], allowed: frozenset[tuple[Value, ...]]) -> _Check:
    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        row = tuple(vals[s] for s in slots)
        if row in allowed:
            return None
        return f"{row!r} is not an allowed combination", {}, slots
    return check


def _expression_check(fn: ex.Compiled, slots: list[int]) -> _Check:
    def check(vals: list[Any]) -> tuple[str, dict[str, Any], Sequence[int]] | None:
        try:
            if fn(vals):
                return None
        except ex.EvalError as exc:
            return f"it cannot be evaluated ({exc})", {}, slots
        return "it is false", {}, slots
    return check


# -- rendering constraints ------------------------------------------------------------


def constraint_text(c: Any) -> str:
    """A short, readable form of a constraint: `x != y`, `2*x - y <= 5`, ..."""
    if isinstance(c, m.Expression):
        return c.expr if len(c.expr) <= 120 else c.expr[:117] + "..."
    names = c.vars if len(c.vars) <= 12 else [*c.vars[:11], "..."]
    if isinstance(c, m.NotEqual):
        return f"{c.vars[0]} != {c.vars[1]}"
    if isinstance(c, m.Equal):
        return " == ".join(names)
    if isinstance(c, m.AllDifferent):
        return f"all_different({', '.join(names)})"
    if isinstance(c, m.Linear):
        terms = []
        for k, (coef, v) in enumerate(zip(c.coeffs or [1] * len(c.vars), c.vars, strict=True)):
            if k == 12:
                terms.append("+ ...")
                break
            sign = "-" if coef < 0 else "+"
            mag = "" if abs(coef) == 1 else f"{abs(coef)}*"
            terms.append(f"{sign if k or coef < 0 else ''}{' ' if k else ''}{mag}{v}")
        return f"{' '.join(terms)} {c.op} {c.rhs}"
    if isinstance(c, m.InSet | m.NotInSet):
        shown = ", ".join(repr(v) for v in c.values[:12]) + (", ..." if len(c.values) > 12
                                                            else "")
        word = "in" if isinstance(c, m.InSet) else "not in"
        return f"{', '.join(names)} {word} {{{shown}}}"
    return f"({', '.join(names)}) in table"
