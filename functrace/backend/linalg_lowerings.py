"""The compiled lowerings of ``ops.linalg_decomp``'s primitives: LAPACK kernels of
``backend.lapack``.

Each lowering emits one call of an ``lp_*`` kernel on the operands and outputs viewed as
(batch, rows, cols) stacks. ``lapack`` is imported when a program is lowered (defining primitives
must not import Numba); without the library, or for empty matrices, CodegenError keeps the NumPy
implementation. ``backend.kernels`` imports this module, which registers the lowerings.
"""

from __future__ import annotations

import numpy as np

from ..ops.linalg_decomp import (
    adjugate_p,
    cholesky_p,
    det_p,
    eigh_p,
    qr_p,
    slogdet_p,
    solve_p,
    svd_p,
    triangular_solve_p,
)
from . import rules


def _lapack_ready(eqn) -> None:
    from . import lapack
    from .codegen import CodegenError  # imported on use: codegen imports this module
    if not lapack.LAPACK_AVAILABLE:
        raise CodegenError("NumPy's bundled LAPACK was not found")
    avals = [v.aval for v in eqn.invars] + [v.aval for v in eqn.outvars]
    if any(d == 0 for a in avals for d in a.shape):
        raise CodegenError("empty matrices run with NumPy")


_WIDE = {np.dtype(np.float32): "np.float64", np.dtype(np.complex64): "np.complex128"}


def _emit_kernel(k, eqn, kernel: str, ins, outs, *extra) -> None:
    """Emit ``kernel(*ins, *outs, *extra)``: ``ins``/``outs`` are (operand or output index,
    shape to view it as). NumPy's ``linalg`` computes float32 in float64 and rounds the results
    (so eigenvector signs, pivots etc. are float64's): float32 goes through float64 copies too.
    A 0-d output is filled through a 1-element temporary."""
    _lapack_ready(eqn)
    up = eqn.invars[0].aval.dtype in _WIDE  # complex64 likewise through complex128
    args, after = [], []
    for i, shape in ins:
        view = f"{k.ins[i]}.reshape({tuple(shape)})"
        if up:
            t = k.tmp("u")
            k.emit(f"{t} = {view}.astype({_WIDE[eqn.invars[i].aval.dtype]})")
            view = t
        args.append(view)
    for i, shape in outs:
        v = eqn.outvars[i]
        name = k.outs[i]
        if up or v.aval.ndim == 0:
            t = k.tmp("u")
            k.emit(f"{t} = np.empty({tuple(shape)}, {_WIDE[v.aval.dtype]})" if up else
                   f"{t} = np.empty({tuple(shape)}, np.{v.aval.dtype.name})")
            args.append(t)
            if v.aval.ndim == 0:
                after.append(f"{name} = np.{v.aval.dtype.name}({t}[0])")
            else:
                after.append(f"{name}.reshape({tuple(shape)})[:] = {t}")
        else:
            args.append(f"{name}.reshape({tuple(shape)})")
    k.emit(f"{kernel}({', '.join(args + [str(x) for x in extra])})", *after)


def _as3(shape) -> tuple[int, int, int]:
    """A (..., m, n) shape as (batch, m, n)."""
    return (int(np.prod(shape[:-2], dtype=np.int64)),) + tuple(shape[-2:])


def _as2(shape, batch: int) -> tuple[int, int]:
    """A (...) vector/scalar output per matrix of a batch of ``batch`` as (batch, n)."""
    return (batch, int(np.prod(shape, dtype=np.int64)) // max(batch, 1))


def _lower_square_to_square(kernel: str):
    def lower(k, eqn) -> None:
        s = _as3(eqn.invars[0].aval.shape)
        _emit_kernel(k, eqn, kernel, [(0, s)], [(0, s)])

    return lower


def _lower_solve(k, eqn) -> None:
    a, b = (_as3(v.aval.shape) for v in eqn.invars)
    _emit_kernel(k, eqn, "lp_solve", [(0, a), (1, b)], [(0, b)])


def _lower_triangular_solve(k, eqn) -> None:
    p = eqn.params
    a, b = (_as3(v.aval.shape) for v in eqn.invars)
    _emit_kernel(k, eqn, "lp_triangular_solve", [(0, a), (1, b)], [(0, b)],
                 bool(p["left_side"]), bool(p["lower"]), bool(p["transpose_a"]),
                 bool(p["unit_diagonal"]),
                 bool(p["conjugate_a"]) and eqn.invars[0].aval.dtype.kind == "c")


def _lower_det(k, eqn) -> None:
    a = _as3(eqn.invars[0].aval.shape)
    _emit_kernel(k, eqn, "lp_det", [(0, a)], [(0, (a[0],))])


def _lower_slogdet(k, eqn) -> None:
    a = _as3(eqn.invars[0].aval.shape)
    _emit_kernel(k, eqn, "lp_slogdet", [(0, a)], [(0, (a[0],)), (1, (a[0],))])


def _lower_eigh(k, eqn) -> None:
    a = _as3(eqn.invars[0].aval.shape)
    _emit_kernel(k, eqn, "lp_eigh", [(0, a)], [(0, a), (1, a[:2])],
                 bool(eqn.params["lower"]))


def _lower_qr(k, eqn) -> None:
    q, r = (_as3(v.aval.shape) for v in eqn.outvars)
    _emit_kernel(k, eqn, "lp_qr", [(0, _as3(eqn.invars[0].aval.shape))], [(0, q), (1, r)])


def _lower_svd(k, eqn) -> None:
    a = _as3(eqn.invars[0].aval.shape)
    if eqn.params["compute_uv"]:
        u, s, vh = (v.aval.shape for v in eqn.outvars)
        jobz = 65 if eqn.params["full_matrices"] else 83
        _emit_kernel(k, eqn, "lp_svd", [(0, a)], [(0, _as3(u)), (1, _as2(s, a[0])),
                                                   (2, _as3(vh))], jobz)
        return
    _emit_kernel(k, eqn, "lp_svdvals", [(0, a)], [(0, _as2(eqn.outvars[0].aval.shape, a[0]))])


def _register_lowerings() -> None:
    table = {
        cholesky_p: _lower_square_to_square("lp_cholesky"),
        adjugate_p: _lower_square_to_square("lp_adjugate"),
        solve_p: _lower_solve,
        triangular_solve_p: _lower_triangular_solve,
        det_p: _lower_det,
        slogdet_p: _lower_slogdet,
        eigh_p: _lower_eigh,
        qr_p: _lower_qr,
        svd_p: _lower_svd,
    }
    rules.kernel_lowerings.update(table)


_register_lowerings()
