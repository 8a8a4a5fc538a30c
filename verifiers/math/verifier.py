"""The sound math verifier: answer equivalence and solution substitution on sympy.

Problems carry a reference ``answer`` (compared for proven equality) and/or
``equations`` (each proposed solution is substituted; with ``all_solutions``
none may be missing). Candidates are ``{"answer": "<text or LaTeX>"}``.

ACCEPT only on proof; unparseable answers are REJECTed with the column; answers
over a size cap, or equalities sympy cannot settle, are UNKNOWN.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import re
from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar

from llm_modulo.jsonanswer import duplicate_key, duplicate_key_message, missing_answer_critique
from llm_modulo.types import Candidate, Critique, Problem
from llm_modulo.verifier import CheckResult, Verifier
from llm_modulo.verifiers.math.equiv import (
    Decision,
    Outcome,
    Tolerance,
    assume,
    assumed_symbols,
    compare,
    show,
)
from llm_modulo.verifiers.math.parse import Reading, parse_relation, read_math
from llm_modulo.verifiers.math.solve import System, check_solutions
from llm_modulo.verifiers.math.text import (
    BASE_N,
    DOT_GROUPS,
    UNREADABLE,
    MathSyntaxError,
    TooComplex,
    Unreadable,
    answer_text,
    base_numeral,
    choice_letter,
    field_text,
    is_numeral,
    without_degrees,
)
from llm_modulo.verifiers.math.values import (
    Answers,
    Relation,
    Scalar,
    SetValue,
    TupleValue,
    UnionValue,
    Value,
)


@lru_cache(maxsize=2048)
def parse_cached(text: str, thousands: bool = True, decimal_comma: bool = False,
                 dot_thousands: bool = False) -> Reading:
    """:func:`read_math` memoised (readings are immutable); errors are not cached."""
    return read_math(text, thousands=thousands, decimal_comma=decimal_comma,
                     dot_thousands=dot_thousands)


def readings(text: str, decimal_comma: bool = False, *, both: bool = True) -> list[Reading]:
    """Every reading of ``text``: with ``both``, two when digit groups (``110,143``) read as one
    number and as a list (see :func:`llm_modulo.verifiers.math.text.normalize`), else one
    (digit groups as one number). With ``decimal_comma`` (the problem's locale) the decimal
    comma reading, and a second one when dots may group thousands (``1.000``). A reading the
    grammar cannot parse is not a reading; when none parses the first error is raised."""
    if decimal_comma:
        local = parse_cached(text, True, True)
        dotted = parse_cached(text, True, True, True) if DOT_GROUPS.search(text) else local
        return [local] if dotted.text == local.text else [local, dotted]
    if "," not in text or not both:
        return [parse_cached(text, True, False)]
    out: list[Reading] = []
    error: MathSyntaxError | None = None
    for thousands in (True, False):
        try:
            reading = parse_cached(text, thousands, False)
        except MathSyntaxError as exc:
            error = error or exc
            continue
        if not any(r.text == reading.text for r in out):
            out.append(reading)
    if not out:
        assert error is not None
        raise error
    return out


def tolerance_of(payload: dict[str, Any]) -> Tolerance:
    def frac(key: str) -> Fraction | None:
        raw = payload.get(key)
        return None if raw is None or raw == 0 else Fraction(str(raw))  # 0: exact

    question = payload.get("question")
    bare_units = isinstance(question, str) and _UNIT_WORDS.search(question) is not None
    return Tolerance(absolute=frac("tolerance"), relative=frac("relative_tolerance"),
                     bare_units=bare_units)


def symbols_of(payload: dict[str, Any]) -> dict[Any, Any]:
    """The problem's declared variable assumptions as symbol substitutions (validated when
    the problem was loaded; raises ValueError on a payload built around that check)."""
    declared = payload.get("assumptions") or {}
    key = tuple(sorted((name, (props,) if isinstance(props, str) else tuple(props))
                       for name, props in declared.items()))
    return _symbols(key)


@lru_cache(maxsize=256)
def _symbols(key: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[Any, Any]:
    return assumed_symbols(dict(key))


#: A question that asks for a percentage or an angle in degrees: there a candidate's ``50%``
#: or ``30°`` may stand for the bare reference ``50`` / ``30``.
_UNIT_WORDS = re.compile(r"percent|%|degree|°|\\circ", re.IGNORECASE)


@lru_cache(maxsize=256)
def system_of(equations: tuple[str, ...], variables: tuple[str, ...], real: bool,
              all_solutions: bool) -> System:
    """The problem's equations, parsed with the same safe grammar."""
    import sympy

    sides = []
    poles = []
    for text in equations:
        rel = parse_relation(text)
        if rel.ops != ("=",):
            raise MathSyntaxError(f"`{text}` is not an equation")
        sides.append((rel.terms[0], rel.terms[1]))
        poles.append(rel.poles)
    free: set[sympy.Symbol] = set()
    for lhs, rhs in sides:
        free |= lhs.free_symbols | rhs.free_symbols
    if variables:
        names = tuple(sympy.Symbol(v) for v in variables)
        for name in names:
            if name not in free:
                raise MathSyntaxError(f"the variable `{name}` does not occur in the equations")
    else:
        names = tuple(sorted(free, key=lambda s: s.name))
    if not names:
        raise MathSyntaxError("the equations have no unknowns")
    return System(tuple(sides), names, real, all_solutions, tuple(poles))


def problem_system(payload: dict[str, Any]) -> System | None:
    if not payload.get("equations"):
        return None
    return system_of(tuple(payload["equations"]), tuple(payload.get("variables") or ()),
                     bool(payload.get("real", True)), bool(payload.get("all_solutions", True)))


class MathVerifier(Verifier):
    """Proven equality with a reference answer, or exact substitution into equations."""

    name = "math"
    version = "2.0"  # issue 11: prose, separators, order, units, exact decisions
    sound = True
    timeout_s = 10.0
    memory_mb = 1536
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "value": "a value is not the correct one",
        "element": "an element of a set, list or tuple is wrong or missing",
        "size": "the number of elements differs from the expected",
        "order": "the order of a list differs, or the problem does not say whether it counts",
        "interval_end": "an interval's end or the openness of an end differs",
        "relation": "an equation or inequality is not the expected one",
        "equation": "the equations have different solutions",
        "form": "the answer's form does not fit the question (a ratio, a tuple, x = ...)",
        "domain": "equal only where both are defined (undeclared assumptions; UNKNOWN)",
        "substitution": "substituting a proposed solution does not satisfy an equation",
        "completeness": "some solutions are missing, or completeness cannot be decided",
        "missing": "a required part of the answer is missing",
        "not_real": "a value is not real where real solutions are asked for",
        "not_finite": "a value is infinite or undefined",
        "unit": "the unit is not the one the question asks for",
        "choice": "the multiple-choice letter is wrong or not one of the choices",
        "base": "a base-n numeral is wrong or in another base",
        "unreadable": "no single reading of the answer (prose, ambiguous separators; UNKNOWN)",
        "reference": "the reference answer cannot be read or decided (UNKNOWN)",
        "too_complex": "over a size or time cap (UNKNOWN)",
    }

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        """Read the candidate's answer as already extracted
        (:func:`~llm_modulo.verifiers.math.text.field_text`: the domain took it from a JSON
        field or a reply once; it is not searched for an answer again), then decide it."""
        answer = (candidate.answer or {}).get("answer")
        if not isinstance(answer, str):
            if (candidate.parse_error or "").startswith(UNREADABLE):  # no single answer
                return CheckResult.unknown(candidate.parse_error or "", kind="unreadable")
            return CheckResult.reject(missing_answer_critique(candidate.parse_error,
                                                              "no answer given"))
        if (key := duplicate_key(answer)) is not None:  # {"answer": "1", "answer": "24"}
            return CheckResult.reject(Critique(kind="hedge", message=duplicate_key_message(key)))
        payload = problem.payload
        if payload.get("reference_unreadable"):
            return CheckResult.unknown(f"the reference answer cannot be decided: "
                                       f"{payload['reference_unreadable']}", kind="reference")
        try:
            text = field_text(answer)
        except MathSyntaxError as exc:  # boxes that are not a list: a hedge
            return CheckResult.reject(Critique(kind="hedge", message=str(exc)))
        except (TooComplex, Unreadable) as exc:
            return CheckResult.unknown(f"could not read an answer: {exc}", kind="unreadable")
        if payload.get("choices"):
            return _result(_choice_outcome(payload, text), None)
        if (letter := _option_reference(payload)) is not None:
            return _result(_implied_choice(letter, text), None)
        try:
            cands, secondary = candidate_readings(payload, text)
        except MathSyntaxError as exc:
            return CheckResult.reject(Critique(
                kind="unparseable", message=str(exc),
                location=f"column {exc.column}" if exc.column else None))
        except TooComplex as exc:
            return CheckResult.unknown(f"the answer is too large to decide: {exc}",
                                       kind="too_complex")
        except Unreadable as exc:
            return CheckResult.unknown(f"could not read an answer: {exc}", kind="unreadable")
        try:
            outcome = self._decide(payload, text, cands, secondary)
        except MathSyntaxError as exc:
            # The candidate parsed but does not fit the problem (e.g. no values for x).
            return CheckResult.reject(Critique(
                kind="form", message=str(exc),
                location=f"column {exc.column}" if exc.column else None))
        except TooComplex as exc:
            return CheckResult.unknown(f"too large to decide: {exc}", kind="too_complex")
        except RecursionError:
            return CheckResult.unknown("the answer nests too deeply to decide", kind="too_complex")
        return _result(outcome, cands[0].value if len(cands) == 1 else None)

    def _decide(self, payload: dict[str, Any], text: str, cands: list[Reading],
                secondary: list[tuple[Reading, str]]) -> Outcome:
        system = problem_system(payload)
        if system is not None:
            if len(cands) > 1:
                return Outcome(Decision.UNDECIDED, _TWO_WAYS, "unreadable")
            if cands[0].names - {str(n) for n in system.variables} - _declared(payload):
                return Outcome(Decision.UNDECIDED, f"could not read an answer: "
                               f"{_quote(cands[0].text)} (it uses words or letters that are not "
                               "the problem's unknowns)", "unreadable")
            outcome = check_solutions(system, _as_solutions(cands[0].value))
            if outcome.decision is not Decision.EQUAL or payload.get("answer") is None:
                return outcome
        try:
            ref_text = answer_text(str(payload["answer"]), reference=True)
            if (based := _base_outcome(text, ref_text)) is not None:
                return based
            refs = readings(ref_text, bool(payload.get("decimal_comma")), both=False)
        except (MathSyntaxError, TooComplex, Unreadable) as exc:
            return Outcome(Decision.UNDECIDED, f"the reference answer cannot be read: {exc}",
                           "reference")
        cands = _degrees_as_unit(payload, text, cands, refs)
        outcomes = [_judge(payload, c, r) for c in cands for r in refs]
        outcome = _agreed(outcomes, _TWO_WAYS if len(cands) > 1 or len(refs) > 1 else None)
        if outcome.decision is Decision.DIFFERENT:
            for reading, why in secondary:  # another plausible reading that is not refuted
                if any(_judge(payload, reading, r).decision is not Decision.DIFFERENT
                       for r in refs):
                    return Outcome(Decision.UNDECIDED, why, "unreadable")
        if (outcome.decision is Decision.EQUAL and any(isinstance(c.value, Relation)
                                                       for c in cands)
                and BASE_N.search(text) is not None):  # 204_5 = 54: which base is the answer?
            return Outcome(Decision.UNDECIDED, "your answer equates numerals in different "
                           "bases; give the value in the base asked for alone", "base")
        return _based_candidate(outcome, text, ref_text)


def candidate_readings(payload: dict[str, Any], text: str
                       ) -> tuple[list[Reading], list[tuple[Reading, str]]]:
    """The candidate's readings whose verdicts must agree, and readings that can only turn a
    REJECT into UNKNOWN (with why): a decimal comma where the problem does not declare its
    locale but one quantity is asked (``1,250``), a degree sign read as a unit on the number
    when the question does not speak of degrees (``30^\\circ`` for ``30``)."""
    declared = payload.get("decimal_comma")
    one = _one_number_expected(payload)
    cands = readings(text, declared is True, both=not one)
    secondary: list[tuple[Reading, str]] = []
    if declared is None and _DIGIT_COMMA.search(text):
        try:
            decimal = parse_cached(text, True, True)
        except (MathSyntaxError, TooComplex, Unreadable):
            decimal = None
        if decimal is not None and all(decimal.text != c.text for c in cands):
            if one:
                secondary.append((decimal, _DECIMAL_WAYS))
            else:
                cands.append(decimal)
    if declared is None and DOT_GROUPS.search(text):  # 1.250 / 1.250,50: a thousands dot?
        with contextlib.suppress(MathSyntaxError, TooComplex, Unreadable):
            dotted = parse_cached(text, True, True, True)
            if all(dotted.text != c.text for c in cands):
                secondary.append((dotted, _DOT_WAYS))
    if (not tolerance_of(payload).bare_units and any("\\deg" in c.text for c in cands)
            and (bare := without_degrees(text)) is not None):
        with contextlib.suppress(MathSyntaxError, TooComplex, Unreadable):
            secondary.append((parse_cached(bare, True, declared is True), _DEGREE_WAYS))
    return cands, secondary


def _degrees_as_unit(payload: dict[str, Any], text: str, cands: list[Reading],
                     refs: list[Reading]) -> list[Reading]:
    """``30^\\circ, 150^\\circ`` for the reference ``30, 150`` of a question that speaks of
    degrees: there the sign is the unit of each number (as it is for one value), so the
    candidate is read without it; a reference with degree signs or pi keeps the angle
    reading."""
    if not (tolerance_of(payload).bare_units and any("\\deg" in c.text for c in cands)):
        return cands
    if any("\\deg" in r.text or "pi" in r.text for r in refs):
        return cands
    bare = without_degrees(text)
    if bare is None:
        return cands
    try:
        return readings(bare, payload.get("decimal_comma") is True, both=len(cands) > 1)
    except (MathSyntaxError, TooComplex, Unreadable):
        return cands


#: A comma between digits, also written ``{,}`` or ``,\\!`` in LaTeX.
_DIGIT_COMMA = re.compile(r"\d(?:,|\{,\}|,\\!)\d")
_DECIMAL_WAYS = ("a comma between digits reads as a decimal comma, as a thousands separator or "
                 "as a list, and the problem does not say which; write the number without "
                 "commas (a decimal with a point)")
_DOT_WAYS = ("a dot between digit groups reads as a decimal point or as a thousands separator, "
             "and the problem does not say which; write the number without separators")
_DEGREE_WAYS = ("the degree sign reads as an angle (pi/180) or as the unit of the number, and "
                "the question does not speak of degrees; give the value without the sign")


_TWO_WAYS = ("the digits and separators read several ways (one number, a list, a decimal comma or "
             "a thousands dot) that give different verdicts; write the number without "
             "separators, a decimal with a point, or separate list items with `, `")


#: A question that asks for one quantity: there digit groups ``1,234`` are one number.
_ONE_QUANTITY = re.compile(r"\bhow\s+(?:many|much)\b|\bwhat\s+is\s+the\s+(?:total|sum|product|"
                           r"value|number|cost|price|amount)\b", re.IGNORECASE)


def _one_number_expected(payload: dict[str, Any]) -> bool:
    """The question asks for one quantity and the reference is one number (no list, no set)."""
    question = payload.get("question")
    if not isinstance(question, str) or not _ONE_QUANTITY.search(question[:_QUESTION_WINDOW]):
        return False
    try:
        refs = readings(answer_text(str(payload.get("answer", "")), reference=True),
                        bool(payload.get("decimal_comma")), both=False)
    except (MathSyntaxError, TooComplex, Unreadable):
        return False
    return all(isinstance(r.value, Scalar) for r in refs)


def _agreed(outcomes: list[Outcome], ways: str | None) -> Outcome:
    """One decision when every reading gives it; otherwise UNDECIDED."""
    decisions = {o.decision for o in outcomes}
    if len(decisions) == 1:
        return outcomes[0]
    return Outcome(Decision.UNDECIDED, ways or outcomes[0].message, "unreadable")


def _declared(payload: dict[str, Any]) -> frozenset[str]:
    """Names the problem declares: its ``variables`` and the symbols of its ``assumptions``."""
    return frozenset(str(v) for v in payload.get("variables") or ()) | frozenset(
        str(k) for k in payload.get("assumptions") or {})


def _judge(payload: dict[str, Any], cand: Reading, ref: Reading) -> Outcome:
    """One reading of the candidate against one reading of the reference."""
    declared = _declared(payload)
    if cand.tuple_names:
        return _named_tuple(payload, cand, ref)
    if cand.lone_name and ref.lone_name and not _same_letters(cand.text, ref.text):
        return Outcome(Decision.UNDECIDED, _LETTERS_WAYS, "unreadable")
    if ref.words - declared and not ref.lone_name:
        return Outcome(Decision.UNDECIDED, "the reference answer reads as prose (words in a "
                       "formula); it cannot be compared", "reference")
    foreign = cand.names - declared - ref.names - ref.labels
    if foreign and not (cand.lone_name and ref.lone_name):
        return Outcome(Decision.UNDECIDED, f"could not read an answer: {_quote(cand.text)} (it "
                       "uses words or letters that are not part of the answer's math)",
                       "unreadable")
    if (unit_outcome := _unit_outcome(payload, cand.unit, ref.unit)) is not None:
        return unit_outcome
    cand_value, ref_value = cand.value, ref.value
    symbols = symbols_of(payload)
    if symbols:  # declared assumptions (x positive, ...) apply to both answers
        cand_value, ref_value = assume(cand_value, symbols), assume(ref_value, symbols)
    if isinstance(cand_value, Relation) and not isinstance(ref_value, Relation) and (
            chained := _chain_outcome(payload, cand_value, ref_value)) is not None:
        return chained
    outcome = _ordered_compare(payload, cand_value, ref_value)
    if (isinstance(cand_value, Relation) and isinstance(ref_value, Scalar | TupleValue)
            and outcome.decision is Decision.DIFFERENT and outcome.kind == "form"):
        return Outcome(Decision.UNDECIDED, _RELATION_FOR_VALUE, "form")
    if (cand.ratio and not ref.ratio and outcome.decision is Decision.EQUAL
            and not _mentions(payload.get("question"), "ratio")):
        return Outcome(Decision.UNDECIDED, "a ratio `a:b` answers a question that does not ask "
                       "for a ratio; give the value", "form")
    return outcome


_RELATION_FOR_VALUE = ("your answer is an equation or inequality where a value is expected; "
                      "give the value alone")


def _chain_outcome(payload: dict[str, Any], cand: Relation, ref: Value) -> Outcome | None:
    """``5 - 2 = 3`` (a value written with its working) for the value ``3``: EQUAL when every
    side is a constant, each ``=`` is proven and the last side equals the reference; any other
    chain of constants is UNDECIDED (which side is the answer?). None for other relations."""
    if any(op != "=" for op in cand.ops) or any(t.free_symbols for t in cand.terms):
        return None
    undecided = Outcome(Decision.UNDECIDED, "your answer is a chain of equalities; give the "
                        "value alone", "form")
    for left, right in itertools.pairwise(cand.terms):
        if compare(Scalar((left,)), Scalar((right,))).decision is not Decision.EQUAL:
            return undecided
    last = Scalar((cand.terms[-1],), poles=cand.poles)
    if _ordered_compare(payload, last, ref).decision is Decision.EQUAL:
        return Outcome.equal()
    return undecided


_LETTERS_WAYS = ("could not decide: a letter or a run of letters reads as a variable, a "
                 "product of variables or a word (with or without case), and these readings "
                 "disagree; write the answer in the problem's notation")
_PLAIN_RUN = re.compile(r"[\s({]*(?:\\word\{([A-Za-z])\}|([A-Za-z]+))[\s)}]*")


def _same_letters(cand: str, ref: str) -> bool:
    """False when two lone names differ in a way some plausible reading ignores: only in case
    (``A`` / ``a``: a choice letter or two variables), or only in order with three or more
    letters (``abc`` / ``cba``: two words or one product). True otherwise (``\\text{}``
    words of two or more letters, different letters, ``ab`` / ``ba`` which is a product)."""
    c, r = _PLAIN_RUN.fullmatch(cand), _PLAIN_RUN.fullmatch(ref)
    if c is None or r is None:
        return True
    a, b = c.group(1) or c.group(2), r.group(1) or r.group(2)
    if a == b:
        return True
    if a.lower() == b.lower():
        return False
    return not (max(len(a), len(b)) >= 3 and _letter_product(a) == _letter_product(b))


def _letter_product(run: str) -> Any:
    import sympy

    constants = {"e": sympy.E, "i": sympy.I}
    return sympy.Mul(*(constants.get(ch) or sympy.Symbol(ch) for ch in run[:_MAX_RUN]))


_MAX_RUN = 200


def _named_tuple(payload: dict[str, Any], cand: Reading, ref: Reading) -> Outcome:
    """``(q, p) = (2, 3)``: the entries in the order the reference or the question names them
    (``(p, q) = ...`` in the reference, "the pair (p, q)" in the question, ``x, y, z`` as
    coordinates); without an order, a verdict every order of the names agrees on."""
    names, value = cand.tuple_names, cand.value
    plain = dataclasses.replace(cand, tuple_names=())
    if not isinstance(value, TupleValue) or len(value.items) != len(names) or len(
            set(names)) != len(names):
        return _judge(payload, plain, ref)
    order = _names_order(payload, names, ref.tuple_names)
    orders = [order] if order is not None else list(itertools.permutations(names))
    if len(orders) > 6:
        return Outcome(Decision.UNDECIDED, _NAMES_ORDER, "order")
    by_name = dict(zip(names, value.items, strict=True))
    outcomes = [_judge(payload, dataclasses.replace(
        plain, value=TupleValue(tuple(by_name[n] for n in o), value.bracket)), ref)
        for o in orders]
    if len({o.decision for o in outcomes}) == 1:
        return outcomes[0]
    return Outcome(Decision.UNDECIDED, _NAMES_ORDER, "order")


_NAMES_ORDER = ("the names of your tuple's entries are not in an order the problem gives; "
                "write the tuple in the order the question asks for")
_LETTER_TUPLE = re.compile(r"\(\s*([A-Za-z](?:_\w+)?(?:\s*,\s*[A-Za-z](?:_\w+)?)+)\s*\)")


def _names_order(payload: dict[str, Any], names: tuple[str, ...],
                 ref_names: tuple[str, ...]) -> tuple[str, ...] | None:
    """The order of ``names`` the problem gives, if one: the reference's names, the one letter
    tuple of the question with these names, or ``x, y, z`` (coordinates)."""
    if ref_names:
        return ref_names if sorted(ref_names) == sorted(names) else None
    question = payload.get("question")
    found = set()
    if isinstance(question, str):
        for m in _LETTER_TUPLE.finditer(question[:_QUESTION_WINDOW]):
            tup = tuple(n.strip() for n in m.group(1).split(","))
            if sorted(tup) == sorted(names):
                found.add(tup)
    if len(found) == 1:
        return found.pop()
    if not found and set(names) <= {"x", "y", "z"}:
        return tuple(sorted(names))
    return None


def _as_solutions(value: Value) -> Value:
    """Forms of a solution list the substitution reads: ``\\{2\\} \\cup \\{-2\\}`` as
    ``\\{2, -2\\}``, ``-2 = x`` as ``x = -2``."""
    if isinstance(value, UnionValue) and all(isinstance(p, SetValue) for p in value.parts):
        return SetValue(tuple(i for p in value.parts if isinstance(p, SetValue)
                              for i in p.items))
    if isinstance(value, Answers):
        return Answers(tuple(_flipped(i) for i in value.items))
    return _flipped(value)


def _flipped(value: Value) -> Value:
    if isinstance(value, Relation) and value.ops == ("=",):
        left, right = value.terms
        if right.is_Symbol and not left.free_symbols:
            return Relation((right, left), value.ops, value.poles)
    return value


def _based_candidate(outcome: Outcome, text: str, ref_text: str) -> Outcome:
    """A candidate numeral in base n (``204_5``) against a reference that is not in base n:
    equal values are UNDECIDED (the question asked for another base), and so is a bare
    reference whose digits read in base n give the candidate's value (``204``)."""
    based = base_numeral(text)
    if based is None or outcome.decision is Decision.UNDECIDED:
        return outcome
    digits, base = based
    ref_based = base_numeral(ref_text)
    if ref_based is not None and ref_based[1] == base:
        return outcome
    undecided = Outcome(Decision.UNDECIDED, f"your answer is written in base {base}; the "
                        "expected answer may be in another base", "base")
    if outcome.decision is Decision.EQUAL:
        return undecided
    bare = ref_text.strip().strip("$").strip()
    if (bare.isascii() and bare.isdigit() and len(bare) <= 60
            and all(int(d) < base for d in bare) and int(bare, base) == int(digits, base)):
        return undecided
    return outcome


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _mentions(question: Any, word: str) -> bool:
    return isinstance(question, str) and word in question.lower()


# -- units ----------------------------------------------------------------------------------

_UNIT_NAMES = {
    "m": "meter", "metre": "meter", "cm": "centimeter", "centimetre": "centimeter",
    "mm": "millimeter", "millimetre": "millimeter", "km": "kilometer", "kilometre": "kilometer",
    "kg": "kilogram", "g": "gram", "mg": "milligram", "l": "liter", "litre": "liter",
    "ml": "milliliter", "millilitre": "milliliter", "s": "second", "sec": "second",
    "secs": "second", "min": "minute", "mins": "minute", "h": "hour", "hr": "hour",
    "hrs": "hour", "ft": "foot", "feet": "foot", "in": "inch", "inches": "inch", "yd": "yard",
    "mi": "mile", "lb": "pound", "lbs": "pound", "oz": "ounce", "cents": "cent",
    "dollar": "dollar", "degrees": "degree", "units": "unit", "sq": "square",
}


def canonical_unit(unit: str) -> str:
    """``km`` / ``kilometres`` / ``kilometers`` -> ``kilometer``, word by word."""
    words = []
    for word in unit.lower().replace(".", " ").split():
        word = _UNIT_NAMES.get(word, word)
        if word.endswith("s") and len(word) > 3 and not word.endswith("ss"):
            word = _UNIT_NAMES.get(word[:-1], word[:-1])
        words.append(word)
    return " ".join(words)


#: "how many meters", "in minutes", "in units of cm", "in km per hour": the unit a question
#: asks for. Linear: literal phrases and runs of letters separated by spaces.
_ASKED_UNIT = re.compile(r"\b(?:how\s+many|in(?:\s+units\s+of)?)\s+"
                         r"((?:(?:square|cubic)\s+)?[a-z]+(?:\s+per\s+[a-z]+)?)", re.IGNORECASE)
#: A sentence that asks (the others describe the givens: "Her pace is measured in km per
#: hour."): it ends with `?`, or starts with a verb that asks, or speaks of "your answer".
_ASKING = re.compile(r"^\W*(?:express|give|round|find|compute|calculate|determine|state|write|"
                     r"convert|answer)\b|\byour\s+answer\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\n")
_QUESTION_WINDOW = 20_000


def asked_units(payload: dict[str, Any]) -> frozenset[str]:
    """The units the problem asks for: its ``unit`` field, else the phrases "how many <unit>",
    "in <unit>" of the question's sentences that ask (not "not in <unit>")."""
    if isinstance(payload.get("unit"), str):
        return frozenset({canonical_unit(payload["unit"])})
    question = payload.get("question")
    if not isinstance(question, str):
        return frozenset()
    units = set()
    for sentence in _SENTENCE.split(question[:_QUESTION_WINDOW]):
        if not (sentence.rstrip().endswith("?") or _ASKING.search(sentence)):
            continue
        for m in _ASKED_UNIT.finditer(sentence):
            if not sentence[max(0, m.start() - 4):m.start()].lower().endswith("not "):
                units.add(canonical_unit(m.group(1)))
    return frozenset(units)


_KNOWN_UNITS = frozenset(_UNIT_NAMES.values())


def _unit_outcome(payload: dict[str, Any], unit: str | None,
                  ref_unit: str | None) -> Outcome | None:
    """None when the units allow comparing the values; else the outcome they decide."""
    if not unit:
        return None
    if canonical_unit(unit) in _CURRENCY_NAMES or (ref_unit and canonical_unit(ref_unit)
                                                   in _CURRENCY_NAMES):
        return _currency_outcome(payload, canonical_unit(unit),
                                 canonical_unit(ref_unit) if ref_unit else None)
    if ref_unit:
        if canonical_unit(unit) == canonical_unit(ref_unit):
            return None
        known = {canonical_unit(u) for u in (unit, ref_unit)} <= set(_UNIT_NAMES.values())
        if known:
            return Outcome(Decision.DIFFERENT, f"the unit `{unit}` is not the one asked for",
                           "unit")
        return Outcome(Decision.UNDECIDED, f"could not decide whether the unit `{unit}` is the "
                       "one asked for", "unit")
    asked = asked_units(payload)
    if canonical_unit(unit) in asked and not (asked & _KNOWN_UNITS) - {canonical_unit(unit)}:
        return None  # the one unit the question asks for
    return Outcome(Decision.UNDECIDED, f"the unit `{unit}` is not the unit the question asks "
                   "for; give the number alone, in the units the question asks for", "unit")


#: Currencies (``\\$5``, ``€5``, ``5¢``, ``5 dollars``) and how a question names each.
_CURRENCY_NAMES = frozenset({"dollar", "euro", "pound sterling", "cent"})
_CURRENCY_MENTION = {
    "dollar": re.compile(r"\\\$|dollar|\busd\b", re.IGNORECASE),
    "euro": re.compile(r"€|euro", re.IGNORECASE),
    "pound sterling": re.compile(r"£|sterling|\bgbp\b", re.IGNORECASE),
    "cent": re.compile(r"¢|\bcents?\b", re.IGNORECASE),
}


def _currency_outcome(payload: dict[str, Any], unit: str, ref_unit: str | None
                      ) -> Outcome | None:
    """A currency is compared like the bare number only when it is the one asked for: the
    reference's, the problem's ``unit`` or the question's ("how many cents", "in euros");
    when nothing is asked, a dollar sign unless the question names another currency, and
    another currency only when the question names it. Anything else is UNDECIDED (5 dollars
    is not 5 cents), never a REJECT on the unit alone."""
    undecided = Outcome(Decision.UNDECIDED, f"the unit `{unit}` may not be the one the "
                        "question asks for; give the number alone, in the unit asked for",
                        "unit")
    if ref_unit is not None:
        return None if ref_unit == unit else undecided
    asked = asked_units(payload)
    if asked & (_KNOWN_UNITS | _CURRENCY_NAMES):
        return None if asked & (_KNOWN_UNITS | _CURRENCY_NAMES) == {unit} else undecided
    question = payload.get("question")
    question = question[:_QUESTION_WINDOW] if isinstance(question, str) else ""
    named = {c for c, pattern in _CURRENCY_MENTION.items() if pattern.search(question)}
    if unit in named or (unit == "dollar" and not named):
        return None
    return undecided


# -- order of a list ------------------------------------------------------------------------

#: Question phrases that make a bare list ordered. Literal alternatives: linear.
_ORDER_WORDS = re.compile(
    r"\bin\s+(?:(?:increasing|decreasing|ascending|descending|numerical|alphabetical)\s+)?"
    r"order\b"
    r"|respectively|ordered\s+(?:pair|triple|tuple|list)|the\s+coordinates"
    r"|from\s+(?:least|smallest|lowest|greatest|largest|highest)\s+to"
    r"|\(\s*[a-z]\s*,\s*[a-z]\s*(?:,\s*[a-z]\s*)*\)", re.IGNORECASE)


def list_order(payload: dict[str, Any]) -> bool | None:
    """Whether a bare list answer is ordered: the ``ordered`` field, else True when the
    question asks for an order, else None (not said)."""
    if isinstance(payload.get("ordered"), bool):
        return bool(payload["ordered"])
    question = payload.get("question")
    if isinstance(question, str) and _ORDER_WORDS.search(question[:_QUESTION_WINDOW]):
        return True
    return None


def _plain_list(value: Value) -> bool:
    return isinstance(value, Answers) and len(value.items) > 1 and not any(
        isinstance(item, Relation) for item in value.items)


def _list_items(value: Value) -> tuple[Value, ...] | None:
    """A value as the items of a bare list: a single value is a list of one; None for a set,
    a list of named values and anything that is not a bare value."""
    if _plain_list(value):
        assert isinstance(value, Answers)
        return value.items
    if isinstance(value, Scalar) and len(value.alts) == 1:
        return (value,)
    return None


def _ordered_compare(payload: dict[str, Any], cand: Value, ref: Value) -> Outcome:
    """Lists in order when the problem asks for an order; see :func:`list_order`."""
    tol = tolerance_of(payload)
    order = list_order(payload)
    if (shaped := _tuple_or_set_for_list(payload, cand, ref, tol, order)) is not None:
        return shaped
    c_items, r_items = _list_items(cand), _list_items(ref)
    if c_items is None or r_items is None or (len(c_items) == 1 and len(r_items) == 1):
        return compare(cand, ref, tol)
    in_order = compare(TupleValue(c_items, "["), TupleValue(r_items, "["), tol)
    if order is True:
        return in_order
    outcome = compare(cand, ref, tol)
    if order is False or outcome.decision is not Decision.EQUAL:
        return outcome
    if in_order.decision is Decision.EQUAL:
        return outcome
    return Outcome(Decision.UNDECIDED, "your list has the expected items, but the problem does "
                   "not say whether their order or repetitions matter", "order")


def _tuple_or_set_for_list(payload: dict[str, Any], cand: Value, ref: Value, tol: Tolerance,
                           order: bool | None) -> Outcome | None:
    """A tuple or a set against a bare list of as many items, or a bare list against a tuple.

    ``(4, 6, 14, 15)`` for the ordered list ``4, 6, 14, 15`` compares in order; ``1, 2`` for
    the point ``(1, 2)`` too (UNDECIDED for a pair when nothing says point or order: the
    reference may be an open interval). A set has no order: for a question that asks for one
    it is at best UNDECIDED. None when none of these applies."""
    if _is_tuple(ref) and _plain_list(cand):
        assert isinstance(ref, TupleValue) and isinstance(cand, Answers)
        if len(cand.items) != len(ref.items):
            return None
        in_order = compare(TupleValue(cand.items), ref, tol)
        if (in_order.decision is Decision.EQUAL and len(ref.items) == 2 and order is not True
                and not _mentions(payload.get("question"), "point")):
            return Outcome(Decision.UNDECIDED, "a list of two values for a pair that may be a "
                           "point or an open interval; write the pair in brackets", "form")
        return in_order
    r_items = ref.items if _plain_list(ref) and isinstance(ref, Answers) else None
    if r_items is None:
        return None
    if _is_tuple(cand) and isinstance(cand, TupleValue) and len(cand.items) == len(r_items):
        if order is True:
            return compare(TupleValue(cand.items, "["), TupleValue(r_items, "["), tol)
        outcome = compare(Answers(cand.items), ref, tol)
        if outcome.decision is Decision.DIFFERENT:
            return outcome
        return Outcome(Decision.UNDECIDED, "a tuple answers a list whose order the problem does "
                       "not give; write the values separated by commas", "form")
    if isinstance(cand, SetValue) and order is True:
        outcome = compare(cand, ref, tol)
        if outcome.decision is Decision.EQUAL:
            return Outcome(Decision.UNDECIDED, "a set has no order, and the question asks for "
                           "the values in order; write them separated by commas, in order",
                           "order")
        return outcome
    return None


def _is_tuple(value: Value) -> bool:
    return isinstance(value, TupleValue) and value.bracket == "(" and len(value.items) > 1


# -- multiple choice and base-n numerals ----------------------------------------------------

def _choice_outcome(payload: dict[str, Any], text: str) -> Outcome:
    choices = [str(c).upper() for c in payload["choices"]]
    letter = choice_letter(text)
    if letter is None:
        return Outcome(Decision.UNDECIDED, f"could not read a choice letter in {_quote(text)}; "
                       f"answer with one of {', '.join(choices)}", "unreadable")
    if letter not in choices:
        return Outcome(Decision.DIFFERENT, f"`{letter}` is not one of the choices "
                       f"{', '.join(choices)}", "choice")
    if letter == choice_letter(answer_text(str(payload["answer"]), reference=True)):
        return Outcome.equal()
    return Outcome(Decision.DIFFERENT, f"({letter}) is not the correct choice", "choice")


def _option_reference(payload: dict[str, Any]) -> str | None:
    """The option letter a reference is (``(C)``, ``\\text{(C)}``, ``\\textbf{(C)}``, ``C``):
    a capital letter alone means a multiple-choice answer, also without ``choices``."""
    try:
        ref_text = answer_text(str(payload.get("answer", "")), reference=True)
    except (MathSyntaxError, TooComplex, Unreadable):
        return None
    letter = choice_letter(ref_text)
    raw = _LETTER_OF.search(ref_text.replace("\\text", "").replace("\\mathrm", ""))
    if letter is None or raw is None or raw.group() != letter:
        return None
    return letter


_LETTER_OF = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])")


def _implied_choice(letter: str, text: str) -> Outcome:
    """A candidate for a reference that is an option letter: a letter is compared as a letter
    (a letter only in another case is UNDECIDED: ``c`` may be a variable); anything else (the
    option's value, a letter with its value) is UNDECIDED: the options are not known."""
    cand = choice_letter(text)
    raw = _LETTER_OF.search(text.replace("\\text", "").replace("\\mathrm", ""))
    if cand is None or raw is None:
        return Outcome(Decision.UNDECIDED, "the expected answer is an option letter; could not "
                       f"read one in {_quote(text)}; answer with the letter alone", "choice")
    if raw.group() != cand:
        return Outcome(Decision.UNDECIDED, f"`{raw.group()}` may be a variable or the option "
                       f"({cand}); answer with the capital letter alone", "choice")
    if cand == letter:
        return Outcome.equal()
    return Outcome(Decision.DIFFERENT, f"({cand}) is not the correct choice", "choice")


def _base_outcome(text: str, ref_text: str) -> Outcome | None:
    """A bare integer against a base-n reference (``204_5``): read in base n when its digits
    allow; UNDECIDED when only its decimal reading is right (the question asked for base n)."""
    based = base_numeral(ref_text)
    digits = text.strip().strip("$").strip()
    if based is None or not digits.isdigit() or not digits.isascii() or len(digits) > 60:
        return None
    ref_digits, base = based
    if not is_numeral(ref_digits, base):
        return None
    value = int(ref_digits, base)
    if is_numeral(digits, base) and int(digits, base) == value:
        return Outcome.equal()
    if int(digits) == value:
        return Outcome(Decision.UNDECIDED, f"{digits} is the value in base 10; the question "
                       f"asks for base {base}", "base")
    return Outcome(Decision.DIFFERENT, f"{digits} is not the correct value (read in base "
                   f"{base} and in base 10)", "value")


def _result(outcome: Outcome, value: Value | None) -> CheckResult:
    if outcome.decision is Decision.EQUAL:
        evidence = {"form": type(value).__name__ if value is not None else "choice"}
        if isinstance(value, Scalar) and len(value.alts) == 1:
            evidence["value"] = show(value.expr, 200)
        return CheckResult.accept(**evidence)
    if outcome.decision is Decision.DIFFERENT:
        return CheckResult.reject(Critique(kind=outcome.kind, message=outcome.message,
                                           location=outcome.location))
    return CheckResult.unknown(outcome.message or "could not decide", kind=outcome.kind)
