"""Meeting scheduling with hard constraints: give every meeting a start hour and a room
so that windows, room capacities, room clashes, attendee clashes and precedences are all
respected.

Problems: JSON ``{"day": [8, 18], "rooms": {"A": 8, "B": 4}, "meetings": {"m1":
{"title": "Design review", "duration": 2, "attendees": ["ana", "bo"], "window": [9, 17]}},
"precedence": [["m1", "m2"]]}`` (hours are integers; a meeting of duration d starting at
s occupies [s, s + d)). Answer: ``{"schedule": {"m1": {"start": 9, "room": "A"}, ...}}``.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from llm_modulo.domains.csp_base import CSPDomainBase
from llm_modulo.errors import ProblemError
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp.model import NAME_RE, format_validation_error
from llm_modulo.verifiers.csp.scheduling import scheduling_csp

PEOPLE = ["ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana"]
TOPICS = ["design review", "standup", "budget", "hiring", "retro", "planning", "demo",
          "1:1", "security", "roadmap"]


class Meeting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200)
    duration: StrictInt = Field(ge=1, le=24)
    attendees: list[StrictStr] = Field(default_factory=list, max_length=1000)
    window: tuple[StrictInt, StrictInt] | None = None


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: tuple[StrictInt, StrictInt] = (8, 18)
    rooms: dict[str, Annotated[StrictInt, Field(ge=0)]] = Field(min_length=1, max_length=100)
    meetings: dict[str, Meeting] = Field(min_length=1, max_length=200)
    precedence: list[tuple[str, str]] = Field(default_factory=list)


class Slot(BaseModel):
    start: int
    room: str


class ScheduleAnswer(BaseModel):
    schedule: dict[str, Slot] = Field(description="meeting id -> start hour and room")


class SchedulingDomain(CSPDomainBase):
    name = "scheduling"
    version = "1.0"
    verifier = "scheduling"
    answer_model = ScheduleAnswer
    answer_key = "schedule"
    description = "Schedule meetings into rooms and hours under hard constraints."

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        if not isinstance(raw, dict):
            raise ProblemError("a scheduling problem is a JSON object with rooms and meetings")
        pid = raw.get("id")
        data = {k: v for k, v in raw.items() if k not in ("id", "idx")}
        try:
            s = Schedule.model_validate(data)
        except ValidationError as exc:
            raise ProblemError(f"invalid scheduling problem: "
                               f"{format_validation_error(exc)}") from None
        d0, d1 = s.day
        if not 0 <= d0 < d1 <= 24 * 7:
            raise ProblemError(f"day [{d0}, {d1}] must be increasing hours")
        for k, mt in s.meetings.items():
            if not NAME_RE.fullmatch(k):
                raise ProblemError(f"meeting id {k!r} must be letters, digits and _")
            if len(set(mt.attendees)) != len(mt.attendees):
                raise ProblemError(f"meeting {k} lists an attendee twice (capacity counts "
                                   "people)")
            w = mt.window or s.day
            if not (d0 <= w[0] and w[1] <= d1 and w[0] + mt.duration <= w[1]):
                raise ProblemError(f"meeting {k}: window {list(w)} must lie in the day and "
                                   f"fit its duration {mt.duration}")
        for a, b in s.precedence:
            if a not in s.meetings or b not in s.meetings or a == b:
                raise ProblemError(f"precedence [{a}, {b}] must name two different meetings")
        payload = s.model_dump(mode="json")
        payload["day"] = list(s.day)
        payload["precedence"] = [list(x) for x in s.precedence]
        for mt in payload["meetings"].values():
            mt["window"] = list(mt["window"]) if mt["window"] is not None else None
        try:  # the CSP the verifier will build (e.g. room names that differ only in form)
            scheduling_csp(payload)
        except ValidationError as exc:
            raise ProblemError(f"invalid scheduling problem: "
                               f"{format_validation_error(exc)}") from None
        return Problem(domain=self.name, payload=payload, id=None if pid is None else str(pid))

    def generate_problems(self, count: int, seed: int = 0, *, meetings: int = 6,
                          rooms: int = 2) -> list[Problem]:
        """``count`` instances, deterministic for ``seed``, solvable by construction: a hidden
        schedule is drawn first, and every constraint is chosen so that it satisfies it."""
        rng = random.Random(seed)
        return [self.parse_problem(_planted(rng, meetings, rooms)) for _ in range(count)]

    def render_prompt(self, problem: Problem) -> str:
        p = problem.payload
        lines = [f"Schedule these meetings in one day from {p['day'][0]}:00 to {p['day'][1]}:00."
                 " Give each meeting a start hour (a whole hour) and a room. A meeting of "
                 "duration d starting at s occupies the hours s to s+d.",
                 "Rooms (capacity): " + ", ".join(f"{r} ({c})" for r, c in p["rooms"].items())]
        lines.append("Meetings:")
        for k, mt in p["meetings"].items():
            w = mt["window"] or p["day"]
            lines.append(f"- {k} \"{mt['title']}\": {mt['duration']} h, attendees "
                         f"{', '.join(mt['attendees'])}; must take place within {w[0]}-{w[1]}")
        lines.append("Rules: a room holds one meeting at a time and fits at most its capacity "
                     "of attendees; nobody attends two meetings at once.")
        for a, b in p["precedence"]:
            lines.append(f"- {a} must end before {b} starts.")
        lines.append(self.answer_instruction(problem))
        return "\n".join(lines)

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only {"schedule": {"<meeting>": {"start": <hour>, "room": '
                '"<room>"}, ...}} covering every meeting.')


def _planted(rng: random.Random, n_meetings: int, n_rooms: int) -> dict[str, Any]:
    day0, day1 = 8, 18
    rooms = {chr(ord("A") + i): rng.randint(3, 8) for i in range(n_rooms)}
    busy_room: dict[str, list[tuple[int, int]]] = {r: [] for r in rooms}
    busy_person: dict[str, list[tuple[int, int]]] = {p: [] for p in PEOPLE}
    plan: dict[str, tuple[int, int]] = {}
    meetings: dict[str, Any] = {}

    def free(spans: list[tuple[int, int]], s: int, e: int) -> bool:
        return all(e <= a or b <= s for a, b in spans)

    for i in range(1, n_meetings + 1):
        for _ in range(100):
            d = rng.randint(1, 3)
            s = rng.randint(day0, day1 - d)
            room = rng.choice(list(rooms))
            people = [p for p in PEOPLE if free(busy_person[p], s, s + d)]
            if free(busy_room[room], s, s + d) and people:
                break
        else:
            continue
        size = rng.randint(1, min(rooms[room], len(people)))
        who = sorted(rng.sample(people, size))
        busy_room[room].append((s, s + d))
        for p in who:
            busy_person[p].append((s, s + d))
        key = f"m{i}"
        plan[key] = (s, s + d)
        w0 = max(day0, s - rng.randint(0, 3))
        w1 = min(day1, s + d + rng.randint(0, 3))
        meetings[key] = {"title": rng.choice(TOPICS), "duration": d, "attendees": who,
                         "window": [w0, w1]}
    ordered = [(a, b) for a in plan for b in plan if a != b and plan[a][1] <= plan[b][0]]
    precedence = [list(x) for x in rng.sample(ordered, min(2, len(ordered)))]
    return {"day": [day0, day1], "rooms": rooms, "meetings": meetings,
            "precedence": precedence}
