"""The study's report directory: tables (CSV and Markdown), plots, and ``report.md``.

- ``success_by_round.csv``: PlanBench's back-prompting layout, per arm the problems solved
  with an answer from round k or earlier (k = 1..rounds) and the mean tokens spent through
  round k;
- ``arms.csv``: Stechly et al.'s layout, one row per arm (critic mode x feedback level x
  strategy x round limit): solved / problems, accuracy, mean tokens (critic's included);
- ``confusion.csv``: the LLM critic's verdicts against the sound verifier's, per ``self``
  arm (a false accept is a critic ACCEPT of an answer the sound verifier REJECTs);
- ``success_vs_rounds-*.png`` and ``success_vs_tokens-*.png`` (matplotlib, Agg), one line
  per arm, one figure per domain / problem set / model; left out, and said, without
  matplotlib;
- ``report.md``: all of it, with the published figures beside ours.

Accuracy is always the sound verifier's verdict of the reported answer; in a ``self`` arm,
that is the answer the critic stopped on (or the last one), never the critic's own verdict.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llm_modulo.study.cells import Cell
from llm_modulo.study.config import StudyConfig
from llm_modulo.study.problems import LoadedSet
from llm_modulo.study.results import ProblemResult
from llm_modulo.types import Status, StopReason

REPORT_DIR = "report"
STATUSES = (Status.ACCEPT, Status.REJECT, Status.UNKNOWN)
_MODE_ORDER = {"sound": 0, "self": 1, "none": 2}
_FEEDBACK_ORDER = {"none": 0, "binary": 1, "first": 2, "all": 3}

Group = tuple[str, str, str]  # domain, problem set, model


@dataclass(frozen=True)
class ArmRow:
    group: Group
    cell: Cell
    key: str
    results: list[ProblemResult]

    @property
    def n(self) -> int:
        return len(self.results)

    @property
    def solved(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.stop_reason is StopReason.ERROR for r in self.results)

    def solved_by(self, k: int) -> int:
        return sum(r.solved_by(k) for r in self.results)

    def mean_tokens(self, k: int | None = None) -> float:
        if not self.results:
            return 0.0
        spent = [r.tokens if k is None else r.tokens_through(k) for r in self.results]
        return sum(spent) / len(spent)

    def mean_critic_tokens(self) -> float:
        return sum(r.critic_tokens for r in self.results) / self.n if self.results else 0.0

    def confusion(self) -> Counter[tuple[Status, Status]]:
        return Counter((c, s) for r in self.results for c, s in r.judgements)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def arm_rows(config: StudyConfig, cells: list[Cell], results: Iterable[ProblemResult]
             ) -> list[ArmRow]:
    """The arms of this study's grid with their results (results of cells no longer in the
    study file are left out)."""
    by_cell: dict[str, list[ProblemResult]] = defaultdict(list)
    for r in results:
        by_cell[r.cell].append(r)
    rows = []
    for cell in cells:
        key = cell.key(config)
        rows.append(ArmRow((cell.domain, cell.set_label, cell.model.label), cell, key,
                           sorted(by_cell.get(key, []), key=lambda r: r.problem_hash)))
    rows.sort(key=lambda a: (a.group, _MODE_ORDER[a.cell.mode.value],
                             _FEEDBACK_ORDER[a.cell.feedback.value], a.cell.strategy,
                             a.cell.rounds))
    return rows


def write_report(config: StudyConfig, cells: list[Cell], results: list[ProblemResult],
                 out_dir: Path, *, sets: list[LoadedSet] | None = None,
                 dropped: list[str] | None = None, unreadable: int = 0) -> Path:
    """Write the report directory; returns the path of ``report.md``."""
    folder = out_dir / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rows = arm_rows(config, cells, results)
    _write_csvs(rows, folder)
    plots = _plots(rows, folder)
    md = _markdown(config, rows, plots, sets or [], dropped or [], unreadable)
    path = folder / "report.md"
    path.write_text(md, encoding="utf-8")
    return path


# -- CSV --------------------------------------------------------------------------------------

def _write_csvs(rows: list[ArmRow], folder: Path) -> None:
    with (folder / "success_by_round.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["domain", "set", "model", "arm", "round", "solved", "problems",
                    "mean_tokens_through_round"])
        for a in rows:
            for k in range(1, a.cell.rounds + 1):
                w.writerow([*a.group, a.cell.arm, k, a.solved_by(k), a.n,
                            f"{a.mean_tokens(k):.1f}"])
    with (folder / "arms.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["domain", "set", "model", "arm", "strategy", "critic_mode", "feedback",
                    "rounds", "solved", "problems", "accuracy", "mean_tokens",
                    "mean_critic_tokens", "errors", "cell"])
        for a in rows:
            w.writerow([*a.group, a.cell.arm, a.cell.run_strategy, a.cell.mode.value,
                        a.cell.feedback.value, a.cell.rounds, a.solved, a.n,
                        f"{a.solved / a.n:.4f}" if a.n else "", f"{a.mean_tokens():.1f}",
                        f"{a.mean_critic_tokens():.1f}", a.errors, a.key])
    with (folder / "confusion.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["domain", "set", "model", "arm", "critic", "sound", "count"])
        for a in rows:
            if a.cell.mode.value != "self":
                continue
            matrix = a.confusion()
            for c in STATUSES:
                for s in STATUSES:
                    w.writerow([*a.group, a.cell.arm, c.value, s.value, matrix[(c, s)]])


# -- plots ------------------------------------------------------------------------------------

def _slug(group: Group) -> str:
    return "-".join("".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in part)
                    for part in group)


def _plots(rows: list[ArmRow], folder: Path) -> dict[Group, list[str]] | str:
    """The plot files per group, or why there are none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no plots: matplotlib is not installed (pip install 'llm-modulo[study]')"
    made: dict[Group, list[str]] = {}
    groups: dict[Group, list[ArmRow]] = defaultdict(list)
    for a in rows:
        if a.n:
            groups[a.group].append(a)
    for group, arms in groups.items():
        names = []
        for what in ("rounds", "tokens"):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for a in arms:
                ks = list(range(1, a.cell.rounds + 1))
                ys = [100 * a.solved_by(k) / a.n for k in ks]
                xs: list[float] = [float(k) for k in ks] if what == "rounds" else \
                    [a.mean_tokens(k) for k in ks]
                ax.plot(xs, ys, marker="o", markersize=3, label=a.cell.arm)
            ax.set_xlabel("round" if what == "rounds" else "mean tokens per problem")
            ax.set_ylabel("solved (%)")
            ax.set_ylim(0, 100)
            ax.set_title(f"{group[0]} / {group[1]} / {group[2]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            name = f"success_vs_{what}-{_slug(group)}.png"
            fig.savefig(folder / name, dpi=110)
            plt.close(fig)
            names.append(name)
        made[group] = names
    return made


# -- Markdown ---------------------------------------------------------------------------------

def _table(header: list[str], body: list[list[str]]) -> list[str]:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    return lines


def _markdown(config: StudyConfig, rows: list[ArmRow], plots: dict[Group, list[str]] | str,
              sets: list[LoadedSet], dropped: list[str], unreadable: int) -> str:
    out = [f"# Study: {config.name}", ""]
    if config.description:
        out += [config.description.strip(), ""]
    out += ["Accuracy is the sound verifier's verdict of the reported answer (in a `self` arm: "
            "the answer the LLM critic stopped on, or the last one), never the critic's. "
            "Tokens are prompt + generated, the critic's included, per problem.", ""]
    if sets:
        out += ["## Problem sets", ""]
        out += [f"- `{s.label}`: {len(s.problems)} problems from {s.source}" for s in sets]
        out.append("")
    out += ["## Published figures", ""]
    if config.published:
        out += _table(["source", "setting", "published", "note"],
                      [[p.source, p.setting, p.value, p.note] for p in config.published])
    else:
        out.append("(none given in the study file)")
    out.append("")
    groups: dict[Group, list[ArmRow]] = defaultdict(list)
    for a in rows:
        groups[a.group].append(a)
    for group, arms in groups.items():
        out += [f"## {group[0]} / {group[1]} / model {group[2]}", ""]
        out += ["### Success by round (cumulative, PlanBench's back-prompting layout)", ""]
        top = max(a.cell.rounds for a in arms)
        header = ["arm", "problems", *[f"≤{k}" for k in range(1, top + 1)]]
        body = [[a.cell.arm, str(a.n),
                 *[str(a.solved_by(k)) if k <= a.cell.rounds else "" for k in
                   range(1, top + 1)]] for a in arms]
        out += [*_table(header, body), ""]
        out += ["### By critic mode and feedback level (Stechly et al.'s layout)", ""]
        out += _table(["critic mode", "feedback", "strategy", "rounds", "solved", "accuracy",
                       "mean tokens", "mean critic tokens", "errors"],
                      [[a.cell.mode.value, a.cell.feedback.value, a.cell.run_strategy,
                        str(a.cell.rounds), f"{a.solved}/{a.n}", _pct(a.solved, a.n),
                        f"{a.mean_tokens():.0f}", f"{a.mean_critic_tokens():.0f}",
                        str(a.errors)] for a in arms])
        out.append("")
        selfs = [a for a in arms if a.cell.mode.value == "self"]
        if selfs:
            out += ["### The LLM critic against the sound verifier", "",
                    "Every candidate of the `self` arms: rows are the critic's verdict, "
                    "columns the sound verifier's. A false accept (critic ACCEPT, sound "
                    "REJECT) is self-critique passing a wrong answer; a false reject "
                    "(critic REJECT, sound ACCEPT) is it throwing a right one away.", ""]
            for a in selfs:
                m = a.confusion()
                out += [f"`{a.cell.arm}`:", ""]
                out += _table(["critic \\ sound", "ACCEPT", "REJECT", "UNKNOWN"],
                              [[c.value.upper(), *[str(m[(c, s)]) for s in STATUSES]]
                               for c in STATUSES])
                fa, tr = m[(Status.ACCEPT, Status.REJECT)], m[(Status.REJECT, Status.REJECT)]
                fr, ta = m[(Status.REJECT, Status.ACCEPT)], m[(Status.ACCEPT, Status.ACCEPT)]
                out += ["", f"False accepts: {fa} of {fa + tr} sound REJECTs "
                            f"({_pct(fa, fa + tr)}); false rejects: {fr} of {fr + ta} sound "
                            f"ACCEPTs ({_pct(fr, fr + ta)}).", ""]
        if isinstance(plots, dict) and group in plots:
            out += ["### Plots", ""]
            out += [f"![{name}]({name})" for name in plots[group]]
            out.append("")
    if isinstance(plots, str):
        out += [plots, ""]
    if dropped:
        out += ["## Combinations left out", ""] + [f"- {d}" for d in dropped] + [""]
    pending = sum(1 for a in rows if a.n == 0)
    if pending or unreadable:
        out += ["## Not complete", ""]
        if pending:
            out.append(f"- {pending} arms have no results yet (run the study again)")
        if unreadable:
            out.append(f"- {unreadable} lines of results.jsonl could not be read")
        out.append("")
    return "\n".join(out)
