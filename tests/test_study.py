"""``llm-modulo study``: the grid, the self arm's accuracy, the confusion matrix, resuming, the
report, and one-line errors for bad study files (scripted servers only)."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_modulo.cli import app
from llm_modulo.study.config import load_config
from llm_modulo.study.report import write_report
from llm_modulo.study.results import read_results
from llm_modulo.study.runner import StudyOptions, StudyRun, run_study
from llm_modulo.testing import ScriptedServer
from tests.study_fakes import APPROVE, DISAPPROVE, register, responder, study_file


@pytest.fixture(autouse=True)
def _registered() -> None:
    register()


@contextlib.contextmanager
def given(url: str | None, model: str | None) -> Iterator[tuple[str, str | None]]:
    assert url is not None, "a test never starts the embedded server"
    yield url, model


def run(path: Path, server: ScriptedServer, out: Path, **kw: object) -> StudyRun:
    options = StudyOptions(out_dir=out, base=path.parent, base_url=server.base_url, **kw)  # type: ignore[arg-type]
    return run_study(load_config(path), options, given)


def by_arm(out: Path) -> dict[str, list[object]]:
    results, bad = read_results(out)
    assert bad == 0
    arms: dict[str, list[object]] = {}
    for r in results:
        arms.setdefault(r.arm, []).append(r)
    return arms


def test_a_critic_that_approves_wrong_answers_is_false_accepts_and_scores_zero(
        tmp_path: Path) -> None:
    path = study_file(tmp_path)
    with ScriptedServer(responder(APPROVE)) as server:
        study = run(path, server, tmp_path / "out")
    assert len(study.cells) == 5  # sound x2, self x2, none (feedback collapses)
    arms = by_arm(tmp_path / "out")
    for arm in ("self/none r3", "self/all r3"):
        rows = arms[arm]
        assert len(rows) == 3
        # the critic stopped on the wrong first answer: the accuracy is the sound verdict
        assert all(r.critic_stopped and not r.correct and r.answer_round == 1  # type: ignore[attr-defined]
                   for r in rows)
        assert all(r.judgements == [("accept", "reject")] for r in rows)  # type: ignore[attr-defined]
    assert all(r.correct for r in arms["sound/all r3"])  # type: ignore[attr-defined]
    assert not any(r.correct for r in arms["sound/none r3"])  # type: ignore[attr-defined]
    assert not any(r.correct for r in arms["none/sampling r3"])  # type: ignore[attr-defined]
    results, _ = read_results(tmp_path / "out")
    report = write_report(load_config(path), study.cells, results, tmp_path / "out")
    folder = report.parent
    with (folder / "confusion.csv").open() as fh:
        rows_ = [r for r in csv.DictReader(fh) if r["arm"] == "self/all r3"]
    counts = {(r["critic"], r["sound"]): int(r["count"]) for r in rows_}
    assert counts[("accept", "reject")] == 3  # false accepts
    assert sum(counts.values()) == 3
    text = report.read_text()
    assert "False accepts: 3 of 3 sound REJECTs (100.0%)" in text


def test_the_self_arm_reports_the_sound_verdict_when_the_critic_rejects_a_right_answer(
        tmp_path: Path) -> None:
    path = study_file(tmp_path, critic_modes=["self"], feedback=["all"])
    with ScriptedServer(responder(DISAPPROVE)) as server:
        run(path, server, tmp_path / "out")
    rows = by_arm(tmp_path / "out")["self/all r3"]
    for r in rows:
        # the critic never accepted: the last answer (round 3, right) is reported, and it
        # counts as solved because the sound verifier accepts it, whatever the critic said
        assert r.correct and not r.critic_stopped and r.answer_round == 3  # type: ignore[attr-defined]
        assert r.judgements == [("reject", "reject"), ("reject", "accept"),  # type: ignore[attr-defined]
                                ("reject", "accept")]
        assert r.critic_tokens > 0  # type: ignore[attr-defined]


def test_a_killed_study_resumes_without_redoing_finished_cells(tmp_path: Path) -> None:
    path = study_file(tmp_path)
    out = tmp_path / "out"
    with ScriptedServer(responder(APPROVE)) as server:
        first = run(path, server, out, max_cells=2)
        after_first = len(server.completion_requests())
        assert first.cells_run == 2 and after_first > 0
        done_cells = {r.cell for r in read_results(out)[0]}
        assert len(done_cells) == 2
        second = run(path, server, out)
        assert second.cells_run == 3 and second.problems_skipped == 6
        total = len(server.completion_requests())
        third = run(path, server, out)
        assert third.cells_run == 0 and len(server.completion_requests()) == total
    with ScriptedServer(responder(APPROVE)) as fresh:
        run(path, fresh, tmp_path / "fresh")
        assert len(fresh.completion_requests()) == total  # nothing was asked twice
    assert len(read_results(out)[0]) == 15


def test_a_line_cut_short_by_a_kill_is_solved_again(tmp_path: Path) -> None:
    path = study_file(tmp_path, critic_modes=["sound"], feedback=["all"])
    out = tmp_path / "out"
    with ScriptedServer(responder(APPROVE)) as server:
        run(path, server, out)
        lines = (out / "results.jsonl").read_text().splitlines()
        (out / "results.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
        before = len(server.completion_requests())
        again = run(path, server, out)
        assert again.problems_solved_now == 1
        assert len(server.completion_requests()) == before + 2  # its two rounds only
    assert len(read_results(out)[0]) == 3


def test_the_report_tables_of_a_tiny_deterministic_study(tmp_path: Path) -> None:
    path = study_file(tmp_path)
    with ScriptedServer(responder(APPROVE)) as server:
        r = CliRunner().invoke(app, ["study", str(path), "--base-url", server.base_url,
                                     "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "out" / "report"
    for name in ("report.md", "arms.csv", "success_by_round.csv", "confusion.csv",
                 "success_vs_rounds-game24-tiny-endpoint.png",
                 "success_vs_tokens-game24-tiny-endpoint.png"):
        assert (folder / name).is_file(), name
    with (folder / "success_by_round.csv").open() as fh:
        rounds = {(row["arm"], int(row["round"])): int(row["solved"])
                  for row in csv.DictReader(fh)}
    assert [rounds[("sound/all r3", k)] for k in (1, 2, 3)] == [0, 3, 3]
    assert [rounds[("sound/none r3", k)] for k in (1, 2, 3)] == [0, 0, 0]
    assert [rounds[("self/all r3", k)] for k in (1, 2, 3)] == [0, 0, 0]
    with (folder / "arms.csv").open() as fh:
        arms = {row["arm"]: row for row in csv.DictReader(fh)}
    assert arms["sound/all r3"]["solved"] == "3" and arms["sound/all r3"]["problems"] == "3"
    assert arms["none/sampling r3"]["strategy"] == "best_of_n"
    assert arms["self/none r3"]["strategy"] == "self_critique"
    assert float(arms["self/all r3"]["mean_critic_tokens"]) > 0
    text = (folder / "report.md").read_text()
    assert "| sound/all r3 | 3 | 0 | 3 | 3 |" in text
    assert "| nowhere | GPT-4 | not found |" in text
    # a run per cell in the corpus
    from llm_modulo.corpus.store import Corpus

    with Corpus(tmp_path / "out" / "corpus.sqlite") as corpus:
        assert corpus.query("SELECT count(*) FROM runs WHERE command = 'study'")[0][0] == 5
        # the self arms' candidates are recorded with the sound verdicts; nothing unsound
        assert corpus.query("SELECT count(*) FROM attempts WHERE sound = 0")[0][0] == 0


@pytest.mark.parametrize(("text", "says"), [
    ("name: x\n", "domains: Field required"),
    ("name: x\ndomains: []\n", "domains: List should have at least 1 item"),
    ("name: x\ndomains: [{domain: game24, problems: {generate: 2}}]\nbogus: 1\n",
     "bogus: Extra inputs are not permitted"),
    ("name: x\ndomains: [{domain: game24, problems: {generate: 2}}]\ncritic_modes: [maybe]\n",
     "critic_modes.0"),
    ("name: x\ndomains: [{domain: game24, problems: {generate: 2, path: a}}]\n",
     "give exactly one of path or generate"),
    ("a: &x [1]\nb: *x\n", "anchors, aliases and tags are not supported"),
    ("name: [unclosed\n", "is not valid YAML"),
    ("- just a list\n", "a study file is a mapping"),
    ("name: x\ndomains: [{domain: nope, problems: {generate: 2}}]\n", "no domain named 'nope'"),
    ("name: x\ndomains: [{domain: game24, problems: {path: missing.jsonl}}]\n",
     "does not exist"),
    ("name: x\ndomains: [{domain: game24, problems: {generate: 2}}]\nstrategies: [nope]\n",
     "no strategy named 'nope'"),
])
def test_a_bad_study_file_is_one_line_exit_2(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = CliRunner().invoke(app, ["study", str(path), "--base-url", "http://127.0.0.1:9/v1",
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert says in r.output, r.output


def test_a_missing_study_file_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["study", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and r.output.startswith("error:"), r.output


def test_the_presets_load_and_lay_out_their_grids() -> None:
    from llm_modulo.study.runner import plan

    root = Path(__file__).resolve().parent.parent / "presets"
    for name, cells in (("graph_coloring", 9), ("game24", 9), ("blocksworld_backprompt", 9)):
        path = root / f"{name}.yaml"
        config = load_config(path)
        study = plan(config, StudyOptions(out_dir=Path("unused"), base=path.parent, limit=2,
                                          base_url="http://127.0.0.1:9/v1"))
        assert len(study.cells) == cells, name  # sound x4, self x4, none
        assert all(len(s.problems) == 2 for s in study.sets)
        assert max(c.rounds for c in study.cells) == 15
        assert config.published
