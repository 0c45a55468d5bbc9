"""``dot_general`` in compiled code: NumPy's OpenBLAS GEMM called by name for large products
(``blas``), ``np.matmul`` from the Python driver (``python`` mode), plain loops for small ones."""

from __future__ import annotations

import math

import numpy as np

from ..core import Eqn
from . import kernels
from .codegen_base import _np_dtype, _shape_tuple
from .kernel_context import KernelContext, _at, _free, _loops
from .kernels import const

# dot_general lowering: "blas" calls NumPy's OpenBLAS from inside compiled code, "python" calls
# np.matmul from the Python driver between compiled segments. Products smaller than this many
# multiply-adds use plain loops (a BLAS call costs more than the work).
SMALL_DOT = 4096


def _kernel_dot_general(k: KernelContext, e: Eqn) -> None:
    (lc, rc), (lb, rb) = e.params["dimension_numbers"]
    lc, rc, lb, rb = tuple(lc), tuple(rc), tuple(lb), tuple(rb)
    la, ra, oa = e.invars[0].aval, e.invars[1].aval, e.outvars[0].aval
    lf, rf = _free(la.ndim, lc, lb), _free(ra.ndim, rc, rb)
    B = math.prod(la.shape[d] for d in lb)
    M = math.prod(la.shape[d] for d in lf)
    K = math.prod(la.shape[d] for d in lc)
    N = math.prod(ra.shape[d] for d in rf)
    L, R = k.ins
    O = k.outs[0]
    blas_ok = (la.dtype == ra.dtype == oa.dtype and oa.dtype in _GEMMS
               and M * N * K * max(B, 1) >= SMALL_DOT and min(M, N, K) > 0 and oa.ndim > 0)
    mode = k.gen.dot_mode
    if oa.dtype in kernels.COMPLEX_DTYPES and mode == "blas" and not _complex_gemm():
        blas_ok = False
    if blas_ok and mode == "python":
        return _dot_numpy(k, la, ra, lb, lc, lf, rb, rc, rf, B, M, K, N, L, R, O)
    if blas_ok and mode == "blas" and _blas_available():
        return _dot_blas(k, la, ra, oa, lb, lc, lf, rb, rc, rf, B, M, K, N, L, R, O)
    _dot_loops(k, la, ra, oa, lb, lc, lf, rb, rc, rf, L, R, O)


def _blas_available() -> bool:
    from .blas import BLAS_AVAILABLE
    return BLAS_AVAILABLE


# GEMM per dtype; the complex ones take alpha and beta by pointer
_GEMMS = {np.dtype(np.float32): "sgemm", np.dtype(np.float64): "dgemm",
          np.dtype(np.complex64): "cgemm", np.dtype(np.complex128): "zgemm"}


def _complex_gemm() -> bool:
    from .blas import COMPLEX_GEMM_AVAILABLE
    return COMPLEX_GEMM_AVAILABLE


def _dot_loops(k, la, ra, oa, lb, lc, lf, rb, rc, rf, L, R, O):
    bn = [k.tmp("b") for _ in lb]
    mn = [k.tmp("m") for _ in lf]
    cn = [k.tmp("c") for _ in lc]
    nn = [k.tmp("n") for _ in rf]

    def side(aval, b, c, f, bnames, cnames, fnames):
        idx = []
        for d in range(aval.ndim):
            if d in b:
                idx.append(bnames[b.index(d)])
            elif d in c:
                idx.append(cnames[c.index(d)])
            else:
                idx.append(fnames[f.index(d)])
        return idx

    lidx = side(la, lb, lc, lf, bn, cn, mn)
    ridx = side(ra, rb, rc, rf, bn, cn, nn)
    odt = oa.dtype
    lv = _at(L, lidx) if la.ndim else L
    rv = _at(R, ridx) if ra.ndim else R
    if la.dtype != odt:
        lv = kernels.cast(lv, odt)
    if ra.dtype != odt:
        rv = kernels.cast(rv, odt)
    prod = f"{lv} * {rv}" if odt != np.bool_ else f"({lv} and {rv})"
    shapes_b = [la.shape[d] for d in lb]
    shapes_m = [la.shape[d] for d in lf]
    shapes_c = [la.shape[d] for d in lc]
    shapes_n = [ra.shape[d] for d in rf]
    natural = odt in kernels._NATURAL and odt != np.bool_
    if oa.ndim == 0:
        acc = O
        upd = f"{acc} + {prod}" if odt != np.bool_ else f"({acc} or {prod})"
        k.emit(f"{acc} = {const(0, odt)}")
        k.emit(*_loops(shapes_c, cn, [f"{acc} = {upd if natural else kernels.cast(upd, odt)}"]))
        return
    oidx = bn + mn + nn
    tgt = _at(O, oidx)
    upd = f"{tgt} + {prod}" if odt != np.bool_ else f"({tgt} or {prod})"
    k.emit(f"{O}[:] = {const(0, odt)}")
    k.emit(*_loops(shapes_b + shapes_m + shapes_c + shapes_n, bn + mn + cn + nn,
                   [f"{tgt} = {upd if natural else kernels.cast(upd, odt)}"]))


def _perm_copy(k: KernelContext, src: str, aval, perm: tuple) -> str:
    """Emit a copy of ``src`` with axes permuted (a C-contiguous temporary); return its name."""
    dst = k.tmp("p")
    shape = [aval.shape[d] for d in perm]
    names = [k.tmp("j") for _ in perm]
    src_idx = [""] * aval.ndim
    for pos, d in enumerate(perm):
        src_idx[d] = names[pos]
    k.emit(f"{dst} = np.empty({_shape_tuple(shape)}, {_np_dtype(aval.dtype)})")
    k.emit(*_loops(shape, names, [f"{_at(dst, names)} = {_at(src, src_idx)}"]))
    return dst


def _gemm_operand(k, X: str, aval, batch, rows, cols) -> tuple[str, bool]:
    """``X`` as a GEMM operand of layout (batch, rows, cols): itself, itself transposed, or
    a permuted copy; and whether GEMM must transpose it."""
    ident = tuple(range(aval.ndim))
    if batch + rows + cols == ident:
        return X, False
    if batch + cols + rows == ident:
        return X, True
    return _perm_copy(k, X, aval, batch + rows + cols), False


def _dot_blas(k, la, ra, oa, lb, lc, lf, rb, rc, rf, B, M, K, N, L, R, O):
    L, ta = _gemm_operand(k, L, la, lb, lf, lc)
    R, tb = _gemm_operand(k, R, ra, rb, rc, rf)
    gemm = _GEMMS[oa.dtype]
    isz = oa.dtype.itemsize
    lda = M if ta else K
    ldb = K if tb else N
    one, zero = const(1, oa.dtype), const(0, oa.dtype)
    ab = None
    if oa.dtype in kernels.COMPLEX_DTYPES:
        ab = k.tmp("ab")
        k.emit(f"{ab} = np.array([{one}, {zero}])")
        one, zero = f"ptr({ab})", f"ptr({ab}) + {isz}"
    ta_c, tb_c = (112 if ta else 111), (112 if tb else 111)
    if B == 1:
        k.emit(f"{gemm}(101, {ta_c}, {tb_c}, {M}, {N}, {K}, {one}, ptr({L}), {lda}, "
               f"ptr({R}), {ldb}, {zero}, ptr({O}), {N})")
    else:
        b = k.tmp("b")
        k.emit(f"for {b} in range({B}):",
               f"    {gemm}(101, {ta_c}, {tb_c}, {M}, {N}, {K}, {one}, "
               f"ptr({L}) + {b} * {M * K * isz}, {lda}, ptr({R}) + {b} * {K * N * isz}, "
               f"{ldb}, {zero}, ptr({O}) + {b} * {M * N * isz}, {N})")
    # Numba frees an array right after its last use in the source: the raw pointers above do
    # not count, so the operands are used once more after the call.
    k.emit(f"keep_alive({L}, {R}, {O})")
    if ab is not None:
        k.emit(f"keep_alive({ab}, {ab}, {ab})")


def _dot_numpy(k, la, ra, lb, lc, lf, rb, rc, rf, B, M, K, N, L, R, O):
    k.py = True
    ident_l, ident_r = tuple(range(la.ndim)), tuple(range(ra.ndim))
    lead = (B,) if B != 1 else ()

    def view(name, ident, first, second, rows, cols):
        # ``name`` as a (B?, rows, cols) operand; strided (transposed) views are fine for matmul
        if first == ident:
            return f"{name}.reshape({_shape_tuple(lead + (rows, cols))})"
        if second == ident:
            return (f"{name}.reshape({_shape_tuple(lead + (cols, rows))}).swapaxes(-1, -2)")
        return (f"np.transpose({name}, {first}).reshape("
                f"{_shape_tuple(lead + (rows, cols))})")

    lv = view(L, ident_l, lb + lf + lc, lb + lc + lf, M, K)
    rv = view(R, ident_r, rb + rc + rf, rb + rf + rc, K, N)
    k.emit(f"np.matmul({lv}, {rv}, out={O}.reshape({_shape_tuple(lead + (M, N))}))")
