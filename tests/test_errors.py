"""One exception tree: every public exception derives from LLMModuloError and is drawn in
errors.py's docstring."""

from __future__ import annotations

import inspect

import llm_modulo
from llm_modulo import errors


def test_every_public_exception_is_in_the_one_tree() -> None:
    public = [getattr(llm_modulo, n) for n in llm_modulo.__all__]
    exceptions = [c for c in public if inspect.isclass(c) and issubclass(c, BaseException)]
    assert len(exceptions) >= 15
    assert all(issubclass(c, errors.LLMModuloError) for c in exceptions)


def test_the_tree_drawing_names_every_class() -> None:
    defined = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == errors.__name__]
    doc = errors.__doc__ or ""
    assert [c.__name__ for c in defined if c.__name__ not in doc] == []


def test_plugin_errors_hang_off_the_tree() -> None:
    from llm_modulo.corpus import CorpusError
    from llm_modulo.verifiers.lean.backend import default_backend
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    assert CorpusError is errors.CorpusError
    assert issubclass(PDDLError, errors.ProblemError)
    assert issubclass(errors.LeanUnavailable, errors.SetupError)
    assert callable(default_backend)


def test_an_http_status_error_survives_a_pickle_round_trip() -> None:
    """It crosses process boundaries (a Ray worker, a pool process); its constructor takes
    four fields, so the default exception pickling could not rebuild it (found by the
    review)."""
    import pickle

    error = errors.HTTPStatusError(429, "slow down", "http://x/v1", retry_after=2.5)
    error.args = (f"{error.args[0]} (after 3 tries)",)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, errors.HTTPStatusError)
    assert (again.status_code, again.body, again.url, again.retry_after) == \
        (429, "slow down", "http://x/v1", 2.5)
    assert str(again) == str(error)
