"""Check many (statement, proof) pairs with one Lean process.

The verifier writes the whole file. Each candidate gets its own block::

    namespace LMC7
    set_option maxHeartbeats 100000 in
    theorem t (a b : Nat) : a + b = b + a := (
    <the candidate's proof text, verbatim>
    )
    end LMC7
    <probe>

The statement comes from the problem, so the theorem's type is the stated one by
construction; the gate (:mod:`llm_modulo.verifiers.lean.gate`) keeps the proof inside the
parentheses. The probe is verifier-written: ``#print axioms`` where Lean allows it
(native toolchains), or an ``#eval`` of ``Lean.collectAxioms`` from a verifier-written
preamble where it does not (the WASM build's files are modules); its message is the
axiom audit and the positive evidence that Lean processed the block. Each distinct
statement is also checked once with ``sorry`` so that an ill-formed statement is
blamed on the problem (UNKNOWN), never on a proof.

Lean reports messages in file order, so when a process dies or hits the deadline,
every block before the first one without a probe is decided; that block is UNKNOWN
(it is the one that hung) and the rest go to a fresh process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from llm_modulo.errors import LeanUnavailable, ProblemError
from llm_modulo.types import Critique, Status
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.lean.backend import (
    LeanBackend,
    LeanMessage,
    LeanRun,
    default_backend,
)
from llm_modulo.verifiers.lean.gate import (
    MAX_STATEMENT_CHARS,
    GateError,
    blank_comments,
    check_text,
)

ALLOWED_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
#: Axioms that trust the compiler or stand for a missing proof.
UNSOUND_AXIOMS = frozenset({"sorryAx", "Lean.ofReduceBool", "Lean.ofReduceNat",
                            "Lean.trustCompiler"})
DEFAULT_HEARTBEATS = 100_000
_RESOURCE_ERRORS = (
    "(deterministic) timeout",
    "maximum recursion depth",
    "maxRecDepth",
    "maximum number of steps exceeded",
    "maxHeartbeats",
)
IMPORTS_ENV = "LLM_MODULO_LEAN_IMPORTS"
_MODULE = re.compile(r"[A-Z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
_HEAD = re.compile(r"^\s*(theorem|lemma|example)\b")
_NAME = re.compile(r"^\s*([^\s:(\[{⦃]+)")
_AXIOMS = re.compile(r"depends on axioms: \[(.*)\]", re.DOTALL)
_NO_AXIOMS = "does not depend on any axioms"
_COLLECTED = re.compile(r"LLM-MODULO-AXIOMS:([^\n]*)")
#: Written first in WASM files (modules refuse ``#print axioms``): prints the axioms a
#: constant depends on. ``Name.toString`` and ``for`` over arrays are avoided: their
#: compiled helpers are private and not in the shipped (exported-level) .olean files, so
#: the interpreter cannot run them.
AUDIT_PREAMBLE = """
import Lean.CoreM
import Lean.Util.CollectAxioms

def LLMModuloAudit.nameStr : Lean.Name → String
  | .anonymous => "[anonymous]"
  | .str .anonymous s => s
  | .str p s => LLMModuloAudit.nameStr p ++ "." ++ s
  | .num p n => LLMModuloAudit.nameStr p ++ "." ++ Nat.repr n

def LLMModuloAudit.join (env : Lean.Environment) : List Lean.Name → String
  | [] => ""
  | a :: rest => " " ++ (if (env.getModuleIdxFor? a).isSome then "" else "local:")
      ++ LLMModuloAudit.nameStr a ++ LLMModuloAudit.join env rest

def LLMModuloAudit.report (c : Lean.Name) : Lean.CoreM Unit := do
  let axs ← Lean.collectAxioms c
  let env ← Lean.getEnv
  IO.println ("LLM-MODULO-AXIOMS:" ++ LLMModuloAudit.join env axs.toList)
"""
_NO_AUTOBOUND = "set_option autoImplicit false in"
#: Prefix the audit gives a constant the checked file itself declares (not imported).
_LOCAL_MARK = "local:"
_INTERNAL = re.compile(r"_private\.\w+\.\d+\.|\bLM[CS]\d+\b\.?")
#: Names the checked file itself declares (private in a module file, or in our namespaces).
_LOCAL = re.compile(r"_private\.Check\.|LM[CS]\d+\.|LLMModuloAudit\.")


#: What a bare proposition (no ``theorem NAME``) must contain somewhere: a relation, a
#: quantifier, a connective or a propositional constant. Text without any (``123``, ``[]``)
#: is refused as a problem error before Lean is started for it.
_PROPOSITION_HINT = re.compile(
    r"[=<>≤≥≠∣∈∉⊆⊂∀∃¬→↔∧∨]|->|<->|/\\|\\/|\b(?:True|False|forall|exists)\b")  # noqa: RUF001


@dataclass(frozen=True)
class Statement:
    """A problem's theorem statement split into a declaration name and its signature."""

    name: str
    signature: str
    text: str

    @classmethod
    def parse(cls, text: str) -> Statement:
        """``theorem NAME BINDERS : TYPE``, ``example BINDERS : TYPE`` or a bare proposition.

        Raises ProblemError with a one-line reason."""
        if not isinstance(text, str) or not text.strip():
            raise ProblemError('a Lean problem needs a non-empty "statement"')
        head = _HEAD.match(text)
        if head is None:
            if not _PROPOSITION_HINT.search(text):
                raise ProblemError(
                    "a bare statement must be a proposition (a relation such as `=`, `<` or "
                    "`↔`, a quantifier or a connective); otherwise write it as "
                    "`theorem NAME BINDERS : TYPE`")
            name, signature = "goal", ": " + text.strip()
        else:
            rest = text[head.end():]
            if head.group(1) == "example":
                name = "goal"
            else:
                found = _NAME.match(rest)
                if found is None:
                    raise ProblemError(f"the statement's {head.group(1)} has no name")
                name, rest = found.group(1), rest[found.end():]
            signature = rest.strip()
        if ":=" in signature:
            raise ProblemError("give only the statement (no `:=` and no proof)")
        try:
            check_text(name, what="statement name", max_chars=200)
            if not re.fullmatch(r"[^\s.]+(\.[^\s.]+)*", name):
                raise GateError("not a Lean identifier", 0, name)
            tokens = check_text(signature, what="statement", max_chars=MAX_STATEMENT_CHARS)
        except GateError as exc:
            raise ProblemError(f"unusable Lean statement: {exc} ({exc.location})") from None
        if "_root_" in name.split("."):
            raise ProblemError("the statement's name may not start from `_root_`")
        if any(t.kind == "ident" and t.text in ("sorry", "admit") for t in tokens):
            raise ProblemError("the statement uses `sorry`: nothing can prove it")
        depth, typed = 0, False
        for tok in tokens:
            if tok.kind == "symbol" and tok.text in "([{⟨⦃":
                depth += 1
            elif tok.kind == "symbol" and tok.text in ")]}⟩⦄":
                depth -= 1
            elif tok.kind == "symbol" and tok.text == ":" and depth == 0:
                typed = True
                break
        if not typed:
            raise ProblemError("the statement needs a type: `theorem NAME BINDERS : TYPE`")
        # comments are whitespace to Lean: hand it none (see lean_gate.blank_comments)
        return cls(name=name, signature=blank_comments(signature).rstrip(), text=text.strip())


@dataclass(frozen=True)
class LeanTask:
    """One candidate: the problem's statement and the proof text to check against it."""

    statement: str
    proof: str
    imports: tuple[str, ...] = ()


def allowed_import_prefixes() -> tuple[str, ...]:
    """Module prefixes a problem may import: Init and Std, plus ``$LLM_MODULO_LEAN_IMPORTS``."""
    extra = os.environ.get(IMPORTS_ENV, "")
    return ("Init", "Std", *(p.strip() for p in extra.split(",") if p.strip()))


def validate_imports(imports: object) -> tuple[str, ...]:
    """The problem's ``imports`` as a tuple, or ProblemError naming what is not allowed."""
    if imports is None:
        return ()
    if not isinstance(imports, list) or not all(isinstance(m, str) for m in imports):
        raise ProblemError('"imports" must be a list of module names, e.g. ["Std.Data.HashMap"]')
    prefixes = allowed_import_prefixes()
    for module in imports:
        if not _MODULE.fullmatch(module):
            raise ProblemError(f"not a Lean module name: {module[:60]!r}")
        if not any(module == p or module.startswith(p + ".") for p in prefixes):
            raise ProblemError(f"import {module} is not allowed (allowed: "
                               f"{', '.join(prefixes)}; add prefixes with {IMPORTS_ENV})")
    return tuple(sorted(set(imports)))


@dataclass
class _Block:
    index: int  # position in the batch (-1 for a statement probe)
    first_line: int
    last_line: int
    proof_line: int = 0  # first line of the proof text
    proof_lines: int = 0
    probe_line: int = 0
    statement_key: int = 0
    messages: list[LeanMessage] = field(default_factory=list)


@dataclass(frozen=True)
class BatchConfig:
    """Limits of one batch check."""

    heartbeats: int = DEFAULT_HEARTBEATS
    #: Wall-clock seconds for a process to start (import Init) ...
    startup_s: float = 900.0
    #: ... plus this many per candidate.
    per_candidate_s: float = 30.0
    #: At most this many Lean processes per batch (retries after a hang or crash).
    max_runs: int = 4


class LeanBatch:
    """Assemble, run and decide a batch of candidates on one backend."""

    def __init__(self, backend: LeanBackend | None = None,
                 config: BatchConfig | None = None) -> None:
        self._backend = backend
        self.config = config or BatchConfig()

    @property
    def backend(self) -> LeanBackend:
        """The given backend, else the default one (resolved only when Lean must run)."""
        if self._backend is None:
            self._backend = default_backend()
        return self._backend

    # -- public ------------------------------------------------------------------------

    def check(self, tasks: Sequence[LeanTask], *, gate: bool = True) -> list[CheckResult]:
        """One CheckResult per task, in order. ``gate=False`` is for tests of Lean's side."""
        results: list[CheckResult | None] = [None] * len(tasks)
        statements: dict[str, Statement] = {}
        pending: list[int] = []
        for i, task in enumerate(tasks):
            try:
                statements.setdefault(task.statement, Statement.parse(task.statement))
                validate_imports(list(task.imports))
            except ProblemError as exc:
                results[i] = CheckResult.unknown(str(exc), kind="bad_problem")
                continue
            if gate:
                try:
                    check_text(task.proof)
                except GateError as exc:
                    results[i] = CheckResult.reject(Critique(
                        kind="forbidden", message=str(exc), location=exc.location,
                        data={"line": exc.line, "column": exc.column}))
                    continue
            pending.append(i)
        if pending:
            try:
                self.backend  # noqa: B018 - resolve it now: no Lean means UNKNOWN, not a crash
            except LeanUnavailable as exc:
                for i in pending:
                    results[i] = CheckResult.unknown(str(exc), kind="toolchain")
                pending = []
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in pending:
            groups.setdefault(tasks[i].imports, []).append(i)
        for group in groups.values():
            self._check_group(group, tasks, statements, results)
        return [r if r is not None else CheckResult.unknown("not decided") for r in results]

    def _check_group(self, pending: list[int], tasks: Sequence[LeanTask],
                     statements: dict[str, Statement],
                     results: list[CheckResult | None]) -> None:
        """Decide tasks that share their imports, in as few Lean processes as possible."""
        runs = 0
        while pending:
            if runs >= self.config.max_runs:
                for i in pending:
                    results[i] = CheckResult.unknown(
                        f"Lean failed {runs} times on this batch; not decided", kind="timeout")
                break
            runs += 1
            decided, run, started = self._run_once([(i, tasks[i]) for i in pending],
                                                   statements)
            for i, result in decided.items():
                results[i] = result
            undecided = [i for i in pending if i not in decided]
            if not undecided:
                break
            if not started:
                # Lean never got past its imports and the statement checks: the
                # toolchain (or the machine), not a proof, failed
                reason = _failure(run)
                for i in undecided:
                    results[i] = CheckResult.unknown(reason, kind="toolchain")
                break
            first, pending = undecided[0], undecided[1:]
            results[first] = CheckResult.unknown(
                "Lean did not finish checking this proof " + (
                    f"within the deadline ({run.elapsed_s:.0f} s)" if run.timed_out
                    else f"({_failure(run)})"),
                kind="timeout" if run.timed_out else "toolchain")

    # -- one process -------------------------------------------------------------------

    def _run_once(
        self, items: list[tuple[int, LeanTask]], statements: dict[str, Statement]
    ) -> tuple[dict[int, CheckResult], LeanRun, bool]:
        """Verdicts Lean gave evidence for, the run, and whether Lean reached the proofs."""
        source, blocks, statement_blocks = self.assemble(items, statements)
        timeout = self.config.startup_s + self.config.per_candidate_s * len(items)
        run = self.backend.run(source, timeout)
        _distribute(run.messages, [*statement_blocks.values(), *blocks])
        decided: dict[int, CheckResult] = {}
        garbled = int(run.extra.get("malformed", 0))
        for block in blocks:
            sblock = statement_blocks[block.statement_key]
            result = self._decide(block, sblock)
            if result is not None and garbled and result.status is Status.ACCEPT:
                # a message that did not parse may have been this proof's error
                result = CheckResult.unknown(
                    f"Lean's output had {garbled} unreadable message line(s); an accept "
                    "cannot rely on it", kind="toolchain")
            if result is not None:
                decided[block.index] = result
        started = all(any(m.line == b.probe_line for m in b.messages)
                      for b in statement_blocks.values())
        return decided, run, started

    def assemble(
        self, items: list[tuple[int, LeanTask]], statements: dict[str, Statement]
    ) -> tuple[str, list[_Block], dict[int, _Block]]:
        """The file's text, the candidate blocks and one statement block per statement."""
        lines: list[str] = [f"import {m}" for m in items[0][1].imports] if items else []
        if self.backend.audit == "collect":
            lines += AUDIT_PREAMBLE.strip("\n").split("\n")
        lines.append(f"-- llm-modulo lean verifier: {len(items)} candidates")
        keys: dict[str, int] = {}
        statement_blocks: dict[int, _Block] = {}
        for _, task in items:
            if task.statement in keys:
                continue
            key = keys[task.statement] = len(keys)
            st = statements[task.statement]
            block = _Block(index=-1, first_line=len(lines) + 1, last_line=0, statement_key=key)
            # `:=` on a line of its own: a statement ending in a `--` comment cannot hide it
            # no auto-bound implicits: a statement's free names must mean the same in every
            # block, whatever later text declares (see lean_gate.RAW_COMMAND_WORDS on `def`)
            lines += [f"namespace LMS{key}", _NO_AUTOBOUND, f"theorem {st.name} {st.signature}",
                      "  := sorry", f"end LMS{key}"]
            lines.append(self._probe(f"LMS{key}.{st.name}"))
            block.probe_line = block.last_line = len(lines)
            statement_blocks[key] = block
        blocks: list[_Block] = []
        for k, (index, task) in enumerate(items):
            st = statements[task.statement]
            block = _Block(index=index, first_line=len(lines) + 1, last_line=0,
                           statement_key=keys[task.statement])
            lines += [f"namespace LMC{k}",
                      f"set_option maxHeartbeats {self.config.heartbeats} in", _NO_AUTOBOUND,
                      f"theorem {st.name} {st.signature}", "  := ("]
            proof_lines = _without_comments(task.proof).rstrip("\n").split("\n")
            block.proof_line, block.proof_lines = len(lines) + 1, len(proof_lines)
            # the proof ends with a newline and the closing text starts a fresh line, so
            # a trailing `--` comment cannot swallow it
            lines += [*proof_lines, ")", f"end LMC{k}"]
            lines.append(self._probe(f"LMC{k}.{st.name}"))
            block.probe_line = block.last_line = len(lines)
            blocks.append(block)
        return "\n".join(lines) + "\n", blocks, statement_blocks

    def _probe(self, constant: str) -> str:
        if self.backend.audit == "print":
            return f"#print axioms {constant}"
        if self.backend.audit == "collect":
            return f"#eval LLMModuloAudit.report ``{constant}"
        return f"#check @{constant}"

    # -- verdicts ----------------------------------------------------------------------

    def _decide(self, block: _Block, statement: _Block) -> CheckResult | None:
        """The verdict of one candidate block, or None when Lean gave no evidence for it."""
        if not any(m.line == statement.probe_line for m in statement.messages):
            return None
        statement_errors = [m for m in statement.messages if m.severity == "error"]
        if statement_errors:
            return CheckResult.unknown(
                "the problem's statement does not elaborate: "
                + _clean(statement_errors[0].text).splitlines()[0], kind="bad_problem")
        if not any(m.line == block.probe_line for m in block.messages):
            return None  # Lean never reached this block's probe
        if _forged(statement) or _forged(block):
            return CheckResult.unknown("Lean's output for this proof is inconsistent (more "
                                       "than one audit message); not decided", kind="toolchain")
        probe = _probe_message(block)
        body = [m for m in block.messages if m.line != block.probe_line]
        errors = [m for m in body if m.severity == "error"]
        if errors:
            resource = [m for m in errors if m.kind.startswith("runtime.")
                        or any(s in m.text for s in _RESOURCE_ERRORS)]
            if len(resource) == len(errors):
                return CheckResult.unknown(
                    "Lean ran out of its budget on this proof: "
                    + _clean(resource[0].text).splitlines()[0], kind="timeout")
            return CheckResult.reject(*(self._critique(block, m) for m in errors))
        sorries = [m for m in body if m.kind == "hasSorry" or "declaration uses `sorry`"
                   in m.text or "declaration uses 'sorry'" in m.text]
        if sorries:
            return CheckResult.reject(Critique(
                kind="sorry", message="the proof uses `sorry` (it is incomplete)"))
        if probe is None:
            return CheckResult.unknown("Lean reported no error but did not confirm the "
                                       "theorem either", kind="toolchain")
        if self.backend.audit == "closed":
            # no axiom listing available: the gate keeps every axiom-adding or
            # compiler-trusting construct out, and the environment is Init's
            return CheckResult.accept(backend=self.backend.name, axioms="closed environment")
        leaves = _axioms(probe)
        if leaves is None:
            return CheckResult.unknown("could not read the axiom audit: "
                                       + _clean(probe.text)[:200], kind="toolchain")
        if self.backend.audit == "collect":
            # The WASM build loads the library's exported level, where imported theorems
            # are opaque: the listing is the axioms plus the library theorems the proof
            # stops at. Library theorems are trusted (Lean's own Init/Std); what the file
            # itself declares, and the compiler/sorry axioms, are not.
            bad = sorted({_clean(a.removeprefix(_LOCAL_MARK)) for a in leaves
                          if a in UNSOUND_AXIOMS or a.startswith(_LOCAL_MARK)
                          or _LOCAL.match(a) is not None})
        else:
            bad = sorted({_clean(a) for a in leaves if a not in ALLOWED_AXIOMS})
        if bad:
            kind = "sorry" if bad == ["sorryAx"] else "axiom"
            return CheckResult.reject(Critique(
                kind=kind, message="the proof depends on axioms beyond propext, "
                f"Classical.choice and Quot.sound: {', '.join(bad)}", data={"axioms": bad}))
        evidence: dict[str, object] = {"backend": self.backend.name,
                                       "axioms": sorted(set(leaves) & ALLOWED_AXIOMS)}
        if self.backend.audit == "collect":
            evidence["library_theorems"] = sorted(set(leaves) - ALLOWED_AXIOMS)
        return CheckResult.accept(**evidence)

    def _critique(self, block: _Block, message: LeanMessage) -> Critique:
        text = _clean(message.text)
        first = text.splitlines()[0] if text else "error"
        data: dict[str, object] = {"lean": text}
        location = None
        if block.proof_line <= message.line < block.proof_line + block.proof_lines:
            line, column = message.line - block.proof_line + 1, message.column + 1
            location = f"line {line}, column {column} of the proof"
            data.update(line=line, column=column)
        kind = "unsolved_goals" if first.startswith("unsolved goals") else "lean_error"
        return Critique(kind=kind, message=text if len(text) < 2000 else first,
                        location=location, data=data)


def _distribute(messages: list[LeanMessage], blocks: list[_Block]) -> None:
    for message in messages:
        for block in blocks:
            if block.first_line <= message.line <= block.last_line:
                block.messages.append(message)
                break


def _without_comments(proof: str) -> str:
    """The proof as Lean gets it: comments blanked (ungated text in tests may not scan)."""
    try:
        return blank_comments(proof)
    except GateError:
        return proof


def _forged(block: _Block) -> bool:
    """More than one message on a probe line: Lean prints exactly one there, so the rest
    came from somewhere else (text printed by code the checked file ran)."""
    return sum(m.line == block.probe_line for m in block.messages) > 1


def _probe_message(block: _Block) -> LeanMessage | None:
    for m in block.messages:
        if m.line == block.probe_line and m.severity == "information":
            return m
    return None


def _axioms(probe: LeanMessage) -> list[str] | None:
    """The axiom names a probe message lists, or None when it is not an audit."""
    if (found := _COLLECTED.search(probe.text)) is not None:
        return found.group(1).split()
    if _NO_AXIOMS in probe.text:
        return []
    if (found := _AXIOMS.search(probe.text)) is not None:
        return [a.strip() for a in found.group(1).replace("\n", " ").split(",") if a.strip()]
    return None


def _clean(text: str) -> str:
    """Lean's message without the verifier's internal namespaces."""
    return _INTERNAL.sub("", text).strip()


def _failure(run: LeanRun) -> str:
    if run.timed_out:
        return f"Lean hit the {run.elapsed_s:.0f} s deadline"
    tail = " | ".join(run.stderr_tail.splitlines()[-2:])
    return f"Lean exited with code {run.returncode}" + (f": {tail}" if tail else "")
