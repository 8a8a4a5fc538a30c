"""The verification service: the registered verifiers behind HTTP.

- :mod:`.schema`: the request and reply models (shared with the client,
  :class:`llm_modulo.remote.RemoteVerifier`; pydantic only).
- :mod:`.limits`: the service's bounds (body size, batch, queue, deadline) and its token.
- :mod:`.body`: reading a request body within its bounds.
- :mod:`.engine`: admission (the bounded queue), problems and verdicts through the worker pool.
- :mod:`.app`: the FastAPI app (:func:`~llm_modulo.service.app.create_app`).
- :mod:`.run`: running it under uvicorn, with a drain on shutdown.

Importing this package imports nothing else (FastAPI is needed only by :mod:`.app`).
"""
