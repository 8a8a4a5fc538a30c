"""A real TRL ``GRPOTrainer`` run on the embedded SmolLM2-135M (CPU) with our Game of 24
reward: rewards flow, UNKNOWN is left out (``None``), nothing hangs.

Problems: the first ``--problems`` puzzles of ``../shared/data/game24/puzzles.jsonl`` when it
is there, else the game24 domain's generated ones. Each row is what our ``verl`` export
writes (conversational prompt, ``data_source``, ``reward_model.ground_truth``,
``extra_info``), loaded with ``datasets`` as a user would.

Printed per step: the rewards our function returned (how many 1.0 / 0.0 / None), TRL's logged
reward mean and std, and the step's wall time; at the end the whole run's wall time and the
share of it spent in the reward (the reference: the trainer's own generation and update in
the same run).

    .venv/bin/python benchmarks/grpo_game24.py [--steps 2] [--generations 4] [--batch 8]
        [--max-completion 48] [--problems 4] [--unreadable 1] [--threads 1]

``--unreadable`` damages that many problems' ground truth: their completions score ``None``
(UNKNOWN), which TRL leaves out of the group baseline (advantage 0), and the run goes on.
``--threads 1`` because torch's default (one thread per core) slows to a crawl on a shared
2-core machine (oversubscribed OpenMP threads spin): about 10x here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
PUZZLES = ROOT.parent / "shared" / "data" / "game24" / "puzzles.jsonl"


def rows(count: int, unreadable: int) -> list[dict[str, Any]]:
    from llm_modulo.domains.game24 import Game24Domain
    from llm_modulo.types import canonical_json

    domain = Game24Domain()
    if PUZZLES.is_file():
        lines = PUZZLES.read_text().splitlines()[:count]
        problems = [domain.parse_problem(json.loads(line)) for line in lines]
    else:
        problems = domain.generate_problems(count, seed=0)
    out = [{"prompt": [m.model_dump() for m in domain.initial_messages(p)],
            "data_source": "llm_modulo/game24", "ability": "game24",
            "reward_model": {"style": "rule", "ground_truth": canonical_json(p.payload)},
            "extra_info": {"problem_hash": p.hash, "domain": "game24"}} for p in problems]
    for row in out[:unreadable]:  # a damaged row: its problem cannot be read, so UNKNOWN
        row["reward_model"]["ground_truth"] = row["reward_model"]["ground_truth"][:-1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8, help="completions per step")
    ap.add_argument("--max-completion", type=int, default=48)
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--unreadable", type=int, default=1,
                    help="problems whose ground truth is damaged (their rewards are None)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: a shared 2-core machine; 0: torch's own)")
    args = ap.parse_args()
    t0 = time.perf_counter()

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from llm_modulo.embedded import ensure_model
    from llm_modulo.rewards.trl import LLMModuloReward

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"imports {time.perf_counter() - t0:.1f} s", flush=True)
    folder = ensure_model()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    steps: list[dict[str, Any]] = []

    class Timed(LLMModuloReward):
        def __call__(self, prompts: Any = None, completions: Any = None,
                     **kwargs: Any) -> list[float | None]:
            start = time.perf_counter()
            got = super().__call__(prompts, completions, **kwargs)
            steps.append({"seconds": time.perf_counter() - start, "rewards": got,
                          "sample": completions[0] if completions else None})
            print(f"  reward call {len(steps)}: {got} in "
                  f"{steps[-1]['seconds'] * 1000:.0f} ms", flush=True)
            return got

    reward = Timed("game24")
    config = GRPOConfig(output_dir=tempfile.mkdtemp(prefix="grpo-game24-"), use_cpu=True,
                        max_steps=args.steps, per_device_train_batch_size=args.batch,
                        num_generations=args.generations,
                        max_completion_length=args.max_completion, logging_steps=1,
                        report_to="none", save_strategy="no", bf16=False, temperature=1.0,
                        learning_rate=1e-6)
    dataset = Dataset.from_list(rows(args.problems, args.unreadable))
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward],
                          args=config, train_dataset=dataset)
    print(f"trainer ready {time.perf_counter() - t0:.1f} s", flush=True)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start

    logged = [h for h in trainer.state.log_history if f"rewards/{reward.__name__}/mean" in h]
    print(f"GRPO on game24: {args.steps} steps x {args.batch} completions ({args.generations} "
          f"per prompt) of <= "
          f"{args.max_completion} tokens, SmolLM2-135M on CPU")
    totals = {"1.0": 0, "0.0": 0, "None": 0}
    for i, step in enumerate(steps):
        counts = {k: sum(1 for r in step["rewards"] if str(r) == k) for k in totals}
        for k, v in counts.items():
            totals[k] += v
        log = logged[i] if i < len(logged) else {}
        print(f"step {i + 1}: rewards 1.0 x{counts['1.0']}, 0.0 x{counts['0.0']}, "
              f"None x{counts['None']}; TRL reward mean "
              f"{log.get(f'rewards/{reward.__name__}/mean', float('nan')):.3f} std "
              f"{log.get(f'rewards/{reward.__name__}/std', float('nan')):.3f}; "
              f"step {log.get('step_time', float('nan')):.1f} s; "
              f"reward {step['seconds'] * 1000:.0f} ms")
    in_reward = sum(s["seconds"] for s in steps)
    print(f"total: 1.0 x{totals['1.0']}, 0.0 x{totals['0.0']}, None x{totals['None']} "
          f"(None left out by TRL); wall {wall:.1f} s, of it in the reward {in_reward:.2f} s "
          f"({100 * in_reward / wall:.1f}%)")
    if steps:
        print("a completion:", json.dumps(steps[-1]["sample"])[:200])


if __name__ == "__main__":
    main()
