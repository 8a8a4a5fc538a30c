"""9x9 sudoku with a unique solution.

Problems: an 81-character string (digits, ``.`` or ``0`` for blanks; whitespace ignored),
or ``{"grid": "..."}``. Answer: ``{"grid": ["534678912", ...]}``.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domains.csp_base import CSPDomainBase
from llm_modulo.errors import ProblemError
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp.checker import compile_csp
from llm_modulo.verifiers.csp.sudoku import sudoku_csp, units


class SudokuAnswer(BaseModel):
    grid: list[str] = Field(description="9 rows, each 9 digits 1-9", min_length=9,
                            max_length=9)


def count_solutions(grid: str, limit: int = 2) -> int:
    """How many solutions ``grid`` has, counting up to ``limit`` (python-constraint)."""
    from llm_modulo.verifiers.csp.solver import to_problem

    found = 0
    for _ in to_problem(compile_csp(sudoku_csp(grid))).getSolutionIter():
        found += 1
        if found >= limit:
            break
    return found


def solved_grid(rng: random.Random) -> list[int]:
    """A complete valid grid: the standard pattern under random symmetries."""
    def shuffled_groups() -> list[int]:
        bands = rng.sample(range(3), 3)
        return [3 * b + i for b in bands for i in rng.sample(range(3), 3)]

    rows, cols, digits = shuffled_groups(), shuffled_groups(), rng.sample(range(1, 10), 9)
    grid = [digits[(3 * (r % 3) + r // 3 + c) % 9] for r in rows for c in cols]
    if rng.random() < 0.5:  # transpose
        grid = [grid[9 * c + r] for r in range(9) for c in range(9)]
    return grid


class SudokuDomain(CSPDomainBase):
    name = "sudoku"
    version = "1.0"
    verifier = "sudoku"
    answer_model = SudokuAnswer
    answer_key = "grid"
    description = "Fill a 9x9 sudoku (unique solution)."

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        pid = None
        if isinstance(raw, dict):
            grid, pid = raw.get("grid"), raw.get("id")
        else:
            grid = raw
        if isinstance(grid, list):
            grid = "".join(str(x) for row in grid for x in (row if isinstance(row, list)
                                                            else [row]))
        if not isinstance(grid, str):
            raise ProblemError('sudoku problem is an 81-character grid or {"grid": "..."}')
        text = "".join(grid.split()).replace("0", ".")
        if len(text) != 81 or any(ch not in ".123456789" for ch in text):
            raise ProblemError("sudoku grid must be 81 cells of digits 1-9 and . or 0 for "
                               f"blanks, got {len(text)} characters")
        for label, cells in units():  # clashing clues: no answer could ever be accepted
            given = [text[(int(c[1]) - 1) * 9 + int(c[3]) - 1] for c in cells]
            digits = [d for d in given if d != "."]
            if len(set(digits)) != len(digits):
                twice = next(d for d in digits if digits.count(d) > 1)
                raise ProblemError(f"sudoku grid gives {twice} twice in {label}")
        return Problem(domain=self.name, payload={"grid": text},
                       id=None if pid is None else str(pid))

    def generate_problems(self, count: int, seed: int = 0, *,
                          clues: int = 32) -> list[Problem]:
        """``count`` puzzles with a unique solution, deterministic for ``seed``: clues are
        removed from a random full grid while python-constraint finds exactly one solution."""
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            grid = [str(d) for d in solved_grid(rng)]
            for k in rng.sample(range(81), 81):
                if sum(ch != "." for ch in grid) <= clues:
                    break
                keep, grid[k] = grid[k], "."
                if count_solutions("".join(grid)) != 1:
                    grid[k] = keep
            out.append(self.parse_problem("".join(grid)))
        return out

    def render_prompt(self, problem: Problem) -> str:
        g = problem.payload["grid"]
        rows = "\n".join(" ".join(g[r * 9:(r + 1) * 9]) for r in range(9))
        return ("Solve this sudoku: fill every blank (.) with a digit 1-9 so that each row, "
                "each column and each 3x3 box contains every digit exactly once. Keep the "
                f"given digits.\n{rows}\n" + self.answer_instruction(problem))

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only {"grid": ["<row 1: 9 digits>", ..., "<row 9>"]}.')
