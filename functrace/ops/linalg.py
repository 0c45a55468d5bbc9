"""``dot_general``: contractions of two arrays (matmul, batched matmul, tensordot, inner/outer).

``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`` pairs axes of the
two operands that are summed over and axes that are matched element by element. The result's
axes are the batch axes, then the remaining ("free") axes of ``lhs`` in order, then those of
``rhs`` (JAX's convention). The operation is bilinear, so its derivative and transposes are
themselves ``dot_general``s with rearranged dimension numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from .. import ad, batching, core, dtypes, simplify
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray
from . import basic

__all__ = ["dot_general", "dot"]

dot_general_p = Primitive("dot_general")


def _free_dims(ndim: int, contract, batch) -> tuple[int, ...]:
    return tuple(d for d in range(ndim) if d not in contract and d not in batch)


def _check_side(name: str, aval: ShapedArray, contract, batch) -> None:
    dims = tuple(contract) + tuple(batch)
    if any(not 0 <= d < aval.ndim for d in dims) or len(set(dims)) != len(dims):
        raise TypeError(f"dot_general: {name} contracting dimensions {tuple(contract)} and batch "
                        f"dimensions {tuple(batch)} must be distinct axes of the {name} operand "
                        f"of shape {aval.shape}")


def _dot_general_shape(lhs: ShapedArray, rhs: ShapedArray, *, dimension_numbers,
                       preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: lhs and rhs need as many contracting (got {lc}, {rc}) "
                        f"and batch (got {lb}, {rb}) dimensions as each other")
    _check_side("lhs", lhs, lc, lb)
    _check_side("rhs", rhs, rc, rb)
    for kind, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        if any(lhs.shape[a] != rhs.shape[b] for a, b in zip(ld, rd)):
            raise TypeError(
                f"dot_general: {kind} dimensions must have equal sizes, but lhs shape "
                f"{lhs.shape} along {tuple(ld)} has sizes {tuple(lhs.shape[a] for a in ld)} "
                f"and rhs shape {rhs.shape} along {tuple(rd)} has sizes "
                f"{tuple(rhs.shape[b] for b in rd)}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general needs operands of equal dtypes, got {lhs.dtype.name} "
                        f"(shape {lhs.shape}) and {rhs.dtype.name} (shape {rhs.shape})")
    shape = (tuple(lhs.shape[d] for d in lb)
             + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    return ShapedArray(shape, preferred_element_type or lhs.dtype)


@functools.lru_cache(maxsize=4096)
def _impl_plan(dimension_numbers, lhs_ndim: int, rhs_ndim: int):
    """Axis orders that lay ``lhs`` out as (batch, free, contract) and ``rhs`` as (batch,
    contract, free); None where the operand already is (no transpose at all)."""
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = _free_dims(lhs_ndim, lc, lb), _free_dims(rhs_ndim, rc, rb)
    lhs_perm = tuple(lb) + lf + tuple(lc)
    rhs_perm = tuple(rb) + tuple(rc) + rf
    return (None if lhs_perm == tuple(range(lhs_ndim)) else lhs_perm,
            None if rhs_perm == tuple(range(rhs_ndim)) else rhs_perm, lf, rf)


def _dot_general_impl(lhs, rhs, *, dimension_numbers, preferred_element_type):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    if preferred_element_type is not None and preferred_element_type != lhs.dtype:
        lhs = lhs.astype(preferred_element_type)
        rhs = rhs.astype(preferred_element_type)
    (lc, _), (lb, _) = dimension_numbers
    lhs_perm, rhs_perm, lf, rf = _impl_plan(dimension_numbers, lhs.ndim, rhs.ndim)
    ls, rs = lhs.shape, rhs.shape
    batch_shape = tuple(ls[d] for d in lb)
    lf_shape = tuple(ls[d] for d in lf)
    rf_shape = tuple(rs[d] for d in rf)
    k = math.prod(ls[d] for d in lc)
    m, n = math.prod(lf_shape), math.prod(rf_shape)
    # (batch, free, contract) @ (batch, contract, free) as one BLAS call; reshapes copy only
    # when the layout demands it.
    a = lhs if lhs_perm is None else lhs.transpose(lhs_perm)
    b = rhs if rhs_perm is None else rhs.transpose(rhs_perm)
    if lb:
        nb = math.prod(batch_shape)  # not -1: a zero-size free or contracting axis is legal
        out = np.matmul(a.reshape((nb, m, k)), b.reshape((nb, k, n)))
    else:
        out = np.dot(a.reshape((m, k)), b.reshape((k, n)))
    return out.reshape(batch_shape + lf_shape + rf_shape)


def _jvp(primals, tangents, *, dimension_numbers, preferred_element_type):
    lhs, rhs = primals
    tl, tr = tangents
    params = dict(dimension_numbers=dimension_numbers,
                  preferred_element_type=preferred_element_type)
    out = dot_general_p.bind(lhs, rhs, **params)
    t_out = Zero(core.get_aval(out))
    if not isinstance(tl, Zero):
        t_out = dot_general_p.bind(tl, rhs, **params)
    if not isinstance(tr, Zero):
        t_out = ad.add_tangents(t_out, dot_general_p.bind(lhs, tr, **params))
    return out, t_out


def _inverse_perm(order: Sequence[int]) -> tuple[int, ...]:
    """The permutation that sends axis ``i`` of an array laid out as ``order`` back to ``i``."""
    return tuple(int(i) for i in np.argsort(order))


def _as(x, dtype):
    return basic.convert_element_type(x, dtype)


def _transpose_lhs(ct, lhs_aval: ShapedArray, rhs, dimension_numbers):
    """Cotangent of ``lhs``: contract ``ct``'s rhs-free axes against ``rhs``'s free axes."""
    (lc, rc), (lb, rb) = dimension_numbers
    rhs_aval = core.get_aval(rhs)
    nb = len(lb)
    lf = _free_dims(lhs_aval.ndim, lc, lb)
    rf = _free_dims(rhs_aval.ndim, rc, rb)
    ct_rf = tuple(range(nb + len(lf), nb + len(lf) + len(rf)))
    dims = ((ct_rf, rf), (tuple(range(nb)), tuple(rb)))
    res = dot_general(_as(ct, rhs_aval.dtype), rhs, dims, preferred_element_type=lhs_aval.dtype)
    # res axes: batch, lhs free, then rhs's remaining (contracting) axes in rhs order
    layout = tuple(lb) + lf + tuple(lc[list(rc).index(r)] for r in sorted(rc))
    return basic.transpose(res, _inverse_perm(layout))


def _transpose_rhs(ct, lhs, rhs_aval: ShapedArray, dimension_numbers):
    """Cotangent of ``rhs``: contract ``lhs``'s free axes against ``ct``'s lhs-free axes."""
    (lc, rc), (lb, rb) = dimension_numbers
    lhs_aval = core.get_aval(lhs)
    nb = len(lb)
    lf = _free_dims(lhs_aval.ndim, lc, lb)
    rf = _free_dims(rhs_aval.ndim, rc, rb)
    ct_lf = tuple(range(nb, nb + len(lf)))
    dims = ((lf, ct_lf), (tuple(lb), tuple(range(nb))))
    res = dot_general(lhs, _as(ct, lhs_aval.dtype), dims, preferred_element_type=rhs_aval.dtype)
    # res axes: batch, lhs's remaining (contracting) axes in lhs order, then rhs free
    layout = tuple(rb) + tuple(rc[list(lc).index(a)] for a in sorted(lc)) + rf
    return basic.transpose(res, _inverse_perm(layout))


def _transpose(ct, lhs, rhs, *, dimension_numbers, preferred_element_type):
    if is_undefined(lhs) and is_undefined(rhs):
        raise TypeError("cannot transpose dot_general with respect to both operands (the "
                        "program is not linear)")
    if isinstance(ct, Zero):
        return [Zero(lhs.aval) if is_undefined(lhs) else None,
                Zero(rhs.aval) if is_undefined(rhs) else None]
    if is_undefined(lhs):
        return [_transpose_lhs(ct, lhs.aval, rhs, dimension_numbers), None]
    return [None, _transpose_rhs(ct, lhs, rhs.aval, dimension_numbers)]


def _batch(vals, dims, axis_size, *, dimension_numbers, preferred_element_type):
    (lhs, rhs), (ld, rd) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers

    def shift(axes, bdim):
        return tuple(a + (a >= bdim) for a in axes)

    params = dict(preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        # both batched: the vmapped axis becomes the leading batch dimension, as is
        new = ((shift(lc, ld), shift(rc, rd)), ((ld,) + shift(lb, ld), (rd,) + shift(rb, rd)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), 0
    nb = len(lb)
    if ld is not None:
        # a free axis of lhs: it lands among lhs's free axes of the result
        new = ((shift(lc, ld), rc), (shift(lb, ld), rb))
        lf = _free_dims(core.get_aval(lhs).ndim, new[0][0], new[1][0])
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), nb + lf.index(ld)
    new = ((lc, shift(rc, rd)), (lb, shift(rb, rd)))
    lhs_ndim = core.get_aval(lhs).ndim
    n_lf = lhs_ndim - len(lc) - nb
    rf = _free_dims(core.get_aval(rhs).ndim, new[0][1], new[1][1])
    return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), nb + n_lf + rf.index(rd)


# avals and params are hashable, and the rule runs on every eager call: remember its answers
core.shape_rules[dot_general_p] = functools.lru_cache(maxsize=4096)(_dot_general_shape)
core.impl_rules[dot_general_p] = _dot_general_impl
ad.jvp_rules[dot_general_p] = _jvp
ad.transpose_rules[dot_general_p] = _transpose
batching.batch_rules[dot_general_p] = _batch


def _dims(xs) -> tuple[int, ...]:
    if isinstance(xs, (int, np.integer)):
        return (int(xs),)
    return tuple(int(x) for x in xs)


def _normalize_dimension_numbers(dimension_numbers, lhs_ndim: int, rhs_ndim: int):
    (lc, rc), (lb, rb) = dimension_numbers

    def norm(axes, ndim):
        return tuple(a + ndim if a < 0 else a for a in _dims(axes))

    return ((norm(lc, lhs_ndim), norm(rc, rhs_ndim)), (norm(lb, lhs_ndim), norm(rb, rhs_ndim)))


_normalize_cached = functools.lru_cache(maxsize=1024)(_normalize_dimension_numbers)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """Contract ``lhs`` and ``rhs``: ``dimension_numbers = ((lhs_contract, rhs_contract),
    (lhs_batch, rhs_batch))``. Result axes: batch, lhs free, rhs free. Operands must have
    equal dtypes; ``preferred_element_type`` sets the result's dtype (and accumulation).
    ``precision`` is accepted as in JAX and ignored (products are computed in the dtype)."""
    lhs_aval, rhs_aval = core.get_aval(lhs), core.get_aval(rhs)
    try:
        dims = _normalize_cached(dimension_numbers, lhs_aval.ndim, rhs_aval.ndim)
    except TypeError:  # given as lists: not hashable
        dims = _normalize_dimension_numbers(dimension_numbers, lhs_aval.ndim, rhs_aval.ndim)
    pet = None
    if preferred_element_type is not None:
        pet = dtypes.check_supported(preferred_element_type, "preferred_element_type")
        if pet == lhs_aval.dtype:
            pet = None
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dims, preferred_element_type=pet)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix products of rank-1 or rank-2 operands (``lax.dot``): contracts the last
    axis of ``lhs`` with the first of ``rhs``."""
    lhs_ndim, rhs_ndim = core.get_aval(lhs).ndim, core.get_aval(rhs).ndim
    if lhs_ndim not in (1, 2) or rhs_ndim not in (1, 2):
        raise TypeError(f"dot needs rank-1 or rank-2 operands, got shapes "
                        f"{core.get_aval(lhs).shape} and {core.get_aval(rhs).shape}")
    return dot_general(lhs, rhs, (((lhs_ndim - 1,), (0,)), ((), ())),
                       preferred_element_type=preferred_element_type)


simplify.known_primitives["dot_general"] = dot_general_p
