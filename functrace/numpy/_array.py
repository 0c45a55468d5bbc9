"""``Array``: the NumPy array that ``functrace.numpy`` returns outside transformations.

It is an ``ndarray`` subclass (NumPy functions, Numba and ``jit`` take it like any array) that
adds JAX's ``x.at[idx].set/add/...`` functional updates, so code written for ``jax.numpy`` runs
eagerly as well as under ``grad``/``jit``/``vmap`` (where values are tracers with ``.at``).
Results of NumPy operations on it stay ``Array``s; reductions to a scalar give NumPy scalars.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Array(np.ndarray):
    """A NumPy array with JAX's ``.at`` functional-update property."""

    @property
    def at(self):
        """``x.at[idx].set(v)`` (and ``add``, ``multiply``, ``min``, ``max``, ``get``...): a new
        array, ``x`` itself unchanged, as in JAX."""
        return _EagerIndexUpdateHelper(np.asarray(self))

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        if return_scalar or obj.ndim == 0:
            return obj[()]
        return obj if type(obj) is Array else obj.view(Array)


class _EagerIndexUpdateHelper:
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __getitem__(self, index) -> _EagerIndexUpdateRef:
        return _EagerIndexUpdateRef(self.array, index)


class _EagerIndexUpdateRef:
    """``x.at[idx]`` of an ``Array``: the traced implementation, with ``Array`` results."""

    __slots__ = ("ref",)

    def __init__(self, array: np.ndarray, index):
        from ._indexing import IndexUpdateHelper
        self.ref = IndexUpdateHelper(array)[index]

    def __getattr__(self, name: str):
        method = getattr(self.ref, name)  # set, add, multiply, min, max, get, apply...
        return lambda *args, **kwargs: as_eager_result(method(*args, **kwargs))


def as_eager_result(out: Any) -> Any:
    """``out`` with its NumPy arrays (also inside a tuple or list) viewed as ``Array``."""
    t = type(out)
    if t is np.ndarray:
        return out.view(Array) if out.ndim else out
    if t is tuple or t is list:
        return t(as_eager_result(o) for o in out)
    return out
