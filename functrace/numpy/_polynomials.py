"""The ``poly*`` family (coefficients highest power first, as ``numpy.poly*``): ``polyadd``,
``polysub``, ``polymul``, ``polyder``, ``polyint``, ``polydiv``, ``polyfit``, ``poly``, ``roots``.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes, lax
from ..core import Tracer
from . import _ufuncs as u
from ._base import (
    asarray,
    aval_of,
    cast,
    dtype_of,
)
from ._differences import vander
from ._indexing import _concrete_or_raise, getitem
from ._reductions import sum as _sum
from ._selection import trim_zeros
from ._shape import (
    atleast_1d,
    concatenate,
    expand_dims,
    reshape,
    stack,
    take_slice,
)

__all__ = ["polyadd", "polysub", "polymul", "polyder", "polyint", "polydiv", "polyfit", "poly",
           "roots"]

# ---------------------------------------------------------------------------------------------
# Polynomials (coefficients highest power first, as numpy.poly*)
# ---------------------------------------------------------------------------------------------


def _pad_front(p, n: int):
    k = aval_of(p).shape[0]
    if k == n:
        return p
    return concatenate([lax.full((n - k,), 0, dtype_of(p)), p])


def _poly_pair(a1, a2):
    a1, a2 = atleast_1d(asarray(a1)), atleast_1d(asarray(a2))
    n = max(aval_of(a1).shape[0], aval_of(a2).shape[0])
    return _pad_front(a1, n), _pad_front(a2, n)


def polyadd(a1, a2):
    """``numpy.polyadd``: the sum of two polynomials."""
    return u.add(*_poly_pair(a1, a2))


def polysub(a1, a2):
    """``numpy.polysub``: the difference of two polynomials."""
    return u.subtract(*_poly_pair(a1, a2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """``numpy.polymul``: the product of two polynomials (``trim_leading_zeros`` needs
    concrete input, as in JAX)."""
    from ._functions import convolve
    a1, a2 = atleast_1d(asarray(a1)), atleast_1d(asarray(a2))
    if trim_leading_zeros:
        a1, a2 = trim_zeros(a1, "f"), trim_zeros(a2, "f")
    if aval_of(a1).shape[0] == 0 or aval_of(a2).shape[0] == 0:
        return lax.full((0,), 0, dtypes.result_type(a1, a2))
    return convolve(a1, a2)


def polyder(p, m: int = 1):
    """``numpy.polyder``: the ``m``-th derivative's coefficients."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = atleast_1d(asarray(p))
    for _ in range(m):
        n = aval_of(p).shape[0] - 1
        p = u.multiply(take_slice(p, 0, 0, max(n, 0)), np.arange(n, 0, -1))
    return p


def polyint(p, m: int = 1, k=None):
    """``numpy.polyint``: the ``m``-th antiderivative, with integration constants ``k``
    (default zeros)."""
    m = operator.index(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    p = atleast_1d(asarray(p))
    if k is None:
        ks = [0] * m
    elif isinstance(k, (list, tuple)) or aval_of(asarray(k)).ndim == 1:
        ks = [getitem(asarray(k), i) for i in range(aval_of(asarray(k)).shape[0])]
        if len(ks) == 1 and m > 1:
            ks = ks * m
        if len(ks) < m:
            raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    else:
        ks = [k] * m
    for i in range(m):
        q = u.divide(p, np.arange(aval_of(p).shape[0], 0, -1))
        p = concatenate([q, reshape(cast(asarray(ks[i]), dtype_of(q)), (1,))])
    return p


def polydiv(u_, v, *, trim_leading_zeros: bool = False):
    """``numpy.polydiv``: quotient and remainder. As in JAX the remainder keeps ``u``'s length
    (leading zeros included) unless ``trim_leading_zeros`` (concrete input)."""
    num, den = atleast_1d(asarray(u_)), atleast_1d(asarray(v))
    dt = dtypes.result_type(num, den, 1.0)
    num, den = cast(num, dt), cast(den, dt)
    m, n = aval_of(num).shape[0] - 1, aval_of(den).shape[0] - 1
    scale = u.divide(1.0, getitem(den, 0))
    coeffs = []
    rem = num
    for k in range(m - n + 1):
        d = u.multiply(scale, getitem(rem, k))
        coeffs.append(d)
        update = concatenate([lax.full((k,), 0, dt), u.multiply(d, den),
                              lax.full((m - n - k,), 0, dt)])
        rem = u.subtract(rem, update)
    q = stack(coeffs) if coeffs else lax.full((1,), 0, dt)
    if trim_leading_zeros:
        value = _concrete_or_raise(rem, "polydiv(trim_leading_zeros=True)")
        start = 0
        while start < value.shape[0] - 1 and np.allclose(value[start], 0, rtol=1e-14):
            start += 1
        rem = take_slice(rem, 0, start, value.shape[0])
    return q, rem


def _traced(*xs) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _lstsq_mgs(a, b):
    """Least squares ``a c = b`` (``a`` tall, full column rank) by modified Gram-Schmidt on
    the columns of ``[a | b]``, unrolled over the (few) columns: traceable."""
    k = aval_of(a).shape[1]
    cols = [getitem(a, (slice(None), j)) for j in range(k)]
    rhs = b
    r = [[None] * k for _ in range(k)]
    qtb = []
    for j in range(k):
        norm = u.sqrt(_sum(u.multiply(cols[j], cols[j])))
        q = u.divide(cols[j], norm)
        r[j][j] = norm
        for l in range(j + 1, k):  # noqa: E741
            r[j][l] = _sum(u.multiply(q, cols[l]))
            cols[l] = u.subtract(cols[l], u.multiply(q, r[j][l]))
        proj = _sum(u.multiply(expand_dims(q, -1) if aval_of(rhs).ndim == 2 else q, rhs),
                    axis=0)
        qtb.append(proj)
        rhs = u.subtract(rhs, u.multiply(expand_dims(q, -1), proj) if aval_of(rhs).ndim == 2
                         else u.multiply(q, proj))
    coef = [None] * k
    for j in reversed(range(k)):
        acc = qtb[j]
        for l in range(j + 1, k):  # noqa: E741
            acc = u.subtract(acc, u.multiply(r[j][l], coef[l]))
        coef[j] = u.divide(acc, r[j][j])
    return stack(coef)


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov=False):
    """``numpy.polyfit``: least-squares polynomial coefficients (highest first). Concrete
    input goes to NumPy; traced input is solved by a QR (Gram-Schmidt) of the scaled
    Vandermonde matrix (``full``/``cov`` need concrete input)."""
    deg = operator.index(deg)
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if not _traced(x, y, w):
        return np.polyfit(np.asarray(x), np.asarray(y), deg, rcond, full,
                          None if w is None else np.asarray(w), cov)
    if full or cov:
        raise NotImplementedError("functrace.numpy.polyfit: full=True and cov=True need "
                                  "concrete (non-traced) input")
    x, y = asarray(x), asarray(y)
    dt = dtypes.result_type(x, y, 1.0)
    x, y = cast(x, dt), cast(y, dt)
    if aval_of(x).ndim != 1 or aval_of(x).shape[0] == 0:
        raise TypeError("expected non-empty vector for x")
    if aval_of(y).ndim not in (1, 2) or aval_of(y).shape[0] != aval_of(x).shape[0]:
        raise TypeError("expected x and y to have same length")
    lhs = vander(x, deg + 1)
    rhs = y
    if w is not None:
        w = cast(asarray(w), dt)
        lhs = u.multiply(lhs, expand_dims(w, -1))
        rhs = u.multiply(rhs, expand_dims(w, -1) if aval_of(rhs).ndim == 2 else w)
    scale = u.sqrt(_sum(u.multiply(lhs, lhs), axis=0))
    c = _lstsq_mgs(u.divide(lhs, scale), rhs)
    return u.divide(c, expand_dims(scale, -1) if aval_of(c).ndim == 2 else scale)


def poly(seq_of_zeros):
    """``numpy.poly``: coefficients of the monic polynomial with the given (real) roots; a
    square matrix (its characteristic polynomial) needs concrete input."""
    z = atleast_1d(asarray(seq_of_zeros))
    shape = aval_of(z).shape
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        return np.poly(_concrete_or_raise(z, "poly of a matrix"))
    if len(shape) != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    dt = dtypes.to_inexact(dtype_of(z))
    z = cast(z, dt)
    a = np.ones(1, dt)
    for i in range(shape[0]):
        zero = getitem(z, i)
        a = u.subtract(concatenate([a, np.zeros(1, dt)]),
                       u.multiply(zero, concatenate([np.zeros(1, dt), a])))
    return a if shape[0] else np.float64(1.0)


def roots(p, *, strip_zeros: bool = True):
    """``numpy.roots`` of concretely known coefficients (complex roots come back complex)."""
    return np.roots(_concrete_or_raise(p, "roots (needs an eigenvalue solver)"))
