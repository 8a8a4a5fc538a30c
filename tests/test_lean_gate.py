"""The gate in front of Lean, the statement parser, file assembly and verdicts (no Lean)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.errors import ProblemError
from llm_modulo.types import Status
from llm_modulo.verifiers.lean.backend import LeanBackend, LeanMessage, LeanRun, parse_messages
from llm_modulo.verifiers.lean.batch import LeanBatch, LeanTask, Statement
from llm_modulo.verifiers.lean.gate import GateError, check_text, tokenize
from tests.lean_catalogue import COMM, LEAN_CASES, TAMPER


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_every_tamper_trick_is_refused_by_the_gate(name: str) -> None:
    with pytest.raises(GateError):
        check_text(TAMPER[name])


@pytest.mark.parametrize("case", [c for c in LEAN_CASES
                                  if c.expected == "accept"
                                  and c.id not in ("declares-axiom", "declares-root-axiom")],
                         ids=lambda c: c.id)
def test_correct_proofs_pass_the_gate(case: object) -> None:
    check_text(case.proof)  # type: ignore[attr-defined]


@pytest.mark.parametrize("proof", [
    "by simp [List.length_append, Nat.add_comm]",
    "fun h => ⟨h.2, h.1⟩",
    "by\n  intro x\n  cases x <;> simp  -- a comment with axiom and #eval in it",
    "by /- a nested /- comment -/ still fine -/ omega",
    "by exact (show 'a' ≠ 'b' by decide)",
    "by simp [show \"a)\" ≠ \"b\" by decide]",
    "fun (x : Nat) => Nat.le_refl x",
    "by exact h'.trans h''",
    "by decide",
    "@Nat.add_comm a b",
    "by exact #[1, 2].size_pos_of_mem (by simp)",
])
def test_ordinary_proof_text_passes(proof: str) -> None:
    check_text(proof)


def test_gate_error_points_at_the_offending_text() -> None:
    with pytest.raises(GateError) as info:
        check_text("by\n  omega\naxiom x : False")
    assert (info.value.line, info.value.column) == (3, 1)
    assert "axiom" in str(info.value)


def test_strings_and_comments_hide_nothing_and_reveal_nothing() -> None:
    kinds = [t.kind for t in tokenize('by simp [show "#eval )" = "x" from rfl] -- axiom')]
    assert "string" in kinds
    # a parenthesis inside a string is not a bracket: still balanced
    check_text('by simp [show "a )" ≠ "x" by decide]')
    # ... but a command inside a string is refused: Lean's recovery after a syntax error
    # would parse it (comments are blanked out before Lean sees them, so they may say anything)
    with pytest.raises(GateError):
        check_text('by simp [show "#eval )" ≠ "x" by decide]')
    check_text("by omega -- #eval, axiom, theorem: words in comments never reach Lean")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("()[]{}⟨⟩\"'/-!#@` \naxiomby")), max_size=40))
def test_gate_never_crashes_and_accepted_text_is_balanced(text: str) -> None:
    try:
        tokens = check_text(text)
    except GateError:
        return
    depth = 0
    for tok in tokens:
        if tok.kind == "symbol" and tok.text in "([{⟨":
            depth += 1
        elif tok.kind == "symbol" and tok.text in ")]}⟩":
            depth -= 1
        assert depth >= 0
    assert depth == 0


# -- statements --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "signature"), [
    (COMM, "t", "(a b : Nat) : a + b = b + a"),
    ("lemma foo.bar {n : Nat} : n = n", "foo.bar", "{n : Nat} : n = n"),
    ("example : 1 = 1", "goal", ": 1 = 1"),
    ("∀ n : Nat, n = n", "goal", ": ∀ n : Nat, n = n"),
])
def test_statements_parse(text: str, name: str, signature: str) -> None:
    st_ = Statement.parse(text)
    assert (st_.name, st_.signature) == (name, signature)


@pytest.mark.parametrize("text", [
    "", "theorem t : 1 = 1 := rfl", "theorem t : 1 = 1\naxiom x : False",
    "theorem (a : Nat) : a = a", "theorem t : (1 = 1", "theorem t (a : Nat)",
])
def test_bad_statements_are_problem_errors(text: str) -> None:
    with pytest.raises(ProblemError):
        Statement.parse(text)


# -- assembly and verdicts with a scripted backend -----------------------------------------


class ScriptedLean(LeanBackend):
    """A backend that answers from a function of the file text (no Lean)."""

    name = "scripted"
    audit = "print"

    def __init__(self, respond: object) -> None:
        self.respond = respond
        self.sources: list[str] = []

    def command(self, filename: str) -> list[str]:
        raise AssertionError("not used")

    def run(self, source: str, timeout_s: float) -> LeanRun:
        self.sources.append(source)
        return self.respond(source)  # type: ignore[operator, no-any-return]


def _audit_all(source: str, *, stop_at: str | None = None, timed_out: bool = False) -> LeanRun:
    """`#print axioms` answers for every probe (until ``stop_at``)."""
    messages: list[LeanMessage] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if stop_at is not None and line.startswith(f"namespace {stop_at}"):
            break
        if line.startswith("#print axioms"):
            messages.append(LeanMessage("information",
                                        f"'{line.split()[-1]}' depends on axioms: [propext]",
                                        number, 0))
    return LeanRun(messages, None if timed_out else 0, timed_out, 1.0)


def test_a_hang_decides_the_prefix_and_retries_the_rest() -> None:
    calls: list[int] = []

    def respond(source: str) -> LeanRun:
        calls.append(1)
        if len(calls) == 1:
            return _audit_all(source, stop_at="LMC1", timed_out=True)
        return _audit_all(source)

    backend = ScriptedLean(respond)
    tasks = [LeanTask(COMM, f"by have x{i} : {i} = {i} := rfl; omega") for i in range(4)]
    results = LeanBatch(backend).check(tasks)
    assert [r.status for r in results] == [Status.ACCEPT, Status.UNKNOWN, Status.ACCEPT,
                                           Status.ACCEPT]
    assert results[1].critiques[0].kind == "timeout"
    assert len(backend.sources) == 2
    assert "x1 " not in backend.sources[1] and "x2 " in backend.sources[1]


def test_a_toolchain_that_prints_nothing_gives_unknown_not_accept() -> None:
    backend = ScriptedLean(lambda source: LeanRun([], 0, False, 1.0))
    results = LeanBatch(backend).check([LeanTask(COMM, "by omega")] * 2)
    assert all(r.status is Status.UNKNOWN for r in results)


def test_a_deadline_during_the_imports_is_a_toolchain_failure_not_a_retry() -> None:
    backend = ScriptedLean(lambda source: _audit_all(source, stop_at="LMS", timed_out=True))
    results = LeanBatch(backend).check([LeanTask(COMM, f"by omega -- {i}") for i in range(3)])
    assert all(r.status is Status.UNKNOWN and r.critiques[0].kind == "toolchain"
               for r in results)
    assert len(backend.sources) == 1


def test_a_crashing_toolchain_gives_unknown() -> None:
    backend = ScriptedLean(lambda source: LeanRun([], 134, False, 1.0, "wasm trap"))
    [result] = LeanBatch(backend).check([LeanTask(COMM, "by omega")])
    assert result.status is Status.UNKNOWN
    assert result.critiques[0].kind == "toolchain"


def test_positions_map_into_the_candidates_text() -> None:
    proof = "by\n  intro\n  omega"

    def respond(source: str) -> LeanRun:
        lines = source.splitlines()
        target = next(i for i, ln in enumerate(lines, 1) if ln == "  intro")
        run = _audit_all(source)
        return LeanRun([LeanMessage("error", "no additional binders", target, 2), *run.messages],
                       1, False, 1.0)

    [result] = LeanBatch(ScriptedLean(respond)).check([LeanTask(COMM, proof)])
    assert result.status is Status.REJECT
    assert result.critiques[0].location == "line 2, column 3 of the proof"


def test_forbidden_axioms_reject_and_a_bad_statement_is_unknown() -> None:
    def respond(source: str) -> LeanRun:
        out = []
        for number, line in enumerate(source.splitlines(), start=1):
            if line.startswith("#print axioms LMC"):
                out.append(LeanMessage("information", "'t' depends on axioms: [propext, "
                                       "_private.Check.0.LMC0.cheat]", number, 0))
            elif line.startswith("#print axioms LMS"):
                out.append(LeanMessage("information", "'t' depends on axioms: [sorryAx]",
                                       number, 0))
        return LeanRun(out, 0, False, 1.0)

    [result] = LeanBatch(ScriptedLean(respond)).check([LeanTask(COMM, "by omega")])
    assert result.status is Status.REJECT
    assert result.critiques[0].kind == "axiom"
    assert "LMC0" not in result.critiques[0].message

    def bad_statement(source: str) -> LeanRun:
        header = next(i for i, ln in enumerate(source.splitlines(), 1)
                      if ln.strip() == ":= sorry")
        return LeanRun([LeanMessage("error", "unknown identifier 'Foo'", header, 10),
                        *_audit_all(source).messages], 1, False, 1.0)

    [result] = LeanBatch(ScriptedLean(bad_statement)).check([LeanTask(COMM, "by omega")])
    assert result.status is Status.UNKNOWN
    assert result.critiques[0].kind == "bad_problem"


def test_gated_candidates_never_reach_lean() -> None:
    backend = ScriptedLean(_audit_all)
    results = LeanBatch(backend).check([LeanTask(COMM, p) for p in TAMPER.values()])
    assert all(r.status is Status.REJECT for r in results)
    assert backend.sources == []


def test_parse_messages_skips_debug_lines() -> None:
    out = ('[DEBUG:A] x\n{"severity":"error","data":"boom","pos":{"line":3,"column":4},'
           '"kind":"k"}\nnot json {\n{"broken\n')
    [m] = parse_messages(out)
    assert (m.severity, m.text, m.line, m.column, m.kind) == ("error", "boom", 3, 4, "k")


# -- red-team regressions -------------------------------------------------------------------


@pytest.mark.parametrize("proof", [
    "by simp (maxSteps := 100000)", "by decide (kernel := true)", "by decide +kernel",
    "by simp (disch := omega) [Nat.add_comm]", "Nat.lt_irrefl (n := 0)",
    "fun (x : Nat := 3) => x", "by omega -- a trailing comment", "by omega\n  -- )",
])
def test_literal_configuration_and_named_arguments_pass(proof: str) -> None:
    check_text(proof)


def test_computed_configuration_is_refused_with_a_way_out() -> None:
    with pytest.raises(GateError) as info:
        check_text("by\n  simp (config := { maxSteps := 10 })")
    assert (info.value.line, info.value.column) == (2, 8)
    assert "+option" in str(info.value)


def test_a_message_with_a_unicode_line_separator_is_not_lost() -> None:
    # Lean's JSON leaves U+2028 / U+0085 raw inside strings; str.splitlines() would cut
    # the line and drop the (error) message
    line = ('{"severity":"error","data":"type mismatch \\"a\u2028b\u0085c\\"",'
            '"pos":{"line":7,"column":9},"kind":""}')
    [m] = parse_messages(f"[DEBUG] x\n{line}\n")
    assert m.severity == "error" and "\u2028" in m.text and m.line == 7


def _with_extra(run: LeanRun, **extra: object) -> LeanRun:
    return LeanRun(run.messages, run.returncode, run.timed_out, run.elapsed_s, extra=extra)


def test_garbled_output_turns_an_accept_into_unknown() -> None:
    [ok] = LeanBatch(ScriptedLean(_audit_all)).check([LeanTask(COMM, "by omega")])
    assert ok.status is Status.ACCEPT
    garbled = ScriptedLean(lambda src: _with_extra(_audit_all(src), malformed=1))
    [result] = LeanBatch(garbled).check([LeanTask(COMM, "by omega")])
    assert result.status is Status.UNKNOWN


def test_a_forged_second_audit_message_is_unknown_not_accept() -> None:
    def respond(source: str) -> LeanRun:
        run = _audit_all(source)
        probe = run.messages[-1]
        # code in the file printed a fake "no axioms" line for its own block, then the
        # real audit (or an error) follows on the same line
        fake = LeanMessage("information", "'LMC0.t' does not depend on any axioms",
                           probe.line, 0)
        return LeanRun([*run.messages[:-1], fake, probe], 0, False, 1.0)

    [result] = LeanBatch(ScriptedLean(respond)).check([LeanTask(COMM, "by omega")])
    assert result.status is Status.UNKNOWN


@pytest.mark.parametrize("text", [
    "theorem t : (sorry : Prop)", "theorem _root_.t : 1 = 1", "theorem t : 1 = 1 := by rfl",
])
def test_statements_that_prove_or_escape_are_problem_errors(text: str) -> None:
    with pytest.raises(ProblemError):
        Statement.parse(text)


def test_verifier_text_starts_on_fresh_lines() -> None:
    """A statement or proof ending in a `--` comment cannot swallow `:=`, `)` or `end`."""
    backend = ScriptedLean(_audit_all)
    statement = "theorem t (a b : Nat) : a + b = b + a -- commutativity"
    task = LeanTask(statement, "by omega -- done")
    source, _, _ = LeanBatch(backend).assemble([(0, task)],
                                                 {statement: Statement.parse(statement)})
    lines = source.split("\n")
    assert lines.count("  := (") == 1 and lines.count("  := sorry") == 1
    proof_at = lines.index("by omega" + " " * len(" -- done"))  # comments are blanked
    assert lines[proof_at + 1:proof_at + 3] == [")", "end LMC0"]
    assert "commutativity" not in source


def test_malformed_message_lines_are_counted() -> None:
    from llm_modulo.verifiers.lean.backend import malformed_lines

    out = '[DEBUG] {\n{"broken\n{"severity":"error","data":"x","pos":{"line":1,"column":0}}\n'
    assert malformed_lines(out) == 1



@pytest.mark.parametrize("proof", [
    # after a syntax error Lean resumes at any later position where a command parses
    "by omega , hxaxiom cheat : False",  # `axiom` is the tail of a name
    'by omega , x#eval IO.FS.writeFile "/tmp/x" "y"',
    "by omega , xend LMC0\nhxaxiom cheat : False\nxnamespace LMC0",
    "by omega , \"#exit\"",
    "by omega , y@[simp] h",
    # a definition hidden in a string or a «name» could run code through a configuration
    'by omega , "x def y : Bool := by decide (kernel := f ())"',
    "by omega , «x def y := by_elab pure default»",
    # Lean reads `'"` as an unterminated character literal, not as a quote and a string
    "by omega '\"\n#eval 1\n-- \"",
])
def test_commands_hidden_from_the_tokens_are_refused(proof: str) -> None:
    with pytest.raises(GateError):
        check_text(proof)


def test_blank_comments_keeps_positions_and_code() -> None:
    from llm_modulo.verifiers.lean.gate import blank_comments

    text = "by omega -- theorem\n  /- a\n b -/ simp [\"--\"]"
    blanked = blank_comments(text)
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert "theorem" not in blanked and blanked.endswith('simp ["--"]')
