"""Global switches of functrace: ``config.update(name, value)`` and ``config.<name>``.

Options (environment variables are read once, at import):

``disable_jit`` (``FUNCTRACE_DISABLE_JIT=1``)
    ``jit(f)`` just calls ``f``: handy to debug with ``print`` and a debugger.
``log_compiles``
    Log trace and compile times on the ``"functrace"`` logger (level INFO).
``enable_disk_cache`` (``FUNCTRACE_DISABLE_CACHE=1`` turns it off)
    Keep compiled programs on disk so a new process does not compile them again.
``cache_dir`` (``FUNCTRACE_CACHE_DIR``)
    Where the disk cache lives; default ``$XDG_CACHE_HOME/functrace`` or ``~/.cache/functrace``.
``tiered_compile`` (``FUNCTRACE_TIERED=0`` turns it off)
    A new program's first calls run on the NumPy reference interpreter while its native code
    is compiled in a background process; calls switch to the compiled code once it is ready
    (see docs/backend.md). Off: the first call compiles and waits, as JAX's ``jit`` does.
``debug_nans``, ``debug_infs``
    Raise ``FloatingPointError`` at the first primitive that produces a NaN (an inf), naming it
    and the user's line, eagerly and under ``jit`` (a compiled program whose outputs have one is
    run again op by op to find it), in forward and backward passes alike. Slow: for debugging.

Names may also be given with a ``jax_`` or ``functrace_`` prefix (``"jax_disable_jit"``), so
code written for JAX's ``config.update`` keeps working for the options both libraries share.

Scope, as in JAX: ``config.update(name, value)`` (and ``config.<name> = value``) sets the global
value, seen by every thread; ``with config.override(...)`` and ``with functrace.disable_jit()``
change the options of the calling thread only, for the duration of the block (a thread started
inside the block sees the global values). Reading an option stays a plain attribute read
while no thread overrides anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "functrace")


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"config option {name!r} expects a boolean, got {value!r}")
    return bool(value)


def _as_path(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"config option {name!r} expects a path, got {type(value).__name__}")
    return os.fspath(value)


# Overrides in force, per thread: a stack of {option: value} layers, innermost last.
_tls = threading.local()
_lock = threading.RLock()


def _thread_layers() -> list:
    layers = getattr(_tls, "layers", None)
    if layers is None:
        layers = _tls.layers = []
    return layers


class _Overridable:
    """Installed on ``Config`` for an option while some thread overrides options: reads give
    the calling thread's override, or the global value (the instance's own attribute)."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        name = self.name
        for layer in reversed(getattr(_tls, "layers", ())):
            if name in layer:
                return layer[name]
        return obj.__dict__[name]

    def __set__(self, obj, value):
        obj.update(self.name, value)


class _FastOk:
    """``Config._jit_fast_ok`` while some thread overrides options (see ``Config._sync``)."""

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        if not getattr(_tls, "layers", None):
            return obj.__dict__["_jit_fast_ok"]
        return not (obj.disable_jit or obj.debug_nans or obj.debug_infs)

    def __set__(self, obj, value):
        raise AttributeError("_jit_fast_ok is computed from the options")


class Config:
    """The option registry. Read options as attributes, change them with ``update`` (global)
    or ``override`` (this thread, for a ``with`` block).

    Options are plain instance attributes holding the global values, so reading one costs no
    function call (jit's per-call fast path reads ``_jit_fast_ok``, every eager primitive reads
    ``debug_nans``). Only while some thread is inside ``override`` does the class carry data
    descriptors for them, which give each thread its own values.
    """

    _validators: dict[str, Callable[[str, Any], Any]] = {
        "disable_jit": _as_bool,
        "log_compiles": _as_bool,
        "enable_disk_cache": _as_bool,
        "cache_dir": _as_path,
        "debug_nans": _as_bool,
        "debug_infs": _as_bool,
        "tiered_compile": _as_bool,
    }

    def __init__(self):
        d = self.__dict__
        d["disable_jit"] = _env_flag("FUNCTRACE_DISABLE_JIT")
        d["log_compiles"] = False
        d["enable_disk_cache"] = not _env_flag("FUNCTRACE_DISABLE_CACHE")
        d["cache_dir"] = os.environ.get("FUNCTRACE_CACHE_DIR") or _default_cache_dir()
        d["debug_nans"] = False
        d["debug_infs"] = False
        d["tiered_compile"] = os.environ.get("FUNCTRACE_TIERED", "1").strip().lower() not in (
            "0", "false", "no", "off")
        d["_active_overrides"] = 0  # override blocks open in all threads
        self._sync()

    def _sync(self) -> None:
        # One attribute for jit's per-call fast path: compiled code may run directly only when
        # no option asks for something else (eager execution, NaN/inf checks). The global
        # value; while overrides are active, ``_FastOk`` answers per thread.
        d = self.__dict__
        d["_jit_fast_ok"] = not (d["disable_jit"] or d["debug_nans"] or d["debug_infs"])

    @classmethod
    def _canonical(cls, name: str) -> str:
        for prefix in ("jax_", "functrace_"):
            if name.startswith(prefix) and name[len(prefix):] in cls._validators:
                return name[len(prefix):]
        if name not in cls._validators:
            known = ", ".join(sorted(cls._validators))
            raise AttributeError(f"unknown functrace config option {name!r} (known: {known})")
        return name

    def update(self, name: str, value: Any) -> None:
        """Set option ``name`` to ``value`` (validated) for every thread:
        ``config.update("disable_jit", 1)``. A thread inside ``override`` of the same option
        keeps its overridden value until its block ends."""
        name = self._canonical(name)
        value = self._validators[name](name, value)
        with _lock:
            self.__dict__[name] = value
            self._sync()

    def read(self, name: str) -> Any:
        """The current value of option ``name`` (in this thread)."""
        return getattr(self, self._canonical(name))

    def values(self) -> dict[str, Any]:
        """All options and their current values (in this thread)."""
        return {name: getattr(self, name) for name in self._validators}

    @contextmanager
    def override(self, **values):
        """Set options for the duration of a ``with`` block, in the calling thread only (other
        threads, including ones started inside the block, keep the global values)."""
        layer = {}
        for k, v in values.items():
            name = self._canonical(k)
            layer[name] = self._validators[name](name, v)
        layers = _thread_layers()
        with _lock:
            d = self.__dict__
            if d["_active_overrides"] == 0:
                for name in self._validators:
                    setattr(Config, name, _Overridable(name))
                Config._jit_fast_ok = _FastOk()
            d["_active_overrides"] += 1
            layers.append(layer)
        try:
            yield self
        finally:
            with _lock:
                # by identity: generators may leave nested blocks out of order
                for i in range(len(layers) - 1, -1, -1):
                    if layers[i] is layer:
                        del layers[i]
                        break
                d["_active_overrides"] -= 1
                if d["_active_overrides"] == 0:
                    for name in self._validators:
                        delattr(Config, name)
                    del Config._jit_fast_ok

    def __setattr__(self, name, value):
        if name in self._validators:
            self.update(name, value)
        elif not name.startswith("_"):
            raise AttributeError(f"unknown functrace config option {name!r}; use config.update")
        else:
            object.__setattr__(self, name, value)

    @property
    def config(self) -> Config:
        # ``functrace.config`` may be this object (exported by the package) or the module;
        # ``functrace.config.config`` works either way
        return self

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        return f"functrace.config({items})"


config = Config()

update = config.update


def __getattr__(name: str) -> Any:
    # ``functrace.config`` may resolve to this module or to the ``config`` object; both read the
    # same options.
    if name in Config._validators:
        return getattr(config, name)
    raise AttributeError(f"module 'functrace.config' has no attribute {name!r}")
