"""Text clean-up before math parsing: answer extraction and LaTeX/Unicode normalisation.

Pure string work with linear-time regular expressions and hard length caps, so
hostile text (megabytes, odd Unicode) is refused before any parsing. Nothing
here executes or evaluates anything.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass

from llm_modulo.jsonanswer import duplicate_key, duplicate_key_message

#: Longest completion or answer text looked at; longer input is refused outright.
MAX_SOURCE_CHARS = 100_000
#: Longest single answer handed to the parser.
MAX_ANSWER_CHARS = 2_000


class MathSyntaxError(ValueError):
    """The text is not a math answer the grammar reads; ``column`` is 1-based when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        self.column = column
        super().__init__(message)

    def with_column(self) -> str:
        """The message with its column, for places that show no separate location."""
        return f"{self}" + (f" (column {self.column})" if self.column else "")


class TooComplex(ValueError):
    """The answer is well-formed but exceeds a size cap (a huge power, too deep, too long).

    Deciding it would cost unbounded time, so verifiers answer UNKNOWN, never ACCEPT."""


#: How a reply's extraction that found no single answer begins its parse error: the verifier
#: answers UNKNOWN for it (see :class:`Unreadable`), never an unparseable REJECT.
UNREADABLE = "could not read an answer: "


class Unreadable(ValueError):
    """The text has no single reading as an answer (prose, a separator that reads two ways).

    Guessing would decide on a reading the writer may not have meant, so verifiers answer
    UNKNOWN: neither ACCEPT nor a REJECT that could become a training negative."""


_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def boxed_contents(text: str) -> list[str]:
    """The contents of every outermost ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces).

    ``\\boxed 5`` (no braces) contributes its next token; an unclosed box contributes nothing.
    """
    return [box for box, _, _ in boxed_spans(text)]


_NEXT_TOKEN = re.compile(r"\s+(\S+)")


def boxed_spans(text: str) -> list[tuple[str, int, int]]:
    """Each outermost box's contents with the start and end of the whole ``\\boxed{...}``."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    while (m := _BOX.search(text, pos)) is not None:
        i = m.end()
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text) or text[i] != "{":
            token = _NEXT_TOKEN.match(text, m.end())
            if token:
                out.append((token.group(1), m.start(), token.end()))
            pos = m.end()
            continue
        depth = 0
        for j in range(i, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    out.append((text[i + 1 : j].strip(), m.start(), j + 1))
                    break
        else:
            return out
        pos = j + 1
    return out


def last_boxed(text: str) -> str | None:
    """The boxed answer of ``text``; None when nothing is boxed.

    Equal boxes are one answer. Different boxes form a list (``\\boxed{1}, \\boxed{2}``, read
    as ``1, 2``) when only separators stand between them: commas, semicolons, ``and``, ``&``,
    ``$`` and spaces. Anything else between them (``\\boxed{1} or \\boxed{2}``, prose) is a hedge
    or a multi-part answer, never silently the last one: :class:`MathSyntaxError`.
    """
    spans = boxed_spans(text)
    if not spans:
        return None
    boxes = [box for box, _, _ in spans]
    if len(set(boxes)) == 1:
        return boxes[-1]
    gaps = [text[spans[k][2]:spans[k + 1][1]] for k in range(len(spans) - 1)]
    if all(_LIST_GAP.fullmatch(gap) for gap in gaps):
        return ", ".join(boxes)
    raise MathSyntaxError(f"the text has {len(set(boxes))} different \\boxed{{}} answers that "
                          "are not a list (a hedge such as `\\boxed{1} or \\boxed{2}`); box "
                          "only the final answer (a list such as `1, 2` in one box if there are "
                          "several)")


def unbox(text: str) -> str:
    """The contents of boxes around the whole text, also nested (``\\boxed{\\boxed{3}}``).

    Boxes inside other text (``\\boxed{3}\\text{ or }4`` inside a box, ``x = \\boxed{3}``)
    are :class:`Unreadable`: the text around them may be a hedge or a second answer. Several
    boxes that are the whole text are read by :func:`last_boxed` (a list, or a hedge)."""
    while spans := boxed_spans(text):  # each round strictly shortens the text
        outside = text[: spans[0][1]] + text[spans[-1][2]:]
        if outside.strip(" \t\n$."):
            raise Unreadable("a \\boxed{} answer stands inside other text (a hedge or a "
                             "second answer?); box only the final answer")
        boxed = last_boxed(text)
        assert boxed is not None
        text = boxed
    return text


#: What may stand between boxes that form a list of answers.
_LIST_GAP = re.compile(r"[\s,;&$]*(?:(?:\\text\s*\{\s*and\s*\}|\band\b)[\s,;&$]*)?")


#: Phrases after which a reply states its final answer (case-insensitive; the last one wins).
_MARKERS = ("final answer is", "final answer:", "answer is", "answer:", "answer =")
#: Math delimiters around an answer, outermost first: ``$$...$$``, ``\\[...\\]``, ``\\(...\\)``,
#: ``$...$``.
_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
#: What may stand between math segments that form a list (``$2$ and $3$``).
_SEGMENT_GAP = re.compile(r"[\s,;]*(?:\band\b[\s,;]*)?")
_PUNCTUATION = re.compile(r"[\s.,;:!]*")


def extract_answer(text: str, *, reference: bool = False) -> str:
    """The answer part of a solution or free-text completion (see :func:`answer_text`)."""
    return answer_text(text, last_line=True, reference=reference)


def answer_text(text: str, *, last_line: bool = False, reference: bool = False) -> str:
    """The final answer a text states, read the same way for candidates and references.

    In order: JSON-doubled backslashes are halved (``\\\\frac`` with no single backslash); the
    ``\\boxed{}`` answer if any (several boxes: :func:`last_boxed`); the rest of the line after
    the last ``####``; the text after the last "final answer is" / "answer is" / "answer:" up
    to the end of its line or of its first sentence (``72. I hope it is correct.``; after such
    a phrase a final ``!`` is :class:`Unreadable`: factorial or exclamation); otherwise, with
    ``last_line`` (a solution or a reply), the last non-empty line, else (an answer field) all
    lines. Of that, the one math segment (``$...$``, ``$$...$$``, ``\\[...\\]``, ``\\(...\\)``)
    when there is one, several segments when only commas and "and" stand between them (a
    list); several segments in prose are :class:`Unreadable`. A trailing full stop and Markdown
    emphasis around the whole answer (``**72**``, ``*72*``, ``__72__``, `` `72` ``) are dropped.
    In a reply (not a ``reference`` solution, which may go on after its answer) answer-like text
    after the answer (more math, a number, a number word, a choice, a correction) and an answer
    that itself holds another answer phrase or ``####`` are :class:`Unreadable`.
    """
    if len(text) > MAX_SOURCE_CHARS:
        raise TooComplex(f"the text is {len(text)} characters long (at most {MAX_SOURCE_CHARS})")
    if (key := duplicate_key(text)) is not None:  # {"answer": "1", "answer": "24"}: a hedge
        raise MathSyntaxError(duplicate_key_message(key))
    text = undouble_backslashes(text)
    boxed = last_boxed(text)
    if boxed is not None:
        if not reference:
            _no_correction(text[boxed_spans(text)[-1][2]:], boxed)
        return _extracted(unemphasize(unbox(boxed).strip()), reference)
    hashes = text.rfind("####")
    if hashes >= 0:
        line, tail = _split_line(text[hashes + 4 :])
        answer = unemphasize(line)
        if not reference:
            _no_correction(tail, answer)
        return _extracted(answer, reference)
    after, tail = _after_marker(text)
    if after is not text:
        after, rest = _first_sentence(after)
        tail = rest + tail
    lines = [ln.strip() for ln in after.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1] if last_line else " ".join(lines)
    segment, beyond = _math_segments(line)
    answer = unemphasize(segment.strip())
    if not reference:
        _no_correction(beyond + "\n" + tail, answer)
    if after is not text and answer.endswith("!") and not answer.endswith("!!"):
        raise Unreadable("after \"the answer is\" a final `!` reads as a factorial or as the end "
                         "of the sentence; write the value")
    return _extracted(answer, reference)


def field_text(text: str) -> str:
    """An answer that was already extracted (a JSON ``answer`` field, or what
    :func:`answer_text` took from a reply), read without extracting again.

    Only what wraps the whole answer is dropped (math delimiters, a box, emphasis, a full
    stop); an answer phrase, ``####`` or a box inside other text is :class:`Unreadable`: the
    field holds working or a second answer, not one final answer."""
    if len(text) > MAX_SOURCE_CHARS:
        raise TooComplex(f"the text is {len(text)} characters long (at most {MAX_SOURCE_CHARS})")
    text = unemphasize(undouble_backslashes(text).strip())
    if len(boxed_spans(text)) > 1:
        boxed = last_boxed(text)  # a list of boxes, or a hedge (MathSyntaxError)
        assert boxed is not None
        text = boxed
    return _extracted(unemphasize(unbox(text).strip()), reference=False)


_ANSWER_PHRASE = re.compile(r"####|(?i:\banswer\s*(?:is\b|:|=))")


def _extracted(answer: str, reference: bool) -> str:
    """``answer`` when it holds no second answer phrase (``4 #### 3``, ``4. The answer is 3``)."""
    if not reference and _ANSWER_PHRASE.search(answer):
        raise Unreadable("the final answer itself holds another answer (`####` or \"the answer "
                         "is\"); state one final answer")
    return answer


def _split_line(text: str) -> tuple[str, str]:
    """The rest of the first line of ``text`` (stripped) and what follows it."""
    newline = text.find("\n")
    if newline < 0:
        return text.strip(), ""
    return text[:newline].strip(), text[newline:]


#: A full stop that ends a sentence: after a non-dot, before a space and more text.
_SENTENCE_END = re.compile(r"(?<=[^.\s])\.\s+(?=\S)")


def _first_sentence(line: str) -> tuple[str, str]:
    """``72. I hope it is correct.`` -> (``72``, `` I hope it is correct.``): the first sentence
    of the line after an answer phrase, cut at a full stop outside ``$...$``; the rest is text
    after the answer."""
    for m in _SENTENCE_END.finditer(line):
        if line[: m.start()].count("$") % 2 == 0:
            return line[: m.start()], line[m.start() + 1 :]
    return line, ""


#: Markdown emphasis or code around a whole answer: ``**72**``, ``*72*``, ``__72__``, `` `72` ``.
_WRAPPED = re.compile(r"(\*\*|__|\*|_|`)([^*_`\s](?:.*[^*_`\s])?)\1", re.DOTALL)
_EMPHASIS_RUNS = ("**", "__")


def unemphasize(text: str) -> str:
    """``**72**`` / ``*72*`` / ``__72__`` / `` `72` `` (also with a full stop, ``**72**.``) read
    as ``72``; only markers that wrap the whole text (``2**3`` is a power). An unmatched ``**``
    at one end only (``**Answer: 72**`` cut after its phrase) is dropped too."""
    text = _full_stop(text.strip())
    for _ in range(3):
        for run in _EMPHASIS_RUNS:
            if text.endswith(run) and text.count(run) == 1 and len(text) > len(run):
                text = text[: -len(run)].rstrip()
            elif text.startswith(run) and text.count(run) == 1 and len(text) > len(run):
                text = text[len(run):].lstrip()
        m = _WRAPPED.fullmatch(text)
        if m is None or m.group(1) in m.group(2):
            break
        text = _full_stop(m.group(2).strip())
    return text


def _full_stop(text: str) -> str:
    """``5.`` -> ``5``; ``3.14...`` keeps its dots (a truncated decimal is refused later)."""
    if text.endswith(".") and not text.endswith(".."):
        return text[:-1].rstrip()
    return text


def _after_marker(text: str) -> tuple[str, str]:
    """The rest of the line after the last answer phrase, and the text after that line
    (``text`` and nothing when there is no phrase)."""
    lowered = text.lower()
    best = -1
    for marker in _MARKERS:
        at = lowered.rfind(marker)
        if at >= 0:
            best = max(best, at + len(marker))
    if best < 0:
        return text, ""
    rest = text[best:].lstrip(" \t:")  # "answer is: 42"
    closing = _CLOSING_BOLD.match(rest)  # "**Answer:** 42": the phrase's own bold ends
    if closing is not None:
        rest = rest[closing.end():]
    newline = rest.find("\n")
    line = rest if newline < 0 else rest[:newline]
    return line.rstrip(" \t"), "" if newline < 0 else rest[newline:]


_CLOSING_BOLD = re.compile(r"(?:\*\*|__|\*)(?:\s+|$)")


#: After the answer: what may be a second answer or a correction (a digit, math, ``=``, a lone
#: letter that may be a choice, a number word, words that take an answer back or name an
#: option). ``a`` and ``I`` are words. Literal alternatives: linear.
_CORRECTION = re.compile(
    r"[\d$\\=<>]|(?<![A-Za-z'])(?![aI](?![A-Za-z']))[A-Za-z](?![A-Za-z'])"
    r"|(?i:\b(?:actually|wait|correction|corrected|mistake|sorry|oops|instead|rather|wrong"
    r"|error|hmm|no|not|final|answer|recheck|redo|reconsider|miscounted|miscalculated|thought"
    r"|hold|scratch|nope|option|choice|letter|none|nothing|zero|one|two|three|four|five|six"
    r"|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen"
    r"|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred"
    r"|thousand|million|billion|half|halves|third|thirds|quarter|quarters|dozen|twice"
    r"|first|second|fourth|fifth|sixth|seventh|eighth|ninth|tenth|minus|plus|times|negative"
    r"|percent|degrees?)s?\b)")
_DELIMITER_RUN = re.compile(r"^(?:\s|\$|\\\]|\\\))*")


def _no_correction(tail: str, answer: str) -> None:
    """Refuse an answer the reply goes on to correct or hedge (``Answer: 3`` and then
    ``Wait, actually it is 4``, ``On second thought, it's four.``): :class:`Unreadable`. A
    tail with nothing answer-like in it (``I hope it is correct.``, ``Hope this helps!``) or
    one whose last line restates the same answer is fine."""
    tail = _DELIMITER_RUN.sub("", tail[:MAX_SOURCE_CHARS])
    if not _CORRECTION.search(tail):
        return
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    with contextlib.suppress(Unreadable):
        last = _after_marker(lines[-1])[0] if lines else ""
        if last and unemphasize(_math_segments(last)[0]) == answer:
            return
    raise Unreadable("the reply goes on after its final answer with more math or a "
                     "correction; state one final answer, last")


def _math_segments(line: str) -> tuple[str, str]:
    """The math of a line that mixes math segments and prose (see :func:`answer_text`), and
    the prose after a single segment (checked like text after the answer).

    One left-to-right scan over every delimiter kind, so ``$$3$$, or maybe $4$`` and
    ``$3$ or \\(4\\)`` are two segments, never the first kind alone."""
    segments: list[str] = []
    gaps: list[str] = []
    pos = 0
    kinds = [(o, c) for o, c in _DELIMITERS if o != "$" or line.count("$") % 2 == 0]
    next_at = dict.fromkeys((o for o, _ in kinds), -1)  # odd dollars: currency, not math
    while (found := _next_segment(line, pos, kinds, next_at)) is not None:
        start, inner_start, inner_end, pos_after = found
        gaps.append(line[pos:start])
        segments.append(line[inner_start:inner_end].strip())
        pos = pos_after
    if not segments:
        return line, ""
    outside = "".join(gaps) + line[pos:]
    if len(segments) == 1:
        return segments[0], line[pos:]
    if all(_SEGMENT_GAP.fullmatch(gap) for gap in gaps[1:]) and (
            _PUNCTUATION.fullmatch(line[pos:]) and _PUNCTUATION.fullmatch(gaps[0])):
        return ", ".join(segments), ""
    if not outside.strip():
        return " ".join(segments), ""
    raise Unreadable(f"the text has {len(segments)} math expressions in prose; state one "
                     "final answer (in \\boxed{} or after `Answer:`)")


def _next_segment(line: str, pos: int, kinds: list[tuple[str, str]],
                  next_at: dict[str, int]) -> tuple[int, int, int, int] | None:
    """The next closed segment of any kind from ``pos``: (start, inner start, inner end, end).

    ``next_at`` remembers where each opening occurs next, so a line is scanned once per kind
    (linear); at one position the outermost kind (``$$`` before ``$``) wins."""
    best: tuple[int, str, str] | None = None
    for opening, closing in kinds:
        if 0 <= next_at[opening] < pos or next_at[opening] == -1:
            next_at[opening] = line.find(opening, pos)
            if next_at[opening] < 0:
                next_at[opening] = -2  # none left
        at = next_at[opening]
        if at >= 0 and (best is None or at < best[0]):
            best = (at, opening, closing)
    if best is None:
        return None
    at, opening, closing = best
    stop = line.find(closing, at + len(opening))
    if stop < 0:
        return None  # an unclosed delimiter: no further segments
    return at, at + len(opening), stop, stop + len(closing)


_DOUBLED = re.compile(r"(?<!\\)\\\\(?=[A-Za-z{}\[\]()])")
_BACKSLASH_RUN = re.compile(r"\\+")


def undouble_backslashes(text: str) -> str:
    """``\\\\frac{1}{2}`` (text escaped twice, as JSON in JSON) read as ``\\frac{1}{2}``.

    Only when every run of backslashes has even length and the text has no ``&`` (inside a
    matrix ``\\\\`` is a row break)."""
    if "\\\\" not in text or "&" in text or not _DOUBLED.search(text):
        return text
    if any(len(run) % 2 for run in _BACKSLASH_RUN.findall(text)):
        return text
    return _BACKSLASH_RUN.sub(lambda m: "\\" * (len(m.group()) // 2), text)


# -- normalisation -------------------------------------------------------------------------

_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6",
                 "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-"}
_SUPER_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")

# Characters an LLM writes for ASCII operators; applied after NFKC.
_UNICODE = str.maketrans({
    "×": "*", "∗": "*", "·": "*", "⋅": "*", "÷": "/", "∕": "/",
    "−": "-", "–": "-", "—": "-", "‐": "-", "‒": "-",
    "≤": "<=", "⩽": "<=", "≥": ">=", "⩾": ">=", "≠": "!=",
    "π": "\\pi ", "∞": "\\infty ", "√": "\\sqrt ", "∪": "\\cup ", "∩": "\\cap ",
    "′": "'", "″": '"',
    "±": "\\pm ", "∅": "\\emptyset ", "°": "\\circ ", "θ": "\\theta ", "α": "\\alpha ",
    "β": "\\beta ", "γ": "\\gamma ", "λ": "\\lambda ", "µ": "\\mu ", "μ": "\\mu ",
    "φ": "\\phi ", "ω": "\\omega ", "≈": "\\approx ", "∼": "\\sim ",
})

_MATRIX_ENV = re.compile(r"\\(begin|end)\{(?:p|b|B|small)?matrix\}"
                         r"|\\(begin|end)\{array\}(\{[^}]*\})?")
_SPACES = re.compile(r"(?<!\\)\\(?:[,;:! ]|quad|qquad|displaystyle|textstyle|limits)"
                     r"|~|\\left\.|\\right\.")
_INVISIBLE = re.compile(r"\\(?:[hv]?phantom|[hv]space\*?)\s*\{[^{}]*\}")
#: ``1\,000\,000`` / ``1~000``: digit groups joined by a LaTeX space are one number.
_SPACED_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})((?:(?:\\[,;: ]|~)\d{3})+)(?![\d])")
_SPACED_GROUP = re.compile(r"\\[,;: ]|~")
#: Two numbers side by side (``2 3``, ``2\,3``, ``x = 2 1/2``): a typo or a separator we
#: cannot read, never a product. Not after ``_`` / ``^`` (``\log_2 8``, ``\sin^2 3``).
_NUMBER_NUMBER = re.compile(r"(?<![\d._^A-Za-z])(?:\d+\.?\d*|\.\d+)\s+(?=\.?\d)")
_BINOM_DIGITS = re.compile(r"\\binom\s*(\d)\s*(\d)")
_TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)"
                   r"\s*\{([^{}]*)\}")
_TRAILING_UNIT = re.compile(r"(?<!\s)\s*\\text\{\s*([A-Za-z][A-Za-z.]*(?: +[A-Za-z.]+)*)\s*\}\s*$")
_WHOLE_TEXT = re.compile(r"\\(?:text|mbox|textrm)\s*\{([^{}]*)\}")
_PLAIN_UNIT = re.compile(r"^([-+]?[\d.,]*\d)\s+([A-Za-z]{2,}(?: [A-Za-z]+)*)$")
_SHORT_UNITS = frozenset({"cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "hr", "lb", "oz",
                          "cents", "dollars", "degrees", "units"})
_MATH_WORDS = frozenset({"pi", "oo", "inf", "infty", "infinity", "sqrt", "sin", "cos", "tan",
                         "log", "ln", "exp", "abs", "or", "and"})
_REPEATING = re.compile(r"(\d*)\.(\d*)\\overline\s*\{(\d{1,50})\}")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,]|\.\d*,)")
#: ``12{,}5`` / ``1,\!000``: a LaTeX comma between digits, read like a plain comma.
_BRACE_COMMA = re.compile(r"(\d)(?:\{,\}|,\\!)(?=\d)")
#: ``~3``, ``x = ~3``: a tilde that does not join two tokens is "approximately".
_APPROXIMATELY = re.compile(r"(?<![^\s=(,<>{])~|\\(?:approx|simeq|sim)(?![A-Za-z])")
_MIXED_TEX = re.compile(r"^(-?)(\d+)\s*\\frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}$")
_MIXED_TXT = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")
_FRAC_DIGITS = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_DIGIT_BRACE = re.compile(r"\\frac\s*(\d)\s*\{")
_SQRT_DIGIT = re.compile(r"\\sqrt\s*(\d)")
_NTH_ROOT = re.compile(r"\\sqrt\s*\[([^\[\]]*)\]")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\^\s*\{\s*\\degree\s*\}"
                      r"|\\degree")
#: A number or letter right before a degree sign is braced, so ``\sin 30^\circ`` is sin(30°).
#: Matches start only where a number starts (the lookbehind) and never give digits back
#: (possessive), so a long digit run costs linear time, not cubic.
_DEGREE_TOKEN = re.compile(r"(?<![\d.])(\d++(?:\.\d*+)?|\.\d++|[A-Za-z])\s*+\\deg(?![A-Za-z])")
#: ``0.999\ldots`` / ``3.14...``: a truncated decimal is not a value.
_TRUNCATED = re.compile(r"\d\s*(?:\\[lc]?dots|\.\.\.)")
#: ``\sin x^2`` is sin(x^2) and ``\sin 2x`` is sin(2x), as printed maths reads them: the
#: one-token argument is braced before parsing (``\sin(x)^2`` stays a power of sin).
_FUNC_TOKEN_ARG = re.compile(
    r"(\\(?:sin|cos|tan|sec|csc|cot|sinh|cosh|tanh|ln|log|arcsin|arccos|arctan))\s*"
    r"((?:\d+\.?\d*|[A-Za-z]|\\(?:pi|theta|alpha|beta))\s*\^\s*(?:\{[^{}]*\}|-?\w)"
    r"|\d+\.?\d*(?:[A-Za-z]|\\(?:pi|theta|alpha|beta))(?![A-Za-z]))")
#: ``2 % 3`` is 2% times 3 to the grammar, ``x % comment`` a LaTeX comment, ``5 % 2`` a
#: remainder: a percent sign must end its number.
_PERCENT_THEN = re.compile(r"%\s*[\w(\\.]")
_SET_OF_REALS = re.compile(r"\\mathbb\s*\{?\s*R\s*\}?|\\R(?![A-Za-z])")
_MEMBER_OF = re.compile(r"^\s*[A-Za-z]\s*\\in(?![A-Za-z])\s*")
#: ``(?<!\s)``: a match starts at the first space of a run, so runs are scanned once (linear).
_OR_AND = re.compile(r"(?<!\s)\s*(?:\\text\{\s*(?:or|and)\s*\}|\b(?:or|and)\b)\s*")
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"), ("\\colon", ":"),
    ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"),
    ("\\left|", "\\lvert "), ("\\right|", "\\rvert "), ("\\left\\|", "\\lVert "),
    ("\\left", ""), ("\\right", ""), ("\\bigl", ""), ("\\bigr", ""), ("\\Bigl", ""),
    ("\\Bigr", ""), ("\\big", ""), ("\\Big", ""),
    ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\{\\}", "\\emptyset "),
    ("\\varnothing", "\\emptyset "), ("\\lbrack", "["), ("\\rbrack", "]"),
    ("\\leqslant", "<="), ("\\geqslant", ">="), ("\\leq", "<="), ("\\geq", ">="),
    ("\\le", "<="), ("\\ge", ">="), ("\\neq", "!="), ("\\ne", "!="), ("\\lt", "<"),
    ("\\gt", ">"), ("\\cdot", "*"), ("\\times", "*"), ("\\ast", "*"), ("\\div", "/"),
    ("\\%", "%"), ("**", "^"), ("\\$", ""), ("$", ""), ("\\mp", "\\pm "),
    ("\\infin", "\\infty "), ("\\langle", "("), ("\\rangle", ")"), ("\\dots", ""),
    ("\\ldots", ""),
)


@dataclass(frozen=True)
class Normalized:
    """An answer made ready for the grammar: its text, its trailing unit (``\\text{cm}``) if
    any, and the names written before a named tuple (``p, q`` in ``(p, q) = (3, 2)``)."""

    text: str
    unit: str | None
    tuple_names: tuple[str, ...] = ()


def normalize(text: str, *, thousands: bool = True,
              decimal_comma: bool = False) -> tuple[str, str | None]:
    """Canonical ASCII text for the grammar, and a trailing unit (see :func:`normalized`)."""
    out = normalized(text, thousands=thousands, decimal_comma=decimal_comma)
    return out.text, out.unit


def normalized(text: str, *, thousands: bool = True, decimal_comma: bool = False,
               dot_thousands: bool = False) -> Normalized:
    """Canonical ASCII text for the grammar, its trailing unit and its tuple's names.

    ``thousands``: whether digit groups ``110,143`` outside brackets are one number (else a
    list); see :func:`_separators`. ``decimal_comma``: ``1,22`` is 1.22 (the problem's locale);
    with it ``dot_thousands`` reads ``1.000`` as one thousand (that locale's digit groups).
    Raises :class:`MathSyntaxError` on characters the grammar cannot read (for
    instance a Cyrillic letter that looks like a Latin one), :class:`TooComplex`
    on over-long text and :class:`Unreadable` on a separator that reads two ways.
    """
    if len(text) > MAX_ANSWER_CHARS:
        raise TooComplex(f"the answer is {len(text)} characters long (at most "
                         f"{MAX_ANSWER_CHARS})")
    text = unbox(text)
    text, currency = _currency(text)
    text = _SUPER_RUN.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group()) + "}",
                          text)
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    for i, ch in enumerate(text):
        if ord(ch) > 126 or (ord(ch) < 32 and ch not in "\t\n\r"):
            raise MathSyntaxError(f"unexpected character {ch!r} (U+{ord(ch):04X})", i + 1)
    if (mm := _TRUNCATED.search(text)) is not None:
        raise MathSyntaxError("a decimal that trails off (`...`) is not an exact value; give "
                              "the exact value", mm.start() + 1)
    text = _full_stop(_strip_display(text.strip()))
    if "`" in text or _LOOSE_BOLD.search(text):
        raise Unreadable("Markdown emphasis or code (`**`, a backtick) inside the answer "
                         "is not math; give the answer alone")
    if (mm := _PRIME_AFTER_NUMBER.search(text)) is not None:
        raise Unreadable(f"`{mm.group().strip()}` reads as feet/inches, minutes/seconds of "
                         "arc or a prime; give the value with its unit in words")
    unit = currency
    wrapped = _WHOLE_TEXT.fullmatch(text)
    if wrapped is not None and any(c.isdigit() for c in wrapped.group(1)):
        text = wrapped.group(1).strip()  # \text{5 km}: the same as 5 \text{ km}
    m = _TRAILING_UNIT.search(text)
    if m and m.start() > 0:
        unit = (f"{currency} " if currency else "") + m.group(1).strip().lower()
        text = text[: m.start()]
    m = _PLAIN_UNIT.match(text)
    if m and unit is None and m.group(2).lower() not in _MATH_WORDS and (
            len(m.group(2)) >= 3 or m.group(2).lower() in _SHORT_UNITS) and _unit_words(m.group(2)):
        unit = m.group(2).lower()
        text = m.group(1)
    text = _MATRIX_ENV.sub(lambda mm: f"\\{mm.group(1) or mm.group(3)}{{matrix}}", text)
    if "vmatrix" in text:
        raise MathSyntaxError("determinant notation (vmatrix) is not an answer form; "
                              "give the value")
    if (mm := _PERCENT_THEN.search(text.replace("\\%", "%"))) is not None:
        raise MathSyntaxError("`%` must come right after its number (a percent), with an "
                              "operator after it; LaTeX comments are not read", mm.start() + 1)
    if "!!" in text:
        raise MathSyntaxError("`!!` is ambiguous (double factorial or a factorial twice); "
                              "write it as a product", text.index("!!") + 1)
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = _INVISIBLE.sub("", text)
    text = _MEMBER_OF.sub("", text)
    text = _SET_OF_REALS.sub(lambda _: "(-\\infty, \\infty)", text)
    text = _BRACE_COMMA.sub(r"\1,", text)  # 12{,}5 and 1,\!000: a comma, read as commas are
    text = _SPACED_THOUSANDS.sub(lambda mm: mm.group(1) + _SPACED_GROUP.sub("", mm.group(2)),
                                 text)
    if (mm := _APPROXIMATELY.search(text)) is not None:
        raise Unreadable("`~` (or `\\approx`) before a value reads as \"approximately\"; "
                         "give the exact value")
    text = _SPACES.sub(" ", text)
    text = _DEGREES.sub("\\\\deg ", text)
    if "\\deg" in text:
        text = _DEGREE_TOKEN.sub(r"{\1\\deg}", text)
    text = _FUNC_TOKEN_ARG.sub(r"\1{\2}", text)
    text = _OR_AND.sub(", ", text)
    text = _TEXT.sub(lambda mm: _text_word(mm.group(1)), text)
    text = _REPEATING.sub(_repeating, text)
    text = _separators(text, thousands, decimal_comma, dot_thousands)
    text = text.replace(";", ",")  # `1; 2`: a list separator (commas between digits are read)
    text = _BASE_N.sub(_base_n, text)
    text, names = _named_value(text)
    text = _FRAC_DIGITS.sub(r"\\frac{\1}{\2}", text)
    text = _FRAC_DIGIT_BRACE.sub(r"\\frac{\1}{", text)
    text = _BINOM_DIGITS.sub(r"\\binom{\1}{\2}", text)
    text = _NTH_ROOT.sub(r"\\root{\1}", text)
    text = _SQRT_DIGIT.sub(r"\\sqrt{\1}", text)
    text = text.strip()
    for pattern in (_MIXED_TEX, _MIXED_TXT):
        mm = pattern.match(text)
        if mm and int(mm.group(3)) < int(mm.group(4)):
            sign, whole, num, den = mm.groups()
            text = f"{sign}({whole}+{num}/{den})"
            break
    if (mm := _NUMBER_NUMBER.search(text)) is not None:  # a product, a typo, digit groups?
        raise Unreadable("two numbers stand side by side (`5 000`, `2 3`): digit groups, a "
                         "product or a typo; write the operation (`*`, `+`) or the number "
                         "without spaces")
    if "|" in text and "\\lvert" not in text:
        pieces = [text] if text.count("|") == 2 else text.split(",")
        text = ",".join(_bars(piece) for piece in pieces)
    return Normalized(text.strip(), unit, names)


#: A currency sign before or after the whole number (``\\$5``, ``€5``, ``5€``, ``3,50 €``,
#: ``5¢``): read as a unit, which must be the one asked for (see the verifier).
CURRENCIES = {"\\$": "dollar", "$": "dollar", "€": "euro", "£": "pound sterling", "¢": "cent"}
_CURRENCY_BEFORE = re.compile(r"^([-+]?)\s*(\\\$|\$|€|£)\s*(?=[\d.])")
_CURRENCY_AFTER = re.compile(r"(?<=[\d.])\s*(\\\$|€|£|¢)$")
_LOOSE_BOLD = re.compile(r"(?:^|\s)\*\*|\*\*(?:\s|$)")
#: ``3'``, ``3"``, ``3\\prime``, ``3''``: feet and inches, minutes and seconds, or a prime.
_PRIME_AFTER_NUMBER = re.compile(r"\d\s*(?:'|\"|\^\s*\{?\s*\\prime|\\prime)")


def _currency(text: str) -> tuple[str, str | None]:
    """The text without a currency sign around its number, and the currency as a unit."""
    text = text.strip()
    if len(text) > 2 and text.startswith("$") and text.endswith("$") and (
            not text.endswith("\\$")):
        text = text.strip("$").strip()
    m = _CURRENCY_BEFORE.match(text)
    if m is not None and (m.group(2) != "$" or text.count("$") == 1):
        return m.group(1) + text[m.end():], CURRENCIES[m.group(2)]
    m = _CURRENCY_AFTER.search(text)
    if m is not None and m.start() > 0:
        return text[: m.start()], CURRENCIES[m.group(1)]
    return text, None


def _bars(text: str) -> str:
    """``|x|`` as ``\\lvert x\\rvert`` when the text has exactly two bars (more nest
    ambiguously: ``|a|b|c|``); in a list each item is read alone (``x = |2|, x = -|2|``)."""
    if text.count("|") != 2:
        return text
    first = text.index("|")
    second = text.index("|", first + 1)
    return f"{text[:first]}\\lvert {text[first + 1:second]}\\rvert {text[second + 1:]}"


_DISPLAY = (("\\[", "\\]"), ("\\(", "\\)"), ("$$", "$$"))


def _strip_display(text: str) -> str:
    """``\\[ x \\]``, ``\\( x \\)``, ``$$ x $$`` around the whole answer read as ``x``."""
    for opening, closing in _DISPLAY:
        if text.startswith(opening) and text.endswith(closing) and len(text) >= 4:
            inner = text[len(opening) : -len(closing)]
            if opening not in inner and closing not in inner:
                return inner.strip()
    return text


def _bracket_depths(text: str) -> list[int]:
    depths = []
    depth = 0
    for ch in text:
        depths.append(depth)
        depth += (ch in "([{") - (ch in ")]}")
    return depths


def _separators(text: str, thousands: bool, decimal_comma: bool,
                dot_thousands: bool = False) -> str:
    """Commas between digits: a decimal comma, a thousands separator or a list separator.

    With ``decimal_comma`` the one comma of an answer (``1,22``, ``x = 1,22``), between digits
    and outside brackets, is a decimal comma, and any other comma between digits is
    :class:`Unreadable`. Otherwise digit groups of exactly three (``12,345``) outside
    brackets are one number when ``thousands`` (or when a group starts with 0, which no list
    writes: ``1,000``), else list items; inside brackets (a set, tuple, interval) they are list
    items, and a group with a leading 0 there (``\\{1,000\\}``) is :class:`Unreadable`.
    ``dot_thousands`` (with ``decimal_comma``): dots between digit groups of three
    (``1.000``, ``12.345,5``) separate thousands.
    """
    if decimal_comma:
        if dot_thousands:  # 1.000 in a decimal-comma locale: one thousand
            text = _DOT_GROUPS.sub(lambda m: m.group().replace(".", ""), text)
        if ";" in text:  # `1,5; 2`: `;` separates the items, every comma is a decimal comma
            if "," in _DIGIT_COMMA_DIGIT.sub("", text):
                raise Unreadable("a comma beside `;` separators reads as a decimal comma or "
                                 "as a list; use one separator")
            return _DIGIT_COMMA_DIGIT.sub(lambda m: m.group().replace(",", "."), text)
        if text.count(",") == 1 and (m := _DIGIT_COMMA_DIGIT.search(text)) is not None and (
                _bracket_depths(text)[m.start() + 1] == 0):  # 1,5 and x = 1,5; not (1,5)
            return text.replace(",", ".")
        if _DIGIT_COMMA_DIGIT.search(text):
            raise Unreadable("a comma between digits reads as a decimal comma or as a list; "
                             "write a decimal as a whole answer (`1,5`) or separate items "
                             "with `, ` or `;`")
        return text
    depths = _bracket_depths(text)

    def group(m: re.Match[str]) -> str:
        leading_zero = any(g.startswith("0") for g in m.group(2).split(",")[1:])
        if depths[m.start()] > 0:
            if leading_zero:
                raise Unreadable(f"`{m.group()}` inside brackets reads as one number or as "
                                 "several items; write the number without commas")
            return m.group()
        if thousands or leading_zero:
            return m.group(1) + m.group(2).replace(",", "")
        return m.group()

    text = _THOUSANDS.sub(group, text)
    if (mm := _LEADING_ZERO_ITEM.search(text)) is not None:
        raise Unreadable(f"`{mm.group().strip(', ')}` after a comma reads as digits of a number "
                         "or as an item with a leading zero; write it without the comma")
    return text


#: ``1.000`` / ``12.345.678``: what reads as digit groups in a decimal-comma locale.
DOT_GROUPS = _DOT_GROUPS = re.compile(r"(?<![\d.])[1-9]\d{0,2}(?:\.\d{3})+(?![\d.])")
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_LEADING_ZERO_ITEM = re.compile(r"\d,\s*0\d")
#: ``204_5`` / ``204_{5}`` / ``A3_{16}``: a numeral in base 2..36; capital letters are digits
#: (A = 10, ..., Z = 35) when the base is over 10 (see :func:`_base_n`).
BASE_N = _BASE_N = re.compile(r"(?<![\w.\\}])([0-9A-Z]{1,60})_"
                              r"(?:\{\s*(\d{1,2})\s*\}|(\d{1,2}))(?![\d])")
#: ``f(x) = 2x+3``: the function's name and arguments before its value.
_FUNCTION_OF = re.compile(r"^\s*[A-Za-z]\s*\(\s*[A-Za-z]\s*(?:,\s*[A-Za-z]\s*)*\)\s*=(?![=<>])")
_RELATION_AFTER = re.compile(r"[=<>]")
#: ``(p, q) = (3, 2)``: names of a tuple's entries before the tuple.
_NAMED_TUPLE = re.compile(r"^\s*\(\s*[A-Za-z](?:_\w+)?\s*(?:,\s*[A-Za-z](?:_\w+)?\s*)+\)\s*="
                          r"(?![=<>])")


def _named_value(text: str) -> tuple[str, tuple[str, ...]]:
    """``f(x) = 2x+3`` read as ``2x+3``, ``(p, q) = (3, 2)`` as ``(3, 2)`` and the names
    ``(p, q)``. A function's arguments must be the value's letters (``g(y) = 2x+3`` stays an
    equation: its ``g`` and ``y`` are then names the answer does not explain)."""
    if (m := _FUNCTION_OF.match(text)) is not None and not _RELATION_AFTER.search(text, m.end()):
        value = _COMMAND.sub(" ", text[m.end():])
        args = set(_LETTER.findall(m.group()[m.group().index("("):]))
        if not _LETTER.search(value) or all(arg in value for arg in args):
            return text[m.end():], ()
        return text, ()
    if (m := _NAMED_TUPLE.match(text)) is not None and text[m.end():].lstrip()[:1] == "(" and (
            not _RELATION_AFTER.search(text, m.end())):
        inner = m.group()[m.group().index("(") + 1 : m.group().rindex(")")]
        return text[m.end():], tuple(name.strip() for name in inner.split(","))
    return text, ()


_COMMAND = re.compile(r"\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-z]")


def base_numeral(text: str) -> tuple[str, int] | None:
    """``(digits, base)`` when the whole text is a base-n numeral such as ``204_5``."""
    m = _BASE_N.fullmatch(text.strip().strip("$").strip())
    if m is None:
        return None
    digits, base = m.group(1), int(m.group(2) or m.group(3))
    if not digits.isdigit() and not (base > 10 and len(digits) >= 2 and is_numeral(digits, base)):
        return None
    return digits, base


def _base_n(m: re.Match[str]) -> str:
    digits, base = m.group(1), int(m.group(2) or m.group(3))
    if not digits.isdigit():  # letters: digits of a base over 10, else a name (``A_1``)
        if is_numeral(digits, base) and base > 10 and len(digits) >= 2:
            return str(int(digits, base))
        return m.group()
    if not 2 <= base <= 36:
        raise MathSyntaxError(f"`{m.group()}`: a base must be between 2 and 36", m.start() + 1)
    if not is_numeral(digits, base):
        raise MathSyntaxError(f"`{m.group()}` has a digit that is not a base-{base} digit",
                              m.start() + 1)
    return str(int(digits, base))


def is_numeral(digits: str, base: int) -> bool:
    """Whether ``digits`` (0-9, A-Z) are all digits of ``base`` (2..36)."""
    return 2 <= base <= 36 and all(int(d, 36) < base for d in digits)


_DEGREE_SIGNS = re.compile(r"\^\s*\{\s*\\(?:circ|degree)\s*\}|\^\s*\\circ|\\circ|\\degree|°")
_TRIG = re.compile(r"(?:sin|cos|tan|sec|csc|cot)")


def without_degrees(text: str) -> str | None:
    """``30^\\circ`` read as the bare number ``30`` (the sign as a unit, not as pi/180); None
    when the text has no degree sign, or one inside a trigonometric function (``\\sin 30°``),
    where it can only mean pi/180."""
    if len(text) > MAX_ANSWER_CHARS or _TRIG.search(text):
        return None
    bare = _DEGREE_SIGNS.sub(" ", text)
    return None if bare == text else bare


_CHOICE_WRAP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|textit|mathit)\s*\{(.*)\}",
                          re.DOTALL)
_CHOICE = re.compile(r"\(?\s*([A-Za-z])\s*\)?\s*[.:]?")


def choice_letter(text: str) -> str | None:
    """The letter of a multiple-choice answer: ``C``, ``(C)``, ``\\textbf{A}``, ``\\mathrm{E}``,
    ``\\text{(C)}``, ``C)``; None when the text is anything else."""
    text = _strip_display(text.strip())
    for _ in range(4):
        m = _CHOICE_WRAP.fullmatch(text.strip())
        if m is None:
            break
        text = m.group(1)
    text = text.strip().strip("$").strip()
    m = _CHOICE.fullmatch(text)
    return m.group(1).upper() if m else None


#: Words no unit contains: with them a trailing phrase is prose (``5 or maybe not``).
_PROSE_WORDS = frozenset({"or", "and", "not", "is", "are", "was", "but", "maybe", "the", "an",
                          "it", "so", "than", "then", "if", "because", "probably", "answer"})


def _unit_words(phrase: str) -> bool:
    """Whether a trailing phrase can be a unit: at most three words, none of them prose."""
    words = phrase.lower().split()
    return len(words) <= 3 and not any(w in _PROSE_WORDS for w in words)


def _repeating(m: re.Match[str]) -> str:
    """``0.1\\overline{6}`` -> ``(1/6)`` exactly (an integer part, fixed and repeating digits)."""
    whole, fixed, period = m.group(1) or "0", m.group(2)[:50], m.group(3)
    scale = 10 ** len(fixed)
    numerator = int(fixed + period) - int(fixed or "0")
    denominator = scale * (10 ** len(period) - 1)
    return f"({whole}+{numerator}/{denominator})"


def _text_word(content: str) -> str:
    content = content.strip()
    if not content:
        return " "
    if re.fullmatch(r"[A-Za-z]+(?: [A-Za-z]+)*", content):
        return "\\word{" + content.replace(" ", "_") + "}"
    return " " + content + " "
