"""Corpus throughput: attempts written per second, and time to export them in each format.

Write: rounds of ``--samples`` game24 attempts (prompt, completion, parsed answer, verdict
with critiques, usage), two rounds per problem (all rejected, then one accepted), recorded
(1) the loop's way: ``--in-flight`` problems at once through ``CorpusMemory.record``, each
awaiting its round's commit (rounds that end together share a transaction: group commit);
(2) serially: one problem at a time, one transaction per round (the worst case).
Reference: the same rows, already serialized, inserted by one ``executemany`` in a single
transaction (SQLite's ceiling on this machine).

Export: every format from the corpus just written (``--attempts`` rows). Reference: one scan
of the attempts joined with their problems and prompts (reading the rows, writing nothing).

Goals: >= 20,000 attempts/s written; each export of 1,000,000 attempts in < 60 s.

    .venv/bin/python benchmarks/corpus.py --attempts 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from llm_modulo.corpus import Corpus, CorpusMemory, ExportOptions, export
from llm_modulo.corpus.store import to_json
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.generator import SamplingParams
from llm_modulo.types import Attempt, Candidate, Critique, Message, Problem, Status, Usage, Verdict

DOMAIN = Game24Domain()


def round_attempts(problem: Problem, rnd: int, samples: int) -> list[Attempt]:
    nums = problem.payload["numbers"]
    messages = DOMAIN.initial_messages(problem)
    if rnd > 1:
        messages = [*messages, Message(role="assistant", content='{"expression":"1+2"}'),
                    Message(role="user", content="That answer is not correct.\n- the "
                            "expression evaluates to 3, not 24\nPlease try again.")]
    out = []
    for k in range(samples):
        accepted = rnd == 2 and k == samples - 1
        expr = "(" + "+".join(str(n) for n in nums) + f")*{k}"
        completion = json.dumps({"expression": expr})
        critiques = [] if accepted else [
            Critique(kind="value", message=f"the expression evaluates to {k}, not 24",
                     data={"value": str(k)}),
            Critique(kind="number_missing", message="the given number 4 is not used",
                     data={"number": 4, "used": 0, "given": 1}),
        ][: 1 + k % 2]
        out.append(Attempt(
            round=rnd, sample=k, prompt=messages, completion=completion,
            candidate=Candidate(raw=completion, answer={"expression": expr}),
            verdict=Verdict(status=Status.ACCEPT if accepted else Status.REJECT,
                            critiques=critiques, verifier="game24", verifier_version="1.0",
                            elapsed_s=0.001, evidence={"value": "24"} if accepted else {}),
            usage=Usage(prompt_tokens=120, completion_tokens=12), finish_reason="stop"))
    return out


def problems(count: int) -> list[Problem]:
    return [DOMAIN.parse_problem({"numbers": [1 + i % 13, 1 + (i // 13) % 13,
                                              1 + (i // 169) % 13, 1 + i // 2197],
                                  "target": 24}) for i in range(count)]


def write_serial(path: Path, attempts: int, samples: int) -> tuple[int, float]:
    """One problem at a time: one transaction per round. Returns (attempts, seconds)."""
    spent, written = 0.0, 0
    with Corpus(path) as corpus:
        run = corpus.start_run("benchmark", "game24", {"samples": samples})
        for i, p in enumerate(problems(-(-attempts // (2 * samples)))):
            for rnd in (1, 2):
                batch = round_attempts(p, rnd, samples)
                params = SamplingParams(n=samples, seed=i + rnd)
                start = time.perf_counter()
                corpus.record_round(p, batch, params, "smollm2", run)
                spent += time.perf_counter() - start
                written += len(batch)
    return written, spent


def write_loop(path: Path, attempts: int, samples: int, in_flight: int,
               chunk: int = 4000) -> tuple[int, float, float]:
    """The loop's pattern: ``in_flight`` problems at once, each awaiting its round's commit
    (``CorpusMemory.record``, group commit) before its next round. Rounds are built before
    each timed chunk, so only recording is timed. Returns (attempts, seconds, CPU seconds)."""
    probs = problems(-(-attempts // (2 * samples)))
    spent, cpu, written = 0.0, 0.0, 0
    with Corpus(path) as corpus:
        memory = CorpusMemory(corpus, run_id=corpus.start_run("benchmark", "game24", {}))
        for lo in range(0, len(probs), chunk):
            work = [(p, round_attempts(p, 1, samples), round_attempts(p, 2, samples),
                     SamplingParams(n=samples, seed=lo + k))
                    for k, p in enumerate(probs[lo : lo + chunk])]

            async def solve_all(work: list[tuple[Problem, list[Attempt], list[Attempt],
                                                 SamplingParams]]) -> None:
                source = iter(work)

                async def worker() -> None:
                    for p, first, second, params in source:
                        await memory.record(p, first, params, "smollm2")
                        await memory.record(p, second, params, "smollm2")

                await asyncio.gather(*(worker() for _ in range(in_flight)))

            start, start_cpu = time.perf_counter(), time.process_time()
            asyncio.run(solve_all(work))
            spent += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            written += sum(len(a) + len(b) for _, a, b, _ in work)
            print(f"  ... {written:,} attempts, {written / spent:,.0f}/s", flush=True)
        memory.close()
    return written, spent, cpu


def ceiling(path: Path, rows: int) -> tuple[float, float]:
    """Attempts per second and per CPU second for pre-serialized rows in one executemany."""
    with Corpus(path) as corpus:
        sample = corpus.query("SELECT problem_hash, run_id, round, sample, prompt_hash,"
                              " completion, answer, parse_error, status, sound, critiques,"
                              " critique_count, evidence, verifier, verifier_version,"
                              " verify_s, model, sampling,"
                              " seed, prompt_tokens, completion_tokens, finish_reason,"
                              " created_at FROM attempts LIMIT 1000")
    data = [sample[i % len(sample)] for i in range(rows)]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    start, start_cpu = time.perf_counter(), time.process_time()
    db.execute("BEGIN")
    db.executemany("INSERT INTO attempts (problem_hash, run_id, round, sample, prompt_hash,"
                   " completion, answer, parse_error, status, sound, critiques,"
                   " critique_count, evidence,"
                   " verifier, verifier_version, verify_s, model, sampling, seed,"
                   " prompt_tokens, completion_tokens, finish_reason, created_at)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", data)
    db.execute("ROLLBACK")  # leave the benchmark corpus as the loop wrote it
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    db.close()
    return rows / elapsed, rows / cpu


def scan(path: Path) -> float:
    with Corpus(path) as corpus:
        start = time.perf_counter()
        cur = corpus.cursor()
        cur.execute("SELECT a.*, p.payload, pr.messages FROM attempts a"
                    " JOIN problems p ON p.hash = a.problem_hash"
                    " JOIN prompts pr ON pr.hash = a.prompt_hash")
        while cur.fetchmany(20_000):
            pass
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=8, help="attempts per round")
    parser.add_argument("--in-flight", type=int, default=64, help="problems at once")
    parser.add_argument("--serial-attempts", type=int, default=50_000,
                        help="attempts for the one-problem-at-a-time measurement")
    parser.add_argument("--formats", default="sft,dpo,openai,parquet,verl")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: tmp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="corpus-bench-") as tmp:
        root = Path(tmp)
        path = root / "corpus.sqlite"
        n_serial, t_serial = write_serial(root / "serial.sqlite", args.serial_attempts,
                                          args.samples)
        print(f"write, one problem at a time: {n_serial / t_serial:,.0f} attempts/s")
        print(f"writing {args.attempts:,} attempts ({args.samples} per round, "
              f"{args.in_flight} problems in flight) to {path}")
        written, spent, cpu = write_loop(path, args.attempts, args.samples, args.in_flight)
        rate = written / spent
        ref, ref_cpu = ceiling(path, min(written, 200_000))
        size = sum(p.stat().st_size for p in root.glob("corpus.sqlite*"))
        print(f"write, loop pattern: {written:,} attempts in {spent:.1f} s = {rate:,.0f} "
              f"attempts/s (goal >= 20,000: {'met' if rate >= 20_000 else 'NOT met'}); "
              f"{written / cpu:,.0f} per CPU second; db {size / 2**20:,.0f} MiB")
        print(f"bulk-insert ceiling: {ref:,.0f}/s, {ref_cpu:,.0f} per CPU second; "
              f"loop / ceiling {rate / ref:.2f} (per CPU second {written / cpu / ref_cpu:.2f})")
        base = scan(path)
        print(f"reference scan of all attempts: {base:.1f} s")
        results = {}
        for fmt in args.formats.split(","):
            out = root / f"export-{fmt}"
            start = time.perf_counter()
            with Corpus(path) as corpus:
                report = export(corpus, ExportOptions(format=fmt, out=out))  # type: ignore[arg-type]
            elapsed = time.perf_counter() - start
            rows = sum(report.files.values())
            results[fmt] = elapsed
            print(f"export {fmt:8s}: {rows:>9,} rows in {elapsed:5.1f} s "
                  f"({elapsed / base:4.1f} x scan; goal < 60 s at 1M attempts: "
                  f"{'met' if elapsed < 60 * written / 1_000_000 else 'NOT met'}) "
                  f"{out.stat().st_size / 2**20:,.0f} MiB")
        print(to_json({"attempts": written, "write_per_s": round(rate),
                       "write_per_cpu_s": round(written / cpu),
                       "serial_write_per_s": round(n_serial / t_serial),
                       "ceiling_per_s": round(ref), "scan_s": round(base, 2),
                       "export_s": {k: round(v, 2) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
