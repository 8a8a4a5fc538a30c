"""N-queens: place N queens on an N x N board, one per row, so that no two attack each
other (optionally with some queens already placed).

Problems: ``8``, ``"8"`` or ``{"n": 8, "fixed": {"1": 3}}`` (rows and columns from 1).
Answer: ``{"columns": [c1, ..., cN]}``, the column of the queen in each row.

Stepwise (for search strategies): a step places the queen of one row, ``row 2: column 5``, in
the fixed order of the rows not given (smallest first); the step prompt names the row that
comes next. A reply's steps are its ``row R: column C`` lines (``Row 2: 5`` too; the first line
may give just the column, ``5`` or ``column 5``, for the row asked for) up to the first line
that is not one, or that is for any row but the next: reading stops there (a reply whose first
step is for another row has no step: UNKNOWN, never a REJECT).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domains.csp_base import (
    CSPDomainBase,
    assignment_grammar,
    next_step_request,
    step_lines,
    step_messages_of,
)
from llm_modulo.errors import ProblemError
from llm_modulo.stepwise import StepParse, StepwiseDomain
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import Candidate, Message, Problem, Step
from llm_modulo.verifiers.csp.checker import compile_csp
from llm_modulo.verifiers.csp.n_queens import queens_csp
from llm_modulo.verifiers.csp.solver import Outcome, solve

MAX_N = 200
# "row 2: column 5", "Row 2: 5", "row2: col 5", "Row 2: column 5." (one colon between them)
_STEP = re.compile(r"row\s*([0-9]{1,4})\s*:\s*(?:col(?:umn)?\s*)?([0-9]{1,4})\.?",
                   re.IGNORECASE)
# just the column, for the row asked for: "5", "column 5"
_COLUMN = re.compile(r"(?:col(?:umn)?\s*)?([0-9]{1,4})\.?", re.IGNORECASE)
_GRAMMAR_MAX_N = 400  # bounds a step grammar (a column alternative per column)


class QueensAnswer(BaseModel):
    columns: list[int] = Field(description="column (1..N) of the queen in row 1, 2, ..., N")


class NQueensDomain(CSPDomainBase, StepwiseDomain):
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
        return "\n".join([*self._instance_lines(problem), self.answer_instruction(problem)])

    def _instance_lines(self, problem: Problem) -> list[str]:
        n, fixed = problem.payload["n"], problem.payload["fixed"]
        lines = [f"Place {n} queens on a {n}x{n} chessboard so that no two queens attack each "
                 "other: no two in the same row, column or diagonal. Rows and columns are "
                 f"numbered 1 to {n}; put exactly one queen in each row."]
        if fixed:
            lines.append("These queens are already placed and must stay: " + ", ".join(
                f"row {r} column {c}" for r, c in sorted(fixed.items(), key=lambda x: int(x[0]))
            ) + ".")
        return lines

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only {"columns": [c1, c2, ...]}: the column of the queen in row '
                f'1, 2, ..., {problem.payload["n"]}.')

    # -- stepwise: one row's queen per step -------------------------------------------

    def _remaining(self, problem: Problem, prefix: Sequence[Step]) -> list[int]:
        """The rows neither given nor placed by the prefix, in order."""
        done = {s.data.get("row") for s in prefix} | {int(r) for r in problem.payload["fixed"]}
        return [r for r in range(1, problem.payload["n"] + 1) if r not in done]

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        n = problem.payload["n"]
        lines = self._instance_lines(problem)
        if prefix:
            lines.append("The queens placed so far:")
            lines.extend(s.text for s in prefix)
        remaining = self._remaining(problem, prefix)
        if not remaining:
            lines.append("Every row has its queen.")
        else:
            lines.append(next_step_request(remaining, "row", "rows",
                                           'queen as "row {first}: column C"',
                                           f"C is a number from 1 to {n}"))
        return step_messages_of(self.system_prompt(), lines)

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        remaining = self._remaining(problem, prefix)
        if not remaining:
            return StepParse(error="every row already has its queen")
        steps: list[Step] = []
        first = True
        for line in step_lines(completion, self.max_answer_chars):
            if len(steps) == len(remaining):
                break
            expected = remaining[len(steps)]
            if m := _STEP.fullmatch(line):
                row, col = int(m.group(1)), int(m.group(2))
                if row != expected:
                    if steps:
                        break
                    return StepParse(error=f"row {expected} comes next, but the reply places "
                                           f"a queen in row {row}")
            elif first and (m := _COLUMN.fullmatch(line)):
                col = int(m.group(1))  # just the column, for the row asked for
            elif steps:
                break
            else:
                first = False
                continue  # prose before the first step
            first = False
            steps.append(Step(text=f"row {expected}: column {col}",
                              data={"row": expected, "column": col}))
        if not steps:
            return StepParse(error=f"no `row {remaining[0]}: column C` line in the reply")
        return StepParse(steps=tuple(steps))

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        pairs = [[s.data.get("row"), s.data.get("column")] for s in steps]
        return Candidate(raw="\n".join(s.text for s in steps),
                         answer={"queens": pairs, "partial": True})

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        """``{"columns": [...]}``: the given queens and the steps' (the first step for a row
        wins), row 1 on, up to the first row without a queen (the check reports it)."""
        placed = {int(r): c for r, c in problem.payload["fixed"].items()}
        for s in steps:
            placed.setdefault(s.data.get("row"), s.data.get("column"))  # type: ignore[arg-type]
        columns = []
        for r in range(1, problem.payload["n"] + 1):
            if r not in placed:
                break
            columns.append(placed[r])
        return json.dumps({"columns": columns}, default=str)

    def max_steps(self, problem: Problem) -> int:
        return int(problem.payload["n"]) - len(problem.payload["fixed"])

    def step_structured(self, problem: Problem, prefix: Sequence[Step], steps: int,
                        exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
        """``row R: column C`` lines for the next ``steps`` rows in order, columns 1..n (only
        shapes sampling: every step is still read and checked)."""
        n = int(problem.payload["n"])
        remaining = self._remaining(problem, prefix)[: max(1, steps)]
        if not remaining or n > _GRAMMAR_MAX_N:
            return None
        if steps > 1:
            return assignment_grammar(remaining, "row {key}: column ", n, (), "")
        return assignment_grammar(remaining[:1], "row {key}: column ", n, exclude,
                                  "every column of row {key} was tried")

    def step_stop(self, problem: Problem) -> list[str] | None:
        return ["\n"]
