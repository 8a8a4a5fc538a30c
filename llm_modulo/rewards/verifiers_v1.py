"""Any of our domains as a ``verifiers.v1`` environment (PrimeIntellect ``verifiers`` >= 0.4).

``verifiers.v1`` finds an environment by a taskset id: it imports the module named after
it and takes the ``Taskset`` (and, when there is one, the ``Env``) subclass that module
exports in ``__all__``. A module inside ``llm_modulo`` cannot be named by such an id (an
id is one module name), so the id is ``llm-modulo-env``: the one-file package in
``environments/llm_modulo_env/`` re-exports :class:`LLMModuloTaskset` and
:class:`LLMModuloEnv` from here. Importing this module imports ``verifiers.v1``.

* Tasks: the problems of one domain: ``problems`` (payloads), else the rows of a ``verl``
  export, else ``num_examples`` problems the domain generates from ``seed``. A task carries
  the domain's prompt (system prompt apart), the problem as canonical JSON and its hash;
  no gold answer.
* Scoring (:class:`LLMModuloTask`): the reward ``llm_modulo_verified`` is 1.0 for a sound
  ACCEPT of the final answer and 0.0 for a sound REJECT. UNKNOWN (undecided, a verifier
  timeout or crash, an unreadable answer) is not a score: the reward raises, so ``verifiers``
  records a ``TaskError`` on the trace (``trace.ok`` false, ``stop_condition``
  ``task_error``) and leaves ``trace.rewards["llm_modulo_verified"]`` ``None``, its marker
  for "scoring did not run"; retries, ``--resume`` and trainers treat such a rollout as
  failed, not as a wrong answer. ``unknown_score=<float>`` records that float instead.
  The metric ``llm_modulo_decided`` (1.0 / 0.0) and ``trace.info["llm_modulo"]`` (status,
  critiques, detail) are recorded in every case.
* Episodes (:class:`LLMModuloEnv`): ``max_answers=1`` is one model answer. With more, it is
  LLM-Modulo back-prompting: each sound REJECT is answered, as the user's next turn, with
  the domain's critique (``render_feedback`` at ``feedback``; never the gold answer), up to
  ``max_answers`` answers; an ACCEPT or an UNKNOWN ends the episode. The reward is the
  verdict on the final answer.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from llm_modulo.errors import SetupError, UndecidedAnswer
from llm_modulo.rewards.backprompt import (
    STATE_KEY,
    answer_sha256,
    critique_of,
    record_of,
    verify_reply,
)
from llm_modulo.rewards.core import Scored
from llm_modulo.rewards.rows import RowError, completion_text, payload_of, problem_of
from llm_modulo.types import FeedbackLevel, Problem, Status, canonical_json

log = logging.getLogger("llm_modulo.rewards")

#: The taskset id ``verifiers.v1`` imports (the package in ``environments/llm_modulo_env``).
TASKSET_ID = "llm-modulo-env"


def import_verifiers_v1() -> Any:
    """``verifiers.v1``, or a :class:`SetupError` saying why it cannot be had."""
    try:
        return importlib.import_module("verifiers.v1")
    except ImportError as exc:
        found = sys.modules.get("verifiers")
        where = ("not installed" if found is None
                 else getattr(found, "__file__", None) or "a module with no file")
        if found is not None and Path(str(where)).resolve().parent == _own_plugin_folder():
            raise SetupError("the `verifiers` module found is llm-modulo's own source folder "
                             f"({where}), not PrimeIntellect's: run from outside the source "
                             "tree") from None
        raise SetupError(f"verifiers.v1 cannot be imported ({exc}; verifiers: {where}): "
                         "pip install 'verifiers>=0.4'") from None


def _own_plugin_folder() -> Path:
    """The repository's ``verifiers/`` folder (``llm_modulo/verifiers`` links to it)."""
    return (Path(__file__).resolve().parent.parent / "verifiers").resolve()


vf: Any = import_verifiers_v1()


class LLMModuloTaskData(vf.TaskData):  # type: ignore[misc]
    """A task's wire data: the problem, never an answer."""

    domain: str
    problem: str
    """The problem's payload as canonical JSON."""
    problem_hash: str


class LLMModuloTaskConfig(vf.TaskConfig):  # type: ignore[misc]
    """``--env.taskset.task.*``."""

    unknown_score: float | None = None
    """The reward of an UNKNOWN answer; ``None`` (default) records no reward and fails the
    rollout's scoring instead (see the module)."""


def _answer(trace: Any) -> str:
    return completion_text(str(trace.last_reply))


class LLMModuloTask(vf.Task[LLMModuloTaskData, vf.State, LLMModuloTaskConfig]):  # type: ignore[misc]
    """One problem; scored by our verifier (the module says how)."""

    NEEDS_CONTAINER = False

    def llm_modulo_problem(self) -> Problem:
        """The problem (its hash checked against the payload)."""
        data = self.data
        return problem_of({"domain": data.domain, "problem": data.problem,
                           "problem_hash": data.problem_hash}, data.domain)

    async def llm_modulo_check(self, trace: Any) -> tuple[str, Scored]:
        """The final answer of ``trace`` and its verdict; recorded in ``trace.info``."""
        text = ""
        try:
            text = _answer(trace)
            scored = await verify_reply(self.llm_modulo_problem(), text)
        except RowError as exc:
            scored = Scored(None, None, str(exc))
        trace.info[STATE_KEY] = record_of(scored, text)
        return text, scored

    async def _status(self, trace: Any) -> str:
        """The verdict's status, verified once per final answer."""
        record = trace.info.get(STATE_KEY)
        try:
            text = _answer(trace)
        except RowError:
            text = None
        if (isinstance(record, Mapping) and text is not None
                and record.get("answer_sha256") == answer_sha256(text)):
            return str(record["status"])
        _text, scored = await self.llm_modulo_check(trace)
        return scored.status.value

    @vf.metric  # type: ignore[untyped-decorator]
    async def llm_modulo_decided(self, trace: Any) -> float:
        """1.0 when the final answer was soundly accepted or rejected, 0.0 for UNKNOWN."""
        return 0.0 if await self._status(trace) == Status.UNKNOWN.value else 1.0

    @vf.reward  # type: ignore[untyped-decorator]
    async def llm_modulo_verified(self, trace: Any) -> float:
        """1.0 ACCEPT, 0.0 REJECT; UNKNOWN raises :class:`UndecidedAnswer` (no reward)
        unless the task config gives an ``unknown_score``."""
        status = await self._status(trace)
        if status == Status.ACCEPT.value:
            return 1.0
        if status == Status.REJECT.value:
            return 0.0
        if self.config.unknown_score is not None:
            return float(self.config.unknown_score)
        record = trace.info.get(STATE_KEY) or {}
        raise UndecidedAnswer("llm-modulo: the answer is UNKNOWN, neither right nor wrong "
                              f"({record.get('detail') or 'undecided'}); no reward")


class LLMModuloTasksetConfig(vf.TasksetConfig):  # type: ignore[misc]
    """``--env.taskset.*``: which problems."""

    id: str = TASKSET_ID
    task: LLMModuloTaskConfig = LLMModuloTaskConfig()
    domain: str = "game24"
    num_examples: int = Field(64, ge=0, le=1_000_000)
    seed: int = 0
    problems: list[dict[str, Any]] | None = None
    """Payloads of ``domain`` problems (instead of generated ones)."""
    verl_export: Path | None = None
    """A ``verl`` export (parquet): its rows' problems, each of its own domain."""


def task_data(problem: Problem) -> Any:
    """The task data of ``problem`` (the domain's own prompt; no answer)."""
    from llm_modulo.registry import default_registry

    messages = default_registry.domain(problem.domain).initial_messages(problem)
    system = [m.content for m in messages if m.role == "system"]
    user = [m.content for m in messages if m.role != "system"]
    return LLMModuloTaskData(id=problem.hash, name=f"{problem.domain}/{problem.hash[:12]}",
                             prompt="\n\n".join(user), system_prompt=system[0] if system
                             else None, domain=problem.domain,
                             problem=canonical_json(problem.payload),
                             problem_hash=problem.hash)


def verl_problems(path: Path) -> Iterator[Problem]:
    """The problems of a ``verl`` export; unreadable rows are skipped with one warning."""
    import pyarrow.parquet as pq

    bad: list[str] = []
    for row in pq.read_table(path).to_pylist():
        try:
            yield problem_of(row, None)
        except RowError as exc:
            bad.append(str(exc))
    if bad:
        log.warning("%s: %d rows could not be read and were left out (first: %s)", path,
                    len(bad), bad[0])


def config_problems(config: Any) -> Iterable[Problem]:
    """The problems a taskset config names (see :class:`LLMModuloTasksetConfig`)."""
    if config.verl_export is not None:
        return verl_problems(Path(config.verl_export))
    if config.problems is not None:
        try:
            return [Problem(domain=config.domain, payload=payload_of(p))
                    for p in config.problems]
        except ValueError as exc:
            raise RowError(f"a problem cannot be read: {exc}") from None
    from llm_modulo.registry import default_registry

    return default_registry.domain(config.domain).generate_problems(config.num_examples,
                                                                    config.seed)


class LLMModuloTaskset(vf.Taskset[LLMModuloTask, LLMModuloTasksetConfig]):  # type: ignore[misc]
    """The problems of :class:`LLMModuloTasksetConfig` as tasks."""

    def load(self) -> Iterator[LLMModuloTask]:
        for problem in config_problems(self.config):
            yield LLMModuloTask(task_data(problem), self.config.task)


class LLMModuloEnvConfig(vf.EnvConfig):  # type: ignore[misc]
    """``--env.*``: the one seat (``agent``, a tool-less chat by default) and back-prompting."""

    taskset: LLMModuloTasksetConfig = LLMModuloTasksetConfig()
    agent: Any = vf.AgentConfig(harness={"id": "null"})
    max_answers: int = Field(1, ge=1, le=64)
    """Answers per episode: 1 is single-turn; more back-prompts each REJECT."""
    feedback: FeedbackLevel = FeedbackLevel.ALL
    """How much of the critique a back-prompt carries."""


class LLMModuloEnv(vf.Env[LLMModuloEnvConfig]):  # type: ignore[misc]
    """One answer, or LLM-Modulo back-prompting (the module says how)."""

    async def run(self, task: Any, agents: Any) -> None:
        if self.config.max_answers == 1 or not isinstance(task, LLMModuloTask):
            await agents.agent.run(task)
            return
        async with agents.agent.interaction(task) as conversation:
            await backprompt(task, conversation, self.config.max_answers,
                             FeedbackLevel(self.config.feedback))


async def backprompt(task: LLMModuloTask, conversation: Any, max_answers: int,
                     level: FeedbackLevel) -> int:
    """Drive one ``verifiers.v1`` interaction: take the answer to the task's prompt, then
    answer each sound REJECT with its critique, up to ``max_answers`` answers. Returns the
    number of answers taken."""
    segment = await conversation.turn()
    answers = 0 if segment.terminated else 1
    while answers and answers < max_answers:
        text, scored = await task.llm_modulo_check(conversation.trace)
        reply = (critique_of(task.llm_modulo_problem(), text, scored, level)
                 if scored.verdict is not None else None)
        if reply is None:
            break
        segment = await conversation.turn(reply)
        if segment.terminated:
            break
        answers += 1
    return answers


def env_config(domain: str = "game24", *, num_examples: int = 64, seed: int = 0,
               problems: Iterable[Problem] | None = None,
               verl_export: str | Path | None = None, multi_turn: bool = False,
               max_turns: int = 4, feedback: str = "all",
               unknown_score: float | None = None) -> Any:
    """The :class:`LLMModuloEnvConfig` of these arguments (those of
    :func:`llm_modulo.rewards.environment.load_environment`)."""
    payloads = None
    if problems is not None:
        payloads = []
        for p in problems:
            if p.domain != domain:
                raise SetupError(f"a {p.domain!r} problem given to a {domain!r} environment")
            payloads.append(dict(p.payload))
    taskset = LLMModuloTasksetConfig(
        domain=domain, num_examples=num_examples, seed=seed, problems=payloads,
        verl_export=None if verl_export is None else Path(verl_export),
        task=LLMModuloTaskConfig(unknown_score=unknown_score))
    return LLMModuloEnvConfig(taskset=taskset, max_answers=max_turns if multi_turn else 1,
                              feedback=FeedbackLevel(feedback))


def load_environment(**kwargs: Any) -> Any:
    """``verifiers.v1.load_environment(env_config(**kwargs))``: needs the ``llm-modulo-env``
    package (``environments/llm_modulo_env``) installed, since ``verifiers.v1`` resolves
    every environment by its taskset id."""
    config = env_config(**kwargs)
    try:
        importlib.import_module(TASKSET_ID.replace("-", "_"))
    except ImportError:
        raise SetupError(f"verifiers.v1 finds environments by taskset id; the id "
                         f"{TASKSET_ID!r} needs the package in environments/llm_modulo_env "
                         "(pip install ./environments/llm_modulo_env)") from None
    return vf.load_environment(config)
