"""N-queens as a CSP: ``q1..qN`` is the column (1..N) of the queen in row i; the columns
all differ, no two queens share a diagonal, pre-placed queens stay where they are.
Critiques: "queens in rows 1 and 4 share a diagonal".

Payload: ``{"n": N, "fixed": {"row": column, ...}}``. Answer: ``{"columns": [c1, ..., cN]}``.

Prefixes (:meth:`NQueensVerifier.check_prefix`, for stepwise search): a partial answer
``{"queens": [[row, column], ...], "partial": true}``, one queen per step, the given queens
not among them. It is dead (REJECT naming the step) when a step uses a row the board does not
have or one that already has its queen (given or placed), a column that is not a number from
1 to N, puts a queen where a queen already placed attacks it, or leaves a row without a queen
in which every column is attacked (forward checking). Every row filled, none of these: ACCEPT
with ``complete``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from llm_modulo.types import Candidate, Problem
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import AssignmentIssue, Violation
from llm_modulo.verifiers.csp.prefix import (
    DEAD_END,
    PREFIX_CRITIQUE_KINDS,
    alive,
    dead,
    prefix_pairs,
    shown,
    undecided,
)
from llm_modulo.verifiers.csp.verifier import AnswerError, CSPVerifier, Pairs


def queens_csp(payload: dict[str, Any]) -> m.CSP:
    n = int(payload["n"])
    rows = [f"q{i}" for i in range(1, n + 1)]
    # one queen needs no column constraint (all-different takes two or more variables)
    constraints: list[Any] = ([m.AllDifferent(kind="all_different", vars=rows, name="columns")]
                              if n >= 2 else [])
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
    critique_kinds: ClassVar[Mapping[str, str]] = {**CSPVerifier.critique_kinds,
                                                  **PREFIX_CRITIQUE_KINDS}

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


    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """Queens placed step by step: the first step that makes the board dead is named."""
        pairs = prefix_pairs(candidate, "queens")
        if isinstance(pairs, str):
            return undecided(pairs)
        board = _Board(int(problem.payload["n"]))
        for row, col in sorted((int(r), c) for r, c in problem.payload.get("fixed", {}).items()):
            board.place(row, col)
        if (free := board.forward_all()) is not None:
            return dead(DEAD_END, None, "the given queens",
                        f"row {free} has no safe column: every column is attacked", row=free)
        for step, (row, col) in enumerate(pairs, 1):
            failure = board.step(row, col)
            if failure is not None:
                kind, message, data = failure
                where = f"step {step} (row {shown(row)}: column {shown(col)})"
                return dead(kind, step, where, message, **data)
        return alive(len(board.queens), board.n)


class _Board:
    """Queens on an N x N board, with the columns each free row has left (forward checking).

    Placing a queen costs O(N): it attacks at most three squares of every other row."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.queens: dict[int, int] = {}
        self.given: set[int] = set()
        self.by_col: dict[int, int] = {}
        self.by_diag: dict[int, int] = {}
        self.by_anti: dict[int, int] = {}
        self.attacked: dict[int, set[int]] = {r: set() for r in range(1, n + 1)}

    def place(self, row: int, col: int, given: bool = True) -> None:
        self.queens[row] = col
        if given:
            self.given.add(row)
        self.by_col[col] = self.by_diag[row - col] = self.by_anti[row + col] = row
        self.attacked.pop(row, None)
        for other, cols in self.attacked.items():
            d = other - row
            cols.update(c for c in (col, col + d, col - d) if 1 <= c <= self.n)

    def forward_all(self) -> int | None:
        """The first free row every column of which is attacked, or None."""
        return next((r for r, cols in sorted(self.attacked.items()) if len(cols) >= self.n),
                    None)

    def step(self, row: Any, col: Any) -> tuple[str, str, dict[str, Any]] | None:
        """Place one queen; (kind, message, data) when that proves the board dead."""
        n = self.n
        if type(row) is not int or not 1 <= row <= n:
            return "unknown_variable", f"there is no row {shown(row)}: the board has {n} rows", {}
        if row in self.queens:
            was = (f"it was given in column {self.queens[row]}" if row in self.given
                   else f"column {self.queens[row]}")
            return "repeated", f"row {row} already has its queen ({was})", {"row": row}
        if type(col) is not int:
            return "type", (f"the queen in row {row} is in column {shown(col)}, but columns "
                            f"are the numbers 1 to {n}"), {"row": row}
        if not 1 <= col <= n:
            return "domain", (f"the queen in row {row} is in column {col}, but columns are 1 "
                              f"to {n}"), {"row": row}
        if (other := self.by_col.get(col)) is not None:
            low, high = sorted((row, other))
            return "constraint", (f"queens in rows {low} and {high} are both in column {col}"
                                  ), {"rows": [low, high]}
        other = self.by_diag.get(row - col, self.by_anti.get(row + col))
        if other is not None:
            low, high = sorted((row, other))
            return "constraint", f"queens in rows {low} and {high} share a diagonal", \
                {"rows": [low, high]}
        self.place(row, col, given=False)
        for free, cols in self.attacked.items():
            if len(cols) >= n:
                return DEAD_END, (f"row {free} has no safe column left: the queens "
                                          "placed attack every column"), {"row": free}
        return None


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1]
