"""Problem identity: the hash is computed once, survives pickling, and follows copies."""

from __future__ import annotations

import pickle

from llm_modulo.types import Problem


def test_hash_is_stable_and_survives_pickling() -> None:
    p = Problem(domain="d", payload={"b": [1, 2], "a": 1})
    same = Problem(domain="d", payload={"a": 1, "b": [1, 2]})
    assert p.hash == same.hash and p == same
    q = pickle.loads(pickle.dumps(p))
    assert q.hash == p.hash and q == p
    assert p.model_dump()["hash"] == p.hash


def test_a_copy_with_a_new_payload_gets_a_new_hash() -> None:
    p = Problem(domain="d", payload={"a": 1})
    old = p.hash
    changed = p.model_copy(update={"payload": {"a": 2}})
    assert changed.hash != old
    assert changed.hash == Problem(domain="d", payload={"a": 2}).hash
    assert p.model_copy(update={"id": "x"}).hash == old
