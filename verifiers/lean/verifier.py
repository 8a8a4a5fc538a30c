"""Sound Lean 4 proof checker: the problem states a theorem, the candidate gives its proof.

ACCEPT only when Lean elaborates the verifier-written theorem (the problem's
statement, so exactly the stated type) with the candidate's proof with no error,
no ``sorry``, and no axiom beyond ``propext``, ``Classical.choice`` and
``Quot.sound``. REJECT carries Lean's own messages, positioned in the candidate's
text. UNKNOWN on a timeout, an exhausted heartbeat budget or a broken toolchain.

One Lean process checks a whole batch (:meth:`LeanVerifier.check_many`): the
embedded WebAssembly Lean needs about 3-4 minutes to start, so the loop hands it
all samples of a round at once. See docs/lean-verifier.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from llm_modulo.errors import ProblemError
from llm_modulo.jsonanswer import missing_answer_critique
from llm_modulo.types import Candidate, Problem
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.lean.backend import LeanBackend
from llm_modulo.verifiers.lean.batch import BatchConfig, LeanBatch, LeanTask, validate_imports


class LeanVerifier(Verifier):
    name = "lean"
    version = "1.0"
    sound = True
    batched = True
    #: One candidate alone still pays Lean's start-up (3-4 minutes for the WASM build).
    timeout_s = 1500.0
    #: Node/WASM reserves a huge virtual address space; Lean itself is bounded by
    #: its heartbeat budget and the process deadline.
    memory_mb = None
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "lean_error": "Lean reports an error in the proof (with its location)",
        "unsolved_goals": "the proof leaves goals unsolved",
        "sorry": "the proof uses sorry (it is incomplete)",
        "axiom": "the proof depends on axioms beyond propext, Classical.choice, Quot.sound",
        "forbidden": "the proof uses a command or construct the gate refuses",
        "toolchain": "Lean itself failed or misbehaved (UNKNOWN)",
        "bad_problem": "the theorem statement cannot be used (UNKNOWN)",
    }

    def __init__(self, backend: LeanBackend | None = None,
                 config: BatchConfig | None = None) -> None:
        self.backend = backend
        self.config = config or BatchConfig()

    def batch_timeout_s(self, size: int) -> float:
        # the batch's own deadline plus room for retries after a hang
        return (self.config.startup_s + self.config.per_candidate_s * size) * 2 + 60.0

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        return self.check_many([(problem, candidate)])[0]

    def check_many(self, pairs: Sequence[tuple[Problem, Candidate]]) -> list[CheckResult]:
        results: list[CheckResult | None] = [None] * len(pairs)
        tasks: list[tuple[int, LeanTask]] = []
        for i, (problem, candidate) in enumerate(pairs):
            proof = (candidate.answer or {}).get("proof")
            if not isinstance(proof, str):
                results[i] = CheckResult.reject(missing_answer_critique(
                    candidate.parse_error, "no proof given"))
                continue
            statement = problem.payload.get("statement")
            if not isinstance(statement, str):
                results[i] = CheckResult.unknown("the problem has no statement",
                                                 kind="bad_problem")
                continue
            try:
                imports = validate_imports(problem.payload.get("imports"))
            except ProblemError as exc:
                results[i] = CheckResult.unknown(str(exc), kind="bad_problem")
                continue
            tasks.append((i, LeanTask(statement=statement, proof=proof, imports=imports)))
        if tasks:
            decided = LeanBatch(self.backend, self.config).check([t for _, t in tasks])
            for (i, _), result in zip(tasks, decided, strict=True):
                results[i] = result
        return [r if r is not None else CheckResult.unknown("not decided") for r in results]
