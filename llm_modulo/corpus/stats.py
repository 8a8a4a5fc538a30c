"""Corpus statistics per domain, and the solve-rate-by-round plot."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.corpus.lineage import CheckpointInfo, checkpoint_lineage, run_checkpoints
from llm_modulo.corpus.store import Corpus
from llm_modulo.errors import UsageError


class DomainStats(BaseModel):
    domain: str
    problems: int = Field(description="problems with at least one attempt")
    solved: int = Field(description="problems with a sound ACCEPT not flagged since")
    acceptance_rate: float = Field(description="solved / problems")
    attempts: int
    accepted_attempts: int
    rejected_attempts: int
    unknown_attempts: int
    flagged_solutions: int
    rounds_to_accept: dict[int, int] = Field(
        description="first accepting round -> problems")
    solve_rate_by_round: dict[int, float] = Field(
        description="round r -> share of problems solved by round r")
    tokens_per_solution: float | None = Field(
        description="all tokens spent on the domain / problems solved")


class SearchStats(BaseModel):
    strategy: str
    trees: int = Field(description="search trees stored (one per solve)")
    nodes: int = Field(description="their nodes, roots included")
    dead_prefixes: int = Field(description="nodes whose prefix a sound check REJECTed "
                                           "(negative process labels)")


class NodeStats(BaseModel):
    hostname: str | None
    node_id: str | None = Field(description="the Ray node id")
    results: int = Field(description="problem results recorded from this node")
    solved: int


class CorpusStats(BaseModel):
    path: str
    runs: int
    domains: list[DomainStats]
    searches: list[SearchStats] = Field(default_factory=list,
                                        description="per strategy that stored search trees")
    checkpoints: list[CheckpointInfo] = Field(
        default_factory=list, description="self-improvement lineage: which checkpoint "
                                          "produced which solutions, and what trained it")
    nodes: list[NodeStats] = Field(
        default_factory=list, description="per Ray node, the results it solved "
                                          "(runs of --engine ray)")


_PER_PROBLEM = """
SELECT p.domain,
       min(CASE WHEN a.status = 'accept' AND a.sound = 1 AND s.flagged_at IS NULL
                THEN a.round END),
       count(*),
       sum(a.status = 'accept' AND a.sound = 1),
       sum(a.status = 'reject'),
       sum(a.status = 'unknown'),
       sum(a.prompt_tokens + a.completion_tokens),
       max(a.round)
FROM attempts a JOIN problems p ON p.hash = a.problem_hash
LEFT JOIN solutions s ON s.problem_hash = a.problem_hash AND s.answer = a.answer
WHERE {where}
GROUP BY a.problem_hash
"""


_PER_STRATEGY = """
SELECT s.strategy, count(*), sum(s.nodes),
       sum((SELECT count(*) FROM search_nodes n
            WHERE n.search_id = s.id AND n.status = 'reject' AND n.sound = 1))
FROM searches s JOIN problems p ON p.hash = s.problem_hash
WHERE {where}
GROUP BY s.strategy ORDER BY s.strategy
"""


_PER_NODE = """
SELECT r.hostname, r.node_id, count(*), sum(r.solved)
FROM run_results r JOIN problems p ON p.hash = r.problem_hash
WHERE {where}
GROUP BY r.hostname, r.node_id ORDER BY r.hostname, r.node_id
"""


def _where(domains: tuple[str, ...], runs: tuple[str, ...], table: str
           ) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("p.domain", domains), (f"{table}.run_id", runs)):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    return " AND ".join(clauses) or "1 = 1", params


def corpus_stats(corpus: Corpus, *, domains: tuple[str, ...] = (),
                 runs: tuple[str, ...] = ()) -> CorpusStats:
    """Per-domain figures over the attempts of ``domains`` and ``runs`` (default: all), and
    per strategy the search trees stored for them."""
    where, params = _where(domains, runs, "a")
    rows = corpus.query(_PER_PROBLEM.format(where=where), params)
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "problems": 0, "attempts": 0, "accepted": 0, "rejected": 0, "unknown": 0,
        "tokens": 0, "first": Counter(), "max_round": 0})
    for domain, first, n, accepted, rejected, unknown, tokens, max_round in rows:
        d = acc[domain]
        d["problems"] += 1
        d["attempts"] += n
        d["accepted"] += accepted
        d["rejected"] += rejected
        d["unknown"] += unknown
        d["tokens"] += tokens or 0
        d["max_round"] = max(d["max_round"], max_round)
        if first is not None:
            d["first"][first] += 1
    flagged = dict(corpus.query(
        "SELECT p.domain, count(*) FROM solutions s JOIN problems p ON p.hash = s.problem_hash"
        " WHERE s.flagged_at IS NOT NULL GROUP BY p.domain"))
    out = []
    for domain in sorted(acc):
        d = acc[domain]
        solved = sum(d["first"].values())
        by_round, running = {}, 0
        for r in range(1, d["max_round"] + 1):
            running += d["first"].get(r, 0)
            by_round[r] = running / d["problems"]
        out.append(DomainStats(
            domain=domain, problems=d["problems"], solved=solved,
            acceptance_rate=solved / d["problems"], attempts=d["attempts"],
            accepted_attempts=d["accepted"], rejected_attempts=d["rejected"],
            unknown_attempts=d["unknown"], flagged_solutions=flagged.get(domain, 0),
            rounds_to_accept=dict(sorted(d["first"].items())), solve_rate_by_round=by_round,
            tokens_per_solution=d["tokens"] / solved if solved else None,
        ))
    runs_count = int(corpus.query("SELECT count(*) FROM runs")[0][0])
    where, params = _where(domains, runs, "s")
    searches = [SearchStats(strategy=strategy, trees=trees, nodes=nodes or 0,
                            dead_prefixes=dead or 0)
                for strategy, trees, nodes, dead in corpus.query(
                    _PER_STRATEGY.format(where=where), params)]
    where, params = _where(domains, runs, "r")
    nodes = [NodeStats(hostname=host, node_id=node, results=n, solved=solved or 0)
             for host, node, n, solved in corpus.query(_PER_NODE.format(where=where), params)]
    return CorpusStats(path=str(corpus.path), runs=runs_count, domains=out, searches=searches,
                       checkpoints=checkpoint_lineage(corpus), nodes=nodes)


class RunInfo(BaseModel):
    id: str
    command: str
    domain: str | None
    #: the strategy in the run's config (None: a run recorded before strategies existed)
    strategy: str | None = None
    started_at: datetime
    attempts: int
    problems: int
    accepted_attempts: int
    #: the checkpoint that generated the run's attempts (runs of ``llm-modulo improve``)
    checkpoint: str | None = None
    #: why it ran: train (solving training problems), system1 or system2 (evaluation)
    role: str | None = None


def list_runs(corpus: Corpus) -> list[RunInfo]:
    """Every run, oldest first, with its attempt counts (ids for ``export --run``)."""
    rows = corpus.query(
        "SELECT r.id, r.command, r.domain, r.started_at, count(a.id),"
        " count(DISTINCT a.problem_hash), coalesce(sum(a.status = 'accept' AND a.sound = 1), 0)"
        " FROM runs r LEFT JOIN attempts a ON a.run_id = r.id"
        " GROUP BY r.id ORDER BY r.started_at")
    # the strategy read from the stored config only where it is a JSON string (a damaged
    # config gives None, never a failed listing)
    strategies = dict(corpus.query(
        "SELECT id, CASE WHEN json_valid(config) AND json_type(config, '$.strategy') = 'text'"
        " THEN json_extract(config, '$.strategy') END FROM runs"))
    lineage = run_checkpoints(corpus)
    return [RunInfo(id=i, command=c, domain=d, strategy=strategies.get(i),
                    started_at=datetime.fromtimestamp(t, UTC),
                    attempts=n, problems=p, accepted_attempts=acc,
                    checkpoint=lineage.get(i, (None, None))[0],
                    role=lineage.get(i, (None, None))[1])
            for i, c, d, t, n, p, acc in rows]


def plot_solve_rate(stats: CorpusStats, path: Path) -> None:
    """Draw solve rate against round, one line per domain, to a PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'llm-modulo[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for d in stats.domains:
        rounds = sorted(d.solve_rate_by_round)
        ax.plot(rounds, [d.solve_rate_by_round[r] for r in rounds], marker="o",
                label=f"{d.domain} ({d.solved}/{d.problems})")
    ax.set_xlabel("round")
    ax.set_ylabel("share of problems solved")
    ax.set_ylim(0, 1)
    ax.set_title("Verified solve rate by round")
    ax.grid(alpha=0.3)
    if stats.domains:
        ax.legend()
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", bbox_inches="tight")
    except OSError as exc:
        raise UsageError(f"cannot write the plot to {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)
