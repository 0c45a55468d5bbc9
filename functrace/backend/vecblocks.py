"""Block kernels: elementary functions over a block of a fused loop, fast path first.

A vectorised loop pays for every branch of a function on every element: the special cases
(zeros, infinities, NaN, subnormals, negative bases of pow) and the argument ranges that need
extra work cost as much as the common case, though blocks of real data rarely contain any. The
kernels here run a fast path that is exact only for ordinary arguments over the whole block,
while tracking with integer min/max reductions (nearly free) whether any argument was not
ordinary, then recompute just those elements with the complete functions of ``vecmath``. Some
fast paths also use :mod:`vtable`'s in-register tables.

Each kernel takes its inputs, an output block (not overlapping the inputs) and the element
count ``n``; :data:`BLOCK_KERNELS` maps (primitive name, dtype) to the kernel and the extra
arguments the code generator passes after ``n``. The accuracy bounds are those of ``vecmath``
(within 2 ulp, NumPy's special values); docs/backend.md has the measurements.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from .vecmath import (
    _F,
    _bits,
    _f64_from_bits,
    _fma,
    _horner,
    _log_kernel_f64,
    _njit,
    _split_f64,
    log_f64,
    pow_f32,
    trig_block_f32,
    trig_block_f64,
)
from .vtable import table_lookup

__all__ = ["BLOCK_KERNELS", "log_block_f64", "pow_block_f32", "pow_table_f32", "trig_block_f32",
           "trig_block_f64"]

_kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
_I32 = np.int32


@intrinsic
def _min(typingctx, a, b):
    """a if a < b else b: x86's minpd exactly (for NaN-free arguments: a plain minimum)."""
    if a != b or a not in (types.float64, types.float32):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered("<", args[0], args[1]), args[0], args[1])

    return a(a, b), codegen


@intrinsic
def _max(typingctx, a, b):
    """a if a > b else b: x86's maxpd."""
    if a != b or a not in (types.float64, types.float32):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[0], args[1])

    return a(a, b), codegen


# --- log, float64 -----------------------------------------------------------------------------

_POS_NORMAL_BITS = 0x0010000000000000
_INF_BITS = 0x7FF0000000000000


@_njit
def _log_fast_f64(x):
    """log x for a positive, normal, finite float64."""
    ei, m = _split_f64(x)
    return _log_kernel_f64(m - 1.0, float(ei), 0.0)


@_kernel
def log_block_f64(src, dst, n):
    """dst[:n] = log(src[:n]) for float64 arrays."""
    # as int64, positive normal finite floats are exactly [_POS_NORMAL_BITS, _INF_BITS); every
    # other float (negative, zero, subnormal, inf, NaN) is below or above
    lo = _INF_BITS
    hi = 0
    for i in range(n):
        x = src[i]
        dst[i] = _log_fast_f64(x)
        b = _bits(x)
        lo = min(lo, b)
        hi = max(hi, b)
    if (lo < _POS_NORMAL_BITS) | (hi >= _INF_BITS):
        for i in range(n):
            b = _bits(src[i])
            if (b < _POS_NORMAL_BITS) | (b >= _INF_BITS):
                dst[i] = log_f64(src[i])


# --- pow, float32 -----------------------------------------------------------------------------
# x**y = 2**(y log2 x) in float64, table-driven (as Arm's optimized-routines powf): log2 x =
# k + log2 c + log2(1 + r) with c from a 16-entry table and |r| = |z/c - 1| <= 1/32, then
# 2**w = 2**(j/16) * 2**(w - j/16) with a 16-entry table. Both polynomials are short, and no
# division is needed. As in vecmath.pow_f32, float32's range bounds |w| by 150 where it matters,
# so log2 needs ~2^-38 relative accuracy and 2**r ~2^-30 (weights in fit_vecmath.py).

# The mantissa is reduced to z in [0.703125, 1.40625): the bits of x minus _POW_OFF split into
# k (above bit 52) and the table index (bits 48-51). 1.0 is then mid-interval, where c = 1: x
# near 1 gets log2 x = log2(1 + r) with r exact, relative accuracy where it matters most.
_POW_OFF = 0x3FE6800000000000
_EXP2_SHIFT = 1.5 * 2.0 ** 48  # w + this rounds w to a multiple of 1/16
_EXP2_SHIFT_BITS = 0x42F8000000000000


def pow_table_f32() -> tuple[list[float], list[float], list[float], tuple[float, float]]:
    """(1/c, log2 c, 2**(j/16)) for pow_block_f32's tables, and the range of r = z/c - 1."""
    inv_c, log2_c, r_lo, r_hi = [], [], 0.0, 0.0
    for j in range(16):
        lo = float(np.int64(_POW_OFF + (j << 48)).view(np.float64))
        hi = float(np.int64(_POW_OFF + ((j + 1) << 48)).view(np.float64))
        ic = 1.0 if lo <= 1.0 < hi else 2.0 / (lo + hi)
        inv_c.append(ic)
        log2_c.append(-math.log2(ic))  # of the rounded 1/c: consistent with r's computation
        r_lo, r_hi = min(r_lo, lo * ic - 1.0), max(r_hi, hi * ic - 1.0)
    exp2 = [2.0 ** (j / 16) for j in range(16)]
    return inv_c, log2_c, exp2, (r_lo, r_hi)


_INV_C, _LOG2_C, _EXP2_J, _ = pow_table_f32()
_inv_c = table_lookup(_INV_C, np.float64)
_log2_c = table_lookup(_LOG2_C, np.float64)
_exp2_j = table_lookup(_EXP2_J, np.float64)

# LOG2T_F32: 6 coefficients on [-0.0294118, 0.03125], minimax 0.00744 ulp, rounded 0.00744 ulp
LOG2T_F32 = (
    1.4426950408938863, -0.7213475202792119, 0.4808982503761669, -0.3606746739768699,
    0.28882075164083265, -0.23959859802399391,
)
# EXP2T_F32: 3 coefficients on [-0.03125, 0.03125], minimax 0.0264 ulp, rounded 0.0264 ulp
EXP2T_F32 = (
    0.693147182666702, 0.24023428802857447, 0.0555021364814238,
)


@_njit
def _pow_fast_f32(x, y):
    """x**y for float32 x > 0 finite and y finite."""
    ix = _bits(np.float64(x))
    t = ix - _POW_OFF
    k = t >> 52
    j = t >> 48
    z = _f64_from_bits(ix - (k << 52))
    r = _fma(z, _inv_c(j), -1.0)
    g = (np.float64(k) + _log2_c(j)) + r * _horner(r, LOG2T_F32)
    # beyond +-300, float32 has long over/underflowed; the clamp keeps the exponent field sane
    w = _max(_min(np.float64(y) * g, 300.0), -300.0)
    u = w + _EXP2_SHIFT
    ki = _bits(u) - _EXP2_SHIFT_BITS  # round(16 w)
    rw = w - (u - _EXP2_SHIFT)  # exact, |rw| <= 1/32
    scale = _f64_from_bits(_bits(_exp2_j(ki)) + ((ki >> 4) << 52))
    return _F(_fma(scale * rw, _horner(rw, EXP2T_F32), scale))


_F32_INF_BITS = 0x7F800000


@_kernel
def pow_block_f32(xs, ys, dst, n):
    """dst[:n] = xs[:n] ** ys[:n] for float32 arrays (NumPy's np.power, special cases too)."""
    # ordinary: x > 0 finite (bits in [1, inf)) and y finite; the rest goes to vecmath.pow_f32
    lo = _I32(_F32_INF_BITS)
    hi = _I32(0)
    y_hi = _I32(0)
    for i in range(n):
        x = xs[i]
        y = ys[i]
        dst[i] = _pow_fast_f32(x, y)
        xb = _bits(x)
        lo = min(lo, xb)
        hi = max(hi, xb)
        y_hi = max(y_hi, _bits(y) & _I32(0x7FFFFFFF))
    if (lo < _I32(1)) | (hi >= _I32(_F32_INF_BITS)) | (y_hi >= _I32(_F32_INF_BITS)):
        for i in range(n):
            xb = _bits(xs[i])
            if (xb < _I32(1)) | (xb >= _I32(_F32_INF_BITS)) | (
                    (_bits(ys[i]) & _I32(0x7FFFFFFF)) >= _I32(_F32_INF_BITS)):
                dst[i] = pow_f32(xs[i], ys[i])


BLOCK_KERNELS: dict[tuple[str, np.dtype], tuple[object, tuple[int, ...]]] = {
    ("sin", np.dtype(np.float32)): (trig_block_f32, (0,)),
    ("cos", np.dtype(np.float32)): (trig_block_f32, (1,)),
    ("sin", np.dtype(np.float64)): (trig_block_f64, (0,)),
    ("cos", np.dtype(np.float64)): (trig_block_f64, (1,)),
    ("log", np.dtype(np.float64)): (log_block_f64, ()),
    ("pow", np.dtype(np.float32)): (pow_block_f32, ()),
}
"""(primitive name, dtype) -> (kernel, extra arguments): the code generator runs these
elementwise primitives as ``kernel(*input_blocks, output_block, n, *extra)``."""
