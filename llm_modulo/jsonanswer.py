"""Reading a JSON answer without losing a hedge.

``json.loads`` keeps the last of two equal keys, so ``{"answer": "1", "answer": "24"}``
reads as ``{"answer": "24"}``: a reply that offers two answers would be judged on the one it
happens to put last. :func:`loads_checked` reads JSON like ``json.loads`` but reports a key
repeated in any object, at any depth, so callers can refuse the reply as a hedge.

A hedge is carried to the verifier as a :class:`~llm_modulo.types.Candidate` whose
``parse_error`` starts with :data:`HEDGE`; :func:`missing_answer_critique` turns it into a
REJECT critique of kind ``hedge`` (every other parse error stays ``unparseable``). A hedge is
only claimed when it is proven: two answers that provably differ. A reply whose answer cannot
be settled (two answers not shown equal or different, an answer-shaped object that is not
valid JSON beside a valid one) carries a ``parse_error`` starting with :data:`UNDECIDED`,
which :func:`missing_answer_critique` turns into a critique of kind ``undecided`` and
:meth:`~llm_modulo.verifier.CheckResult.reject` into an UNKNOWN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from llm_modulo.bounds import MAX_JSON_DEPTH, NestingError, json_depth_exceeds
from llm_modulo.types import Critique

#: The start of every parse error that reports a hedge (kept in the corpus with the error).
HEDGE = "the reply hedges: "
#: The start of every parse error that says the reply's one answer cannot be settled
#: (verifiers answer UNKNOWN, never REJECT).
UNDECIDED = "the reply's answer is uncertain: "


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


def _plain(value: Any) -> Any:
    """A decoded value with every object as a dict (the last of repeated keys kept)."""
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: One answer: its answer fields and their JSON values.
Answer = dict[str, Any]
#: Whether two answers are the same answer: True (shown equal), False (shown different),
#: None (neither could be shown).
Same = Callable[[Answer, Answer], bool | None]


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items()}
    return value


def exact_same(a: Answer, b: Answer) -> bool:
    """Structured answers (assignments, plans): the same exactly when their JSON values are
    equal, strings compared after trimming whitespace. Never undecided."""
    return bool(_stripped(a) == _stripped(b))


_NUMERAL = re.compile(r"[+-]?\d{1,40}(?:\.\d{1,40})?")
_WRAPPERS = (("\\boxed{", "}"), ("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _unwrapped(text: str) -> str:
    """``text`` trimmed, without outer ``$...$``, ``\\(...\\)``, ``\\[...\\]`` or one
    ``\\boxed{...}`` holding no other braces (a few layers at most)."""
    text = text.strip()
    for _ in range(4):
        for head, tail in _WRAPPERS:
            inner = text[len(head):-len(tail)] if (
                len(text) >= len(head) + len(tail) and text.startswith(head)
                and text.endswith(tail)) else None
            if inner is not None and "{" not in inner and "}" not in inner and "$" not in inner:
                text = inner.strip()
                break
        else:
            return text
    return text


def _number(value: Any) -> Fraction | None:
    """The exact value of a JSON number or of a plain decimal numeral (``24``, ``"24.0"``,
    ``"\\boxed{24}"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        text = _unwrapped(value)
        if _NUMERAL.fullmatch(text):
            return Fraction(text)
    return None


def _strings_in(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return any(_strings_in(v) for v in value)
    if isinstance(value, dict):
        return any(_strings_in(v) for v in value.values())
    return False


def _same_value(x: Any, y: Any) -> bool | None:
    nx, ny = _number(x), _number(y)
    if nx is not None and ny is not None:
        return nx == ny
    if isinstance(x, str) and isinstance(y, str):
        return True if _unwrapped(x) == _unwrapped(y) else None
    if _stripped(x) == _stripped(y):
        return True
    if not _strings_in(x) and not _strings_in(y):
        return False  # numbers, booleans, null, lists and objects of them: exact values
    return None


def plain_same(a: Answer, b: Answer) -> bool | None:
    """The default comparison of two free-form answers, field by field: numbers and plain
    decimal numerals by exact value (``24``, ``"24"``, ``"24.0"``, ``"\\boxed{24}"`` are
    the same; ``"24"`` and ``"1"`` differ); texts the same when equal after trimming
    whitespace and outer ``$``/box wrappers, else undecided (None): only the domain knows
    whether ``"x = 2"`` and ``"2"`` are the same answer."""
    verdicts = [_same_value(a.get(k), b.get(k)) for k in sorted(set(a) | set(b))]
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _answer_of(pairs: _Pairs, fields: Sequence[str]
               ) -> tuple[str | None, Answer | None, str | None]:
    """(the canonical answer of one decoded object, or None when it gives no answer field;
    the answer fields' values; the key when an answer field is given twice, ignoring case,
    else None)."""
    found: dict[str, list[tuple[str, Any]]] = {}
    wanted = {f.casefold(): f for f in fields}
    for key, value in pairs:
        if key.casefold() in wanted:
            found.setdefault(wanted[key.casefold()], []).append((key, value))
    for given in found.values():
        if len(given) > 1:
            spelled = list(dict.fromkeys(k for k, _ in given))
            return None, None, spelled[0] if len(spelled) == 1 else " / ".join(spelled[:2])
    if not found:
        return None, None, None
    values = [_canonical(found[f][0][1]) if f in found else None for f in fields]
    answer = {f: _plain(found[f][0][1]) for f in fields if f in found}
    return json.dumps(values, sort_keys=True), answer, None


def _key_pattern(fields: Sequence[str]) -> re.Pattern[str]:
    """An answer key as it opens an answer-shaped object that may not be JSON: ``"answer":``,
    ``'answer':``, or bare right after ``{`` (linear: literals, then one ``\\s*``)."""
    names = "|".join(re.escape(f) for f in fields)
    return re.compile(rf"""(?:"(?:{names})"|'(?:{names})'|\{{[ \t]*(?:{names}))\s*:""",
                      re.IGNORECASE)


@dataclass
class _Scan:
    fields: Sequence[str]
    answers: dict[str, tuple[Answer, str]] = field(default_factory=dict)  # canonical -> ...
    repeated: str | None = None
    valid: list[tuple[int, int]] = field(default_factory=list)  # spans that are JSON
    answer_end: int = -1  # where the last answer object ends

    def read(self, text: str, depth: int, offset: int = 0) -> None:
        for start, end in object_spans(text):
            if self.repeated is not None:
                return
            body = text[start:end]
            try:
                data = json.loads(body, object_pairs_hook=_Pairs)
                canonical, answer, repeated = _answer_of(data, self.fields) if isinstance(
                    data, _Pairs) else (None, None, None)
            except (ValueError, RecursionError):  # also ints over 4300 digits
                if depth < MAX_DESCENT:
                    self.read(body[1:-1], depth + 1, offset + start + 1)
                continue
            self.valid.append((offset + start, offset + end))
            self.repeated = repeated
            if canonical is not None and answer is not None:
                self.answers.setdefault(canonical, (answer, body))
                self.answer_end = max(self.answer_end, offset + end)


@dataclass(frozen=True)
class ReplyScan:
    """What :func:`scan_reply` found in a reply."""

    #: A hedge (:data:`HEDGE`) or undecided (:data:`UNDECIDED`) message, else None.
    refusal: str | None
    #: The text of the first answer object, else None.
    first: str | None
    #: The spans of every valid JSON object read (answer or not), in order.
    spans: tuple[tuple[int, int], ...] = ()
    #: Where the last answer object ends (-1 without one).
    answer_end: int = -1

    def outside(self, text: str, start: int = 0) -> str:
        """``text`` from ``start`` with every JSON object read replaced by a line break."""
        pieces, at = [], start
        for a, b in self.spans:
            if b <= at:
                continue
            pieces.append(text[at:max(a, at)])
            at = b
        pieces.append(text[at:])
        return "\n".join(pieces)


def _groups(answers: list[Answer], same: Same) -> tuple[int, bool]:
    """(how many answers are not shown to be the same, whether two are shown different)."""
    reps: list[Answer] = []
    different = False
    for answer in answers:
        verdicts = [same(rep, answer) for rep in reps]
        if True in verdicts:
            continue
        different = different or False in verdicts
        reps.append(answer)
    return len(reps), different


def scan_reply(text: str, fields: Sequence[str], same: Same = exact_same) -> ReplyScan:
    """Every JSON object of a reply (fenced or not) that gives an answer ``fields``.

    Refused (:attr:`ReplyScan.refusal`): two objects whose answers ``same`` shows different,
    or one object giving an answer field twice (also as ``"answer"`` and ``"Answer"``), are
    a hedge; two answers ``same`` can show neither equal nor different, or an answer-shaped
    object that is not valid JSON (``{"answer": "1",}``, ``{'answer': '1'}``, unclosed)
    beside a valid answer, are undecided. The same answer twice is neither. Objects without
    an answer field do not count. Linear in the reply's length."""
    scan = _Scan(fields)
    scan.read(text, 0)
    spans = tuple(sorted(scan.valid))
    if scan.repeated is not None and " / " in scan.repeated:
        one, two = scan.repeated.split(" / ", 1)
        return ReplyScan(f"{HEDGE}the keys {one!r} and {two!r} name the same field in "
                         "one JSON object, so the answer is ambiguous; give each field once",
                         None)
    if scan.repeated is not None:
        return ReplyScan(duplicate_key_message(scan.repeated), None)
    count, different = _groups([a for a, _ in scan.answers.values()], same)
    if different:
        return ReplyScan(several_answers_message(count, "separate JSON objects"), None)
    if count > 1:
        return ReplyScan(f"{UNDECIDED}it gives {len(scan.answers)} answers in separate JSON "
                         "objects that could not be shown to be the same answer", None)
    first = next((body for _, body in scan.answers.values()), None)
    if first is not None and (where := _stray_key(text, fields, spans)) is not None:
        return ReplyScan(f"{UNDECIDED}beside the JSON answer, an answer-shaped object at "
                         f"character {where} is not valid JSON, so the answer is not certain",
                         None)
    return ReplyScan(None, first, spans, scan.answer_end)


def _stray_key(text: str, fields: Sequence[str], spans: tuple[tuple[int, int], ...]
               ) -> int | None:
    """Where an answer key appears outside every valid JSON object, else None."""
    k = 0
    for m in _key_pattern(fields).finditer(text):
        while k < len(spans) and spans[k][1] <= m.start():
            k += 1
        if k == len(spans) or spans[k][0] > m.start():
            return m.start()
    return None


def scan_answers(text: str, fields: Sequence[str], same: Same = exact_same
                 ) -> tuple[str | None, str | None]:
    """:func:`scan_reply` as (a hedge or undecided message or None, the text of the first
    answer object or None)."""
    scan = scan_reply(text, fields, same)
    return scan.refusal, scan.first


def undecided_message(reason: str) -> str:
    """The parse error of a reply whose one answer cannot be settled (an UNKNOWN)."""
    return UNDECIDED + reason


def is_hedge(parse_error: str | None) -> bool:
    return parse_error is not None and parse_error.startswith(HEDGE)


def is_undecided(parse_error: str | None) -> bool:
    return parse_error is not None and parse_error.startswith(UNDECIDED)


def missing_answer_critique(parse_error: str | None, default: str) -> Critique:
    """The critique of a candidate without an answer: ``hedge``, ``undecided`` (which
    :meth:`~llm_modulo.verifier.CheckResult.reject` turns into an UNKNOWN) or
    ``unparseable``."""
    reason = parse_error or default
    kind = "hedge" if is_hedge(reason) else "undecided" if is_undecided(reason) else (
        "unparseable")
    return Critique(kind=kind, message=reason)
