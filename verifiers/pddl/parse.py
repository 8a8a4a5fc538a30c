"""PDDL domain and problem files -> :mod:`llm_modulo.verifiers.pddl.model`.

Supported: STRIPS, ``:typing`` (hierarchies and ``either``), constants,
``:negative-preconditions``, ``:equality``, ``:disjunctive-preconditions``,
``:existential-preconditions``, ``:universal-preconditions``,
``:conditional-effects`` (so ``:adl``), and ``:action-costs`` (the plan cost is
reported). Anything else raises :class:`UnsupportedPDDL`; malformed files
raise :class:`PDDLError` with a one-line reason naming the line (that of the
innermost parenthesised expression the problem is in).
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_modulo.verifiers.pddl.formula import (
    And,
    AtomF,
    Equal,
    Exists,
    Forall,
    Formula,
    Imply,
    Not,
    Or,
    Params,
    Truth,
)
from llm_modulo.verifiers.pddl.model import Action, DomainDef, Effect, Literal, ProblemDef
from llm_modulo.verifiers.pddl.sexpr import PDDLError, SExpr, UnsupportedPDDL, located, read, render

SUPPORTED_REQUIREMENTS = frozenset({
    ":strips", ":typing", ":negative-preconditions", ":equality",
    ":disjunctive-preconditions", ":existential-preconditions", ":universal-preconditions",
    ":quantified-preconditions", ":conditional-effects", ":adl", ":action-costs",
})
_NUMERIC_OPS = frozenset({"<", ">", "<=", ">=", "+", "-", "*", "/"})
_NUMERIC_EFFECTS = frozenset({"assign", "increase", "decrease", "scale-up", "scale-down"})
_OBJECT = "object"
#: sections a file may hold several of (every other one at most once)
_REPEATABLE = frozenset({":action", ":durative-action", ":derived", ":process", ":event"})


def _expect_list(x: SExpr, what: str) -> list[SExpr]:
    if not isinstance(x, list):
        raise PDDLError(f"expected a parenthesised {what}, found `{x}`")
    return x


def _name(x: SExpr, what: str) -> str:
    if not isinstance(x, str) or not x:
        raise PDDLError(f"expected a {what} name, found `{render(x)}`")
    return x


Section = tuple[str, list[SExpr], SExpr]  # (:key, body, the whole section for its line)


def _define(text: str, kind: str) -> tuple[str, list[Section]]:
    """``(define (kind name) sections...)`` -> (name, sections)."""
    exprs = read(text, f"{kind} file")
    if len(exprs) != 1 or not isinstance(exprs[0], list) or not exprs[0] \
            or exprs[0][0] != "define":
        raise PDDLError(f"a {kind} file must hold exactly one (define ({kind} NAME) ...)")
    head = exprs[0][1] if len(exprs[0]) > 1 else None
    if not (isinstance(head, list) and len(head) == 2 and head[0] == kind
            and isinstance(head[1], str)):
        found = "nothing" if head is None else f"`{render(head)}`"
        raise located(PDDLError(f"expected ({kind} NAME) after define, found {found}"),
                      exprs[0])
    sections: list[Section] = []
    seen: set[str] = set()
    for s in exprs[0][2:]:
        if not (isinstance(s, list) and s and isinstance(s[0], str) and s[0].startswith(":")):
            raise located(PDDLError(f"{kind} {head[1]}: expected a (:section ...), found "
                                    f"`{render(s)}`"), exprs[0] if isinstance(s, str) else s)
        if s[0] in seen and s[0] not in _REPEATABLE:
            raise located(PDDLError(f"{kind} {head[1]}: section {s[0]} is given twice"), s)
        seen.add(s[0])
        sections.append((s[0], s[1:], s))
    return head[1], sections


def typed_list(items: list[SExpr], what: str) -> list[tuple[str, frozenset[str]]]:
    """``a b - t c - (either u v) d`` -> [(a,{t}), (b,{t}), (c,{u,v}), (d,{object})]."""
    out: list[tuple[str, frozenset[str]]] = []
    pending: list[str] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item == "-":
            if i + 1 >= len(items):
                raise PDDLError(f"{what}: `-` at the end of a list needs a type after it")
            t = items[i + 1]
            if isinstance(t, list):
                if len(t) < 2 or t[0] != "either" or not all(isinstance(x, str) for x in t[1:]):
                    raise PDDLError(f"{what}: bad type `{render(t)}`")
                types = frozenset(str(x) for x in t[1:])
            else:
                types = frozenset({t})
            if not pending:
                raise PDDLError(f"{what}: type `{render(t)}` names no items")
            out.extend((p, types) for p in pending)
            pending = []
            i += 2
            continue
        pending.append(_name(item, what))
        i += 1
    out.extend((p, frozenset({_OBJECT})) for p in pending)
    return out


def _declare(name: str, types: frozenset[str], before: frozenset[str] | None,
             where: str) -> frozenset[str]:
    """An object's or constant's types. Declared again, it has all the types, as in VAL
    ("c - t1 and c - t2 ... c is of both types t1 and t2", VAL's typecheck.cpp)."""
    if name.startswith("?"):
        raise PDDLError(f"{where}: `{name}` is a variable, not an object name")
    return types if before is None else before | types


def _check_requirements(reqs: Iterable[str], where: str) -> frozenset[str]:
    reqs = frozenset(reqs)
    bad = sorted(r for r in reqs if r not in SUPPORTED_REQUIREMENTS)
    if bad:
        raise UnsupportedPDDL(f"{where} requires {', '.join(bad)}, which this validator does not "
                              f"support (supported: STRIPS, typing, negative/disjunctive/"
                              f"existential/universal preconditions, equality, conditional "
                              f"effects, action costs)")
    return reqs


class _Scope:
    """What a formula may refer to: predicates, constants and bound variables."""

    def __init__(self, domain: DomainDef | None, predicates: dict[str, Params],
                 constants: dict[str, frozenset[str]], types: dict[str, frozenset[str]]) -> None:
        self.predicates = predicates
        self.constants = constants
        self.types = types
        self.domain = domain

    def check_type(self, t: frozenset[str], where: str) -> None:
        for x in t:
            if x not in self.types:
                raise PDDLError(f"{where}: undeclared type `{x}`")

    def term(self, t: SExpr, variables: frozenset[str], where: str) -> str:
        if not isinstance(t, str):
            raise PDDLError(f"{where}: `{render(t)}` is not a term (function terms are not "
                            f"supported)")
        if t.startswith("?"):
            if t not in variables:
                raise PDDLError(f"{where}: variable `{t}` is not bound")
        elif t not in self.constants:
            raise PDDLError(f"{where}: `{t}` is not a declared object or constant")
        return t

    def atom(self, x: list[SExpr], variables: frozenset[str], where: str) -> tuple[str,
                                                                                  tuple[str, ...]]:
        try:
            return self._atom(x, variables, where)
        except PDDLError as exc:
            raise located(exc, x) from None

    def _atom(self, x: list[SExpr], variables: frozenset[str], where: str) -> tuple[str,
                                                                                   tuple[str, ...]]:
        pred = _name(x[0], "predicate")
        if pred not in self.predicates:
            raise PDDLError(f"{where}: undeclared predicate `{pred}` in `{render(x)}`")
        arity = len(self.predicates[pred])
        if len(x) - 1 != arity:
            raise PDDLError(f"{where}: `{pred}` takes {arity} argument(s), `{render(x)}` gives "
                            f"{len(x) - 1}")
        return pred, tuple(self.term(t, variables, where) for t in x[1:])

    def params(self, items: SExpr, variables: frozenset[str], where: str) -> Params:
        try:
            return self._params(items, where)
        except PDDLError as exc:
            raise located(exc, items) from None

    def _params(self, items: SExpr, where: str) -> Params:
        params = tuple(typed_list(_expect_list(items, "parameter list"), where))
        for v, t in params:
            if not v.startswith("?"):
                raise PDDLError(f"{where}: parameter `{v}` must start with ?")
            self.check_type(t, where)
        return params

    def formula(self, x: SExpr, variables: frozenset[str], where: str) -> Formula:
        try:
            return self._formula(x, variables, where)
        except PDDLError as exc:
            raise located(exc, x) from None

    def _formula(self, x: SExpr, variables: frozenset[str], where: str) -> Formula:
        x = _expect_list(x, "formula")
        if not x:
            return Truth(True)
        head = x[0]
        if isinstance(head, list):
            raise PDDLError(f"{where}: `{render(x)}` is not a formula")
        if head == "and":
            return And(tuple(self.formula(p, variables, where) for p in x[1:]))
        if head == "or":
            return Or(tuple(self.formula(p, variables, where) for p in x[1:]))
        if head == "not":
            if len(x) != 2:
                raise PDDLError(f"{where}: `not` takes one formula: `{render(x)}`")
            return Not(self.formula(x[1], variables, where))
        if head == "imply":
            if len(x) != 3:
                raise PDDLError(f"{where}: `imply` takes two formulas: `{render(x)}`")
            return Imply(self.formula(x[1], variables, where),
                         self.formula(x[2], variables, where))
        if head in ("exists", "forall"):
            if len(x) != 3:
                raise PDDLError(f"{where}: `{head}` takes a parameter list and a formula")
            params = self.params(x[1], variables, where)
            inner = variables | {v for v, _ in params}
            body = self.formula(x[2], inner, where)
            return Exists(params, body) if head == "exists" else Forall(params, body)
        if head == "=":
            if len(x) != 3:
                raise PDDLError(f"{where}: `=` takes two terms: `{render(x)}`")
            if any(isinstance(t, list) for t in x[1:]):
                raise UnsupportedPDDL(f"{where}: numeric comparison `{render(x)}` is not "
                                      f"supported")
            return Equal(self.term(x[1], variables, where), self.term(x[2], variables, where))
        if head in _NUMERIC_OPS:
            raise UnsupportedPDDL(f"{where}: numeric expression `{render(x)}` is not supported")
        pred, args = self.atom(x, variables, where)
        return AtomF(pred, args)

    def effects(self, x: SExpr, params: Params, cond: Formula | None, variables: frozenset[str],
                where: str, out: list[Effect]) -> None:
        try:
            self._effects(x, params, cond, variables, where, out)
        except PDDLError as exc:
            raise located(exc, x) from None

    def _effects(self, x: SExpr, params: Params, cond: Formula | None,
                 variables: frozenset[str], where: str, out: list[Effect]) -> None:
        x = _expect_list(x, "effect")
        if not x:
            return
        head = x[0]
        if isinstance(head, list):
            raise PDDLError(f"{where}: `{render(x)}` is not an effect")
        if head == "and":
            for part in x[1:]:
                self.effects(part, params, cond, variables, where, out)
            return
        if head == "forall":
            if len(x) != 3:
                raise PDDLError(f"{where}: `forall` effect takes a parameter list and an effect")
            more = self.params(x[1], variables, where)
            self.effects(x[2], params + more, cond, variables | {v for v, _ in more}, where, out)
            return
        if head == "when":
            if len(x) != 3:
                raise PDDLError(f"{where}: `when` takes a condition and an effect")
            if cond is not None:
                raise PDDLError(f"{where}: `when` inside `when` is not PDDL")
            c = self.formula(x[1], variables, where)
            self.effects(x[2], params, c, variables, where, out)
            return
        if head in _NUMERIC_EFFECTS:
            cost = self._cost(x, variables, where)
            out.append(Effect(params, cond, (), (), cost))
            return
        adds: tuple[Literal, ...] = ()
        dels: tuple[Literal, ...] = ()
        if head == "not":
            if len(x) != 2 or not isinstance(x[1], list) or not x[1]:
                raise PDDLError(f"{where}: `not` in an effect takes one atom: `{render(x)}`")
            dels = (self.atom(x[1], variables, where),)
        else:
            adds = (self.atom(x, variables, where),)
        out.append(Effect(params, cond, adds, dels))

    def _cost(self, x: list[SExpr], variables: frozenset[str], where: str) -> float | Literal:
        if not (x[0] == "increase" and len(x) == 3 and x[1] == ["total-cost"]):
            raise UnsupportedPDDL(f"{where}: numeric effect `{render(x)}` is not supported "
                                  f"(only (increase (total-cost) ...) of :action-costs)")
        value = x[2]
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise PDDLError(f"{where}: `{render(x)}` increases by a non-number") from None
        if not value or not isinstance(value[0], str) or value[0] not in self._functions():
            raise UnsupportedPDDL(f"{where}: cost expression `{render(value)}` is not supported")
        return value[0], tuple(self.term(t, variables, where) for t in value[1:])

    def _functions(self) -> dict[str, Params]:
        return self.domain.functions if self.domain else {}


def parse_domain(text: str) -> DomainDef:
    """Parse a PDDL domain. Raises PDDLError / UnsupportedPDDL."""
    name, sections = _define(text, "domain")
    where = f"domain {name}"
    requirements: frozenset[str] = frozenset({":strips"})
    types: dict[str, set[str]] = {_OBJECT: set()}
    constants: dict[str, frozenset[str]] = {}
    predicates: dict[str, Params] = {"=": (("?a", frozenset({_OBJECT})),
                                           ("?b", frozenset({_OBJECT})))}
    functions: dict[str, Params] = {}
    raw_actions: list[SExpr] = []
    nodes = {key: node for key, _, node in sections}
    for key, body, node in sections:
        try:
            if key == ":requirements":
                requirements = _check_requirements((_name(r, "requirement") for r in body),
                                                   where)
            elif key == ":types":
                for t, parents in typed_list(body, f"{where} :types"):
                    types.setdefault(t, set()).update(parents)
                    for parent in parents:
                        types.setdefault(parent, set())
            elif key == ":constants":
                for c, ctypes in typed_list(body, f"{where} :constants"):
                    constants[c] = _declare(c, ctypes, constants.get(c), where)
            elif key == ":predicates":
                for decl in body:
                    pdecl = _expect_list(decl, "predicate declaration")
                    pname = _name(pdecl[0] if pdecl else "", "predicate")
                    if pname in predicates:
                        raise located(PDDLError(f"{where}: predicate {pname} is declared twice"),
                                      decl)
                    predicates[pname] = tuple(typed_list(pdecl[1:],
                                                         f"{where} predicate {pname}"))
            elif key == ":functions":
                for f in body:
                    if isinstance(f, str):
                        continue  # the "- number" type annotations between declarations
                    fname = _name(f[0] if f else "", "function")
                    functions[fname] = tuple(typed_list(f[1:], f"{where} function {fname}"))
                if functions and ":action-costs" not in requirements:
                    raise UnsupportedPDDL(f"{where} declares :functions (numeric fluents), "
                                          f"which this validator does not support")
            elif key == ":action":
                raw_actions.append(node)
            elif key in (":durative-action", ":derived", ":process", ":event", ":constraints"):
                what = {":durative-action": "durative actions", ":derived": "derived predicates",
                        ":constraints": "constraints"}.get(key, "PDDL+ processes and events")
                raise UnsupportedPDDL(f"{where} uses {what} ({key}), which this validator "
                                      f"does not support")
            else:
                raise PDDLError(f"{where}: unknown section {key}")
        except PDDLError as exc:
            raise located(exc, node) from None
    try:
        ancestors = _ancestors(types, where)
    except PDDLError as exc:
        raise located(exc, nodes.get(":types", "")) from None
    for c, ctypes in constants.items():
        for x in ctypes:
            if x not in ancestors:
                raise located(PDDLError(f"{where}: constant {c} has undeclared type `{x}`"),
                              nodes.get(":constants", ""))
    dom = DomainDef(name, requirements, ancestors, constants, predicates, {}, functions)
    scope = _Scope(dom, predicates, constants, ancestors)
    for node in raw_actions:
        assert isinstance(node, list)
        try:
            action = _action(node[1:], scope, where)
            if action.name in dom.actions:
                raise PDDLError(f"{where}: action {action.name} is defined twice")
        except PDDLError as exc:
            raise located(exc, node) from None
        dom.actions[action.name] = action
    return dom


def _ancestors(types: dict[str, set[str]], where: str) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}

    def visit(t: str, path: tuple[str, ...]) -> frozenset[str]:
        if t in out:
            return out[t]
        if t in path:
            raise PDDLError(f"{where}: type hierarchy has a cycle through `{t}`")
        acc = {t, _OBJECT}
        for p in types.get(t, ()):
            acc |= visit(p, (*path, t))
        out[t] = frozenset(acc)
        return out[t]

    for t in types:
        visit(t, ())
    return out


def _action(body: list[SExpr], scope: _Scope, where: str) -> Action:
    if not body or not isinstance(body[0], str):
        raise PDDLError(f"{where}: an action needs a name")
    name = body[0]
    where = f"{where} action {name}"
    fields: dict[str, SExpr] = {}
    items = body[1:]
    if len(items) % 2:
        raise PDDLError(f"{where}: expected :parameters/:precondition/:effect followed by values")
    for key, value in zip(items[::2], items[1::2], strict=True):
        if key not in (":parameters", ":precondition", ":effect"):
            raise PDDLError(f"{where}: unknown field `{render(key)}`")
        if key in fields:
            raise PDDLError(f"{where}: field {key} is given twice")
        fields[str(key)] = value
    params = scope.params(fields.get(":parameters", []), frozenset(), where)
    names = [v for v, _ in params]
    if len(set(names)) != len(names):
        raise PDDLError(f"{where}: a parameter is declared twice")
    variables = frozenset(names)
    pre = scope.formula(fields.get(":precondition", []), variables, f"{where} precondition")
    effects: list[Effect] = []
    scope.effects(fields.get(":effect", []), (), None, variables, f"{where} effect", effects)
    return Action(name, params, pre, tuple(effects))


def parse_problem(text: str, domain: DomainDef) -> ProblemDef:
    """Parse a PDDL problem against ``domain``. Raises PDDLError / UnsupportedPDDL."""
    name, sections = _define(text, "problem")
    where = f"problem {name}"
    domain_name = ""
    objects: dict[str, frozenset[str]] = dict(domain.constants)
    raw_init: list[SExpr] = []
    init_node: SExpr = ""
    raw_goal: SExpr | None = None
    for key, body, node in sections:
        try:
            if key == ":domain":
                domain_name = _name(body[0] if body else "", "domain")
            elif key == ":requirements":
                _check_requirements((_name(r, "requirement") for r in body), where)
            elif key == ":objects":
                for o, t in typed_list(body, f"{where} :objects"):
                    for x in t:
                        if x not in domain.types:
                            raise PDDLError(f"{where}: object {o} has undeclared type `{x}`")
                    objects[o] = _declare(o, t, objects.get(o), where)
            elif key == ":init":
                raw_init, init_node = body, node
            elif key == ":goal":
                if len(body) != 1:
                    raise PDDLError(f"{where}: :goal takes one formula")
                raw_goal = body[0]
            elif key == ":metric":
                continue  # does not change validity; the cost is reported as computed
            elif key == ":constraints":
                raise UnsupportedPDDL(f"{where} uses :constraints, which this validator "
                                      f"does not support")
            else:
                raise PDDLError(f"{where}: unknown section {key}")
        except PDDLError as exc:
            raise located(exc, node) from None
    if raw_goal is None:
        raise PDDLError(f"{where} has no :goal")  # the whole file: no line to name
    scope = _Scope(domain, domain.predicates, objects, domain.types)
    init: set[tuple[str, ...]] = set()
    numeric: dict[tuple[str, ...], float] = {}
    for raw_fact in raw_init:
        try:
            fact = _expect_list(raw_fact, "initial fact")
            if fact and fact[0] == "=" and len(fact) == 3 and isinstance(fact[1], list):
                f = fact[1]
                if not f or not isinstance(f[0], str) or f[0] not in domain.functions \
                        or not isinstance(fact[2], str):
                    raise UnsupportedPDDL(f"{where}: numeric fact `{render(fact)}` is not "
                                          f"supported")
                try:
                    numeric[(str(f[0]), *(scope.term(t, frozenset(), where) for t in f[1:]))] = \
                        float(fact[2])
                except ValueError:
                    raise PDDLError(f"{where}: `{render(fact)}` is not a number") from None
                continue
            if fact and fact[0] in ("at", "not") and str(fact[0]) not in domain.predicates:
                raise UnsupportedPDDL(f"{where}: initial fact `{render(fact)}` is not supported")
            if not fact:
                raise PDDLError(f"{where}: empty initial fact ()")
            pred, args = scope.atom(fact, frozenset(), f"{where} :init")
            init.add((pred, *args))
        except PDDLError as exc:
            raise located(located(exc, raw_fact), init_node) from None
    goal = scope.formula(raw_goal, frozenset(), f"{where} goal")
    return ProblemDef(name, domain_name, objects, frozenset(init), goal, numeric)
