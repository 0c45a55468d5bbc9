"""``scipy.special`` functions that trace, differentiate, batch and compile.

The set is what models and losses use: ``logsumexp``, ``softmax``/``log_softmax``, the
logistic pair ``expit``/``logit``, ``erf`` and the ``x log y`` family with JAX's convention that
``0 * log(0) = 0``, and JAX's derivative rules for it; the gamma family (``gammaln``,
``digamma``, ``polygamma``, ``gamma``, ``betaln``, ``multigammaln``) and the normal
distribution's functions (``erfc``, ``erfinv``, ``ndtr``, ``ndtri``, ``log_ndtr``), built on the
primitives of ``functrace.ops.special``.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..custom_derivatives import custom_jvp
from ..numpy._base import asarray, broadcast_arrays, dtype_of, promote_args

__all__ = ["logsumexp", "softmax", "log_softmax", "expit", "logit", "erf", "xlogy", "xlog1py",
           "entr", "gammaln", "digamma", "polygamma", "erfc", "erfinv", "ndtr", "ndtri",
           "log_ndtr", "betaln", "beta", "gamma", "gammasgn", "factorial", "multigammaln",
           "gammainc", "gammaincc"]


def _float(x):
    x = asarray(x)
    return x if np.issubdtype(dtype_of(x), np.inexact) else x.astype(np.float64)


def _stopped_max(x, axis, where=None):
    """The maximum of ``x`` along ``axis`` (kept as size-1 axes) with its gradient stopped and
    non-finite maxima replaced by 0: the shift that makes ``exp`` safe in logsumexp/softmax
    without changing their derivatives."""
    # stopped first: eager grad then computes the shift on plain values, off its tape
    x = lax.stop_gradient(x)
    if where is None:
        amax = fnp.max(x, axis=axis, keepdims=True)
    else:
        amax = fnp.max(x, axis=axis, keepdims=True, where=where, initial=-np.inf)
    return lax.stop_gradient(fnp.where(fnp.isfinite(amax), amax, fnp.zeros_like(amax)))


def logsumexp(a, axis: int | tuple[int, ...] | None = None, b=None, keepdims: bool = False,
              return_sign: bool = False, where=None):
    """``log(sum(b * exp(a), axis))`` computed without overflow.

    The maximum that is subtracted has its gradient stopped, so derivatives are exactly the
    softmax weights. With ``return_sign=True`` returns ``(log|sum|, sign(sum))`` and allows
    negative ``b``; otherwise a negative sum gives NaN, as in SciPy and JAX."""
    a = _float(a)
    if b is not None:
        a, b = _promoted_pair(a, b)
    amax = _stopped_max(a, axis, where)
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


def _array_or_scalar(x):
    # Python scalars stay as they are, so that they adapt to the other operand's dtype (NEP 50:
    # ``polygamma(1, float32)`` is float32)
    return x if type(x) in (bool, int, float) else asarray(x)


def _promoted_pair(x, y):
    return broadcast_arrays(*promote_args(_array_or_scalar(x), _array_or_scalar(y),
                                          to_inexact=True))


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


# --- the gamma family and the normal distribution ---------------------------------------------


def gammaln(x):
    """``log|Gamma(x)|`` (``inf`` at ``0, -1, -2, ...``)."""
    return lax.lgamma(_float(x))


def digamma(x):
    """The digamma function ``d/dx log Gamma(x)`` (NaN at ``0, -1, -2, ...``, as in JAX)."""
    return lax.digamma(_float(x))


def polygamma(n, x):
    """The ``n``-th derivative of ``digamma`` (``n`` a non-negative integer array, broadcast
    against ``x``; other orders give NaN). Differentiable in ``x`` only."""
    n, x = _promoted_pair(n, x)
    return lax.polygamma(n, x)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate where it is tiny."""
    return lax.erfc(_float(x))


def erfinv(x):
    """The inverse of ``erf`` on ``[-1, 1]`` (``+-inf`` at ``+-1``, NaN outside)."""
    return lax.erf_inv(_float(x))


_SQRT_HALF = float(np.sqrt(0.5))
_HALF_LOG_2PI = float(0.5 * np.log(2 * np.pi))


def ndtr(x):
    """The standard normal CDF ``Phi(x)`` (from ``erfc``, so the lower tail keeps its digits)."""
    x = _float(x)
    return 0.5 * lax.erfc(-x * _SQRT_HALF)


def ndtri(p):
    """The standard normal quantile ``Phi^-1(p)`` (``-inf``/``inf`` at 0/1, NaN outside)."""
    return lax.ndtri(_float(p))


def _log_ndtr_series(x, order: int):
    """``log Phi(x)`` for ``x <= -10``: the asymptotic expansion of Mills' ratio,
    ``Phi(x) ~ phi(x)/(-x) (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...)`` to ``order`` terms."""
    inv2 = 1 / (x * x)
    total = fnp.zeros_like(x)
    term = fnp.ones_like(x)
    for k in range(1, order + 1):
        term = term * (-(2 * k - 1)) * inv2
        total = total + term
    return -0.5 * x * x - fnp.log(-x) - _HALF_LOG_2PI + fnp.log1p(total)


def _log_ndtr_impl(x, order: int):
    # three regions: log1p(-Phi(-x)) above 0 (Phi(x) rounds to 1 there), log(Phi(x)) in the
    # middle, the asymptotic series below ``lower`` (where Phi underflows); every branch gets
    # an argument inside its region, so no branch makes infinities or NaNs
    lower = -20.0 if dtype_of(x) == np.float64 else -10.0
    zero = fnp.zeros_like(x)
    x_hi = fnp.where(x > 0, x, zero)
    x_mid = fnp.where((x > lower) & (x <= 0), x, zero)
    x_lo = fnp.where(x <= lower, x, fnp.full_like(x, lower))
    hi = fnp.log1p(-ndtr(-x_hi))
    mid = fnp.log(ndtr(x_mid))
    lo = _log_ndtr_series(x_lo, order)
    out = fnp.where(x > 0, hi, fnp.where(x > lower, mid, lo))
    return fnp.where(fnp.isnan(x), x, out)


def _make_log_ndtr(order: int):
    @custom_jvp
    def f(x):
        return _log_ndtr_impl(x, order)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        out = f(x)
        # d/dx log Phi(x) = phi(x) / Phi(x), formed in logs: no 0/0 in the far left tail
        return out, dx * fnp.exp(-0.5 * x * x - _HALF_LOG_2PI - out)

    return f


_LOG_NDTR = {}


def log_ndtr(x, series_order: int | None = None):
    """``log Phi(x)``, accurate in both tails, with derivative ``phi(x) / Phi(x)``.

    Below ``x = -20`` (``-10`` in float32) it is the asymptotic series of Mills' ratio, with
    ``series_order`` terms (JAX's parameter, 0 to 30; the default, 10 terms, is accurate to
    float64 rounding there, where JAX's default of 3 leaves errors near 1e-11)."""
    order = 10 if series_order is None else series_order
    if not isinstance(order, (int, np.integer)) or not 0 <= order <= 30:
        raise ValueError(f"log_ndtr: series_order must be an int in [0, 30], got {order!r}")
    order = int(order)
    if order not in _LOG_NDTR:
        _LOG_NDTR[order] = _make_log_ndtr(order)
    return _LOG_NDTR[order](_float(x))


def betaln(a, b):
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``."""
    a, b = _promoted_pair(a, b)
    return lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)


def beta(a, b):
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)`` (as ``exp(betaln)`` with the
    signs of the three gammas)."""
    a, b = _promoted_pair(a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * fnp.exp(betaln(a, b))


def factorial(n, exact: bool = False):
    """``n! = Gamma(n + 1)`` (0 for negative ``n``); ``exact=True`` is not supported, as in
    JAX."""
    if exact:
        raise NotImplementedError("factorial with exact=True is not supported (as in JAX)")
    n = _float(n)
    return fnp.where(n < 0, fnp.zeros_like(n), fnp.exp(lax.lgamma(n + 1)))


def gammasgn(x):
    """The sign of ``Gamma(x)``: 1 for ``x > 0``, +-1 alternating on the negative intervals,
    NaN at the negative integers, the sign of zero at ``+-0``."""
    x = _float(x)
    fl = fnp.floor(x)
    odd = fnp.remainder(fnp.where(fnp.isfinite(fl), fl, fnp.zeros_like(fl)), 2) == 1
    one = fnp.ones_like(x)
    neg = fnp.where(fl == x, fnp.full_like(x, np.nan), fnp.where(odd, -one, one))
    sign = fnp.where(x > 0, one, fnp.where(x == 0, fnp.copysign(one, x), neg))
    return lax.stop_gradient(fnp.where(fnp.isnan(x), x, sign))


def gamma(x):
    """The gamma function, ``gammasgn(x) * exp(gammaln(x))`` (``+-inf`` at ``+-0``, NaN at
    the negative integers)."""
    x = _float(x)
    return gammasgn(x) * fnp.exp(lax.lgamma(x))


def multigammaln(a, d: int):
    """The log of the multivariate gamma function of dimension ``d`` (a static int):
    ``d(d-1)/4 log(pi) + sum_j gammaln(a - j/2)`` for ``j < d``."""
    d = int(d)
    if d < 1:
        raise ValueError(f"multigammaln needs a dimension d >= 1, got {d}")
    a = _float(a)
    total = lax.lgamma(a)
    for j in range(1, d):
        total = total + lax.lgamma(a - 0.5 * j)
    return total + d * (d - 1) / 4 * float(np.log(np.pi))


def gammainc(a, x):
    """The regularised lower incomplete gamma function ``P(a, x)`` (the CDF of a gamma
    distribution with shape ``a``). NaN for ``a < 0`` or ``x < 0``; differentiable in ``x``."""
    a, x = _promoted_pair(a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, accurate
    where it is tiny. Differentiable in ``x``."""
    a, x = _promoted_pair(a, x)
    return lax.igammac(a, x)
