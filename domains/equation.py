"""Equations and linear systems to solve, verified by substitution (no reference answer).

Problems: ``"x^2 - 5x + 6 = 0"``, ``"x + y = 3; x - y = 1"`` or
``{"equations": [...], "variables": ["x", "y"], "real": true, "all_solutions": true}``.
:meth:`EquationDomain.generate_problems` makes seeded polynomial equations
(integer and irrational roots) and linear systems with a unique solution.
"""

from __future__ import annotations

import random
from typing import Any

from llm_modulo.domains.math_answer import MathDomain, math_payload, problem_id
from llm_modulo.errors import ProblemError
from llm_modulo.types import Problem

_NAMES = ("x", "y", "z")


def _poly_text(coeffs: list[int], var: str = "x") -> str:
    """``[1, -5, 6]`` -> ``x^2 - 5x + 6`` (highest degree first)."""
    degree = len(coeffs) - 1
    terms: list[str] = []
    for k, c in enumerate(coeffs):
        power = degree - k
        if c == 0:
            continue
        mag = abs(c)
        body = var if power == 1 else f"{var}^{power}" if power > 1 else ""
        text = (str(mag) if mag != 1 or not body else "") + body
        sign = "-" if c < 0 else "+"
        terms.append(f"-{text}" if not terms and c < 0 else text if not terms
                     else f" {sign} {text}")
    return "".join(terms) or "0"


def _linear_text(coeffs: list[int], names: tuple[str, ...]) -> str:
    parts: list[str] = []
    for c, name in zip(coeffs, names, strict=True):
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else str(abs(c))
        if not parts:
            parts.append(f"{'-' if c < 0 else ''}{mag}{name}")
        else:
            parts.append(f" {'-' if c < 0 else '+'} {mag}{name}")
    return "".join(parts) or "0"


class EquationDomain(MathDomain):
    name = "equation"
    version = "1.0"
    description = ("Solve polynomial equations and linear systems; every root is checked by "
                   "exact substitution and none may be missing.")

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        if isinstance(raw, str):
            raw = {"equations": [e.strip() for e in raw.split(";") if e.strip()]}
        if not isinstance(raw, dict) or not raw.get("equations"):
            raise ProblemError('an equation problem needs "equations", e.g. "x^2 - 5x + 6 = 0" '
                               'or {"equations": ["x + y = 3", "x - y = 1"]}')
        payload = math_payload(raw, need_answer=False)
        return Problem(domain=self.name, payload=payload, id=problem_id(raw))

    def generate_problems(self, count: int, seed: int = 0) -> list[Problem]:
        """``count`` problems, deterministic for ``seed``: a mix of polynomials and systems."""
        rng = random.Random(seed)
        out: list[Problem] = []
        while len(out) < count:
            kind = rng.choice(("roots", "roots", "quadratic", "system2", "system3"))
            if kind == "roots":
                roots = [rng.randint(-9, 9) for _ in range(rng.choice((2, 2, 3)))]
                coeffs = [1]
                for r in roots:  # multiply by (x - r)
                    coeffs = [a - r * b for a, b in zip([*coeffs, 0], [0, *coeffs], strict=True)]
                lead = rng.choice((1, 1, 2, -1, 3))
                equations = [f"{_poly_text([lead * c for c in coeffs])} = 0"]
            elif kind == "quadratic":
                b, c = rng.randint(-9, 9), rng.randint(-9, 9)
                if b * b - 4 * c < 0:  # keep real roots (often irrational ones)
                    c = -abs(c) - 1
                equations = [f"{_poly_text([1, b, c])} = 0"]
            else:
                n = 2 if kind == "system2" else 3
                names = _NAMES[:n]
                while True:
                    matrix = [[rng.randint(-5, 5) for _ in range(n)] for _ in range(n)]
                    if _det(matrix) != 0:
                        break
                solution = [rng.randint(-6, 6) for _ in range(n)]
                equations = [
                    f"{_linear_text(row, names)} = "
                    f"{sum(a * s for a, s in zip(row, solution, strict=True))}"
                    for row in matrix
                ]
            out.append(self.parse_problem({"equations": equations,
                                           "id": f"eq-{seed}-{len(out)}"}))
        return out

    def render_prompt(self, problem: Problem) -> str:
        eqs = problem.payload["equations"]
        names = problem.payload.get("variables") or []
        what = "the system" if len(eqs) > 1 else "the equation"
        domain = "real " if problem.payload.get("real", True) else ""
        lines = [f"Find all {domain}solutions of {what}:", *(f"  {e}" for e in eqs)]
        if names:
            lines.append(f"Unknowns: {', '.join(names)}")
        lines.append(self.answer_instruction(problem))
        return "\n".join(lines)

    def answer_instruction(self, problem: Problem) -> str:
        if len(problem.payload["equations"]) > 1:
            return ('Answer as {"answer": "x = 1, y = 2"} giving every unknown. Use exact values '
                    "(fractions, roots), not rounded decimals.")
        return ('Answer as {"answer": "x = 1, x = -3"} listing every solution, or '
                '{"answer": "\\\\emptyset"} if there is none. Use exact values (fractions, roots), '
                "not rounded decimals.")



def _det(m: list[list[int]]) -> int:
    if len(m) == 2:
        return m[0][0] * m[1][1] - m[0][1] * m[1][0]
    return sum((-1) ** j * m[0][j] * _det([row[:j] + row[j + 1:] for row in m[1:]])
               for j in range(len(m)))
