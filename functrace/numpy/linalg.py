"""``functrace.numpy.linalg``: NumPy's linear algebra on arrays and tracers.

Norms and products are built from elementwise ops, reductions and ``dot_general``; solvers and
decompositions from the primitives of ``functrace.ops.linalg_decomp`` (solve, det, slogdet,
cholesky, triangular_solve, eigh, qr, svd), so all of them differentiate, vmap and jit. JAX is
the model where it departs from NumPy: a singular or non-positive-definite matrix gives NaNs
rather than raising, ``lstsq`` always returns the residuals, ``matrix_rank``'s second argument is
``rtol``. Integer inputs compute in float64; float32 stays float32. The decompositions
(``cholesky``, ``eigh``, ``eigvalsh``, ``qr``, ``svd``, ``svdvals``, ``eig``, ``eigvals``), the
solvers (``solve``, ``inv``) and ``det``/``slogdet`` take complex matrices too; the other
functions (``lstsq``, ``pinv``, norms of complex matrices, ...) are real only.
"""

from __future__ import annotations

import builtins
import collections
import math
import operator

import numpy as np

from .. import core, dtypes, lax
from ..custom_derivatives import custom_jvp
from ._base import asarray, broadcast_shapes, cast, concrete_value, normalize_axis, scalarize
from ._dot import cross, matmul, outer, tensordot, vecdot
from ._reductions import max as _max
from ._reductions import min as _min
from ._reductions import sum as _sum
from ._shape import diagonal as _diagonal
from ._shape import matrix_transpose
from ._ufuncs import absolute, greater, multiply, power, sqrt

__all__ = ["norm", "vector_norm", "matrix_norm", "multi_dot", "matrix_power", "matmul", "outer",
           "tensordot", "vecdot", "cross", "diagonal", "trace", "matrix_transpose", "solve",
           "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "qr", "svd", "svdvals",
           "lstsq", "pinv", "matrix_rank", "cond", "tensorinv", "tensorsolve", "eig", "eigvals",
           "LinAlgError", "SlogdetResult", "EighResult", "QRResult", "SVDResult", "EigResult"]


def _as_inexact(x):
    x = asarray(x)
    dt = core.get_aval(x).dtype
    return x if dtypes.is_inexact(dt) else cast(x, dtypes.float64)


def _sum_squares(x, axis, keepdims):
    if dtypes.is_complex(core.get_aval(x).dtype):  # |z|^2 without the square root of abs
        re, im = lax.real(x), lax.imag(x)
        return _sum(lax.add(lax.mul(re, re), lax.mul(im, im)), axis=axis, keepdims=keepdims)
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
        nonzero = cast(lax.ne(x, lax.full_like(x, 0)), dtypes.real_dtype(core.get_aval(x).dtype))
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
        rest = [d for d in range(core.get_aval(x).ndim) if d not in axes]
        s = svdvals(lax.transpose(x, tuple(rest) + axes))
        out = _sum(s, axis=-1) if ord == "nuc" else (_max if ord == 2 else _min)(s, axis=-1)
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
    x = _as_inexact(x)
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
    x = _as_inexact(x)
    ndim = core.get_aval(x).ndim
    axes = tuple(range(ndim)) if axis is None else tuple(
        normalize_axis(a, ndim) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    return scalarize(_vector_norm(x, ord, axes, keepdims))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm`` over the last two axes."""
    x = _as_inexact(x)
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
    """``numpy.linalg.matrix_power`` (by repeated squaring; of ``inv(a)`` when ``n < 0``)."""
    a = asarray(a)
    n = operator.index(n)
    shape = core.get_aval(a).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    if n < 0:
        a, n = inv(a), -n
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


# ---------------------------------------------------------------------------------------------
# Solvers and decompositions
# ---------------------------------------------------------------------------------------------

LinAlgError = np.linalg.LinAlgError
SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = collections.namedtuple("QRResult", ["Q", "R"])
SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
SlogdetResult.__doc__ = "What ``slogdet`` returns: ``(sign, logabsdet)``."
EighResult.__doc__ = "What ``eigh`` returns: ``(eigenvalues, eigenvectors)``."
QRResult.__doc__ = "What ``qr`` returns: ``(Q, R)``."
SVDResult.__doc__ = "What ``svd`` returns: ``(U, S, Vh)``."


def _linalg_dtype(*dts) -> np.dtype:
    """The dtype the solvers compute in: float64 for integers and bools, float32 for float16."""
    dt = dtypes.result_type(*dts) if len(dts) > 1 else np.dtype(dts[0])
    if dtypes.is_complex(dt):
        raise NotImplementedError("functrace.numpy.linalg does not support complex matrices")
    if not dtypes.is_inexact(dt):
        return np.dtype(np.float64)
    return np.dtype(np.float32) if dt == np.float16 else dt


def _float_matrix(a, name: str, square: bool = True, complex_ok: bool = False):
    """``a`` as a float (or, if ``complex_ok``, complex) array of at least two dimensions
    (square ones if ``square``)."""
    a = asarray(a)
    dt = core.get_aval(a).dtype
    _checked_shape(a, name, square)
    return cast(a, _inexact_dtype(dt) if complex_ok else _linalg_dtype(dt))


def _checked_shape(a, name: str, square: bool):
    aval = core.get_aval(a)
    if aval.ndim < 2:
        raise LinAlgError(f"{aval.ndim}-dimensional array given to {name}. Array must be at "
                          "least two-dimensional")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise LinAlgError(f"{name}: last 2 dimensions of the array must be square, got shape "
                          f"{aval.shape}")
    return a


def _inexact_dtype(*dts) -> np.dtype:
    """``_linalg_dtype``, but complex stays complex (complex128 unless all are complex64)."""
    dt = dtypes.result_type(*dts) if len(dts) > 1 else np.dtype(dts[0])
    if dtypes.is_complex(dt):
        return np.dtype(np.complex64) if dt == np.complex64 else np.dtype(np.complex128)
    return _linalg_dtype(dt)


def _shape(x) -> tuple[int, ...]:
    return core.get_aval(x).shape


def _mT(x):
    nd = core.get_aval(x).ndim
    return lax.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _H(x):
    """Conjugate transpose of the last two axes (transpose for real ``x``)."""
    t = _mT(x)
    return lax.conj(t) if dtypes.is_complex(core.get_aval(t).dtype) else t


def _eye_like(a):
    from ._creation import eye
    from ._shape import broadcast_to
    aval = core.get_aval(a)
    return broadcast_to(cast(eye(aval.shape[-1]), aval.dtype), aval.shape)


def solve(a, b):
    """``numpy.linalg.solve``: ``x`` with ``a @ x == b``. ``b`` is a vector if 1-D, otherwise a
    stack of matrices (..., n, k); leading axes broadcast against ``a``'s."""
    from ._shape import broadcast_to
    a = _float_matrix(a, "solve", complex_ok=True)
    b = asarray(b)
    dt = _inexact_dtype(core.get_aval(a).dtype, core.get_aval(b).dtype)
    a, b = cast(a, dt), cast(b, dt)
    n = _shape(a)[-1]
    b_shape = _shape(b)
    vector = len(b_shape) == 1
    if len(b_shape) == 0 or b_shape[-1 if vector else -2] != n:
        raise ValueError(f"solve: the right-hand side of shape {b_shape} does not match the "
                         f"matrix of shape {_shape(a)} (it needs {n} rows)")
    if vector:
        b = lax.reshape(b, (n, 1))
    batch = broadcast_shapes(_shape(a)[:-2], _shape(b)[:-2])
    a = broadcast_to(a, batch + _shape(a)[-2:])
    b = broadcast_to(b, batch + _shape(b)[-2:])
    x = lax.linalg_solve(a, b)
    return lax.reshape(x, batch + (n,)) if vector else x


def inv(a):
    """``numpy.linalg.inv`` (NaNs for a singular matrix, as in JAX)."""
    a = _float_matrix(a, "inv", complex_ok=True)
    return lax.linalg_solve(a, _eye_like(a))


def det(a):
    """``numpy.linalg.det``."""
    return scalarize(lax.det(_float_matrix(a, "det", complex_ok=True)))


def slogdet(a):
    """``numpy.linalg.slogdet``: ``(sign, logabsdet)`` as a ``SlogdetResult``."""
    sign, logdet = lax.slogdet(_float_matrix(a, "slogdet", complex_ok=True))
    return SlogdetResult(scalarize(sign), scalarize(logdet))


def cholesky(a, /, *, upper=False, symmetrize_input=True):
    """``numpy.linalg.cholesky``: ``L`` with ``L @ L^H == a`` (``upper``: ``L^H``), for real
    symmetric or complex Hermitian ``a``. As in JAX, ``(a + a^H) / 2`` is factored
    (``symmetrize_input``) and a matrix that is not positive definite gives NaNs instead of
    raising."""
    lo = lax.cholesky(_float_matrix(a, "cholesky", complex_ok=True),
                      symmetrize_input=symmetrize_input)
    return _H(lo) if upper else lo


def _uplo(UPLO) -> bool:
    if UPLO is None or UPLO in ("L", "l"):
        return True
    if UPLO in ("U", "u"):
        return False
    raise ValueError("UPLO argument must be 'L' or 'U'")


def eigh(a, UPLO=None, symmetrize_input=True):
    """``numpy.linalg.eigh``: ``EighResult(eigenvalues, eigenvectors)`` of real symmetric or
    complex Hermitian matrices, eigenvalues ascending (and real). Derivatives assume distinct
    eigenvalues (and functions that do not depend on the signs, or phases, of the
    eigenvectors)."""
    v, w = lax.eigh(_float_matrix(a, "eigh", complex_ok=True), lower=_uplo(UPLO),
                    symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):
    """``numpy.linalg.eigvalsh``: the eigenvalues of symmetric matrices, ascending."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def qr(a, mode="reduced"):
    """``numpy.linalg.qr``: ``QRResult(Q, R)`` (``mode`` 'reduced' or 'complete'), or ``R``
    alone (``mode='r'``)."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: unsupported mode {mode!r} (functrace supports 'reduced', "
                         "'complete' and 'r')")
    q, r = lax.qr(_float_matrix(a, "qr", square=False, complex_ok=True),
                  full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``numpy.linalg.svd``: ``SVDResult(U, S, Vh)`` with ``S`` descending, or ``S`` alone.
    ``hermitian`` is accepted and ignored (the general SVD of a symmetric matrix is a valid
    answer). Derivatives of ``U``/``Vh`` of a non-square matrix need ``full_matrices=False``."""
    del hermitian
    a = _float_matrix(a, "svd", square=False, complex_ok=True)
    if not compute_uv:
        return lax.svd(a, compute_uv=False)
    u, s, vh = lax.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x, /):
    """``numpy.linalg.svdvals``: singular values, descending."""
    return lax.svd(_float_matrix(x, "svdvals", square=False, complex_ok=True), compute_uv=False)


def _bcast_last(v, shape):
    """(..., k) -> ``shape`` (..., n, k): repeated down the rows."""
    nb = len(shape) - 2
    return lax.broadcast_in_dim(v, shape, tuple(range(nb)) + (nb + 1,))


def _masked_inverse(s, mask):
    """``1 / s`` where ``mask``, else 0 (with no division by zero to poison derivatives)."""
    one = lax.full_like(s, 1)
    return lax.select(mask, lax.div(one, lax.select(mask, s, one)), lax.full_like(s, 0))


def _default_rtol(a) -> float:
    m, n = _shape(a)[-2:]
    return float(np.finfo(core.get_aval(a).dtype).eps) * builtins.max(m, n)


def pinv(a, rtol=None, hermitian=False, *, rcond=None):
    """``numpy.linalg.pinv``: the Moore-Penrose pseudo-inverse from the SVD, dropping singular
    values at most ``rtol`` (default ``max(m, n) * eps``) times the largest. Its derivative is
    that of the pseudo-inverse formula (valid while the rank is constant), so it also exists
    where singular values repeat, e.g. at orthogonal matrices."""
    del hermitian
    if rcond is not None:
        rtol = rcond
    a = _float_matrix(a, "pinv", square=False)
    if rtol is None:
        rtol = _default_rtol(a)
    return _pinv(a, cast(asarray(rtol), core.get_aval(a).dtype))


def _pinv_impl(a, rtol):
    u, s, vh = lax.svd(a, full_matrices=False)
    if core.get_aval(rtol).ndim:
        rtol = lax.expand_dims(rtol, -1)
    mask = greater(s, multiply(rtol, _max(s, axis=-1, keepdims=True)))
    v = _mT(vh)
    v_scaled = lax.mul(v, _bcast_last(_masked_inverse(s, mask), _shape(v)))
    return matmul(v_scaled, _mT(u))


def _pinv_jvp(primals, tangents):
    (a, rtol), (da, _) = primals, tangents
    p = _pinv(a, rtol)
    pt, dat = _mT(p), _mT(da)
    # d pinv = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P  (Golub & Pereyra)
    first = matmul(matmul(p, da), p)
    right = matmul(matmul(p, pt), lax.sub(dat, matmul(dat, matmul(a, p))))
    left = matmul(lax.sub(dat, matmul(matmul(p, a), dat)), matmul(pt, p))
    return p, lax.add(lax.sub(right, first), left)


_pinv = custom_jvp(_pinv_impl)
_pinv.defjvp(_pinv_jvp)


def lstsq(a, b, rcond=None, *, numpy_resid=False):
    """``numpy.linalg.lstsq`` for a 2-D ``a``: ``(x, residuals, rank, s)`` from the SVD, as
    JAX computes it: singular values below ``rcond`` (default ``max(m, n) * eps``) times the
    largest are dropped, and the residuals ``sum((b - a @ x)**2, axis=0)`` are always returned
    (NumPy's empty residuals for rank-deficient or wide ``a`` need ``numpy_resid=True`` and a
    concrete ``a``)."""
    a, b = asarray(a), asarray(b)
    if core.get_aval(a).ndim != 2:
        raise LinAlgError(f"lstsq needs a 2-D coefficient matrix, got shape {_shape(a)}")
    b_ndim = core.get_aval(b).ndim
    if b_ndim not in (1, 2):
        raise LinAlgError(f"lstsq needs a 1-D or 2-D right-hand side, got shape {_shape(b)}")
    dt = _linalg_dtype(core.get_aval(a).dtype, core.get_aval(b).dtype)
    a, b = cast(a, dt), cast(b, dt)
    m, n = _shape(a)
    if _shape(b)[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions {_shape(a)} and {_shape(b)}")
    b2 = lax.reshape(b, (m, 1)) if b_ndim == 1 else b
    u, s, vh = lax.svd(a, full_matrices=False)
    if rcond is None or rcond < 0:
        rcond = float(np.finfo(dt).eps) * (builtins.max(m, n) if rcond is None else 1)
    k = _shape(s)[0]
    if k == 0:
        mask = lax.full((0,), True)
    else:
        cutoff = lax.mul(lax.index_in_dim(s, 0, keepdims=True), float(rcond))
        mask = lax.ge(s, lax.broadcast_in_dim(cutoff, (k,), (0,)))
    rank = _sum(mask)
    s_inv = _masked_inverse(s, mask)
    ut_b = lax.dot_general(u, b2, (((0,), (0,)), ((), ())))  # (k, K)
    scaled = lax.mul(ut_b, lax.broadcast_in_dim(s_inv, _shape(ut_b), (0,)))
    x = lax.dot_general(vh, scaled, (((0,), (0,)), ((), ())))  # (n, K)
    resid_full = lax.sub(b2, matmul(a, x))
    if numpy_resid:
        r = concrete_value(rank)
        if r is None:
            raise ValueError("lstsq(numpy_resid=True) needs a concrete rank; call it outside "
                             "jit/vmap or use numpy_resid=False")
        resid = (_sum(lax.mul(resid_full, resid_full), axis=0) if int(r) == n and m > n
                 else lax.full((0,), 0, dt))
    else:
        resid = _sum(lax.mul(resid_full, resid_full), axis=0)
    if b_ndim == 1:
        x = lax.reshape(x, (n,))
    return x, scalarize(resid), scalarize(rank), s


def matrix_rank(M, rtol=None, *, hermitian=False, tol=None):
    """``numpy.linalg.matrix_rank`` (JAX's signature: the second argument is ``rtol``): the
    number of singular values above ``tol``, or above ``rtol`` (default ``max(m, n) * eps``)
    times the largest."""
    del hermitian
    M = asarray(M)
    if core.get_aval(M).ndim < 2:
        return scalarize(cast(_any_nonzero(M), np.dtype(np.int64)))
    M = _float_matrix(M, "matrix_rank", square=False)
    s = svdvals(M)
    dt = core.get_aval(s).dtype
    if tol is None:
        rel = _default_rtol(M) if rtol is None else rtol
        tol = multiply(_max(s, axis=-1, keepdims=True), cast(asarray(rel), dt))
    else:
        tol = cast(asarray(tol), dt)
        if core.get_aval(tol).ndim:
            tol = lax.expand_dims(tol, -1)
    return scalarize(_sum(greater(s, tol), axis=-1))


def _any_nonzero(x):
    from ._reductions import any as _any
    return _any(lax.ne(x, lax.full_like(x, 0)))


def cond(x, p=None):
    """``numpy.linalg.cond``: the condition number in norm ``p`` (default 2, from the singular
    values); infinite for a singular matrix."""
    from ._ufuncs import isnan, logical_and, logical_not, where
    x = _float_matrix(x, "cond", square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = lax.index_in_dim(s, 0, -1, False), lax.index_in_dim(s, -1, -1, False)
        r = lax.div(big, small) if p != -2 else lax.div(small, big)
    else:
        r = multiply(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))
    from ._reductions import any as _any
    nan_input = _any(isnan(x), axis=(-2, -1))
    r = where(logical_and(isnan(r), logical_not(nan_input)), np.inf, r)
    return scalarize(r)


def tensorinv(a, ind=2):
    """``numpy.linalg.tensorinv``: the inverse of ``a`` seen as a matrix from its first ``ind``
    axes to the rest."""
    a = asarray(a)
    shape = _shape(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    rows, cols = shape[:ind], shape[ind:]
    m = inv(lax.reshape(a, (math.prod(rows), math.prod(cols))))
    return lax.reshape(m, cols + rows)


def tensorsolve(a, b, axes=None):
    """``numpy.linalg.tensorsolve``: ``x`` with ``tensordot(a, x, x.ndim) == b``."""
    a, b = asarray(a), asarray(b)
    nd = core.get_aval(a).ndim
    if axes is not None:
        axes = [normalize_axis(ax, nd) for ax in axes]
        order = [d for d in range(nd) if d not in axes] + axes
        a = lax.transpose(a, tuple(order))
    b_shape = _shape(b)
    x_shape = _shape(a)[len(b_shape):]
    rows, cols = math.prod(b_shape), math.prod(x_shape)
    if rows != cols:
        raise LinAlgError("Input arrays must satisfy the requirement "
                          "prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])")
    x = solve(lax.reshape(a, (rows, cols)), lax.reshape(b, (rows,)))
    return lax.reshape(x, x_shape)


EigResult = collections.namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
EigResult.__doc__ = "What ``eig`` returns: ``(eigenvalues, eigenvectors)``."


def eig(a):
    """``numpy.linalg.eig``: ``EigResult(eigenvalues, eigenvectors)`` of general square
    matrices, real or complex; both are always complex (complex64 for float32/complex64
    input, as JAX), eigenvectors of unit norm in the columns. Derivatives need distinct
    eigenvalues; those of the eigenvectors fix their norm but not their phase (as JAX's)."""
    w, v = lax.eig(_float_matrix(a, "eig", complex_ok=True))
    return EigResult(w, v)


def eigvals(a):
    """``numpy.linalg.eigvals``: the (complex) eigenvalues of general square matrices."""
    (w,) = lax.eig(_float_matrix(a, "eigvals", complex_ok=True),
                   compute_right_eigenvectors=False)
    return w


_exports = {name: globals()[name] for name in __all__}
