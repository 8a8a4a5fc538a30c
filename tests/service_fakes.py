"""A domain and verifier for service tests whose checks sleep or report their pid on demand
(importable by worker processes). The completion says what the check does:
``accept``, ``reject``, ``sleep <seconds>`` (then accept), ``pid <path>`` (write the worker's
pid to path, then sleep 60 s and accept)."""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from pydantic import BaseModel

from llm_modulo import CheckResult, Critique, Domain, Problem, Verifier
from llm_modulo.registry import Registry
from llm_modulo.types import Candidate


class _Said(BaseModel):
    text: str


class ScriptedCheck(Verifier):
    name = "svc_script"
    timeout_s = 30.0
    critique_kinds: ClassVar[dict[str, str]] = {"told": "the completion said reject"}

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        said = candidate.raw.strip()
        if said.startswith("sleep "):
            time.sleep(float(said.split()[1]))
        elif said.startswith("pid "):
            with open(said.split(maxsplit=1)[1], "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(60)
        if said == "reject":
            return CheckResult.reject(Critique(kind="told", message="told to reject"))
        return CheckResult.accept()


class ScriptedDomain(Domain):
    name = "svc_script"
    verifier = "svc_script"
    answer_model = _Said

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        return Problem(domain=self.name, payload={"raw": raw})

    def render_prompt(self, problem: Problem) -> str:
        return "say something"

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        return Candidate(raw=completion, answer={"text": completion})


def registry_with_fakes() -> Registry:
    """The built-in game24 domain and verifier plus the scripted ones."""
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    registry = Registry()
    registry.verifiers._loaded = registry.domains._loaded = True  # no entry points
    registry.register_domain(Game24Domain)
    registry.register_verifier(Game24Verifier)
    registry.register_domain(ScriptedDomain)
    registry.register_verifier(ScriptedCheck)
    return registry
