"""NumPy's bundled OpenBLAS, found once and called through ``ctypes``.

NumPy 2 wheels ship scipy-openblas (64-bit integer interface, symbols prefixed ``scipy_``) in
``numpy.libs``. The compiled backend calls it by name from generated code (``backend/blas.py``,
``backend/lapack.py``); the NumPy reference implementations call the routines NumPy itself does
not expose through this module, so that both paths run the same algorithm. Here that is the
triangular solve (``?trsm``): ``numpy.linalg.solve`` would factorise the triangle again (an
O(n^3) LU instead of an O(n^2) substitution). Nothing here imports Numba.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

# CBLAS enums
ROW_MAJOR, LEFT, RIGHT, UPPER, LOWER = 101, 141, 142, 121, 122
NO_TRANS, TRANS, CONJ_TRANS, NON_UNIT, UNIT = 111, 112, 113, 131, 132


def candidate_libraries() -> list[str]:
    """The shared libraries NumPy's wheel bundles that may be its OpenBLAS."""
    root = os.path.dirname(os.path.abspath(np.__file__))
    pats = [os.path.join(root, os.pardir, "numpy.libs", "*openblas*"),
            os.path.join(root, ".dylibs", "*openblas*"),
            os.path.join(root, os.pardir, "numpy.libs", "*.dll")]
    return sorted({p for pat in pats for p in glob.glob(pat)})


@functools.cache
def _trsm_functions() -> dict[np.dtype, ctypes._CFuncPtr] | None:
    """``cblas_?trsm`` of the bundled library for float64 and complex128, or None."""
    for path in candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
            d, z = lib.scipy_cblas_dtrsm64_, lib.scipy_cblas_ztrsm64_
        except (OSError, AttributeError):
            continue
        i32, i64, ptr = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
        head = [i32] * 5 + [i64, i64]
        d.argtypes = head + [ctypes.c_double, ptr, i64, ptr, i64]
        z.argtypes = head + [ptr, ptr, i64, ptr, i64]  # alpha by pointer
        d.restype = z.restype = None
        return {np.dtype(np.float64): d, np.dtype(np.complex128): z}
    return None


_WIDE = {np.dtype(np.float32): np.float64, np.dtype(np.complex64): np.complex128}
_ONE = np.ones(1, np.complex128)


def triangular_solve(a: np.ndarray, b: np.ndarray, *, left: bool, lower: bool, trans: bool,
                     unit: bool, conj: bool) -> np.ndarray | None:
    """``op(a) x = b`` (``left``) or ``x op(a) = b`` for triangular ``a`` (..., m, m) and ``b``
    of the same leading axes, reading only ``a``'s ``lower`` or upper triangle (and not its
    diagonal if ``unit``); ``op`` transposes (``trans``) and conjugates (``conj``). float32 and
    complex64 are computed in float64/complex128 and rounded, as the compiled lowering does; a
    matrix with a zero on its (read) diagonal gives NaNs. None when the library is missing."""
    fns = _trsm_functions()
    dtype = np.result_type(a, b)
    wide = np.dtype(_WIDE.get(dtype, dtype))
    if fns is None or wide not in fns:
        return None
    fn = fns[wide]
    a = np.ascontiguousarray(a, wide)
    out = np.array(b, wide, order="C", copy=True)
    m = a.shape[-1]
    r, c = out.shape[-2], out.shape[-1]
    if conj and not trans:  # conjugation alone has no CBLAS flag: a conjugated copy
        a = np.ascontiguousarray(np.conj(a))
    tr = (CONJ_TRANS if conj else TRANS) if trans else NO_TRANS
    flags = (ROW_MAJOR, LEFT if left else RIGHT, LOWER if lower else UPPER, tr,
             UNIT if unit else NON_UNIT, r, c)
    alpha = 1.0 if wide.kind == "f" else _ONE.ctypes.data
    a3 = a.reshape(-1, m, m)
    o3 = out.reshape(-1, r, c)
    for k in range(o3.shape[0]):
        ak = a3[k]
        if not unit and not np.all(np.diagonal(ak)):
            o3[k] = np.nan
        elif r and c:
            fn(*flags, alpha, ak.ctypes.data, max(m, 1), o3[k].ctypes.data, max(c, 1))
    return out.astype(dtype, copy=False)
