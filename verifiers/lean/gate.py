"""The gate in front of Lean: candidate proof text must be proof text and nothing else.

A candidate is placed by the verifier inside ``theorem ... := (`` ... ``)``. This
module scans it with Lean's lexical rules (nested ``/- -/`` comments, strings,
character literals, identifiers with ``«»`` escapes) and refuses, before any Lean
process runs:

* anything the scanner cannot tokenise the way Lean does: unterminated comments or
  strings, doc comments, raw and interpolated strings, quotations (backticks);
* unbalanced or crossed brackets, so the candidate can never close the
  verifier's parenthesis and end the declaration early;
* tactic configuration items and named arguments ``(name := value)`` whose value
  is more than one literal or identifier: Lean *compiles and runs* a tactic's
  configuration (``simp (config := e)``, ``decide (kernel := e)``) while elaborating,
  so such a value could print forged messages, write files or exit Lean; ``+opt`` /
  ``-opt`` and ``(opt := 100)`` stay available;
* every command keyword (``axiom``, ``theorem``, ``#eval``, ``macro``, ``syntax``,
  ``elab``, ``notation``, ``attribute``, ``set_option``, ``open``, ``end``, ...),
  attributes ``@[...]`` (``implemented_by``, ``extern``), ``unsafe``, and every
  route to the compiler-trusting axioms (``native_decide``, ``decide +native``,
  ``ofReduceBool``, ``ofReduceNat``, ``trustCompiler``) and to ``sorryAx``.

The parenthesis alone already makes a new command a parse error; the word list is
defence in depth, and the Lean-side audit (errors, ``sorry`` warnings, the probe
after each theorem) is the last line. Nested block comments are not a regular
language, so this is a small hand-written scanner rather than a regex or lark
grammar.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_PROOF_CHARS = 20_000
MAX_STATEMENT_CHARS = 4_000

#: Words that start or modify a command, or run arbitrary code, or trust the compiler.
FORBIDDEN_WORDS = frozenset({
    # declarations and their modifiers
    "axiom", "theorem", "lemma", "def", "definition", "example", "instance",
    "abbrev", "opaque", "structure", "class", "inductive", "coinductive", "mutual",
    "private", "protected", "public", "noncomputable", "partial", "unsafe", "nonrec",
    "meta", "deriving", "where",
    # scopes and files
    "namespace", "section", "end", "variable", "universe", "universes", "import", "prelude",
    "module", "export", "open", "include", "omit", "local", "scoped",
    # options and attributes
    "set_option", "attribute", "implemented_by", "extern", "initialize",
    # syntax extension and metaprogramming
    "macro", "macro_rules", "syntax", "elab", "elab_rules", "notation", "infix", "infixl",
    "infixr", "prefix", "postfix", "declare_syntax_cat", "run_cmd", "run_elab", "run_meta",
    "run_tac", "by_elab", "simproc", "dsimproc", "builtin_simproc", "builtin_dsimproc",
    "grind_pattern",
    "seal", "unseal", "add_decl_doc", "unif_hint", "recommended_spelling",
    "compile_inductive", "irreducible_def",
    # compiler-trusting and unsound terms
    "native_decide", "native", "ofReduceBool", "ofReduceNat", "reduceBool", "reduceNat",
    "trustCompiler", "sorryAx", "implementedBy", "unsafeCast", "unsafeBaseIO", "unsafeIO",
    "unsafeEIO",
    # elaboration-time file access and effects (defence in depth: no proof needs them)
    "include_str", "bv_check", "IO", "EIO", "BaseIO", "EStateM", "RealWorld",
})
#: Named values whose right-hand side is tactic syntax, never evaluated (``simp (disch := omega)``).
_TACTIC_VALUED = frozenset({"disch", "discharger"})
#: Tactics that search the environment: in a batch they would find the verifier's own
#: declarations (other candidates' theorems, the statements' ``sorry`` checks), so their
#: verdict would depend on the batch; give the proof they find instead.
SEARCH_TACTICS = frozenset({"exact?", "apply?", "rw?", "rw_search", "hint", "library_search"})
#: Names of the verifier's own namespaces and helpers in the checked file.
_RESERVED = re.compile(r"LM[CS]\d+|LLMModuloAudit|_private")
#: Keywords that start a command with a lasting effect. After a parse error Lean resumes
#: at the next position, character by character, where a command parses: inside a comment,
#: a string or the tail of an identifier (`hxaxiom` holds `axiom`). So these may not occur
#: anywhere in the text, not even there (comments are blanked out before Lean sees the
#: text, so they may say anything; ``end`` and ``section`` only move scopes, and
#: ``def`` adds nothing unsound; they stay allowed because `_def` / `append` are common.
#: A `def` added that way cannot change what a later statement means: statements are
#: checked first, with auto-bound implicits off, and the verifier's names are refused).
RAW_COMMAND_WORDS = (
    "axiom", "theorem", "lemma", "example", "instance", "abbrev", "opaque", "structure",
    "class", "inductive", "coinductive", "mutual", "unsafe", "partial", "namespace",
    "variable", "universe", "import", "export", "open", "include", "omit", "set_option",
    "attribute", "initialize", "macro", "macro_rules", "syntax", "elab", "elab_rules",
    "notation", "infix", "infixl", "infixr", "prefix", "postfix", "declare_syntax_cat",
    "run_cmd", "run_elab", "run_meta", "simproc", "dsimproc", "grind_pattern", "seal", "unseal",
    "add_decl_doc", "unif_hint", "recommended_spelling", "compile_inductive", "deriving",
    "binder_predicate", "implemented_by", "extern", "simproc_decl", "dsimproc_decl",
    "with_weak_namespace", "init_quot",
)
_RAW_COMMAND = re.compile(
    r"(?:#\w+|@\[|/--|/-!|register_|declare_|builtin_|initialize_|LM[CS]\d|LLMModuloAudit|"
    r"(?:" + "|".join(sorted(RAW_COMMAND_WORDS, key=len, reverse=True))
    + r")(?![\w'!?₀-₉ₐ-ₜᵢ-ᵥⱼ]))")
#: What text hidden from the token checks (inside a string or a «name») may not hold: a
#: definition recovered from there could evaluate code (`:=` of a tactic configuration,
#: `by_elab`, ...) although no token the gate sees does.
_HIDDEN_RISK = re.compile(
    r":=|(?:" + "|".join(sorted(FORBIDDEN_WORDS | {"def"}, key=len, reverse=True))
    + r")(?![\w'!?])")
#: Word prefixes that always introduce commands.
FORBIDDEN_PREFIXES = ("register_", "declare_", "builtin_", "initialize_")

_OPEN = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "‹": "›", "⁅": "⁆"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₔₕₖₗₘₙₚₛₜᵢᵣᵤᵥⱼ")


class GateError(ValueError):
    """Candidate or statement text the verifier refuses to hand to Lean."""

    def __init__(self, message: str, offset: int, text: str) -> None:
        self.offset = offset
        self.line, self.column = _line_col(text, offset)
        super().__init__(message)

    @property
    def location(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "symbol", "number", "string", "char"
    text: str
    offset: int


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _is_letter(ch: str) -> bool:
    if ch in "λΠΣ":  # Lean keeps these three Greek letters as symbols
        return False
    if ch.isalpha() or ch == "_":
        return True
    return unicodedata.category(ch) in ("Ll", "Lu", "Lt", "Lo") or "\u1d49" <= ch <= "\u1dbf"


def _is_ident_rest(ch: str) -> bool:
    return _is_letter(ch) or ch.isdigit() or ch in "'!?" or ch in _SUBSCRIPTS


def blank_comments(text: str) -> str:
    """``text`` with every comment's characters (newlines kept) replaced by spaces.

    Comments are whitespace to Lean, so this changes no meaning and no position, and the
    verifier hands Lean this text: nothing in a comment can reach Lean's parser, not even
    its recovery after a syntax error. Raises GateError like :func:`tokenize`."""
    spans: list[tuple[int, int]] = []
    tokenize(text, comments=spans)
    chars = list(text)
    for start, end in spans:
        for k in range(start, end):
            if chars[k] != "\n":
                chars[k] = " "
    return "".join(chars)


def tokenize(text: str, comments: list[tuple[int, int]] | None = None) -> list[Token]:
    """Lean tokens of ``text`` (comments and whitespace dropped); raises GateError.

    ``comments``, when given, receives the (start, end) offsets of every comment."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            end = n if j < 0 else j
            if comments is not None:
                comments.append((i, end))
            i = end
        elif text.startswith("/-", i):
            if text.startswith(("/--", "/-!"), i):
                raise GateError("doc comments are not allowed in a proof", i, text)
            end = _skip_block_comment(text, i)
            if comments is not None:
                comments.append((i, end))
            i = end
        elif ch == '"':
            end = _skip_string(text, i, '"')
            tokens.append(Token("string", text[i:end], i))
            i = end
        elif ch == "'" and i + 1 < n and text[i + 1] != "'":
            # as in Lean: a `'` that starts a token and is not followed by another `'`
            # opens a character literal, which must close right after its character
            if text[i + 1] == "\\":
                end = _skip_string(text, i, "'")
            elif i + 2 < n and text[i + 2] == "'":
                end = i + 3
            else:
                raise GateError("unterminated character literal", i, text)
            tokens.append(Token("char", text[i:end], i))
            i = end
        elif ch == "`":
            raise GateError("quotations and name literals (`) are not allowed in a proof",
                            i, text)
        elif ch == "«" or _is_letter(ch):
            end = _scan_ident(text, i)
            word = text[i:end]
            if end < n and text[end] == '"' and word in ("r", "s", "m", "f", "throwError"):
                raise GateError("raw and interpolated strings are not allowed in a proof",
                                i, text)
            if word.endswith("!") and end < n and text[end] == '"':
                raise GateError("interpolated strings are not allowed in a proof", i, text)
            tokens.append(Token("ident", word, i))
            i = end
        elif ch.isdigit():
            j = i
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            tokens.append(Token("number", text[i:j], i))
            i = j
        else:
            tokens.append(Token("symbol", ch, i))
            i += 1
    return tokens


def _skip_block_comment(text: str, start: int) -> int:
    depth, i, n = 0, start, len(text)
    while i < n:
        if text.startswith("/-", i):
            depth += 1
            i += 2
        elif text.startswith("-/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise GateError("unterminated block comment", start, text)


def _skip_string(text: str, start: int, quote: str) -> int:
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            return i + 1
        if quote == "'" and ch == "\n":
            break
        i += 1
    raise GateError("unterminated string or character literal", start, text)


def _scan_ident(text: str, start: int) -> int:
    """End of the (possibly dotted, possibly «escaped») identifier starting at ``start``."""
    i, n = start, len(text)
    while True:
        if i < n and text[i] == "«":
            j = text.find("»", i + 1)
            if j < 0 or "\n" in text[i:j]:
                raise GateError("unterminated «identifier»", i, text)
            i = j + 1
        elif i < n and _is_letter(text[i]):
            i += 1
            while i < n and _is_ident_rest(text[i]):
                i += 1
        else:
            return i
        if i + 1 < n and text[i] == "." and (text[i + 1] == "«" or _is_letter(text[i + 1])):
            i += 1
            continue
        return i


def _name_parts(word: str) -> list[str]:
    parts: list[str] = []
    for part in word.split("."):
        parts.append(part[1:-1] if part.startswith("«") and part.endswith("»") else part)
    return parts


def check_text(text: str, *, what: str = "proof", max_chars: int = MAX_PROOF_CHARS,
               allow: frozenset[str] = frozenset()) -> list[Token]:
    """Raise GateError unless ``text`` is safe to place inside the verifier's parentheses."""
    if not text.strip():
        raise GateError(f"the {what} is empty", 0, text)
    if len(text) > max_chars:
        raise GateError(f"the {what} is {len(text)} characters long (at most {max_chars})",
                        max_chars, text)
    if "\x00" in text or any(unicodedata.category(c) == "Cs" for c in text):
        raise GateError(f"the {what} contains a NUL or unpaired surrogate character",
                        0, text)
    tokens = tokenize(text)
    _check_raw(blank_comments(text), what, allow)
    stack: list[Token] = []
    for index, tok in enumerate(tokens):
        hidden = tok.text if tok.kind in ("string", "char") else (
            tok.text if "«" in tok.text else "")
        if (risk := _HIDDEN_RISK.search(hidden)) is not None:
            raise GateError(f"`{risk.group(0)}` may not appear inside a string or a «name» in a "
                            f"{what}: after a syntax error Lean would parse it as code",
                            tok.offset + risk.start(), text)
        if tok.kind == "ident":
            for part in _name_parts(tok.text):
                bare = part.rstrip("!?")
                if part in allow:
                    continue
                if _RESERVED.fullmatch(part):
                    raise GateError(f"`{part}` is a name the verifier reserves for its own "
                                    f"declarations; it is not allowed in a {what}",
                                    tok.offset, text)
                if part in SEARCH_TACTICS:
                    raise GateError(f"`{part}` searches the environment; it is not allowed in "
                                    f"a {what}: give the proof it finds", tok.offset, text)
                if part in FORBIDDEN_WORDS or bare in FORBIDDEN_WORDS or bare.startswith(
                        FORBIDDEN_PREFIXES):
                    raise GateError(f"`{part}` is not allowed in a {what}: only proof text "
                                    "is accepted (no commands, options, attributes, "
                                    "native code or sorryAx)", tok.offset, text)
        elif tok.kind == "symbol":
            nxt = tokens[index + 1] if index + 1 < len(tokens) else None
            adjacent = nxt is not None and nxt.offset == tok.offset + 1
            if tok.text == "#" and adjacent and nxt is not None and nxt.kind == "ident":
                raise GateError(f"`#{nxt.text}` commands are not allowed in a {what}",
                                tok.offset, text)
            if tok.text == "@" and adjacent and nxt is not None and nxt.text == "[":
                raise GateError(f"attributes `@[...]` are not allowed in a {what}",
                                tok.offset, text)
            if tok.text == "(" and _evaluated_item(tokens, index):
                raise GateError(
                    f"`({tokens[index + 1].text} := ...)` with a computed value is not allowed in "
                    f"a {what}: Lean runs tactic configurations as code; write `+option` / "
                    "`-option`, give a single literal or name, or pass the argument without a "
                    "name", tok.offset, text)
            if tok.text in _OPEN:
                stack.append(tok)
            elif tok.text in _CLOSE:
                if not stack or stack[-1].text != _CLOSE[tok.text]:
                    raise GateError(f"unbalanced `{tok.text}` in the {what}", tok.offset, text)
                stack.pop()
    if stack:
        raise GateError(f"`{stack[-1].text}` is never closed in the {what}",
                        stack[-1].offset, text)
    return tokens


def _evaluated_item(tokens: list[Token], index: int) -> bool:
    """Whether ``tokens[index]`` (a ``(``) opens ``(name := value)`` with a computed value.

    That is the syntax of tactic configuration items (evaluated by Lean's interpreter
    during elaboration) and of named arguments; a value that is one number or one
    identifier cannot run anything the candidate wrote."""
    if index + 3 >= len(tokens):
        return False
    name, colon, equals = tokens[index + 1], tokens[index + 2], tokens[index + 3]
    if not (name.kind == "ident" and colon.text == ":" and equals.text == "="
            and equals.offset == colon.offset + 1):
        return False
    if name.text in _TACTIC_VALUED:
        return False
    value = tokens[index + 4:index + 6]
    simple = (len(value) == 2 and value[0].kind in ("ident", "number")
              and value[1].text == ")")
    return not simple


def _check_raw(text: str, what: str, allow: frozenset[str]) -> None:
    """Refuse command keywords anywhere in the text (comments already blanked out).

    Lean's recovery after a parse error parses commands from any later position, so text
    the scanner treats as a string, a character or part of a name must not hold one."""
    for found in _RAW_COMMAND.finditer(text):
        word = found.group(0)
        if word in allow:
            continue
        raise GateError(f"`{word}` may not appear anywhere in a {what}, not even in a string "
                        "or inside a name: after a syntax error Lean would run it as a command",
                        found.start(), text)
