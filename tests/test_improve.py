"""``llm-modulo improve``: the phases with a scripted server, a fake serving seam and a fake
trainer (the real TRL is tested in test_improve_trl.py): no evaluation problem trains,
UNKNOWN never trains, a kill at any phase resumes without redoing finished phases or
training twice, the lineage is recorded, bad configs are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.corpus import Corpus
from llm_modulo.corpus.lineage import checkpoint_lineage
from llm_modulo.corpus.stats import list_runs
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.errors import ImproveError, UsageError
from llm_modulo.generator import SamplingParams
from llm_modulo.improve import ImproveConfig, improve, parse_config
from llm_modulo.improve import data as training_data
from llm_modulo.improve.splits import check_disjoint, held_out, training_draw
from llm_modulo.improve.state import PHASES
from llm_modulo.testing import ScriptedServer
from llm_modulo.types import Status
from tests.corpus_helpers import attempt, problem, solved_problem
from tests.improve_fakes import CopyTrainer, ScriptedServing, responder, tiny_folder

G24 = Game24Domain()


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def server() -> Any:
    with ScriptedServer(responder) as srv:
        yield srv


def config(tmp_path: Path, **update: Any) -> ImproveConfig:
    data: dict[str, Any] = {
        "run_dir": tmp_path / "run", "corpus": tmp_path / "corpus.sqlite",
        "base_model": tiny_folder(tmp_path / "base"), "base_name": "tiny",
        "iterations": 2, "train_problems": 6, "eval_problems": 4, "seed": 1,
        "budget": {"rounds": 1, "samples": 2}, "concurrency": 4,
    }
    data.update(update)
    return parse_config(data)


def user_texts(rows_file: Path) -> set[str]:
    out = set()
    for line in rows_file.read_text().splitlines():
        row = json.loads(line)
        out |= {m["content"] for m in row["prompt"] if m["role"] == "user"}
    return out


def test_two_iterations_train_serve_evaluate_and_report(tmp_path: Path, server: Any) -> None:
    cfg = config(tmp_path)
    trainer, serving = CopyTrainer(), ScriptedServing(server.base_url)
    table = improve(cfg, serving=serving, trainer=trainer, say=lambda _: None)
    assert [r.iteration for r in table] == [0, 1, 2]
    # greedy base model: always wrong; the trained checkpoints: always right (the responder)
    assert table[0].system1_pass1 == 0.0
    assert table[1].system1_pass1 == 1.0 and table[2].system1_pass1 == 1.0
    assert table[0].system2_rate == 0.5 or table[0].system2_rate >= 0.0
    assert table[1].train_rows and table[1].train_rows > 0
    assert table[0].system1_tokens > 0 and table[0].system2_tokens > 0
    assert len(trainer.jobs) == 2
    names = [f"tiny-improve-{json.loads((cfg.run_dir / 'state.json').read_text())['run_id'][:8]}"
             f"-it{k}" for k in (1, 2)]
    assert serving.served == ["tiny", *names]
    # iteration 2 starts from iteration 1's checkpoint
    assert trainer.jobs[1].parent.name == names[0]
    # no evaluation problem in any training set
    eval_texts = {m.content for p in held_out(G24, 4, 1) for m in G24.initial_messages(p)
                  if m.role == "user"}
    for job in trainer.jobs:
        assert user_texts(job.sft)
        assert not user_texts(job.sft) & eval_texts
    # the report: table, JSON and plot
    assert (cfg.run_dir / "report.md").read_text().count("\n") == 2 + 3
    assert len(json.loads((cfg.run_dir / "report.json").read_text())) == 3
    assert (cfg.run_dir / "report.png").read_bytes()[:4] == b"\x89PNG"
    # the lineage manifest
    manifest = json.loads((cfg.run_dir / "checkpoints" / names[1] / "lineage.json").read_text())
    assert manifest["parent"] == names[0]
    assert len(manifest["training_data_hash"]) == 64
    assert manifest["corpus_query"]["runs"] and "trl" in manifest["versions"]


def test_lineage_in_the_corpus(tmp_path: Path, server: Any) -> None:
    cfg = config(tmp_path, iterations=2)
    improve(cfg, serving=ScriptedServing(server.base_url), trainer=CopyTrainer(),
            say=lambda _: None)
    with Corpus(cfg.corpus) as corpus:
        lineage = {c.name: c for c in checkpoint_lineage(corpus)}
        runs = list_runs(corpus)
        # every attempt's model is the checkpoint its run is tied to
        mismatched = corpus.query(
            "SELECT count(*) FROM attempts a JOIN checkpoint_runs r ON r.run_id = a.run_id"
            " WHERE a.model IS NOT r.checkpoint")[0][0]
    assert mismatched == 0
    base, it1, it2 = (lineage["tiny"], *sorted((c for c in lineage.values() if c.parent),
                                                key=lambda c: c.iteration))
    assert base.parent is None and base.train_rows is None
    assert it1.parent == "tiny" and it1.trained_on == ["tiny"]
    assert it2.parent == it1.name and it2.trained_on == sorted(["tiny", it1.name])
    assert base.solutions > 0 and it1.solutions > 0
    roles = Counter((r.checkpoint, r.role) for r in runs)
    assert roles[("tiny", "train")] == 1 and roles[("tiny", "system1")] == 1
    assert roles[(it1.name, "train")] == 1 and roles[(it2.name, "system2")] == 1
    # the CLI tables show it
    shown = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "corpus", "stats",
                            "--corpus", str(cfg.corpus)], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0 and "checkpoint lineage" in shown.stdout
    listed = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "corpus", "runs",
                             "--corpus", str(cfg.corpus), "--json"], capture_output=True,
                            text=True, timeout=120)
    assert {r["role"] for r in json.loads(listed.stdout)} == {"train", "system1", "system2"}


@pytest.mark.parametrize("iteration,phase", [(0, "serve"), (0, "evaluate"), (0, "report"),
                                             *((1, p) for p in PHASES)])
@pytest.mark.parametrize("when", ["before", "after"])
def test_resume_after_a_kill_at_each_phase(tmp_path: Path, server: Any, iteration: int,
                                           phase: str, when: str) -> None:
    cfg = config(tmp_path, iterations=1)
    trainer = CopyTrainer()
    started: Counter[tuple[int, str]] = Counter()

    def kill(k: int, p: str, w: str) -> None:
        if w == "before":
            started[(k, p)] += 1
        if (k, p, w) == (iteration, phase, when):
            raise Killed

    with pytest.raises(Killed):
        improve(cfg, serving=ScriptedServing(server.base_url), trainer=trainer, hook=kill,
                say=lambda _: None)
    table = improve(cfg, serving=ScriptedServing(server.base_url), trainer=trainer,
                    hook=lambda k, p, w: kill(k, p, w) if (k, p, w) != (iteration, phase, when)
                    else started.update([(k, p)] if w == "before" else []),
                    say=lambda _: None)
    assert [r.iteration for r in table] == [0, 1]
    assert len(trainer.jobs) == 1  # never trained twice on the same iteration
    for key, count in started.items():
        # a finished phase is not redone; only the killed one starts again
        assert count == (2 if key == (iteration, phase) else 1), (key, count)
    assert table[1].system1_pass1 == 1.0


def test_a_rerun_of_a_finished_run_does_nothing_and_more_iterations_continue(
        tmp_path: Path, server: Any) -> None:
    trainer = CopyTrainer()
    improve(config(tmp_path, iterations=1), serving=ScriptedServing(server.base_url),
            trainer=trainer, say=lambda _: None)
    improve(config(tmp_path, iterations=1), serving=ScriptedServing(server.base_url),
            trainer=trainer, say=lambda _: None)
    assert len(trainer.jobs) == 1
    table = improve(config(tmp_path, iterations=2), serving=ScriptedServing(server.base_url),
                    trainer=trainer, say=lambda _: None)
    assert len(trainer.jobs) == 2 and len(table) == 3


def test_a_run_dir_of_another_config_is_refused(tmp_path: Path, server: Any) -> None:
    improve(config(tmp_path, iterations=1), serving=ScriptedServing(server.base_url),
            trainer=CopyTrainer(), say=lambda _: None)
    with pytest.raises(ImproveError, match="another configuration"):
        improve(config(tmp_path, iterations=1, train_problems=7),
                serving=ScriptedServing(server.base_url), trainer=CopyTrainer(),
                say=lambda _: None)


def test_unknown_and_reject_never_train(tmp_path: Path) -> None:
    with Corpus(tmp_path / "c.sqlite") as corpus:
        run = corpus.start_run("improve-train", "game24", {})
        solved_problem(corpus, "4 4 6 8", run_id=run)
        undecided = problem("1 2 3 4")
        corpus.record_round(undecided, [attempt(undecided, "1*2*3*4", Status.UNKNOWN),
                                        attempt(undecided, "(1+2+3)*4", Status.ACCEPT,
                                                sound=False)],
                            SamplingParams(n=2, seed=0), "m", run)
        rejected = problem("1 1 1 1")
        corpus.record_round(rejected, [attempt(rejected, "1+1+1+1", Status.REJECT)],
                            SamplingParams(n=1, seed=0), "m", run)
        built = training_data.build(corpus, domain="game24", runs=[run], eval_hashes=set(),
                                    out_dir=tmp_path / "data", dpo=True)
    rows = [json.loads(line) for line in built.sft.read_text().splitlines()]
    assert built.sft_rows == len(rows) == 1
    assert "Numbers: 4 4 6 8" in rows[0]["prompt"][-1]["content"]
    assert built.dpo is not None
    for line in built.dpo.read_text().splitlines():
        assert "1 2 3 4" not in line and "1 1 1 1" not in line


def test_an_evaluation_problem_in_the_training_rows_is_refused(tmp_path: Path) -> None:
    with Corpus(tmp_path / "c.sqlite") as corpus:
        run = corpus.start_run("improve-train", "game24", {})
        p = solved_problem(corpus, "4 4 6 8", run_id=run)
        with pytest.raises(ImproveError, match="evaluation problem"):
            training_data.build(corpus, domain="game24", runs=[run], eval_hashes={p.hash},
                                out_dir=tmp_path / "data", dpo=False)


def test_training_draws_never_hold_an_evaluation_problem() -> None:
    evaluation = held_out(G24, 50, 0)
    hashes = {p.hash for p in evaluation}
    assert len(hashes) == 50
    for k in (1, 2, 3):
        drawn = training_draw(G24, 100, 0, k, hashes)
        assert len(drawn) == 100 and not {p.hash for p in drawn} & hashes
    # the same seed as the evaluation split would collide: the draw drops those problems
    same = training_draw(G24, 50, 0, 0, set())
    check_disjoint((p.hash for p in same), set())
    with pytest.raises(ImproveError):
        check_disjoint([evaluation[0].hash], hashes)


@pytest.mark.parametrize("update,needle", [
    ({"iterations": 0}, "iterations"),
    ({"train": {"method": "qlora"}}, "train.method"),
    ({"train": {"learning_rate": -1}}, "train.learning_rate"),
    ({"base_name": "bad name/.."}, "base_name"),
    ({"model": "x"}, "base_url"),
    ({"colour": "red"}, "colour"),
])
def test_bad_configs_are_one_line(tmp_path: Path, update: dict[str, Any], needle: str) -> None:
    data = {"run_dir": tmp_path, **update}
    with pytest.raises(UsageError) as info:
        parse_config(data)
    message = str(info.value)
    assert needle in message and "\n" not in message


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", "improve", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("make_args", [
    lambda d: ["--run-dir", str(d / "r"), "--method", "qlora"],
    lambda d: ["--run-dir", str(d / "r"), "--domain", "no_such_domain",
               "--base-model", str(tiny_folder(d / "b"))],
    lambda d: ["--run-dir", str(d / "r"), "--base-model", str(d)],
    lambda d: ["--run-dir", str(d / "r"), "--config", str(d / "missing.json")],
    lambda d: ["--run-dir", str(d / "r"), "--strategy", "nope",
               "--base-model", str(tiny_folder(d / "b"))],
])
def test_bad_command_lines_are_one_line(tmp_path: Path, make_args: Any) -> None:
    (tmp_path / "bad.json").write_text("[1, 2")
    done = cli(*make_args(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error:")


def test_a_config_file_that_is_not_a_json_object_is_one_line(tmp_path: Path) -> None:
    for text in ("[1, 2", "[1, 2]", "{" * 100_000, '{"train": {"epochs": "many"}}'):
        (tmp_path / "c.json").write_text(text)
        done = cli("--run-dir", str(tmp_path / "r"), "--config", str(tmp_path / "c.json"))
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
