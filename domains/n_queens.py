"""N-queens: place N queens on an N x N board, one per row, so that no two attack each
other (optionally with some queens already placed).

Problems: ``8``, ``"8"`` or ``{"n": 8, "fixed": {"1": 3}}`` (rows and columns from 1).
Answer: ``{"columns": [c1, ..., cN]}``, the column of the queen in each row.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domains.csp_base import CSPDomainBase
from llm_modulo.errors import ProblemError
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp.checker import compile_csp
from llm_modulo.verifiers.csp.n_queens import queens_csp
from llm_modulo.verifiers.csp.solver import Outcome, solve

MAX_N = 200


class QueensAnswer(BaseModel):
    columns: list[int] = Field(description="column (1..N) of the queen in row 1, 2, ..., N")


class NQueensDomain(CSPDomainBase):
    name = "n_queens"
    version = "1.0"
    verifier = "n_queens"
    answer_model = QueensAnswer
    answer_key = "columns"
    description = "Place N non-attacking queens, one per row (some may be pre-placed)."

    def parse_problem(self, raw: str | int | dict[str, Any]) -> Problem:
        data: dict[str, Any]
        if isinstance(raw, dict):
            data = raw
        else:
            text = str(raw).strip()
            if not text.isdigit():
                raise ProblemError(f"n_queens problem is a board size or "
                                   f'{{"n": N, "fixed": {{row: column}}}}, got {text[:40]!r}')
            data = {"n": int(text)}
        n = data.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
            raise ProblemError(f"n_queens needs n between 1 and {MAX_N}")
        fixed_raw = data.get("fixed") or {}
        if not isinstance(fixed_raw, dict):
            raise ProblemError('fixed must map rows to columns, e.g. {"1": 3}')
        fixed: dict[str, int] = {}
        for row, col in fixed_raw.items():
            if not str(row).isdigit() or not 1 <= int(row) <= n:
                raise ProblemError(f"fixed row {row!r} is not between 1 and {n}")
            if not isinstance(col, int) or isinstance(col, bool) or not 1 <= col <= n:
                raise ProblemError(f"fixed column {col!r} of row {row} is not between 1 and {n}")
            if str(int(row)) in fixed:
                raise ProblemError(f"row {int(row)} is fixed twice")
            fixed[str(int(row))] = col
        placed = [(int(r), c) for r, c in fixed.items()]
        for (r1, c1), (r2, c2) in itertools.combinations(placed, 2):
            if c1 == c2 or abs(c1 - c2) == abs(r1 - r2):  # no answer could be accepted
                raise ProblemError(f"the fixed queens in rows {min(r1, r2)} and {max(r1, r2)} "
                                   "attack each other")
        pid = data.get("id")
        fixed = dict(sorted(fixed.items(), key=lambda rc: int(rc[0])))
        return Problem(domain=self.name, payload={"n": n, "fixed": fixed},
                       id=None if pid is None else str(pid))

    def generate_problems(self, count: int, seed: int = 0, *, low: int = 5, high: int = 10,
                          fixed: int = 2) -> list[Problem]:
        """``count`` instances, deterministic for ``seed``: a board size and ``fixed`` queens
        taken from a solution python-constraint finds (so each instance is solvable)."""
        rng = random.Random(seed)
        out: list[Problem] = []
        while len(out) < count:
            n = rng.randint(max(low, 4), high)
            placed = {str(r): rng.randint(1, n) for r in rng.sample(range(1, n + 1), fixed)}
            try:
                problem = self.parse_problem({"n": n, "fixed": placed})
            except ProblemError:  # the drawn queens attack each other: draw again
                continue
            result = solve(compile_csp(queens_csp(problem.payload)), 10.0)
            if result.outcome is Outcome.SAT:
                out.append(problem)
        return out

    def render_prompt(self, problem: Problem) -> str:
        n, fixed = problem.payload["n"], problem.payload["fixed"]
        lines = [f"Place {n} queens on a {n}x{n} chessboard so that no two queens attack each "
                 "other: no two in the same row, column or diagonal. Rows and columns are "
                 f"numbered 1 to {n}; put exactly one queen in each row."]
        if fixed:
            lines.append("These queens are already placed and must stay: " + ", ".join(
                f"row {r} column {c}" for r, c in sorted(fixed.items(), key=lambda x: int(x[0]))
            ) + ".")
        lines.append(self.answer_instruction(problem))
        return "\n".join(lines)

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only {"columns": [c1, c2, ...]}: the column of the queen in row '
                f'1, 2, ..., {problem.payload["n"]}.')
