"""The ``verifiers.v1`` environment against the REAL installed ``verifiers`` (>= 0.4).

Skipped when ``verifiers.v1`` cannot be imported. Models are not run (the v1 chat harness
runs a uv script in a sandbox): the environment is loaded through verifiers' own loader, its
tasks are scored by verifiers' own ``Task.score`` on real ``Trace`` objects, and the
back-prompting episode is driven through our ``Env.run`` with a scripted stand-in for the
one agent's interaction that builds a real trace turn by turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.domains.game24 import solve24
from llm_modulo.domains.planning import blocksworld_plan
from llm_modulo.errors import SetupError

ROOT = Path(__file__).resolve().parent.parent
ENV_PACKAGE = ROOT / "environments" / "llm_modulo_env"


def _real_verifiers_v1() -> Any:
    """PyPI's ``verifiers.v1``, imported with this checkout off ``sys.path`` (its
    ``verifiers/`` folder would shadow the distribution), or a skip."""
    own = sys.modules.get("verifiers")
    if own is not None and not hasattr(own, "__version__"):
        del sys.modules["verifiers"]
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    try:
        return importlib.import_module("verifiers.v1")
    except ImportError as exc:
        pytest.skip(f"verifiers.v1 is not importable ({exc}): pip install 'verifiers>=0.4'")
    finally:
        sys.path[:] = saved


@pytest.fixture(scope="module")
def vf() -> Iterator[Any]:
    module = _real_verifiers_v1()
    added = str(ENV_PACKAGE)
    if importlib.util.find_spec("llm_modulo_env") is None:
        sys.path.append(added)  # the env package, as `pip install ./environments/...` would
    yield module
    with contextlib.suppress(ValueError):
        sys.path.remove(added)


def trace_of(vf: Any, task: Any, *replies: str) -> Any:
    """A real trace of ``task`` whose assistant turns are ``replies``."""
    nodes = [vf.MessageNode(message=vf.UserMessage(content=task.data.prompt))]
    for i, text in enumerate(replies):
        if i:
            nodes.append(vf.MessageNode(message=vf.UserMessage(content="again"),
                                        parent=len(nodes) - 1))
        nodes.append(vf.MessageNode(message=vf.AssistantMessage(content=text), sampled=True,
                                    parent=len(nodes) - 1))
    return vf.Trace(task=vf.TraceTask(type=type(task).__name__, data=task.data),
                    agent=vf.AgentInfo(config=vf.AgentConfig()), nodes=nodes)


async def score(vf: Any, task: Any, trace: Any) -> Any:
    """What a rollout does when it closes: score, and record a scoring failure."""
    try:
        await task.score(trace)
    except vf.TaskError as exc:
        trace.record_error(exc)
    else:
        trace.ok = True
    return trace


def game24_answer(task: Any) -> str:
    return json.dumps({"expression": solve24(tuple(json.loads(task.data.problem)["numbers"]))})


def test_the_v1_loader_finds_the_environment_by_its_taskset_id(vf: Any) -> None:
    from llm_modulo import load_environment
    from llm_modulo.rewards.verifiers_v1 import LLMModuloEnv, LLMModuloTaskset

    env = load_environment(domain="game24", num_examples=3, seed=1)
    assert isinstance(env, LLMModuloEnv) and isinstance(env.taskset, LLMModuloTaskset)
    assert env.config.taskset.id == "llm-modulo-env" and env.config.max_answers == 1
    tasks = list(env.taskset)
    assert [t.data.idx for t in tasks] == [0, 1, 2]
    assert tasks[0].data.prompt.startswith("Use the numbers")
    solution = json.loads(game24_answer(tasks[0]))["expression"]
    assert solution not in tasks[0].data.model_dump_json()  # no answer is handed out
    # the same tasks through verifiers' own config narrowing (what its CLI does)
    config = vf.resolve_env_config({"taskset": {"id": "llm-modulo-env", "num_examples": 3,
                                                "seed": 1}})
    again = list(vf.load_environment(config).taskset)
    assert [t.data.problem_hash for t in again] == [t.data.problem_hash for t in tasks]


def test_game24_accept_reject_and_unknown(vf: Any) -> None:
    from llm_modulo import load_environment

    task = next(iter(load_environment(domain="game24", num_examples=1, seed=3).taskset))
    right = game24_answer(task)
    good = asyncio.run(score(vf, task, trace_of(vf, task, right)))
    bad = asyncio.run(score(vf, task, trace_of(vf, task, json.dumps({"expression": "1+1"}))))
    undecided = asyncio.run(score(vf, task, trace_of(vf, task,
                                                     right + "\nWait, actually: 1+1")))
    assert good.ok and good.reward == 1.0 and good.metrics == {"llm_modulo_decided": 1.0}
    assert good.info["llm_modulo"]["status"] == "accept"
    assert bad.ok and bad.reward == 0.0 and bad.metrics == {"llm_modulo_decided": 1.0}
    assert bad.rewards["llm_modulo_verified"].score == 0.0
    # UNKNOWN: no reward at all (verifiers' "scoring did not run"), a failed rollout
    assert undecided.rewards == {"llm_modulo_verified": None}
    assert not undecided.ok and undecided.stop_condition == "task_error"
    assert "UNKNOWN" in undecided.errors[-1].message
    assert undecided.metrics == {"llm_modulo_decided": 0.0}
    assert undecided.info["llm_modulo"]["status"] == "unknown"


def test_unknown_score_option_records_a_float(vf: Any) -> None:
    from llm_modulo import load_environment

    env = load_environment(domain="game24", num_examples=1, seed=3, unknown_score=0.5)
    task = next(iter(env.taskset))
    undecided = game24_answer(task) + "\nWait, actually: 1+1"
    trace = asyncio.run(score(vf, task, trace_of(vf, task, undecided)))
    assert trace.ok and trace.reward == 0.5 and trace.metrics == {"llm_modulo_decided": 0.0}


def test_blocksworld_plan_and_given_problems(vf: Any) -> None:
    from llm_modulo.domains.planning import BlocksworldDomain
    from llm_modulo.rewards.verifiers_v1 import load_environment

    bw = BlocksworldDomain()
    problem = bw.parse_problem({"blocks": 3, "seed": 0})
    env = load_environment(domain="blocksworld", problems=[problem])
    (task,) = list(env.taskset)
    assert task.data.problem_hash == problem.hash
    plan = json.dumps({"plan": blocksworld_plan(problem)})
    backwards = json.dumps({"plan": list(reversed(blocksworld_plan(problem)))})
    assert asyncio.run(score(vf, task, trace_of(vf, task, plan))).reward == 1.0
    wrong = asyncio.run(score(vf, task, trace_of(vf, task, backwards)))
    assert wrong.ok and wrong.reward == 0.0 and wrong.info["llm_modulo"]["critiques"]
    with pytest.raises(SetupError, match="'game24' problem given to a 'blocksworld'"):
        load_environment(domain="blocksworld",
                         problems=[*bw.generate_problems(1, 0),
                                   __import__("llm_modulo.domains.game24", fromlist=["x"])
                                   .Game24Domain().parse_problem("4 4 6 8")])


class ScriptedInteraction:
    """Stands in for ``verifiers.v1``'s ``Interaction``: each turn records the user's
    message and the next scripted answer on a real trace and returns a real ``Segment``."""

    def __init__(self, vf: Any, task: Any, answers: list[str]) -> None:
        self.vf, self.answers, self.sent = vf, list(answers), []
        self.trace = trace_of(vf, task)

    async def turn(self, message: str | None = None) -> Any:
        vf, nodes = self.vf, self.trace.nodes
        if message is not None:
            self.sent.append(message)
            nodes.append(vf.MessageNode(message=vf.UserMessage(content=message),
                                        parent=len(nodes) - 1))
        if not self.answers:
            return vf.Segment(messages=[], terminated=True)
        reply = vf.AssistantMessage(content=self.answers.pop(0))
        nodes.append(vf.MessageNode(message=reply, sampled=True, parent=len(nodes) - 1))
        return vf.Segment(messages=[reply])


class ScriptedAgents:
    def __init__(self, conversation: ScriptedInteraction) -> None:
        self.agent = self
        self.conversation = conversation

    @contextlib.asynccontextmanager
    async def interaction(self, task: Any) -> AsyncIterator[ScriptedInteraction]:
        yield self.conversation


def test_multi_turn_episode_back_prompts_with_our_critique(vf: Any) -> None:
    from llm_modulo import load_environment

    env = load_environment(domain="game24", num_examples=1, seed=2, multi_turn=True,
                           max_turns=4, feedback="all")
    assert env.config.max_answers == 4
    task = next(iter(env.taskset))
    right, wrong = game24_answer(task), json.dumps({"expression": "1+1"})
    chat = ScriptedInteraction(vf, task, [wrong, right, wrong])
    asyncio.run(env.run(task, ScriptedAgents(chat)))
    assert len(chat.sent) == 1  # one critique, then the ACCEPT ended the episode
    critique = chat.sent[0]
    assert critique.startswith("That answer is not correct.") and "24" in critique
    assert json.loads(right)["expression"] not in critique  # never the answer
    assert [n.message.role for n in chat.trace.nodes] == ["user", "assistant", "user",
                                                          "assistant"]
    assert chat.trace.nodes[2].message.content == critique  # the second turn sees it
    final = asyncio.run(score(vf, task, chat.trace))
    assert final.reward == 1.0 and final.info["llm_modulo"]["status"] == "accept"
    # always wrong: max_answers answers, each REJECT critiqued but the last; reward 0.0
    stubborn = ScriptedInteraction(vf, task, [wrong] * 6)
    asyncio.run(env.run(task, ScriptedAgents(stubborn)))
    assert len(stubborn.sent) == 3 and len(stubborn.trace.assistant_messages) == 4
    assert asyncio.run(score(vf, task, stubborn.trace)).reward == 0.0
    # an UNKNOWN answer ends the episode without a critique
    unsure = ScriptedInteraction(vf, task, [right + "\nWait, actually: 1+1", right])
    asyncio.run(env.run(task, ScriptedAgents(unsure)))
    assert unsure.sent == [] and not asyncio.run(score(vf, task, unsure.trace)).ok
