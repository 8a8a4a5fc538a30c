"""The real Lean 4 (the embedded WASM build, or a native one): the whole catalogue in one batch.

Lean's start-up costs minutes here, so one session-scoped fixture checks every case
of ``LEAN_CASES`` in a single Lean process and the tests assert on its verdicts; the
CLI test pays for one more process. Without Lean these tests skip locally and fail
under ``CI``. Deselect with ``-m "not lean"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_modulo.errors import LeanUnavailable
from llm_modulo.types import Status
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.lean.backend import LeanBackend, default_backend
from llm_modulo.verifiers.lean.batch import BatchConfig, LeanBatch, LeanTask
from tests.lean_catalogue import COMM, LEAN_CASES, Case

# one Lean process takes 3-5 minutes here (more on a busy machine)
pytestmark = [pytest.mark.lean, pytest.mark.timeout(1500)]

#: Small enough that the heartbeat case runs out quickly, large enough for the rest.
HEARTBEATS = 20_000


@pytest.fixture(scope="session")
def backend() -> LeanBackend:
    try:
        return default_backend()
    except LeanUnavailable as exc:
        message = f"real-Lean tests need Lean: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def verdicts(backend: LeanBackend) -> dict[str, CheckResult]:
    batch = LeanBatch(backend, BatchConfig(heartbeats=HEARTBEATS))
    # every case reaches Lean (gate off), so block k is namespace LMC{k}
    owner = f"LMC{next(i for i, c in enumerate(LEAN_CASES) if c.id == 'declares-axiom')}"
    tasks = [LeanTask(c.statement, c.proof.replace("{cheat}", owner).replace("{self}", f"LMC{i}"))
             for i, c in enumerate(LEAN_CASES)]
    results = batch.check(tasks, gate=False)
    return {c.id: r for c, r in zip(LEAN_CASES, results, strict=True)}


@pytest.mark.parametrize("case", LEAN_CASES, ids=lambda c: c.id)
def test_catalogue_verdict(case: Case, verdicts: dict[str, CheckResult]) -> None:
    result = verdicts[case.id]
    detail = [c.message[:300] for c in result.critiques]
    assert result.status is Status(case.expected), detail
    if case.kind is not None:
        assert result.critiques[0].kind == case.kind, detail


def test_accepts_carry_the_axiom_audit(verdicts: dict[str, CheckResult]) -> None:
    allowed = {"propext", "Classical.choice", "Quot.sound"}
    assert set(verdicts["omega"].evidence["axioms"]) <= allowed
    classical = verdicts["classical"].evidence
    # a native audit sees through Classical.em to Classical.choice; the WASM build's
    # library is opaque (exported level), so its audit stops at the library theorem
    assert "Classical.choice" in classical["axioms"] or "Classical.em" in classical[
        "library_theorems"]


def test_wrong_proof_critique_is_lean_s_message_in_the_candidate_s_coordinates(
        verdicts: dict[str, CheckResult]) -> None:
    omega = verdicts["wrong-omega"].critiques[0]
    assert "omega" in omega.message and omega.location == "line 1, column 4 of the proof"
    goals = verdicts["unsolved"].critiques[0]
    assert "⊢ a + b = b + a" in goals.message  # the goal state is in the feedback
    assert "LMC" not in goals.message  # the verifier's namespaces are scrubbed


def test_cli_check_accepts_a_proof_with_the_real_lean(backend: LeanBackend,
                                                      tmp_path: Path) -> None:
    problem = json.dumps({"statement": COMM})
    proc = subprocess.run(
        [sys.executable, "-m", "llm_modulo.cli", "check", "--domain", "lean", "--problem",
         problem, "--candidate", "by omega", "--json"],
        capture_output=True, text=True, timeout=1800, check=False, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["status"] == "accept"
