"""Bounds on everything read from outside: files, JSON and YAML.

Every file a command reads (a problem, a candidate, PDDL, templates, a CSP) goes through
:func:`read_text_capped`: it refuses anything but a regular file (``-`` is standard input),
and a file larger than its cap is an error before it is read whole. JSON from outside goes
through :func:`loads_bounded` (nesting capped, ``NaN``/``Infinity`` refused) and YAML through
:func:`yaml_load_plain` (no anchors, aliases or tags, so no alias bomb). Each failure raises
the error class the caller names, with a one-line message.

Input that names files but comes from a client rather than the user (the verification
service's problems) is read under :func:`no_file_reads`: every read through
:func:`read_bytes_capped` is then refused, so a problem cannot make the server read its files.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from llm_modulo.errors import LLMModuloError, ProblemError

#: The default cap on one input file (problems, candidates, PDDL, templates, CSPs).
MAX_INPUT_BYTES = 16 * 1024 * 1024
#: The default cap on JSON nesting in inputs (problems, answers' payloads).
MAX_JSON_DEPTH = 100

ErrorClass = Callable[[str], LLMModuloError]
#: Names that mean standard input (read with the same cap as a file).
STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


class NestingError(ValueError):
    """JSON that nests deeper than allowed."""


_FILE_READS: contextvars.ContextVar[bool] = contextvars.ContextVar("llm_modulo_file_reads",
                                                                  default=True)


@contextlib.contextmanager
def no_file_reads() -> Iterator[None]:
    """Refuse every :func:`read_bytes_capped` (and so :func:`read_text_capped`) inside the
    block: for input from a network client, whose file names are the server's files."""
    token = _FILE_READS.set(False)
    try:
        yield
    finally:
        _FILE_READS.reset(token)


@contextlib.contextmanager
def trusted_file_reads() -> Iterator[None]:
    """Allow reads inside the block again: for the package's own data files (a name that
    is checked against the packaged ones first)."""
    token = _FILE_READS.set(True)
    try:
        yield
    finally:
        _FILE_READS.reset(token)


def file_reads_allowed() -> bool:
    """False inside :func:`no_file_reads`."""
    return _FILE_READS.get()


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 \
        else f"{n} bytes"


def read_bytes_capped(path: str | Path, what: str, *, limit: int = MAX_INPUT_BYTES,
                      error: ErrorClass = ProblemError) -> bytes:
    """The bytes of ``path`` (``-`` or ``/dev/stdin``: standard input), at most ``limit``.

    A device, a pipe, a directory or a socket is refused before anything is read (opening
    does not block on a FIFO); a file larger than ``limit`` is an error, not a truncation.
    """
    name = str(path)
    if not _FILE_READS.get():
        raise error(f"{what} {name[:200]} names a file, and files are not read here (send "
                    "the content itself)")
    if name in STDIN_NAMES:
        data = sys.stdin.buffer.read(limit + 1)
    else:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(name, flags)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise error(f"cannot read {what} {name[:200]}: {reason}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise error(f"{what} {name[:200]} is not a regular file (give a file, or - "
                            "for standard input)")
            if info.st_size > limit:
                raise error(f"{what} {name[:200]} is larger than {_size(limit)}")
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {name[:200]}: {exc.strerror}") from None
        finally:
            os.close(fd)
    if len(data) > limit:
        raise error(f"{what} {name[:200]} is larger than {_size(limit)}")
    return data


def read_text_capped(path: str | Path, what: str, *, limit: int = MAX_INPUT_BYTES,
                     error: ErrorClass = ProblemError, encoding: str = "utf-8",
                     errors: str = "strict") -> str:
    """:func:`read_bytes_capped`, decoded; undecodable text is an error (``errors="strict"``)."""
    data = read_bytes_capped(path, what, limit=limit, error=error)
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)[:200]} is not UTF-8 text") from None


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` (parsed JSON) nests deeper than ``limit``; iterative, linear."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (JSON's ``"\\ud800"``), which is not
    Unicode text: it cannot be encoded as UTF-8, stored or sent."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (the replacement character)."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` (parsed JSON, depth already bounded) with ``fn`` applied to every string,
    keys included; containers are rebuilt only when something changed."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        items = [_map_strings(v, fn) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        pairs = [(fn(k), _map_strings(v, fn)) for k, v in value.items()]
        same = all(k2 is k and v2 is v
                   for (k2, v2), (k, v) in zip(pairs, value.items(), strict=True))
        return value if same else dict(pairs)
    return value


def _reject_surrogate(text: str) -> str:
    if has_surrogate(text):
        raise ValueError("a string holds a lone surrogate (e.g. \\ud800), which is not text")
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH,
                  object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
                  surrogates: Literal["reject", "replace"] = "reject") -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` and nesting deeper than ``max_depth``
    (:class:`NestingError`); otherwise raises what ``json.loads`` raises (``ValueError``).

    A lone surrogate in a string (``"\\ud800"``) is a ``ValueError`` (``"reject"``, for
    inputs such as problems) or becomes U+FFFD (``"replace"``, for server replies).
    Python's parser stops with ``RecursionError`` near the interpreter's recursion limit, so
    a 100,000-deep text costs a few hundred levels of parsing before it is refused.
    """
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise NestingError(f"JSON nests deeper than {max_depth} levels") from None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # fast paths: too few brackets to nest that deep; no surrogate escape anywhere (a raw
    # surrogate is invalid UTF-8, so it can only come as an escape)
    if text.count("[") + text.count("{") > max_depth and json_depth_exceeds(data, max_depth):
        raise NestingError(f"JSON nests deeper than {max_depth} levels")
    if _SURROGATE_ESCAPE.search(text) is None and _SURROGATE.search(text) is None:
        return data
    return _map_strings(data, _reject_surrogate if surrogates == "reject"
                        else replace_surrogates)


def yaml_load_plain(text: str, what: str, *, error: ErrorClass = ProblemError) -> Any:
    """YAML's safe subset without anchors, aliases or tags (an alias bomb is one line of
    error, not gigabytes); one-line errors."""
    import yaml

    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AliasToken | yaml.AnchorToken | yaml.TagToken):
                raise error(f"{what}: YAML anchors, aliases and tags are not supported")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{what} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise error(f"{what} nests too deeply") from None
