"""The per-iteration table (System 1 pass@1, System 2 solve rate, data, loss, tokens, phase
times) and the plot of both rates over iterations, written to the run directory as
``report.json``, ``report.md`` and ``report.png``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llm_modulo.improve.state import RunState, write_atomically


class IterationRow(BaseModel):
    iteration: int
    checkpoint: str
    train_problems: int | None = None
    train_solved: int | None = None
    train_rows: int | None = None
    train_loss: float | None = None
    train_tokens_per_s: float | None = None
    eval_problems: int
    system1_pass1: float
    system2_rate: float
    system1_tokens: int
    system2_tokens: int
    seconds: dict[str, float]


def rows(state: RunState) -> list[IterationRow]:
    """One row per iteration whose evaluation finished."""
    out = []
    for k in sorted(state.iterations):
        ev = state.result(k, "evaluate")
        if not ev:
            continue
        it = state.iterations[k]
        solved = state.result(k, "solve")
        built = state.result(k, "data")
        trained = state.result(k, "train")
        sft = trained.get("sft") or {}
        s1, s2 = ev["system1"], ev["system2"]
        out.append(IterationRow(
            iteration=k, checkpoint=ev["checkpoint"],
            train_problems=solved.get("problems"), train_solved=solved.get("solved"),
            train_rows=(built["sft_rows"] + built["dpo_rows"]) if built else None,
            train_loss=sft.get("last_loss"), train_tokens_per_s=trained.get("tokens_per_s"),
            eval_problems=s1["problems"], system1_pass1=s1["rate"], system2_rate=s2["rate"],
            system1_tokens=s1["prompt_tokens"] + s1["completion_tokens"],
            system2_tokens=s2["prompt_tokens"] + s2["completion_tokens"],
            seconds=dict(it.seconds)))
    return out


def _cell(value: Any, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


HEADER = ("iteration", "checkpoint", "train solved", "rows", "loss", "train tok/s",
          "System 1 pass@1", "System 2 solve rate", "S1 tokens", "S2 tokens", "seconds")


def table_cells(r: IterationRow) -> tuple[str, ...]:
    solved = ("-" if r.train_problems is None
              else f"{r.train_solved}/{r.train_problems}")
    return (str(r.iteration), r.checkpoint, solved, _cell(r.train_rows),
            _cell(r.train_loss, "{:.3f}"), _cell(r.train_tokens_per_s, "{:.0f}"),
            f"{r.system1_pass1:.1%}", f"{r.system2_rate:.1%}", str(r.system1_tokens),
            str(r.system2_tokens), f"{sum(r.seconds.values()):.0f}")


def markdown(table: list[IterationRow]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in table]
    return "\n".join(lines) + "\n"


def plot(table: list[IterationRow], path: Path) -> bool:
    """Draw both rates against the iteration; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    xs = [r.iteration for r in table]
    ax.plot(xs, [r.system1_pass1 for r in table], marker="o", label="System 1: pass@1 greedy")
    ax.plot(xs, [r.system2_rate for r in table], marker="s", label="System 2: search solve rate")
    ax.set_xlabel("iteration (0 = base model)")
    ax.set_ylabel("held-out problems solved")
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Self-improvement on the held-out split")
    try:
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png", bbox_inches="tight")
        tmp.replace(path)
    finally:
        plt.close(fig)
    return True


def write_report(state: RunState, run_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    table = rows(state)
    write_atomically(run_dir / "report.json",
                     json.dumps([r.model_dump() for r in table], indent=1))
    write_atomically(run_dir / "report.md", markdown(table))
    drawn = plot(table, run_dir / "report.png")
    if not drawn:
        say("no plot: matplotlib is not installed (pip install 'llm-modulo[train]')")
    return {"iterations": len(table), "plot": str(run_dir / "report.png") if drawn else None}
