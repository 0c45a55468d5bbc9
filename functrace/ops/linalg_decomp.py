"""Matrix decompositions and solvers: solve, det, slogdet, cholesky, triangular_solve, eigh, qr,
svd, eig.

Every primitive works on stacks of matrices: the last two axes are the matrix, any leading axes
are batch axes (as NumPy's ``linalg`` functions), and the NumPy implementations (LAPACK through
``numpy.linalg``; no SciPy) already loop over them. So the batching rules only move the vmapped
axis to the front (a solver whose matrix is not batched takes the batch as extra right-hand
sides instead). float32, float64, complex64 and complex128 are accepted and keep their
precision (eigenvalues of ``eigh``, singular values and ``slogdet``'s log are real; ``eig``'s
results are always complex). Under jit the real primitives are lowered to LAPACK kernels
(``functrace.backend.lapack``, registered at the end of this module); complex ones, and ``eig``,
run with their NumPy implementations (the compiled backend has no complex arrays).

Complex rules follow JAX's: Hermitian (conjugate-transpose) factorisations, and the library's
convention that a VJP is the transpose of the JVP.

Derivative rules are written with lax functions and these same primitives, so they can be
differentiated again. The solvers (``solve``, ``triangular_solve``) are linear in their
right-hand side and have transpose rules for it; that is also how reverse mode gets through the
JVPs of the other decompositions, whose tangents are solves and products with the primal
results (``det``'s uses an internal ``adjugate`` primitive, so it also exists at singular
matrices). As in JAX, a failed factorisation (a singular matrix for ``solve``, a matrix that is
not positive definite for ``cholesky``) gives NaNs for that matrix of the stack instead of
raising.
"""

from __future__ import annotations

import types

import numpy as np

from .. import _openblas, ad, batching, core
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray
from . import basic
from . import linalg as linalg_ops
from . import shapes as shape_ops

__all__ = ["linalg_solve", "det", "slogdet", "cholesky", "triangular_solve", "eigh", "qr",
           "svd", "eig"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INEXACT = _FLOATS + (np.dtype(np.complex64), np.dtype(np.complex128))

# ---------------------------------------------------------------------------------------------
# Shape-rule helpers
# ---------------------------------------------------------------------------------------------


def _check_float(name: str, *avals: ShapedArray) -> np.dtype:
    for a in avals:
        if a.dtype not in _INEXACT:
            raise TypeError(f"{name} needs float32, float64, complex64 or complex128 operands, "
                            f"got {a.dtype.name} (shape {a.shape})")
    if len({a.dtype for a in avals}) > 1:
        raise TypeError(f"{name} needs operands of equal dtypes, got "
                        + " and ".join(f"{a.dtype.name} (shape {a.shape})" for a in avals))
    return avals[0].dtype


def _check_matrix(name: str, a: ShapedArray, square: bool = True) -> None:
    if a.ndim < 2:
        raise TypeError(f"{name} needs a matrix (or a stack of matrices: shape (..., m, n)), "
                        f"got an operand of shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise TypeError(f"{name} needs square matrices (shape (..., n, n)), got shape {a.shape}")


def _same_square_shape(name: str):
    """Shape rule of a primitive mapping square float matrices to ones of the same type."""

    def rule(a: ShapedArray):
        _check_matrix(name, a)
        _check_float(name, a)
        return a

    return rule


def _check_batch(name: str, a: ShapedArray, b: ShapedArray) -> None:
    if b.ndim != a.ndim or a.shape[:-2] != b.shape[:-2]:
        raise TypeError(f"{name}: the operands need equal leading (batch) dimensions and rank, "
                        f"got shapes {a.shape} and {b.shape}")


# ---------------------------------------------------------------------------------------------
# Implementation helpers
# ---------------------------------------------------------------------------------------------


def _batched(fn, out_shapes, dtype, *args):
    """``fn(*args)`` on a stack of matrices; if LAPACK gives up on some of them (singular, not
    positive definite), those get NaNs and the others their results (JAX's behaviour)."""
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        pass
    batch = args[0].shape[:-2]
    outs = [np.full(batch + s, np.nan, dtype) for s in out_shapes]
    for idx in np.ndindex(*batch):
        try:
            res = fn(*(a[idx] for a in args))
        except np.linalg.LinAlgError:
            continue
        for o, r in zip(outs, res if isinstance(res, (tuple, list)) else [res]):
            o[idx] = r
    return outs if len(outs) > 1 else outs[0]


def _batch_to_front(vals, dims, axis_size):
    return [batching.bdim_at(v, d, axis_size) for v, d in zip(vals, dims)]


def _front_batch_rule(prim: Primitive):
    """Batch rule of a primitive that already maps over leading axes: put the vmapped axis of
    every operand first, bind, and say every output has it first."""

    def rule(vals, dims, axis_size, **params):
        out = prim.bind(*_batch_to_front(vals, dims, axis_size), **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)

    batching.batch_rules[prim] = rule


def _rhs_batch_rule(prim: Primitive, rows_side):
    """Batch rule of a solver ``prim(a, b, **params)``: when only ``b`` is batched, the batch
    becomes extra right-hand sides (columns of ``b``, or rows when ``rows_side(params)``), so the
    matrix is factored once rather than once per batch element."""

    def rule(vals, dims, axis_size, **params):
        (a, b), (da, db) = vals, dims
        if da is not None:
            return prim.bind(*_batch_to_front(vals, dims, axis_size), **params), 0
        shape = core.get_aval(b).shape  # with the batch axis
        r = len(shape)
        rows = rows_side(params)
        # (..., n, B, k) -> (..., n, B*k), or (..., B, k, n) -> (..., B*k, n)
        at = r - 3 if rows else r - 2
        b = batching.moveaxis(b, db, at)
        moved = core.get_aval(b).shape
        merged = moved[:at] + (moved[at] * moved[at + 1],) + moved[at + 2:]
        x = prim.bind(a, basic.reshape(b, merged), **params)
        return basic.reshape(x, moved), at

    batching.batch_rules[prim] = rule


# ---------------------------------------------------------------------------------------------
# lax helpers for the rules (all differentiable and batchable)
# ---------------------------------------------------------------------------------------------


def _mT(x):
    """Swap the last two axes."""
    nd = core.get_aval(x).ndim
    return basic.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mm(a, b):
    """Matrix product of two stacks with equal batch axes."""
    nd = core.get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return linalg_ops.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _eye(shape, dtype):
    """Identity matrices broadcast to ``shape`` (..., n, n) (any trailing pair: rectangular)."""
    m, n = shape[-2:]
    eq = basic.eq(shape_ops.iota(np.int32, (m, n), 0), shape_ops.iota(np.int32, (m, n), 1))
    return basic.broadcast_to_rank(basic.convert_element_type(eq, dtype), tuple(shape))


def _tri_mask(shape, lower: bool, k: int = 0):
    """Boolean mask of the lower (``i >= j - k``) or upper (``i <= j - k``) triangle."""
    m, n = shape[-2:]
    rows = shape_ops.iota(np.int32, (m, n), 0)
    rows = basic.add(rows, int(k)) if k else rows
    cols = shape_ops.iota(np.int32, (m, n), 1)
    return basic.broadcast_to_rank(basic.ge(rows, cols) if lower else basic.le(rows, cols),
                                 tuple(shape))


def _tri(x, lower: bool, k: int = 0):
    """The lower/upper triangle of ``x`` (diagonal offset ``k``), zeros elsewhere."""
    aval = core.get_aval(x)
    return basic.select(_tri_mask(aval.shape, lower, k), x, basic.full_like(x, 0))


def _diag(x):
    """The diagonals of a stack of square matrices, shape (..., n)."""
    aval = core.get_aval(x)
    return basic.reduce_sum(basic.mul(x, _eye(aval.shape, aval.dtype)), aval.ndim - 1)


def _row(v, n: int):
    """(..., k) -> (..., n, k): ``v`` repeated down the rows (``v[..., None, :]``)."""
    aval = core.get_aval(v)
    nb = aval.ndim - 1
    return basic.broadcast_in_dim(v, aval.shape[:-1] + (n, aval.shape[-1]),
                                tuple(range(nb)) + (nb + 1,))


def _col(v, n: int):
    """(..., k) -> (..., k, n): ``v`` repeated along the columns (``v[..., :, None]``)."""
    aval = core.get_aval(v)
    nb = aval.ndim - 1
    return basic.broadcast_in_dim(v, aval.shape + (n,), tuple(range(nb + 1)))


def _is_complex(x) -> bool:
    return np.dtype(core.get_aval(x).dtype).kind == "c"


def _real_dtype(dtype) -> np.dtype:
    return np.dtype(np.float32) if np.dtype(dtype) in (np.complex64, np.float32) \
        else np.dtype(np.float64)


def _conj(x):
    """``conj(x)`` for complex ``x``; real ``x`` unchanged (no equation)."""
    return basic.conj(x) if _is_complex(x) else x


def _H(x):
    """Conjugate transpose of the last two axes (the transpose for real ``x``)."""
    return _conj(_mT(x))


def _as(x, dtype):
    """``x`` converted to ``dtype`` (no equation when it already has it)."""
    return x if core.get_aval(x).dtype == np.dtype(dtype) else \
        basic.convert_element_type(x, np.dtype(dtype))


def _trace(x):
    aval = core.get_aval(x)
    return basic.reduce_sum(_diag(x), aval.ndim - 2)


def _sub_tangents(x, y):
    """``x - y`` where either may be a symbolic zero."""
    if isinstance(y, Zero):
        return x
    if isinstance(x, Zero):
        return basic.neg(y)
    return basic.sub(x, y)


# ---------------------------------------------------------------------------------------------
# solve: a x = b for square a (..., n, n) and b (..., n, k)
# ---------------------------------------------------------------------------------------------

solve_p = Primitive("linalg_solve")


def _solve_shape(a: ShapedArray, b: ShapedArray):
    _check_matrix("linalg_solve", a)
    _check_matrix("linalg_solve", b, square=False)
    _check_float("linalg_solve", a, b)
    _check_batch("linalg_solve", a, b)
    if b.shape[-2] != a.shape[-1]:
        raise TypeError(f"linalg_solve: the right-hand side of shape {b.shape} needs "
                        f"{a.shape[-1]} rows to match the matrix of shape {a.shape}")
    return b


def _solve_impl(a, b):
    a, b = np.asarray(a), np.asarray(b)
    out = _batched(np.linalg.solve, [b.shape[-2:]], b.dtype, a, b)
    return np.asarray(out, b.dtype)


def _solve_jvp(primals, tangents):
    a, b = primals
    da, db = tangents
    x = solve_p.bind(a, b)
    rhs = db if isinstance(da, Zero) else _sub_tangents(db, _mm(da, x))
    return x, solve_p.bind(a, ad.instantiate(rhs))


def _solve_transpose(ct, a, b):
    if is_undefined(a):
        raise TypeError("linalg_solve is not linear in its matrix operand; cannot transpose it")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    return [None, solve_p.bind(_mT(a), ct)]


core.shape_rules[solve_p] = _solve_shape
core.impl_rules[solve_p] = _solve_impl
ad.jvp_rules[solve_p] = _solve_jvp
ad.transpose_rules[solve_p] = _solve_transpose
_rhs_batch_rule(solve_p, lambda params: False)


def linalg_solve(a, b):
    """Solve ``a @ x = b`` for square ``a`` (..., n, n) and ``b`` (..., n, k) with the same
    leading axes (no broadcasting; see ``functrace.numpy.linalg.solve`` for that)."""
    return solve_p.bind(a, b)


# ---------------------------------------------------------------------------------------------
# det and slogdet
# ---------------------------------------------------------------------------------------------

det_p = Primitive("det")


def _det_shape(a: ShapedArray):
    _check_matrix("det", a)
    _check_float("det", a)
    return ShapedArray(a.shape[:-2], a.dtype)


def _inv_times_trace(a, da):
    """``trace(inv(a) @ da)``: the derivative of log|det a| along ``da``."""
    return _trace(solve_p.bind(a, da))


def _det_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    # d det = <adj(a)^T, da>: the adjugate exists (and is computed stably) for singular
    # matrices too, where det * inv(a) does not
    nd = core.get_aval(a).ndim
    adj_t = _mT(adjugate_p.bind(a))
    return det_p.bind(a), basic.reduce_sum(basic.mul(adj_t, ad.instantiate(da)), (nd - 2, nd - 1))


core.shape_rules[det_p] = _det_shape
core.impl_rules[det_p] = lambda a: np.asarray(np.linalg.det(a), np.asarray(a).dtype)
ad.jvp_rules[det_p] = _det_jvp
_front_batch_rule(det_p)


def det(a):
    """Determinants of square matrices (..., n, n)."""
    return det_p.bind(a)


# The adjugate (transposed cofactor matrix, ``det(a) * inv(a)`` when a is invertible): only for
# the derivative of det, so it is not exported.
adjugate_p = Primitive("adjugate")


def _adjugate_impl(a):
    # a = u diag(s) vh  =>  adj(a) = adj(vh) adj(diag(s)) adj(u) = det(v) v diag(p) det(u) u^T
    # with p_i the product of the other singular values: no division, so rank n-1 works.
    a = np.asarray(a)
    n = a.shape[-1]
    u, s, vh = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], -1), -1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], -1), -1)[..., ::-1]
    others = before * after
    sign = np.linalg.det(u) * np.linalg.det(vh)
    adj = np.swapaxes(vh, -1, -2).conj() @ (others[..., :, None] * np.swapaxes(u, -1, -2).conj())
    return np.asarray(adj * sign[..., None, None], a.dtype).reshape(a.shape[:-2] + (n, n))


def _adjugate_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    # adj = det * inv  =>  d adj = adj tr(x) - x adj with x = inv(a) da (needs invertible a)
    adj = adjugate_p.bind(a)
    x = solve_p.bind(a, ad.instantiate(da))
    tr = _trace(x)
    nd = core.get_aval(a).ndim
    tr_mat = basic.broadcast_in_dim(tr, core.get_aval(a).shape, tuple(range(nd - 2)))
    return adj, basic.sub(basic.mul(adj, tr_mat), _mm(x, adj))


core.shape_rules[adjugate_p] = _same_square_shape("adjugate")
core.impl_rules[adjugate_p] = _adjugate_impl
ad.jvp_rules[adjugate_p] = _adjugate_jvp
_front_batch_rule(adjugate_p)


slogdet_p = Primitive("slogdet", multiple_results=True)


def _slogdet_shape(a: ShapedArray):
    _check_matrix("slogdet", a)
    _check_float("slogdet", a)
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], _real_dtype(a.dtype))]


def _slogdet_impl(a):
    a = np.asarray(a)
    sign, logdet = np.linalg.slogdet(a)
    return [np.asarray(sign, a.dtype), np.asarray(logdet, _real_dtype(a.dtype))]


def _slogdet_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    sign, logdet = slogdet_p.bind(a)
    t = _inv_times_trace(a, ad.instantiate(da))
    if not _is_complex(a):
        return [sign, logdet], [Zero(core.get_aval(sign)), t]
    # d log det = t: its real part moves log|det|, its imaginary part turns the sign
    re = basic.real(t)
    return [sign, logdet], [basic.mul(sign, basic.sub(t, _as(re, core.get_aval(t).dtype))), re]


core.shape_rules[slogdet_p] = _slogdet_shape
core.impl_rules[slogdet_p] = _slogdet_impl
ad.jvp_rules[slogdet_p] = _slogdet_jvp
_front_batch_rule(slogdet_p)


def slogdet(a):
    """``(sign, log|det a|)`` of square matrices (..., n, n)."""
    sign, logdet = slogdet_p.bind(a)
    return sign, logdet


# ---------------------------------------------------------------------------------------------
# triangular_solve
# ---------------------------------------------------------------------------------------------

triangular_solve_p = Primitive("triangular_solve")


def _triangular_solve_shape(a: ShapedArray, b: ShapedArray, *, left_side, lower, transpose_a,
                            conjugate_a, unit_diagonal):
    _check_matrix("triangular_solve", a)
    _check_matrix("triangular_solve", b, square=False)
    _check_float("triangular_solve", a, b)
    _check_batch("triangular_solve", a, b)
    side = b.shape[-2] if left_side else b.shape[-1]
    if side != a.shape[-1]:
        what = "rows" if left_side else "columns"
        raise TypeError(f"triangular_solve: with left_side={left_side} the right-hand side of "
                        f"shape {b.shape} needs {a.shape[-1]} {what} to match the matrix of "
                        f"shape {a.shape}")
    return b


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                           unit_diagonal):
    a, b = np.asarray(a), np.asarray(b)
    # the O(n^2) substitution of NumPy's bundled OpenBLAS, as compiled code calls it
    x = _openblas.triangular_solve(a, b, left=left_side, lower=lower, trans=transpose_a,
                                   unit=unit_diagonal, conj=conjugate_a and a.dtype.kind == "c")
    if x is not None:
        return x
    t = np.tril(a) if lower else np.triu(a)
    if conjugate_a and np.iscomplexobj(t):
        t = np.conj(t)
    if unit_diagonal:
        n = a.shape[-1]
        t[..., np.arange(n), np.arange(n)] = 1
    # op(t) x = b, or x op(t) = b  <=>  op(t)^T x^T = b^T
    if transpose_a == left_side:
        t = np.swapaxes(t, -1, -2)
    if not left_side:
        b = np.swapaxes(b, -1, -2)
    x = np.asarray(_batched(np.linalg.solve, [b.shape[-2:]], b.dtype, t, b), b.dtype)
    return x if left_side else np.ascontiguousarray(np.swapaxes(x, -1, -2))


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    x = triangular_solve_p.bind(a, b, **params)
    if isinstance(da, Zero):
        return x, triangular_solve_p.bind(a, db, **params)
    # Only the triangle of a (less its diagonal, if unit) is read: so only that of da counts.
    lower = params["lower"]
    strict = (-1 if lower else 1) if params["unit_diagonal"] else 0
    dt = _tri(da, lower, strict)
    if params["transpose_a"]:
        dt = _mT(dt)
    if params["conjugate_a"]:
        dt = _conj(dt)
    # left: op(a) x = b  =>  op(a) dx = db - op(da) x; right: dx op(a) = db - x op(da)
    moved = _mm(dt, x) if params["left_side"] else _mm(x, dt)
    rhs = _sub_tangents(db, moved)
    return x, triangular_solve_p.bind(a, rhs, **params)


def _triangular_solve_transpose(ct, a, b, **params):
    if is_undefined(a):
        raise TypeError("triangular_solve is not linear in its matrix operand; cannot "
                        "transpose it")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    flipped = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **flipped)]


core.shape_rules[triangular_solve_p] = _triangular_solve_shape
core.impl_rules[triangular_solve_p] = _triangular_solve_impl
ad.jvp_rules[triangular_solve_p] = _triangular_solve_jvp
ad.transpose_rules[triangular_solve_p] = _triangular_solve_transpose
_rhs_batch_rule(triangular_solve_p, lambda params: not params["left_side"])


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solve ``op(a) @ x = b`` (``left_side``) or ``x @ op(a) = b`` for triangular ``a``
    (..., m, m), reading only its ``lower`` or upper triangle (``unit_diagonal``: its diagonal
    is taken as ones). ``op(a)`` is ``a.T`` with ``transpose_a``. ``b`` has the same leading
    axes. Defaults as JAX's ``lax.linalg.triangular_solve`` (note ``left_side=False``)."""
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a), conjugate_a=bool(conjugate_a),
                                   unit_diagonal=bool(unit_diagonal))


# ---------------------------------------------------------------------------------------------
# cholesky
# ---------------------------------------------------------------------------------------------

cholesky_p = Primitive("cholesky")


def _cholesky_impl(a):
    a = np.asarray(a)
    out = np.asarray(_batched(np.linalg.cholesky, [a.shape[-2:]], a.dtype, a), a.dtype)
    # a failed factor is NaN on and below the diagonal only, as LAPACK's (and JAX's) output
    return np.tril(out) if np.isnan(out).any() else out


def _cholesky_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lo = cholesky_p.bind(a)
    # a = L L^H  =>  L^-1 da L^-H = S + S^H with S = L^-1 dL lower triangular: S is the lower
    # triangle of the (symmetric) left side with its diagonal halved, and dL = L S.
    left = triangular_solve(lo, ad.instantiate(da), left_side=True, lower=True)
    both = triangular_solve(lo, left, left_side=False, lower=True, transpose_a=True,
                            conjugate_a=_is_complex(lo))
    aval = core.get_aval(a)
    half_diag = basic.sub(basic.full_like(a, 1), basic.mul(_eye(aval.shape, aval.dtype), 0.5))
    return lo, _mm(lo, basic.mul(_tri(both, True), half_diag))


core.shape_rules[cholesky_p] = _same_square_shape("cholesky")
core.impl_rules[cholesky_p] = _cholesky_impl
ad.jvp_rules[cholesky_p] = _cholesky_jvp
_front_batch_rule(cholesky_p)


def _symmetrize(name: str, x):
    """``(x + x^H) / 2``, after checking ``x`` (so a bad shape is reported as ``name``'s)."""
    aval = core.get_aval(x)
    _check_matrix(name, aval)
    _check_float(name, aval)
    return basic.mul(basic.add(x, _H(x)), basic.full_like(x, 0.5))


def cholesky(x, *, symmetrize_input: bool = True):
    """Lower Cholesky factors ``L`` (``L @ L^H == x``) of symmetric (Hermitian) positive
    definite matrices (..., n, n); NaNs for a matrix that is not positive definite.
    ``symmetrize_input`` uses ``(x + x^H) / 2`` (so derivatives are symmetric); otherwise only
    the lower triangle is read."""
    if symmetrize_input:
        x = _symmetrize("cholesky", x)
    return cholesky_p.bind(x)


# ---------------------------------------------------------------------------------------------
# eigh
# ---------------------------------------------------------------------------------------------

eigh_p = Primitive("eigh", multiple_results=True)


def _eigh_shape(a: ShapedArray, *, lower):
    _check_matrix("eigh", a)
    _check_float("eigh", a)
    return [a, ShapedArray(a.shape[:-1], _real_dtype(a.dtype))]


def _eigh_impl(a, *, lower):
    a = np.asarray(a)
    n = a.shape[-1]

    def fn(m):
        w, v = np.linalg.eigh(m, UPLO="L" if lower else "U")
        return v, w

    v, w = _batched(fn, [(n, n), (n,)], a.dtype, a)
    return [np.asarray(v, a.dtype), np.real(np.asarray(w)).astype(_real_dtype(a.dtype))]


def _eigh_jvp(primals, tangents, *, lower):
    (a,), (da,) = primals, tangents
    v, w = eigh_p.bind(a, lower=lower)
    aval = core.get_aval(a)
    n = aval.shape[-1]
    # The tangent in the eigenbasis: its diagonal moves the eigenvalues, its off-diagonal part
    # (divided by the eigenvalue gaps) rotates the eigenvectors.
    p = _mm(_H(v), _mm(ad.instantiate(da), v))
    eye = _eye(aval.shape, _real_dtype(aval.dtype))
    gaps = basic.add(basic.sub(_row(w, n), _col(w, n)), eye)  # w_j - w_i, ones on the diagonal
    f = basic.sub(basic.div(basic.full_like(gaps, 1), gaps), eye)
    dw = _diag(p)
    return [v, w], [_mm(v, basic.mul(_as(f, aval.dtype), p)),
                    basic.real(dw) if _is_complex(dw) else dw]


core.shape_rules[eigh_p] = _eigh_shape
core.impl_rules[eigh_p] = _eigh_impl
ad.jvp_rules[eigh_p] = _eigh_jvp
_front_batch_rule(eigh_p)


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True, sort_eigenvalues: bool = True):
    """Eigen-decomposition of symmetric matrices (..., n, n): ``(v, w)`` with eigenvectors in
    the columns of ``v`` and eigenvalues ``w`` ascending (JAX's ``lax.linalg.eigh`` order).
    Derivatives need distinct eigenvalues."""
    if not sort_eigenvalues:
        raise NotImplementedError("eigh: functrace always sorts the eigenvalues")
    if symmetrize_input:
        x = _symmetrize("eigh", x)
    v, w = eigh_p.bind(x, lower=bool(lower))
    return v, w


# ---------------------------------------------------------------------------------------------
# qr
# ---------------------------------------------------------------------------------------------

qr_p = Primitive("qr", multiple_results=True)


def _qr_shape(a: ShapedArray, *, full_matrices):
    _check_matrix("qr", a, square=False)
    _check_float("qr", a)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    return [ShapedArray(a.shape[:-2] + (m, k), a.dtype),
            ShapedArray(a.shape[:-2] + (k, n), a.dtype)]


def _qr_impl(a, *, full_matrices):
    a = np.asarray(a)
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [np.asarray(q, a.dtype), np.asarray(r, a.dtype)]


def _qr_jvp(primals, tangents, *, full_matrices):
    (a,), (da,) = primals, tangents
    q, r = qr_p.bind(a, full_matrices=full_matrices)
    m, n = core.get_aval(a).shape[-2:]
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            f"functrace can differentiate qr only of matrices with at least as many rows as "
            f"columns, and with full_matrices=False unless square (got shape {(m, n)}, "
            f"full_matrices={full_matrices})")
    # da = dq r + q dr. With c = q^T da r^-1 = q^T dq + dr r^-1, the first term is
    # antisymmetric and the second upper triangular, so the strictly lower part of c fixes both.
    da_rinv = triangular_solve(r, ad.instantiate(da), left_side=False, lower=False)
    c = _mm(_H(q), da_rinv)
    low = _tri(c, True, -1)
    omega = basic.sub(low, _H(low))
    if _is_complex(c):
        # q^H dq is skew-Hermitian: its diagonal is imaginary, the imaginary diagonal of c
        # (LAPACK's r has a real diagonal, so dr r^-1 has none there)
        aval = core.get_aval(c)
        imag_diag = basic.sub(c, _as(basic.real(c), aval.dtype))
        omega = basic.add(omega, basic.mul(_eye(aval.shape, aval.dtype), imag_diag))
    dq = basic.add(_mm(q, basic.sub(omega, c)), da_rinv)
    dr = _mm(basic.sub(c, omega), r)
    return [q, r], [dq, dr]


core.shape_rules[qr_p] = _qr_shape
core.impl_rules[qr_p] = _qr_impl
ad.jvp_rules[qr_p] = _qr_jvp
_front_batch_rule(qr_p)


def qr(x, *, full_matrices: bool = True):
    """QR decomposition of matrices (..., m, n): ``(q, r)`` with orthonormal columns in ``q``
    and upper-triangular ``r``; ``full_matrices`` makes ``q`` square (JAX's default)."""
    q, r = qr_p.bind(x, full_matrices=bool(full_matrices))
    return q, r


# ---------------------------------------------------------------------------------------------
# svd
# ---------------------------------------------------------------------------------------------

svd_p = Primitive("svd", multiple_results=True)


def _svd_shape(a: ShapedArray, *, full_matrices, compute_uv):
    _check_matrix("svd", a, square=False)
    _check_float("svd", a)
    batch = a.shape[:-2]
    m, n = a.shape[-2:]
    k = min(m, n)
    s = ShapedArray(batch + (k,), _real_dtype(a.dtype))
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [ShapedArray(batch + (m, ku), a.dtype), s, ShapedArray(batch + (kv, n), a.dtype)]


def _svd_impl(a, *, full_matrices, compute_uv):
    a = np.asarray(a)
    if not compute_uv:
        return [np.asarray(np.linalg.svd(a, compute_uv=False), _real_dtype(a.dtype))]
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return [np.asarray(u, a.dtype), np.asarray(s, _real_dtype(a.dtype)),
            np.asarray(vh, a.dtype)]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (a,), (da,) = primals, tangents
    da = ad.instantiate(da)
    m, n = core.get_aval(a).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"functrace can differentiate svd of a non-square matrix (shape {(m, n)}) only with "
            "full_matrices=False")
    u, s, vh = svd_p.bind(a, full_matrices=False, compute_uv=True)
    v = _H(vh)
    k = min(m, n)
    dt = core.get_aval(a).dtype
    p = _mm(_H(u), _mm(da, v))  # the tangent in the singular bases, (..., k, k)
    ds = _diag(p)
    if _is_complex(ds):
        ds = basic.real(ds)
    if not compute_uv:
        return [s], [ds]
    # Off-diagonal rotations: f_ij = 1 / (s_j^2 - s_i^2), zero on the diagonal.
    srow, scol = _row(s, k), _col(s, k)
    eye = _eye(core.get_aval(srow).shape, core.get_aval(srow).dtype)
    gaps = basic.add(basic.mul(basic.add(srow, scol), basic.sub(srow, scol)), eye)
    f = _as(basic.sub(basic.div(basic.full_like(gaps, 1), gaps), eye), dt)
    srow_c, scol_c = _as(srow, dt), _as(scol, dt)
    p_s, s_p = basic.mul(p, srow_c), basic.mul(scol_c, p)  # p @ diag(s), diag(s) @ p
    du = _mm(u, basic.mul(f, basic.add(p_s, _H(p_s))))
    dv = _mm(v, basic.mul(f, basic.add(s_p, _H(s_p))))
    if _is_complex(p):
        # the phases: the imaginary diagonal of p, split between u and v (given to u)
        zero_s = basic.convert_element_type(basic.eq(s, basic.full_like(s, 0)),
                                            core.get_aval(s).dtype)
        s_inv = basic.sub(basic.div(basic.full_like(s, 1), basic.add(s, zero_s)), zero_s)
        half_skew = basic.mul(basic.sub(p, _H(p)), basic.full_like(p, 0.5))
        du = basic.add(du, _mm(u, basic.mul(half_skew, basic.mul(_eye(core.get_aval(p).shape, dt),
                                                           _as(_row(s_inv, k), dt)))))
    # Components outside the span of u (m > n) or v (n > m).
    if m > n:
        dav = _mm(da, v)
        du = basic.add(du, basic.div(basic.sub(dav, _mm(u, _mm(_H(u), dav))), _as(_row(s, m), dt)))
    if n > m:
        dahu = _mm(_H(da), u)
        dv = basic.add(dv, basic.div(basic.sub(dahu, _mm(v, _mm(vh, dahu))), _as(_row(s, n), dt)))
    return [u, s, vh], [du, ds, _H(dv)]


core.shape_rules[svd_p] = _svd_shape
core.impl_rules[svd_p] = _svd_impl
ad.jvp_rules[svd_p] = _svd_jvp
_front_batch_rule(svd_p)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition of matrices (..., m, n): ``(u, s, vh)`` with ``x = u @
    diag(s) @ vh`` and ``s`` descending, or just ``s`` when not ``compute_uv``. Derivatives of
    ``u``/``vh`` need distinct nonzero singular values."""
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    return tuple(outs) if compute_uv else outs[0]


# ---------------------------------------------------------------------------------------------
# eig: the general (non-symmetric) eigenproblem, complex results
# ---------------------------------------------------------------------------------------------

eig_p = Primitive("eig", multiple_results=True)


def _complex_dtype(dtype) -> np.dtype:
    return np.dtype(np.complex64) if np.dtype(dtype) in (np.float32, np.complex64) \
        else np.dtype(np.complex128)


def _eig_shape(a: ShapedArray, *, compute_eigenvectors):
    _check_matrix("eig", a)
    _check_float("eig", a)
    c = _complex_dtype(a.dtype)
    w = ShapedArray(a.shape[:-1], c)
    return [w, ShapedArray(a.shape, c)] if compute_eigenvectors else [w]


def _eig_impl(a, *, compute_eigenvectors):
    a = np.asarray(a)
    c = _complex_dtype(a.dtype)
    n = a.shape[-1]
    if not compute_eigenvectors:
        w = _batched(np.linalg.eigvals, [(n,)], c, a)
        return [np.asarray(w, c)]
    w, v = _batched(lambda m: tuple(np.linalg.eig(m)), [(n,), (n, n)], c, a)
    return [np.asarray(w, c), np.asarray(v, c)]


def _eig_jvp(primals, tangents, *, compute_eigenvectors):
    (a,), (da,) = primals, tangents
    aval = core.get_aval(a)
    c = _complex_dtype(aval.dtype)
    n = aval.shape[-1]
    w, v = eig_p.bind(a, compute_eigenvectors=True)
    # a v = v diag(w)  =>  v^-1 da v = diag(dw) + (w_j - w_i) (v^-1 dv)_ij
    p = solve_p.bind(v, _mm(_as(ad.instantiate(da), c), v))
    dw = _diag(p)
    if not compute_eigenvectors:
        return [w], [dw]
    eye = _eye(aval.shape, c)
    gaps = basic.add(basic.sub(_row(w, n), _col(w, n)), eye)
    f = basic.sub(basic.div(basic.full_like(gaps, 1), gaps), eye)
    dv = _mm(v, basic.mul(f, p))
    # NumPy's eigenvectors have unit norm: remove the tangent's component that changes it
    nd = aval.ndim
    radial = basic.real(basic.reduce_sum(basic.mul(basic.conj(v), dv), nd - 2))
    dv = basic.sub(dv, basic.mul(v, _row(_as(radial, c), n)))
    return [w, v], [dw, dv]


core.shape_rules[eig_p] = _eig_shape
core.impl_rules[eig_p] = _eig_impl
ad.jvp_rules[eig_p] = _eig_jvp
_front_batch_rule(eig_p)


def eig(x, *, compute_left_eigenvectors: bool = False, compute_right_eigenvectors: bool = True):
    """Eigen-decomposition of general square matrices (..., n, n), real or complex: ``(w, v)``
    with complex eigenvalues ``w`` and unit-norm right eigenvectors in the columns of ``v``
    (NumPy's ``linalg.eig`` order and normalisation), or ``(w,)`` without eigenvectors.
    Derivatives need distinct eigenvalues; those of ``v`` fix only its norm, not its phase, so
    differentiate functions that do not depend on the phase. Left eigenvectors are not
    supported."""
    if compute_left_eigenvectors:
        raise NotImplementedError("eig: functrace computes right eigenvectors only; the left "
                                  "ones are the right ones of the conjugate transpose")
    outs = eig_p.bind(x, compute_eigenvectors=bool(compute_right_eigenvectors))
    return tuple(outs)


# ``functrace.lax.linalg.cholesky`` etc., as JAX spells them
linalg = types.ModuleType("functrace.lax.linalg", "JAX's ``lax.linalg`` names.")
for _name in ("cholesky", "triangular_solve", "eigh", "qr", "svd", "eig"):
    setattr(linalg, _name, globals()[_name])
del _name
__all__.append("linalg")
