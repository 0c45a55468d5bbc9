"""Window functions: ``bartlett``, ``blackman``, ``hamming``, ``hanning`` and ``kaiser``
(NumPy arrays for static arguments).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..core import Tracer
from . import _ufuncs as u
from ._base import (
    cast,
)
from ._int_float_ufuncs import i0

__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser"]

# ---------------------------------------------------------------------------------------------
# Window functions
# ---------------------------------------------------------------------------------------------


def _window(np_fn, name: str):
    def window(M):
        return np_fn(operator.index(M))
    window.__name__ = name
    window.__doc__ = f"``numpy.{name}`` window of static length ``M`` (float64)."
    return window


bartlett = _window(np.bartlett, "bartlett")
blackman = _window(np.blackman, "blackman")
hamming = _window(np.hamming, "hamming")
hanning = _window(np.hanning, "hanning")


def kaiser(M, beta):
    """``numpy.kaiser`` window of static length ``M``; ``beta`` may be traced."""
    M = operator.index(M)
    if not isinstance(beta, Tracer):
        return np.kaiser(M, beta)
    if M <= 1:
        return np.ones(M)
    n = np.arange(M)
    alpha = (M - 1) / 2.0
    r = np.sqrt(np.maximum(1 - ((n - alpha) / alpha) ** 2, 0.0))
    beta = cast(beta, dtypes.result_type(beta, dtypes.float64))
    return u.divide(i0(u.multiply(beta, r)), i0(beta))
