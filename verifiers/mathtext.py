"""Text clean-up before math parsing: answer extraction and LaTeX/Unicode normalisation.

Pure string work with linear-time regular expressions and hard length caps, so
hostile text (megabytes, odd Unicode) is refused before any parsing. Nothing
here executes or evaluates anything.
"""

from __future__ import annotations

import re
import unicodedata

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


_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def boxed_contents(text: str) -> list[str]:
    """The contents of every outermost ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces).

    ``\\boxed 5`` (no braces) contributes its next token; an unclosed box contributes nothing.
    """
    out: list[str] = []
    pos = 0
    while (m := _BOX.search(text, pos)) is not None:
        i = m.end()
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text) or text[i] != "{":
            token = re.compile(r"\s+(\S+)").match(text, m.end())
            if token:
                out.append(token.group(1))
            pos = m.end()
            continue
        depth = 0
        for j in range(i, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    out.append(text[i + 1 : j].strip())
                    break
        else:
            return out
        pos = j + 1
    return out


def last_boxed(text: str) -> str | None:
    """The boxed answer of ``text``; None when nothing is boxed.

    Several boxes with different contents are a hedge (``\\boxed{1} or \\boxed{2}``) or a
    multi-part answer, never silently the last one: :class:`MathSyntaxError`.
    """
    boxes = boxed_contents(text)
    if not boxes:
        return None
    if len(set(boxes)) > 1:
        raise MathSyntaxError(f"the text has {len(set(boxes))} different \\boxed{{}} answers; "
                              "box only the final answer (a list such as `1, 2` in one box if "
                              "there are several)")
    return boxes[-1]


_ANSWER_IS = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:)\s*[:$]*\s*(.+?)\s*\$?\s*\.?\s*$",
    re.IGNORECASE | re.DOTALL,
)
#: The phrase search looks only at this many trailing characters of the last line, so the
#: regular expression's work stays bounded on hostile text.
_PHRASE_WINDOW = 400


def extract_answer(text: str) -> str:
    """The answer part of a solution or completion: boxed, after ``####``, or the whole text."""
    if len(text) > MAX_SOURCE_CHARS:
        raise TooComplex(f"the text is {len(text)} characters long (at most {MAX_SOURCE_CHARS})")
    if (key := duplicate_key(text)) is not None:  # {"answer": "1", "answer": "24"}: a hedge
        raise MathSyntaxError(duplicate_key_message(key))
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    hashes = text.rfind("####")
    if hashes >= 0:
        return text[hashes + 4 :].strip()
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    m = _ANSWER_IS.search(last[-_PHRASE_WINDOW:])
    if m and (len(lines) > 1 or len(last) > 40):
        return m.group(1).strip()
    return last


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
    "±": "\\pm ", "∅": "\\emptyset ", "°": "\\circ ", "θ": "\\theta ", "α": "\\alpha ",
    "β": "\\beta ", "γ": "\\gamma ", "λ": "\\lambda ", "µ": "\\mu ", "μ": "\\mu ",
    "φ": "\\phi ", "ω": "\\omega ",
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
_TRAILING_UNIT = re.compile(r"\s*\\text\{\s*([A-Za-z][A-Za-z .]*?)\s*\}\s*$")
_PLAIN_UNIT = re.compile(r"^([-+]?[\d.,]*\d)\s+([A-Za-z]{2,}(?: [A-Za-z]+)*)$")
_SHORT_UNITS = frozenset({"cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "hr", "lb", "oz",
                          "cents", "dollars", "degrees", "units"})
_MATH_WORDS = frozenset({"pi", "oo", "inf", "infty", "infinity", "sqrt", "sin", "cos", "tan",
                         "log", "ln", "exp", "abs", "or", "and"})
_REPEATING = re.compile(r"(\d*)\.(\d*)\\overline\s*\{(\d{1,50})\}")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,]|\.\d*,)")
_BRACE_COMMA = re.compile(r"(\d)\{,\}(\d)")
_MIXED_TEX = re.compile(r"^(-?)(\d+)\s*\\frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}$")
_MIXED_TXT = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")
_FRAC_DIGITS = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_DIGIT_BRACE = re.compile(r"\\frac\s*(\d)\s*\{")
_SQRT_DIGIT = re.compile(r"\\sqrt\s*(\d)")
_NTH_ROOT = re.compile(r"\\sqrt\s*\[([^\[\]]*)\]")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\^\s*\{\s*\\degree\s*\}"
                      r"|\\degree")
#: A number or letter right before a degree sign is braced, so ``\sin 30^\circ`` is sin(30°).
_DEGREE_TOKEN = re.compile(r"(\d+\.?\d*|\.\d+|[A-Za-z])\s*\\deg(?![A-Za-z])")
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
_OR_AND = re.compile(r"\s*(?:\\text\{\s*(?:or|and)\s*\}|\b(?:or|and)\b)\s*")
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
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


def normalize(text: str) -> tuple[str, str | None]:
    """Canonical ASCII text for the grammar, and a trailing unit (``\\text{cm}``) if any.

    Raises :class:`MathSyntaxError` on characters the grammar cannot read (for
    instance a Cyrillic letter that looks like a Latin one) and :class:`TooComplex`
    on over-long text.
    """
    if len(text) > MAX_ANSWER_CHARS:
        raise TooComplex(f"the answer is {len(text)} characters long (at most "
                         f"{MAX_ANSWER_CHARS})")
    while (boxed := last_boxed(text)) is not None:  # each round strictly shortens the text
        text = boxed
    text = _SUPER_RUN.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group()) + "}",
                          text)
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    for i, ch in enumerate(text):
        if ord(ch) > 126 or (ord(ch) < 32 and ch not in "\t\n\r"):
            raise MathSyntaxError(f"unexpected character {ch!r} (U+{ord(ch):04X})", i + 1)
    if (mm := _TRUNCATED.search(text)) is not None:
        raise MathSyntaxError("a decimal that trails off (`...`) is not an exact value; give "
                              "the exact value", mm.start() + 1)
    text = text.strip().rstrip(".").strip()
    unit = None
    m = _TRAILING_UNIT.search(text)
    if m and m.start() > 0:
        unit = m.group(1).strip().lower()
        text = text[: m.start()]
    m = _PLAIN_UNIT.match(text)
    if m and unit is None and m.group(2).lower() not in _MATH_WORDS and (
            len(m.group(2)) >= 3 or m.group(2).lower() in _SHORT_UNITS):
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
    text = _SPACED_THOUSANDS.sub(lambda mm: mm.group(1) + _SPACED_GROUP.sub("", mm.group(2)),
                                 text)
    text = _SPACES.sub(" ", text)
    text = _DEGREES.sub("\\\\deg ", text)
    text = _DEGREE_TOKEN.sub(r"{\1\\deg}", text)
    text = _FUNC_TOKEN_ARG.sub(r"\1{\2}", text)
    text = _OR_AND.sub(", ", text)
    text = _TEXT.sub(lambda mm: _text_word(mm.group(1)), text)
    text = _REPEATING.sub(_repeating, text)
    text = _BRACE_COMMA.sub(r"\1\2", text)
    text = _THOUSANDS.sub(lambda mm: mm.group(1) + mm.group(2).replace(",", ""), text)
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
    if (mm := _NUMBER_NUMBER.search(text)) is not None:
        raise MathSyntaxError("two numbers stand side by side; write the operation (`*`, `+`) "
                              "or the number without spaces", mm.end())
    if text.count("|") == 2 and "\\lvert" not in text:
        first = text.index("|")
        second = text.index("|", first + 1)
        text = f"{text[:first]}\\lvert {text[first + 1:second]}\\rvert {text[second + 1:]}"
    return text.strip(), unit


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
