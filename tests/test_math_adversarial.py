"""Hostile answers: each ends in REJECT or UNKNOWN within the deadline, nothing runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from llm_modulo.pool import WorkerPool
from llm_modulo.types import Candidate, Problem, Status
from llm_modulo.verifiers.math.parse import parse_math
from llm_modulo.verifiers.math.text import MathSyntaxError, TooComplex
from llm_modulo.verifiers.math.verifier import MathVerifier

VERIFIER = MathVerifier()
PROBLEM = Problem(domain="math_answer", payload={"answer": "1"})
MARKER = "/tmp/llm_modulo_math_pwned"

HOSTILE = [
    "(" * 5000 + "1" + ")" * 5000,
    "{" * 300 + "1" + "}" * 300,
    "\\frac{" * 200 + "1" + "}{2}" * 200,
    "-" * 3000 + "1",
    "\\sqrt{" * 150 + "2" + "}" * 150,
    "10^10^10",
    "10^{10^{10}}",
    "9^{9^{9^{9}}}",
    "2^{100000}",
    "(10^{1000})!",
    "1000000!",
    "x^{100000}",
    "(x+1)^{5000}",
    "1e999999999",
    "9" * 5000,
    "1+" * 500_000 + "1",
    "1" * 1_000_000,
    f"__import__('os').system('touch {MARKER}')",
    f"__import__(\"os\").system(\"touch {MARKER}\")",
    "lambda: __import__('os')",
    "(lambda x: x)(1)",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "exec('1')",
    "eval('1+1')",
    "Integer(1)",
    "open('/etc/passwd').read()",
    "1;import os",
    "1 if True else 0",
    "\\input{/etc/passwd}",
    "\\def\\x{1}\\x",
    "а",  # Cyrillic a
    "１",  # fullwidth digit one, folded by NFKC into 1: a plain accept is fine too
    "\u200b1",
    "1\x00",
    "\\frac{1}{",
    "\\frac{1}{0}",
    "0^{-1}",
    "\\log_1 5",
    "\\sqrt[0]{2}",
    "",
    "\\boxed{}",
    "x!" + "!" * 240,
    "\\sin(" * 55 + "x" + ")" * 55,
    "+".join(["\\sqrt{2}"] * 240),
]

#: ~35-character inputs that ran to the 10 s deadline (issue 11, item 6): every one is now
#: decided or refused by the verifier itself, never by the deadline.
SHORT_SLOW = [
    "2^{2^{-1000}}", "2^{3^{-50}}", "9^{9^{-9}}", "1000!^{1/1000}", "e^{e^{e^{e}}}",
    "\\sin(10^{10000})", "\\sin(10^{200})", "e^{i 10^{100}}", "2^{100!}", "(7!)!",
    "\\sqrt{2+\\sqrt{2+\\sqrt{2+\\sqrt{2+\\sqrt{2+\\sqrt{2}}}}}}",
    "(\\sqrt{2}+\\sqrt{3}+\\sqrt{5}+\\sqrt{7})^{8}", "(1+\\sqrt{2})^{10000}",
    "\\pi^{\\pi^{\\pi}}", "i^{i^{i^{i}}}", "x^{x^{x^{x}}}", "\\binom{10000}{5000}^{1/2}",
    "10^{200}(\\sqrt{3+2\\sqrt{2}}-1-\\sqrt{2})", "\\lfloor e^{100} \\rfloor",
    "\\frac{1}{\\sin(10^{100}\\pi)}", "\\tan(10^{100})", "(-1)^{1/199}",
]
HOSTILE += SHORT_SLOW


@pytest.mark.parametrize("text", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_hostile_answers_end_in_reject_or_unknown(pool: WorkerPool, text: str) -> None:
    verdict = VERIFIER.verify(PROBLEM, Candidate(raw=text[:100], answer={"answer": text}),
                              pool=pool)
    if text == "１":
        assert verdict.status is Status.ACCEPT  # NFKC folds it to the digit 1
    else:
        assert verdict.status in (Status.REJECT, Status.UNKNOWN), verdict
    assert verdict.elapsed_s < VERIFIER.timeout_s + 5
    assert not Path(MARKER).exists()


@pytest.mark.parametrize("text", SHORT_SLOW, ids=[f"s{i}" for i in range(len(SHORT_SLOW))])
def test_short_adversarial_inputs_are_decided_not_timed_out(pool: WorkerPool, text: str) -> None:
    # Behaviour, not speed (benchmarks/math_check.py times them): the verdict comes from the
    # verifier (decided, or UNKNOWN too_complex), not from the pool's deadline.
    verdict = VERIFIER.verify(PROBLEM, Candidate(raw=text, answer={"answer": text}), pool=pool)
    assert verdict.status in (Status.REJECT, Status.UNKNOWN), verdict
    assert all(c.kind != "timeout" for c in verdict.critiques), verdict


def test_pool_survives_hostile_input(pool: WorkerPool) -> None:
    for text in HOSTILE[:12]:
        VERIFIER.verify(PROBLEM, Candidate(raw="", answer={"answer": text}), pool=pool)
    ok = VERIFIER.verify(PROBLEM, Candidate(raw="1", answer={"answer": "1"}), pool=pool)
    assert ok.status is Status.ACCEPT


@pytest.mark.parametrize("text", ["10^10^10", "2^{100000}", "1000000!", "9" * 5000,
                                  "1" * 1_000_000, "(" * 100 + "1" + ")" * 100])
def test_size_caps_raise_too_complex_fast(text: str) -> None:
    with pytest.raises(TooComplex):
        parse_math(text)


@pytest.mark.parametrize("text", ["__import__('os')", "lambda x: x", "a.b", "f'{1}'", "а"])
def test_code_is_a_syntax_error_not_a_value(text: str) -> None:
    with pytest.raises(MathSyntaxError):
        parse_math(text)


def test_syntax_errors_name_the_column() -> None:
    with pytest.raises(MathSyntaxError) as info:
        parse_math("\\frac{1}{")
    assert info.value.column is not None
    assert "could not parse `\\frac{1}{`" in str(info.value)
    result = VERIFIER.check(PROBLEM, Candidate(raw="1+*2", answer={"answer": "1+*2"}))
    assert result.status is Status.REJECT
    assert result.critiques[0].kind == "unparseable"
    assert result.critiques[0].location == "column 3"


def test_oversized_answers_are_unknown_not_reject() -> None:
    # An answer too big to decide might still be right: UNKNOWN, never a negative example.
    result = VERIFIER.check(PROBLEM, Candidate(raw="", answer={"answer": "10^10^10"}))
    assert result.status is Status.UNKNOWN
    assert result.critiques[0].kind == "too_complex"


def test_no_code_path_executes_text() -> None:
    """No call to sympify/parse_expr/eval/exec/S()/parse_latex anywhere in any verifier or
    domain (the math family included)."""
    banned = {"sympify", "parse_expr", "eval", "exec", "S", "parse_latex", "__import__"}
    root = Path(__file__).resolve().parents[1]
    files = sorted([*(root / "verifiers").rglob("*.py"), *(root / "domains").rglob("*.py")])
    assert any(f.name == "parse.py" and f.parent.name == "math" for f in files)
    for path in files:
        name = str(path.relative_to(root))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert called not in banned, (name, called, node.lineno)
                assert not (isinstance(func, ast.Name) and func.id == "compile"), name
            if isinstance(node, ast.ImportFrom):
                assert not {a.name for a in node.names} & banned, (name, node.lineno)


def test_a_check_past_its_deadline_is_unknown_and_the_pool_recovers(pool: WorkerPool) -> None:
    hard = Problem(domain="math_answer", payload={"answer": "\\sqrt{5+2\\sqrt{6}}"})
    cand = Candidate(raw="", answer={"answer": "\\sqrt{2}+\\sqrt{3}+\\sqrt{7}-\\sqrt{7}"})
    verdict = VERIFIER.verify(hard, cand, pool=pool, timeout_s=0.001)
    assert verdict.status is Status.UNKNOWN
    assert verdict.critiques[0].kind == "timeout"
    again = VERIFIER.verify(hard, cand, pool=pool)
    assert again.status is Status.ACCEPT


def test_a_long_digit_run_in_a_reference_is_read_in_linear_time() -> None:
    """Issue 13: the degree-token pattern backtracked cubically on a digit run (2,000 digits
    took 30 s in the main process while loading the problem). Now a 20,000-digit reference
    loads at once (and every check against it is UNKNOWN: over the digit cap)."""
    import time

    from llm_modulo.domains.math_answer import MathAnswerDomain

    start = time.monotonic()
    problem = MathAnswerDomain().parse_problem({"question": "q", "answer": "1" * 20_000})
    assert time.monotonic() - start < 10  # cubic would be hours; linear is milliseconds
    result = VERIFIER.check(problem, Candidate(raw="5", answer={"answer": "5"}))
    assert result.status is Status.UNKNOWN
