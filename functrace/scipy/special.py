"""``scipy.special`` functions that trace, differentiate, batch and compile.

The set is what models and losses use: ``logsumexp``, ``softmax``/``log_softmax``, the
logistic pair ``expit``/``logit``, ``erf`` and the ``x log y`` family with JAX's convention that
``0 * log(0) = 0``, and JAX's derivative rules for it.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..custom_derivatives import custom_jvp
from ..numpy._base import asarray, broadcast_arrays, dtype_of, promote_args

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "logit", "erf", "xlogy", "xlog1py",
           "entr"]


def _float(x):
    x = asarray(x)
    return x if np.issubdtype(dtype_of(x), np.inexact) else x.astype(np.float64)


def logsumexp(a, axis: int | tuple[int, ...] | None = None, b=None, keepdims: bool = False,
              return_sign: bool = False, where=None):
    """``log(sum(b * exp(a), axis))`` computed without overflow.

    The maximum that is subtracted has its gradient stopped, so derivatives are exactly the
    softmax weights. With ``return_sign=True`` returns ``(log|sum|, sign(sum))`` and allows
    negative ``b``; otherwise a negative sum gives NaN, as in SciPy and JAX."""
    a = _float(a)
    if b is not None:
        a, b = _promoted_pair(a, b)
    if where is None:
        amax = fnp.max(a, axis=axis, keepdims=True)
    else:
        amax = fnp.max(a, axis=axis, keepdims=True, where=where, initial=-np.inf)
    amax = lax.stop_gradient(fnp.where(fnp.isfinite(amax), amax, fnp.zeros_like(amax)))
    terms = fnp.exp(a - amax)
    if b is not None:
        terms = b * terms
    if where is not None:
        terms = fnp.where(where, terms, fnp.zeros_like(terms))
    total = fnp.sum(terms, axis=axis, keepdims=True)
    if return_sign:
        sign = fnp.sign(total)
        total = fnp.abs(total)
    out = fnp.log(total) + amax
    if not keepdims:
        out = fnp.squeeze(out, axis=axis) if axis is not None else fnp.reshape(out, ())
        if return_sign:
            sign = fnp.squeeze(sign, axis=axis) if axis is not None else fnp.reshape(sign, ())
    return (out, lax.stop_gradient(sign)) if return_sign else out


def softmax(x, axis: int | tuple[int, ...] | None = None):
    """``exp(x) / sum(exp(x), axis)`` (SciPy's default ``axis=None``: over all entries)."""
    from ..nn import softmax as _softmax
    return _softmax(x, axis=axis)


def log_softmax(x, axis: int | tuple[int, ...] | None = None):
    """``x - logsumexp(x, axis)`` (SciPy's default ``axis=None``)."""
    from ..nn import log_softmax as _log_softmax
    return _log_softmax(x, axis=axis)


def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    return lax.logistic(_float(x))


def logit(x):
    """The inverse of ``expit``: ``log(x / (1 - x))``."""
    x = _float(x)
    return fnp.log(x) - fnp.log1p(-x)


def erf(x):
    """The error function."""
    return lax.erf(_float(x))


def _promoted_pair(x, y):
    return broadcast_arrays(*promote_args(asarray(x), asarray(y), to_inexact=True))


def _x_times(log_fn, shift: float):
    """``x * log_fn(y)`` that is 0 where ``x == 0``, with JAX's derivative rule
    ``dx * log_fn(y) + dy * x / (y + shift)`` (so d/dx at ``x = 0`` is ``log_fn(y)``)."""

    @custom_jvp
    def f(x, y):
        nonzero = x != 0
        safe_y = fnp.where(nonzero, y, fnp.full_like(y, 1 - shift))
        return fnp.where(nonzero, x * log_fn(safe_y), fnp.zeros_like(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (dx, dy) = primals, tangents
        return f(x, y), dx * log_fn(y) + dy * x / (y + shift)

    return f


_xlogy = _x_times(fnp.log, 0.0)
_xlog1py = _x_times(fnp.log1p, 1.0)


def xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (even where ``y == 0``)."""
    return _xlogy(*_promoted_pair(x, y))


def xlog1py(x, y):
    """``x * log1p(y)``, 0 where ``x == 0`` (even where ``y == -1``)."""
    return _xlog1py(*_promoted_pair(x, y))


@custom_jvp
def _xlogx(x):
    safe = fnp.where(x == 0, fnp.ones_like(x), x)
    return fnp.where(x == 0, fnp.zeros_like(x), x * fnp.log(safe))


@_xlogx.defjvp
def _xlogx_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _xlogx(x), dx * (fnp.log(x) + 1)


def entr(x):
    """``-x log x`` for ``x > 0``, 0 at 0 and ``-inf`` for ``x < 0`` (elementwise entropy;
    its derivative at 0 is infinite, as in JAX)."""
    x = _float(x)
    return fnp.where(x < 0, fnp.full_like(x, -np.inf), -_xlogx(x))
