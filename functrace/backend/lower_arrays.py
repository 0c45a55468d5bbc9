"""Kernels over whole arrays: cumulative sums/products/extrema along an axis, writing a
window (``dynamic_update_slice``), scatters and sorts."""

from __future__ import annotations

import numpy as np

from ..core import Eqn, Primitive
from ..ops import cumulative, indexing
from . import kernels
from .codegen_base import _np_dtype
from .kernel_context import KernelContext, _at, _loops
from .kernels import const

_SCANS = {
    cumulative.cumsum_p: (lambda dt: const(0, dt), lambda a, x, dt: f"{a} + {x}"),
    cumulative.cumprod_p: (lambda dt: const(1, dt), lambda a, x, dt: f"{a} * {x}"),
    cumulative.cummax_p: (kernels._lowest, lambda a, x, dt: f"f_max({a}, {x})"),
    cumulative.cummin_p: (kernels._highest, lambda a, x, dt: f"f_min({a}, {x})"),
}
# complex operands: NumPy's lexicographic maximum/minimum (``_support.c_max``), from a start
# value that the first element always replaces
_COMPLEX_SCANS = {
    cumulative.cummax_p: (lambda dt: f"np.{np.dtype(dt).name}(complex(-np.inf, -np.inf))",
                          lambda a, x, dt: f"c_max({a}, {x})"),
    cumulative.cummin_p: (lambda dt: f"np.{np.dtype(dt).name}(complex(np.inf, np.inf))",
                          lambda a, x, dt: f"c_min({a}, {x})"),
}
# bool operands: cumsum and cummax are "any so far", cumprod and cummin "all so far"
_BOOL_SCAN_ALL = frozenset({cumulative.cumprod_p, cumulative.cummin_p})


def _kernel_cumulative(k: KernelContext, e: Eqn) -> None:
    x = e.invars[0].aval
    init, comb = (_COMPLEX_SCANS if x.dtype.kind == "c" and e.primitive in _COMPLEX_SCANS
                  else _SCANS)[e.primitive]
    axis, reverse = e.params["axis"], e.params.get("reverse", False)
    dt = x.dtype
    X, O = k.ins[0], k.outs[0]
    outer = [d for d in range(x.ndim) if d != axis]
    names = {d: k.tmp("o") for d in outer}
    j = k.tmp("s")
    names[axis] = j
    idx = [names[d] for d in range(x.ndim)]
    acc = k.tmp("a")
    n = x.shape[axis]
    rng = f"range({n - 1}, -1, -1)" if reverse else f"range({n})"
    natural = dt in kernels._NATURAL
    upd = comb(acc, _at(X, idx), dt)
    if dt == np.bool_:
        op = "and" if e.primitive in _BOOL_SCAN_ALL else "or"
        upd = f"({acc} {op} {_at(X, idx)})"
        natural = True
    inner = [f"{acc} = {init(dt) if dt != np.bool_ else init_bool(e.primitive)}",
             f"for {j} in {rng}:",
             f"    {acc} = {upd if natural else kernels.cast(upd, dt)}",
             f"    {_at(O, idx)} = {acc}"]
    k.emit(*_loops([x.shape[d] for d in outer], [names[d] for d in outer], inner))


def init_bool(prim: Primitive) -> str:
    return "True" if prim in _BOOL_SCAN_ALL else "False"


def _kernel_dynamic_update_slice(k: KernelContext, e: Eqn) -> None:
    x, u = e.invars[0].aval, e.invars[1].aval
    X, U, *starts = k.ins
    O = k.outs[0]
    names = [k.tmp("d") for _ in x.shape]
    k.emit(*_loops(x.shape, names, [f"{_at(O, names)} = {_at(X, names)}"]))
    svars = []
    for j, s in enumerate(starts):
        sv = k.tmp("st")
        k.emit(f"{sv} = min(max(np.int64({s}), 0), {x.shape[j] - u.shape[j]})")
        svars.append(sv)
    unames = [k.tmp("u") for _ in u.shape]
    oidx = [f"{sv} + {un}" for sv, un in zip(svars, unames)]
    k.emit(*_loops(u.shape, unames, [f"{_at(O, oidx)} = {_at(U, unames)}"]))


_SCATTER_COMBINE = {
    indexing.scatter_add_p: lambda o, u: f"{o} + {u}",
    indexing.scatter_mul_p: lambda o, u: f"{o} * {u}",
    indexing.scatter_min_p: lambda o, u: f"f_min({o}, {u})",
    indexing.scatter_max_p: lambda o, u: f"f_max({o}, {u})",
    indexing.scatter_p: lambda o, u: u,
}


def _kernel_scatter(k: KernelContext, e: Eqn) -> None:
    # out = operand; then each in-bounds index vector combines its update slice into out
    x, ind, upd = (a.aval for a in e.invars)
    X, IDX, U = k.ins
    O = k.outs[0]
    axes = e.params["axes"]
    dt = x.dtype
    names = [k.tmp("d") for _ in x.shape]
    k.emit(*_loops(x.shape, names, [f"{_at(O, names)} = {_at(X, names)}"]))
    nb = ind.ndim - 1
    bn = [k.tmp("b") for _ in range(nb)]
    kept = [d for d in range(x.ndim) if d not in axes]
    rn = [k.tmp("r") for _ in kept]
    body = []
    coords = {}
    conds = []
    for j, a in enumerate(axes):
        c = k.tmp("c")
        body.append(f"{c} = np.int64({_at(IDX, bn + [str(j)])})")
        conds.append(f"0 <= {c} < {x.shape[a]}")
        coords[a] = c
    body.append(f"if {' and '.join(conds) if conds else 'True'}:")
    rit = iter(rn)
    oidx = [coords[d] if d in coords else next(rit) for d in range(x.ndim)]
    tgt = _at(O, oidx)
    val = _at(U, bn + rn)
    expr = _SCATTER_COMBINE[e.primitive](tgt, val)
    if dt.kind == "c" and e.primitive in (indexing.scatter_min_p, indexing.scatter_max_p):
        expr = f"c_{'min' if e.primitive is indexing.scatter_min_p else 'max'}({tgt}, {val})"
    if dt not in kernels._NATURAL and e.primitive is not indexing.scatter_p:
        expr = kernels.cast(expr, dt)
    if dt == np.bool_ and e.primitive in (indexing.scatter_add_p, indexing.scatter_max_p):
        expr = f"({tgt} or {val})"
    elif dt == np.bool_ and e.primitive in (indexing.scatter_mul_p, indexing.scatter_min_p):
        expr = f"({tgt} and {val})"
    inner = _loops([x.shape[d] for d in kept], rn, [f"{tgt} = {expr}"])
    body += ["    " + ln for ln in inner]
    k.emit(*_loops(ind.shape[:-1], bn, body))


def _kernel_sort(k: KernelContext, e: Eqn) -> None:
    # a stable argsort of the key along ``dimension`` for every line, applied to all operands
    shape = e.invars[0].aval.shape
    dim = e.params["dimension"]
    n = shape[dim]
    outer = [d for d in range(len(shape)) if d != dim]
    on = {d: k.tmp("o") for d in outer}
    j = k.tmp("s")
    key = k.tmp("key")
    perm = k.tmp("perm")
    kd = e.invars[0].aval.dtype
    k.emit(f"{key} = np.empty({n}, {_np_dtype(kd)})")
    idx_j = [on[d] if d != dim else j for d in range(len(shape))]
    idx_p = [on[d] if d != dim else f"{perm}[{j}]" for d in range(len(shape))]
    body = [f"for {j} in range({n}):", f"    {key}[{j}] = {_at(k.ins[0], idx_j)}",
            f"{perm} = c_argsort({key})" if kd.kind == "c" else
            f"{perm} = np.argsort({key}, kind=\"mergesort\")"]
    body.append(f"for {j} in range({n}):")
    for src, dst in zip(k.ins, k.outs):
        body.append(f"    {_at(dst, idx_j)} = {_at(src, idx_p)}")
    k.emit(*_loops([shape[d] for d in outer], [on[d] for d in outer], body))
