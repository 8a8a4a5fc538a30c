"""A bounded S-expression reader for PDDL text.

PDDL is S-expressions all the way down, so the grammar is a regular token
language (``(``, ``)``, atoms, ``;`` comments) plus bracket nesting. One compiled
regular expression tokenizes; a loop with an explicit stack builds nested
lists. Names are lower-cased (PDDL is case-insensitive). Nothing is evaluated;
size and depth are bounded; errors name the line.
"""

from __future__ import annotations

import re
from typing import Union

from llm_modulo.errors import ProblemError

SExpr = Union[str, "list[SExpr]"]

MAX_CHARS = 20_000_000
MAX_DEPTH = 200
_TOKEN = re.compile(r";[^\n]*|([()])|([^\s();]+)")


class PDDLError(ProblemError):
    """A domain or problem file that is not valid PDDL (or not consistent)."""


class UnsupportedPDDL(PDDLError):
    """Valid PDDL that uses a feature this validator does not implement."""


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(name: str) -> str:
    """PDDL's case-insensitivity, as VAL applies it: ASCII letters only.

    ``str.lower`` would also map e.g. the Kelvin sign to ``k``, so a plan could name
    an object the file never declared.
    """
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def read(text: str, what: str = "PDDL") -> list[SExpr]:
    """The top-level expressions of ``text``, names lower-cased."""
    if len(text) > MAX_CHARS:
        raise PDDLError(f"{what} is {len(text)} characters long (limit {MAX_CHARS})")
    stack: list[list[SExpr]] = [[]]
    opened: list[int] = []
    for m in _TOKEN.finditer(text):
        paren = m.group(1)
        if paren == "(":
            if len(stack) > MAX_DEPTH:
                raise PDDLError(f"{what} line {line_of(text, m.start())}: nested deeper than "
                                f"{MAX_DEPTH} levels")
            stack.append([])
            opened.append(m.start())
        elif paren == ")":
            if len(stack) == 1:
                raise PDDLError(f"{what} line {line_of(text, m.start())}: unbalanced ')'")
            done = stack.pop()
            opened.pop()
            stack[-1].append(done)
        elif m.group(2) is not None:
            stack[-1].append(fold(m.group(2)))
    if len(stack) > 1:
        raise PDDLError(f"{what} line {line_of(text, opened[-1])}: '(' is never closed")
    return stack[0]


def render(expr: SExpr) -> str:
    """PDDL text of an expression."""
    if isinstance(expr, str):
        return expr
    return "(" + " ".join(render(e) for e in expr) + ")"
