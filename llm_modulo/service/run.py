"""Running the service under uvicorn, with a drain on shutdown.

On SIGINT/SIGTERM the server stops accepting connections and the engine starts draining:
requests in flight get ``drain_s`` more seconds, then answer with their finished verdicts and
UNKNOWN (``unavailable``) for the rest; uvicorn waits for those answers
(``timeout_graceful_shutdown`` is longer than the drain) before the pool stops.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn

from llm_modulo.service.app import create_app
from llm_modulo.service.engine import Engine, RemoteJudge
from llm_modulo.service.limits import ServiceLimits, require_token_beyond_loopback

#: Seconds uvicorn waits for answers beyond the drain before it cuts connections.
ANSWER_MARGIN_S = 10.0
#: Seconds an idle keep-alive connection stays open: longer than clients keep theirs
#: (httpx 5 s, aiohttp 15 s), so the client closes first. At uvicorn's 5 s, a client sending
#: its next request just as the server closed the connection got a reset (a ReadError, not a
#: 429) in 2-5 of about 7,000 requests of `benchmarks/service_load.py`'s overload phase,
#: in each of four runs; with a longer keep-alive, none in four.
KEEP_ALIVE_S = 65


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, engine: Engine) -> None:
        super().__init__(config)
        self.engine = engine

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.engine.begin_drain_threadsafe()
        super().handle_exit(sig, frame)


def serve(host: str, port: int, *, limits: ServiceLimits | None = None,
          token: str | None = None, workers: int | None = None, access_log: bool = False,
          on_ready: Callable[[str], None] | None = None,
          remote_judge: RemoteJudge | None = None) -> None:
    """Serve until SIGINT/SIGTERM. Refuses (:class:`~llm_modulo.errors.UsageError`) a
    non-loopback ``host`` without a ``token``."""
    require_token_beyond_loopback(host, token)
    limits = limits or ServiceLimits()
    app = create_app(limits, token=token, workers=workers, remote_judge=remote_judge)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            access_log=access_log, lifespan="on",
                            timeout_keep_alive=KEEP_ALIVE_S,
                            timeout_graceful_shutdown=int(limits.drain_s + ANSWER_MARGIN_S))
    server = _DrainingServer(config, app.state.engine)
    if on_ready is not None:
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        original = server.startup

        async def startup(sockets: object = None) -> None:
            await original(sockets)  # type: ignore[arg-type]
            if server.started:
                on_ready(url)

        server.startup = startup  # type: ignore[method-assign]
    server.run()
    if not server.started:
        from llm_modulo.errors import SetupError

        raise SetupError(f"the service could not start on {host}:{port} (is the port taken?)")
