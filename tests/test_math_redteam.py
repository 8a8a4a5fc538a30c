"""Red-team findings on the math verifier: each was a false accept, a crash or a bad error."""

from __future__ import annotations

from typing import Any

import pytest

from domains.equation import EquationDomain
from domains.math_answer import MathAnswerDomain
from llm_modulo.errors import ProblemError
from llm_modulo.types import Candidate, Problem, Status
from verifiers.mathcheck import MathVerifier

VERIFIER = MathVerifier()
ANSWERS = MathAnswerDomain()
EQUATIONS = EquationDomain()


def check(problem: Problem, text: str) -> Any:
    return VERIFIER.check(problem, Candidate(raw=text, answer={"answer": text}))


def answer_problem(reference: str, **extra: Any) -> Problem:
    return ANSWERS.parse_problem({"answer": reference, **extra})


def test_parse_error_names_its_column_once() -> None:
    result = check(answer_problem("1"), "__import__('os')")
    assert result.status is Status.REJECT
    (critique,) = result.critiques
    assert "column" not in critique.message
    assert critique.location == "column 1"
    result = check(answer_problem("1"), "1+")
    assert "column" not in result.critiques[0].message and result.critiques[0].location


@pytest.mark.parametrize("raw", [
    {"answer": "1", "tolerance": float("nan")},
    {"answer": "1", "tolerance": float("inf")},
    {"answer": "1", "relative_tolerance": float("nan")},
    {"answer": "1", "relative_tolerance": 2},
    {"answer": "1", "tolerance": -1e-9},
    {"answer": [1]},
    {"answer": True},
    {"answer": "1", "equations": ["x = 1"], "variables": ["x y"]},
    {"answer": "1", "equations": ["x = 1"], "variables": [""]},
    {"answer": "1", "equations": ["x = 1"], "variables": ["__import__"]},
    {"answer": "1", "equations": ["x = 1"], "variables": ["x", "x"]},
    {"answer": "1", "equations": ["x = 1"], "variables": ["y"]},
    {"answer": "1", "equations": ["x^2 = 4"], "variables": ["e"]},
    {"answer": "1", "equations": ["x = 1"], "real": "no"},
    {"answer": "1", "equations": ["x = 1"], "all_solutions": 0},
])
def test_bad_problem_files_are_problem_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(ProblemError) as info:
        ANSWERS.parse_problem(raw)
    assert "\n" not in str(info.value)


def test_bad_reference_error_keeps_its_column() -> None:
    with pytest.raises(ProblemError, match=r"column 3"):
        ANSWERS.parse_problem({"answer": "x = "})


def test_nonlinear_system_does_not_crash() -> None:
    # sympy raises NonlinearError (a ValueError); the handler named a class that does not exist.
    system = EQUATIONS.parse_problem("x + y = 3; x^2 = 4")
    assert check(system, "(2, 1), (-2, 5)").status is Status.UNKNOWN
    assert check(system, "(2, 2)").status is Status.REJECT
