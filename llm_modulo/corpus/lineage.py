"""Checkpoint lineage in the corpus: which checkpoint generated which runs (and so which
solutions), and which runs' solutions trained which checkpoint.

Written by ``llm-modulo improve``; read by ``corpus runs`` and ``corpus stats``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_modulo.corpus.store import Corpus, to_json

Role = Literal["train", "system1", "system2"]


def record_checkpoint(corpus: Corpus, *, name: str, parent: str | None, path: str,
                      improve_run: str | None, iteration: int, data_hash: str | None,
                      train_rows: int | None, trained_on: Sequence[str],
                      manifest: dict[str, Any]) -> None:
    """Store (or, on a resumed run, replace) one checkpoint's lineage row."""
    corpus.transaction(lambda cur: cur.execute(
        "INSERT OR REPLACE INTO checkpoints (name, parent, path, improve_run, iteration,"
        " data_hash, train_rows, trained_on, manifest, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (name, parent, path, improve_run, iteration, data_hash, train_rows,
         to_json(list(trained_on)), to_json(manifest), time.time())))


def record_base(corpus: Corpus, *, name: str, path: str) -> None:
    """Store the base model as a checkpoint without a parent (kept if already there)."""
    corpus.transaction(lambda cur: cur.execute(
        "INSERT OR IGNORE INTO checkpoints (name, parent, path, improve_run, iteration,"
        " data_hash, train_rows, trained_on, manifest, created_at)"
        " VALUES (?,NULL,?,NULL,0,NULL,NULL,'[]','{}',?)", (name, path, time.time())))


def record_run(corpus: Corpus, *, run_id: str, checkpoint: str, role: Role,
               improve_run: str | None, iteration: int) -> None:
    """Say that ``checkpoint`` generated the attempts of ``run_id``."""
    corpus.transaction(lambda cur: cur.execute(
        "INSERT OR REPLACE INTO checkpoint_runs (run_id, checkpoint, role, improve_run,"
        " iteration) VALUES (?,?,?,?,?)", (run_id, checkpoint, role, improve_run, iteration)))


class CheckpointInfo(BaseModel):
    name: str
    parent: str | None
    iteration: int
    improve_run: str | None
    path: str
    train_rows: int | None = Field(description="training rows it learnt (None: a base model)")
    trained_on: list[str] = Field(description="checkpoints whose verified solutions trained it")
    runs: int = Field(description="runs it generated")
    solutions: int = Field(description="verified solutions first found by its attempts")


def checkpoint_lineage(corpus: Corpus) -> list[CheckpointInfo]:
    """Every checkpoint, oldest first: what trained it and what it produced."""
    rows = corpus.query(
        "SELECT c.name, c.parent, c.iteration, c.improve_run, c.path, c.train_rows,"
        " c.trained_on,"
        " (SELECT count(*) FROM checkpoint_runs r WHERE r.checkpoint = c.name),"
        " (SELECT count(*) FROM solutions s JOIN attempts a ON a.id = s.attempt_id"
        "  JOIN checkpoint_runs r ON r.run_id = a.run_id"
        "  WHERE r.checkpoint = c.name AND s.flagged_at IS NULL)"
        " FROM checkpoints c ORDER BY c.created_at, c.name")
    producers = dict(corpus.query("SELECT run_id, checkpoint FROM checkpoint_runs"))
    out = []
    for name, parent, iteration, improve_run, path, train_rows, trained_on, runs, sols in rows:
        try:
            run_ids = json.loads(trained_on)
        except ValueError:
            run_ids = []
        sources = sorted({producers[r] for r in run_ids
                          if isinstance(r, str) and r in producers})
        out.append(CheckpointInfo(name=name, parent=parent, iteration=iteration,
                                  improve_run=improve_run, path=path, train_rows=train_rows,
                                  trained_on=sources, runs=runs, solutions=sols))
    return out


def run_checkpoints(corpus: Corpus) -> dict[str, tuple[str, str]]:
    """run id -> (checkpoint, role) for every run an improve run made."""
    return {run: (ckpt, role) for run, ckpt, role in corpus.query(
        "SELECT run_id, checkpoint, role FROM checkpoint_runs")}
