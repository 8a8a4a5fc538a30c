"""The math verifier's known-equal / known-different catalogue, in-process and isolated."""

from __future__ import annotations

import re
from typing import Any

import pytest

from llm_modulo.domains.equation import EquationDomain
from llm_modulo.domains.math_answer import MathAnswerDomain
from llm_modulo.pool import WorkerPool
from llm_modulo.types import Candidate, Problem, Status
from llm_modulo.verifiers.math.parse import read_math
from llm_modulo.verifiers.math.text import MathSyntaxError, TooComplex, Unreadable
from llm_modulo.verifiers.math.verifier import MathVerifier
from tests.math_catalogue import PAIRS, SOLVE, TABLE_PAIRS

VERIFIER = MathVerifier()


def problem(reference: str, **extra: Any) -> Problem:
    return Problem(domain="math_answer", payload={"answer": reference, **extra})


def candidate(text: str) -> Candidate:
    """A row's candidate read as a reply is: the domain extracts its answer once (a JSON field
    or the final answer of free text), the verifier reads that without extracting again."""
    return MathAnswerDomain().parse_candidate(problem("0"), text)


def test_catalogue_is_large_and_balanced() -> None:
    assert len(PAIRS) >= 150
    accepts = sum(1 for *_, expected, _ in PAIRS if expected == "accept")
    rejects = sum(1 for *_, expected, _ in PAIRS if expected == "reject")
    assert accepts >= 60 and rejects >= 60


@pytest.mark.parametrize(("cand", "ref", "expected", "extra"), PAIRS,
                         ids=[f"{i}:{c[:20]}~{r[:20]}" for i, (c, r, _, _) in enumerate(PAIRS)])
def test_catalogue_pair(cand: str, ref: str, expected: str, extra: dict[str, Any]) -> None:
    result = VERIFIER.check(problem(ref, **extra), candidate(cand))
    assert result.status.value == expected, [c.message for c in result.critiques]
    if expected == "reject":
        assert result.critiques and all(c.message for c in result.critiques)


@pytest.mark.parametrize(("cand", "equations", "expected"), SOLVE,
                         ids=[f"solve{i}:{c[:24]}" for i, (c, _, _) in enumerate(SOLVE)])
def test_solve_catalogue(cand: str, equations: list[str], expected: str) -> None:
    prob = EquationDomain().parse_problem({"equations": equations})
    result = VERIFIER.check(prob, candidate(cand))
    assert result.status.value == expected, [c.message for c in result.critiques]


def test_catalogue_through_the_worker_pool(pool: WorkerPool) -> None:
    for cand, ref, expected, extra in PAIRS[::7]:
        verdict = VERIFIER.verify(problem(ref, **extra), candidate(cand), pool=pool)
        assert verdict.status.value == expected, (cand, ref, verdict.critiques)


def test_equality_is_symmetric_on_the_catalogue() -> None:
    # Swapping candidate and reference never turns a reject into an accept or back,
    # except for the one-sided conveniences (a named value `x = 3`, a bare number for a %) and
    # digit groups (`12,345`), which a reference writes as one number and a candidate may not;
    # an unreadable reference (`²√`) is UNKNOWN where the same candidate is REJECTed; a
    # candidate's variables must be the reference's (`\\cos^2 x` for `1`), not the reverse.
    one_sided = ("=", "%", "\\text", "(B)", "\\{3\\}", "\\pm", "\\cos^2 x")
    for cand, ref, expected, extra in TABLE_PAIRS:
        grouped = re.search(r"\d(?:,|\{,\})\d", cand + ref)
        if extra or any(s in cand + ref for s in one_sided) or grouped:
            continue
        try:
            read_math(cand)
        except (MathSyntaxError, TooComplex, Unreadable):
            continue
        swapped = VERIFIER.check(problem(cand), candidate(ref))
        assert swapped.status.value == expected, (cand, ref)


def test_exact_by_default_tolerance_only_when_declared() -> None:
    third = "\\frac{1}{3}"
    assert VERIFIER.check(problem(third), candidate("0.333333")).status is Status.REJECT
    assert VERIFIER.check(problem(third, tolerance=1e-5),
                          candidate("0.333333")).status is Status.ACCEPT
    assert VERIFIER.check(problem("\\frac{1}{2}"), candidate("0.5")).status is Status.ACCEPT
