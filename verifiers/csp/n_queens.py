"""N-queens as a CSP: ``q1..qN`` is the column (1..N) of the queen in row i; the columns
all differ, no two queens share a diagonal, pre-placed queens stay where they are.
Critiques: "queens in rows 1 and 4 share a diagonal".

Payload: ``{"n": N, "fixed": {"row": column, ...}}``. Answer: ``{"columns": [c1, ..., cN]}``.
"""

from __future__ import annotations

from typing import Any

from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import AssignmentIssue, Violation
from llm_modulo.verifiers.csp.verifier import AnswerError, CSPVerifier, Pairs


def queens_csp(payload: dict[str, Any]) -> m.CSP:
    n = int(payload["n"])
    rows = [f"q{i}" for i in range(1, n + 1)]
    constraints: list[Any] = [m.AllDifferent(kind="all_different", vars=rows, name="columns")]
    for i in range(1, n + 1):
        for j in range(i + 1, n + 1):
            constraints.append(m.Expression(kind="expression", expr=f"abs(q{i} - q{j}) != {j - i}",
                                            name=f"diagonal {i} {j}"))
    for row, col in sorted(payload.get("fixed", {}).items(), key=lambda rc: int(rc[0])):
        constraints.append(m.InSet(kind="in_set", vars=[f"q{row}"], values=[col],
                                   name=f"fixed {row}"))
    return m.CSP(domains={"column": m.Range(range=(1, n))},
                 variables=dict.fromkeys(rows, "column"), constraints=constraints)


class NQueensVerifier(CSPVerifier):
    name = "n_queens"
    version = "1.0"
    timeout_s = 20.0

    def build_csp(self, problem: Problem) -> m.CSP:
        return queens_csp(problem.payload)

    def assignment(self, problem: Problem, candidate: Candidate) -> Pairs:
        answer = candidate.answer or {}
        cols = answer.get("columns")
        if not isinstance(cols, list):
            raise AnswerError('the answer needs "columns": the column of the queen in each row')
        return [(f"q{i}", c) for i, c in enumerate(cols, 1)]

    def describe_issue(self, problem: Problem, issue: AssignmentIssue) -> str:
        n = problem.payload["n"]
        row = issue.variable[1:]
        if issue.kind == "missing":
            return f"row {row} has no queen: give {n} columns, one per row"
        if issue.kind == "unknown_variable":
            return f"there is no row {row}: the board has {n} rows"
        return f"the queen in row {row} is in column {issue.value!r}, but columns are 1 to {n}"

    def describe_violation(self, problem: Problem, violation: Violation) -> str:
        name = violation.constraint.name or ""
        if name == "columns":
            groups = violation.data["groups"]
            return "; ".join(
                f"queens in rows {_and([v[1:] for v in vs])} are all in column {col}"
                if len(vs) > 2 else
                f"queens in rows {vs[0][1:]} and {vs[1][1:]} are both in column {col}"
                for col, vs in groups)
        if name.startswith("fixed"):
            row = name.split()[1]
            col = violation.constraint.values[0]
            return f"the queen in row {row} must stay in column {col} (it was given)"
        _, i, j = name.split()
        return f"queens in rows {i} and {j} share a diagonal"


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1]
