"""Process and storage helpers shared by the core and by plugins that run external tools.

- :func:`data_dir`: where llm-modulo keeps models, provers and server state
  (``$LLM_MODULO_HOME``, default ``~/.cache/llm-modulo``);
- :func:`die_with_parent_hook`: a ``preexec_fn`` that ends a child process (a model server,
  a prover) when llm-modulo dies, so nothing is left running;
- :func:`private_cache_file`: a file in a cache folder only this user can write, for
  derived data such as compiled parser tables.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path


def data_dir() -> Path:
    """Where llm-modulo caches models and server state."""
    env = os.environ.get("LLM_MODULO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "llm-modulo"


def die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks for SIGTERM when the parent dies (Linux), so a killed
    llm-modulo never leaves a 4 GB server behind.

    libc is looked up here, in the parent: between fork and exec the child must not import
    or allocate (another thread may hold the import lock), only make the call.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return hook


def private_cache_file(name: str) -> str | None:
    """``data_dir()/cache/name`` when that folder is this user's and no one else can write
    it (created 0700 if missing); None otherwise (the caller then builds without a cache).

    Parser caches are pickles: loading one from a folder another user can write would run
    their code, so a shared temporary directory is never used.
    """
    folder = data_dir() / "cache"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return str(folder / name)
