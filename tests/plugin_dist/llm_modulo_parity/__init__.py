"""A complete llm-modulo plugin in one file: is the number even?"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from llm_modulo import CheckResult, Critique, Domain, Problem, ProblemError, Verifier


class ParityAnswer(BaseModel):
    even: bool


class ParityVerifier(Verifier):
    name = "parity"
    version = "0.0.1"
    timeout_s = 5.0

    def check(self, problem: Problem, candidate: Any) -> CheckResult:
        if candidate.answer is None:
            return CheckResult.reject(Critique(kind="unparseable",
                                               message=candidate.parse_error or "no answer"))
        truth = problem.payload["n"] % 2 == 0
        if candidate.answer["even"] == truth:
            return CheckResult.accept()
        return CheckResult.reject(Critique(kind="wrong", message="the parity is wrong"))


class ParityDomain(Domain):
    name = "parity"
    version = "0.0.1"
    verifier = "parity"
    answer_model = ParityAnswer

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        value = raw.get("n") if isinstance(raw, dict) else raw
        try:
            n = int(str(value))
        except ValueError:
            raise ProblemError(f"parity problem must be an integer, got {value!r}") from None
        return Problem(domain=self.name, payload={"n": n})

    def render_prompt(self, problem: Problem) -> str:
        return f"Is {problem.payload['n']} even? " + self.answer_instruction(problem)
