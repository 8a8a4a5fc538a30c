"""Who serves the current checkpoint: the embedded vLLM restarted on each new folder, or the
user's own server (``--base-url``), for which serving is left to the user.

A :class:`Serving` is the seam: tests pass one that points at a scripted server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Checkpoint:
    """A model to generate with: its served name (the attempts' ``model``) and its folder."""

    name: str
    path: Path


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    #: the model name requests carry (None: the server's first model)
    model: str | None


class Serving(Protocol):
    def serve(self, checkpoint: Checkpoint) -> Endpoint:
        """Serve ``checkpoint`` (restarting if another one is served); idempotent."""
        ...

    def close(self) -> None: ...


class EmbeddedServing:
    """The embedded vLLM CPU server, restarted on each new checkpoint folder."""

    def __init__(self, *, log_dir: Path, seed: int = 0,
                 say: Callable[[str], None] = print) -> None:
        self.log_dir = log_dir
        self.seed = seed
        self.say = say
        self._server: object | None = None
        self._current: Checkpoint | None = None
        self._endpoint: Endpoint | None = None

    def serve(self, checkpoint: Checkpoint) -> Endpoint:
        from llm_modulo.embedded import EmbeddedServer

        if self._current == checkpoint and self._endpoint is not None:
            return self._endpoint
        self.close()
        self.say(f"starting the embedded vLLM on {checkpoint.path} as {checkpoint.name} "
                 "(about a minute) ...")
        server = EmbeddedServer(model_path=checkpoint.path, served_model_name=checkpoint.name,
                                seed=self.seed,
                                log_path=self.log_dir / f"vllm-{checkpoint.name}.log")
        server.start()
        self._server, self._current = server, checkpoint
        self._endpoint = Endpoint(server.base_url, server.model)
        return self._endpoint

    def close(self) -> None:
        from llm_modulo.embedded import EmbeddedServer

        server, self._server, self._current, self._endpoint = self._server, None, None, None
        if isinstance(server, EmbeddedServer):
            server.stop()


class ExternalServing:
    """The user's server at ``base_url``: each new checkpoint is announced in one line (the
    user loads it); requests go to ``model`` (or the server's first model)."""

    def __init__(self, base_url: str, model: str | None, *,
                 say: Callable[[str], None] = print) -> None:
        self.base_url = base_url
        self.model = model
        self.say = say
        self._announced: Checkpoint | None = None

    def serve(self, checkpoint: Checkpoint) -> Endpoint:
        if checkpoint != self._announced:
            self._announced = checkpoint
            where = self.base_url.replace(",", " and at ")  # several endpoints: on each
            self.say(f"--base-url given: serving is left to you: serve {checkpoint.path} "
                     f"at {where} (as {checkpoint.name}) before the next phase")
        return Endpoint(self.base_url, self.model)

    def close(self) -> None:
        return None
