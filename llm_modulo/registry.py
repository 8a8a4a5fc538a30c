"""Explicit registry of verifiers and domains, plus lazily loaded entry-point plugins.

Register in code with the decorators::

    @register_verifier
    class MyVerifier(Verifier): name = "mine"; ...

or ship a distribution that declares an entry point in one of the groups
``llm_modulo.verifiers`` / ``llm_modulo.domains`` / ``llm_modulo.strategies`` (value: the
class). Entry points
are read on the first lookup or listing, not at import. A name registered twice
in code by different objects is a :class:`DuplicateNameError`; a plugin that fails to
load, or two plugins that claim one name, are recorded for that name and reported
with their error, never silently skipped and never breaking other names.

``LLM_MODULO_PLUGINS`` (a comma-separated list of distribution names, e.g.
``llm-modulo,my-plugin``) limits which distributions' entry points load; unset or
``all`` loads every installed plugin.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from llm_modulo.domain import Domain
from llm_modulo.errors import DuplicateNameError, PluginLoadError, RegistryError, UnknownNameError
from llm_modulo.strategy import Strategy, StrategyOptions
from llm_modulo.verifier import Verifier, unpicklable_reason

VERIFIER_GROUP = "llm_modulo.verifiers"
DOMAIN_GROUP = "llm_modulo.domains"
STRATEGY_GROUP = "llm_modulo.strategies"
PLUGINS_ENV = "LLM_MODULO_PLUGINS"


def normalized_distribution(dist_name: str) -> str:
    """A distribution name as PEP 503 compares them (``My_Plugin`` is ``my-plugin``)."""
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def allowed_distributions() -> frozenset[str] | None:
    """The distributions whose entry points load (``LLM_MODULO_PLUGINS``); None is all."""
    value = os.environ.get(PLUGINS_ENV, "").strip()
    if not value or value.lower() == "all":
        return None
    return frozenset(normalized_distribution(part) for part in value.split(",") if part.strip())



def allowed_entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` from the distributions ``LLM_MODULO_PLUGINS`` allows."""
    allowed = allowed_distributions()
    found = []
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        if allowed is None or (dist is not None
                               and normalized_distribution(dist.name) in allowed):
            found.append(ep)
    return found


T = TypeVar("T", Verifier, Domain, Strategy)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered class and where it came from (``code`` or ``entry point dist==ver``)."""

    name: str
    cls: type[T]
    origin: str


class _Table(Generic[T]):
    def __init__(self, kind: str, base: type[T], group: str) -> None:
        self.kind, self.group = kind, group
        self.base: type[T] = base
        self._entries: dict[str, Entry[T]] = {}
        self._errors: dict[str, PluginLoadError] = {}
        self._loaded = False
        self._named: set[str] = set()  # names whose entry points were loaded on their own
        self._lock = threading.RLock()

    def add(self, cls: type[T], origin: str, name: str | None = None) -> None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} is not a {self.base.__name__} subclass")
        key = name or getattr(cls, "name", None)
        if not isinstance(key, str) or not key:
            raise TypeError(f"{cls.__name__} must set a non-empty class attribute `name`")
        if (reason := unpicklable_reason(cls)) is not None:
            raise RegistryError(f"cannot register {self.kind} {key!r}: {reason}")
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                if existing.cls is cls:
                    return
                raise DuplicateNameError(
                    f"{self.kind} name {key!r} is already registered by "
                    f"{existing.cls.__module__}.{existing.cls.__qualname__} ({existing.origin}); "
                    f"{cls.__module__}.{cls.__qualname__} ({origin}) cannot take it too"
                )
            self._entries[key] = Entry(key, cls, origin)

    def _allowed_entry_points(self) -> list[EntryPoint]:
        return allowed_entry_points(self.group)

    def _load_plugins(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for ep in self._allowed_entry_points():
                if ep.name not in self._named:
                    self._load_one(ep)

    def _load_named(self, name: str) -> None:
        """Load just the entry points called ``name`` (a lookup imports one plugin, not all:
        a one-shot ``check --domain game24`` never imports sympy)."""
        if self._loaded or name in self._named:
            return
        self._named.add(name)
        for ep in self._allowed_entry_points():
            if ep.name == name:
                self._load_one(ep)

    def _load_one(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        origin = f"entry point {dist.name}=={dist.version}" if dist else "entry point"
        if ep.name in self._errors:  # a clash already took this name out of use
            self._errors[ep.name] = self._clash(ep, origin, self._errors[ep.name])
            return
        try:
            obj = ep.load()
        except Exception as exc:
            self._errors[ep.name] = PluginLoadError(self.group, ep.name, ep.value,
                                                    f"{type(exc).__name__}: {exc}")
            return
        try:
            if getattr(obj, "name", None) != ep.name:
                raise TypeError(f"entry point name {ep.name!r} differs from the class's "
                                f"name {getattr(obj, 'name', None)!r}")
            self.add(obj, origin)
        except DuplicateNameError as exc:
            # Two plugins claim one name: neither is used (which one is meant cannot be
            # known), the clash is reported for that name alone.
            self._entries.pop(ep.name, None)
            self._errors[ep.name] = PluginLoadError(self.group, ep.name, ep.value, str(exc))
        except Exception as exc:
            self._errors[ep.name] = PluginLoadError(self.group, ep.name, ep.value, str(exc))

    def _clash(self, ep: EntryPoint, origin: str, earlier: PluginLoadError) -> PluginLoadError:
        return PluginLoadError(self.group, ep.name, f"{earlier.value}, {ep.value}",
                               f"{earlier.error}; {ep.value} ({origin}) claims it too")

    def get(self, name: str) -> type[T]:
        with self._lock:
            if name in self._entries and not self._pending(name):
                return self._entries[name].cls
            self._load_named(name)
            if name in self._entries:
                return self._entries[name].cls
            if name in self._errors:
                raise self._errors[name]
            self._load_plugins()  # only to list what does exist
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"no {self.kind} named {name!r} (registered: {known})")

    def _pending(self, name: str) -> bool:
        """A code-registered name whose entry points (a possible clash) are not loaded yet."""
        return not self._loaded and name not in self._named

    def entries(self) -> list[Entry[T]]:
        self._load_plugins()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def errors(self) -> list[PluginLoadError]:
        self._load_plugins()
        return [self._errors[k] for k in sorted(self._errors)]


class Registry:
    """Verifiers, domains and strategies by name. ``default_registry`` is the process-wide
    one."""

    def __init__(self) -> None:
        # abstract bases are the intended type parameters here
        self.verifiers: _Table[Verifier] = _Table(
            "verifier", Verifier, VERIFIER_GROUP  # type: ignore[type-abstract]
        )
        self.domains: _Table[Domain] = _Table(
            "domain", Domain, DOMAIN_GROUP  # type: ignore[type-abstract]
        )
        self.strategies: _Table[Strategy] = _Table(
            "strategy", Strategy, STRATEGY_GROUP  # type: ignore[type-abstract]
        )

    def register_verifier(self, cls: type[Verifier]) -> type[Verifier]:
        self.verifiers.add(cls, "code")
        return cls

    def register_domain(self, cls: type[Domain]) -> type[Domain]:
        self.domains.add(cls, "code")
        return cls

    def register_strategy(self, cls: type[Strategy]) -> type[Strategy]:
        self.strategies.add(cls, "code")
        return cls

    def strategy(self, name: str,
                 options: StrategyOptions | Mapping[str, Any] | None = None) -> Strategy:
        """The strategy ``name`` with ``options`` (a bad option is a UsageError)."""
        return self.strategies.get(name)(options)

    def verifier(self, name: str) -> Verifier:
        return self.verifiers.get(name)()

    def domain(self, name: str) -> Domain:
        return self.domains.get(name)()

    def domain_and_verifier(self, name: str) -> tuple[Domain, Verifier]:
        domain = self.domain(name)
        return domain, self.verifier(domain.verifier)


default_registry = Registry()

V = TypeVar("V", bound=type[Verifier])
D = TypeVar("D", bound=type[Domain])


def register_verifier(cls: V) -> V:
    """Class decorator: register a verifier in the default registry."""
    default_registry.register_verifier(cls)
    return cls


def register_domain(cls: D) -> D:
    """Class decorator: register a domain in the default registry."""
    default_registry.register_domain(cls)
    return cls


S = TypeVar("S", bound=type[Strategy])


def register_strategy(cls: S) -> S:
    """Class decorator: register a strategy in the default registry."""
    default_registry.register_strategy(cls)
    return cls


def get_verifier(name: str) -> Verifier:
    return default_registry.verifier(name)


def get_domain(name: str) -> Domain:
    return default_registry.domain(name)


