"""``scipy.linalg``-style dense linear algebra (``jax.scipy.linalg``'s names and defaults).

Thin compositions of ``functrace.lax.linalg`` and ``functrace.numpy.linalg``, so everything
traces, differentiates, batches and compiles. Note SciPy's defaults: ``cholesky`` and
``cho_factor`` return the *upper* factor unless ``lower=True``; ``solve_triangular`` reads the
upper triangle unless ``lower=True``.
"""

from __future__ import annotations

from .. import lax
from .. import numpy as fnp
from ..numpy._base import asarray

__all__ = ["cholesky", "cho_factor", "cho_solve", "solve_triangular", "solve", "inv", "det",
           "eigh", "eig", "eigvals", "svd", "qr", "block_diag"]


def _mT(x):
    return fnp.swapaxes(x, -1, -2)


def _H(x):
    """Conjugate transpose of the last two axes (transpose for real ``x``)."""
    t = _mT(x)
    return fnp.conj(t) if fnp.iscomplexobj(t) else t


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """The Cholesky factor of symmetric (Hermitian) positive definite ``a`` (..., n, n): upper
    ``U`` with ``U^H @ U == a`` by default, lower ``L`` with ``L @ L^H == a`` for
    ``lower=True``. Only that triangle of ``a`` is read (as in SciPy and JAX), so derivatives
    land there."""
    a = asarray(a)
    factor = lax.linalg.cholesky(a if lower else _H(a), symmetrize_input=False)
    return factor if lower else _H(factor)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``(c, lower)`` for ``cho_solve``: the Cholesky factor of ``a`` and which one it is."""
    return cholesky(a, lower=lower), lower


def _as_matrix_rhs(a, b):
    """``b`` with a trailing axis if it is a (batch of) vector(s), and whether one was added."""
    b = asarray(b)
    vector = fnp.ndim(b) == fnp.ndim(a) - 1
    return (b[..., None] if vector else b), vector


def solve_triangular(a, b, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False, debug=None,
                     check_finite: bool = True):
    """Solve ``op(a) @ x = b`` for triangular ``a``, reading its ``lower`` or (default) upper
    triangle; ``trans`` 0/'N': ``a``, 1/'T': ``a.T``, 2/'C': ``a.conj().T``. ``b`` is a
    vector or a matrix (with ``a``'s leading axes)."""
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    t = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}[trans]
    a = asarray(a)
    rhs, vector = _as_matrix_rhs(a, b)
    x = lax.linalg.triangular_solve(a, rhs, left_side=True, lower=lower, transpose_a=t > 0,
                                    conjugate_a=t == 2, unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """Solve ``a @ x = b`` given ``cho_factor(a)``'s ``(c, lower)``."""
    c, lower = c_and_lower
    c = asarray(c)
    rhs, vector = _as_matrix_rhs(c, b)
    # a = L L^T (lower) or U^T U (upper): two triangular solves
    y = lax.linalg.triangular_solve(c, rhs, left_side=True, lower=lower, transpose_a=not lower)
    x = lax.linalg.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower)
    return x[..., 0] if vector else x


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
    """Solve ``a @ x = b`` (``assume_a``: ``"gen"``, ``"sym"``, ``"her"`` or ``"pos"``; the
    last uses a Cholesky factorisation of ``a``'s ``lower`` or upper triangle)."""
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: assume_a must be 'gen', 'sym', 'her' or 'pos', got "
                         f"{assume_a!r}")
    a = asarray(a)
    if assume_a == "pos":
        tri = fnp.tril(a) if lower else fnp.triu(a)
        diag = fnp.diagonal(a, axis1=-2, axis2=-1)[..., None] * fnp.eye(fnp.shape(a)[-1],
                                                                        dtype=a.dtype)
        full = tri + _mT(tri) - diag
        return cho_solve(cho_factor(full, lower=True), b)
    rhs, vector = _as_matrix_rhs(a, b)
    x = fnp.linalg.solve(a, rhs)
    return x[..., 0] if vector else x


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """The inverse of square ``a`` (..., n, n)."""
    return fnp.linalg.inv(a)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """The determinant of square ``a`` (..., n, n)."""
    return fnp.linalg.det(a)


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, type: int = 1, check_finite: bool = True, eigvals=None):
    """Eigenvalues (ascending) and eigenvectors of symmetric ``a``, reading its ``lower`` or
    upper triangle (standard problem only: ``b`` must be None)."""
    if b is not None:
        raise NotImplementedError("eigh: the generalized problem (b) is not supported")
    w, v = fnp.linalg.eigh(a, UPLO="L" if lower else "U")
    return w if eigvals_only else (w, v)


def eig(a, b=None, left: bool = False, right: bool = True, overwrite_a: bool = False,
        overwrite_b: bool = False, check_finite: bool = True, homogeneous_eigvals: bool = False):
    """``(w, vr)`` of a general square ``a`` (complex eigenvalues, unit-norm right eigenvectors
    in the columns), or ``w`` alone with ``right=False`` (standard problem only: ``b`` must be
    None; no left eigenvectors)."""
    if b is not None:
        raise NotImplementedError("eig: the generalized problem (b) is not supported")
    if left:
        raise NotImplementedError("eig: left eigenvectors are not supported (they are the "
                                  "right eigenvectors of the conjugate transpose)")
    if homogeneous_eigvals:
        raise NotImplementedError("eig: homogeneous_eigvals is not supported")
    if not right:
        return fnp.linalg.eigvals(a)
    w, v = fnp.linalg.eig(a)
    return w, v


def eigvals(a, b=None, overwrite_a: bool = False, check_finite: bool = True,
            homogeneous_eigvals: bool = False):
    """The (complex) eigenvalues of a general square ``a``."""
    return eig(a, b, right=False, homogeneous_eigvals=homogeneous_eigvals)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    """``(u, s, vh)`` with ``a == u @ diag(s) @ vh`` (``s`` descending), or ``s`` alone."""
    if compute_uv:
        return tuple(fnp.linalg.svd(a, full_matrices=full_matrices))
    return fnp.linalg.svd(a, compute_uv=False)


def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
    """``(q, r)`` of ``a`` (..., m, n): ``mode`` 'full' (square ``q``, SciPy's default),
    'economic', or 'r' (``(r,)``, as SciPy returns it). No column pivoting."""
    if pivoting:
        raise NotImplementedError("qr: column pivoting is not supported")
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r}")
    q, r = fnp.linalg.qr(a, mode="reduced" if mode == "economic" else "complete")
    return (r,) if mode == "r" else (q, r)


def block_diag(*arrs):
    """The block-diagonal matrix with ``arrs`` (scalars, vectors as rows, or matrices) on its
    diagonal."""
    if not arrs:
        return fnp.zeros((1, 0))
    mats = [fnp.atleast_2d(asarray(x)) for x in arrs]
    dtype = fnp.result_type(*arrs)  # Python scalars are weak: they take the arrays' dtype
    cols = sum(fnp.shape(m)[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = fnp.shape(m)
        rows.append(fnp.concatenate([fnp.zeros((r, left), dtype), m.astype(dtype),
                                     fnp.zeros((r, cols - left - c), dtype)], axis=1))
        left += c
    return fnp.concatenate(rows, axis=0)
