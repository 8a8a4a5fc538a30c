"""The corpus schema: plain tables, plain types, portable to PostgreSQL.

Only TEXT, INTEGER and REAL columns; JSON is stored as canonical JSON text (``jsonb`` in
PostgreSQL); booleans are 0/1; times are UNIX seconds (UTC) as REAL. Identity columns are
``INTEGER PRIMARY KEY`` (``BIGINT GENERATED ALWAYS AS IDENTITY`` in PostgreSQL).
"""

from __future__ import annotations

#: Bumped only when a change would break a reader of the previous version. Tables added with
#: ``CREATE TABLE IF NOT EXISTS`` (the search, lineage and run-result tables) do not count: an older
#: corpus gains them when it is next opened, and an older llm-modulo simply ignores them.
SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS problems (
    hash       TEXT PRIMARY KEY,          -- Problem.hash: sha256 of canonical domain + payload
    domain     TEXT NOT NULL,
    payload    TEXT NOT NULL,             -- canonical JSON
    problem_id TEXT,                      -- the caller's identifier when first seen
    created_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    id         TEXT PRIMARY KEY,          -- uuid4 hex
    command    TEXT NOT NULL,             -- solve, run, demo, api
    domain     TEXT,
    config     TEXT NOT NULL,             -- LoopConfig as JSON
    started_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS prompts (
    hash     TEXT PRIMARY KEY,            -- sha256 of messages
    messages TEXT NOT NULL                -- JSON list of {role, content}
);

CREATE TABLE IF NOT EXISTS attempts (
    id                INTEGER PRIMARY KEY,
    problem_hash      TEXT NOT NULL REFERENCES problems(hash),
    run_id            TEXT REFERENCES runs(id),
    round             INTEGER NOT NULL,
    sample            INTEGER NOT NULL,
    prompt_hash       TEXT NOT NULL REFERENCES prompts(hash),
    completion        TEXT NOT NULL,
    answer            TEXT,               -- parsed candidate, canonical JSON; NULL: unparseable
    parse_error       TEXT,
    status            TEXT NOT NULL CHECK (status IN ('accept', 'reject', 'unknown')),
    sound             INTEGER NOT NULL,   -- 1 when the verifier is sound
    critiques         TEXT NOT NULL,      -- JSON list of {kind, message, location, data}
    critique_count    INTEGER NOT NULL,
    evidence          TEXT NOT NULL,      -- JSON object
    verifier          TEXT NOT NULL,
    verifier_version  TEXT NOT NULL,
    verify_s          REAL NOT NULL,
    model             TEXT,
    sampling          TEXT NOT NULL,      -- SamplingParams of the request as JSON
    seed              INTEGER,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason     TEXT,
    created_at        REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_problem ON attempts (problem_hash, run_id, round);
CREATE INDEX IF NOT EXISTS attempts_by_run ON attempts (run_id);

-- Sound ACCEPTs only. One row per (problem, canonical answer), however often it was found.
CREATE TABLE IF NOT EXISTS solutions (
    id                    INTEGER PRIMARY KEY,
    problem_hash          TEXT NOT NULL REFERENCES problems(hash),
    answer                TEXT NOT NULL,  -- canonical JSON of the accepted candidate
    attempt_id            INTEGER NOT NULL REFERENCES attempts(id),
    verifier              TEXT NOT NULL,
    verifier_version      TEXT NOT NULL,
    evidence              TEXT NOT NULL,
    created_at            REAL NOT NULL,
    -- set when a later verifier no longer accepts it: never served, never exported
    flagged_at            REAL,
    flag_verifier_version TEXT,
    flag_reason           TEXT,
    UNIQUE (problem_hash, answer)
);
CREATE INDEX IF NOT EXISTS solutions_by_attempt ON solutions (attempt_id);

-- One row per solve whose strategy built a search tree (beam, mcts).
CREATE TABLE IF NOT EXISTS searches (
    id           INTEGER PRIMARY KEY,     -- the search id (one per solve)
    problem_hash TEXT NOT NULL REFERENCES problems(hash),
    run_id       TEXT REFERENCES runs(id),
    strategy     TEXT NOT NULL,
    prompt_hash  TEXT NOT NULL REFERENCES prompts(hash),  -- the tree's root prompt
    model        TEXT,
    nodes        INTEGER NOT NULL,        -- node count, root included
    created_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_by_problem ON searches (problem_hash, run_id);
CREATE INDEX IF NOT EXISTS searches_by_run ON searches (run_id);

-- The completions search steps were read from, stored once (one completion gives many steps).
CREATE TABLE IF NOT EXISTS step_completions (
    hash TEXT PRIMARY KEY,                -- sha256 of the text
    text TEXT NOT NULL
);

-- One row per search-tree node. The verdict columns are the sound prefix check's: ACCEPT =
-- the prefix may still be part of a correct answer, REJECT = proven dead (a negative process
-- label), UNKNOWN = undecided (never a label). The root (node_id 0) has no step or verdict.
CREATE TABLE IF NOT EXISTS search_nodes (
    search_id        INTEGER NOT NULL REFERENCES searches(id),
    node_id          INTEGER NOT NULL,
    parent           INTEGER,             -- node_id of the parent; NULL at the root
    depth            INTEGER NOT NULL,
    step_text        TEXT,
    step_data        TEXT,                -- canonical JSON
    completion_hash  TEXT REFERENCES step_completions(hash),
    status           TEXT CHECK (status IN ('accept', 'reject', 'unknown')),
    sound            INTEGER,
    critiques        TEXT,                -- JSON list of {kind, message, location, data}
    verifier         TEXT,
    verifier_version TEXT,
    evidence         TEXT,                -- JSON object
    terminal         INTEGER NOT NULL,    -- the prefix is a complete answer
    visits           INTEGER NOT NULL,
    value            REAL,                -- NULL: not a number
    prior            REAL,
    attempt_round    INTEGER,             -- (round, sample) of the whole-answer attempt
    attempt_sample   INTEGER,             -- judged at this node
    attempt_id       INTEGER REFERENCES attempts(id),  -- that attempt, when it was found
    PRIMARY KEY (search_id, node_id)
);

-- Lineage of self-improvement (``llm-modulo improve``): one row per checkpoint (the base model
-- too, with no parent), the runs whose verified solutions trained it, and its manifest.
CREATE TABLE IF NOT EXISTS checkpoints (
    name        TEXT PRIMARY KEY,         -- the served model name, the attempts' model
    parent      TEXT,                     -- the checkpoint it was fine-tuned from
    path        TEXT NOT NULL,            -- its Hugging Face folder when it was made
    improve_run TEXT,                     -- the improve run (its id) that made it
    iteration   INTEGER NOT NULL,
    data_hash   TEXT,                     -- sha256 of the training file(s)
    train_rows  INTEGER,
    trained_on  TEXT NOT NULL,            -- JSON list of run ids whose solutions it learnt
    manifest    TEXT NOT NULL,            -- the lineage manifest as JSON
    created_at  REAL NOT NULL
);

-- Which checkpoint generated a run's attempts, and why (train: solving fresh training
-- problems; system1 / system2: evaluating on the held-out split).
CREATE TABLE IF NOT EXISTS checkpoint_runs (
    run_id      TEXT PRIMARY KEY REFERENCES runs(id),
    checkpoint  TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('train', 'system1', 'system2')),
    improve_run TEXT,
    iteration   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoint_runs_by_checkpoint ON checkpoint_runs (checkpoint);

-- One row per (run, problem) whose whole result a driver recorded at once (``run --engine
-- ray``): the guard that makes a retried or repeated result a no-op, and where it was solved.
CREATE TABLE IF NOT EXISTS run_results (
    run_id       TEXT NOT NULL REFERENCES runs(id),
    problem_hash TEXT NOT NULL REFERENCES problems(hash),
    stop_reason  TEXT NOT NULL,
    solved       INTEGER NOT NULL,
    engine       TEXT NOT NULL,           -- ray
    node_id      TEXT,                    -- the Ray node id of the actor that solved it
    hostname     TEXT,
    created_at   REAL NOT NULL,
    PRIMARY KEY (run_id, problem_hash)
);
"""


def statements() -> list[str]:
    """The DDL as single statements (comments may hold semicolons)."""
    import sqlite3

    out, pending = [], ""
    for line in TABLES.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return out
