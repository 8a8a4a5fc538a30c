"""Solve rate against generated tokens, one line per strategy, at equal budgets.

Every strategy gets the same budget per problem (``--generated-budget`` generated tokens, and
the same sampling settings), on the same problems, against the same endpoint (the embedded
vLLM CPU server unless ``--base-url`` is given). The curve is read from that one run: a
problem counts as solved at budget ``B`` when its first sound ACCEPT came after at most ``B``
generated tokens. (A run with budget ``B`` itself would clamp the last request's
``max_tokens`` to what is left, so its curve can only be as good or slightly better at ``B``.)

Printed: a table of solve rates at each budget point, requests and prompt tokens per problem,
and wall time per strategy; ``--out`` writes the raw results as JSON and ``--plot`` a PNG
(solve rate vs generated tokens, one line per strategy).

Examples::

    .venv/bin/python benchmarks/strategies_compare.py --domain game24 --limit 8
    .venv/bin/python benchmarks/strategies_compare.py --domain blocksworld --limit 6 \\
        --generated-budget 1024 --plot blocksworld.png
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llm_modulo import (
    Budget,
    Domain,
    FeedbackLevel,
    LoopConfig,
    OpenAICompatClient,
    Problem,
    SamplingParams,
    Solver,
    SolveResult,
    WorkerPool,
)
from llm_modulo.registry import default_registry

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
POINTS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)


def load_problems(domain: Domain, limit: int, seed: int) -> list[Problem]:
    """The shared puzzles / PlanBench instances when present, else the domain's generator."""
    if domain.name == "game24" and (SHARED / "game24" / "puzzles.jsonl").is_file():
        lines = (SHARED / "game24" / "puzzles.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        # every 34th puzzle: an even spread over the difficulty ranks (1-1362)
        picked = rows[::max(1, len(rows) // max(limit, 1))][:limit]
        return [domain.parse_problem(r["numbers"]) for r in picked]
    planbench = SHARED / "planbench" / "instances" / domain.name / "generated_basic"
    if planbench.is_dir():  # PlanBench instances: instance-1, instance-2, ...
        files = sorted(planbench.glob("instance-*.pddl"),
                       key=lambda f: int(f.stem.rpartition("-")[2]))[:limit]
        return [domain.parse_problem({"problem": f.read_text(), "id": f.stem}) for f in files]
    with contextlib.suppress(Exception):
        return domain.demo_problems()[:limit] if limit <= 8 else \
            domain.generate_problems(limit, seed)
    return domain.generate_problems(limit, seed)


@contextlib.contextmanager
def endpoint(base_url: str | None) -> Iterator[tuple[str, str | None]]:
    if base_url:
        yield base_url, None
        return
    from llm_modulo.embedded import EmbeddedServer

    print("starting the embedded vLLM CPU server ...", file=sys.stderr)
    with EmbeddedServer() as server:
        yield server.base_url, server.model


async def run_strategy(name: str, options: dict[str, Any], domain: Domain, problems:
                       list[Problem], url: str, model: str | None, args: argparse.Namespace,
                       pool: WorkerPool) -> list[SolveResult]:
    verifier = default_registry.verifier(domain.verifier)
    config = LoopConfig(
        budget=Budget(rounds=1000, samples=args.samples,
                      max_generated_tokens=args.generated_budget),
        feedback=FeedbackLevel.ALL,
        sampling=SamplingParams(temperature=args.temperature, seed=args.seed,
                                max_tokens=args.max_tokens),
        structured=args.structured,
        concurrency=args.in_flight,
        strategy=name,
        strategy_options=options,
    )
    async with OpenAICompatClient(url, model=model, deadline_s=args.request_timeout) as client:
        solver = Solver(domain, verifier, client, config, pool=pool)
        return [r async for r in solver.solve_many(problems)]


def curve(results: list[SolveResult], points: list[int]) -> list[float]:
    n = max(len(results), 1)
    return [sum(r.solved and r.usage.completion_tokens <= b for r in results) / n
            for b in points]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--domain", default="game24")
    ap.add_argument("--limit", type=int, default=8, help="problems")
    ap.add_argument("--strategies", default="backprompt,best_of_n,beam,mcts")
    ap.add_argument("--option", action="append", default=[], metavar="STRATEGY.KEY=VALUE",
                    help="a strategy option, e.g. beam.beam_width=3")
    ap.add_argument("--generated-budget", type=int, default=1024)
    ap.add_argument("--samples", type=int, default=4, help="n per request")
    ap.add_argument("--max-tokens", type=int, default=128, help="per sample")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--structured", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--in-flight", type=int, default=8, help="problems in flight")
    ap.add_argument("--request-timeout", type=float, default=600.0)
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--out", type=Path, default=None, help="raw results (JSON)")
    ap.add_argument("--plot", type=Path, default=None, help="solve rate vs tokens (PNG)")
    args = ap.parse_args()

    domain = default_registry.domain(args.domain)
    problems = load_problems(domain, args.limit, args.seed)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    options: dict[str, dict[str, Any]] = {n: {} for n in names}
    for item in args.option:
        head, _, value = item.partition("=")
        strategy, _, key = head.partition(".")
        with contextlib.suppress(ValueError):
            value = json.loads(value)
        options.setdefault(strategy, {})[key] = value
    points = [p for p in POINTS if p < args.generated_budget] + [args.generated_budget]
    rows: dict[str, dict[str, Any]] = {}
    with endpoint(args.base_url) as (url, model), WorkerPool(2) as pool:
        for name in names:
            began = time.monotonic()
            results = asyncio.run(run_strategy(name, options[name], domain, problems, url,
                                               model, args, pool))
            wall = time.monotonic() - began
            n = max(len(results), 1)
            rows[name] = {
                "solved": sum(r.solved for r in results), "problems": len(results),
                "curve": curve(results, points),
                "generated_tokens": sum(r.usage.completion_tokens for r in results) / n,
                "prompt_tokens": sum(r.usage.prompt_tokens for r in results) / n,
                "requests": sum(r.requests for r in results) / n,
                "wall_s": wall,
                "stop_reasons": sorted({r.stop_reason.value for r in results}),
                "errors": [r.error for r in results if r.error][:3],
            }
            print(f"{name}: solved {rows[name]['solved']}/{len(results)} in {wall:.0f} s",
                  file=sys.stderr)
    header = "| strategy | " + " | ".join(f"<= {p}" for p in points) + \
        " | requests/problem | generated/problem | prompt/problem | wall s |"
    print(f"\n{args.domain}: {len(problems)} problems, generated-token budget "
          f"{args.generated_budget}, n={args.samples}, max_tokens={args.max_tokens}, "
          f"temperature {args.temperature}\n")
    print(header)
    print("|" + "---|" * (len(points) + 5))
    for name, row in rows.items():
        rates = " | ".join(f"{v:.2f}" for v in row["curve"])
        print(f"| {name} | {rates} | {row['requests']:.1f} | {row['generated_tokens']:.0f} | "
              f"{row['prompt_tokens']:.0f} | {row['wall_s']:.0f} |")
    if args.out:
        args.out.write_text(json.dumps({"domain": args.domain, "points": points,
                                        "strategies": rows, "args": vars(args)},
                                       default=str, indent=1))
    if args.plot:
        plot(args.plot, args.domain, points, rows)


def plot(path: Path, domain: str, points: list[int], rows: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, row in rows.items():
        ax.plot(points, row["curve"], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("generated tokens per problem (budget)")
    ax.set_ylabel("solve rate (sound ACCEPT)")
    ax.set_title(f"{domain}: solve rate vs generated tokens")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
