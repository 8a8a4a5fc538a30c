"""Red-team cases for the corpus: foreign and damaged files, export targets that hold data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from llm_modulo.corpus import Corpus, CorpusError, ExportOptions, export
from llm_modulo.errors import UsageError
from llm_modulo.generator import SamplingParams
from llm_modulo.types import Status
from tests.corpus_helpers import attempt, problem, solved_problem


def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    other = tmp_path / "app.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'ada')")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(CorpusError, match="not an llm-modulo corpus"):
        Corpus(other)
    assert other.read_bytes() == before  # no tables added, not even switched to WAL


def test_a_newer_schema_is_refused_before_any_ddl(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Corpus(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2'")
    conn.execute("DROP INDEX attempts_by_run")
    conn.execute("DROP INDEX attempts_by_problem")
    conn.execute("ALTER TABLE attempts RENAME COLUMN run_id TO run")  # a future layout
    conn.commit()
    conn.close()
    with pytest.raises(CorpusError, match="schema version 2"):
        Corpus(path)


@pytest.mark.parametrize("content", [b"", b"hello", b"SQLite format 3\x00" + b"\x00" * 80])
def test_damaged_files_are_errors_or_new_corpora(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(content)
    try:
        Corpus(path).close()
    except CorpusError as exc:
        assert "\n" not in str(exc)
        assert path.read_bytes() == content
    else:
        assert content == b""  # only an empty file may become a corpus


def test_a_directory_is_not_a_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"cannot open corpus|unable to open"):
        Corpus(tmp_path)


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    c = Corpus(tmp_path / "c.sqlite")
    solved_problem(c, "4 4 6 8")
    return c


@pytest.mark.parametrize("name", ["c.sqlite", "c.sqlite-wal", "c.sqlite-shm"])
def test_export_never_overwrites_the_corpus(corpus: Corpus, name: str) -> None:
    before = corpus.counts()
    target = corpus.path.parent / name
    with pytest.raises(UsageError, match="is the corpus"):
        export(corpus, ExportOptions(format="sft", out=target))
    corpus.close()
    with Corpus(corpus.path) as again:
        assert again.counts() == before


def test_export_never_overwrites_another_database_or_a_device(corpus: Corpus,
                                                              tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(UsageError, match="SQLite database"):
        export(corpus, ExportOptions(format="sft", out=other))
    with pytest.raises(UsageError, match="directory"):
        export(corpus, ExportOptions(format="parquet", out=tmp_path))
    with pytest.raises(UsageError, match="not a regular file"):
        export(corpus, ExportOptions(format="sft", out=Path("/dev/null")))
    assert Path("/dev/null").is_char_device()


def test_export_into_an_unwritable_place_is_a_usage_error(corpus: Corpus,
                                                          tmp_path: Path) -> None:
    for fmt in ("sft", "parquet"):
        with pytest.raises(UsageError, match="cannot write"):
            export(corpus, ExportOptions(format=fmt, out=Path("/proc/nope/x.out")))  # type: ignore[arg-type]
    assert not list(tmp_path.glob("*.partial"))


def test_export_replaces_an_older_export_atomically(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    out.write_text("old\n")
    export(corpus, ExportOptions(format="sft", out=out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["messages"][-1]["role"] == "assistant"
    assert not list(tmp_path.glob("*.partial"))


def test_unknown_and_unsound_rows_never_reach_any_export(tmp_path: Path) -> None:
    """UNKNOWN verdicts and an unsound verifier's ACCEPT: neither answers nor negatives."""
    with Corpus(tmp_path / "c.sqlite") as c:
        p = problem("1 2 3 4")
        unsound_accept = attempt(p, "1+2+3+4", Status.ACCEPT, sound=False)
        unsound_reject = attempt(p, "1*2*3*4+0", Status.REJECT, sound=False, sample=1)
        unknown = attempt(p, "(1+2+3)*4", Status.UNKNOWN, sample=2)
        c.record_round(p, [unsound_accept, unsound_reject, unknown], SamplingParams(n=3), "m")
        assert c.counts()["solutions"] == 0
        # a solved problem whose other attempts are UNKNOWN and unsound REJECTs
        q = solved_problem(c, "4 4 6 8")
        c.record_round(q, [attempt(q, "8+6+4+4", Status.UNKNOWN, round=3),
                           attempt(q, "4*4+6+8", Status.REJECT, round=3, sample=1,
                                   sound=False)], SamplingParams(n=2), "m")
        for fmt in ("sft", "dpo", "openai"):
            out = tmp_path / f"{fmt}.jsonl"
            export(c, ExportOptions(format=fmt, out=out))  # type: ignore[arg-type]
            text = out.read_text()
            for bad in ("1+2+3+4", "1*2*3*4+0", "(1+2+3)*4", "8+6+4+4", "4*4+6+8"):
                assert bad not in text, (fmt, bad)
        import pyarrow.parquet as pq

        export(c, ExportOptions(format="parquet", out=tmp_path / "a.parquet"))
        table = pq.read_table(tmp_path / "a.parquet").to_pylist()
        assert {r["verdict"] for r in table} <= {"accept", "reject"}
        assert all("8+6+4+4" not in r["completion"] and "1+2+3+4" not in r["completion"]
                   for r in table)


class _Registry:
    """A registry whose game24 verifier is whatever the test says (or fails to load)."""

    def __init__(self, verifier: object | None) -> None:
        self.verifier = verifier

    def domain_and_verifier(self, name: str) -> tuple[object, object]:
        if self.verifier is None:
            from llm_modulo.errors import PluginLoadError

            raise PluginLoadError("llm_modulo.verifiers", name, "broken:Thing",
                                  "ImportError: no module named broken")
        return object(), self.verifier


@pytest.mark.parametrize("fmt", ["sft", "dpo", "parquet"])
def test_reverify_with_a_crashing_or_unsound_verifier_exports_nothing(
        corpus: Corpus, tmp_path: Path, pool: object, fmt: str) -> None:
    from llm_modulo.corpus.formats import Reverifier
    from tests.fakes import Raises, UnsoundAccepts

    for verifier in (Raises(), UnsoundAccepts()):
        out = tmp_path / f"out.{fmt}"
        report = export(corpus, ExportOptions(format=fmt, out=out, reverify=True),  # type: ignore[arg-type]
                        reverifier=Reverifier(_Registry(verifier), pool=pool))
        assert sum(report.files.values()) == 0 and report.dropped > 0


def test_reverify_with_a_plugin_that_fails_to_load_is_an_error(corpus: Corpus,
                                                               tmp_path: Path) -> None:
    from llm_modulo.corpus.formats import Reverifier

    out = tmp_path / "out.jsonl"
    out.write_text("previous export\n")
    with pytest.raises(UsageError, match="cannot re-verify domain 'game24'"):
        export(corpus, ExportOptions(format="sft", out=out, reverify=True),
               reverifier=Reverifier(_Registry(None)))
    assert out.read_text() == "previous export\n"  # the old file is left as it was
    assert not list(tmp_path.glob("*.partial"))


def test_an_interrupted_export_leaves_the_old_file_and_no_partial(
        corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_modulo.corpus import formats

    out = tmp_path / "out.jsonl"
    out.write_text("previous export\n")

    def interrupted(self: object, rows: list[object]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(formats._JsonlSink, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export(corpus, ExportOptions(format="sft", out=out))
    assert out.read_text() == "previous export\n"
    assert not list(tmp_path.glob("*.partial"))


def test_dpo_never_pairs_an_answer_against_itself(tmp_path: Path) -> None:
    """Verifier 0.9 accepted an answer that 1.0 later REJECTed (not yet flagged): it is
    neither chosen-and-rejected in one pair nor a negative for that problem."""
    with Corpus(tmp_path / "c.sqlite") as c:
        p = problem("4 4 6 8")
        c.record_round(p, [attempt(p, "(4+8)*(6-4)", Status.ACCEPT, version="0.9")],
                       SamplingParams(), "m")
        again = attempt(p, "(4+8)*(6-4)", Status.REJECT, round=2, version="1.0")
        other = attempt(p, "4+4+6+8", Status.REJECT, round=2, sample=1, version="1.0")
        c.record_round(p, [again, other], SamplingParams(n=2), "m")
        export(c, ExportOptions(format="dpo", out=tmp_path / "d.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert "4+4+6+8" in rows[0]["rejected"][0]["content"]
    assert rows[0]["chosen"] != rows[0]["rejected"]


def test_export_while_another_process_writes(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.sqlite"
    Corpus(path).close()
    writer = subprocess.Popen([sys.executable, "-m", "tests.corpus_helpers", str(path), "300",
                               "w"], stderr=subprocess.PIPE, text=True)
    sizes = []
    try:
        with Corpus(path) as c:
            while writer.poll() is None and len(sizes) < 40:
                for fmt, name in (("dpo", "d.jsonl"), ("parquet", "a.parquet")):
                    report = export(c, ExportOptions(format=fmt, out=tmp_path / name))  # type: ignore[arg-type]
                    sizes.append(sum(report.files.values()))
                lines = (tmp_path / "d.jsonl").read_text().splitlines()
                assert all(json.loads(line)["chosen"] for line in lines)  # whole rows only
    finally:
        _, stderr = writer.communicate(timeout=300)
    assert writer.returncode == 0, stderr
    assert sizes and not list(tmp_path.glob("*.partial"))
    with Corpus(path) as c:
        assert c.query("PRAGMA integrity_check") == [("ok",)]
        assert c.counts()["attempts"] == 300 * 8


_SLOW_EXPORT = """
import sys, time
from pathlib import Path
from llm_modulo.corpus import Corpus, ExportOptions, export
from llm_modulo.corpus import formats

formats.BATCH_ROWS = 1
real = formats._JsonlSink.write
def slow(self, rows):
    real(self, rows)
    self._fh.flush()
    time.sleep(60)  # killed in here, mid-export
formats._JsonlSink.write = slow
with Corpus(sys.argv[1]) as c:
    export(c, ExportOptions(format="sft", out=Path(sys.argv[2])))
"""


def test_kill_9_during_export_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    with Corpus(tmp_path / "c.sqlite") as c:
        for numbers in ("4 4 6 8", "1 2 3 4", "2 3 4 5"):
            solved_problem(c, numbers)
    out = tmp_path / "sft.jsonl"
    out.write_text("previous export\n")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(tmp_path / "c.sqlite"),
                             str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            p.stat().st_size for p in tmp_path.glob("*.partial")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == "previous export\n"  # the final name never held a partial file
    (partial,) = tmp_path.glob("sft.jsonl.*.partial")  # left behind, under its own name
    assert partial.read_text().count("\n") == 1
