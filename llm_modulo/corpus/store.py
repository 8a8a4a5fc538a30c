"""The corpus store: SQLite in WAL mode, written a round at a time in transactions.

Every write is one ``BEGIN IMMEDIATE`` transaction (so two processes never deadlock on a lock
upgrade); a busy database is waited for (``busy_timeout``) and the transaction retried with
backoff before :class:`CorpusError` is raised. ``synchronous=NORMAL`` in WAL mode keeps every
committed transaction across a process crash (a power cut may lose the last few).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from llm_modulo.bounds import replace_surrogates
from llm_modulo.corpus.kinds import CORPUS_ENV as CORPUS_ENV
from llm_modulo.corpus.schema import SCHEMA_VERSION, statements
from llm_modulo.errors import CorpusError, UsageError
from llm_modulo.types import (
    Attempt,
    Candidate,
    Critique,
    Message,
    Problem,
    SearchTree,
    Status,
    Usage,
    Verdict,
)

T = TypeVar("T")


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_output_path(path: Path, corpus_path: Path) -> None:
    """Refuse an output path that would destroy stored data: the corpus itself (or its WAL),
    any other SQLite database, a directory, a device. Another existing file is replaced
    (atomically, once the export is complete)."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not path.is_file():  # a device or a pipe: never replaced by a file
        raise UsageError(f"{path} is not a regular file; give a file name")
    names = {corpus_path.name + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    same_dir = path.parent.resolve() == corpus_path.parent.resolve()
    if same_dir and path.name in names:
        raise UsageError(f"{path} is the corpus {corpus_path}; refusing to write to it")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: opening it for writing reports the error
    if head == _SQLITE_MAGIC:
        raise UsageError(f"{path} is an SQLite database; refusing to write to it")


def default_corpus_path() -> Path:
    """``$LLM_MODULO_CORPUS``, else ``corpus.sqlite`` in the data directory."""
    from llm_modulo.runtime import data_dir

    env = os.environ.get(CORPUS_ENV)
    return Path(env).expanduser() if env else data_dir() / "corpus.sqlite"


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=str)


def to_json(value: Any) -> str:
    """Canonical JSON (sorted keys, compact); values JSON cannot hold become strings."""
    return _ENCODER.encode(value)


@dataclass(frozen=True)
class StoredSolution:
    """An accepted solution as stored, with the attempt that found it."""

    id: int
    problem_hash: str
    answer: dict[str, Any]
    attempt: Attempt
    flag_verifier_version: str | None


_MESSAGES = TypeAdapter(list[Message])
_CRITIQUES = TypeAdapter(list[Critique])

_INSERT_PROBLEM = ("INSERT OR IGNORE INTO problems (hash, domain, payload, problem_id, created_at)"
                   " VALUES (?,?,?,?,?)")
_INSERT_PROMPT = "INSERT OR IGNORE INTO prompts (hash, messages) VALUES (?,?)"
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (problem_hash, run_id, round, sample, prompt_hash, completion, answer,"
    " parse_error, status, sound, critiques, critique_count, evidence, verifier,"
    " verifier_version, verify_s, model, sampling, seed, prompt_tokens, completion_tokens,"
    " finish_reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_SOLUTION = (
    "INSERT OR IGNORE INTO solutions (problem_hash, answer, attempt_id, verifier,"
    " verifier_version, evidence, created_at) VALUES (?,?,?,?,?,?,?)"
)
_INSERT_STEP_COMPLETION = "INSERT OR IGNORE INTO step_completions (hash, text) VALUES (?,?)"
_INSERT_SEARCH = (
    "INSERT INTO searches (problem_hash, run_id, strategy, prompt_hash, model, nodes,"
    " created_at) VALUES (?,?,?,?,?,?,?)"
)
_INSERT_NODE = (
    "INSERT INTO search_nodes (search_id, node_id, parent, depth, step_text, step_data,"
    " completion_hash, status, sound, critiques, verifier, verifier_version, evidence, terminal,"
    " visits, value, prior, attempt_round, attempt_sample, attempt_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# the attempt a node links to: this run's newest with that (round, sample) (the solve's rounds
# are committed before its tree)
_FIND_ATTEMPT = (
    "SELECT max(id) FROM attempts WHERE problem_hash = ? AND run_id IS ? AND round = ?"
    " AND sample = ?"
)
_INSERT_RUN_RESULT = (
    "INSERT OR IGNORE INTO run_results (run_id, problem_hash, stop_reason, solved, engine,"
    " node_id, hostname, created_at) VALUES (?,?,?,?,?,?,?,?)"
)
_FLAG = ("UPDATE solutions SET flagged_at = ?, flag_verifier_version = ?, flag_reason = ?"
         " WHERE id = ?")
_UNFLAG = ("UPDATE solutions SET flagged_at = NULL, flag_verifier_version = NULL,"
           " flag_reason = NULL WHERE id = ?")
_SELECT_SOLUTIONS = (
    "SELECT s.id, s.answer, s.flag_verifier_version, a.round, a.sample, p.messages,"
    " a.completion, a.parse_error, a.status, a.sound, a.critiques, a.evidence, a.verifier,"
    " a.verifier_version, a.verify_s, a.prompt_tokens, a.completion_tokens, a.finish_reason"
    " FROM solutions s JOIN attempts a ON a.id = s.attempt_id"
    " JOIN prompts p ON p.hash = a.prompt_hash WHERE s.problem_hash = ? ORDER BY s.id"
)


class Corpus:
    """One corpus database. Thread-safe (one connection behind a lock); use as a context manager.

    ``busy_timeout_s`` is how long one statement waits for another writer; ``retries`` is how
    many times a transaction that still found the database locked is tried again.
    """

    def __init__(self, path: str | Path | None = None, *, busy_timeout_s: float = 30.0,
                 retries: int = 8) -> None:
        self.path = Path(path) if path is not None else default_corpus_path()
        self.retries = retries
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None,
                                       check_same_thread=False, cached_statements=64)
        except (OSError, sqlite3.Error) as exc:
            raise CorpusError(f"cannot open corpus {self.path}: {exc}") from None
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._retrying(self._setup)

    # -- life cycle -------------------------------------------------------------------

    def _setup(self) -> None:
        self._check_version()  # before switching to WAL, which rewrites the file header
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise CorpusError(f"corpus {self.path}: cannot switch to WAL mode (got {mode})")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA cache_size = -65536")  # 64 MiB: hash-keyed indexes stay hot
        # checkpoint (the only fsync in WAL + NORMAL) every ~40 MiB of WAL, not every 4 MiB:
        # twice the write rate with the loop's small transactions
        self._db.execute("PRAGMA wal_autocheckpoint = 10000")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._check_version()  # before any DDL: never alter a database that is not ours
            for statement in statements():
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                   ).fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                 (str(SCHEMA_VERSION),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _check_version(self) -> None:
        """Refuse a database of another application, or of a newer llm-modulo."""
        tables = {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return  # a new (or empty) file: ours to set up
        row = (self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
               if "meta" in tables else None)
        if row is None:
            raise CorpusError(f"{self.path} is an SQLite database but not an llm-modulo corpus "
                              f"(tables: {', '.join(sorted(tables)[:5])}); pass another --corpus")
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise CorpusError(f"corpus {self.path} has an unreadable schema version "
                              f"{row[0]!r}") from None
        if version > SCHEMA_VERSION:
            raise CorpusError(f"corpus {self.path} has schema version {version}; this "
                              f"llm-modulo reads up to {SCHEMA_VERSION}: upgrade llm-modulo")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------

    def _retrying(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which may open its own transaction), retrying while the db is locked."""
        with self._lock:
            for attempt in range(self.retries + 1):
                try:
                    return fn()
                except sqlite3.OperationalError as exc:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    locked = "locked" in str(exc) or "busy" in str(exc)
                    if not locked or attempt == self.retries:
                        raise CorpusError(f"corpus {self.path}: {exc}") from None
                    time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                except sqlite3.DatabaseError as exc:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise CorpusError(f"corpus {self.path}: {exc}") from None
            raise AssertionError("unreachable")

    def transaction(self, body: Callable[[sqlite3.Cursor], T]) -> T:
        """Run ``body`` in one write transaction (retried as a whole while the db is busy)."""

        def once() -> T:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                result = body(cur)
            except BaseException:
                if self._db.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result

        return self._retrying(once)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        return self._retrying(lambda: self._db.execute(sql, params).fetchall())

    def cursor(self) -> sqlite3.Cursor:
        """A raw cursor for streaming reads (exports). Do not write through it."""
        return self._db.cursor()

    # -- writing ----------------------------------------------------------------------

    def start_run(self, command: str, domain: str | None, config: BaseModel | dict[str, Any]
                  ) -> str:
        """Register a run (one ``solve``/``run`` invocation); returns its id."""
        run_id = uuid.uuid4().hex
        cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
        self.transaction(lambda cur: cur.execute(
            "INSERT INTO runs (id, command, domain, config, started_at) VALUES (?,?,?,?,?)",
            (run_id, command, domain, to_json(cfg), time.time())))
        return run_id

    def record_round(self, problem: Problem, attempts: Sequence[Attempt],
                     sampling: BaseModel | dict[str, Any], model: str | None,
                     run_id: str | None = None) -> list[int]:
        """Store one round's attempts (and any sound ACCEPT as a solution) atomically.

        Returns the attempts' row ids. Duplicate solutions (same problem, same canonical
        answer) are kept once.
        """
        return self.record_rounds([Round(problem, attempts, sampling, model)], run_id)[0]

    def record_rounds(self, rounds: Sequence[Round], run_id: str | None = None
                      ) -> list[list[int]]:
        """Store several rounds in one transaction (group commit): all or none."""
        now = time.time()
        return self.write([prepare(r, run_id, now) for r in rounds])

    def write(self, prepared: Sequence[Prepared]) -> list[list[int]]:
        """Store rounds already serialized by :func:`prepare`, in one transaction."""
        return self.transaction(lambda cur: _insert_rounds(cur, prepared))

    def record_search(self, problem: Problem, tree: SearchTree, model: str | None = None,
                      run_id: str | None = None) -> int:
        """Store one solve's search tree (every node, with its prefix verdict) in one
        transaction; returns its search id. A malformed tree raises :class:`ValueError`
        before anything is written."""
        return self.write_search(prepare_search(problem, tree, model, run_id))

    def write_search(self, prepared: PreparedSearch) -> int:
        """Store a tree already serialized by :func:`prepare_search`, in one transaction."""
        return self.transaction(lambda cur: _insert_search(cur, prepared))

    def write_result(self, result: PreparedResult) -> bool:
        """Store one problem's whole result at once: its rounds, its search tree, the flag
        changes of its corpus lookup and its ``run_results`` row, in one transaction.

        ``(run id, problem hash)`` is the result's identity: a result already recorded for
        this run is not stored again (returns False, nothing written); solutions are kept
        once per ``(problem hash, answer)`` whatever run finds them.
        """

        return self.transaction(lambda cur: _insert_result(cur, result))

    def write_results(self, results: Sequence[PreparedResult]) -> list[bool]:
        """:meth:`write_result` for several results in one transaction (all or none are
        stored); per result, False when its run had recorded it already (a copy within
        ``results`` too)."""
        if not results:
            return []
        return self.transaction(lambda cur: [_insert_result(cur, r) for r in results])

    def flag(self, solution_id: int, verifier_version: str, reason: str) -> None:
        """Mark a solution that today's verifier does not accept: never served or exported."""
        self.transaction(lambda cur: cur.execute(
            _FLAG, (time.time(), verifier_version, reason[:1000], solution_id)))

    def unflag(self, solution_id: int) -> None:
        self.transaction(lambda cur: cur.execute(_UNFLAG, (solution_id,)))

    # -- reading ----------------------------------------------------------------------

    def solutions(self, problem_hash: str) -> list[StoredSolution]:
        """Every stored solution of a problem (flagged ones too), oldest first."""
        return [_solution(row, problem_hash)
                for row in self.query(_SELECT_SOLUTIONS, (problem_hash,))]

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        tables = ("problems", "runs", "attempts", "solutions")
        return {t: int(self.query(f"SELECT count(*) FROM {t}")[0][0]) for t in tables}


def _insert_result(cur: sqlite3.Cursor, result: PreparedResult) -> bool:
    cur.execute(_INSERT_PROBLEM, result.problem_row)
    cur.execute(_INSERT_RUN_RESULT, result.result_row)
    if cur.rowcount == 0:
        return False  # this run recorded this problem already (a retry, a repeat)
    _insert_rounds(cur, result.rounds)
    if result.search is not None:
        _insert_search(cur, result.search)
    for solution_id, verifier_version, reason in result.flags:
        if verifier_version is None:
            cur.execute(_UNFLAG, (solution_id,))
        else:
            cur.execute(_FLAG, (time.time(), verifier_version, reason[:1000], solution_id))
    return True


def _solution(row: tuple[Any, ...], problem_hash: str) -> StoredSolution:
    (sid, answer, flag_version, rnd, sample, messages, completion, parse_error, status, sound,
     critiques, evidence, verifier, verifier_version, verify_s, p_tok, c_tok, finish) = row
    answer_value = json.loads(answer)
    attempt = Attempt(
        round=rnd, sample=sample,
        prompt=[Message(**m) for m in json.loads(messages)],
        completion=completion,
        candidate=Candidate(raw=completion, answer=answer_value, parse_error=parse_error),
        verdict=Verdict(status=Status(status), sound=bool(sound),
                        critiques=[Critique(**c) for c in json.loads(critiques)],
                        evidence=json.loads(evidence), verifier=verifier,
                        verifier_version=verifier_version, elapsed_s=verify_s),
        usage=Usage(prompt_tokens=p_tok, completion_tokens=c_tok),
        finish_reason=finish,
    )
    return StoredSolution(id=sid, problem_hash=problem_hash, answer=answer_value,
                          attempt=attempt, flag_verifier_version=flag_version)


def _insert_rounds(cur: sqlite3.Cursor, prepared: Sequence[Prepared]) -> list[list[int]]:
    """Insert prepared rounds inside the caller's transaction; their attempts' row ids."""
    cur.executemany(_INSERT_PROBLEM, [problem_row for problem_row, _, _ in prepared])
    cur.executemany(_INSERT_PROMPT, [kv for _, prompts, _ in prepared for kv in prompts.items()])
    attempt_rows = [row for _, _, rows in prepared for _, row in rows]
    if not attempt_rows:
        return [[] for _ in prepared]
    cur.executemany(_INSERT_ATTEMPT, attempt_rows)
    # the write lock is ours, so this transaction's rows took consecutive ids
    next_id = int(cur.execute("SELECT last_insert_rowid()").fetchone()[0])
    next_id -= len(attempt_rows) - 1
    ids, solutions = [], []
    for _, _, rows in prepared:
        round_ids = []
        for solution, _ in rows:
            round_ids.append(next_id)
            if solution is not None:
                solutions.append((*solution[:2], next_id, *solution[2:]))
            next_id += 1
        ids.append(round_ids)
    cur.executemany(_INSERT_SOLUTION, solutions)
    return ids


def _insert_search(cur: sqlite3.Cursor, p: PreparedSearch) -> int:
    """Insert a prepared search tree inside the caller's transaction; its search id."""
    cur.execute(_INSERT_PROBLEM, p.problem_row)
    cur.execute(_INSERT_PROMPT, p.prompt)
    cur.executemany(_INSERT_STEP_COMPLETION, list(p.completions.items()))
    cur.execute(_INSERT_SEARCH, p.search_row)
    search_id = int(cur.execute("SELECT last_insert_rowid()").fetchone()[0])
    rows = []
    for row, link in p.nodes:
        attempt_id = None
        if link is not None:
            attempt_id = cur.execute(_FIND_ATTEMPT, (p.problem_hash, p.run_id, *link)
                                     ).fetchone()[0]
        rows.append((search_id, *row, attempt_id))
    cur.executemany(_INSERT_NODE, rows)
    return search_id


@dataclass(frozen=True)
class Round:
    """One round of one problem, as the loop hands it over."""

    problem: Problem
    attempts: Sequence[Attempt]
    sampling: BaseModel | dict[str, Any]
    model: str | None


Prepared = tuple[tuple[Any, ...], dict[str, str], list[tuple[Any, tuple[Any, ...]]]]


def prepare(r: Round, run_id: str | None, now: float | None = None) -> Prepared:
    """Serialize a round for :meth:`Corpus.write`: (problem row, prompts, attempt rows).

    Done outside the transaction (and, by :class:`CorpusMemory`, outside the writer thread).
    """
    now = time.time() if now is None else now
    sampling = r.sampling
    params = sampling.model_dump(mode="json") if isinstance(sampling, BaseModel) else sampling
    sampling_json = to_json(params)
    seed = params.get("seed")
    problem_hash = r.problem.hash  # a computed property: hash once
    problem_row = (problem_hash, r.problem.domain, to_json(r.problem.payload), r.problem.id,
                   now)
    prompts: dict[str, str] = {}
    # a round's samples share their (frozen) Message objects: serialize the prompt once
    by_identity: dict[tuple[int, ...], str] = {}
    rows = []
    for a in r.attempts:
        key = tuple(map(id, a.prompt))
        prompt_hash = by_identity.get(key)
        if prompt_hash is None:
            messages = _MESSAGES.dump_json(a.prompt).decode()
            prompt_hash = hashlib.sha256(messages.encode()).hexdigest()
            prompts[prompt_hash] = messages
            by_identity[key] = prompt_hash
        v = a.verdict
        answer = None if a.candidate.answer is None else to_json(a.candidate.answer)
        evidence = to_json(v.evidence) if v.evidence else "{}"
        solution = ((problem_hash, answer, v.verifier, v.verifier_version, evidence, now)
                    if v.accepted and answer is not None else None)
        rows.append((solution, (
            problem_hash, run_id, a.round, a.sample, prompt_hash, _text(a.completion), answer,
            _text(a.candidate.parse_error), v.status.value, int(v.sound),
            _CRITIQUES.dump_json(v.critiques, fallback=str).decode() if v.critiques else "[]",
            len(v.critiques), evidence, v.verifier, v.verifier_version, v.elapsed_s,
            _text(r.model), sampling_json, seed, _count(a.usage.prompt_tokens),
            _count(a.usage.completion_tokens), _text(a.finish_reason), now)))
    return problem_row, prompts, rows


@dataclass(frozen=True)
class PreparedSearch:
    """A search tree serialized for :meth:`Corpus.write_search`."""

    problem_hash: str
    run_id: str | None
    problem_row: tuple[Any, ...]
    prompt: tuple[str, str]
    completions: dict[str, str]
    search_row: tuple[Any, ...]
    #: per node: its row (without search id and attempt id), and its (round, sample) link
    nodes: list[tuple[tuple[Any, ...], tuple[int, int] | None]]


_INT64 = 2**63 - 1


def _int(value: int | None, what: str) -> int | None:
    if value is not None and not -_INT64 <= value <= _INT64:
        raise ValueError(f"search tree: {what} {value} is out of range")
    return value


def prepare_search(problem: Problem, tree: SearchTree, model: str | None,
                   run_id: str | None, now: float | None = None) -> PreparedSearch:
    """Serialize a search tree (outside the transaction). Raises :class:`ValueError` for a
    tree that cannot be stored as it is (two nodes with one id, an integer out of range)."""
    now = time.time() if now is None else now
    problem_hash = problem.hash
    problem_row = (problem_hash, problem.domain, to_json(problem.payload), problem.id, now)
    messages = _MESSAGES.dump_json(tree.prompt).decode()
    prompt_hash = hashlib.sha256(messages.encode()).hexdigest()
    completions: dict[str, str] = {}
    by_text: dict[str, str] = {}
    nodes: list[tuple[tuple[Any, ...], tuple[int, int] | None]] = []
    seen: set[int] = set()
    for n in tree.nodes:
        if n.id in seen:
            raise ValueError(f"search tree: two nodes have id {n.id}")
        seen.add(n.id)
        completion_hash = None
        if n.completion is not None:
            completion_hash = by_text.get(n.completion)
            if completion_hash is None:
                text = replace_surrogates(n.completion)
                completion_hash = hashlib.sha256(text.encode()).hexdigest()
                by_text[n.completion] = completion_hash
                completions[completion_hash] = text
        v = n.verdict
        verdict_cols: tuple[Any, ...] = (None,) * 6
        if v is not None:
            verdict_cols = (
                v.status.value, int(v.sound),
                _CRITIQUES.dump_json(v.critiques, fallback=str).decode() if v.critiques else "[]",
                _text(v.verifier), _text(v.verifier_version),
                to_json(v.evidence) if v.evidence else "{}")
        link = None
        if n.attempt is not None:
            _int(n.attempt[0], "attempt round")
            _int(n.attempt[1], "attempt sample")
            link = (n.attempt[0], n.attempt[1])
        value = n.value if math.isfinite(n.value) or math.isinf(n.value) else None
        nodes.append(((
            _int(n.id, "node id"), _int(n.parent, "parent"), _int(n.depth, "depth"),
            None if n.step is None else _text(n.step.text),
            None if n.step is None else to_json(n.step.data), completion_hash,
            *verdict_cols, int(n.terminal), _int(n.visits, "visits"), value,
            n.prior if n.prior is None or math.isfinite(n.prior) else None,
            *(link or (None, None))), link))
    search_row = (problem_hash, run_id, _text(tree.strategy), prompt_hash, _text(model),
                  len(tree.nodes), now)
    return PreparedSearch(problem_hash, run_id, problem_row, (prompt_hash, messages),
                          completions, search_row, nodes)


def _text(value: str | None) -> str | None:
    """Text SQLite can store: a lone surrogate (which UTF-8 cannot encode) becomes U+FFFD."""
    return None if value is None else replace_surrogates(value)


def _count(value: int) -> int:
    """A token count within SQLite's integers (and far from overflowing their sums)."""
    return max(0, min(value, 2**31 - 1))


#: A flag change found by a corpus lookup: (solution id, verifier version, reason); a
#: version of None clears the flag (today's verifier accepts the solution again).
FlagChange = tuple[int, str | None, str]


@dataclass(frozen=True)
class PreparedResult:
    """One problem's whole result serialized for :meth:`Corpus.write_result`."""

    problem_hash: str
    problem_row: tuple[Any, ...]
    result_row: tuple[Any, ...]
    rounds: list[Prepared]
    search: PreparedSearch | None
    flags: list[FlagChange]


def prepare_result(problem: Problem, rounds: Sequence[Prepared], search: PreparedSearch | None,
                   flags: Sequence[FlagChange], *, run_id: str, stop_reason: str, solved: bool,
                   engine: str, node_id: str | None, hostname: str | None,
                   now: float | None = None) -> PreparedResult:
    """A result for :meth:`Corpus.write_result` from rounds and a tree serialized (where the
    problem was solved) by :func:`prepare` and :func:`prepare_search` under ``run_id``."""
    now = time.time() if now is None else now
    problem_hash = problem.hash
    problem_row = (problem_hash, problem.domain, to_json(problem.payload), problem.id, now)
    result_row = (run_id, problem_hash, stop_reason, int(solved), engine, _text(node_id),
                  _text(hostname), now)
    return PreparedResult(problem_hash, problem_row, result_row, list(rounds), search,
                          list(flags))
