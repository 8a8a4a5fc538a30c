"""9x9 sudoku as a CSP: cells ``r1c1..r9c9`` take 1..9 (a given cell only its given
digit); every row, column and 3x3 box is all-different. Critiques: "row 3 has 5 twice
(r3c2 and r3c7)", "cell r1c4 is given as 7, not 2".

Payload: ``{"grid": "53..7...."...}`` (81 characters, ``.`` or ``0`` for a blank).
Answer: ``{"grid": ["534678912", ...]}`` (9 rows of 9 digits), or 9 lists of 9 integers,
or one 81-digit string.
"""

from __future__ import annotations

from typing import Any

from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import AssignmentIssue, Violation
from llm_modulo.verifiers.csp.verifier import AnswerError, CSPVerifier, Pairs

DIGITS = list(range(1, 10))


def cell(r: int, c: int) -> str:
    return f"r{r}c{c}"


def units() -> list[tuple[str, list[str]]]:
    """The 27 units: rows, columns and boxes, named for critiques."""
    out = [(f"row {r}", [cell(r, c) for c in range(1, 10)]) for r in range(1, 10)]
    out += [(f"column {c}", [cell(r, c) for r in range(1, 10)]) for c in range(1, 10)]
    for b in range(9):
        r0, c0 = 3 * (b // 3), 3 * (b % 3)
        out.append((f"box {b + 1}", [cell(r0 + i, c0 + j) for i in range(1, 4)
                                     for j in range(1, 4)]))
    return out


def sudoku_csp(grid: str) -> m.CSP:
    variables: dict[str, m.VariableSpec] = {}
    for k, ch in enumerate(grid):
        name = cell(k // 9 + 1, k % 9 + 1)
        variables[name] = [int(ch)] if ch in "123456789" else "digit"
    constraints: list[Any] = [m.AllDifferent(kind="all_different", vars=vs, name=label)
                              for label, vs in units()]
    return m.CSP(domains={"digit": m.Range(range=(1, 9))}, variables=variables,
                 constraints=constraints)


def grid_cells(raw: Any) -> Pairs:
    """``(cell, digit)`` pairs of an answer grid; blanks (``.``, ``0``, None) are left out."""
    if isinstance(raw, str):
        text = "".join(raw.split())
        if len(text) != 81:
            raise AnswerError(f"the grid string has {len(text)} cells, not 81")
        raw = [text[i:i + 9] for i in range(0, 81, 9)]
    if not isinstance(raw, list):
        raise AnswerError('"grid" must be 9 rows of 9 digits')
    if len(raw) != 9:
        raise AnswerError(f"the grid has {len(raw)} rows, not 9")
    pairs: list[tuple[str, Any]] = []
    for r, row in enumerate(raw, 1):
        if isinstance(row, str):
            row = "".join(row.split())
            values: list[Any] = [int(ch) if ch in "123456789" else ch for ch in row]
        elif isinstance(row, list):
            values = list(row)
        else:
            raise AnswerError(f"row {r} is not a string of digits or a list", f"row {r}")
        if len(values) != 9:
            raise AnswerError(f"row {r} has {len(values)} cells, not 9", f"row {r}")
        for c, v in enumerate(values, 1):
            if v in (".", "0", 0, None):
                continue
            pairs.append((cell(r, c), v))
    return pairs


class SudokuVerifier(CSPVerifier):
    name = "sudoku"
    version = "1.0"
    timeout_s = 20.0

    def build_csp(self, problem: Problem) -> m.CSP:
        return sudoku_csp(problem.payload["grid"])

    def assignment(self, problem: Problem, candidate: Candidate) -> Pairs:
        answer = candidate.answer or {}
        if "grid" not in answer:
            raise AnswerError('the answer needs "grid": 9 rows of 9 digits')
        return grid_cells(answer["grid"])

    def describe_issue(self, problem: Problem, issue: AssignmentIssue) -> str:
        name, value = issue.variable, issue.value
        if issue.kind == "missing":
            return f"cell {name} is empty"
        k = (int(name[1]) - 1) * 9 + int(name[3]) - 1 if len(name) == 4 else -1
        given = problem.payload["grid"][k] if 0 <= k < 81 else "."
        if issue.kind == "domain" and given in "123456789":
            return f"cell {name} is given as {given}, not {value}"
        return f"cell {name} holds {value!r}, but cells hold the digits 1 to 9"

    def describe_violation(self, problem: Problem, violation: Violation) -> str:
        unit = violation.label
        parts = []
        for digit, cells in violation.data["groups"]:
            times = {2: "twice", 3: "three times"}.get(len(cells), f"{len(cells)} times")
            parts.append(f"{unit} has {digit} {times} ({' and '.join(cells)})")
        return "; ".join(parts)
