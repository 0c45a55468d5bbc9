"""Block kernels: elementary functions over a block of a fused loop, fast path first.

A vectorised loop pays for every branch of a function on every element: the special cases
(zeros, infinities, NaN, subnormals, negative bases of pow) and the argument ranges that need
extra work cost as much as the common case, though blocks of real data rarely contain any. The
kernels here run a fast path that is exact only for ordinary arguments over the whole block,
while tracking with integer min/max reductions (nearly free) whether any argument was not
ordinary, then recompute just those elements with the complete functions of ``vecmath``. Some
fast paths also use :mod:`vtable`'s in-register tables.

Each kernel takes its inputs, an output block (not overlapping the inputs) and the element
count ``n``; :data:`BLOCK_KERNELS` maps (function name, dtype) to the kernel and the extra
arguments the code generator passes after ``n``. As in ``vecmath``, a function is named like
the built-in primitive it computes, and the code generator finds it from that primitive
object only (``codegen.block_kernels``, ``kernels.inline_math``). The accuracy bounds are
those of ``vecmath`` (within 2 ulp, NumPy's special values); docs/backend.md has the
measurements.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .vecmath import (
    _F,
    _LN2_HI,
    _LN2_LO,
    _TANH_SPLIT,
    TANH_F64,
    VECTOR_MATH,
    _bits,
    _fma,
    _horner,
    _log1p_core_f32,
    _log1p_core_f64,
    _log_kernel_f32,
    _log_kernel_f64,
    _njit,
    _split_f32,
    _split_f64,
    erf_f32,
    erf_f64,
    log1p_f32,
    log1p_f64,
    log_f32,
    log_f64,
    pow_f32,
    pow_f64,
    trig_block_f32,
    trig_block_f64,
)
from .vtable import IN_REGISTER, scalef, table_lookup

__all__ = [
    "BLOCK_KERNELS", "INLINE_MATH", "erf_block_f32", "erf_block_f64", "exp_table_f64",
    "log1p_block_f32", "log1p_block_f64", "log_block_f32", "log_block_f64", "pow_block_f32",
    "pow_block_f64", "pow_table_f32", "pow_table_f64", "tanh_table_f32", "tanh_table_f64",
    "trig_block_f32", "trig_block_f64",
]

_kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
_I32 = np.int32


def _ordered_select(op: str):
    """An intrinsic ``(a, b) -> a if a op b else b`` for floats: with "<" exactly x86's
    minpd/minps, with ">" maxpd/maxps (one instruction each; for NaN-free arguments a plain
    minimum/maximum, and when either is NaN the result is b)."""
    @intrinsic
    def select(typingctx, a, b):
        if a != b or a not in (types.float64, types.float32):
            return None

        def codegen(context, builder, sig, args):
            return builder.select(builder.fcmp_ordered(op, args[0], args[1]), args[0], args[1])

        return a(a, b), codegen

    return select


_min = _ordered_select("<")
_max = _ordered_select(">")


# --- log and log1p -----------------------------------------------------------------------------

_POS_NORMAL_BITS = 0x0010000000000000
_INF_BITS = 0x7FF0000000000000


@_njit
def _patched_block(src, dst, n, fast, full, shift, ok_lo, ok_hi):
    """dst[:n] = fast(src[:n]), then full(x) for the elements x whose bits(x + shift), as an
    integer of the float's width, lie outside [ok_lo, ok_hi): the block kernels of the
    one-argument functions."""
    lo = ok_hi
    hi = ok_lo
    for i in range(n):
        x = src[i]
        dst[i] = fast(x)
        b = _bits(x + shift)
        lo = min(lo, b)
        hi = max(hi, b)
    if (lo < ok_lo) | (hi >= ok_hi):
        for i in range(n):
            b = _bits(src[i] + shift)
            if (b < ok_lo) | (b >= ok_hi):
                dst[i] = full(src[i])



@_njit
def _patched_pow_block(xs, ys, dst, n, fast, full, ok_lo, ok_hi, y_max):
    """dst[:n] = fast(xs[:n], ys[:n]), then full(x, y) where the bits of x lie outside
    [ok_lo, ok_hi) or those of |y| exceed y_max: the pow kernels."""
    lo = ok_hi
    hi = ok_lo
    y_hi = ok_lo  # below y_max, and of the bits' type (arithmetic would widen int32)
    for i in range(n):
        x = xs[i]
        y = ys[i]
        dst[i] = fast(x, y)
        xb = _bits(x)
        lo = min(lo, xb)
        hi = max(hi, xb)
        y_hi = max(y_hi, _bits(abs(y)))
    if (lo < ok_lo) | (hi >= ok_hi) | (y_hi > y_max):
        for i in range(n):
            xb = _bits(xs[i])
            if (xb < ok_lo) | (xb >= ok_hi) | (_bits(abs(ys[i])) > y_max):
                dst[i] = full(xs[i], ys[i])

# As int64, positive normal finite float64s are exactly [_POS_NORMAL_BITS, _INF_BITS): every
# other float (negative, zero, subnormal, inf, NaN) is below or above. log's ordinary arguments
# are those; log1p's those x with 1 + x among them (x > -1 finite: 1 + x >= 2^-53 there).
_F32_NORMAL_BITS = _I32(0x00800000)
_F32_INF_BITS = _I32(0x7F800000)


@_njit
def _log_fast_f64(x):
    """log x for a positive, normal, finite float64."""
    ei, m = _split_f64(x)
    return _log_kernel_f64(m - 1.0, float(ei), 0.0)


@_njit
def _log_fast_f32(x):
    e, m, _ = _split_f32(x)
    return _log_kernel_f32(m - _F(1.0), e, _F(0.0))


@_njit
def _log1p_fast_f64(x):
    res = _log1p_core_f64(x)
    return x if x == 0.0 else res  # log1p(-0) = -0


@_njit
def _log1p_fast_f32(x):
    res = _log1p_core_f32(x)
    return x if x == _F(0.0) else res


@_kernel
def log_block_f64(src, dst, n):
    """dst[:n] = log(src[:n]) for float64 arrays."""
    _patched_block(src, dst, n, _log_fast_f64, log_f64, 0.0, _POS_NORMAL_BITS, _INF_BITS)


@_kernel
def log_block_f32(src, dst, n):
    """dst[:n] = log(src[:n]) for float32 arrays."""
    _patched_block(src, dst, n, _log_fast_f32, log_f32, _F(0.0), _F32_NORMAL_BITS,
                   _F32_INF_BITS)


@_kernel
def log1p_block_f64(src, dst, n):
    """dst[:n] = log1p(src[:n]) for float64 arrays."""
    _patched_block(src, dst, n, _log1p_fast_f64, log1p_f64, 1.0, _POS_NORMAL_BITS, _INF_BITS)


@_kernel
def log1p_block_f32(src, dst, n):
    """dst[:n] = log1p(src[:n]) for float32 arrays."""
    _patched_block(src, dst, n, _log1p_fast_f32, log1p_f32, _F(1.0), _F32_NORMAL_BITS,
                   _F32_INF_BITS)


# --- erf --------------------------------------------------------------------------------------
# No fast path: vecmath's erf is long enough (a 23-coefficient polynomial and an exp) that LLVM
# declines to inline the separately compiled function into a fused loop, which then stays
# scalar (10 ns/element instead of 1.6). A block kernel has it inlined at Numba's level once.


@_kernel
def erf_block_f64(src, dst, n):
    """dst[:n] = erf(src[:n]) for float64 arrays."""
    for i in range(n):
        dst[i] = erf_f64(src[i])


@_kernel
def erf_block_f32(src, dst, n):
    """dst[:n] = erf(src[:n]) for float32 arrays."""
    for i in range(n):
        dst[i] = erf_f32(src[i])


# --- pow, float32 -----------------------------------------------------------------------------
# x**y = 2**(y log2 x) in float32 arithmetic (16 lanes per vector, twice float64's), with
# double-float32 values where precision matters and two in-register tables:
#  - log2 x = k + log2 c + log2(1 + r) with 1/c from a 16-entry table by the top mantissa bits,
#    r = z/c - 1 exact as r_hi + p_lo, |r| <= 1/32; log2 c (hi + lo) from a second table;
#    r/ln 2 in double-float32, the rest a short polynomial.
#  - 2**w = 2**(j/16) * 2**(w - j/16): 2**(j/16) (hi + lo) from a table, a quartic, and scalef
#    (AVX-512's vscalefps: overflow and subnormal results correctly rounded).
# The error of w = y log2 x becomes the result's relative error; the polynomial part of log2 x
# carries ~2^-23 relative error, which y amplifies, so the fast path takes |y| <= 64 (0.013 ulp
# from it there; measured worst error overall 0.76 ulp). Larger |y| and every special case go
# to vecmath.pow_f32 (float64 inside) in the fix-up pass.

_POW_Y_MAX_BITS = _I32(0x42800000)  # 64.0
_EXP2_SHIFT32 = _F(1.5 * 2.0 ** 19)  # w + this rounds w to a multiple of 1/16


def _f32_split(v: float) -> tuple[float, float]:
    hi = float(np.float32(v))
    return hi, float(np.float32(v - hi))


# The reduction both pows share: x = 2**k z with z in [0.703125, 1.40625), split into 16
# intervals by the top 4 mantissa bits of bits(x) - offset (the offset puts 1.0 mid-interval,
# where c = 1: x near 1 gets log x = log(1 + r) with r exact, relative accuracy where it matters
# most). (offset, mantissa bits, int type, float type) per dtype:
_REDUCTION = {types.float32: (0x3F340000, 23, 32, ir.FloatType()),
              types.float64: (0x3FE6800000000000, 52, 64, ir.DoubleType())}


def _reduction_table(dtype) -> tuple[list[float], tuple[float, float]]:
    """1/c for each interval (its midpoint's reciprocal rounded to dtype; 1 around 1) and the
    range of r = z/c - 1 over the intervals."""
    offset, mant, bits, _ = _REDUCTION[numba.from_dtype(np.dtype(dtype))]
    ity, fty = np.dtype(f"int{bits}"), np.dtype(dtype)
    inv_c, r_lo, r_hi = [], 0.0, 0.0
    for j in range(16):
        lo = float(ity.type(offset + (j << (mant - 4))).view(fty))
        hi = float(ity.type(offset + ((j + 1) << (mant - 4))).view(fty))
        ic = 1.0 if lo <= 1.0 < hi else float(fty.type(2.0 / (lo + hi)))
        inv_c.append(ic)
        r_lo, r_hi = min(r_lo, lo * ic - 1.0), max(r_hi, hi * ic - 1.0)
    return inv_c, (r_lo, r_hi)


@intrinsic
def _pow_split(typingctx, x):
    """x = 2**k * z for a positive normal float: (k as a float, z, table index), in integer code
    of the float's width."""
    if x not in _REDUCTION:
        return None
    offset, mant, bits, fty = _REDUCTION[x]
    sig = types.Tuple((x, x, types.int32 if bits == 32 else types.int64))(x)

    def codegen(context, builder, sig, args):
        ity = ir.IntType(bits)
        ix = builder.bitcast(args[0], ity)
        t = builder.sub(ix, ity(offset))
        k = builder.ashr(t, ity(mant))
        z = builder.bitcast(builder.sub(ix, builder.shl(k, ity(mant))), fty)
        return context.make_tuple(builder, sig.return_type,
                                  (builder.sitofp(k, fty), z, builder.ashr(t, ity(mant - 4))))

    return sig, codegen


def pow_table_f32() -> tuple[list[float], list[float], list[float], list[float], list[float],
                             tuple[float, float]]:
    """pow_block_f32's tables: 1/c, log2 c (hi, lo), 2**(j/16) (hi, lo); and the range of
    r = z/c - 1 over the intervals."""
    inv_c, r_range = _reduction_table(np.float32)
    # log2 of the rounded 1/c, so that r's reduction and the table agree
    log_hi, log_lo = zip(*(_f32_split(-math.log2(ic)) for ic in inv_c))
    exp_hi, exp_lo = zip(*(_f32_split(2.0 ** (j / 16)) for j in range(16)))
    return inv_c, list(log_hi), list(log_lo), list(exp_hi), list(exp_lo), r_range


_POW_TABLES = pow_table_f32()
_inv_c, _log2_c_hi, _log2_c_lo, _exp2_hi, _exp2_lo = (
    table_lookup(t, np.float32) for t in _POW_TABLES[:5])
_INV_LN2_HI, _INV_LN2_LO = (_F(v) for v in _f32_split(1 / math.log(2)))

# LOG2Q_F32: 4 coefficients on [-0.0294118, 0.03125], minimax 0.00571 ulp, rounded 0.013 ulp
# (log2(1+r) = r/ln2 + r^2 q(r); weighted by 64 ln2 r^2: the result's error at |y| = 64)
LOG2Q_F32 = (
    -0.721347451210022, 0.4808989465236664, -0.36097463965415955, 0.28779110312461853,
)
# EXP2E_F32: 4 coefficients on [-0.08, 0.08], minimax 0.00465 ulp, rounded 0.0263 ulp
# (2^r = 1 + r e(r); the range covers y * g_lo, left out of the rounding of w)
EXP2E_F32 = (
    0.6931471824645996, 0.24022652208805084, 0.05551472306251526, 0.009617344476282597,
)
_LOG2Q = tuple(_F(c) for c in LOG2Q_F32)
_EXP2E = tuple(_F(c) for c in EXP2E_F32)


@_njit
def _pow_fast_f32(x, y):
    """x**y for a positive normal float32 x and |y| <= 64."""
    kf, z, j = _pow_split(x)
    ic = _inv_c(j)
    p_hi = z * ic  # z/c = p_hi + p_lo exactly, so r = (p_hi - 1) + p_lo exactly
    p_lo = _fma(z, ic, -p_hi)
    r_hi = p_hi - _F(1.0)
    r = r_hi + p_lo
    a_hi = r_hi * _INV_LN2_HI  # r/ln2 = a_hi + a_lo to ~2^-48
    a_lo = _fma(r_hi, _INV_LN2_HI, -a_hi) + _fma(r_hi, _INV_LN2_LO, p_lo * _INV_LN2_HI)
    poly = r * r * _horner(r, _LOG2Q)
    # g = k + log2 c + r/ln2 + poly as hi + lo: |k| > |log2 c| > |a_hi| wherever they are
    # non-zero, so two fast two-sums are exact
    c_hi = _log2_c_hi(j)
    s1 = kf + c_hi
    e1 = c_hi - (s1 - kf)
    s2 = s1 + a_hi
    e2 = a_hi - (s2 - s1)
    g_lo = ((e1 + e2) + (_log2_c_lo(j) + a_lo)) + poly  # |g_lo| < 7e-4, |y g_lo| < 0.045
    w_hi = y * s2
    w_lo = _fma(y, g_lo, _fma(y, s2, -w_hi))
    u = w_hi + _EXP2_SHIFT32
    n16 = u - _EXP2_SHIFT32  # round(16 w) / 16
    rw = (w_hi - n16) + w_lo  # |rw| <= 1/32 + |w_lo| < 0.08
    ju = _bits(u)  # its low 4 bits: round(16 w) mod 16
    t_hi = _exp2_hi(ju)
    m = t_hi + _fma(t_hi, rw * _horner(rw, _EXP2E), _exp2_lo(ju))
    return scalef(m, n16)  # m * 2**floor(n16)


@_kernel
def pow_block_f32(xs, ys, dst, n):
    """dst[:n] = xs[:n] ** ys[:n] for float32 arrays (NumPy's np.power, special cases too)."""
    # fast path: x positive, normal and finite, |y| <= 64 (bits compared as int32); the rest
    # goes to vecmath.pow_f32
    _patched_pow_block(xs, ys, dst, n, _pow_fast_f32, pow_f32, _F32_NORMAL_BITS,
                       _F32_INF_BITS, _POW_Y_MAX_BITS)


# --- pow, float64 -----------------------------------------------------------------------------
# x**y = e**(y ln x) with ln x and y ln x as double-doubles (~2^-64 relative: |y ln x| reaches
# 745 before the result over/underflows) and two in-register 16-entry tables:
#  - ln x = k ln2 + ln c + ln(1 + r), 1/c from the table by the top mantissa bits (the reduction
#    of the float32 kernel, in float64), r = z/c - 1 exact as r_hi + p_lo, |r| <= 1/32,
#    ln(1 + r) = r - r^2/2 (double-double) + r^3 p(r);
#  - e**w = 2**(n/16) e**rw, n = round(16 w/ln2), 2**(n/16) (hi + lo) from a table, a degree-6
#    polynomial, then scalef (vscalefpd: overflow and subnormal results correctly rounded).
# Fast path: positive normal x, |y| <= 2^20 (beyond, |y ln x| could overflow the rounding
# shifter's range); the rest goes to vecmath.pow_f64 in the fix-up pass. Measured within 0.66
# ulp (mpmath reference).

_POW_Y_MAX_BITS64 = 0x4130000000000000  # 2^20
_SHIFT52 = 1.5 * 2.0 ** 52


def pow_table_f64() -> tuple[list[float], tuple[float, float]]:
    """pow_block_f64's 1/c table and the range of r = z/c - 1."""
    return _reduction_table(np.float64)


# From fit_vecmath.py, as all below.
# LN1P_F64: 9 coefficients on [-0.0294118, 0.03125], minimax 0.0148 ulp, rounded 0.025 ulp
LN1P_F64 = (
    0.3333333333333333, -0.24999999999999387, 0.2000000000002435, -0.16666666672114072,
    0.14285714188153417, -0.12499983894160954, 0.11111254644720402, -0.10019499442974321,
    0.09026997375041705,
)
# EXPM1_F64: 5 coefficients on [-0.0216609, 0.0216609], minimax 0.105 ulp, rounded 0.105 ulp
EXPM1_F64 = (
    0.49999999999999606, 0.16666666664417962, 0.0416666666932504, 0.008333471921012999,
    0.001388859405524115,
)
# pow_constants_f64(): double-double tables of the float64 pow (vecblocks.py)
POW_LN_C_HI_F64 = (
    -0.3302416868705768, -0.28768207245178085, -0.2468600779315258, -0.20763936477824455,
    -0.16989903679539742, -0.13353139262452257, -0.09844007281325251, -0.06453852113757116,
    -0.03174869831458027, 0.0, 0.060624621816434854, 0.11778303565638351, 0.17185025692665928,
    0.2231435513142097, 0.2719337154836418, 0.3184537311185346,
)
POW_LN_C_LO_F64 = (
    -1.6927253978145054e-17, -2.6071606164425637e-17, -6.678539813576451e-18,
    -1.2053243216686127e-17, 4.868008764439086e-19, 3.664457663660086e-18, 4.439009633675136e-18,
    6.470486661692933e-18, -3.0382263084680854e-18, 0.0, 2.6424025938726934e-18,
    -1.1971685747593662e-18, -6.022453821011369e-18, -9.091270597324798e-18,
    7.833196376974436e-19, -6.407962483026777e-19,
)
POW_EXP2_HI_F64 = (
    1.0, 1.0442737824274138, 1.0905077326652577, 1.1387886347566916, 1.189207115002721,
    1.241857812073484, 1.2968395546510096, 1.3542555469368927, 1.4142135623730951,
    1.4768261459394993, 1.5422108254079407, 1.6104903319492543, 1.681792830507429,
    1.7562521603732995, 1.8340080864093424, 1.9152065613971474,
)
POW_EXP2_LO_F64 = (
    0.0, 8.551889705537965e-17, -3.046782079812471e-17, 8.912812676025408e-17,
    3.982015231465646e-17, 4.658027591836937e-17, 2.5382502794888315e-17, 7.70094837980299e-17,
    -9.667293313452913e-17, -3.483994556892796e-17, 7.949834809697621e-17, 2.4707192569797888e-17,
    8.199010020581497e-17, 2.960140695448873e-17, 3.283107224245627e-17, -1.0619946056195963e-16,
)
POW_LN2_16_F64 = (
    0.04332169878489367, 1.0291218489310676e-13,
)

_inv_c64 = table_lookup(pow_table_f64()[0], np.float64)
_ln_c_hi, _ln_c_lo, _exp2_hi64, _exp2_lo64 = (
    table_lookup(t, np.float64) for t in (POW_LN_C_HI_F64, POW_LN_C_LO_F64, POW_EXP2_HI_F64,
                                          POW_EXP2_LO_F64))
_LN2_16_HI, _LN2_16_LO = POW_LN2_16_F64
_INV_LN2_16 = 16 / math.log(2)  # any rounding: it only chooses n


@_njit
def _pow_fast_f64(x, y):
    """x**y for a positive normal float64 x and |y| <= 2^20."""
    kf, z, j = _pow_split(x)
    ic = _inv_c64(j)
    p_hi = z * ic  # z/c = p_hi + p_lo exactly, so r = r_hi + p_lo exactly
    p_lo = _fma(z, ic, -p_hi)
    r_hi = p_hi - 1.0
    r = r_hi + p_lo
    half_r = 0.5 * r_hi
    sq_hi = half_r * r_hi  # r^2/2 = sq_hi + sq_lo (the p_lo^2 term is below 2^-100)
    sq_lo = _fma(r_hi, p_lo, _fma(half_r, r_hi, -sq_hi))
    t_hi = r_hi - sq_hi
    t_lo = ((r_hi - t_hi) - sq_hi) + (p_lo - sq_lo + r * r * r * _horner(r, LN1P_F64))
    # ln x = k ln2 + ln c + t as hi + lo; |k ln2| > |ln c| > |t| wherever they are non-zero
    c_hi = _ln_c_hi(j)
    s1 = _fma(kf, _LN2_HI, c_hi)  # k * _LN2_HI is exact
    e1 = c_hi - _fma(kf, -_LN2_HI, s1)
    s2 = s1 + t_hi
    e2 = t_hi - (s2 - s1)
    g_lo = (e1 + e2) + (_fma(kf, _LN2_LO, _ln_c_lo(j)) + t_lo)
    g_hi = s2 + g_lo
    g_lo = g_lo - (g_hi - s2)
    w_hi = y * g_hi
    w_lo = _fma(y, g_lo, _fma(y, g_hi, -w_hi))
    u = _fma(w_hi, _INV_LN2_16, _SHIFT52)
    n = u - _SHIFT52
    rw = _fma(-n, _LN2_16_LO, _fma(-n, _LN2_16_HI, w_hi)) + w_lo  # |rw| <= ln2/32 (+ w_lo)
    em1 = _fma(rw * rw, _horner(rw, EXPM1_F64), rw)  # e**rw - 1
    ju = _bits(u)  # its low 4 bits: n mod 16
    t_h = _exp2_hi64(ju)
    return scalef(t_h + _fma(t_h, em1, _exp2_lo64(ju)), n * 0.0625)


@_kernel
def pow_block_f64(xs, ys, dst, n):
    """dst[:n] = xs[:n] ** ys[:n] for float64 arrays (NumPy's np.power, special cases too)."""
    _patched_pow_block(xs, ys, dst, n, _pow_fast_f64, pow_f64, _POS_NORMAL_BITS, _INF_BITS,
                       _POW_Y_MAX_BITS64)


# --- exp and tanh, float64 ---------------------------------------------------------------------
# The exp of the float64 pow on its own: e**x = 2**(n/16) e**r, n = round(16 x/ln2) (so
# |r| <= ln2/32 and the polynomial has 5 coefficients instead of vecmath's 11), 2**(n/16) as
# hi + lo from the table, and scalef for 2**floor(n/16), which also rounds overflow to inf and
# subnormal results correctly, in hardware (vecmath's exp needs integer code and selects for
# those). Clamping x to +-1100 first keeps the rounding shifter exact and makes -inf give 0 and
# inf give inf; NaN passes through the clamps (minpd/maxpd return their second operand when
# unordered) to the result. Within 1.0 ulp (0.5 for normal results).

_EXP_CLAMP = 1100.0


@_njit
def _exp_core_f64(x):
    """e**x for |x| <= 1100 or NaN."""
    u = _fma(x, _INV_LN2_16, _SHIFT52)
    n = u - _SHIFT52
    r = _fma(-n, _LN2_16_LO, _fma(-n, _LN2_16_HI, x))
    em1 = _fma(r * r, _horner(r, EXPM1_F64), r)
    ju = _bits(u)
    t_h = _exp2_hi64(ju)
    return scalef(t_h + _fma(t_h, em1, _exp2_lo64(ju)), n * 0.0625)


@_njit
def exp_table_f64(x):
    """e**x for float64 from the 2**(j/16) table (AVX-512 targets)."""
    return _exp_core_f64(_max(-_EXP_CLAMP, _min(_EXP_CLAMP, x)))


@_njit
def tanh_table_f64(x):
    """Hyperbolic tangent for float64, vecmath's tanh_f64 with the table-driven exp."""
    ax = abs(x)
    z = x * x
    small = x + x * z * _horner(z, TANH_F64)
    e = _exp_core_f64(2.0 * _min(40.0, ax))  # tanh rounds to 1 beyond 19.1; NaN passes
    big = math.copysign(1.0 - 2.0 / (e + 1.0), x)
    small = x if ax < 3.725290298461914e-09 else small  # 2**-28: tanh x rounds to x (keeps -0)
    return small if ax < _TANH_SPLIT else big


# --- tanh, float32 ----------------------------------------------------------------------------
# Piecewise polynomials (as NumPy's AVX-512 tanhf): |x| in 32 intervals, a quarter binade each
# from 2^-4 * 1.25 up (interval 0 is [0, 0.078125), interval 31 is [14, inf)), found from the
# bits of |x| with integer arithmetic; tanh |x| = sum_k c_k (|x| - s)^k with degree 7 and the
# interval's coefficients taken from in-register tables. No exp, no division, no branches.
# Coefficients: tanh_table_f32() in benchmarks/fit_vecmath.py (output pasted), measured within
# 1.14 ulp over every float32.

_TANH_BASE = (123 << 23) >> 21  # bits of 2^-4 >> 21: interval j >= 1 has bits >> 21 == base + j
_TANH_SHIFTS = [0.0] + [float(np.int32((_TANH_BASE + j) << 21).view(np.float32))
                        for j in range(1, 32)]

TANH_C0_F32 = (
    0.0, 0.07796644419431686, 0.093476302921772, 0.10894092917442322, 0.12435299903154373,
    0.15499073266983032, 0.18533320724964142, 0.21532633900642395, 0.24491865932941437,
    0.3027097284793854, 0.35835739970207214, 0.4115700423717499, 0.46211716532707214,
    0.5545997023582458, 0.6351489424705505, 0.7039055824279785, 0.7615941762924194,
    0.8482836484909058, 0.9051482677459717, 0.9413755536079407, 0.9640275835990906,
    0.9866142868995667, 0.9950547814369202, 0.9981778860092163, 0.9993293285369873,
    0.9999092221260071, 0.9999877214431763, 0.9999983310699463, 0.9999997615814209, 1.0, 1.0, 1.0,
)
TANH_C1_F32 = (
    1.0, 0.9939079880714417, 0.9912670850753784, 0.9881353378295898, 0.9845427870750427,
    0.9759724736213684, 0.9656344652175903, 0.953636109828949, 0.9400197863578796,
    0.9083681702613831, 0.8715778589248657, 0.8306310772895813, 0.7864413261413574,
    0.6924349665641785, 0.5965936183929443, 0.5045337677001953, 0.41996634006500244,
    0.2804115116596222, 0.1807011365890503, 0.11380621790885925, 0.0706501379609108,
    0.026594411581754684, 0.00986065249890089, 0.003643134841695428, 0.0013381552416831255,
    0.00017985077283810824, 2.3627029804629274e-05, 3.895640020346036e-06, 1.0972005384246586e-06,
    0.0, 0.0, 0.0,
)
TANH_C2_F32 = (
    0.0, -0.0674196109175682, -0.09637785702943802, -0.11026514321565628, -0.12490012496709824,
    -0.14920230209827423, -0.17244601249694824, -0.20593143999576569, -0.23151762783527374,
    -0.275322288274765, -0.31178995966911316, -0.3472801148891449, -0.36259737610816956,
    -0.3860647678375244, -0.37992918491363525, -0.35730403661727905, -0.3193332254886627,
    -0.23765546083450317, -0.16321343183517456, -0.10676368325948715, -0.06808741390705109,
    -0.02630610018968582, -0.00964525155723095, -0.003706100396811962, -0.0012953695841133595,
    -0.00015390173939522356, -9.416822649654932e-06, -1.241816244146321e-05,
    -5.614568181044888e-06, 0.0, 0.0, 0.0,
)
TANH_C3_F32 = (
    -0.3333333432674408, -3.114989995956421, 0.7056718468666077, 0.40389421582221985,
    0.03134511038661003, -0.5903470516204834, -1.195198655128479, -0.19137261807918549,
    -0.1310299038887024, -0.18546144664287567, -0.2316085249185562, 0.3890216648578644,
    -0.1347566843032837, 0.08151531964540482, 0.09056313335895538, 0.18660353124141693,
    0.09110529720783234, 0.10310541838407516, 0.07932855933904648, 0.05388377234339714,
    0.041846729815006256, 0.01785874553024769, 0.004417459946125746, 0.0032753893174231052,
    0.0006239481153897941, -4.4858687033411115e-05, -7.44905773899518e-05, 5.671507096849382e-05,
    1.5776100553921424e-05, 0.0, 0.0, 0.0,
)
TANH_C4_F32 = (
    0.0, 348.1918640136719, -127.92610168457031, -89.6674575805664, -21.574460983276367,
    18.342382431030273, 57.1364631652832, -5.097156524658203, -5.692442417144775,
    -1.41591477394104, 2.610118865966797, -24.001718521118164, 1.101814866065979,
    -2.1512629985809326, -1.0213005542755127, -2.345125198364258, 0.1714722067117691,
    0.04712710157036781, 0.0722251832485199, 0.07986361533403397, -0.01640094816684723,
    -0.012834995985031128, 0.008606987074017525, -0.0061176847666502, 0.0003226145345252007,
    0.00041341292671859264, 0.00025133404415100813, -0.00015672514564357698,
    -2.2241818442125805e-05, 0.0, 0.0, 0.0,
)
TANH_C5_F32 = (
    0.13333243131637573, -19976.521484375, 7333.623046875, 5135.65185546875, 629.1871948242188,
    -536.9761962890625, -1665.1376953125, 155.44085693359375, 138.40032958984375,
    37.287315368652344, -57.65647888183594, 570.4019165039062, -11.1218843460083,
    26.982818603515625, 13.15470027923584, 28.274362564086914, -0.894192099571228,
    -0.3706102669239044, -0.5737652778625488, -0.6033114790916443, 0.00045769140706397593,
    0.01690242439508438, -0.03333910554647446, 0.014896812848746777, -0.0009521542815491557,
    -0.0006711734458804131, -0.0003772972268052399, 0.00022858801821712404, 1.624872675165534e-05,
    0.0, 0.0, 0.0,
)
TANH_C6_F32 = (
    0.0, 428851.875, -157248.015625, -110011.5390625, -6971.8486328125, 6195.609375,
    18855.09765625, -1848.087158203125, -1624.0325927734375, -436.4170227050781,
    674.7052612304688, -6668.67236328125, 64.98373413085938, -158.20718383789062,
    -77.22782135009766, -165.34361267089844, 2.496901035308838, 1.0401477813720703,
    1.670685887336731, 1.7690140008926392, 0.005969574674963951, -0.021157626062631607,
    0.04989587143063545, -0.021124955266714096, 0.0007687124889343977, 0.0004983958206139505,
    0.00027573545230552554, -0.00016601283277850598, -5.8998880376748275e-06, 0.0, 0.0, 0.0,
)
TANH_C7_F32 = (
    -0.05371271073818207, 15473.8359375, -5732.248046875, -3942.729736328125, 3398.92724609375,
    -7152.908203125, -16568.419921875, 3060.6875, 7479.52490234375, 2006.3543701171875,
    -3098.940185546875, 30606.359375, -149.55975341796875, 363.2834777832031, 177.15586853027344,
    378.9597473144531, -2.8428051471710205, -1.178765058517456, -1.9069557189941406,
    -2.02229380607605, -0.0038225858006626368, 0.011779635213315487, -0.028648920357227325,
    0.012014910578727722, -0.0002260591136291623, -0.00014325369556900114, -7.888602704042569e-05,
    4.7407047532033175e-05, 8.42227848352195e-07, 0.0, 0.0, 0.0,
)

_tanh_shift = table_lookup(_TANH_SHIFTS, np.float32)
(_tanh_c0, _tanh_c1, _tanh_c2, _tanh_c3, _tanh_c4, _tanh_c5, _tanh_c6, _tanh_c7) = (
    table_lookup(c, np.float32) for c in (TANH_C0_F32, TANH_C1_F32, TANH_C2_F32, TANH_C3_F32,
                                          TANH_C4_F32, TANH_C5_F32, TANH_C6_F32, TANH_C7_F32))


@intrinsic
def _tanh_interval(typingctx, a):
    """The interval of |x| = a >= 0 (or NaN): clamp((bits(a) >> 21) - base, 0, 31), in 32-bit
    integer code (Numba would widen it to 64 bits, halving the vector width)."""
    if a != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        j = builder.sub(builder.ashr(builder.bitcast(args[0], i32), i32(21)), i32(_TANH_BASE))
        j = builder.select(builder.icmp_signed("<", j, i32(0)), i32(0), j)
        return builder.select(builder.icmp_signed(">", j, i32(31)), i32(31), j)

    return types.int32(a), codegen


@_njit
def tanh_table_f32(x):
    """Hyperbolic tangent for float32 from the piecewise table (AVX-512 targets)."""
    a = abs(x)
    j = _tanh_interval(a)
    # the last interval's polynomial is the constant 1: clamping keeps t^k finite there, and
    # _min(16, NaN) is NaN (x86's minps returns its second operand when unordered), which then
    # propagates to the result
    t = _min(_F(16.0), a) - _tanh_shift(j)
    t2 = t * t
    # c0 + t*q(t): q by Estrin's scheme (shorter dependency chain), then one rounding at the
    # result's magnitude
    q12 = _fma(_tanh_c2(j), t, _tanh_c1(j))
    q34 = _fma(_tanh_c4(j), t, _tanh_c3(j))
    q56 = _fma(_tanh_c6(j), t, _tanh_c5(j))
    q = _fma(_fma(_fma(_tanh_c7(j), t2, q56), t2, q34), t2, q12)
    return math.copysign(_fma(q, t, _tanh_c0(j)), x)


BLOCK_KERNELS: dict[tuple[str, np.dtype], tuple[object, tuple[int, ...]]] = {
    ("sin", np.dtype(np.float32)): (trig_block_f32, (0,)),
    ("cos", np.dtype(np.float32)): (trig_block_f32, (1,)),
    ("sin", np.dtype(np.float64)): (trig_block_f64, (0,)),
    ("cos", np.dtype(np.float64)): (trig_block_f64, (1,)),
    ("log", np.dtype(np.float64)): (log_block_f64, ()),
    ("log", np.dtype(np.float32)): (log_block_f32, ()),
    ("erf", np.dtype(np.float64)): (erf_block_f64, ()),
    ("erf", np.dtype(np.float32)): (erf_block_f32, ()),
    ("log1p", np.dtype(np.float64)): (log1p_block_f64, ()),
    ("log1p", np.dtype(np.float32)): (log1p_block_f32, ()),
}
"""(function name, dtype) -> (kernel, extra arguments): the code generator runs the built-in
elementwise primitives of these names as ``kernel(*input_blocks, output_block, n, *extra)``."""

INLINE_MATH: dict[str, dict[np.dtype, object]] = {
    name: dict(per_dtype) for name, per_dtype in VECTOR_MATH.items()}
"""What the code generator inlines into fused loops: ``vecmath.VECTOR_MATH``, with the
table-driven versions where the tables stay in registers."""
if IN_REGISTER:
    # without in-register tables (no AVX-512), the table reads would be memory loads (gathers
    # once vectorised): vecmath's table-free functions are faster there
    INLINE_MATH["tanh"][np.dtype(np.float32)] = tanh_table_f32
    INLINE_MATH["tanh"][np.dtype(np.float64)] = tanh_table_f64
    INLINE_MATH["exp"][np.dtype(np.float64)] = exp_table_f64
    BLOCK_KERNELS[("pow", np.dtype(np.float32))] = (pow_block_f32, ())
    BLOCK_KERNELS[("pow", np.dtype(np.float64))] = (pow_block_f64, ())
