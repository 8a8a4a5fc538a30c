"""What the CSP-backed domains share: JSON answers read without losing repeated keys.

``json.loads`` keeps only the last of two equal keys, which would hide "a variable
assigned twice". Answers are read with a pairs hook instead: an object whose keys repeat
becomes a list of ``[key, value]`` pairs, which the CSP verifiers report as repeated
assignments. The answer field itself given twice, or fenced code blocks that give different
answers, are a hedge (see :mod:`llm_modulo.jsonanswer`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any, ClassVar

from llm_modulo.domain import _FENCE, Domain, _json_candidates
from llm_modulo.jsonanswer import duplicate_key_message, scan_answers, several_answers_message
from llm_modulo.stepwise import NoStepLeft
from llm_modulo.structured import Grammar
from llm_modulo.types import Candidate, Message, Problem


class _Pairs(dict[str, Any]):
    """A decoded JSON object that remembers its key/value pairs in order."""

    pairs: list[tuple[str, Any]]


def _keep_pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs(pairs)
    out.pairs = pairs
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, _Pairs):
        if len(value.pairs) != len(value):
            return [[k, _plain(v)] for k, v in value.pairs]
        return {k: _plain(v) for k, v in value.pairs}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def loads_keeping_repeats(text: str) -> Any:
    """``json.loads`` where objects with repeated keys become lists of pairs."""
    return _plain(json.loads(text, object_pairs_hook=_keep_pairs))


class CSPDomainBase(Domain):
    """A domain whose answer is one JSON object field (``answer_key``)."""

    answer_key: ClassVar[str] = "assignment"
    #: Longest completion read, in characters (large problems may raise it per problem).
    max_answer_chars: ClassVar[int] = 100_000

    def answer_limit(self, problem: Problem) -> int:
        return self.max_answer_chars

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        limit = self.answer_limit(problem)
        if len(completion) > limit:
            return Candidate(raw=completion[:1000],
                             parse_error=f"the reply is {len(completion)} characters long; "
                                         f"at most {limit} are read for this problem")
        hedge, first = scan_answers(completion, (self.answer_key,))
        if hedge is not None:  # two JSON objects with different answers, fenced or not
            return Candidate(raw=completion, parse_error=hedge)
        if first is not None and (read := self._read_json(completion, first)) is not None:
            return read
        fenced = [m.group(1).strip() for m in _FENCE.finditer(completion)]
        answers: dict[str, Candidate] = {}
        for text in fenced:
            read = self._read_json(completion, text)
            if read is not None and read.answer is None:
                return read  # a hedge
            if read is not None:
                answers.setdefault(json.dumps(read.answer, sort_keys=True, default=str), read)
        if len(answers) > 1:
            return Candidate(raw=completion, parse_error=several_answers_message(
                len(answers), "separate code blocks"))
        if answers:
            return next(iter(answers.values()))
        for text in _json_candidates(completion)[len(fenced):]:
            read = self._read_json(completion, text)
            if read is not None:
                return read
        return self.parse_fallback(problem, completion)

    def _read_json(self, completion: str, text: str) -> Candidate | None:
        """The answer field of a JSON text, a hedge when the object gives it twice, or None
        (not JSON, or no such field). Repeats inside the field are kept as pairs for the
        verifier to report."""
        try:
            data = json.loads(text, object_pairs_hook=_keep_pairs)
        except (ValueError, RecursionError):  # ValueError: also ints over 4300 digits
            return None
        if not isinstance(data, _Pairs) or self.answer_key not in data:
            return None
        if sum(1 for k, _ in data.pairs if k == self.answer_key) > 1:
            return Candidate(raw=completion, parse_error=duplicate_key_message(self.answer_key))
        return Candidate(raw=completion, answer={self.answer_key: _plain(data[self.answer_key])})

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        return Candidate(raw=completion, parse_error=f"no JSON object with a "
                                                     f"{self.answer_key!r} field in the reply")


#: Longest line read as a step (longer lines are prose, never a step).
MAX_STEP_LINE = 200


def step_lines(completion: str, limit: int) -> Iterator[str]:
    """The non-blank lines of a stepwise reply, markdown emphasis, code ticks and bullets
    removed, each at most :data:`MAX_STEP_LINE` characters (a longer one comes out empty:
    it is never a step); nothing at all when the reply is longer than ``limit``. Linear."""
    if len(completion) > limit:
        return
    for line in completion.splitlines():
        text = line.strip()
        if not text:
            continue
        if len(text) > MAX_STEP_LINE:
            yield ""
            continue
        text = text.replace("**", "").replace("`", "").strip()
        if text[:1] in "-*+" and text[1:2].isspace():
            text = text[2:].strip()
        yield text


def next_step_request(remaining: Sequence[int], noun: str, nouns: str, form: str,
                      values: str) -> str:
    """The step prompt's last line: which ``noun`` (vertex, row) comes next, the line form
    to write it in, and the ones after it in order."""
    first = remaining[0]
    after = ", ".join(map(str, remaining[1:4])) + (", ..." if len(remaining) > 4 else "")
    then = (f", then the {nouns} after it in order ({after}), one per line"
            if len(remaining) > 1 else "")
    return (f"Next is {noun} {first}. Write its {form.format(first=first)}, where {values}"
            f"{then}, and nothing else.")


def step_messages_of(system: str | None, lines: list[str]) -> list[Message]:
    """The step prompt's messages: the system prompt, if any, and ``lines`` as the user's."""
    messages = [] if system is None else [Message(role="system", content=system)]
    messages.append(Message(role="user", content="\n".join(lines)))
    return messages


def assignment_grammar(keys: Sequence[int], label: str, values: int,
                       exclude: Collection[str], none_left: str) -> Grammar:
    """The step grammar of the next assignments, in order: one line ``label.format(key=k)``
    followed by a value in ``1..values`` per key in ``keys``. For one key, the lines in
    ``exclude`` (steps tried already) are left out, and :class:`NoStepLeft` with
    ``none_left.format(key=k)`` says when none is left."""
    choices = list(range(1, values + 1))
    if len(keys) == 1:  # one step: the values not tried for it yet
        first = label.format(key=keys[0])
        choices = [c for c in choices if f"{first}{c}" not in exclude]
        if not choices:
            raise NoStepLeft(none_left.format(key=keys[0]))
    value = " | ".join(f'"{c}"' for c in choices)
    body = ' "\\n" '.join(f'"{label.format(key=k)}" c' for k in keys)
    return Grammar(ebnf=f"root ::= {body}\nc ::= {value}\n")
