"""``functrace.numpy.linalg``: norms and the products NumPy also exposes here.

Decompositions and solvers (``inv``, ``solve``, ``cholesky``, ``svd``...) need linear-algebra
primitives functrace does not have yet; they raise ``NotImplementedError`` naming themselves.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import core, dtypes, lax
from ._base import asarray, cast, normalize_axis, scalarize
from ._dot import cross, matmul, outer, tensordot, vecdot
from ._reductions import max as _max
from ._reductions import min as _min
from ._reductions import sum as _sum
from ._shape import diagonal as _diagonal
from ._shape import matrix_transpose
from ._ufuncs import absolute, power, sqrt

__all__ = ["norm", "vector_norm", "matrix_norm", "multi_dot", "matrix_power", "matmul", "outer",
           "tensordot", "vecdot", "cross", "diagonal", "trace", "matrix_transpose"]


def _as_float(x):
    x = asarray(x)
    dt = core.get_aval(x).dtype
    if dtypes.is_complex(dt):
        raise NotImplementedError("functrace.numpy.linalg norms of complex arrays are not "
                                  "supported")
    return x if dtypes.is_inexact(dt) else cast(x, dtypes.float64)


def _sum_squares(x, axis, keepdims):
    return _sum(lax.mul(x, x), axis=axis, keepdims=keepdims)


def _vector_norm(x, ord, axis: tuple[int, ...], keepdims: bool):
    if ord is None or ord == 2:
        return sqrt(_sum_squares(x, axis, keepdims))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    ax = absolute(x)
    if ord == np.inf:
        return _max(ax, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _min(ax, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = cast(lax.ne(x, lax.full_like(x, 0)), core.get_aval(x).dtype)
        return _sum(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(ax, axis=axis, keepdims=keepdims)
    total = _sum(power(ax, float(ord)), axis=axis, keepdims=keepdims)
    return power(total, 1.0 / ord)


def _matrix_norm(x, ord, axes: tuple[int, int], keepdims: bool):
    row, col = axes
    if ord in (None, "fro", "f"):
        out = sqrt(_sum_squares(x, axes, keepdims=False))
    elif ord in (1, -1, np.inf, -np.inf):
        if ord in (np.inf, -np.inf):
            row, col = col, row
        pick = _max if ord in (1, np.inf) else _min
        sums = _sum(absolute(x), axis=row)
        out = pick(sums, axis=col - 1 if col > row else col)
    elif ord in (2, -2, "nuc"):
        raise NotImplementedError(f"functrace.numpy.linalg.norm with ord={ord!r} needs singular "
                                  "values (an SVD), which functrace does not have yet")
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(core.get_aval(x).shape))
        out = lax.reshape(out, shape)
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm``: vector norms (``ord`` None/2, 1, inf, -inf, 0, p) along one axis,
    matrix norms (``'fro'``, 1, -1, inf, -inf) over two; all entries when ``axis`` and ``ord``
    are None."""
    x = _as_float(x)
    ndim = core.get_aval(x).ndim
    if axis is None:
        if ord is None:
            out = sqrt(_sum_squares(x, None, keepdims))
            return scalarize(out)
        if ndim == 1:
            axis = (0,)
        elif ndim == 2:
            axis = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    elif not isinstance(axis, (tuple, list)):
        axis = (operator.index(axis),)
    axes = tuple(normalize_axis(a, ndim) for a in axis)
    if len(axes) == 1:
        return scalarize(_vector_norm(x, ord, axes, keepdims))
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("Duplicate axes given.")
        return scalarize(_matrix_norm(x, ord, axes, keepdims))
    raise ValueError("Improper number of dimensions to norm.")


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """``numpy.linalg.vector_norm`` (``axis=None``: of all entries)."""
    x = _as_float(x)
    ndim = core.get_aval(x).ndim
    axes = tuple(range(ndim)) if axis is None else tuple(
        normalize_axis(a, ndim) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    return scalarize(_vector_norm(x, ord, axes, keepdims))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm`` over the last two axes."""
    x = _as_float(x)
    ndim = core.get_aval(x).ndim
    return scalarize(_matrix_norm(x, ord, (ndim - 2, ndim - 1), keepdims))


def multi_dot(arrays, *, out=None):
    """``numpy.linalg.multi_dot``: the chain product in the cheapest order (NumPy's choice),
    a 1-D first/last operand acting as a row/column vector."""
    from ._dot import dot
    arrays = [asarray(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    first_1d = core.get_aval(arrays[0]).ndim == 1
    last_1d = core.get_aval(arrays[-1]).ndim == 1
    if first_1d:
        arrays[0] = lax.reshape(arrays[0], (1,) + core.get_aval(arrays[0]).shape)
    if last_1d:
        arrays[-1] = lax.reshape(arrays[-1], core.get_aval(arrays[-1]).shape + (1,))
    dims = [core.get_aval(a).shape[0] for a in arrays] + [core.get_aval(arrays[-1]).shape[1]]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = split[i][j]
        return dot(product(i, k), product(k + 1, j))

    result = product(0, len(arrays) - 1)
    shape = core.get_aval(result).shape
    if first_1d and last_1d:
        return scalarize(lax.reshape(result, ()))
    if first_1d or last_1d:
        return lax.reshape(result, shape[1:] if first_1d else shape[:1])
    return result


def _chain_order(dims: list[int]) -> list[list[int]]:
    """Matrix-chain dynamic programme: split[i][j] is where to split the product i..j."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = np.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def matrix_power(a, n):
    """``numpy.linalg.matrix_power`` for integers ``n >= 0`` (by repeated squaring)."""
    a = asarray(a)
    n = operator.index(n)
    if n < 0:
        raise NotImplementedError("functrace.numpy.linalg.matrix_power with n < 0 needs inv")
    shape = core.get_aval(a).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    from ._creation import eye
    from ._shape import broadcast_to
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    if result is None:
        result = broadcast_to(cast(eye(shape[-1]), core.get_aval(a).dtype), shape)
    return result


def diagonal(x, /, *, offset=0):
    """``numpy.linalg.diagonal``: diagonals of the last two axes."""
    return _diagonal(x, offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """``numpy.linalg.trace`` over the last two axes."""
    return _sum(_diagonal(x, offset, -2, -1), axis=-1, dtype=dtype)


def _missing(name: str):
    def fn(*args, **kwargs):
        raise NotImplementedError(
            f"functrace does not support numpy.linalg.{name} yet (it needs a linear-algebra "
            "primitive); compute it outside the transformed function.")
    fn.__name__ = name
    return fn


for _name in ("inv", "pinv", "solve", "lstsq", "det", "slogdet", "cholesky", "qr", "svd",
              "svdvals", "eig", "eigh", "eigvals", "eigvalsh", "matrix_rank", "cond",
              "tensorinv", "tensorsolve"):
    globals()[_name] = _missing(_name)
del _name

_exports = {name: globals()[name] for name in __all__}
