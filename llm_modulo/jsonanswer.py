"""Reading a JSON answer without losing a hedge.

``json.loads`` keeps the last of two equal keys, so ``{"answer": "1", "answer": "24"}``
reads as ``{"answer": "24"}``: a reply that offers two answers would be judged on the one it
happens to put last. :func:`loads_checked` reads JSON like ``json.loads`` but reports a key
repeated in any object, at any depth, so callers can refuse the reply as a hedge.

A hedge is carried to the verifier as a :class:`~llm_modulo.types.Candidate` whose
``parse_error`` starts with :data:`HEDGE`; :func:`missing_answer_critique` turns it into a
REJECT critique of kind ``hedge`` (every other parse error stays ``unparseable``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_modulo.bounds import MAX_JSON_DEPTH, NestingError, json_depth_exceeds
from llm_modulo.types import Critique

#: The start of every parse error that reports a hedge (kept in the corpus with the error).
HEDGE = "the reply hedges: "


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key; ``key`` is the first repeated one found."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the key {key!r} appears more than once in one JSON object")


def _shown(key: str) -> str:
    return key if len(key) <= 60 else key[:57] + "..."


def _first_repeat(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")  # pragma: no cover - the caller checked


def loads_checked(text: str) -> Any:
    """``json.loads(text)``, except that a key repeated in one object raises
    :class:`DuplicateKeyError` (only when the whole text is valid JSON).

    Also raises what ``json.loads`` raises (``ValueError``, ``RecursionError``), and
    :class:`~llm_modulo.bounds.NestingError` (a ``ValueError``) past
    :data:`~llm_modulo.bounds.MAX_JSON_DEPTH` levels.
    """
    repeated: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs) and not repeated:
            repeated.append(_first_repeat(pairs))
        return out

    data = json.loads(text, object_pairs_hook=hook)
    if json_depth_exceeds(data, MAX_JSON_DEPTH):  # parsed, but too deep to store or serialize
        raise NestingError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if repeated:
        raise DuplicateKeyError(_shown(repeated[0]))
    return data


def duplicate_key(text: str) -> str | None:
    """The repeated key of ``text`` when it is a JSON object that repeats a key, else None.

    Cheap on anything that does not look like a JSON object (no parse is attempted).
    """
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        loads_checked(stripped)
    except DuplicateKeyError as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


def duplicate_key_message(key: str) -> str:
    """The parse error of a reply whose JSON repeats ``key``."""
    return (f"{HEDGE}the key {key!r} is given more than once in one JSON object, so the "
            "answer is ambiguous; give each field once")


def several_answers_message(count: int, where: str) -> str:
    """The parse error of a reply that offers ``count`` different answers in ``where``."""
    return (f"{HEDGE}it gives {count} different answers ({where}); give exactly one final "
            "answer")


# -- every JSON answer in a reply ----------------------------------------------------------------

#: How many levels into an object that is not valid JSON the search for objects goes on
#: (``{ note {"answer": "1"} }``); a constant, so the search stays linear in the reply.
MAX_DESCENT = 2


def _opens_object(text: str, i: int) -> bool:
    """Whether the ``{`` at ``i`` opens what reads as a JSON object (``{"``, ``{}``, with
    whitespace between), not LaTeX (``\\boxed{3}``) or a set (``{1, 2}``)."""
    j = i + 1
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    return j < len(text) and text[j] in '"}'


def object_spans(text: str) -> list[tuple[int, int]]:
    """The outermost ``{...}`` spans of ``text`` that open like a JSON object, in order and
    disjoint, found in one pass.

    Braces are matched with a stack (an unmatched ``{`` of prose hides nothing after it);
    inside braces, double-quoted strings are skipped with their escapes, and a string ends at
    a line break (JSON strings hold none, so a stray quote of prose spoils one line at most).
    A span holding another keeps only the outer one. Each character is looked at a bounded
    number of times."""
    stack: list[tuple[int, bool]] = []
    spans: list[tuple[int, int]] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch in '"\n':
                in_string = False
            continue
        if ch == '"' and stack:
            in_string = True
        elif ch == "{":
            stack.append((i, _opens_object(text, i)))
        elif ch == "}" and stack:
            start, looks_json = stack.pop()
            if looks_json:
                while spans and spans[-1][0] > start:
                    spans.pop()  # inside this one
                spans.append((start, i + 1))
    return spans


class _Pairs(list[tuple[str, Any]]):
    """A decoded JSON object as its key/value pairs, repeats kept."""


def _canonical(value: Any) -> Any:
    """A value with every object as its sorted pairs (repeated keys kept), for comparing."""
    if isinstance(value, _Pairs):
        pairs = [[k, _canonical(v)] for k, v in value]
        return {"{}": sorted(pairs, key=lambda kv: json.dumps(kv, sort_keys=True))}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _answer_of(pairs: _Pairs, fields: Sequence[str]) -> tuple[str | None, str | None]:
    """(the canonical answer of one decoded object, or None when it gives no answer field;
    the key when an answer field is given twice, ignoring case, else None)."""
    found: dict[str, list[tuple[str, Any]]] = {}
    wanted = {f.casefold(): f for f in fields}
    for key, value in pairs:
        if key.casefold() in wanted:
            found.setdefault(wanted[key.casefold()], []).append((key, value))
    for given in found.values():
        if len(given) > 1:
            spelled = list(dict.fromkeys(k for k, _ in given))
            return None, spelled[0] if len(spelled) == 1 else " / ".join(spelled[:2])
    if not found:
        return None, None
    values = [_canonical(found[f][0][1]) if f in found else None for f in fields]
    return json.dumps(values, sort_keys=True), None


@dataclass
class _Scan:
    fields: Sequence[str]
    answers: dict[str, str] = field(default_factory=dict)  # canonical answer -> object text
    repeated: str | None = None

    def read(self, text: str, depth: int) -> None:
        for start, end in object_spans(text):
            if self.repeated is not None:
                return
            body = text[start:end]
            try:
                data = json.loads(body, object_pairs_hook=_Pairs)
                answer, repeated = _answer_of(data, self.fields) if isinstance(
                    data, _Pairs) else (None, None)
            except (ValueError, RecursionError):  # also ints over 4300 digits
                if depth < MAX_DESCENT:
                    self.read(body[1:-1], depth + 1)
                continue
            self.repeated = repeated
            if answer is not None:
                self.answers.setdefault(answer, body)


def scan_answers(text: str, fields: Sequence[str]) -> tuple[str | None, str | None]:
    """Every JSON object of a reply (fenced or not) that gives an answer ``fields``:
    (a hedge message or None, the text of the first answer object or None).

    Two objects with different answers, or one object giving an answer field twice (also as
    ``"answer"`` and ``"Answer"``), are a hedge; the same answer twice is not. Objects without
    an answer field do not count. Linear in the reply's length."""
    scan = _Scan(fields)
    scan.read(text, 0)
    if scan.repeated is not None and " / " in scan.repeated:
        first, second = scan.repeated.split(" / ", 1)
        return (f"{HEDGE}the keys {first!r} and {second!r} name the same field in one JSON "
                "object, so the answer is ambiguous; give each field once"), None
    if scan.repeated is not None:
        return duplicate_key_message(scan.repeated), None
    if len(scan.answers) > 1:
        return several_answers_message(len(scan.answers), "separate JSON objects"), None
    return None, next(iter(scan.answers.values()), None)


def is_hedge(parse_error: str | None) -> bool:
    return parse_error is not None and parse_error.startswith(HEDGE)


def missing_answer_critique(parse_error: str | None, default: str) -> Critique:
    """The critique of a candidate without an answer: ``hedge`` or ``unparseable``."""
    reason = parse_error or default
    return Critique(kind="hedge" if is_hedge(reason) else "unparseable", message=reason)
