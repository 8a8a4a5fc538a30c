"""Lean checking cost: start-up, per-candidate time in a batch, memory.

Two Lean processes run, one after the other, on the default backend:

- start-up: a batch of one trivial candidate (the import of Init plus the audit preamble
  dominates it);
- batch: ``--batch`` (default 100) candidates from the seeded ``lean`` generator, each
  with a proof that should check.

Printed: both wall times, the marginal time per candidate
``(batch - startup) / (batch_size - 1)``, the peak RSS of the Lean processes, and the
batching gain: the time of checking every candidate in its own process
(``batch_size * startup``) over the batch's time, measured in the same run.

Run from the repository root with the venv: ``.venv/bin/python benchmarks/lean_check.py
[--batch 100]``. It takes about 8-10 minutes with the embedded WASM Lean.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from llm_modulo.domains.lean import LeanDomain
from llm_modulo.types import Status
from llm_modulo.verifiers.lean.backend import default_backend
from llm_modulo.verifiers.lean.batch import LeanBatch, LeanTask


def proof_for(statement: str) -> str:
    """A proof for the generator's templates (the benchmark's known-good candidates)."""
    if "xs.reverse.reverse" in statement or "List.replicate" in statement:
        return "by simp"
    if "(xs ++ ys).length" in statement:
        return "by rw [List.length_append, Nat.add_comm]"
    if statement.startswith("theorem t : ("):  # closed facts about numerals and lists
        return "by decide"
    return "by omega"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    backend = default_backend()
    batch = LeanBatch(backend)
    problems = LeanDomain().generate_problems(args.batch, seed=args.seed)
    tasks = [LeanTask(p.payload["statement"], proof_for(p.payload["statement"]))
             for p in problems]

    start = time.monotonic()
    [one] = batch.check([LeanTask("theorem t (a b : Nat) : a + b = b + a", "by omega")])
    startup_s = time.monotonic() - start
    start = time.monotonic()
    results = batch.check(tasks)
    batch_s = time.monotonic() - start

    per_candidate_s = (batch_s - startup_s) / max(1, args.batch - 1)
    counts = {s.value: sum(r.status is s for r in results) for s in Status}
    report = {
        "backend": backend.describe(),
        "startup_s": round(startup_s, 1),
        "startup_verdict": one.status.value,
        "batch_size": args.batch,
        "batch_s": round(batch_s, 1),
        "per_candidate_s": round(per_candidate_s, 2),
        "one_process_per_candidate_s": round(args.batch * startup_s, 1),
        "batching_gain": round(args.batch * startup_s / batch_s, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "verdicts": counts,
    }
    for r, t in zip(results, tasks, strict=True):
        if r.status is not Status.ACCEPT:
            report.setdefault("not_accepted", []).append(
                {"statement": t.statement, "proof": t.proof, "status": r.status.value,
                 "first": r.critiques[0].message[:200] if r.critiques else ""})
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
