"""The reward core, TRL's and veRL's functions: ACCEPT 1.0, REJECT 0.0, UNKNOWN None (never
0.0), from any thread or event loop, one bad row or dead worker costing only itself, and
rows of our own exports scored as they are written."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from llm_modulo.corpus import Corpus
from llm_modulo.corpus.formats import ExportOptions, export
from llm_modulo.corpus.kinds import ExportFormat, SftStyle
from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.domains.planning import BlocksworldDomain, blocksworld_plan
from llm_modulo.pool import WorkerPool
from llm_modulo.rewards import core
from llm_modulo.rewards.core import Pair, Scorer
from llm_modulo.rewards.rows import RowError, completion_text, problem_of
from llm_modulo.rewards.trl import reward_function
from llm_modulo.rewards.verl import compute_score, compute_score_batch
from llm_modulo.types import Status, canonical_json
from tests.corpus_helpers import solved_problem
from tests.reward_fakes import DyingDomain, registry

G24 = Game24Domain()
P4468 = G24.parse_problem("4 4 6 8")
RIGHT = json.dumps({"expression": solve24((4, 4, 6, 8))})
WRONG = json.dumps({"expression": "4+4+6+8"})
#: an answer followed by a second one that does not read: undecided, UNKNOWN
UNDECIDED = RIGHT + "\nWait, actually: 4+4+6+8"
GT = canonical_json(P4468.payload)

BW = BlocksworldDomain()
PLAN_PROBLEM = BW.parse_problem({"blocks": 3, "seed": 0})
PLAN = json.dumps({"plan": blocksworld_plan(PLAN_PROBLEM)})
BAD_PLAN = json.dumps({"plan": list(reversed(blocksworld_plan(PLAN_PROBLEM)))})


def columns(problem: Any, n: int, domain: str = "game24") -> dict[str, list[Any]]:
    return {"problem": [canonical_json(problem.payload)] * n, "domain": [domain] * n,
            "problem_hash": [problem.hash] * n}


def test_game24_accept_reject_unknown_map_to_one_zero_none() -> None:
    reward = reward_function("game24")
    texts = [RIGHT, WRONG, UNDECIDED]
    got = reward(prompts=["p"] * 3, completions=texts, **columns(P4468, 3))
    assert got == [1.0, 0.0, None]
    assert got[2] is None  # never 0.0


def test_plan_domain_accept_reject_and_conversational_completions() -> None:
    reward = reward_function("blocksworld")
    completions = [[{"role": "assistant", "content": PLAN}],
                   [{"role": "assistant", "content": BAD_PLAN}],
                   [{"role": "assistant", "content": [{"type": "text", "text": PLAN}]}]]
    got = reward(prompts=[[{"role": "user", "content": "plan"}]] * 3, completions=completions,
                 **columns(PLAN_PROBLEM, 3, "blocksworld"))
    assert got == [1.0, 0.0, 1.0]


def test_bad_rows_score_none_and_never_fail_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    reward = reward_function("game24")
    problems = [GT, "{not json", json.dumps([1, 2]), GT, "[" * 100_000, GT]
    hashes = [P4468.hash, None, None, "0" * 64, None, P4468.hash]
    completions: list[Any] = [RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, 42]
    got = reward(prompts=["p"] * 6, completions=completions, problem=problems,
                 problem_hash=hashes)
    assert got == [1.0, None, None, None, None, None]
    assert "5 of 6 rows could not be read" in caplog.text


def test_rows_of_another_domain_are_not_this_rewards() -> None:
    reward = reward_function("game24")
    got = reward(prompts=["p"] * 2, completions=[RIGHT, PLAN],
                 problem=[GT, canonical_json(PLAN_PROBLEM.payload)],
                 domain=["game24", "blocksworld"])
    assert got == [1.0, None]
    # with no domain of its own, each row's domain decides
    anyone = reward_function()
    got = anyone(prompts=["p"] * 2, completions=[RIGHT, PLAN],
                 problem=[GT, canonical_json(PLAN_PROBLEM.payload)],
                 domain=["game24", "blocksworld"])
    assert got == [1.0, 1.0]


def test_shaped_rewards_give_partial_credit_but_keep_unknown_none() -> None:
    reward = reward_function("game24", shaped=True)
    got = reward(prompts=["p"] * 4, completions=[RIGHT, WRONG, "no answer", UNDECIDED],
                 **columns(P4468, 4))
    assert got[0] == 1.0 and got[2] == 0.0 and got[3] is None
    assert got[1] is not None and 0.0 < got[1] < 1.0
    assert reward.__name__ == "llm_modulo_game24_shaped"


def test_reward_is_picklable_and_named() -> None:
    reward = reward_function("game24", corpus="/nonexistent.sqlite")
    again = pickle.loads(pickle.dumps(reward))
    assert again.__name__ == "llm_modulo_game24"
    assert again(prompts=["p"], completions=[RIGHT], **columns(P4468, 1)) == [1.0]


def test_called_from_a_thread_and_from_inside_a_running_loop() -> None:
    reward = reward_function("game24")
    kwargs = columns(P4468, 3)
    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(
        reward(prompts=["p"] * 3, completions=[RIGHT, WRONG, UNDECIDED], **kwargs)))
    t.start()
    t.join(120)
    assert results == [[1.0, 0.0, None]]

    async def inside() -> tuple[Any, Any]:
        sync = reward(prompts=["p"] * 3, completions=[RIGHT, WRONG, UNDECIDED], **kwargs)
        asynchronous = reward_function("game24", asynchronous=True)
        awaited = await asynchronous(prompts=["p"] * 3,  # type: ignore[misc]
                                     completions=[RIGHT, WRONG, UNDECIDED], **kwargs)
        return sync, awaited

    assert asyncio.run(inside()) == ([1.0, 0.0, None], [1.0, 0.0, None])


def test_a_killed_worker_costs_only_its_own_item() -> None:
    problem = DyingDomain().parse_problem("q")
    texts = ['{"status": "accept"}', '{"status": "die"}', '{"status": "reject"}',
             '{"status": "accept"}']
    with WorkerPool(2) as pool:
        scorer = Scorer(pool=pool, registry=registry())
        scored = scorer.score([Pair(problem, t) for t in texts])
    assert [core.reward_of(s) for s in scored] == [1.0, None, 0.0, 1.0]
    assert scored[1].status is Status.UNKNOWN
    assert scored[1].verdict is not None and scored[1].verdict.critiques[0].kind == "crash"


def test_a_batch_past_its_deadline_is_all_none() -> None:
    problem = DyingDomain().parse_problem("q")
    with WorkerPool(1) as pool:
        scorer = Scorer(pool=pool, registry=registry())
        scored = scorer.score([Pair(problem, '{"status": "hang"}')], timeout_s=0.2)
    assert [core.reward_of(s) for s in scored] == [None]


def test_unknown_domain_is_none() -> None:
    scored = Scorer().score([Pair(P4468.model_copy(update={"domain": "no_such"}), RIGHT)])
    assert core.reward_of(scored[0]) is None and "cannot be loaded" in scored[0].detail


def test_completion_text_reads_strings_and_messages() -> None:
    assert completion_text("x") == "x"
    assert completion_text([{"role": "user", "content": "q"},
                            {"role": "assistant", "content": "a"}]) == "a"
    for bad in (None, 3, [{"role": "user", "content": "q"}],
                [{"role": "assistant", "content": None}]):
        with pytest.raises(RowError):
            completion_text(bad)


def test_problem_of_refuses_two_domains_and_a_wrong_hash() -> None:
    with pytest.raises(RowError, match="two domains"):
        problem_of({"domain": "game24", "data_source": "llm_modulo/sudoku", "problem": GT},
                   None)
    with pytest.raises(RowError, match="problem_hash"):
        problem_of({"domain": "game24", "problem": GT, "problem_hash": "ab" * 32}, None)
    assert problem_of({"data_source": "llm_modulo/game24", "ground_truth": GT},
                      None).hash == P4468.hash


# -- veRL ---------------------------------------------------------------------------------


def test_verl_compute_score_has_the_documented_signature_and_masks_unknown() -> None:
    info = {"problem_hash": P4468.hash, "domain": "game24", "num_turns": None,
            "rollout_reward_scores": {}}
    # as veRL's naive manager calls it (keywords), plus the reward loop's extra keywords
    ok = compute_score(data_source="llm_modulo/game24", solution_str=RIGHT, ground_truth=GT,
                       extra_info=info, reward_router_address=None)
    assert ok == {"score": 1.0, "decided": 1.0, "accepted": 1.0, "unknown": 0.0}
    bad = compute_score("llm_modulo/game24", WRONG, GT, info)
    assert bad["score"] == 0.0 and bad["decided"] == 1.0
    unknown = compute_score("llm_modulo/game24", UNDECIDED, GT, info, unknown_score=0.25)
    assert unknown == {"score": 0.25, "decided": 0.0, "accepted": 0.0, "unknown": 1.0}


def test_verl_batch_fills_unknown_with_its_groups_decided_mean() -> None:
    other = G24.parse_problem("1 2 3 4")
    other_gt = canonical_json(other.payload)
    right_other = json.dumps({"expression": solve24((1, 2, 3, 4))})
    scores = compute_score_batch(
        data_sources=["llm_modulo/game24"] * 6,
        solution_strs=[RIGHT, WRONG, UNDECIDED, right_other, right_other, UNDECIDED],
        ground_truths=[GT, GT, GT, other_gt, other_gt, "{broken"],
        extra_infos=[{}] * 6)
    assert [s["score"] for s in scores] == [1.0, 0.0, 0.5, 1.0, 1.0, 0.0]
    assert [s["decided"] for s in scores] == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    # GRPO: the UNKNOWN's advantage within its group is exactly zero
    group = [s["score"] for s in scores[:3]]
    assert group[2] == sum(group) / 3


# -- rows of our own exports --------------------------------------------------------------


@pytest.fixture()
def corpus_path(tmp_path: Path) -> Path:
    path = tmp_path / "c.sqlite"
    with Corpus(path) as corpus:
        solved_problem(corpus, "4 4 6 8")
        solved_problem(corpus, "1 2 3 4")
    return path


def test_verl_export_rows_score_directly(corpus_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "rl.parquet"
    with Corpus(corpus_path) as corpus:
        export(corpus, ExportOptions(format=ExportFormat.VERL, out=out))
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 2
    for row in rows:
        numbers = tuple(json.loads(row["reward_model"]["ground_truth"])["numbers"])
        right = json.dumps({"expression": solve24(numbers)})
        got = [compute_score(row["data_source"], text, row["reward_model"]["ground_truth"],
                             row["extra_info"])["score"] for text in (right, WRONG)]
        assert got == [1.0, 0.0]
    # the same rows as a TRL dataset: every column but prompt comes as a list
    n = len(rows)
    kwargs = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    answers = [json.dumps({"expression": solve24(tuple(
        json.loads(r["reward_model"]["ground_truth"])["numbers"]))}) for r in rows]
    got = reward_function()(prompts=[r["prompt"] for r in rows], completions=answers, **kwargs)
    assert got == [1.0] * n


def test_sft_and_parquet_export_rows_score(corpus_path: Path, tmp_path: Path) -> None:
    sft, table = tmp_path / "sft.jsonl", tmp_path / "all.parquet"
    with Corpus(corpus_path) as corpus:
        export(corpus, ExportOptions(format=ExportFormat.SFT, out=sft,
                                     sft_style=SftStyle.PROMPT_COMPLETION))
        export(corpus, ExportOptions(format=ExportFormat.PARQUET, out=table))
    # sft rows carry the domain and problem_hash: the corpus gives the problem
    rows = [json.loads(line) for line in sft.read_text().splitlines()]
    kwargs = {k: [r[k] for r in rows] for k in ("domain", "problem_hash")}
    completions = [r["completion"] for r in rows]
    with_corpus = reward_function("game24", corpus=corpus_path)
    assert with_corpus(prompts=[r["prompt"] for r in rows], completions=completions,
                       **kwargs) == [1.0] * len(rows)
    assert reward_function("game24")(prompts=[0] * len(rows), completions=completions,
                                     **kwargs) == [None] * len(rows)
    # parquet rows carry the problem itself and the verdict recorded for the completion
    records = pq.read_table(table).to_pylist()
    kwargs = {k: [r[k] for r in records] for k in ("problem", "domain", "problem_hash")}
    got = reward_function("game24")(prompts=[0] * len(records),
                                    completions=[r["completion"] for r in records], **kwargs)
    assert got == [1.0 if r["verdict"] == "accept" else 0.0 for r in records]


# -- the docs' runnable blocks ------------------------------------------------------------


def _doc_blocks() -> list[str]:
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "training-rewards.md").read_text()
    # the blocks the page says run in the tests: the ones that print (the others need a
    # trainer, a GPU or PrimeIntellect's verifiers)
    return [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
            if "print(" in b]


def test_docs_blocks_print_what_the_docs_say(tmp_path: Path) -> None:
    import subprocess
    import sys

    blocks = _doc_blocks()
    assert len(blocks) == 2
    printed = []
    for i, block in enumerate(blocks):
        script = tmp_path / f"block{i}.py"
        script.write_text(block)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=180, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout.strip().splitlines())
    assert printed[0] == ["[1.0, 0.0, None]"]
    assert printed[1] == ["{'score': 1.0, 'decided': 1.0, 'accepted': 1.0, 'unknown': 0.0}",
                          "[1.0, 0.0, 0.5] [1.0, 1.0, 0.0]"]
