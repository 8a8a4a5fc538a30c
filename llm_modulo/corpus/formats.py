"""Export the corpus as training data: ``sft``, ``dpo``, ``openai``, ``parquet``, ``verl``,
``prm``.

Every format streams: one SQL statement read in batches, rows turned into records, records
written as they come (JSONL lines, or pyarrow record batches into a Parquet file). Files are
written under a temporary name and renamed when complete.

What goes in: only sound ACCEPTs as answers (solutions not flagged by a later verifier), only
sound REJECTs as negatives. UNKNOWN verdicts never appear. ``prm`` rows are step-level process
labels from stored search trees: sound prefix verdicts only (see :mod:`llm_modulo.corpus.prm`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_modulo.corpus import prm
from llm_modulo.corpus.kinds import FORMATS as FORMATS
from llm_modulo.corpus.kinds import ExportFormat, SftStyle
from llm_modulo.corpus.store import Corpus, check_output_path
from llm_modulo.errors import UsageError
from llm_modulo.types import Candidate, Problem, Status

Format = ExportFormat
BATCH_ROWS = 20_000
_EXTENSIONS = {"sft": ".jsonl", "dpo": ".jsonl", "openai": ".jsonl", "parquet": ".parquet",
               "verl": ".parquet", "prm": ".jsonl"}


class ExportOptions(BaseModel):
    """What to export and where. Filters apply to the attempts a row is built from."""

    model_config = ConfigDict(frozen=True)

    format: ExportFormat
    out: Path
    domains: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    since: datetime | None = Field(default=None, description="attempts made at or after")
    until: datetime | None = Field(default=None, description="attempts made before")
    min_round: int | None = Field(default=None, ge=1)
    max_round: int | None = Field(default=None, ge=1)
    #: train fraction; rows go to ``OUT.train.EXT`` / ``OUT.test.EXT`` by problem hash
    split: float | None = Field(default=None, gt=0.0, lt=1.0)
    reverify: bool = False
    #: ``sft`` rows: ``{"messages"}`` or ``{"prompt", "completion"}`` (both conversational)
    sft_style: SftStyle = SftStyle.MESSAGES

    @model_validator(mode="after")
    def _rounds(self) -> ExportOptions:
        if self.min_round and self.max_round and self.min_round > self.max_round:
            raise ValueError(f"min_round {self.min_round} is above max_round {self.max_round}")
        return self

    def where(self, table: str = "a") -> tuple[str, list[Any]]:
        """SQL conditions on ``table`` (``a``: attempts; ``s``: searches, which have no
        rounds) and ``p`` (problems), and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (("p.domain", self.domains), (f"{table}.run_id", self.runs)):
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        for cond, value in ((f"{table}.created_at >= ?", _epoch(self.since)),
                            (f"{table}.created_at < ?", _epoch(self.until)),
                            (f"{table}.round >= ?", self.min_round),
                            (f"{table}.round <= ?", self.max_round)):
            if value is not None:
                clauses.append(cond)
                params.append(value)
        return " AND ".join(clauses) or "1 = 1", params

    def paths(self) -> dict[str, Path]:
        """Output file per split side (``all`` without a split)."""
        if self.split is None:
            return {"all": self.out}
        suffix = self.out.suffix or _EXTENSIONS[self.format]
        stem = self.out.name[: -len(self.out.suffix)] if self.out.suffix else self.out.name
        return {side: self.out.with_name(f"{stem}.{side}{suffix}") for side in ("train", "test")}


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def side_of(problem_hash: str, split: float | None) -> str:
    """``train`` or ``test`` for a problem, from its hash: a problem is never on both sides."""
    if split is None:
        return "all"
    return "train" if int(problem_hash[:8], 16) / 0x1_0000_0000 < split else "test"


class ExportReport(BaseModel):
    files: dict[str, int] = Field(description="output path -> rows written")
    dropped: int = Field(default=0, description="rows --reverify dropped")


# -- records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One answer a row relies on, and the verdict it must still get under --reverify."""

    domain: str
    payload: str
    completion: str
    answer: str | None
    parse_error: str | None
    expect: Status
    #: a prefix check instead of a whole-answer check: the steps as (text, data JSON)
    steps: tuple[tuple[str, str], ...] | None = None


@dataclass(slots=True)
class Item:
    """One output row: a JSON line (str), a Parquet row (tuple in schema order, or dict),
    and the answers it relies on (only collected under --reverify)."""

    problem_hash: str
    row: str | tuple[Any, ...] | dict[str, Any]
    checks: tuple[Check, ...] = field(default=())


_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _assistant(text: str) -> str:
    """``[{"role": "assistant", "content": text}]`` as JSON."""
    return f'[{{"role":"assistant","content":{_dumps(text)}}}]'


class _Prompts:
    """Parsed and serialized prompts by prompt hash (prompts repeat across samples)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._full: dict[str, list[dict[str, str]]] = {}
        self._initial: dict[str, list[dict[str, str]]] = {}
        self._initial_json: dict[str, str] = {}

    def full(self, key: str, text: str) -> list[dict[str, str]]:
        found = self._full.get(key)
        if found is None:
            if len(self._full) >= self.size:
                self._full.clear()
                self._initial.clear()
                self._initial_json.clear()
            found = self._full[key] = json.loads(text)
        return found

    def initial(self, key: str, text: str) -> list[dict[str, str]]:
        """The first prompt: messages up to and including the first user turn."""
        found = self._initial.get(key)
        if found is None:
            messages = self.full(key, text)
            end = next((i for i, m in enumerate(messages) if m["role"] == "user"), 0)
            found = self._initial[key] = messages[: end + 1]
        return found

    def initial_json(self, key: str, text: str) -> str:
        found = self._initial_json.get(key)
        if found is None:
            found = self._initial_json[key] = _dumps(self.initial(key, text))
        return found

    def is_first(self, key: str, text: str) -> bool:
        return len(self.full(key, text)) == len(self.initial(key, text))


def _rows(corpus: Corpus, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    cur = corpus.cursor()
    try:
        cur.execute(sql, params)
        while batch := cur.fetchmany(BATCH_ROWS):
            yield from batch
    finally:
        cur.close()


def _chunks(items: Iterable[Item]) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= BATCH_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_FROM = ("FROM attempts a JOIN problems p ON p.hash = a.problem_hash"
         " JOIN prompts pr ON pr.hash = a.prompt_hash")


def _sft(corpus: Corpus, opts: ExportOptions) -> Iterator[Item]:
    """One row per verified solution: the first prompt, and the accepted answer."""
    where, params = opts.where()
    sql = ("SELECT a.problem_hash, p.domain, p.payload, a.prompt_hash, pr.messages,"
           " a.completion, s.answer " + _FROM + " JOIN solutions s ON s.attempt_id = a.id"
           f" WHERE s.flagged_at IS NULL AND {where} ORDER BY s.id")
    prompts = _Prompts()
    for h, domain, payload, prompt_hash, messages, completion, answer in _rows(corpus, sql,
                                                                                params):
        prompt = prompts.initial_json(prompt_hash, messages)
        reply = _assistant(completion)
        meta = f',"domain":{_dumps(domain)},"problem_hash":"{h}"}}'
        if opts.format is ExportFormat.OPENAI:
            row = f'{{"messages":{prompt[:-1]},{reply[1:]}}}'
        elif opts.sft_style is SftStyle.MESSAGES:
            row = f'{{"messages":{prompt[:-1]},{reply[1:]}{meta}'
        else:
            row = f'{{"prompt":{prompt},"completion":{reply}{meta}'
        checks = ((Check(domain, payload, completion, answer, None, Status.ACCEPT),)
                  if opts.reverify else ())
        yield Item(h, row, checks)


# the columns of the attempt rows _dpo reads
(_H, _DOMAIN, _PAYLOAD, _ROUND, _PROMPT_HASH, _MESSAGES, _COMPLETION, _ANSWER, _PARSE_ERROR,
 _STATUS, _IS_SOLUTION) = range(11)


def _check(a: tuple[Any, ...]) -> Check:
    expect = Status.ACCEPT if a[_STATUS] == "accept" else Status.REJECT
    return Check(a[_DOMAIN], a[_PAYLOAD], a[_COMPLETION], a[_ANSWER], a[_PARSE_ERROR], expect)


def _dpo(corpus: Corpus, opts: ExportOptions) -> Iterator[Item]:
    """Preference pairs (verified vs REJECTed answer to the first prompt) and revision pairs
    (the back-prompt with a rejected answer and its critique; chosen: the verified fix)."""
    where, params = opts.where()
    sql = ("SELECT a.problem_hash, p.domain, p.payload, a.round, a.prompt_hash, pr.messages,"
           " a.completion, a.answer, a.parse_error, a.status,"
           " s.id IS NOT NULL AND s.flagged_at IS NULL " + _FROM +
           " LEFT JOIN solutions s ON s.attempt_id = a.id"
           f" WHERE a.sound = 1 AND a.status IN ('accept', 'reject') AND {where}"
           " ORDER BY a.problem_hash, a.run_id, a.round, a.id")
    prompts = _Prompts()
    for h, group in groupby(_rows(corpus, sql, params), key=lambda a: a[_H]):
        attempts = list(group)
        chosen = [a for a in attempts if a[_IS_SOLUTION]]
        if not chosen:
            continue
        # an answer both accepted and rejected (verifier versions disagree) is no negative
        accepted = {a[_ANSWER] for a in chosen}
        rejected = [a for a in attempts if a[_STATUS] == "reject" and a[_ANSWER] not in accepted]
        meta = f',"domain":{_dumps(chosen[0][_DOMAIN])},"problem_hash":"{h}"}}'
        seen: set[str] = set()
        for r in rejected:
            if r[_COMPLETION] in seen:
                continue
            seen.add(r[_COMPLETION])
            c = chosen[(len(seen) - 1) % len(chosen)]
            prompt = prompts.initial_json(r[_PROMPT_HASH], r[_MESSAGES])
            row = (f'{{"prompt":{prompt},"chosen":{_assistant(c[_COMPLETION])},'
                   f'"rejected":{_assistant(r[_COMPLETION])},"kind":"preference"{meta}')
            yield Item(h, row, (_check(c), _check(r)) if opts.reverify else ())
        for c in chosen:
            if prompts.is_first(c[_PROMPT_HASH], c[_MESSAGES]):
                continue  # answered the first prompt: no revision
            messages = prompts.full(c[_PROMPT_HASH], c[_MESSAGES])
            previous = messages[-2]["content"] if len(messages) >= 2 else None
            bad = (next((r for r in rejected if r[_PROMPT_HASH] == c[_PROMPT_HASH]), None)
                   or next((r for r in rejected if r[_ROUND] == c[_ROUND] - 1
                            and r[_COMPLETION] == previous), None))
            if bad is None:
                continue
            row = (f'{{"prompt":{c[_MESSAGES]},"chosen":{_assistant(c[_COMPLETION])},'
                   f'"rejected":{_assistant(bad[_COMPLETION])},"kind":"revision"{meta}')
            yield Item(h, row, (_check(c), _check(bad)) if opts.reverify else ())


_MESSAGE_LIST = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
PARQUET_SCHEMA = pa.schema([
    ("attempt_id", pa.int64()), ("problem_hash", pa.string()), ("domain", pa.string()),
    ("problem", pa.string()), ("run_id", pa.string()), ("round", pa.int32()),
    ("sample", pa.int32()), ("prompt", _MESSAGE_LIST),
    ("completion", pa.string()), ("answer", pa.string()), ("parse_error", pa.string()),
    ("verdict", pa.string()), ("critiques", pa.string()), ("critique_trail", pa.string()),
    ("evidence", pa.string()), ("verifier", pa.string()), ("verifier_version", pa.string()),
    ("model", pa.string()), ("sampling", pa.string()), ("seed", pa.int64()),
    ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
    ("finish_reason", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
])


def _parquet(corpus: Corpus, opts: ExportOptions) -> Iterator[Item]:
    """One row per sound ACCEPT or REJECT attempt, with provenance and the critique trail
    (per earlier round of the same run: the critiques the model was shown)."""
    where, params = opts.where()
    sql = ("SELECT a.id, a.problem_hash, p.domain, p.payload, a.run_id, a.round, a.sample,"
           " a.prompt_hash, pr.messages, a.completion, a.answer, a.parse_error, a.status,"
           " a.critiques, a.evidence, a.verifier, a.verifier_version, a.model, a.sampling,"
           " a.seed, a.prompt_tokens, a.completion_tokens, a.finish_reason, a.created_at,"
           " a.critique_count "
           + _FROM + " LEFT JOIN solutions s ON s.problem_hash = a.problem_hash"
           " AND s.answer = a.answer"
           f" WHERE a.sound = 1 AND a.status IN ('accept', 'reject') AND {where}"
           " AND NOT (a.status = 'accept' AND s.flagged_at IS NOT NULL)"
           " ORDER BY a.problem_hash, a.run_id, a.round, a.id")
    prompts = _Prompts()
    for _, group in groupby(_rows(corpus, sql, params), key=lambda r: (r[1], r[4])):
        trail: list[str] = []  # per finished round: the critiques fed back, as JSON
        trail_json = "[]"
        current, fewest, fewest_n = 0, None, 0
        for r in group:
            rnd, status, critiques, count = r[5], r[12], r[13], r[24]
            if rnd != current:
                if fewest is not None:
                    trail.append(f'{{"round":{current},"critiques":{fewest}}}')
                    trail_json = "[" + ",".join(trail) + "]"
                current, fewest = rnd, None
            # the loop feeds back the rejected attempt with the fewest critiques (first wins)
            if status == "reject" and (fewest is None or count < fewest_n):
                fewest, fewest_n = critiques, count
            row = (*r[:7], prompts.full(r[7], r[8]), *r[9:14], trail_json, *r[14:24])
            checks = ((Check(r[2], r[3], r[9], r[10], r[11],
                             Status.ACCEPT if status == "accept" else Status.REJECT),)
                      if opts.reverify else ())
            yield Item(r[1], row, checks)


VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", _MESSAGE_LIST),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([
        ("split", pa.string()), ("index", pa.int64()), ("problem_hash", pa.string()),
        ("domain", pa.string()), ("verifier", pa.string()), ("verifier_version", pa.string()),
        ("solved", pa.bool_()),
    ])),
])


def _verl(corpus: Corpus, opts: ExportOptions) -> Iterator[Item]:
    """One row per problem (RL prompts): the reward is the domain's verifier, so the
    ``ground_truth`` is the problem itself (canonical JSON), never an answer."""
    where, params = opts.where()
    sql = ("SELECT p.hash, p.domain, p.payload, a.prompt_hash, pr.messages, a.verifier,"
           " a.verifier_version, EXISTS (SELECT 1 FROM solutions s WHERE"
           " s.problem_hash = p.hash AND s.flagged_at IS NULL)"
           " FROM (SELECT a.problem_hash AS h, min(a.id) AS first_id"
           " FROM attempts a JOIN problems p ON p.hash = a.problem_hash"
           f" WHERE {where} GROUP BY a.problem_hash) f"
           " JOIN problems p ON p.hash = f.h JOIN attempts a ON a.id = f.first_id"
           " JOIN prompts pr ON pr.hash = a.prompt_hash ORDER BY p.hash")
    prompts = _Prompts()
    for index, (h, domain, payload, prompt_hash, messages, verifier, version, solved) in (
            enumerate(_rows(corpus, sql, params))):
        side = side_of(h, opts.split)
        yield Item(h, {
            "data_source": f"llm_modulo/{domain}",
            "prompt": prompts.initial(prompt_hash, messages),
            "ability": domain,
            "reward_model": {"style": "rule", "ground_truth": payload},
            "extra_info": {"split": "train" if side == "all" else side, "index": index,
                           "problem_hash": h, "domain": domain, "verifier": verifier,
                           "verifier_version": version, "solved": bool(solved)},
        })


def _prm(corpus: Corpus, opts: ExportOptions) -> Iterator[Item]:
    """Step-level process labels (TRL's stepwise supervision): one row per maximal labelled
    root-to-node path of a stored search tree; identical rows of one root prompt once."""
    where, params = opts.where("s")
    sql = ("SELECT s.id, s.problem_hash, p.domain, p.payload, s.prompt_hash, pr.messages,"
           " s.strategy, n.node_id, n.parent, n.step_text, n.step_data, n.status, n.sound,"
           " n.terminal, n.verifier, n.verifier_version,"
           " CASE WHEN a.sound = 1 THEN a.status END, sol.flagged_at IS NOT NULL"
           " FROM searches s JOIN problems p ON p.hash = s.problem_hash"
           " JOIN prompts pr ON pr.hash = s.prompt_hash"
           " JOIN search_nodes n ON n.search_id = s.id"
           " LEFT JOIN attempts a ON a.id = n.attempt_id"
           " LEFT JOIN solutions sol ON sol.problem_hash = a.problem_hash"
           " AND sol.answer = a.answer"
           f" WHERE {where} ORDER BY s.prompt_hash, s.id, n.node_id")
    seen: set[tuple[tuple[str, ...], tuple[bool, ...]]] = set()
    current_prompt = None
    for _, group in groupby(_rows(corpus, sql, params), key=lambda r: r[0]):
        rows = list(group)
        h, domain, payload, prompt_hash, messages, strategy = rows[0][1:7]
        if prompt_hash != current_prompt:
            current_prompt, seen = prompt_hash, set()
        prompt = prm.prompt_text(json.loads(messages))
        if not prompt:
            continue  # a tree without a root prompt gives no trainable row
        nodes = [prm.Node(r[7], r[8], r[9], r[10], r[11], bool(r[12]), bool(r[13]), r[14],
                          r[15], r[16], bool(r[17])) for r in rows]
        meta = f',"domain":{_dumps(domain)},"problem_hash":"{h}","strategy":{_dumps(strategy)}'
        for path, labels in prm.labelled_paths(nodes):
            steps = tuple(n.step_text or "" for n in path)
            key = (steps, tuple(labels))
            if key in seen:
                continue
            seen.add(key)
            last = path[-1]
            row = (f'{{"prompt":{_dumps(prompt)},"completions":{_dumps(list(steps))},'
                   f'"labels":{_dumps(labels)}{meta},"verifier":{_dumps(last.verifier)},'
                   f'"verifier_version":{_dumps(last.verifier_version)}}}')
            checks: tuple[Check, ...] = ()
            if opts.reverify:
                pairs = tuple((n.step_text or "", n.step_data or "{}") for n in path)
                checks = tuple(Check(domain, payload, "", None, None,
                                     Status.ACCEPT if ok else Status.REJECT, pairs[: i + 1])
                               for i, ok in enumerate(labels))
            yield Item(h, row, checks)


_PRODUCERS: dict[str, Callable[[Corpus, ExportOptions], Iterator[Item]]] = {
    "sft": _sft, "openai": _sft, "dpo": _dpo, "parquet": _parquet, "verl": _verl, "prm": _prm,
}
_SCHEMAS = {"parquet": PARQUET_SCHEMA, "verl": VERL_SCHEMA}


# -- sinks ------------------------------------------------------------------------------


class _Sink(Protocol):
    rows: int

    def write(self, rows: list[Any]) -> None: ...

    def close(self) -> None: ...


class _JsonlSink:
    """Rows arrive as ready JSON text."""

    def __init__(self, path: Path) -> None:
        self.rows = 0
        self._fh = path.open("w", encoding="utf-8")

    def write(self, rows: list[Any]) -> None:
        self._fh.write("\n".join(rows) + "\n")
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


class _ParquetSink:
    """Rows arrive as dicts, or as tuples in schema order (built column by column)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.rows = 0
        self.schema = schema
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, rows: list[Any]) -> None:
        if isinstance(rows[0], dict):
            table = pa.Table.from_pylist(rows, schema=self.schema)
        else:
            table = pa.Table.from_arrays(
                [_column(list(values), f.type)
                 for values, f in zip(zip(*rows, strict=True), self.schema, strict=True)],
                schema=self.schema)
        self._writer.write_table(table)
        self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(kind):  # UNIX seconds -> microseconds
        seconds = pa.array(values, pa.float64())
        return pc.cast(pc.multiply(seconds, 1_000_000), pa.int64(), safe=False).cast(kind)
    if pa.types.is_list(kind):  # repeated objects (a round's shared prompt) converted once
        positions: dict[int, int] = {}
        unique: list[Any] = []
        indices = []
        for v in values:
            at = positions.get(id(v))
            if at is None:
                at = positions[id(v)] = len(unique)
                unique.append(v)
            indices.append(at)
        return pa.array(unique, kind).take(pa.array(indices, pa.int32()))
    return pa.array(values, kind)


# -- re-verification --------------------------------------------------------------------


class Reverifier:
    """Re-checks answers with today's registered verifiers (in the worker pool)."""

    def __init__(self, registry: Any = None, *, pool: Any = None, concurrency: int = 64) -> None:
        from llm_modulo.registry import default_registry

        self.registry = registry or default_registry
        self.pool = pool
        self.concurrency = concurrency
        self._plugins: dict[str, tuple[Any, Any]] = {}

    def _plugin(self, domain: str) -> tuple[Any, Any]:
        """The domain and verifier registered today under ``domain``."""
        if domain not in self._plugins:
            try:
                self._plugins[domain] = self.registry.domain_and_verifier(domain)
            except Exception as exc:
                raise UsageError(f"cannot re-verify domain {domain!r}: {exc}") from None
        return self._plugins[domain]

    def _verifier(self, domain: str) -> Any:
        return self._plugin(domain)[1]

    def passes(self, checks: list[Check]) -> list[bool]:
        return asyncio.run(self._all(checks))

    async def _all(self, checks: list[Check]) -> list[bool]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(c: Check) -> bool:
            if c.steps is not None:
                return await self._prefix(c, gate)
            verifier = self._verifier(c.domain)
            problem = Problem(domain=c.domain, payload=json.loads(c.payload))
            candidate = Candidate(raw=c.completion,
                                  answer=None if c.answer is None else json.loads(c.answer),
                                  parse_error=c.parse_error)
            async with gate:
                verdict = await verifier.averify(problem, candidate, pool=self.pool)
            if c.expect is Status.ACCEPT:
                return bool(verdict.accepted)
            return verdict.status is Status.REJECT

        return list(await asyncio.gather(*(one(c) for c in checks)))

    async def _prefix(self, c: Check, gate: asyncio.Semaphore) -> bool:
        """Today's sound prefix check gives the stored label (a process label is re-checked
        like an answer: ACCEPT stays ACCEPT, REJECT stays REJECT)."""
        import time
        from dataclasses import replace

        from llm_modulo.corpus.prm import check_prefix_of
        from llm_modulo.pool import default_pool
        from llm_modulo.stepwise import is_stepwise
        from llm_modulo.types import Step

        domain, verifier = self._plugin(c.domain)
        if not is_stepwise(domain, verifier):
            raise UsageError(f"cannot re-verify the process labels of domain {c.domain!r}: "
                             "today it is not stepwise, or its verifier checks no prefixes")
        try:
            problem = Problem(domain=c.domain, payload=json.loads(c.payload))
            steps = [Step(text=text, data=json.loads(data)) for text, data in c.steps or ()]
        except ValueError:  # a stored step that no longer reads: the label is not confirmed
            return False
        task = verifier.task(check_prefix_of, (domain, verifier, problem, steps))
        task = replace(task, warm=(*task.warm, type(domain).__module__))
        start = time.monotonic()
        async with gate:
            try:
                outcome = (await (self.pool or default_pool()).arun_many([task]))[0]
            except Exception:
                return False  # the pool failed: the label is not confirmed
        verdict = verifier._verdict(outcome, start)
        return bool(verdict.sound and verdict.status is c.expect)


class Rechecker(Protocol):
    """What ``export --reverify`` asks: does each check still get its verdict today
    (:class:`Reverifier` here, ``ray_engine.RayReverifier`` on a Ray cluster)."""

    def passes(self, checks: list[Check]) -> list[bool]: ...


def _reverified(chunk: list[Item], reverifier: Rechecker) -> list[Item]:
    """The items all of whose answers get the expected verdict today."""
    # rows share answers and prefixes (a path's prefixes are other rows' too): check each once
    unique = list(dict.fromkeys(c for item in chunk for c in item.checks))
    passed = dict(zip(unique, reverifier.passes(unique), strict=True))
    return [item for item in chunk if all(passed[c] for c in item.checks)]


# -- the export -------------------------------------------------------------------------


def export(corpus: Corpus, options: ExportOptions, *,
           reverifier: Rechecker | None = None) -> ExportReport:
    """Write ``options.format`` rows to ``options.out`` (or its train/test files)."""
    if options.reverify and options.format is ExportFormat.VERL:
        raise UsageError("--reverify re-checks answers, and verl rows carry none "
                         "(their reward is the verifier itself)")
    if options.format is ExportFormat.PRM and (options.min_round or options.max_round):
        raise UsageError("--min-round/--max-round select attempts by round; prm rows come "
                         "from search trees, which have no rounds")
    paths = options.paths()
    for path in paths.values():
        check_output_path(path, corpus.path)
    # per process: two exports to one OUT never write into the same temporary file
    partial = {side: path.with_name(f"{path.name}.{os.getpid()}.partial")
               for side, path in paths.items()}
    schema = _SCHEMAS.get(options.format)
    sinks: dict[str, _Sink] = {}
    try:
        for side, p in partial.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            sinks[side] = _ParquetSink(p, schema) if schema is not None else _JsonlSink(p)
    except OSError as exc:
        for side, sink in sinks.items():
            sink.close()
            partial[side].unlink(missing_ok=True)
        raise UsageError(f"cannot write {exc.filename or options.out}: "
                         f"{exc.strerror or exc}") from None
    checker: Rechecker | None = (reverifier or Reverifier()) if options.reverify else None
    dropped = 0
    try:
        for chunk in _chunks(_PRODUCERS[options.format](corpus, options)):
            if checker is not None:
                kept = _reverified(chunk, checker)
                dropped += len(chunk) - len(kept)
                chunk = kept
            by_side: dict[str, list[Any]] = {side: [] for side in sinks}
            for item in chunk:
                by_side[side_of(item.problem_hash, options.split)].append(item.row)
            for side, rows in by_side.items():
                if rows:
                    sinks[side].write(rows)
    except BaseException as exc:
        for side, sink in sinks.items():
            with contextlib.suppress(Exception):
                sink.close()
            partial[side].unlink(missing_ok=True)
        if isinstance(exc, OSError):  # e.g. the disk filled up
            raise UsageError(f"cannot write {exc.filename or options.out}: "
                             f"{exc.strerror or exc}") from None
        raise
    for sink in sinks.values():
        sink.close()
    try:
        for side, path in paths.items():
            os.replace(partial[side], path)
    except OSError as exc:
        for p in partial.values():
            p.unlink(missing_ok=True)
        raise UsageError(f"cannot write {exc.filename or options.out}: "
                         f"{exc.strerror or exc}") from None
    return ExportReport(files={str(paths[s]): sinks[s].rows for s in sinks}, dropped=dropped)
