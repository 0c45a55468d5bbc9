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
"""

from __future__ import annotations

import os
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


class Config:
    """The option registry. Read options as attributes, change them with ``update``."""

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
        # Plain attributes: jit's per-call fast path reads ``disable_jit`` directly.
        self.disable_jit = _env_flag("FUNCTRACE_DISABLE_JIT")
        self.log_compiles = False
        self.enable_disk_cache = not _env_flag("FUNCTRACE_DISABLE_CACHE")
        self.cache_dir = os.environ.get("FUNCTRACE_CACHE_DIR") or _default_cache_dir()
        self.debug_nans = False
        self.debug_infs = False
        self.tiered_compile = os.environ.get("FUNCTRACE_TIERED", "1").strip().lower() not in (
            "0", "false", "no", "off")
        self._sync()

    def _sync(self) -> None:
        # One attribute for jit's per-call fast path: compiled code may run directly only when
        # no option asks for something else (eager execution, NaN/inf checks).
        object.__setattr__(self, "_jit_fast_ok", not (self.disable_jit or self.debug_nans
                                                      or self.debug_infs))

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
        """Set option ``name`` to ``value`` (validated): ``config.update("disable_jit", 1)``."""
        name = self._canonical(name)
        object.__setattr__(self, name, self._validators[name](name, value))
        self._sync()

    def read(self, name: str) -> Any:
        """The current value of option ``name``."""
        return getattr(self, self._canonical(name))

    def values(self) -> dict[str, Any]:
        """All options and their current values."""
        return {name: getattr(self, name) for name in self._validators}

    @contextmanager
    def override(self, **values):
        """Temporarily set options for the duration of a ``with`` block."""
        old = {self._canonical(k): self.read(k) for k in values}
        try:
            for k, v in values.items():
                self.update(k, v)
            yield self
        finally:
            for k, v in old.items():
                object.__setattr__(self, k, v)
            self._sync()

    def __setattr__(self, name, value):
        if name in self._validators:
            value = self._validators[name](name, value)
        elif not name.startswith("_"):
            raise AttributeError(f"unknown functrace config option {name!r}; use config.update")
        object.__setattr__(self, name, value)
        if name in self._validators and hasattr(self, "debug_infs"):
            self._sync()

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
