"""Read a problem and a completion out of the columns our exports write.

A row names its domain by ``domain`` (``sft``/``dpo``/``parquet`` rows), ``extra_info.domain``
or ``data_source`` = ``llm_modulo/<domain>`` (``verl`` rows), else the reward's own domain. Its
problem is ``problem`` (``parquet`` rows: the payload as canonical JSON), or
``reward_model.ground_truth`` / ``ground_truth`` (``verl`` rows: the payload, never an answer),
as JSON text or an object. A ``problem_hash`` beside it must be the payload's hash. Rows that
carry only a hash (``sft``/``dpo``) are read through a corpus (:class:`CorpusPayloads`).

Everything here is untrusted: sizes and nesting are bounded, nothing is evaluated, and what
cannot be read raises :class:`RowError` (the row scores ``None``, never 0.0).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llm_modulo.bounds import NestingError, loads_bounded
from llm_modulo.errors import LLMModuloError
from llm_modulo.types import Problem

#: Largest problem payload read from a row (characters of JSON).
MAX_PAYLOAD_CHARS = 4 * 1024 * 1024
#: Largest completion scored (longer ones are cut by the domain, which reports it).
MAX_COMPLETION_CHARS = 1_000_000
DATA_SOURCE_PREFIX = "llm_modulo/"


class RowError(LLMModuloError):
    """A row whose problem or completion cannot be read (its reward is ``None``)."""


class OtherDomain(RowError):
    """A row of another domain than the reward's (multi-task data: not this reward's row)."""


def _field(row: Mapping[str, Any], *path: str) -> Any:
    value: Any = row
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def domain_of(row: Mapping[str, Any], default: str | None) -> str:
    """The row's domain (see the module docstring); ``default`` when it names none."""
    named: list[str] = []
    for value in (row.get("domain"), _field(row, "extra_info", "domain")):
        if isinstance(value, str) and value:
            named.append(value)
    source = row.get("data_source")
    if isinstance(source, str) and source.startswith(DATA_SOURCE_PREFIX):
        named.append(source[len(DATA_SOURCE_PREFIX):])
    if len(set(named)) > 1:
        raise RowError(f"the row names two domains: {sorted(set(named))}")
    found = named[0] if named else default
    if found is None:
        raise RowError("the row names no domain (no domain, extra_info.domain or "
                       "data_source column) and the reward was given none")
    if default is not None and found != default:
        raise OtherDomain(f"the row is a {found!r} problem, not {default!r}")
    return found


def _payload_text(row: Mapping[str, Any]) -> Any:
    for value in (row.get("problem"), _field(row, "reward_model", "ground_truth"),
                  row.get("ground_truth")):
        if value is not None:
            return value
    return None


def payload_of(value: Any) -> dict[str, Any]:
    """A payload dict from JSON text or an object (bounded)."""
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_PAYLOAD_CHARS:
            raise RowError(f"the problem is {len(value)} characters long "
                           f"(at most {MAX_PAYLOAD_CHARS})")
        try:
            value = loads_bounded(value)
        except NestingError as exc:
            raise RowError(f"the problem {exc}") from None
        except ValueError as exc:
            raise RowError(f"the problem is not valid JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise RowError(f"the problem must be a JSON object, not {type(value).__name__}")
    if not all(isinstance(k, str) for k in value):
        raise RowError("the problem has a key that is not a string")
    return dict(value)


def problem_of(row: Mapping[str, Any], default_domain: str | None,
               payloads: CorpusPayloads | None = None) -> Problem:
    """The problem a row asks (raises :class:`RowError`)."""
    domain = domain_of(row, default_domain)
    expected = row.get("problem_hash")
    if expected is None:
        expected = _field(row, "extra_info", "problem_hash")
    if expected is not None and not isinstance(expected, str):
        raise RowError("problem_hash is not a string")
    raw = _payload_text(row)
    if raw is None:
        if expected is None or payloads is None:
            raise RowError("the row carries no problem (no problem, reward_model.ground_truth "
                           "or ground_truth column)" + ("" if expected is None else
                           "; give the reward a corpus to read problem_hash rows"))
        raw = payloads.payload(expected)
    try:
        problem = Problem(domain=domain, payload=payload_of(raw))
    except ValueError as exc:  # pydantic: e.g. a payload it cannot hold
        raise RowError(f"the problem cannot be read: {exc}") from None
    if expected is not None and problem.hash != expected:
        raise RowError(f"the problem does not match its problem_hash {expected[:12]}...")
    return problem


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or (conversational) the last assistant message's
    content (a string, or a list of ``{"type": "text", "text": ...}`` parts)."""
    if isinstance(completion, str):
        text = completion
    elif isinstance(completion, list):
        replies = [m for m in completion if isinstance(m, Mapping)
                   and m.get("role", "assistant") == "assistant"]
        if not replies:
            raise RowError("the completion has no assistant message")
        content = replies[-1].get("content")
        if isinstance(content, list):
            parts = [p.get("text") for p in content
                     if isinstance(p, Mapping) and p.get("type", "text") == "text"]
            if not all(isinstance(p, str) for p in parts):
                raise RowError("the completion has a text part that is not a string")
            content = "".join(p for p in parts if isinstance(p, str))
        if not isinstance(content, str):
            raise RowError("the completion's content is not text")
        text = content
    else:
        raise RowError(f"a completion must be text or a list of messages, "
                       f"not {type(completion).__name__}")
    if len(text) > MAX_COMPLETION_CHARS:
        raise RowError(f"the completion is {len(text)} characters long "
                       f"(at most {MAX_COMPLETION_CHARS})")
    return text


class CorpusPayloads:
    """Problem payloads by hash from a corpus file (read-only, one connection per thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def payload(self, problem_hash: str) -> str:
        import sqlite3

        conn = getattr(self._local, "conn", None)
        if conn is None:
            if not self.path.is_file():
                raise RowError(f"no corpus at {self.path}")
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                   check_same_thread=False)
            self._local.conn = conn
        try:
            found = conn.execute("SELECT payload FROM problems WHERE hash = ?",
                                 (problem_hash,)).fetchone()
        except sqlite3.Error as exc:
            raise RowError(f"the corpus cannot be read: {exc}") from None
        if found is None:
            raise RowError(f"problem {problem_hash[:12]}... is not in the corpus")
        return str(found[0])

