"""VAL's plan-file format, read as VAL reads it (``pddl+.l`` and ``pddl+.y`` in KCL-Planning/VAL).

The file is one token stream, newlines being blanks, so steps may share a line or span
several. The grammar (``c_plan``)::

    plan := (step | "time" NUMBER)*      ; "time" only at the very start of a line
    step := [NUMBER ":"] "(" NAME NAME* ")" ["[" NUMBER "]"]

NUMBER is VAL's ``-?[0-9]+(\\.[0-9]*)?`` (``1``, ``-2``, ``0.5``, ``1.``; not ``.5`` or
``1e3``); NAME is ``[a-zA-Z_][a-zA-Z0-9_-]*``, case-insensitive. ``;`` starts a comment
to the end of the line. Anything else is "Bad plan description!", as in VAL: numbering
such as ``1. (move a b)`` (``1.`` is a number not followed by ``:``), two durations, a
name that is one of VAL's keywords (``and``, ``not``, ``either``, ...) or a function of
the domain (VAL's lexer returns those as other tokens), ``?``, ``.``, ``=``, ``+``,
``*``, ``/``, ``<``, ``>``, ``#t``.

A character none of VAL's lexer rules matches is skipped (flex's default rule copies it
to standard output and goes on): backticks (so a Markdown fence of bare backticks is
read through, while a fence's language word such as ``pddl`` is a stray name and bad),
a backslash (so ``\\`` "line continuations" are read through), quotes, commas, braces,
a lone ``#``, carriage returns, and every non-ASCII character (each of its bytes). So
``(move a\\b)`` is ``(move a b)`` to VAL and here.

Regular expressions only, linear in the text; nothing is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from llm_modulo.verifiers.pddl.plantext import MAX_PLAN_CHARS, MAX_STEPS, LineError
from llm_modulo.verifiers.pddl.sexpr import fold
from llm_modulo.verifiers.pddl.simulate import Step

#: VAL's lexer tokens that can appear in a plan, in its rule order (flex: longest match,
#: then the earliest rule). ``bad`` are tokens of VAL's other grammars, errors in a plan.
_TOKEN = re.compile(r"""
    (?P<comment>;[^\n]*)
  | (?P<nl>\n)
  | (?P<blank>[ \t]+)
  | (?P<paren>[()\[\]])
  | (?P<number>-?[0-9]+(?:\.[0-9]*)?)
  | (?P<name>[a-zA-Z_][a-zA-Z0-9_-]*)
  | (?P<colon>:[a-zA-Z_][a-zA-Z0-9_-]*|:)
  | (?P<bad>\#[tT]|[<>]=?|[-?.=+*/])
  | (?P<skip>.)
""", re.VERBOSE | re.DOTALL)

#: VAL's keywords that look like names (``pddl+.l``); as tokens of their own they are no
#: NAME, so an action or object spelled so is a syntax error in a plan
KEYWORDS = frozenset({
    "define", "domain", "and", "or", "exists", "forall", "imply", "not", "when", "either",
    "problem", "minimize", "maximize", "is-violated", "duration", "total-time", "number",
    "increase", "decrease", "scale-up", "scale-down", "assign", "preference", "always",
    "sometime", "within", "at-most-once", "sometime-after", "sometime-before",
    "always-within", "hold-during", "hold-after", "after", "supply-demand", "name",
})
#: ``at start``, ``at end``, ``over all`` (followed by a blank, newline or ``(``) and ``at``
#: followed by a number are single tokens to VAL
_TWO_WORD = re.compile(r"(?:at[ \t]+(?:start|end)|over[ \t]+all)(?=[ \t\n(])|at[ \t]+-?[0-9]",
                       re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "(", ")", "[", "]", ":", "number", "name", "time", "bad"
    text: str
    line: int


def _tokens(text: str, functions: Collection[str]) -> list[_Tok]:
    out: list[_Tok] = []
    line = 1
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group()
        if kind == "nl":
            line += 1
        elif kind in ("comment", "blank", "skip"):
            continue
        elif kind == "paren":
            out.append(_Tok(tok, tok, line))
        elif kind == "colon":
            out.append(_Tok(":" if tok == ":" else "bad", tok, line))
        elif kind == "name":
            out.append(_Tok(_name_kind(text, m.start(), fold(tok), functions), tok, line))
        else:
            out.append(_Tok(str(kind), tok, line))
    return out


def _name_kind(text: str, start: int, name: str, functions: Collection[str]) -> str:
    if name == "time" and (start == 0 or text[start - 1] == "\n"):
        return "time"
    if name in KEYWORDS or name in functions:
        return "bad"
    if name in ("at", "over") and _TWO_WORD.match(text, start):
        return "bad"
    return "name"


def parse_val_plan(text: str, functions: Collection[str] = ()
                   ) -> tuple[list[Step], list[LineError]]:
    """Steps of a plan file in VAL's format, or the first place VAL's parser stops.

    ``functions`` are the domain's function names (VAL lexes them as other tokens).
    """
    if len(text) > MAX_PLAN_CHARS:
        return [], [LineError(0, "", f"the plan is longer than {MAX_PLAN_CHARS} characters")]
    toks = _tokens(text, frozenset(fold(f) for f in functions))
    lines = text.split("\n")
    steps: list[Step] = []
    i = 0

    def error(at: int, why: str) -> tuple[list[Step], list[LineError]]:
        tok = toks[at] if at < len(toks) else None
        line = tok.line if tok else len(lines)
        found = f"`{tok.text}`" if tok else "the end of the file"
        src = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return steps, [LineError(line, src, f"is not in VAL's plan format: {why}, found "
                                            f"{found}")]

    def kind(at: int) -> str:
        return toks[at].kind if at < len(toks) else "end"

    while i < len(toks):
        if len(steps) >= MAX_STEPS:
            return steps, [LineError(toks[i].line, "", f"the plan has more than {MAX_STEPS} "
                                                       f"steps")]
        if kind(i) == "time":
            if kind(i + 1) != "number":
                return error(i + 1, "`time` must be followed by a number")
            i += 2
            continue
        stamp: float | None = None
        if kind(i) == "number":
            if kind(i + 1) != ":":
                return error(i + 1, "a number before a step must be a time stamp `N:`")
            stamp = float(toks[i].text)
            i += 2
        if kind(i) != "(":
            return error(i, "expected a step `(action object ...)`")
        start = toks[i]
        if kind(i + 1) != "name":
            return error(i + 1, "expected an action name after `(`")
        j = i + 2
        while kind(j) == "name":
            j += 1
        if kind(j) != ")":
            return error(j, "expected an object name or `)`")
        action = fold(toks[i + 1].text)
        args = tuple(fold(t.text) for t in toks[i + 2:j])
        source = "(" + " ".join((toks[i + 1].text, *(t.text for t in toks[i + 2:j]))) + ")"
        i = j + 1
        if kind(i) == "[":
            if kind(i + 1) != "number" or kind(i + 2) != "]":
                return error(i + 1 if kind(i + 1) != "number" else i + 2,
                             "a duration is `[NUMBER]`")
            i += 3
        steps.append(Step(len(steps) + 1, action, args, start.line, source, stamp))
    return steps, []
