"""The math_answer and equation domains: problems, extraction, back-prompts, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import sympy

from llm_modulo.domains.equation import EquationDomain
from llm_modulo.domains.math_answer import MathAnswerDomain
from llm_modulo.errors import ProblemError
from llm_modulo.registry import default_registry
from llm_modulo.types import Attempt, Candidate, FeedbackLevel, Problem, Status
from llm_modulo.verifiers.math.verifier import MathVerifier

MATH = MathAnswerDomain()
EQUATION = EquationDomain()
VERIFIER = MathVerifier()


def check(problem: Problem, text: str) -> Any:
    return VERIFIER.check(problem, Candidate(raw=text, answer={"answer": text}))


# -- math_answer problems -------------------------------------------------------------------

def test_gsm8k_answer_after_hashes() -> None:
    p = MATH.parse_problem({"question": "Apples?", "answer": "She has 3+4=<<3+4=7>>7.\n#### 7"})
    assert p.payload["answer"] == "7"
    assert check(p, "7").status is Status.ACCEPT


def test_math_solution_with_boxed_answer() -> None:
    p = MATH.parse_problem({"problem": "Simplify.", "solution": "So it is $\\boxed{\\frac{1}{2}}$.",
                            "unique_id": "algebra/1.json"})
    assert p.payload["answer"] == "\\frac{1}{2}" and p.id == "algebra/1.json"
    assert check(p, "0.5").status is Status.ACCEPT


@pytest.mark.parametrize("raw", [
    "just text", {"question": "no answer"}, {"question": "q", "answer": "\\frac{1}{"},
    {"question": "q", "answer": "1", "tolerance": -1}, {"question": "q", "answer": "1",
                                                       "tolerance": True},
    {"question": "q", "equations": ["x^2 +"]}, {"question": "q", "equations": "x > 1"},
])
def test_bad_problems_raise_one_line_errors(raw: Any) -> None:
    with pytest.raises(ProblemError) as info:
        MATH.parse_problem(raw)
    assert "\n" not in str(info.value)


def test_gsm8k_and_math_jsonl_load_through_the_run_loader(tmp_path: Any) -> None:
    from llm_modulo.batch import read_problems

    rows = [{"question": "One plus one?", "answer": "1+1=<<1+1=2>>2\n#### 2", "idx": 1},
            {"problem": "Half?", "solution": "So $\\boxed{0.5}$.", "level": "Level 1"},
            {"question": "Solve", "answer": "1,234"}]
    path = tmp_path / "math.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    problems = read_problems(path, MATH)
    assert [p.payload["answer"] for p in problems] == ["2", "0.5", "1,234"]
    assert problems[0].id == "1"
    assert check(problems[2], "1234").status is Status.ACCEPT
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "\\frac{1}{"}) + "\n")
    with pytest.raises(ProblemError, match=r"bad.jsonl:1: the reference answer"):
        read_problems(bad, MATH)


@pytest.mark.parametrize(("completion", "answer"), [
    ('{"answer": "\\\\frac{1}{2}"}', "\\frac{1}{2}"),
    ("Reasoning...\nSo the result is $\\boxed{12}$.", "12"),
    ("Work.\n#### 1,000", "1,000"),
    ("Some work\nThe answer is 42.", "42"),
    ("0.5", "0.5"),
    ('{"answer": 0.5}', "0.5"),
    ('{"answer": 12}', "12"),
])
def test_candidate_extraction(completion: str, answer: str) -> None:
    p = MATH.parse_problem({"question": "q", "answer": "1"})
    assert MATH.parse_candidate(p, completion).answer == {"answer": answer}


def test_megabyte_completion_is_refused_without_parsing() -> None:
    p = MATH.parse_problem({"question": "q", "answer": "1"})
    cand = MATH.parse_candidate(p, "1" * 1_000_000)
    assert cand.answer is None and cand.parse_error


# -- back-prompts never carry the reference ------------------------------------------------

LEAK_CASES = [
    ("\\frac{17}{39}", "0.4358"), ("\\frac{17}{39}", "\\frac{17}{40}"),
    ("\\{17, 39, 53\\}", "\\{17, 39\\}"), ("\\{17, 39, 53\\}", "\\{17, 39, 54\\}"),
    ("(17, 39)", "(39, 17)"), ("[17, 39)", "[17, 39]"), ("[17, 39)", "[18, 39)"),
    ("\\begin{pmatrix} 17 & 39 \\end{pmatrix}", "\\begin{pmatrix} 17 & 38 \\end{pmatrix}"),
    ("y = 17x + 39", "y = 17x + 38"), ("x > 17.39", "x < 17.39"),
    ("\\sqrt{173}", "13.15"), ("\\text{Wednesday}", "\\text{Tuesday}"),
    ("173\\%", "0.173"), ("\\frac{\\pi}{173}", "0.018"),
]


def _feedback(problem: Problem, text: str, level: FeedbackLevel) -> tuple[Status, str]:
    verdict = VERIFIER.verify(problem, Candidate(raw=text, answer={"answer": text}))
    attempt = Attempt(round=1, sample=0, prompt=[], completion=text,
                      candidate=Candidate(raw=text, answer={"answer": text}), verdict=verdict)
    return verdict.status, MATH.render_feedback(problem, attempt, level)


@pytest.mark.parametrize(("reference", "wrong"), LEAK_CASES)
def test_back_prompts_never_print_the_reference(reference: str, wrong: str) -> None:
    problem = MATH.parse_problem({"question": "q", "answer": reference})
    status, text = _feedback(problem, wrong, FeedbackLevel.ALL)
    assert status is Status.REJECT
    ref_value = check(problem, reference)  # sanity: the reference accepts itself
    assert ref_value.status is Status.ACCEPT
    forbidden = {reference, "53", "Wednesday", "wednesday", "1.73", "sqrt(173)", "17/39",
                 "pi/173"} - set(wrong.split())
    for piece in forbidden:
        if piece not in wrong:
            assert piece not in text, (piece, text)


# -- equation domain --------------------------------------------------------------------------

def test_generator_is_deterministic_and_every_problem_is_solvable() -> None:
    first = EQUATION.generate_problems(25, seed=7)
    assert [p.hash for p in first] == [p.hash for p in EQUATION.generate_problems(25, seed=7)]
    assert [p.hash for p in first] != [p.hash for p in EQUATION.generate_problems(25, seed=8)]
    for problem in first:
        eqs = [e.replace("^", "**").split("=") for e in problem.payload["equations"]]
        names = sorted({c for e in problem.payload["equations"] for c in e if c in "xyz"})
        syms = sympy.symbols(names)
        exprs = [sympy.parse_expr(lhs, transformations="all") - sympy.parse_expr(rhs)
                 for lhs, rhs in eqs]  # trusted test-side text, never a candidate
        if len(syms) == 1:
            roots = sorted(set(sympy.solve(exprs[0], syms[0])), key=str)
            answer = ", ".join(f"x = {sympy.latex(r)}" for r in roots if r.is_real)
        else:
            sol = sympy.solve(exprs, syms, dict=True)[0]
            answer = ", ".join(f"{s} = {sol[s]}" for s in syms)
        verdict = check(problem, answer)
        assert verdict.status is Status.ACCEPT, (problem.payload, answer, verdict.critiques)


def test_substitution_critique_names_both_sides() -> None:
    p = EQUATION.parse_problem("x^2 - 5x + 6 = 0")
    result = check(p, "x = 4")
    assert result.status is Status.REJECT
    assert result.critiques[0].message == ("substituting x = 4 gives 2 on the left and 0 on "
                                           "the right")


def test_missing_solutions_are_rejected_and_sets_accepted() -> None:
    p = EQUATION.parse_problem("x^2 - 5x + 6 = 0")
    assert check(p, "x = 2").critiques[0].kind == "missing"
    for answer in ("x = 2, x = 3", "\\{3, 2\\}", "2, 3", "x=2 or x=3", "3, 2, 2"):
        assert check(p, answer).status is Status.ACCEPT, answer


def test_irrational_roots_verified_exactly() -> None:
    p = EQUATION.parse_problem("x^2 - 2x - 1 = 0")
    assert check(p, "x = 1 \\pm \\sqrt{2}").status is Status.ACCEPT
    assert check(p, "x = 2.414, x = -0.414").status is Status.REJECT


def test_real_domain_and_empty_solution_sets() -> None:
    p = EQUATION.parse_problem("x^2 + 1 = 0")
    assert check(p, "\\emptyset").status is Status.ACCEPT
    assert check(p, "x = i").critiques[0].kind == "not_real"
    c = EQUATION.parse_problem({"equations": ["x^2 + 1 = 0"], "real": False})
    assert check(c, "x = i, x = -i").status is Status.ACCEPT
    assert check(c, "x = i").status is Status.REJECT


def test_linear_system_by_substitution() -> None:
    p = EQUATION.parse_problem("x + y = 3; x - y = 1")
    assert check(p, "x = 2, y = 1").status is Status.ACCEPT
    assert check(p, "(2, 1)").status is Status.ACCEPT
    bad = check(p, "x = 1, y = 2")
    assert bad.status is Status.REJECT
    assert "in equation 2" in bad.critiques[0].message
    assert check(p, "x = 2").critiques[0].kind == "form"


def test_underdetermined_or_nonpolynomial_completeness_is_unknown() -> None:
    p = EQUATION.parse_problem("x + y = 3")
    assert check(p, "(1, 2)").status is Status.UNKNOWN
    q = EQUATION.parse_problem({"equations": ["x + y = 3"], "all_solutions": False})
    assert check(q, "(1, 2)").status is Status.ACCEPT
    s = EQUATION.parse_problem("\\sin(x) = 0")
    assert check(s, "x = 0").status is Status.UNKNOWN
    assert check(s, "x = 1").status is Status.REJECT


def test_solve_problem_in_math_answer_without_reference() -> None:
    p = MATH.parse_problem({"question": "Solve x^3 = 8 over the reals.",
                            "equations": ["x^3 = 8"]})
    assert check(p, "2").status is Status.ACCEPT
    assert check(p, "3").status is Status.REJECT


def test_registered_domains_point_at_the_math_verifier() -> None:
    for name in ("math_answer", "equation"):
        dom, ver = default_registry.domain_and_verifier(name)
        assert ver.name == "math" and dom.name == name


# -- the CLI done-when ------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_cli_half_is_accepted_and_a_rounded_third_rejected() -> None:
    half = cli("check", "--domain", "math_answer", "--problem",
               '{"question": "Half of one?", "answer": "\\\\frac{1}{2}"}', "--candidate", "0.5",
               "--json")
    assert half.returncode == 0, half.stderr
    assert json.loads(half.stdout)["status"] == "accept"
    third = cli("check", "--domain", "math_answer", "--problem",
                '{"question": "A third?", "answer": "\\\\frac{1}{3}"}', "--candidate",
                "0.333333", "--json")
    assert third.returncode == 1
    verdict = json.loads(third.stdout)
    assert verdict["status"] == "reject"
    critiques = json.dumps(verdict["critiques"])
    assert "1/3" not in critiques and "frac{1}{3}" not in critiques and "0.3333333" not in critiques


def test_cli_bad_reference_is_one_line() -> None:
    r = cli("check", "--domain", "math_answer", "--problem", '{"answer": "\\\\frac{1}{"}',
            "--candidate", "1")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("completion", [
    "The answer is 1" + " " * 60_000 + "x",
    "####" + " " * 60_000 + "x",
    "\\boxed{" * 20_000,
    ("answer: " * 10_000),
])
def test_extraction_is_fast_on_hostile_completions(completion: str) -> None:
    import time

    p = MATH.parse_problem({"question": "q", "answer": "1"})
    start = time.monotonic()
    MATH.parse_candidate(p, completion)
    assert time.monotonic() - start < 2.0


# -- the loop, end to end against a scripted server ------------------------------------------

def test_loop_back_prompts_without_the_reference_then_accepts(scripted: Any, pool: Any) -> None:
    import asyncio

    from llm_modulo import Budget, LoopConfig, OpenAICompatClient, RetryPolicy, Solver
    from llm_modulo.testing import Reply

    problem = MATH.parse_problem({"question": "What is 17 divided by 39?",
                                  "answer": "\\frac{17}{39}"})
    scripted.script(Reply(['{"answer": "0.4359"}']),
                    Reply(["17/39 is it.\n\\boxed{\\dfrac{17}{39}}"]))

    async def go() -> Any:
        async with OpenAICompatClient(scripted.base_url, model="m",
                                      retry=RetryPolicy(max_retries=0)) as client:
            solver = Solver(MATH, VERIFIER, client,
                            LoopConfig(budget=Budget(rounds=3, samples=1),
                                       feedback=FeedbackLevel.ALL), pool=pool)
            return await solver.solve(problem)

    result = asyncio.run(go())
    assert result.solved and result.solution.round == 2
    back_prompt = scripted.completion_requests()[1]["messages"][-1]["content"]
    assert "0.4359 is not the correct value" in back_prompt
    assert "17/39" not in back_prompt and "frac{17}{39}" not in back_prompt
