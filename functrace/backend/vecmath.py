"""Vectorisable elementary functions for fused Numba loops.

Inside a Numba loop, ``math.exp``/``math.tanh``/... are calls into the C library, one element at
a time: LLVM cannot vectorise the loop around them, and NumPy 2's SIMD ufuncs end up 5-70x
faster than the "fused" loop. This module provides functrace's own implementations, written so
that LLVM vectorises them: straight-line arithmetic, bit manipulation and selects (``a if c
else b`` on cheap operands becomes a ``select``), no data-dependent branches, no calls. Each is
a ``numba.njit(inline="always")`` scalar function, one per dtype, looked up through
:data:`VECTOR_MATH` (function name -> dtype -> function). A function is named like the
built-in primitive it computes; the code generator reaches it only from that primitive object
(``kernels.by_primitive``), never from another primitive of the same name, and a function no
built-in primitive computes (``softplus``) is not used by it. sin and cos also come as block
kernels, :func:`trig_block_f32` and :func:`trig_block_f64` (a vectorised fast path, then the
exact functions on the rare large arguments), which the code generator calls on blocks of its
fused loops instead.

Accuracy: within 2 ulp of the correctly rounded result over each function's whole domain, with
NumPy's results for special values (signed zeros, infinities, NaN, subnormals, overflow and
underflow). Approach, coefficient derivation and measured accuracy/speed: the "Vectorised math"
section of docs/backend.md; the coefficients come from ``benchmarks/fit_vecmath.py`` (Remez
fits), pasted below verbatim.

Speed notes: float32 integer steps are written as 32-bit LLVM code (Numba types int32
arithmetic as int64, which halves the vector width); ``a*b + c`` is written as :func:`_fma`
wherever one rounding is as good (fastmath stays off, so LLVM never contracts by itself).

float32 functions do float32 arithmetic with float32 constants, except sin, cos, erf and pow,
which compute in float64 and round once (their argument reduction or error amplification needs
more than float32 precision, and float64 keeps them simple and correctly rounded in practice).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

__all__ = [
    "VECTOR_MATH", "VECTOR_MATH_NAMES", "exp_f64", "exp_f32", "expm1_f64", "expm1_f32", "log_f64",
    "log_f32",
    "log1p_f64", "log1p_f32", "tanh_f64", "tanh_f32", "logistic_f64", "logistic_f32",
    "softplus_f64", "softplus_f32", "sin_f64", "sin_f32", "cos_f64", "cos_f32", "pow_f64",
    "pow_f32", "erf_f64", "erf_f32", "trig_block_f32",
    "trig_block_f64",
]

# error_model="numpy": 1/0 gives inf instead of raising; fastmath must stay off, the algorithms
# rely on exact IEEE rounding (Cody-Waite splits, rounding by adding 1.5*2^52, two-sums).
_njit = numba.njit(inline="always", fastmath=False, error_model="numpy")

# --- LLVM-level helpers -----------------------------------------------------------------------

_INT_OF = {types.float64: types.int64, types.float32: types.int32}


def _ir_float(ty):
    return ir.DoubleType() if ty == types.float64 else ir.FloatType()


@intrinsic
def _bits(typingctx, x):
    """The IEEE bit pattern of a float, as a signed integer of the same width."""
    if x not in _INT_OF:
        return None
    ity = _INT_OF[x]

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(ity.bitwidth))

    return ity(x), codegen


@intrinsic
def _f64_from_bits(typingctx, i):
    """The float64 whose bit pattern is the integer ``i`` (truncated/extended to 64 bits)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = builder.sext(args[0], ir.IntType(64)) if i.bitwidth < 64 else args[0]
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _f32_from_bits(typingctx, i):
    """The float32 whose bit pattern is the low 32 bits of the integer ``i``."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = builder.trunc(args[0], ir.IntType(32)) if i.bitwidth > 32 else args[0]
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c with one rounding (LLVM's llvm.fma: one instruction on FMA hardware)."""
    if a not in _INT_OF or b != a or c != a:
        return None

    def codegen(context, builder, sig, args):
        fty = _ir_float(a)
        name = "llvm.fma.f64" if a == types.float64 else "llvm.fma.f32"
        fn = builder.module.globals.get(name)
        if fn is None:
            fn = ir.Function(builder.module, ir.FunctionType(fty, [fty] * 3), name)
        return builder.call(fn, args)

    return a(a, a, a), codegen


# (float type, bits, mantissa bits, exponent bias, smallest subnormal exponent)
_FORMAT = {types.float64: (ir.DoubleType(), 64, 52, 1023, -1074),
           types.float32: (ir.FloatType(), 32, 23, 127, -149)}


@intrinsic
def _exp_scale(typingctx, p, t):
    """p * 2**k where t = k + 1.5 * 2**mant (the rounding shifter), for p in [0.7, 1.42) and
    emin_sub - 2 <= k <= emax + 1; results beyond the largest float come out garbage (callers
    select inf there). Same-width integer code.

    Normal results: k is added to p's exponent field. Subnormal results are never formed by a
    floating-point multiply (on x86 that takes a microcode assist, ~100x slower for the whole
    vector): u = p * 2**(k - emin_sub) is exact, and the encoding of the float round(u) *
    2**emin_sub is the integer round(u) (continuing into the smallest normal binade).
    """
    if p not in _FORMAT or t != p:
        return None
    fty, nbits, mant, bias, emin = _FORMAT[p]

    def codegen(context, builder, sig, args):
        pv, tv = args
        ity = ir.IntType(nbits)

        def c(v):
            return ir.Constant(ity, v)

        shift_bits = (bias + mant) << mant | 1 << (mant - 1)  # bits of 1.5 * 2**mant
        k = builder.sub(builder.bitcast(tv, ity), c(shift_bits))
        sub = builder.icmp_signed("<=", k, c(1 - bias))
        normal = builder.bitcast(builder.add(builder.bitcast(pv, ity), builder.shl(k, c(mant))),
                                 fty)
        ks = builder.select(sub, builder.sub(k, c(emin)), c(0))
        u = builder.fmul(pv, builder.bitcast(builder.shl(builder.add(ks, c(bias)), c(mant)), fty))
        rint = builder.module.declare_intrinsic("llvm.rint", [fty])
        n = builder.fptosi(builder.call(rint, [u]), ity)
        return builder.select(sub, builder.bitcast(n, fty), normal)

    return p(p, p), codegen


def _horner(x, coeffs):
    """sum(coeffs[j] * x**j) (reference semantics; compiled code uses Estrin's scheme)."""
    acc = coeffs[-1]
    for c in coeffs[-2::-1]:
        acc = acc * x + c
    return acc


def _estrin_source(n: int) -> str:
    """Source of ``impl(x, coeffs)`` evaluating a degree n-1 polynomial by Estrin's scheme:
    pairs c[2i] + c[2i+1]*x, then pairs of those with x^2, x^4, ... (fused multiply-adds).

    Its dependency chain is log2(n) deep instead of n for Horner's rule: a loop iteration is one
    long chain, and out-of-order execution only overlaps a few iterations, so depth is speed.
    """
    lines = ["def impl(x, coeffs):"]
    terms = [f"coeffs[{j}]" for j in range(n)]
    power, level = "x", 0
    while len(terms) > 1:
        nxt = []
        for i in range(0, len(terms) - 1, 2):
            name = f"t{level}_{i // 2}"
            lines.append(f"    {name} = _fma({terms[i + 1]}, {power}, {terms[i]})")
            nxt.append(name)
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
        if len(terms) > 1:
            lines.append(f"    x{level + 1} = {power} * {power}")
            power = f"x{level + 1}"
        level += 1
    lines.append(f"    return {terms[0]}")
    return "\n".join(lines)


@overload(_horner, inline="always")
def _horner_overload(x, coeffs):
    ns = {"_fma": _fma}
    exec(_estrin_source(len(coeffs)), ns)
    return ns["impl"]


def _horner_rule(x, coeffs):
    """sum(coeffs[j] * x**j) by Horner's rule: fewer operations than Estrin's scheme but a
    longer dependency chain; faster where a loop body is long enough for out-of-order execution
    to overlap iterations anyway (float32 pow)."""
    return _horner(x, coeffs)


def _horner_source(n: int) -> str:
    """Source of ``impl(x, coeffs)`` evaluating a degree n-1 polynomial by Horner's rule."""
    lines = ["def impl(x, coeffs):", f"    acc = coeffs[{n - 1}]"]
    for j in range(n - 2, -1, -1):
        lines.append(f"    acc = _fma(acc, x, coeffs[{j}])")
    lines.append("    return acc")
    return "\n".join(lines)


@overload(_horner_rule, inline="always")
def _horner_rule_overload(x, coeffs):
    ns = {"_fma": _fma}
    exec(_horner_source(len(coeffs)), ns)
    return ns["impl"]


@_njit
def _two_sum(a, b):
    """(s, e) with s = fl(a + b) and a + b = s + e exactly."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_njit
def _fast_two_sum(a, b):
    """Like _two_sum when |a| >= |b|."""
    s = a + b
    return s, b - (s - a)


@_njit
def _two_prod(a, b):
    p = a * b
    return p, _fma(a, b, -p)


# --- constants --------------------------------------------------------------------------------

_F = np.float32
_INF = math.inf
_NAN = math.nan
_INF32 = _F(np.inf)
_NAN32 = _F(np.nan)
_DBL_MAX = 1.7976931348623157e308
_FLT_MAX = _F(3.4028234663852886e38)
_MIN_NORMAL = 2.2250738585072014e-308
_MIN_NORMAL32 = _F(1.1754943508222875e-38)

_LOG2E = 1.4426950408889634
_LOG2E32 = _F(1.4426950408889634)
# ln2 split so that k*_LN2_HI is exact for |k| < 2^21 (float32: 2^8): Cody-Waite reduction
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LN2_HI32 = _F(6.93145751953125e-01)
_LN2_LO32 = _F(1.428606765330187e-06)
_PIO2_HI = 1.5707963267948966
_PIO2_LO = 6.123233995736766e-17
# adding 1.5*2^52 (float32: 1.5*2^23) rounds to an integer, which then sits in the low bits
_SHIFT = 6755399441055744.0
_SHIFT32 = _F(12582912.0)
_SHIFT_BITS = 0x4338000000000000
_SHIFT32_BITS = 0x4B400000
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_SQRT_HALF32_BITS = 0x3F3504F3

# Polynomial coefficients, lowest degree first, from benchmarks/fit_vecmath.py (output pasted).
# The comments give each fit's weighted minimax error (relative error of the fitted part).
# EXP_F64: 11 coefficients on [-0.346574, 0.346574], minimax 0.0245 ulp, rounded 0.0547 ulp
EXP_F64 = (
    0.5, 0.1666666666666667, 0.041666666666666616, 0.008333333333326167, 0.0013888888888917955,
    0.00019841269874721018, 2.480158724574779e-05, 2.755725551396795e-06, 2.755734961398992e-07,
    2.5105173732721968e-08, 2.0889375851541496e-09,
)
# EXP_F32: 5 coefficients on [-0.346574, 0.346574], minimax 2.08 ulp, rounded 2.25 ulp
EXP_F32 = (
    0.5, 0.16666577756404877, 0.04166685417294502, 0.008363140746951103, 0.001390128512866795,
)
# LOG_F64: 7 coefficients on [0, 0.0294373], minimax 0.0111 ulp, rounded 0.0163 ulp
LOG_F64 = (
    0.6666666666666734, 0.39999999999414676, 0.2857142874238835, 0.22222198573097768,
    0.1818356433114516, 0.15314050411991742, 0.14795951206608274,
)
# LOG_F32: 3 coefficients on [0, 0.0294373], minimax 0.0136 ulp, rounded 0.0146 ulp
LOG_F32 = (
    0.6666677594184875, 0.3997754156589508, 0.29871729016304016,
)
# LOGPOW_F64: 10 coefficients on [0, 0.0294373], minimax 6.85e-06 ulp, rounded 9.92 ulp
LOGPOW_F64 = (
    0.6666666666666666, 0.4, 0.2857142857142821, 0.22222222222324922, 0.18181818165175279,
    0.15384617050866306, 0.133332268783682, 0.11769049445157315, 0.10417110466859594,
    0.1105145624658291,
)
LOGPOW_F64_C1_LO = 3.70035617539473e-17
# LOG2POW_F32: 5 coefficients on [0, 0.0294373], minimax 0.00905 ulp, rounded 0.00905 ulp
# (log2(1+f) = s*q(s^2), s = f/(2+f); relative error weighted by 128, |y log2 x| near float32's
# overflow, in float32 ulps of pow)
LOG2POW_F32 = (
    2.88539008179008, 0.9617966733499717, 0.5770835832870154, 0.4116728257861828,
    0.34072802972897115,
)
# EXP2POW_F32: 7 coefficients on [-0.5, 0.5], minimax 0.0311 ulp, rounded 0.0311 ulp (2**r)
EXP2POW_F32 = (
    1.0000000005541718, 0.6931472057374181, 0.24022646890624003, 0.05550328776634549,
    0.009618488956738027, 0.001339993135195689, 0.00015345812439941097,
)
# TANH_F64: 12 coefficients on [0, 0.390625], minimax 0.107 ulp, rounded 0.538 ulp
TANH_F64 = (
    -0.3333333333333333, 0.13333333333333042, -0.053968253967897235, 0.021869488519017932,
    -0.008863235103437294, 0.003592121753493593, -0.0014557754294120527, 0.0005896607405967352,
    -0.00023759090342253896, 9.257164439656605e-05, -3.120162114516322e-05, 6.485404961828326e-06,
)
# TANH_F32: 7 coefficients on [0, 1], minimax 0.0776 ulp, rounded 0.0938 ulp (weighted by
# x^3/tanh(x): the relative error of tanh)
TANH_F32 = (
    -0.33333295583724976, 0.13332344591617584, -0.05387980118393898, 0.021486656740307808,
    -0.007946106605231762, 0.0023013646714389324, -0.0003584520018193871,
)
# SIN_F64: 7 coefficients on [0, 0.616851], minimax 0.000635 ulp, rounded 0.515 ulp
SIN_F64 = (
    -0.16666666666666666, 0.008333333333333331, -0.00019841269841265027, 2.755731921931338e-06,
    -2.5052106224391272e-08, 1.6058530458781868e-10, -7.586634452586993e-13,
)
# COS_F64: 7 coefficients on [0, 0.616851], minimax 0.000141 ulp, rounded 0.502 ulp
COS_F64 = (
    0.041666666666666664, -0.0013888888888888887, 2.4801587301584632e-05, -2.755731922139349e-07,
    2.0876755788162877e-09, -1.1470460467317368e-11, 4.745849194971478e-14,
)
# SIN_F32: 4 coefficients on [0, 0.616851], minimax 0.00287 ulp, rounded 0.00287 ulp
SIN_F32 = (
    -0.16666666663817234, 0.008333331863649759, -0.00019840081962983156, 2.7249410568617296e-06,
)
# COS_F32: 4 coefficients on [0, 0.616851], minimax 0.000953 ulp, rounded 0.000953 ulp
COS_F32 = (
    0.041666666664300994, -0.0013888887666134893, 2.4800597837454874e-05, -2.7300684888311013e-07,
)
# ERF_F64: 12 coefficients on [0, 1], minimax 0.0658 ulp, rounded 0.238 ulp
ERF_F64 = (
    1.1283791670955126, -0.3761263890318352, 0.11283791670944185, -0.026866170643111458,
    0.005223977606118407, -0.0008548325929311613, 0.00012055293576821917, -1.4924712300607767e-05,
    1.6447131555069036e-06, -1.6206313641226537e-07, 1.371097991581091e-08,
    -7.779467628799924e-10,
)
# ERFC_F64: 23 coefficients on [1, 6], minimax 0.00417 ulp, rounded 0.0112 ulp
ERFC_F64 = (
    0.1552936556089655, -0.04132357783351823, 0.010661133184212374, -0.0026730744693567823,
    0.0006526863439593785, -0.0001554686347878376, 3.618222530744241e-05, -8.238030529120174e-06,
    1.835831337383867e-06, -4.0349579199270023e-07, 8.59785955146443e-08, -1.6592665462833785e-08,
    5.474641559061067e-09, -3.040346124343618e-10, -3.3728334720575947e-10,
    -5.634195780756891e-10, -1.8914316549168168e-10, 1.1149851313062246e-11,
    4.3326273031990455e-11, 1.9989074622034798e-11, 4.868597271844949e-12, 6.471297782629152e-13,
    3.876992598291025e-14,
)

_TANH_SPLIT = 0.625
_TANH_SPLIT_F32 = 1.0
_ERF_SPLIT = 1.0
_ERF_MAX = 6.0
_ERFC_SHIFT = 3.5

_EXP_F32 = tuple(_F(c) for c in EXP_F32)
_LOG_F32 = tuple(_F(c) for c in LOG_F32)
_TANH_F32 = tuple(_F(c) for c in TANH_F32)
_ERF_M1 = (ERF_F64[0] - 1.0,) + ERF_F64[1:]  # exact subtraction
_LOGPOW_C1_HI = LOGPOW_F64[0]
_LOGPOW_C1_LO = LOGPOW_F64_C1_LO
_LOGPOW_REST = LOGPOW_F64[1:]


# --- exp, expm1 -------------------------------------------------------------------------------

@_njit
def _exp_reduce_f64(x):
    """x = k*ln2 + rh + rl with |rh + rl| <= ln2/2: returns rh, rl, k (as an integer) and
    t = k + 1.5 * 2**52."""
    t = _fma(x, _LOG2E, _SHIFT)
    k = t - _SHIFT
    rh = _fma(-k, _LN2_HI, x)  # exact
    return rh, -k * _LN2_LO, _bits(t) - _SHIFT_BITS, t


@_njit
def _exp_kernel_f64(rh, rl):
    """e**(rh + rl) for |rh + rl| <= ln2/2: 1 + rh summed exactly, then one rounding."""
    r = rh + rl
    one, lo = _fast_two_sum(1.0, rh)
    return one + (lo + _fma(r * r, _horner(r, EXP_F64), rl))


@_njit
def _pow2_f64(k):
    """2.0**k for an integer -1022 <= k <= 1023."""
    return _f64_from_bits((k + 1023) << 52)


@_njit
def exp_f64(x):
    """e**x for float64."""
    # Below -746 the result is 0: those lanes compute e**0 instead and are replaced, because a
    # multiplication underflowing to 0 takes a slow microcode assist on x86 (masked softmax
    # feeds -inf here all the time). Above 710 the final scaling overflows to inf. NaN passes.
    ok = (x >= -746.0) & (x <= 709.782712893384)  # false for NaN as well
    rh, rl, _, t = _exp_reduce_f64(x if ok else 0.0)
    # r = rh + rl rounded costs < 2**-54 relative, and 1 + (r + r^2 q(r)) rounds twice: 1.0 ulp
    # measured, against 0.74 for the compensated _exp_kernel_f64 (which pow keeps), 6% faster
    r = rh + rl
    res = _exp_scale(1.0 + _fma(r * r, _horner(r, EXP_F64), r), t)
    return res if ok else (0.0 if x < 0.0 else x * _INF)


@_njit
def _exp_moderate_f64(x):
    """e**x for |x| <= 700 (no overflow or underflow: a single scaling)."""
    rh, rl, ki, _ = _exp_reduce_f64(x)
    return _exp_kernel_f64(rh, rl) * _pow2_f64(ki)


@_njit
def _exp_reduce_f32(x):
    t = _fma(x, _LOG2E32, _SHIFT32)
    k = t - _SHIFT32
    return _fma(-k, _LN2_HI32, x), -k * _LN2_LO32, _bits(t) - _SHIFT32_BITS, t


@_njit
def _exp_kernel_f32(rh, rl):
    r = rh + rl
    one, lo = _fast_two_sum(_F(1.0), rh)
    return one + (lo + _fma(r * r, _horner(r, _EXP_F32), rl))


@_njit
def _pow2_f32(k):
    return _f32_from_bits((k + 127) << 23)


@_njit
def exp_f32(x):
    """e**x for float32 (see exp_f64 for the handling of the extremes)."""
    ok = (x >= _F(-104.0)) & (x <= _F(88.72283172607421875))  # largest x with finite e**x
    rh, rl, _, t = _exp_reduce_f32(x if ok else _F(0.0))
    res = _exp_scale(_exp_kernel_f32(rh, rl), t)
    return res if ok else (_F(0.0) if x < _F(0.0) else x * _INF32)


@_njit
def expm1_f64(x):
    """e**x - 1 for float64, accurate for small |x|."""
    xc = 710.0 if x > 710.0 else x
    xc = -40.0 if xc < -40.0 else xc  # expm1 rounds to -1 below -38
    rh, rl, ki, _ = _exp_reduce_f64(xc)
    r = rh + rl
    # e**x - 1 = 2 * ((t - 1/2) + t*rh + t*(rl + r^2*q(r))) with t = 2**(k-1): t - 1/2 and t*rh
    # are exact where it matters, their sum cancels exactly, and nothing overflows before the
    # final doubling
    t = _pow2_f64(ki - 1)
    res = 2.0 * (((t - 0.5) + t * rh) + t * (rl + r * r * _horner(r, EXP_F64)))
    return x if abs(x) < 5.551115123125783e-17 else res  # 2**-54: x itself (keeps -0)


@_njit
def expm1_f32(x):
    """e**x - 1 for float32, accurate for small |x|."""
    xc = _F(89.0) if x > _F(89.0) else x
    xc = _F(-18.0) if xc < _F(-18.0) else xc
    rh, rl, ki, _ = _exp_reduce_f32(xc)
    r = rh + rl
    t = _pow2_f32(ki - 1)
    res = _F(2.0) * (((t - _F(0.5)) + t * rh) + t * (rl + r * r * _horner(r, _EXP_F32)))
    return x if abs(x) < _F(2.9802322387695312e-08) else res  # 2**-25


# --- log, log1p -------------------------------------------------------------------------------

@_njit
def _split_f64(x):
    """x = 2**e * m with m in [sqrt(1/2), sqrt(2)) for a positive normal x: returns (e, m)."""
    ix = _bits(x)
    e = (ix - _SQRT_HALF_BITS) >> 52
    return e, _f64_from_bits(ix - (e << 52))


@_njit
def _log_kernel_f64(f, e, corr):
    """log(2**e * (1 + f)) + corr for f in [sqrt(1/2) - 1, sqrt(2) - 1] and a tiny corr
    (fdlibm's formulation)."""
    s = f / (2.0 + f)
    z = s * s
    big_r = z * _horner(z, LOG_F64)  # log(1+f) = 2s + s*R
    hfsq = 0.5 * f * f
    inner = _fma(s, hfsq + big_r, _fma(e, _LN2_LO, corr))
    return _fma(e, _LN2_HI, -((hfsq - inner) - f))  # e * _LN2_HI is exact


@_njit
def log_f64(x):
    """Natural logarithm for float64."""
    sub = x < _MIN_NORMAL
    ei, m = _split_f64(x * 18014398509481984.0 if sub else x)  # 2**54 normalises subnormals
    e = float(ei) - (54.0 if sub else 0.0)
    res = _log_kernel_f64(m - 1.0, e, 0.0)
    special = -_INF if x == 0.0 else (x if x == _INF else _NAN)
    return res if (x > 0.0) & (x < _INF) else special


@_njit
def _log1p_core_f64(x):
    """log(1 + x) for x > -1 finite (no special values)."""
    u, c = _two_sum(1.0, x)  # 1 + x = u + c exactly
    ei, m = _split_f64(u)
    f = m - 1.0
    # log(u + c) = log(u) + c/u + O(c^2): c/u = c * 2**-e / (1+f), 1/(1+f) to O(f^3) suffices
    # (the term is below an ulp of the result); 2**-1000 when e > 1000 avoids underflow
    corr = c * _pow2_f64(-(1000 if ei > 1000 else ei)) * (1.0 - f + f * f)
    return _log_kernel_f64(f, float(ei), corr)


@_njit
def log1p_f64(x):
    """log(1 + x) for float64, accurate for small |x|."""
    res = _log1p_core_f64(x)
    special = -_INF if x == -1.0 else (x if x == _INF else _NAN)
    res = res if (x > -1.0) & (x < _INF) else special
    return x if x == 0.0 else res  # keeps -0


@intrinsic
def _split_f32(typingctx, x):
    """x = 2**e * m with m in [sqrt(1/2), sqrt(2)) for a positive normal float32 x: returns
    (e as float32, m, e as int32), in 32-bit integer code (Numba's typing would widen the
    integer steps to int64, halving the vector width)."""
    if x != types.float32:
        return None
    sig = types.Tuple((types.float32, types.float32, types.int32))(x)

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        ix = builder.bitcast(args[0], i32)
        e = builder.ashr(builder.sub(ix, ir.Constant(i32, _SQRT_HALF32_BITS)), ir.Constant(i32, 23))
        m = builder.bitcast(builder.sub(ix, builder.shl(e, ir.Constant(i32, 23))), ir.FloatType())
        ef = builder.sitofp(e, ir.FloatType())
        return context.make_tuple(builder, sig.return_type, (ef, m, e))

    return sig, codegen


@_njit
def _log_kernel_f32(f, e, corr):
    s = f / (_F(2.0) + f)
    z = s * s
    big_r = z * _horner(z, _LOG_F32)
    hfsq = _F(0.5) * f * f
    inner = _fma(s, hfsq + big_r, _fma(e, _LN2_LO32, corr))
    return _fma(e, _LN2_HI32, -((hfsq - inner) - f))


@_njit
def log_f32(x):
    """Natural logarithm for float32."""
    sub = x < _MIN_NORMAL32
    e, m, _ = _split_f32(x * _F(16777216.0) if sub else x)  # 2**24
    e = e - (_F(24.0) if sub else _F(0.0))
    res = _log_kernel_f32(m - _F(1.0), e, _F(0.0))
    special = -_INF32 if x == _F(0.0) else (x if x == _INF32 else _NAN32)
    return res if (x > _F(0.0)) & (x < _INF32) else special


@_njit
def _log1p_core_f32(x):
    u, c = _two_sum(_F(1.0), x)
    e, m, ei = _split_f32(u)
    f = m - _F(1.0)
    corr = c * _pow2_f32(-(120 if ei > 120 else ei)) * (_F(1.0) - f + f * f)
    return _log_kernel_f32(f, e, corr)


@_njit
def log1p_f32(x):
    """log(1 + x) for float32, accurate for small |x|."""
    res = _log1p_core_f32(x)
    special = -_INF32 if x == _F(-1.0) else (x if x == _INF32 else _NAN32)
    res = res if (x > _F(-1.0)) & (x < _INF32) else special
    return x if x == _F(0.0) else res


# --- tanh, logistic, softplus -----------------------------------------------------------------

@_njit
def tanh_f64(x):
    """Hyperbolic tangent for float64."""
    ax = abs(x)
    z = x * x
    small = x + x * z * _horner(z, TANH_F64)
    e = _exp_moderate_f64(2.0 * (40.0 if ax > 40.0 else ax))  # tanh rounds to 1 beyond 19.1
    big = math.copysign(1.0 - 2.0 / (e + 1.0), x)
    small = x if ax < 3.725290298461914e-09 else small  # 2**-28: tanh x rounds to x (keeps -0)
    return small if ax < _TANH_SPLIT else big


@_njit
def tanh_f32(x):
    """Hyperbolic tangent for float32."""
    ax = abs(x)
    z = x * x
    # below the split: |x| + |x|^3 q(x^2) with one rounding (exactly |x| when x^3 is
    # negligible, subnormals included)
    small = _fma(ax * z, _horner(z, _TANH_F32), ax)
    # above: 1 - 2/(e^2|x| + 1), where 2/(e^2|x| + 1) <= 0.24 damps e^2|x|'s error four-fold,
    # so a plain (uncompensated) exp suffices; tanh rounds to 1 beyond 9.01
    a2 = _F(2.0) * (_F(9.1) if ax > _F(9.1) else ax)
    t = _fma(a2, _LOG2E32, _SHIFT32)
    k = t - _SHIFT32
    r = _fma(-k, _LN2_LO32, _fma(-k, _LN2_HI32, a2))
    p = _F(1.0) + _fma(r * r, _horner(r, _EXP_F32), r)
    e = _f32_from_bits(_bits(p) + ((_bits(t) - _SHIFT32_BITS) << 23))
    big = _F(1.0) - _F(2.0) / (e + _F(1.0))
    # NaN takes the polynomial branch: the exponent-field scaling above can turn a NaN with
    # payload bits into a number. copysign keeps -0.
    return math.copysign(big if ax >= _F(_TANH_SPLIT_F32) else small, x)


@_njit
def logistic_f64(x):
    """The logistic sigmoid 1 / (1 + e**-x) for float64, accurate in both tails."""
    e = exp_f64(-abs(x))
    num = 1.0 if x >= 0.0 else e
    d, de = _fast_two_sum(1.0, e)  # 1 + e = d + de exactly
    q = num / d
    # one correction step towards num / (d + de): the residual is exact, and 1/d is q or 1 - q
    rem = _fma(-q, d, num) - q * de
    return q + rem * (q if x >= 0.0 else 1.0 - q)


@_njit
def logistic_f32(x):
    """The logistic sigmoid for float32."""
    e = exp_f32(-abs(x))
    num = _F(1.0) if x >= _F(0.0) else e
    d, de = _fast_two_sum(_F(1.0), e)
    q = num / d
    rem = _fma(-q, d, num) - q * de
    return q + rem * (q if x >= _F(0.0) else _F(1.0) - q)


@_njit
def softplus_f64(x):
    """log(1 + e**x) for float64, without overflow: max(x, 0) + log1p(e**-|x|)."""
    return (x if x > 0.0 else 0.0) + _log1p_core_f64(exp_f64(-abs(x)))


@_njit
def softplus_f32(x):
    """log(1 + e**x) for float32."""
    return (x if x > _F(0.0) else _F(0.0)) + _log1p_core_f32(exp_f32(-abs(x)))


# --- sin, cos ---------------------------------------------------------------------------------

def _two_over_pi_bits(nbits: int) -> int:
    """floor(2/pi * 2**nbits), from Machin's formula in integer arithmetic."""
    guard = nbits + 64

    def arctan_inv(n: int) -> int:  # arctan(1/n) * 2**guard
        total, term, k, n2 = 0, (1 << guard) // n, 0, n * n
        while term:
            total += term // (2 * k + 1) if k % 2 == 0 else -(term // (2 * k + 1))
            term //= n2
            k += 1
        return total

    pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)  # pi * 2**guard, error a few units
    return (2 << (guard + nbits)) // pi


def _chunks(w: int, scale: int, widths: tuple[int, ...]) -> list[float]:
    """Split w * 2**scale into floats holding successive leading bits (widths[i] bits each)."""
    out = []
    for width in widths:
        shift = max(w.bit_length() - width, 0)
        top = w >> shift
        out.append(math.ldexp(float(top), shift + scale) if top else 0.0)
        w -= top << shift
    return out


def _trig_table(mant_bits: int, bias: int, nexp: int, widths: tuple[int, ...],
                min_e: int) -> np.ndarray:
    """Payne-Hanek table: row e holds (2**E * 2/pi) mod 4 split into chunks, where a float with
    biased exponent e is M * 2**E (M its integer significand). M * row then has the same value
    mod 4 as x * 2/pi: the bits of 2/pi that would only add multiples of 4 are dropped."""
    nbits = 1200 + bias + mant_bits
    t = _two_over_pi_bits(nbits)
    rows = np.zeros((nexp, len(widths)))
    for e in range(nexp):
        big_e = max(max(e, 1) - bias - mant_bits, min_e)
        keep = nbits - big_e + 2  # bits of t below 4 * 2**(nbits - E)
        w = t & ((1 << keep) - 1) if keep < t.bit_length() else t
        rows[e] = _chunks(w, big_e - nbits, widths)
    return rows


# float64: four 53-bit chunks (products formed exactly with fma); rows for |x| < 2**-27 (sin x
# = x there) are clamped to stay normal. float32: 29 + 53 + 53 bits, so M * chunk0 is exact.
_TRIG_F64 = _trig_table(52, 1023, 2048, (53, 53, 53, 53), -120)
_TRIG_F32 = _trig_table(23, 127, 256, (29, 53, 53), -200)


@_njit
def _trig_reduce_f64(ax):
    """ax * 2/pi = n + f (mod 4), |f| <= 1/2: returns r = f*pi/2 as rh + rl and n mod 4."""
    ix = _bits(ax)
    e = ix >> 52
    m = _f64_from_bits((ix & 0xFFFFFFFFFFFFF) | 0x4330000000000000)  # integer significand
    d0 = _TRIG_F64[e, 0]
    d1 = _TRIG_F64[e, 1]
    d2 = _TRIG_F64[e, 2]
    d3 = _TRIG_F64[e, 3]
    p0, e0 = _two_prod(m, d0)
    p1, e1 = _two_prod(m, d1)
    p2, e2 = _two_prod(m, d2)
    p3 = m * d3
    p0 = p0 - 4.0 * math.floor(p0 * 0.25)  # exact; multiples of 4 do not change sin/cos
    p1 = p1 - 4.0 * math.floor(p1 * 0.25)
    s, es = _two_sum(p0, p1)
    s, es2 = _two_sum(s, e0)
    mid, em = _two_sum(e1, p2)
    mid, em2 = _two_sum(mid, es)
    mid, em3 = _two_sum(mid, es2)
    low = ((em + em2) + em3) + (e2 + p3)
    t = (s + mid) + _SHIFT
    q = t - _SHIFT
    fh, fe = _two_sum(s - q, mid)
    fl = fe + low
    rh = fh * _PIO2_HI
    rl = _fma(fh, _PIO2_HI, -rh) + (fh * _PIO2_LO + fl * _PIO2_HI)
    return rh, rl, _bits(t) & 3


@_njit
def _sincos_kernel_f64(rh, rl):
    """(sin r, cos r) for r = rh + rl, |r| <= pi/4."""
    z = rh * rh
    s = rh + (rh * z * _horner(z, SIN_F64) + rl * (1.0 - 0.5 * z))
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) + (z * z * _horner(z, COS_F64) - rh * rl))
    return s, c


@_njit
def sin_f64(x):
    """Sine for float64, with exact argument reduction for every finite x."""
    ax = abs(x)
    rh, rl, n = _trig_reduce_f64(ax)
    s, c = _sincos_kernel_f64(rh, rl)
    v = c if n & 1 else s
    v = -v if n & 2 else v
    v = -v if x < 0.0 else v
    v = x if ax < 7.450580596923828e-09 else v  # 2**-27: sin x rounds to x
    return v if ax <= _DBL_MAX else x - x


@_njit
def cos_f64(x):
    """Cosine for float64, with exact argument reduction for every finite x."""
    ax = abs(x)
    rh, rl, n = _trig_reduce_f64(ax)
    s, c = _sincos_kernel_f64(rh, rl)
    v = s if n & 1 else c
    v = -v if (n + 1) & 2 else v
    v = 1.0 if ax < 7.450580596923828e-09 else v
    return v if ax <= _DBL_MAX else x - x


@_njit
def _trig_reduce_f32(ax):
    """As _trig_reduce_f64 for a float32 ax, in float64: returns (r, n mod 4)."""
    ix = _bits(ax)
    e = ix >> 23
    mi = (ix & 0x7FFFFF) | (0x800000 if e != 0 else 0)
    m = np.float64(mi)
    d0 = _TRIG_F32[e, 0]
    d1 = _TRIG_F32[e, 1]
    d2 = _TRIG_F32[e, 2]
    p0 = m * d0  # exact: 24 + 29 bits
    p0 = p0 - 4.0 * math.floor(p0 * 0.25)
    p1, e1 = _two_prod(m, d1)
    t = (p0 + p1) + _SHIFT
    q = t - _SHIFT
    f = ((p0 - q) + p1) + (e1 + m * d2)
    return f * _PIO2_HI, _bits(t) & 3


@_njit
def _sincos_kernel_f32(r):
    z = r * r
    s = r + r * z * _horner(z, SIN_F32)
    c = (1.0 - 0.5 * z) + z * z * _horner(z, COS_F32)
    return s, c


@_njit
def sin_f32(x):
    """Sine for float32 (computed in float64, exact argument reduction)."""
    ax = abs(x)
    r, n = _trig_reduce_f32(ax)
    s, c = _sincos_kernel_f32(r)
    v = c if n & 1 else s
    v = -v if n & 2 else v
    v = -v if x < _F(0.0) else v
    v = _F(v) if ax >= _F(2.44140625e-04) else x  # 2**-12: sin x rounds to x (keeps -0)
    return v if ax <= _FLT_MAX else x - x


@_njit
def cos_f32(x):
    """Cosine for float32 (computed in float64, exact argument reduction)."""
    ax = abs(x)
    r, n = _trig_reduce_f32(ax)
    s, c = _sincos_kernel_f32(r)
    v = s if n & 1 else c
    v = -v if (n + 1) & 2 else v
    return _F(v) if ax <= _FLT_MAX else x - x


# Block kernel for float32 sin/cos (what the code generator calls on blocks of a fused loop): a
# Cody-Waite reduction and polynomials in float32 arithmetic (16 lanes per vector) for
# |x| < _TRIG_FAST_F32, with a vectorised flag for larger, infinite or NaN arguments; a block
# holding one is patched afterwards by the exact scalar functions above. A single inlined
# function cannot do this (a branch-free loop pays for the gather-based exact reduction on
# every element: 1.4 against 0.2 ns/element).
# SINK_F32: 4 coefficients on [0, 0.616851], minimax 0.00287 ulp, rounded 0.517 ulp
SINK_F32 = (
    -0.1666666716337204, 0.008333331905305386, -0.00019840082677546889, 2.7249411687080283e-06,
)
# COSK_F32: 3 coefficients on [0, 0.616851], minimax 0.815 ulp, rounded 1.01 ulp (enters cos
# multiplied by z^2 / cos r <= 0.02)
COSK_F32 = (
    0.0416666641831398, -0.0013888301327824593, 2.4547607608838007e-05,
)
_SINK_F32 = tuple(_F(c) for c in SINK_F32)
_COSK_F32 = tuple(_F(c) for c in COSK_F32)
_TWO_OVER_PI32 = _F(0.6366197466850281)
# pi/2 = _PIO2_1_32 + _PIO2_2_32 + _PIO2_3_32 to ~2^-74; k * _PIO2_1_32 is subtracted exactly
# (fma; x and the product are multiples of 2^-24 and the difference is below 1)
_PIO2_1_32 = _F(1.5707963705062866)
_PIO2_2_32 = _F(-4.371138828673793e-08)
_PIO2_3_32 = _F(-1.7151245100058819e-15)
# below this, the fast path is within 1.50 ulp (exhaustively checked); NumPy's bound too
_TRIG_FAST_F32 = _F(71476.0625)


@_njit
def _sincos_fast_f32(x, want_cos):
    """sin x (want_cos = 0) or cos x (1) for a float32 |x| < _TRIG_FAST_F32, in float32."""
    t = _fma(x, _TWO_OVER_PI32, _SHIFT32)
    k = t - _SHIFT32
    r = _fma(-k, _PIO2_1_32, x)
    r = _fma(-k, _PIO2_2_32, r)
    r = _fma(-k, _PIO2_3_32, r)
    n = _bits(t) + np.int32(want_cos)  # the quadrant is in t's low bits; int32 lanes
    z = r * r
    s = _fma(r * z, _horner(z, _SINK_F32), r)
    c = _fma(z, _fma(z, _horner(z, _COSK_F32), _F(-0.5)), _F(1.0))
    v = c if n & 1 else s
    v = -v if n & 2 else v
    return x if (x == _F(0.0)) & (want_cos == 0) else v  # sin(-0) = -0


@numba.njit(cache=True, error_model="numpy", nogil=True)
def trig_block_f32(src, dst, n, want_cos):
    """dst[:n] = sin(src[:n]) (want_cos = 0) or cos (want_cos = 1), float32 arrays: the
    vectorised fast path on every element, then the exact functions on the few (if any) with
    |x| >= 71476.0625, inf or NaN. Within 1.50 ulp (0.50 beyond the fast path's range)."""
    bad = False
    for i in range(n):
        x = src[i]
        dst[i] = _sincos_fast_f32(x, want_cos)
        bad |= not (abs(x) < _TRIG_FAST_F32)
    if bad:
        for i in range(n):
            x = src[i]
            if not (abs(x) < _TRIG_FAST_F32):
                dst[i] = cos_f32(x) if want_cos else sin_f32(x)


# The same for float64 (``trig_block_f64``): Cody-Waite with fma, the reduced argument as a
# double-double, vecmath's sin/cos kernel; the exact Payne-Hanek functions above beyond
# _TRIG_FAST_F64 (2^20 pi/2).
_PIO2_3 = -1.4973849048591698e-33  # pi/2 = _PIO2_HI + _PIO2_LO + _PIO2_3 to ~2^-163
_TWO_OVER_PI = 0.6366197723675814
_TRIG_FAST_F64 = 1647099.0


@_njit
def _sincos_fast_f64(x, want_cos):
    """sin x (want_cos = 0) or cos x (1) for |x| < _TRIG_FAST_F64."""
    t = _fma(x, _TWO_OVER_PI, _SHIFT)
    k = t - _SHIFT
    r1 = _fma(-k, _PIO2_HI, x)  # exact: for k != 0 both multiples of 2^-53, difference < 1
    p2 = k * _PIO2_LO
    p2e = _fma(k, _PIO2_LO, -p2)
    rh = r1 - p2
    # fast two-sum, exact: |r1| >= |p2|, or else r1 is a multiple of ulp(p2) (r1 is one of
    # 2^-53 and |p2| < 2^-33)
    rl = ((r1 - rh) - p2) - (p2e + k * _PIO2_3)
    s, c = _sincos_kernel_f64(rh, rl)
    n = _bits(t) + want_cos
    v = c if n & 1 else s
    v = -v if n & 2 else v
    return x if (x == 0.0) & (want_cos == 0) else v  # sin(-0) = -0


@numba.njit(cache=True, error_model="numpy", nogil=True)
def trig_block_f64(src, dst, n, want_cos):
    """dst[:n] = sin(src[:n]) (want_cos = 0) or cos (1), float64 arrays: as trig_block_f32,
    with the exact functions for |x| >= 1647099, inf and NaN."""
    bad = False
    for i in range(n):
        x = src[i]
        dst[i] = _sincos_fast_f64(x, want_cos)
        bad |= not (abs(x) < _TRIG_FAST_F64)
    if bad:
        for i in range(n):
            x = src[i]
            if not (abs(x) < _TRIG_FAST_F64):
                dst[i] = cos_f64(x) if want_cos else sin_f64(x)


# --- erf --------------------------------------------------------------------------------------

@_njit
def erf_f64(x):
    """The error function for float64."""
    ax = abs(x)
    small = x + x * _horner(x * x, _ERF_M1)  # x * q(x^2) as x + x*(q - 1): q ~ 1.13
    xc = _ERF_MAX if ax > _ERF_MAX else ax  # erf rounds to +-1 beyond; keeps NaN
    # erf = 1 - erfc, erfc(x) = e**(-x^2) * erfcx(x); rounding x^2 costs < 0.2 ulp of erf here
    big = 1.0 - exp_f64(-(xc * xc)) * _horner(xc - _ERFC_SHIFT, ERFC_F64)
    return small if ax < _ERF_SPLIT else math.copysign(big, x)


@_njit
def erf_f32(x):
    """The error function for float32 (computed in float64)."""
    return _F(erf_f64(np.float64(x)))


# --- pow --------------------------------------------------------------------------------------

@_njit
def _log_dd_f64(ax):
    """log(ax) as a double-double (hi, lo), relative error ~2**-64, for finite ax > 0."""
    sub = ax < _MIN_NORMAL
    ei, m = _split_f64(ax * 18014398509481984.0 if sub else ax)
    e = float(ei) - (54.0 if sub else 0.0)
    f = m - 1.0
    d = 2.0 + f
    de = (2.0 - d) + f  # d + de = 2 + f exactly
    sh = f / d
    rr = _fma(-sh, d, f) - sh * de
    sl = rr * (0.5 * (1.0 - sh))  # 1/(2+f) = (1 - s)/2
    # log(1+f) = 2s + s^3 (c1 + z Q(z)), z = s^2, with c1 * s^3 in double-double
    ah, al = _two_prod(sh, sh)
    s3h, bl = _two_prod(ah, sh)
    s3l = bl + (al * sh + 3.0 * ah * sl)
    t1h = s3h * _LOGPOW_C1_HI
    t1l = _fma(s3h, _LOGPOW_C1_HI, -t1h) + (s3h * _LOGPOW_C1_LO + s3l * _LOGPOW_C1_HI)
    t2 = s3h * ah * _horner(ah, _LOGPOW_REST)
    lh, ll = _fast_two_sum(2.0 * sh, t1h)
    ll = ll + ((2.0 * sl + t1l) + t2)
    gh, g = _two_sum(e * _LN2_HI, lh)
    return gh, g + (ll + e * _LN2_LO)


@_njit
def _exp_dd_f64(zh, zl):
    """e**(zh + zl) for |zl| <= ulp(zh) (and any zh, inf and NaN included)."""
    ok = (zh >= -746.0) & (zh <= 709.782712893384)
    rh, rl, _, t = _exp_reduce_f64(zh if ok else 0.0)
    res = _exp_scale(_exp_kernel_f64(rh, rl + (zl if ok else 0.0)), t)
    return res if ok else (0.0 if zh < 0.0 else zh * _INF)


@_njit
def _pow_specials(x, y, mag):
    """Sign and special cases of x**y (C99/NumPy rules) given mag = |x|**y."""
    yint = math.floor(y) == y
    yhalf = 0.5 * y
    yodd = yint & (math.floor(yhalf) != yhalf)
    neg = math.copysign(1.0, x) < 0.0
    res = -mag if neg & yodd else mag
    res = _NAN if neg & (x != 0.0) & (x > -_INF) & (not yint) else res
    res = x + y if (x != x) | (y != y) else res
    one = (x == 1.0) | (y == 0.0) | ((x == -1.0) & (abs(y) == _INF))
    return 1.0 if one else res


@_njit
def pow_f64(x, y):
    """x**y for float64 (NumPy's np.power semantics, including every special case)."""
    ax = abs(x)
    gh, gl = _log_dd_f64(ax)
    fin = (ax > 0.0) & (ax < _INF)
    gh = gh if fin else (-_INF if ax == 0.0 else ax)
    gl = gl if fin else 0.0
    zh = y * gh
    zl = _fma(y, gh, -zh) + y * gl
    zl = zl if abs(zh) < _INF else 0.0
    return _pow_specials(x, y, _exp_dd_f64(zh, zl))


@_njit
def _floor32(x):
    """floor of a float32 as a float32 (math.floor would convert to int64, wrong beyond 2**63)."""
    return np.floor(x)


@_njit
def _pow_specials_f32(x, y, mag):
    """_pow_specials in float32 arithmetic (twice the lanes of float64 in a vector)."""
    yint = _floor32(y) == y  # also true for +-inf, which count as even integers
    yhalf = _F(0.5) * y
    yodd = yint & (_floor32(yhalf) != yhalf)
    neg = math.copysign(_F(1.0), x) < _F(0.0)
    res = -mag if neg & yodd else mag
    res = _NAN32 if neg & (x != _F(0.0)) & (x > -_INF32) & (not yint) else res
    res = x + y if (x != x) | (y != y) else res
    one = (x == _F(1.0)) | (y == _F(0.0)) | ((x == _F(-1.0)) & (abs(y) == _INF32))
    return _F(1.0) if one else res


@_njit
def pow_f32(x, y):
    """x**y for float32, as 2**(y log2 x) in float64 with short polynomials: float32's
    exponent range bounds |y log2 x| by 150 below overflow/underflow, so log2 needs only
    ~2**-35 relative accuracy and 2**r ~2**-29 (error budget: docs/backend.md)."""
    ax = abs(np.float64(x))
    # float32 inputs are normal float64 numbers: no subnormal scaling needed
    ei, m = _split_f64(ax)
    f = m - 1.0
    s = f / (2.0 + f)
    g = np.float64(ei) + s * _horner_rule(s * s, LOG2POW_F32)  # log2(m) = s * q(s^2)
    g = g if (ax > 0.0) & (ax < _INF) else (-_INF if ax == 0.0 else ax)
    w = np.float64(y) * g
    w = 300.0 if w > 300.0 else w  # float32 over/underflows long before; keeps NaN
    w = -300.0 if w < -300.0 else w
    t = w + _SHIFT
    p = _horner_rule((w - (t - _SHIFT)), EXP2POW_F32)  # 2**r, |r| <= 1/2 (r exact)
    mag = _f64_from_bits(_bits(p) + ((_bits(t) - _SHIFT_BITS) << 52))
    return _pow_specials_f32(x, y, _F(mag))


# --- lookup table for the code generator --------------------------------------------------------

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)

VECTOR_MATH: dict[str, dict[np.dtype, Callable]] = {
    "exp": {_F64: exp_f64, _F32: exp_f32},
    "expm1": {_F64: expm1_f64, _F32: expm1_f32},
    "log": {_F64: log_f64, _F32: log_f32},
    "log1p": {_F64: log1p_f64, _F32: log1p_f32},
    "tanh": {_F64: tanh_f64, _F32: tanh_f32},
    "logistic": {_F64: logistic_f64, _F32: logistic_f32},
    "softplus": {_F64: softplus_f64, _F32: softplus_f32},
    "sin": {_F64: sin_f64, _F32: sin_f32},
    "cos": {_F64: cos_f64, _F32: cos_f32},
    "erf": {_F64: erf_f64, _F32: erf_f32},
    "pow": {_F64: pow_f64, _F32: pow_f32},
}
"""function name -> dtype -> njit scalar function (binary for "pow", unary otherwise); the
names are those of the built-in primitives they implement (see the module docstring)."""

VECTOR_MATH_NAMES: dict[str, dict[np.dtype, str]] = {
    name: {dt: fn.py_func.__name__ for dt, fn in per_dtype.items()}
    for name, per_dtype in VECTOR_MATH.items()
}
"""The same table with each function's name in this module (all are in ``__all__``), for code
generators that emit source text: ``from functrace.backend.vecmath import *`` then
``f"{VECTOR_MATH_NAMES['exp'][dtype]}({arg})"``."""
