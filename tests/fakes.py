"""Verifiers that misbehave on purpose (importable by worker processes)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from pydantic import BaseModel

from llm_modulo import CheckResult, Critique, Domain, Problem, Status, Verifier
from llm_modulo.types import Candidate


class SleepsForever(Verifier):
    name = "sleeps"
    timeout_s = 1.0

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        while True:
            time.sleep(1)


class BusyLoop(Verifier):
    name = "busy"
    timeout_s = 1.0

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        x = 0
        while True:
            x += 1


class EatsMemory(Verifier):
    name = "eats"
    timeout_s = 10.0
    memory_mb = 512

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        blocks = []
        while True:
            blocks.append(bytearray(64 * 1024 * 1024))


class KillsItself(Verifier):
    name = "kills"
    timeout_s = 5.0

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class Raises(Verifier):
    name = "raises"

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        raise ValueError("boom in the checker")


class ReturnsGarbage(Verifier):
    name = "garbage"

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        return "accept"  # type: ignore[return-value]


class Exits(Verifier):
    name = "exits"

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        raise SystemExit(0)


class EchoStatus(Verifier):
    """Decides by the candidate's ``status`` field: for loop tests."""

    name = "echo"

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        status = (candidate.answer or {}).get("status", "reject")
        if status == "accept":
            return CheckResult.accept()
        if status == "unknown":
            return CheckResult.unknown("cannot tell")
        return CheckResult.reject(Critique(kind="wrong", message="wrong answer", location="x"))


class UnsoundAccepts(Verifier):
    name = "unsound"
    sound = False

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        return CheckResult(Status.ACCEPT)


class EchoAnswer(BaseModel):
    status: str


class EchoDomain(Domain):
    """Answers are ``{"status": "accept" | "reject" | "unknown"}``, decided by EchoStatus."""

    name = "echo"
    verifier = "echo"
    answer_model = EchoAnswer

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        return Problem(domain=self.name, payload={"q": str(raw)})

    def render_prompt(self, problem: Problem) -> str:
        return f"question {problem.payload['q']}"
