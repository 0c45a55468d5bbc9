"""``functrace.numpy``: a NumPy-compatible namespace that works on arrays and tracers alike.

Outside any transformation these functions return NumPy results; inside one they record
primitives. Semantics follow NumPy 2 (NEP 50 promotion, float64 default, float32 preserved).
"""

from __future__ import annotations

import numpy as _np

from .. import lax as _lax
from ._base import asarray_or_tracer as _arr
from ._base import elementwise as _elementwise
from ._base import normalize_axes as _normalize_axes
from ._base import promote_args as _promote_args

pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, None
float32, float64, int32, int64, bool_ = (_np.float32, _np.float64, _np.int32, _np.int64,
                                         _np.bool_)
complex64, complex128 = _np.complex64, _np.complex128


def _float_unary(lax_fn, name):
    def f(x):
        return _elementwise(lax_fn, x, to_inexact=True)

    f.__name__ = name
    f.__doc__ = f"Elementwise ``numpy.{name}``."
    return f


sin = _float_unary(_lax.sin, "sin")
cos = _float_unary(_lax.cos, "cos")
exp = _float_unary(_lax.exp, "exp")
log = _float_unary(_lax.log, "log")
tanh = _float_unary(_lax.tanh, "tanh")


def add(x, y):
    """Elementwise ``numpy.add``."""
    return _elementwise(_lax.add, x, y)


def multiply(x, y):
    """Elementwise ``numpy.multiply``."""
    return _elementwise(_lax.mul, x, y)


def sum(a, axis=None, dtype=None, keepdims=False):
    """``numpy.sum``."""
    a = _arr(a)
    axes = _normalize_axes(axis, a.ndim)
    out = _lax.reduce_sum(a, axes)
    if keepdims:
        out = _lax.reshape(out, [1 if i in axes else d for i, d in enumerate(a.shape)])
    return out


from . import _tracer_methods  # noqa: E402

_tracer_methods.install()
