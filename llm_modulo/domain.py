"""The domain contract: prompts, back-prompts, output schema, candidate extraction.

A domain turns a problem into the first prompt, turns critiques into a
back-prompt at a chosen :class:`~llm_modulo.types.FeedbackLevel`, declares the
answer's pydantic model (and so the JSON schema for structured output),
extracts the candidate from a completion, and names its verifier.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from llm_modulo.bounds import NestingError, loads_bounded, read_text_capped
from llm_modulo.errors import ProblemError, UsageError
from llm_modulo.jsonanswer import (
    Answer,
    DuplicateKeyError,
    ReplyScan,
    duplicate_key_message,
    loads_checked,
    plain_same,
    scan_reply,
    several_answers_message,
    undecided_message,
)
from llm_modulo.structured import JsonSchema, StructuredOutput
from llm_modulo.types import Attempt, Candidate, FeedbackLevel, Message, Problem, Status

# No ``\s*`` before the body: with the lazy body after it, an unclosed fence followed by
# whitespace backtracked quadratically; every use strips the body anyway.
_FENCE = re.compile(r"```(?:json)?(.*?)```", re.DOTALL)
MAX_COMPLETION_CHARS = 100_000


@dataclass(frozen=True)
class OtherAnswers:
    """What a reply states as its answer outside its JSON answer object
    (:meth:`Domain.other_answers`)."""

    #: Answers read unambiguously (boxes, ``Answer:`` lines, ...), as answer-field dicts.
    answers: tuple[Answer, ...] = ()
    #: Why the reply may state another answer that could not be read (a correction after the
    #: answer, an answer line that does not read), else None: the reply is UNKNOWN.
    doubt: str | None = None


class Domain(ABC):
    """Base class of every problem type."""

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    #: The registered name of the verifier that decides this domain's candidates.
    verifier: ClassVar[str]
    #: The answer's schema; the generator is asked for JSON of this shape.
    answer_model: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""

    # -- problems ---------------------------------------------------------------------

    @abstractmethod
    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        """Build a Problem from user input; raise ProblemError with a one-line reason."""

    def load_problem(self, spec: str) -> Problem:
        """Problem from a CLI argument: inline text, inline JSON, or ``@path``/a file path.

        A file is read with a size cap (:data:`~llm_modulo.bounds.MAX_INPUT_BYTES`) and must be
        a regular file (``@-`` reads standard input); JSON may nest at most
        :data:`~llm_modulo.bounds.MAX_JSON_DEPTH` levels.
        """
        text = spec
        path = spec_file(spec)
        if path is not None:
            text = read_text_capped(path, "problem file")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                data = loads_bounded(stripped)
            except NestingError as exc:
                raise ProblemError(f"problem {exc}") from None
            except ValueError as exc:
                raise ProblemError(f"problem is not valid JSON: {exc}") from None
            return self.parse_problem(data)
        return self.parse_problem(stripped)

    # -- problem generation -----------------------------------------------------------

    def generate_problems(self, count: int, seed: int = 0) -> list[Problem]:
        """``count`` fresh problems, the same ones for the same ``seed`` (the seed is the
        whole source of randomness). Domains without a generator raise :class:`UsageError`."""
        raise UsageError(f"domain {self.name!r} has no problem generator")

    def demo_problems(self) -> list[Problem]:
        """The problems ``llm-modulo demo`` solves: eight generated with seed 0 unless the
        domain has a curated set."""
        return self.generate_problems(8, 0)

    # -- prompts ----------------------------------------------------------------------

    def system_prompt(self) -> str | None:
        return None

    @abstractmethod
    def render_prompt(self, problem: Problem) -> str:
        """The first user prompt for ``problem``."""

    def initial_messages(self, problem: Problem) -> list[Message]:
        messages = []
        if (system := self.system_prompt()) is not None:
            messages.append(Message(role="system", content=system))
        messages.append(Message(role="user", content=self.render_prompt(problem)))
        return messages

    def render_feedback(self, problem: Problem, attempt: Attempt, level: FeedbackLevel) -> str:
        """The back-prompt after ``attempt`` was rejected, at ``level``.

        Only the verifier's critiques are shown, never a reference answer.
        """
        lines = ["That answer is not correct."]
        critiques = attempt.verdict.critiques
        if level is FeedbackLevel.FIRST and critiques:
            lines.append(f"The first problem found: {format_critique(critiques[0])}")
        elif level is FeedbackLevel.ALL and critiques:
            lines.append("The problems found:")
            lines.extend(f"- {format_critique(c)}" for c in critiques)
        lines.append("Please try again. " + self.answer_instruction(problem))
        return "\n".join(lines)

    def next_messages(
        self, problem: Problem, previous: Attempt | None, level: FeedbackLevel
    ) -> list[Message]:
        """Messages for the next round: the first prompt, or a back-prompt on ``previous``.

        Only the last exchange is kept, so prompts stay bounded however many rounds run.
        """
        first = self.initial_messages(problem)
        if previous is None or level is FeedbackLevel.NONE:
            return first
        if previous.verdict.status is not Status.REJECT:
            return first
        return [
            *first,
            Message(role="assistant", content=previous.completion),
            Message(role="user", content=self.render_feedback(problem, previous, level)),
        ]

    def answer_instruction(self, problem: Problem) -> str:
        schema = json.dumps(self.answer_model.model_json_schema()["properties"])
        return f"Answer with only a JSON object with these fields: {schema}"

    # -- structured output and extraction ---------------------------------------------

    def structured_output(self, problem: Problem) -> StructuredOutput | None:
        """The decoding constraint for ``problem`` (default: the answer model's JSON schema)."""
        model = self.answer_model
        return JsonSchema(name=model.__name__, schema=model.model_json_schema())

    def answer_fields(self) -> tuple[str, ...]:
        """The fields that make a JSON object an answer (the answer model's required ones)."""
        fields = self.answer_model.model_fields
        required = tuple(name for name, info in fields.items() if info.is_required())
        return required or tuple(fields)

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        """Extract the answer from a completion. Never raises; failures set ``parse_error``.

        Every JSON object of the reply, fenced or not, is read
        (:func:`~llm_modulo.jsonanswer.scan_answers`): two that give different answers, or an
        answer field given twice in one object (also ``"answer"`` and ``"Answer"``), are a
        hedge (a parse error starting with :data:`~llm_modulo.jsonanswer.HEDGE`, which
        verifiers REJECT); answers that cannot be shown equal or different
        (:meth:`same_answer`), or an answer-shaped object that is not valid JSON beside the
        answer, are undecided (:data:`~llm_modulo.jsonanswer.UNDECIDED`, an UNKNOWN). The one
        answer object is read, and what the reply states outside it (:meth:`other_answers`)
        must agree with it; without one, JSON is looked for in
        fenced code blocks, then in the whole reply, then between its first ``{`` and last
        ``}``; a key repeated in the JSON read, at any depth, is a hedge too.
        """
        if len(completion) > MAX_COMPLETION_CHARS:
            return Candidate(raw=completion[:MAX_COMPLETION_CHARS],
                             parse_error=f"completion is {len(completion)} characters long")
        scan = scan_reply(completion, self.answer_fields(),
                          lambda a, b: self.same_answer(problem, a, b))
        if scan.refusal is not None:
            return Candidate(raw=completion, parse_error=scan.refusal)
        if scan.first is not None and (read := self._read_json(completion, scan.first)):
            return self._beside_json(problem, completion, read, scan)
        for text in _json_candidates(completion):
            read = self._read_json(completion, text)
            if read is not None:
                return read
        return self.parse_fallback(problem, completion)

    # -- one answer, however it is written ---------------------------------------------

    def same_answer(self, problem: Problem, a: Answer, b: Answer) -> bool | None:
        """Whether two answers (answer-field dicts) are the same answer: True when shown
        equal, False when shown different (then a reply giving both hedges: a REJECT), None
        when neither can be shown (an UNKNOWN). The default
        (:func:`~llm_modulo.jsonanswer.plain_same`) compares numbers and plain numerals by
        value and other text after trimming whitespace and ``$``/box wrappers; a domain that
        can read its answers overrides it."""
        return plain_same(a, b)

    def other_answers(self, problem: Problem, answer: Answer, outside: str,
                      tail: str) -> OtherAnswers:
        """The answers a reply states outside its JSON answer ``answer``: ``outside`` is the
        reply with every JSON object replaced by a line break, ``tail`` the part of it after
        the last JSON answer. Each answer is compared with the JSON one
        (:meth:`same_answer`): one shown different is a hedge, one not shown the same (or a
        ``doubt``) makes the reply UNKNOWN. Default: nothing is read outside the JSON."""
        return OtherAnswers()

    def _beside_json(self, problem: Problem, completion: str, read: Candidate,
                     scan: ReplyScan) -> Candidate:
        """``read`` (the JSON answer), unless the reply states another answer beside it."""
        if read.answer is None:
            return read
        others = self.other_answers(problem, read.answer, scan.outside(completion),
                                    scan.outside(completion, max(scan.answer_end, 0)))
        verdicts = [self.same_answer(problem, read.answer, other) for other in others.answers]
        if False in verdicts:
            return Candidate(raw=completion, parse_error=several_answers_message(
                2, "the JSON answer and another one stated outside it"))
        if None in verdicts:
            return Candidate(raw=completion, parse_error=undecided_message(
                "the reply states an answer outside the JSON that could not be shown to be "
                "the JSON answer"))
        if others.doubt is not None:
            return Candidate(raw=completion, parse_error=undecided_message(others.doubt))
        return read

    def _read_json(self, completion: str, text: str) -> Candidate | None:
        """The candidate a JSON text gives: an answer, a shape error or a hedge; None when
        ``text`` is not a JSON object."""
        try:
            data = loads_checked(text)
        except DuplicateKeyError as exc:
            return Candidate(raw=completion, parse_error=duplicate_key_message(exc.key))
        except (ValueError, RecursionError):  # ValueError: also ints over 4300 digits
            return None
        if not isinstance(data, dict):
            return None
        try:
            answer = self.answer_model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            return Candidate(raw=completion, parse_error=f"{where}: {first['msg']}")
        return Candidate(raw=completion, answer=answer.model_dump(mode="json"))

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        """Called when no JSON answer is found; domains may extract from free text."""
        return Candidate(raw=completion, parse_error="no JSON answer object found in the reply")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "verifier": self.verifier,
                "description": self.description}


def _json_candidates(text: str) -> list[str]:
    out = [m.group(1).strip() for m in _FENCE.finditer(text)]
    stripped = text.strip()
    out.append(stripped)
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        out.append(stripped[start : end + 1])
    return out


def spec_file(spec: str) -> Path | None:
    """The file a CLI argument names (``@path``, or an existing file's path), else None."""
    if spec.startswith("@"):
        return Path(spec[1:])
    if len(spec) >= 4096 or "\n" in spec:
        return None
    try:
        return Path(spec) if Path(spec).is_file() else None
    except (OSError, ValueError):  # e.g. a name too long for the file system, a NUL byte
        return None


def format_critique(critique: Any) -> str:
    where = f" (at {critique.location})" if critique.location else ""
    return f"{critique.message}{where}"
