"""Meeting scheduling with hard constraints, as a CSP (in the spirit of the LLM-Modulo
travel-planning critics: each violated hard constraint is one critique).

Variables per meeting ``m``: ``start_m`` (an hour of the day) and ``room_m``. Constraints:
time windows, room capacities, no two meetings in one room at once, no attendee in two
meetings at once, and precedence (``a`` ends before ``b`` starts).

Payload: ``{"day": [8, 18], "rooms": {"A": 8}, "meetings": {"m1": {"title": ...,
"duration": 2, "attendees": [...], "window": [9, 17]}}, "precedence": [["m1", "m2"]]}``.
Answer: ``{"schedule": {"m1": {"start": 9, "room": "A"}, ...}}``.
"""

from __future__ import annotations

from typing import Any

from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import AssignmentIssue, Violation
from llm_modulo.verifiers.csp.verifier import AnswerError, CSPVerifier, Pairs


def _apart(a: str, da: int, b: str, db: int) -> str:
    return f"start_{a} + {da} <= start_{b} or start_{b} + {db} <= start_{a}"


def scheduling_csp(p: dict[str, Any]) -> m.CSP:
    day0, day1 = p["day"]
    meetings: dict[str, Any] = p["meetings"]
    rooms: dict[str, int] = p["rooms"]
    variables: dict[str, m.VariableSpec] = {}
    constraints: list[Any] = []
    for k, mt in meetings.items():
        variables[f"start_{k}"] = "hour"
        variables[f"room_{k}"] = "room"
        w0, w1 = mt.get("window") or [day0, day1]
        constraints.append(m.Expression(
            kind="expression", name=f"window {k}",
            expr=f"start_{k} >= {w0} and start_{k} + {mt['duration']} <= {w1}"))
        fits = [r for r, cap in rooms.items() if cap >= len(mt["attendees"])]
        constraints.append(m.InSet(kind="in_set", vars=[f"room_{k}"], values=fits,
                                   name=f"capacity {k}"))
    ids = list(meetings)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            da, db = meetings[a]["duration"], meetings[b]["duration"]
            constraints.append(m.Expression(
                kind="expression", name=f"room {a} {b}",
                expr=f"room_{a} != room_{b} or {_apart(a, da, b, db)}"))
            if set(meetings[a]["attendees"]) & set(meetings[b]["attendees"]):
                constraints.append(m.Expression(kind="expression", name=f"people {a} {b}",
                                                expr=_apart(a, da, b, db)))
    for a, b in p.get("precedence", []):
        constraints.append(m.Linear(kind="linear", vars=[f"start_{a}", f"start_{b}"],
                                    coeffs=[1, -1], op="<=",
                                    rhs=-meetings[a]["duration"], name=f"before {a} {b}"))
    return m.CSP(domains={"hour": m.Range(range=(day0, day1 - 1)), "room": list(rooms)},
                 variables=variables, constraints=constraints)


class SchedulingVerifier(CSPVerifier):
    name = "scheduling"
    version = "1.0"
    timeout_s = 20.0

    def build_csp(self, problem: Problem) -> m.CSP:
        return scheduling_csp(problem.payload)

    def assignment(self, problem: Problem, candidate: Candidate) -> Pairs:
        answer = candidate.answer or {}
        raw = answer.get("schedule")
        if isinstance(raw, dict):
            items = list(raw.items())
        elif isinstance(raw, list) and all(isinstance(x, list) and len(x) == 2 for x in raw):
            items = [(x[0], x[1]) for x in raw]
        else:
            raise AnswerError('the answer needs "schedule": {"<meeting>": {"start": <hour>, '
                              '"room": "<room>"}, ...}')
        pairs: list[tuple[Any, Any]] = []
        seen: set[str] = set()
        emitted: set[str] = set()
        for key, slot in items:
            if not isinstance(slot, dict):
                raise AnswerError(f"meeting {key!r} needs {{\"start\": <hour>, \"room\": "
                                  f"\"<room>\"}}", str(key))
            if type(key) is not str or key not in problem.payload["meetings"]:
                pairs.append((f"start_{key}", slot.get("start")))  # one critique per meeting
                continue
            if key in seen:
                # a second entry for a meeting reads as a repeated start, even when the
                # first had none: two partial entries never merge into one booking
                again = 1 if f"start_{key}" in emitted else 2
                pairs += [(f"start_{key}", slot.get("start"))] * again
                continue
            seen.add(key)
            for field in ("start", "room"):
                if field in slot:
                    pairs.append((f"{field}_{key}", slot[field]))
                    emitted.add(f"{field}_{key}")
        return pairs

    def _when(self, problem: Problem, meeting: str, start: Any) -> str:
        return f"{start}-{start + problem.payload['meetings'][meeting]['duration']}"

    def describe_issue(self, problem: Problem, issue: AssignmentIssue) -> str:
        field, _, meeting = issue.variable.partition("_")
        value, p = issue.value, problem.payload
        if issue.kind == "unknown_variable":
            return f"there is no meeting {meeting!r} (meetings: {', '.join(p['meetings'])})"
        if issue.kind == "missing":
            return f"meeting {meeting} has no {'start time' if field == 'start' else 'room'}"
        if issue.kind == "repeated":
            return f"meeting {meeting} is scheduled more than once"
        if field == "room":
            return (f"meeting {meeting} is in room {value!r}, which does not exist "
                    f"(rooms: {', '.join(p['rooms'])})")
        return (f"meeting {meeting} starts at {value!r}, but starts are whole hours from "
                f"{p['day'][0]} to {p['day'][1] - 1}")

    def describe_violation(self, problem: Problem, violation: Violation) -> str:
        what, *ids = violation.label.split()
        p, vals = problem.payload, violation.values
        if what == "window":
            (k,) = ids
            w0, w1 = p["meetings"][k].get("window") or p["day"]
            return (f"meeting {k} must take place within {w0}-{w1}, but is scheduled "
                    f"{self._when(problem, k, vals[f'start_{k}'])}")
        if what == "capacity":
            (k,) = ids
            room = vals[f"room_{k}"]
            return (f"meeting {k} has {len(p['meetings'][k]['attendees'])} attendees, but room "
                    f"{room} holds only {p['rooms'][room]}")
        a, b = ids
        if what == "before":
            return (f"meeting {a} must end before {b} starts, but {a} ends at "
                    f"{vals[f'start_{a}'] + p['meetings'][a]['duration']} and {b} starts at "
                    f"{vals[f'start_{b}']}")
        times = (f"{self._when(problem, a, vals[f'start_{a}'])} and "
                 f"{self._when(problem, b, vals[f'start_{b}'])}")
        if what == "room":
            return f"meetings {a} and {b} are both in room {vals[f'room_{a}']} at overlapping " \
                   f"times ({times})"
        shared = sorted(set(p["meetings"][a]["attendees"]) & set(p["meetings"][b]["attendees"]))
        return (f"meetings {a} and {b} overlap in time ({times}) but share attendees: "
                f"{', '.join(shared)}")
