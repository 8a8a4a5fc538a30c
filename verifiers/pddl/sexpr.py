"""A bounded S-expression reader for PDDL text.

PDDL is S-expressions all the way down, so the grammar is a regular token
language (``(``, ``)``, atoms, ``;`` comments) plus bracket nesting. One compiled
regular expression tokenizes; a loop with an explicit stack builds nested
lists. Names are lower-cased (PDDL is case-insensitive). Nothing is evaluated;
size and depth are bounded; errors name the line.

A ``?`` always starts a new token, as VAL's and Fast Downward's lexers have it:
``(aircraft?a)`` is the atom ``aircraft`` applied to the variable ``?a`` (the IPC
zenotravel domain is written so). A ``?`` with no name after it is an error.
Every list remembers the line of its opening parenthesis, so later errors about
its contents can name it.
"""

from __future__ import annotations

import re
from typing import Union

from llm_modulo.errors import PDDLError as PDDLError
from llm_modulo.errors import UnsupportedPDDL as UnsupportedPDDL

SExpr = Union[str, "list[SExpr]"]

MAX_CHARS = 20_000_000
MAX_DEPTH = 200
_TOKEN = re.compile(r";[^\n]*|([()])|(\?[^\s();?]*|[^\s();?]+)")


class SList(list["SExpr"]):
    """A parenthesised list and the line its ``(`` is on (0 if not read from text)."""

    __slots__ = ("line",)

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(name: str) -> str:
    """PDDL's case-insensitivity, as VAL applies it: ASCII letters only.

    ``str.lower`` would also map e.g. the Kelvin sign to ``k``, so a plan could name
    an object the file never declared.
    """
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def located(exc: PDDLError, where: SExpr) -> PDDLError:
    """``exc`` naming the line of ``where`` (a list read from text), if it names none yet."""
    line = getattr(where, "line", 0)
    if exc.located or not line:
        return exc
    out = type(exc)(f"line {line}: {exc}")
    out.located = True
    return out


def read(text: str, what: str = "PDDL") -> list[SExpr]:
    """The top-level expressions of ``text``, names lower-cased."""
    if len(text) > MAX_CHARS:
        raise PDDLError(f"{what} is {len(text)} characters long (limit {MAX_CHARS})")
    stack: list[list[SExpr]] = [[]]
    opened: list[int] = []
    line, seen = 1, 0
    for m in _TOKEN.finditer(text):
        paren = m.group(1)
        if paren == "(":
            if len(stack) > MAX_DEPTH:
                raise _at(PDDLError(f"{what} line {line_of(text, m.start())}: nested deeper "
                                    f"than {MAX_DEPTH} levels"))
            line += text.count("\n", seen, m.start())
            seen = m.start()
            stack.append(SList(line))
            opened.append(m.start())
        elif paren == ")":
            if len(stack) == 1:
                raise _at(PDDLError(f"{what} line {line_of(text, m.start())}: unbalanced ')'"))
            done = stack.pop()
            opened.pop()
            stack[-1].append(done)
        elif m.group(2) is not None:
            if m.group(2) == "?":
                raise _at(PDDLError(f"{what} line {line_of(text, m.start())}: `?` must be "
                                    f"followed by a variable name"))
            stack[-1].append(fold(m.group(2)))
    if len(stack) > 1:
        raise _at(PDDLError(f"{what} line {line_of(text, opened[-1])}: '(' is never closed"))
    return stack[0]


def _at(exc: PDDLError) -> PDDLError:
    exc.located = True
    return exc


def render(expr: SExpr) -> str:
    """PDDL text of an expression."""
    if isinstance(expr, str):
        return expr
    return "(" + " ".join(render(e) for e in expr) + ")"
