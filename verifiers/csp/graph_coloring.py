"""Graph colouring as a CSP: one variable per vertex (``v3``), colours 1..k, one
not-equal constraint per edge. Critiques in the words of Stechly et al.: "vertices 3 and 8
share an edge and both have colour 2".

Payload: ``{"vertices": [0, 1, ...], "edges": [[u, v], ...], "colors": k | None,
"minimize": bool, "require_all_vertices": bool (absent: false)}``. With ``minimize`` the
colouring must use as few colours as possible: that is established by python-constraint
proving the graph has no colouring with one colour fewer (UNKNOWN if the proof does not
finish in time).

Colours are labels: an answer's colours are numbers (``2``, ``"2"``, ``"Color 2"``,
``"color2"``), numbered from 0, from 1 or any other way. A colouring with at most k different
colours is relabelled, order-preserving, onto 1..d before the check (a renaming changes no
edge's verdict), and critiques name the colours as the answer wrote them. With more than k
different colours the labels are checked as the numbers 1..k, so at least one vertex's colour
is out of range and named. A vertex without edges has no constraint: it may be left out
unless the problem sets ``require_all_vertices``; a vertex with an edge never may.

Prefixes (:meth:`GraphColoringVerifier.check_prefix`, for stepwise search): a partial answer
``{"coloring": [[vertex, colour], ...], "partial": true}``, one pair per step, is dead (REJECT
naming the step) when a step colours a vertex the graph does not have, colours a vertex again,
gives a colour that is not a number, gives two vertices of an edge the same colour, brings the
number of different colours above k, or leaves a vertex not yet coloured whose neighbours
already use k different colours (forward checking). Every vertex coloured, none of these:
ACCEPT with ``complete`` (for ``minimize`` problems optimality is left to :meth:`check`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from llm_modulo.types import Candidate, Problem
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import (
    MISSING,
    AssignmentIssue,
    CompiledCSP,
    Report,
    Violation,
)
from llm_modulo.verifiers.csp.prefix import (
    DEAD_END,
    PREFIX_CRITIQUE_KINDS,
    alive,
    dead,
    prefix_pairs,
    shown,
    undecided,
)
from llm_modulo.verifiers.csp.solver import solve
from llm_modulo.verifiers.csp.verifier import CSPVerifier, Pairs, assignment_pairs


def var(vertex: int) -> str:
    return f"v{vertex}"


def vertex_of(name: str) -> str:
    return name[1:] if name.startswith("v") and name[1:].isdigit() else repr(name)


def max_colors(payload: dict[str, Any]) -> int:
    k = payload.get("colors")
    return int(k) if k is not None else max(1, len(payload["vertices"]))


def coloring_csp(payload: dict[str, Any]) -> m.CSP:
    """The CSP of a colouring payload (built without per-constraint validation: it is
    made from already validated vertices and edges)."""
    k = max_colors(payload)
    variables: dict[str, m.VariableSpec] = {var(v): "colour" for v in payload["vertices"]}
    constraints: list[m.Constraint] = [
        m.NotEqual.model_construct(kind="not_equal", vars=[var(u), var(v)], name=None)
        for u, v in payload["edges"]
    ]
    return m.CSP.model_construct(
        name=None, description=None, objective=None,
        domains={"colour": m.Range(range=(1, k))}, variables=variables,
        constraints=constraints,
    )


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


_COLOUR_TEXT = re.compile(r"(?:colou?r\s*)?([0-9]{1,18})", re.IGNORECASE)


def _colour(value: Any) -> Any:
    """Colours written as text ("2", "Color 2", "color2") are the numbers they spell."""
    if type(value) is str and (m := _COLOUR_TEXT.fullmatch(value.strip())):
        return int(m.group(1))
    return value


def relabelling(labels: set[int], k: int) -> dict[int, int]:
    """Label -> colour 1..d, order-preserving, when the d labels are at most ``k``; else
    the identity (the checker then reads labels as the colours 1..k)."""
    if len(labels) > k:
        return {}
    return {label: c for c, label in enumerate(sorted(labels), 1)}


def _back(value: Any, names: dict[int, int]) -> Any:
    return names.get(value, value) if type(value) is int else value


def _vertex_var(key: Any) -> str:
    """The variable of a vertex as the answer names it ("3", 3); other keys stay as given."""
    if type(key) is str:
        return "v" + str(int(key)) if _number(key) else key
    if type(key) is int:
        return f"v{key}"
    return str(key)


class GraphColoringVerifier(CSPVerifier):
    name = "graph_coloring"
    version = "1.1"  # issue 11: colour labels, isolated vertices
    timeout_s = 30.0
    critique_kinds: ClassVar[Mapping[str, str]] = {**CSPVerifier.critique_kinds,
                                                  **PREFIX_CRITIQUE_KINDS}

    def build_csp(self, problem: Problem) -> m.CSP:
        return coloring_csp(problem.payload)

    def assignment(self, problem: Problem, candidate: Any) -> Pairs:
        return [(_vertex_var(key), _colour(value))
                for key, value in assignment_pairs(candidate.answer, "coloring")]

    def report(self, problem: Problem, compiled: CompiledCSP, pairs: Any) -> Report:
        """Relabel the answer's colours onto 1..d, check, and name colours as written;
        an uncoloured vertex without edges is no issue unless every vertex is required."""
        slot = compiled.slot
        labels = {v for name, v in pairs if type(v) is int and name in slot}
        to_colour = relabelling(labels, max_colors(problem.payload))
        report = compiled.check([(name, _back(v, to_colour) if name in slot else v)
                                 for name, v in pairs])
        names = {c: label for label, c in to_colour.items() if c != label}
        issues = report.issues
        if (not problem.payload.get("require_all_vertices", False)
                and any(i.kind == "missing" for i in issues)):
            isolated = isolated_vars(problem.payload)
            issues = [i for i in issues if i.kind != "missing" or i.variable not in isolated]
        if not names:
            return Report(issues, report.violations, report.values)
        return Report(
            [i if i.kind == "unknown_variable"
             else AssignmentIssue(i.kind, i.variable, _back(i.value, names), i.detail)
             for i in issues],
            [Violation(v.index, v.constraint, {n: _back(x, names) for n, x in v.values.items()},
                       v.detail, v.data) for v in report.violations],
            [_back(x, names) for x in report.values])

    def describe_issue(self, problem: Problem, issue: AssignmentIssue) -> str:
        vertex, value = vertex_of(issue.variable), issue.value
        k = max_colors(problem.payload)
        colours = f"the colours are the numbers 1 to {k}" if k > 1 else "the only colour is 1"
        if issue.kind == "missing":
            return f"vertex {vertex} has no colour"
        if issue.kind == "unknown_variable":
            return f"{vertex} is not a vertex of this graph"
        if issue.kind == "repeated":
            return f"vertex {vertex} is coloured more than once (again as {value!r})"
        if issue.kind == "domain":  # only with more than k different colours
            return (f"vertex {vertex} has colour {value!r}, but the colouring uses more than "
                    f"{k} different colours ({colours})")
        return f"vertex {vertex} has colour {value!r}, but {colours}"

    def describe_violation(self, problem: Problem, violation: Violation) -> str:
        (a, colour), (b, _) = violation.values.items()
        return (f"vertices {vertex_of(a)} and {vertex_of(b)} share an edge and both have "
                f"colour {colour}")

    def optimality(self, problem: Problem, compiled: CompiledCSP,
                   values: list[Any]) -> CheckResult | None:
        if not problem.payload.get("minimize"):
            return None
        used = colours_used(values)
        if used <= 1 or (used == 2 and problem.payload["edges"]):
            return CheckResult.accept(objective=used, optimal=True, optimality_proof_s=0.0)
        # no colouring with used-1 colours?  Colours are interchangeable, so one vertex of
        # highest degree may be fixed to colour 1 (symmetry breaking, still a proof).
        degree: dict[str, int] = {}
        for a, b in zip(compiled.ne_a, compiled.ne_b, strict=True):
            degree[compiled.names[a]] = degree.get(compiled.names[a], 0) + 1
            degree[compiled.names[b]] = degree.get(compiled.names[b], 0) + 1
        fewer = list(range(1, used))
        domains = {name: fewer for name in compiled.names}
        if degree:
            domains[max(degree, key=lambda n: degree[n])] = [1]
        result = solve(compiled, self.solve_budget(problem), domains=domains)
        return self.optimality_verdict(
            result.outcome, result.elapsed_s, used,
            f"the colouring uses {used} colours, but the graph can be coloured with fewer")

    def evidence(self, problem: Problem, compiled: CompiledCSP,
                 values: list[Any]) -> dict[str, Any]:
        return {"vertices": len(compiled.names), "edges": len(compiled.ne_a),
                "colors_used": colours_used(values)}


    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """A partial colouring, step by step: the first step that makes it dead is named."""
        pairs = prefix_pairs(candidate, "coloring")
        if isinstance(pairs, str):
            return undecided(pairs)
        compiled = self.compiled(problem)
        slot, names, k = compiled.slot, compiled.names, max_colors(problem.payload)
        adjacent: list[list[int]] = [[] for _ in names]
        for a, b in zip(compiled.ne_a, compiled.ne_b, strict=True):
            adjacent[a].append(b)
            adjacent[b].append(a)
        vals: list[Any] = [MISSING] * len(names)
        labels: set[int] = set()
        # the colours an uncoloured vertex's coloured neighbours use (forward checking)
        taken: dict[int, set[int]] = {}
        for step, (key, value) in enumerate(pairs, 1):
            colour = _colour(value)
            name = _vertex_var(key) if type(key) in (str, int) else None
            s = slot.get(name) if name is not None else None
            if s is None:
                return dead("unknown_variable", step, _where(step, key, value),
                            f"{shown(key)} is not a vertex of this graph")
            vertex = vertex_of(names[s])
            if vals[s] is not MISSING:
                return dead("repeated", step, _where(step, key, value),
                            f"vertex {vertex} is already coloured")
            if type(colour) is not int:
                return dead("type", step, _where(step, key, value),
                            f"the colour {shown(value)} is not a number")
            clash = next((t for t in adjacent[s] if vals[t] == colour), None)
            if clash is not None:
                low, high = sorted((vertex, vertex_of(names[clash])), key=int)
                return dead("constraint", step, _where(step, key, value),
                            f"vertices {low} and {high} share an edge and both have colour "
                            f"{shown(value)}", vertices=[int(low), int(high)])
            labels.add(colour)
            if len(labels) > k:
                return dead("domain", step, _where(step, key, value),
                            f"the colouring now uses {len(labels)} different colours, but at "
                            f"most {k} may be used")
            vals[s] = colour
            taken.pop(s, None)
            for t in adjacent[s]:
                if vals[t] is MISSING:
                    near = taken.setdefault(t, set())
                    near.add(colour)
                    if len(near) >= k:
                        return dead(DEAD_END, step, _where(step, key, value),
                                    f"vertex {vertex_of(names[t])} has no colour left: its "
                                    f"coloured neighbours already use {len(near)} different "
                                    f"colours, and at most {k} may be used",
                                    vertex=int(vertex_of(names[t])))
        return alive(len(names) - vals.count(MISSING), len(names))


def _where(step: int, key: Any, value: Any) -> str:
    return f"step {step} (vertex {shown(key)}: colour {shown(value)})"


def colours_used(values: list[Any]) -> int:
    """Different colours among the coloured vertices."""
    return len({v for v in values if v is not MISSING})


def isolated_vars(payload: dict[str, Any]) -> set[str]:
    """The variables of vertices without edges."""
    touched = {x for e in payload["edges"] for x in e}
    return {var(v) for v in payload["vertices"] if v not in touched}

