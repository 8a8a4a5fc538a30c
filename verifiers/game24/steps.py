"""Game of 24 one step at a time: the Tree-of-Thoughts step line and the prefix check.

A step line is ``4 + 8 = 12 (left: 4 6 12)``: an expression with at least one operation, ``=``,
its value (an integer or fraction, optionally negative) and, optionally, the numbers left
after the step in ``(left: ...)`` (separated by blanks or commas, in any order). The
expression and the values are read with the arithmetic grammar (:mod:`.arith`) and the steps
are applied with the chain reader's pool (:class:`.chain.Pool`), so a step line means here
exactly what it means in a whole step-by-step answer. An operand is an integer, or ``a/b``
naming an earlier non-integer result (``5 - 1/5`` after ``1 / 5 = 1/5``; a step that reads
both ways with different numbers taken is UNKNOWN); a negative result cannot be an operand
(the grammar has no unary minus), so a step that needs one does not read.

The prefix check (:func:`check_prefix`) decides a partial chain ``{"steps": [line, ...]}``:
REJECT, naming the step, when a step is false, divides by zero, uses a number that is not
left, states numbers left that are not the ones left, or leaves numbers that provably cannot
make the target (an exhaustive exact search over at most :data:`MAX_SEARCHED` numbers);
ACCEPT with ``{"complete": True}`` when one number is left and it is the target; ACCEPT
otherwise (the prefix may still lead to the target); UNKNOWN when a line does not read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from llm_modulo.types import Critique
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.game24.arith import (
    MAX_DIGITS,
    MAX_LENGTH,
    BinOp,
    DivisionByZero,
    Expr,
    ExpressionSyntaxError,
    evaluate,
    format_fraction,
    parse_expression,
    render_full,
)
from llm_modulo.verifiers.game24.chain import MAX_STEPS, Pool

#: The dead-end search runs when at most this many numbers are left (4 numbers: a few
#: thousand exact operations; the first steps of a 5- or 6-number puzzle are not searched).
MAX_SEARCHED = 4
#: Numbers read in one ``(left: ...)``.
MAX_LEFT = 12
_CRITIQUE_KIND = {"division_by_zero": "division_by_zero", "false": "step",
                  "not_left": "number_extra"}


@dataclass(frozen=True)
class StepLine:
    """One step line as read: the expression (its text, blanks collapsed, and its tree), the
    value it states and the numbers it says are left (None when it says nothing)."""

    expression: str
    tree: Expr
    value: Fraction
    left: tuple[Fraction, ...] | None

    def text(self) -> str:
        """The line as prompts show it: ``4 + 8 = 12 (left: 4 6 12)``."""
        line = f"{self.expression} = {format_fraction(self.value)}"
        return line if self.left is None else f"{line} (left: {format_values(self.left)})"


def format_values(values: Sequence[Fraction]) -> str:
    return " ".join(format_fraction(v) for v in values)


def _value(text: str) -> Fraction:
    """An integer or fraction, optionally with a leading minus (the grammar has none)."""
    text = text.strip()
    negative = text.startswith("-")
    body = text[1:] if negative else text
    top, slash, bottom = body.partition("/")
    if _digits(top) and (not slash or (_digits(bottom) and int(bottom) != 0)):
        value = Fraction(int(top), int(bottom) if slash else 1)  # the common case, fast
    else:
        value = evaluate(parse_expression(body))
    return -value if negative else value


def _digits(text: str) -> bool:
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def read_step_line(text: str) -> StepLine | str:
    """The step ``text`` states, or why it does not read (linear in the text, which must be
    at most :data:`~.arith.MAX_LENGTH` characters)."""
    if len(text) > MAX_LENGTH:
        return f"the line is longer than {MAX_LENGTH} characters"
    body, left = text.strip(), None
    at = body.lower().rfind("(left")
    if at >= 0:
        note, body = body[at + len("(left"):].strip(), body[:at]
        if not (note.startswith(":") and note.endswith(")")):
            return "`(left` is not followed by `: numbers)`"
        tokens = note[1:-1].replace(",", " ").split()
        if not 1 <= len(tokens) <= MAX_LEFT:
            return f"`(left: ...)` must hold 1 to {MAX_LEFT} numbers"
        try:
            left = tuple(_value(t) for t in tokens)
        except (ExpressionSyntaxError, DivisionByZero):
            return "`(left: ...)` holds something that is not a number"
    expression, eq, stated = body.partition("=")
    if not eq or "=" in stated:
        return "it is not `expression = value`"
    try:
        tree = parse_expression(expression)
        value = _value(stated)
    except (ExpressionSyntaxError, DivisionByZero) as exc:
        return f"it does not read: {exc}"
    if not isinstance(tree, BinOp):
        return "its expression has no operation"
    return StepLine(" ".join(expression.split()), tree, value, left)


@lru_cache(maxsize=65536)
def _reachable(values: tuple[Fraction, ...], target: Fraction) -> bool:
    if len(values) == 1:
        return values[0] == target
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            a, b = values[i], values[j]
            rest = values[:i] + values[i + 1:j] + values[j + 1:]
            results = {a + b, a - b, b - a, a * b}
            if b:
                results.add(a / b)
            if a:
                results.add(b / a)
            if any(_reachable(tuple(sorted((*rest, r))), target) for r in results):
                return True
    return False


def reachable(values: Sequence[Fraction], target: Fraction) -> bool:
    """Whether some expression using each of ``values`` once with ``+ - * /`` equals
    ``target`` (exhaustive and exact: every expression tree is some order of combining two
    values into one)."""
    return _reachable(tuple(sorted(values)), target)


def _readings(line: StepLine, pool: Sequence[Fraction]) -> list[Expr]:
    """The step's expression as parsed, and (when it differs) with each ``a/b`` whose value
    is a non-integer in ``pool`` in parentheses (``5 * 24/5`` as ``5 * (24/5)``)."""
    fractions = {v for v in pool if v.denominator != 1}
    tokens: list[str] = []
    for ch in line.expression:
        if ch.isdigit() and tokens and tokens[-1].isdigit():
            tokens[-1] += ch
        elif not ch.isspace():
            tokens.append(ch)
    out, k, grouped = [], 0, False
    while k < len(tokens):
        a, op, b = [*tokens[k:k + 3], "", "", ""][:3]
        if a.isdigit() and op == "/" and b.isdigit() and int(b) != 0 and \
                Fraction(int(a), int(b)) in fractions:
            out.append(f"({a}/{b})")
            k, grouped = k + 3, True
        else:
            out.append(a)
            k += 1
    if not grouped:
        return [line.tree]
    try:
        return [line.tree, parse_expression(" ".join(out))]
    except ExpressionSyntaxError:
        return [line.tree]


@dataclass(frozen=True)
class PrefixState:
    """The pool after the steps that applied, and the verdict when they did not all apply."""

    pool: Pool
    failed: CheckResult | None = None


def apply_steps(lines: Sequence[str], given: Sequence[int], target: Fraction | None
                ) -> PrefixState:
    """Apply each line to a pool of ``given``; stop at the first line that does not read
    (UNKNOWN), is wrong or (with a ``target``) leaves a dead end (REJECT naming the step)."""
    pool = Pool(given)
    for k, text in enumerate(lines, 1):
        where, shown = f"step {k}", text.strip()[:60]
        line = read_step_line(text)
        if isinstance(line, str):
            return PrefixState(pool, CheckResult.unknown(f"{where} `{shown}` does not read as "
                                                         f"a step: {line}"))
        before = format_values(sorted(pool.values()))
        fractional = "/" in line.expression and any(v.denominator != 1 for v in pool.values())
        if fractional:  # an operand may be an earlier fraction: only a reading applies
            failure = pool.apply_fractions(_readings(line, pool.values()), line.value, where,
                                           shown)
            if failure is not None:
                return PrefixState(pool, CheckResult.unknown(failure.message))
        else:
            failure = pool.apply(line.tree, line.value, where, shown, line.expression)
        if failure is not None:
            message = failure.message
            if failure.kind == "not_left":
                message = (f"{where} `{shown}` uses {failure.number}, which is not among the "
                           f"numbers left ({before})")
            return PrefixState(pool, CheckResult.reject(Critique(
                kind=_CRITIQUE_KIND[failure.kind], message=message, location=where)))
        values = sorted(pool.values())
        if line.left is not None and Counter(line.left) != Counter(values):
            return PrefixState(pool, CheckResult.reject(Critique(
                kind="left", location=where,
                message=f"{where} `{shown}` says the numbers left are "
                        f"{format_values(line.left)}, but they are {format_values(values)}")))
        dead = None if target is None else _dead_end(values, target, where)
        if dead is not None:
            return PrefixState(pool, dead)
    return PrefixState(pool)


def _dead_end(values: list[Fraction], target: Fraction, where: str | None) -> CheckResult | None:
    """REJECT when ``values`` provably cannot make ``target``, else None."""
    shown = format_values(values)
    if len(values) == 1 and values[0] != target:
        return CheckResult.reject(Critique(
            kind="value", location=where,
            message=f"the steps use every given number and end at {shown}, not "
                    f"{format_fraction(target)}"))
    if 1 < len(values) <= MAX_SEARCHED and not reachable(values, target):
        return CheckResult.reject(Critique(
            kind="dead_end", location=where,
            message=f"the numbers left ({shown}) cannot make {format_fraction(target)}"))
    return None


def check_prefix(lines: object, given: Sequence[int], target: int) -> CheckResult:
    """The verdict on the partial chain ``lines`` (step lines) over ``given``."""
    if not (isinstance(lines, list) and len(lines) <= MAX_STEPS and all(
            isinstance(s, str) and len(s) <= MAX_LENGTH for s in lines)):
        return CheckResult.unknown(f"the steps are not a list of at most {MAX_STEPS} short "
                                   "texts")
    goal = Fraction(target)
    if not lines:
        dead = _dead_end([Fraction(n) for n in given], goal, None)
        if dead is not None:
            return dead
    state = apply_steps(lines, given, goal)
    if state.failed is not None:
        return state.failed
    values = sorted(state.pool.values())
    if len(values) == 1:  # the dead-end check passed: it is the target
        return CheckResult.accept(complete=True, steps=len(lines),
                                  expression=render_full(state.pool.items[0].tree),
                                  value=format_fraction(values[0]))
    return CheckResult.accept(left=format_values(values), steps=len(lines))


def chain_expression(lines: Sequence[str], given: Sequence[int]) -> str | None:
    """The expression (every operation in parentheses) a complete chain of step lines
    builds, or None when the lines do not apply cleanly or leave more than one number."""
    state = apply_steps(lines, given, None)
    if state.failed is not None:
        return None
    items = state.pool.items
    return render_full(items[0].tree) if len(items) == 1 else None


def numbers_left(lines: Sequence[str], given: Sequence[int]) -> list[Fraction] | None:
    """The numbers left after the step lines (in order), or None when they do not apply cleanly."""
    state = apply_steps(lines, given, None)
    return None if state.failed is not None else sorted(state.pool.values())
