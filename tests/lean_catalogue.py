"""Known-valid / known-invalid Lean candidates, shared by the fast and the real-Lean tests."""

from __future__ import annotations

from dataclasses import dataclass

COMM = "theorem t (a b : Nat) : a + b = b + a"


@dataclass(frozen=True)
class Case:
    id: str
    statement: str
    proof: str
    expected: str  # "accept", "reject" or "unknown"
    kind: str | None = None  # the first critique's kind, when it matters


#: Checked by the real Lean in one batch with the gate off, so each verdict is Lean's own.
LEAN_CASES = [
    # correct proofs
    Case("omega", COMM, "by omega", "accept"),
    Case("term", COMM, "Nat.add_comm a b", "accept"),
    Case("simp", "theorem t (xs : List Nat) : (xs ++ []).length = xs.length", "by simp",
         "accept"),
    Case("decide", "theorem t : (12 : Nat) * 12 = 144", "by decide", "accept"),
    Case("induction", "theorem t (n : Nat) : 0 + n = n",
         "by\n  induction n with\n  | zero => rfl\n  | succ k ih => rw [Nat.add_succ, ih]",
         "accept"),
    Case("classical", "theorem t (p : Prop) : p ∨ ¬p", "Classical.em p", "accept"),
    Case("bare-prop", "∀ n : Nat, n * 1 = n", "fun n => Nat.mul_one n", "accept"),
    # wrong proofs
    Case("wrong-omega", "theorem t (a b : Nat) : a * b = b * a + 1", "by omega", "reject",
         "lean_error"),
    Case("unsolved", COMM, "by\n  skip", "reject", "unsolved_goals"),
    Case("rfl", COMM, "rfl", "reject", "lean_error"),
    Case("different-statement", COMM, "Nat.mul_comm a b", "reject", "lean_error"),
    Case("parse-error", COMM, "by omega )(", "reject", "lean_error"),
    # incomplete or unsound proofs: only Lean's own checks stand in the way here
    Case("sorry", COMM, "by sorry", "reject", "sorry"),
    Case("sorry-term", COMM, "sorry", "reject", "sorry"),
    Case("synthetic-sorry", COMM, "sorryAx _ true", "reject", "sorry"),
    Case("native-decide", "theorem t : (10 : Nat) < 20", "by decide +native", "reject",
         "axiom"),
    Case("of-reduce-bool", "theorem t : (10 : Nat) < 20",
         "of_decide_eq_true (Lean.ofReduceBool _ _ rfl)", "reject"),
    # with the gate off, one candidate can declare an axiom that a later one uses:
    # the audit names it ({cheat} is the first block's namespace, filled in by the test)
    Case("declares-axiom", COMM,
         "by omega)\naxiom cheat : ∀ a b : Nat, a * b = b * a + 1\ntheorem u : True := (trivial",
         "accept"),
    Case("uses-added-axiom", "theorem t (a b : Nat) : a * b = b * a + 1", "{cheat}.cheat a b",
         "reject", "axiom"),
    # an axiom declared at the root (not in the verifier's namespaces) is still the file's
    # own: the audit marks it ({self} is the declaring block's namespace)
    Case("declares-root-axiom", COMM,
         "by omega)\nend {self}\naxiom cheat2 : ∀ a b : Nat, a * b = b * a + 2\n"
         "namespace {self}\ntheorem u : True := (trivial", "accept"),
    Case("uses-root-axiom", "theorem t (a b : Nat) : a * b = b * a + 2", "cheat2 a b",
         "reject", "axiom"),
    # resource exhaustion is undecided, never a verdict on the proof
    Case("heartbeats", "theorem t (n : Nat) : n ≤ n + 1",
         "by iterate 100000 rw [← Nat.add_zero n]", "unknown", "timeout"),
    # red-team cases: the assembly, not the gate, must make these safe
    Case("trailing-comment", COMM, "by omega -- a comment cannot swallow the `)` after it",
         "accept"),
    Case("commented-statement", COMM + " -- commutativity", "by omega", "accept"),
    Case("char-at-end", COMM, "by omega '", "reject"),
    Case("admit", COMM, "by admit", "reject", "sorry"),
    Case("line-separator-error", COMM, 'by exact ("a\u2028b" : Nat)', "reject", "lean_error"),
    Case("named-literal", "theorem t : ¬ (0 : Nat) < 0", "Nat.lt_irrefl (n := 0)", "accept"),
    Case("config-literal", "theorem t : (3 : Nat) < 5", "by decide (kernel := true)",
         "accept"),
    Case("config-native", "theorem t : (3 : Nat) < 5",
         "by decide (config := ⟨false, true, true, false⟩)", "reject", "axiom"),
    Case("let-rec", COMM, "let rec f : Nat → Nat\n    | 0 => 0\n    | n + 1 => f n\n  by omega",
         "accept"),
    # the correct proof after the failures is still accepted (blocks are isolated)
    Case("omega-again", COMM, "by\n  omega", "accept"),
]

#: Tricks the gate refuses before any Lean runs (each would be an attack if it reached Lean).
TAMPER = {
    "axiom": "by omega\n)\naxiom cheat : False\ntheorem u : False := (cheat",
    "axiom-inline": "axiom cheat : False",
    "eval": "by omega\n#eval IO.FS.writeFile \"/tmp/pwned\" \"x\"",
    "exit": "by omega\n#exit",
    "print": "#print axioms t",
    "macro": "by omega\nmacro \"cheat\" : tactic => `(tactic| sorry)",
    "syntax": "by omega\nsyntax \"cheat\" : tactic",
    "elab": "by omega\nelab \"cheat\" : tactic => pure ()",
    "notation": "by omega\nnotation \"cheat\" => sorry",
    "attribute": "by omega\nattribute [simp] Nat.add_comm",
    "set-option": "set_option maxHeartbeats 0 in by omega",
    "set-option-debug": "by set_option debug.skipKernelTC true in omega",
    "open-in": "open Lean in by omega",
    "implemented-by": "by omega\n@[implemented_by foo] def bar : Nat := 0",
    "unsafe": "unsafe by omega",
    "extern": "by omega\n@[extern \"f\"] opaque f : Nat",
    "native-decide": "by native_decide",
    "decide-native": "by decide +native",
    "of-reduce-bool": "of_decide_eq_true (Lean.ofReduceBool _ _ rfl)",
    "trust-compiler": "Lean.trustCompiler.elim",
    "sorry-ax": "sorryAx _ true",
    "sorry-ax-escaped": "«sorryAx» _ true",
    "close-paren": "by omega)\ntheorem u : False := (by simp",
    "close-end": "by omega\nend LMC0\ntheorem u : False := sorry",
    "namespace": "by omega\nnamespace Foo",
    "instance": "by omega\ninstance : Inhabited False := ⟨sorry⟩",
    "unterminated-comment": "by omega /- the rest of the file is a comment",
    "doc-comment": "by omega\n/-- doc -/",
    "module-doc": "/-! hi -/ by omega",
    "unterminated-string": "by omega \"",
    "interpolated": "by simp [s!\"{sorryAx _ true}\"]",
    "quotation": "by exact `(1)",
    "unbalanced-bracket": "by exact ⟨rfl",
    "crossed-brackets": "(by omega])",
    "run-tac": "by run_tac pure ()",
    "by-elab": "by_elab pure (Lean.mkConst (Lean.Name.mkSimple \"True.intro\"))",
    "register": "by omega\nregister_simp_attr foo",
    # tactic configurations are compiled and run while Lean elaborates: a computed
    # value could print forged audit messages, write files or exit Lean
    "config-forge": 'by omega (config := match (IO.println "{}" : IO Unit) () with '
                    '| .ok _ _ => {} | .error _ _ => { splitDisjunctions := false })',
    "config-no-io-word": 'by decide (kernel := match (System.FilePath.pathExists "x") () '
                         'with | .ok b _ => b | .error _ _ => false)',
    "config-spaced": "by simp ( maxSteps:=(fun _ => 5) () )",
    "config-commented": "by decide (kernel /- c -/ := (fun _ => true) ())",
    "config-anonymous-native": "by decide (config := ⟨false, true, true, false⟩)",
    "named-arg-computed": "Nat.le_of_lt_succ (m := n + 1)",
    "include-str": 'by exact (include_str "/etc/hostname" : Nat)',
    "run-io": "by exact (EStateM.run (pure 1 : BaseIO Nat) ()).1",
    "unsafe-escaped": "«unsafe» by omega",
    "end-escaped": "by omega\n«end» LMC0",
    "sorry-ax-app": "@sorryAx _ true",
    # the verifier's own declarations: another candidate's theorem, a statement's sorry check
    "other-candidate": "LMC0.t a b",
    "statement-check": "_root_.LMS0.t a b",
    "escaped-internal": "«LMC0».t a b",
    "audit-helper": "by exact LLMModuloAudit.join []",
    "exact-search": "by exact?",
    "apply-search": "by apply?",
    "empty": "   ",
}
