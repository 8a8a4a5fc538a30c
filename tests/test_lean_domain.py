"""The lean domain, the batched verifier API and the CLI paths that need no Lean."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from llm_modulo import CheckResult, Critique, Problem, Status, Verifier
from llm_modulo.domains.lean import LeanDomain
from llm_modulo.pool import WorkerPool
from llm_modulo.registry import default_registry
from llm_modulo.testing import ScriptedServer
from llm_modulo.types import Candidate
from llm_modulo.verifiers.lean.batch import Statement
from llm_modulo.verifiers.lean.verifier import LeanVerifier
from tests.lean_catalogue import COMM, TAMPER
from tests.test_loop import config, solve

DOMAIN = LeanDomain()


def test_registered() -> None:
    dom, ver = default_registry.domain_and_verifier("lean")
    assert isinstance(dom, LeanDomain) and isinstance(ver, LeanVerifier)
    assert ver.batched and ver.memory_mb is None


def test_parse_problem_forms() -> None:
    a = DOMAIN.parse_problem({"statement": COMM, "id": 7})
    b = DOMAIN.load_problem(json.dumps({"statement": COMM}))
    c = DOMAIN.load_problem(COMM)
    assert a.payload == b.payload == c.payload == {"statement": COMM}
    assert a.id == "7"


@pytest.mark.parametrize("raw", [{}, {"statement": 3}, {"statement": COMM, "extra": 1},
                                 {"statement": COMM, "imports": ["Mathlib"]},
                                 {"statement": COMM, "imports": ["Std; #eval 1"]},
                                 {"statement": COMM, "imports": "Std"},
                                 {"statement": "theorem t : 1 = 1 := rfl"},
                                 {"statement": "theorem t : True\n#eval 1"}])
def test_bad_problems(raw: dict[str, object]) -> None:
    from llm_modulo.errors import ProblemError

    with pytest.raises(ProblemError):
        DOMAIN.parse_problem(raw)


def test_imports_from_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    p = DOMAIN.parse_problem({"statement": COMM, "imports": ["Std.Data.HashMap"]})
    assert p.payload["imports"] == ["Std.Data.HashMap"]
    assert "imports" not in DOMAIN.parse_problem({"statement": COMM, "imports": []}).payload
    monkeypatch.setenv("LLM_MODULO_LEAN_IMPORTS", "Mathlib")
    assert DOMAIN.parse_problem({"statement": COMM, "imports": ["Mathlib"]}).payload[
        "imports"] == ["Mathlib"]


def test_generator_is_seeded_and_its_statements_parse() -> None:
    first = DOMAIN.generate_problems(30, seed=3)
    assert first == DOMAIN.generate_problems(30, seed=3)
    assert first != DOMAIN.generate_problems(30, seed=4)
    assert len({p.hash for p in first}) == 30
    for p in first:
        Statement.parse(p.payload["statement"])
        assert "sorry" not in p.payload["statement"]


def test_prompt_shows_the_statement_and_asks_for_the_proof_only() -> None:
    problem = DOMAIN.parse_problem(COMM)
    prompt = DOMAIN.render_prompt(problem)
    assert COMM in prompt and '{"proof":' in prompt
    assert "by omega" not in prompt  # no answer to this problem is shown


@pytest.mark.parametrize(("completion", "proof"), [
    ('{"proof": "by omega"}', "by omega"),
    ("by omega", "by omega"),
    ("Here it is:\n```lean\nby\n  omega\n```", "by\n  omega"),
    (f"```lean\n{COMM} := by omega\n```", "by omega"),
])
def test_parse_candidate(completion: str, proof: str) -> None:
    cand = DOMAIN.parse_candidate(DOMAIN.parse_problem(COMM), completion)
    assert cand.answer == {"proof": proof}


# -- the batched verifier API ------------------------------------------------------------


class CountingBatch(Verifier):
    """Accepts proofs equal to "ok"; records each check_many call in a file."""

    name = "counting-batch"
    batched = True
    timeout_s = 5.0

    def __init__(self, log: str) -> None:
        self.log = log

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        return self.check_many([(problem, candidate)])[0]

    def check_many(self, pairs: Sequence[tuple[Problem, Candidate]]) -> list[CheckResult]:
        with open(self.log, "a") as f:
            f.write(f"{len(pairs)}\n")
        return [CheckResult.accept() if (c.answer or {}).get("proof") == "ok"
                else CheckResult.reject(Critique(kind="wrong", message="not ok"))
                for _, c in pairs]


def test_averify_many_runs_one_batch_in_order(pool: WorkerPool, tmp_path: Path) -> None:
    log = tmp_path / "calls"
    ver = CountingBatch(str(log))
    problem = DOMAIN.parse_problem(COMM)
    cands = [Candidate(raw=p, answer={"proof": p}) for p in ("no", "ok", "no")]
    verdicts = asyncio.run(ver.averify_many([(problem, c) for c in cands], pool=pool))
    assert [v.status for v in verdicts] == [Status.REJECT, Status.ACCEPT, Status.REJECT]
    assert log.read_text() == "3\n"


def test_the_loop_verifies_a_round_as_one_batch(scripted: ScriptedServer, pool: WorkerPool,
                                                tmp_path: Path) -> None:
    log = tmp_path / "calls"
    scripted.responder = lambda body: [json.dumps({"proof": "no"})]
    result = solve(scripted, pool, config(rounds=2, samples=4), domain=DOMAIN,
                   verifier=CountingBatch(str(log)), problem=DOMAIN.parse_problem(COMM))
    assert len(result.attempts) == 8
    assert log.read_text() == "4\n4\n"


def test_unbatched_verifiers_keep_per_candidate_checks(pool: WorkerPool) -> None:
    from llm_modulo.verifiers.game24.verifier import Game24Verifier

    dom, _ = default_registry.domain_and_verifier("game24")
    problem = dom.parse_problem("4 4 6 8")
    cands = [dom.parse_candidate(problem, e) for e in ("(4+8)*(6-4)", "4*6+8-4")]
    verdicts = Game24Verifier().verify_many([(problem, c) for c in cands], pool=pool)
    assert [v.status for v in verdicts] == [Status.ACCEPT, Status.REJECT]


# -- the CLI without Lean: everything the gate decides ----------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLM_MODULO_HOME": "/nonexistent-llm-modulo-home",
           "LLM_MODULO_LEAN_BACKEND": "wasm"}
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("trick", ["axiom", "eval", "native-decide", "close-paren"])
def test_cli_rejects_tampering_without_running_lean(trick: str) -> None:
    r = cli("check", "--domain", "lean", "--problem", json.dumps({"statement": COMM}),
            "--candidate", TAMPER[trick], "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["status"] == "reject"
    assert verdict["critiques"][0]["kind"] == "forbidden"


def test_cli_without_lean_is_unknown_with_the_fix() -> None:
    r = cli("check", "--domain", "lean", "--problem", COMM, "--candidate", "by omega", "--json")
    assert r.returncode == 3, r.stdout + r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["status"] == "unknown"
    assert "llm-modulo fetch-lean" in verdict["critiques"][0]["message"]


def test_cli_bad_statement_is_one_line() -> None:
    r = cli("check", "--domain", "lean", "--problem", '{"statement": "theorem t : 1 = 1 := rfl"}',
            "--candidate", "rfl")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
