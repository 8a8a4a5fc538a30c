"""The LLM critic (``llm_critic``): its reply reading (hostile text), its verdicts over HTTP
(unsound, UNKNOWN when it cannot be asked or read), and that neither the loop nor the corpus
ever takes its ACCEPT for a solution."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import pytest

from llm_modulo.corpus.memory import CorpusMemory
from llm_modulo.corpus.store import Corpus
from llm_modulo.critic import Critic, CriticRequest, critic_usage
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.loop import LoopConfig, Solver
from llm_modulo.testing import FunctionGenerator, Raw, ScriptedServer
from llm_modulo.types import Candidate, Status, Verdict
from llm_modulo.verifiers.critic.prompt import MAX_ERRORS, critic_messages, read_reply
from llm_modulo.verifiers.critic.verifier import LLMCritic
from tests.study_fakes import APPROVE, DISAPPROVE, register


@pytest.mark.parametrize(("reply", "status", "errors"), [
    ("VERDICT: CORRECT", Status.ACCEPT, ()),
    ("**Verdict:** correct.", Status.ACCEPT, ()),
    ("VERDICT: INCORRECT\nERRORS:\n- vertex 3 and 4 are both red\n2. edge (1, 2) clashes",
     Status.REJECT, ("vertex 3 and 4 are both red", "edge (1, 2) clashes")),
    ("VERDICT: not correct", Status.REJECT, ()),
    ("I think it is fine.", Status.UNKNOWN, ()),
    ("VERDICT: maybe", Status.UNKNOWN, ()),
    ("VERDICT: CORRECT\nVERDICT: INCORRECT", Status.UNKNOWN, ()),
    ("VERDICT: CORRECT\n- but vertex 1 is red", Status.ACCEPT, ()),  # no errors on an ACCEPT
    ("", Status.UNKNOWN, ()),
])
def test_the_reply_is_read(reply: str, status: Status, errors: tuple[str, ...]) -> None:
    read = read_reply(reply)
    assert read.status is status
    assert read.errors == errors


def test_a_hostile_reply_is_read_bounded() -> None:
    flood = "VERDICT: INCORRECT\n" + "- x\n" * 2_000_000 + "1" * 5_000_000
    read = read_reply(flood)
    assert read.status is Status.REJECT and len(read.errors) == MAX_ERRORS
    long_error = read_reply("VERDICT: INCORRECT\n- " + "y" * 100_000)
    assert len(long_error.errors[0]) <= 400
    late = read_reply("x" * 30_000 + "\nVERDICT: CORRECT")  # past what is read at all
    assert late.status is Status.UNKNOWN


def test_the_prompt_shows_the_problem_and_the_answer_bounded() -> None:
    messages = critic_messages("Colour this graph", "A" * 100_000)
    assert "Colour this graph" in messages[1].content and "VERDICT" in messages[1].content
    assert len(messages[1].content) < 20_000


def critique(critic: LLMCritic, raw: str) -> Verdict:
    problem = Game24Domain().parse_problem("4 4 6 8")

    async def go() -> Verdict:
        try:
            return (await critic.acritique_many(
                [CriticRequest(problem, Candidate(raw=raw), "make 24 from 4 4 6 8")]))[0]
        finally:
            await critic.aclose()

    return asyncio.run(go())


def test_the_critic_asks_the_endpoint_and_is_unsound() -> None:
    with ScriptedServer(lambda body: [DISAPPROVE]) as server:
        critic = LLMCritic(server.base_url)
        verdict = critique(critic, '{"expression": "4+4+6+8"}')
        sent = server.completion_requests()[0]
    assert isinstance(critic, Critic)
    assert verdict.status is Status.REJECT and not verdict.sound and not verdict.accepted
    assert [c.kind for c in verdict.critiques] == ["critic_error"]
    assert all(c.kind in LLMCritic.vocabulary() for c in verdict.critiques)
    assert critic_usage(verdict).total_tokens > 0
    assert "4+4+6+8" in sent["messages"][1]["content"]
    assert sent["temperature"] == 0.0
    with ScriptedServer(lambda body: [APPROVE]) as server:
        approved = critique(LLMCritic(server.base_url), "anything")
    assert approved.status is Status.ACCEPT and not approved.accepted  # never trusted


def test_a_critic_that_cannot_be_asked_or_read_is_unknown() -> None:
    with ScriptedServer(lambda body: ["no verdict here"]) as server:
        unreadable = critique(LLMCritic(server.base_url), "x")
        server.script(Raw("not json at all"))
        broken = critique(LLMCritic(server.base_url), "x")
    assert unreadable.status is Status.UNKNOWN
    assert unreadable.critiques[0].kind == "critic_unreadable"
    assert broken.status is Status.UNKNOWN and broken.critiques[0].kind == "unavailable"
    gone = critique(LLMCritic("http://127.0.0.1:9/v1", deadline_s=5), "x")
    assert gone.status is Status.UNKNOWN and gone.critiques[0].kind == "unavailable"


def test_without_an_endpoint_every_verdict_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_MODULO_CRITIC_BASE_URL", "LLM_MODULO_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    verdict = critique(LLMCritic(), "x")
    assert verdict.status is Status.UNKNOWN and verdict.critiques[0].kind == "unavailable"


def test_the_critic_pickles_without_its_connection() -> None:
    with ScriptedServer(lambda body: [APPROVE]) as server:
        critic = LLMCritic(server.base_url, model="m")
        critique(critic, "x")
    copy = pickle.loads(pickle.dumps(critic))
    assert copy.base_url == critic.base_url and copy._client is None


def test_the_loop_and_the_corpus_never_take_the_critics_accept_for_a_solution(
        tmp_path: Path) -> None:
    """The critic as a Solver's verifier: its ACCEPT of a wrong answer ends nothing, is no
    solution and enters the corpus as an unsound attempt (never a solution, never exported)."""
    register()
    domain = Game24Domain()
    problem = domain.parse_problem("4 4 6 8")
    generator = FunctionGenerator(lambda messages, params: '{"expression": "4+4+6+8"}')
    with ScriptedServer(lambda body: [APPROVE]) as server, \
            Corpus(tmp_path / "c.sqlite") as corpus:
        memory = CorpusMemory(corpus, run_id=corpus.start_run("test", "game24", {}))
        solver = Solver(domain, LLMCritic(server.base_url), generator,
                        LoopConfig(structured=False).model_copy(
                            update={"budget": LoopConfig().budget.model_copy(
                                update={"rounds": 2, "samples": 1})}),
                        store=memory)
        result = asyncio.run(solver.solve(problem))
        assert result.solution is None and not result.solved
        assert len(result.attempts) == 2  # the critic's ACCEPT did not end the loop
        assert all(a.verdict.status is Status.ACCEPT and not a.verdict.sound
                   for a in result.attempts)
        assert corpus.query("SELECT count(*) FROM solutions")[0][0] == 0
        assert corpus.query("SELECT count(*) FROM attempts WHERE sound = 0 AND status = "
                            "'accept'")[0][0] == 2
        served = asyncio.run(memory.lookup(problem, LLMCritic(server.base_url), None))
        assert served is None
        memory.close()
