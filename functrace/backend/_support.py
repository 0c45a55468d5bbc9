"""Runtime support imported by every generated module: scalar helpers and BLAS entry points.

The helpers are small ``numba.njit`` functions (inlined by LLVM) for the scalar operations whose
NumPy semantics no single Python expression gives in Numba: NaN-propagating max/min, integer
division rounding toward zero without trapping on zero, integer powers, ...

``sgemm``/``dgemm`` are NumPy's own OpenBLAS (``scipy_cblas_?gemm64_`` in the wheel's bundled
library), declared as external symbols so that compiled code calling them can be cached on disk:
the symbol is resolved by name when a cached program is loaded, never baked in as an address.
"""

from __future__ import annotations

import cmath
import math

import llvmlite.ir as llvm_ir
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import ufuncs
from .blas import BLAS_AVAILABLE, COMPLEX_GEMM_AVAILABLE

__all__ = ["math", "np", "njit", "nt", "BLAS_AVAILABLE", "sgemm", "dgemm", "f_max", "f_min",
           "i_div", "i_rem", "f_rem", "f_ipow", "i_ipow", "f_logistic", "f_sign", "i_sign",
           "norm_arg", "as_scalar", "f_round", "zero_d", "ptr", "keep_alive", "sincos_f64",
           "cmath", "c_abs", "c_mul", "c_div", "c_ipow", "c_pow", "c_sign", "c_sqrt", "c_log1p",
           "c_expm1", "c_from_real", "cgemm", "zgemm", "COMPLEX_GEMM_AVAILABLE", "c_lt", "c_le",
           "c_gt", "c_ge", "c_max", "c_min", "c_nan", "c_sort_lt",
           "c_arg_gt", "c_arg_lt", "c_argsort", "c_asin", "c_acos", "c_atan", "c_asinh",
           "c_acosh", "c_atanh"]

nt = types

_JIT = dict(cache=True, error_model="numpy")


@njit(**_JIT)
def f_max(x, y):
    # NumPy's maximum: NaN if either operand is NaN
    return x if (x >= y or x != x) else y


@njit(**_JIT)
def f_min(x, y):
    return x if (x <= y or x != x) else y


@njit(**_JIT)
def i_div(x, y):
    # lax's integer division rounds toward zero; division by zero gives 0 (no trap). By -1 it
    # is a negation, which wraps for the most negative value as NumPy's does (min // -1 is min)
    # instead of hitting the machine division's overflow (undefined in LLVM, 0 on x86 here).
    if y == 0:
        return x - x
    if y == -1:
        return -x
    q = x // y
    if q < 0 and q * y != x:
        q += 1
    return q


@njit(**_JIT)
def i_rem(x, y):
    # C remainder (sign of the dividend), as np.fmod; by zero and by -1 gives 0 (also for the
    # most negative dividend, whose quotient by -1 overflows)
    if y == 0 or y == -1:
        return x - x
    return x - i_div(x, y) * y


@njit(**_JIT)
def f_rem(x, y):
    return np.fmod(x, y)


@njit(**_JIT)
def _pow_by_squaring(x, m, one):
    # x ** m for an integer m >= 0 by repeated squaring, typed like ``one``
    acc = one
    base = x
    while m > 0:
        if m & 1:
            acc = acc * base
        base = base * base
        m >>= 1
    return acc


@njit(**_JIT)
def f_ipow(x, n, one):
    # x ** n for a (static) integer n, in x's dtype (``one`` is typed)
    acc = _pow_by_squaring(x, -n if n < 0 else n, one)
    return one / acc if n < 0 else acc


@njit(**_JIT)
def i_ipow(x, n):
    if n < 0:
        # NumPy refuses negative integer powers; lax gives 1/x**n truncated toward zero
        if x == 1:
            return x
        if x == -1:
            return x if (-n) % 2 else -x
        return x - x
    acc = x - x + 1
    base = x
    m = n
    while m > 0:
        if m & 1:
            acc = acc * base
        base = base * base
        m >>= 1
    return acc


@njit(**_JIT)
def f_logistic(x):
    # 1 / (1 + exp(-x)) without overflow warnings in the left tail
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


@njit(**_JIT)
def f_sign(x, one):
    if x > 0:
        return one
    if x < 0:
        return -one
    return x  # 0, -0 and NaN are their own sign


@njit(**_JIT)
def i_sign(x):
    return (x > 0) - (x < 0)


@njit(**_JIT)
def f_round(x):
    return np.rint(x)


@njit(**_JIT)
def zero_d(x):
    # a 0-d array holding x (compiled programs return 0-d outputs as arrays)
    out = np.empty((), type(x))
    out[()] = x
    return out


@njit(**_JIT)
def ptr(a):
    return np.int64(a.ctypes.data)


@njit(cache=True)
def keep_alive(a, b, c):
    pass


# --- complex scalars ------------------------------------------------------------------------
# Numba has complex arithmetic and cmath; these give NumPy's results where the two differ:
# multiplication and |z| (NumPy's SIMD loops use fused multiply-adds, in the parts' precision),
# division (NumPy scales by the larger part of the divisor, which Numba's complex division does
# not, and gives inf/nan instead of raising for a zero divisor), integer and complex powers,
# sign (z/|z| as NumPy 2), sqrt of tiny values, and log1p/expm1, which cmath lacks (the
# formulas NumPy uses).


try:
    from .vecmath import _fma
except Exception:  # noqa: BLE001 - without it, |z| may differ from NumPy's in the last bit
    @njit(**_JIT)
    def _fma(a, b, c):
        return a * b + c


@njit(**_JIT)
def c_abs(x):
    # |z| as NumPy's SIMD loop computes it (on AVX-512 machines; elsewhere NumPy calls libm's
    # hypot, within an ulp of this): the larger part times sqrt(1 + q^2), q = smaller/larger,
    # with one rounding for 1 + q^2. Any infinite part gives inf, even with a NaN.
    a, b = abs(x.real), abs(x.imag)
    if math.isinf(a):
        return a
    if math.isinf(b):
        return b
    if a != a or b != b:
        return a + b  # NaN
    big, small = (a, b) if a >= b else (b, a)
    if big == 0:
        return big
    q = small / big
    return big * np.sqrt(_fma(q, q, big / big))  # big / big: 1 of the parts' type


@njit(**_JIT)
def c_mul(x, y):
    # NumPy's SIMD loop (AVX-512 machines) multiplies with fused multiply-adds, in the parts'
    # own precision: the last bits, and whether an overflow gives inf or NaN, follow it
    return complex(_fma(x.real, y.real, -(x.imag * y.imag)),
                   _fma(x.real, y.imag, x.imag * y.real))


@njit(**_JIT)
def c_div(x, y):
    xr, xi, yr, yi = x.real, x.imag, y.real, y.imag
    ar, ai = abs(yr), abs(yi)
    if ar >= ai:
        if ar == 0 and ai == 0:
            return complex(xr / ar, xi / ar)
        rat = yi / yr
        scl = 1.0 / (yr + yi * rat)
        return complex((xr + xi * rat) * scl, (xi - xr * rat) * scl)
    rat = yr / yi
    scl = 1.0 / (yi + yr * rat)
    return complex((xr * rat + xi) * scl, (xi * rat - xr) * scl)


@njit(**_JIT)
def c_ipow(x, n, one):
    # x ** n for an integer n by repeated squaring (NumPy's path for small integer exponents);
    # a negative n divides one by the positive power. A zero base gives 0 or, for n < 0, NaN
    # (NumPy checks it first)
    if x.real == 0 and x.imag == 0 and n != 0:
        return one - one if n > 0 else (one - one) * np.nan
    if n >= 100 or n <= -100:
        return cmath.exp(n * cmath.log(x))
    if n == 1:
        return x
    if n == 2:
        return x * x
    if n == 3:
        return x * x * x
    acc = _pow_by_squaring(x, -n if n < 0 else n, one)
    return c_div(one, acc) if n < 0 else acc


@njit(**_JIT)
def c_pow(x, y):
    # NumPy's complex power: 1 for a zero exponent, 0 for a zero base (NaN unless the
    # exponent's real part is positive), repeated squaring for real integer exponents under 100
    # in magnitude, else exp(y log x)
    if y.real == 0 and y.imag == 0:
        return complex(1.0, 0.0)
    if x.real == 0 and x.imag == 0:
        if y.real > 0:
            return complex(0.0, 0.0)
        return complex(np.nan, np.nan)
    if y.imag == 0 and y.real == math.floor(y.real) and abs(y.real) < 100:
        return c_ipow(complex(x), int(y.real), complex(1.0, 0.0))
    return cmath.exp(y * cmath.log(x))


@njit(**_JIT)
def c_sign(x):
    r, i = x.real, x.imag
    if r != r or i != i:
        return complex(np.nan, np.nan)
    if math.isinf(r):
        if math.isinf(i):
            return complex(np.nan, np.nan)
        return complex(1.0 if r > 0 else -1.0, 0.0)
    if math.isinf(i):
        return complex(0.0, 1.0 if i > 0 else -1.0)
    a = math.hypot(r, i)
    if a == 0:
        return complex(0.0, 0.0)
    return complex(r / a, i / a)


@njit(**_JIT)
def c_sqrt(x):
    # cmath.sqrt loses digits when both parts are subnormal or nearly so: scale by 2^600
    # (exact) first, then the root back by 2^-300
    if max(abs(x.real), abs(x.imag)) < 1e-290:
        r = cmath.sqrt(complex(x.real * 2.0 ** 600, x.imag * 2.0 ** 600))
        return complex(r.real * 2.0 ** -300, r.imag * 2.0 ** -300)
    return cmath.sqrt(x)


@njit(**_JIT)
def c_log1p(x):
    r = x.real + 1
    return complex(math.log(math.hypot(r, x.imag)), math.atan2(x.imag, r))


@njit(**_JIT)
def c_expm1(x):
    h = math.sin(x.imag / 2)
    return complex(math.expm1(x.real) * math.cos(x.imag) - 2 * h * h,
                   math.exp(x.real) * math.sin(x.imag))


def _libm_complex(symbol: str):
    """An intrinsic calling the C library's ``double complex symbol(double complex)`` by name
    (NumPy's complex ``arcsinh`` etc. are these very functions, so results match it bit for
    bit); a complex64 operand is widened first. It is declared as clang does on
    x86-64/aarch64: the parts as two doubles in, a ``{double, double}`` out."""
    @intrinsic
    def call(typingctx, z):
        if not isinstance(z, types.Complex):
            return None

        def codegen(context, builder, signature, args):
            dbl = llvm_ir.DoubleType()
            fnty = llvm_ir.FunctionType(llvm_ir.LiteralStructType([dbl, dbl]), [dbl, dbl])
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            wide = context.cast(builder, args[0], signature.args[0], types.complex128)
            arg = context.make_complex(builder, types.complex128, value=wide)
            res = builder.call(fn, [arg.real, arg.imag])
            out = context.make_complex(builder, types.complex128)
            out.real = builder.extract_value(res, 0)
            out.imag = builder.extract_value(res, 1)
            return out._getvalue()
        return types.complex128(z), codegen
    return call


# The C library's complex inverse functions (complex64 is computed in complex128)
c_asin, c_acos, c_atan = _libm_complex("casin"), _libm_complex("cacos"), _libm_complex("catan")
c_asinh, c_acosh = _libm_complex("casinh"), _libm_complex("cacosh")
c_atanh = _libm_complex("catanh")


@njit(**_JIT)
def c_from_real(x):
    # a real (or bool, or integer) value as a complex one with a zero imaginary part
    return complex(np.float64(x), 0.0)


# NumPy orders complex numbers lexicographically, real part first. Its comparison loops let
# the real parts decide only when neither imaginary part is NaN, so any NaN part makes every
# ordering false; maximum/minimum give the first operand with a NaN part, else the
# larger/smaller one (the first when they are equal). Checked against NumPy 2.4 on all pairs
# of +-0, +-1, +-inf and NaN parts (tests/test_jit_complex.py).


@njit(**_JIT)
def c_nan(x):
    return x.real != x.real or x.imag != x.imag


@njit(**_JIT)
def c_lt(x, y):
    return ((x.real < y.real and x.imag == x.imag and y.imag == y.imag)
            or (x.real == y.real and x.imag < y.imag))


@njit(**_JIT)
def c_le(x, y):
    return ((x.real < y.real and x.imag == x.imag and y.imag == y.imag)
            or (x.real == y.real and x.imag <= y.imag))


@njit(**_JIT)
def c_gt(x, y):
    return c_lt(y, x)


@njit(**_JIT)
def c_ge(x, y):
    return c_le(y, x)


@njit(**_JIT)
def c_max(x, y):
    return x if (c_nan(x) or c_ge(x, y)) else y


@njit(**_JIT)
def c_min(x, y):
    return x if (c_nan(x) or c_le(x, y)) else y


@njit(**_JIT)
def c_arg_gt(t, m):
    # argmax's step (NumPy's loop): a later value replaces the running maximum ``m`` if it is
    # greater or has a NaN part; nothing replaces a maximum with a NaN part
    if c_nan(m):
        return False
    return c_nan(t) or t.real > m.real or (t.real == m.real and t.imag > m.imag)


@njit(**_JIT)
def c_arg_lt(t, m):
    if c_nan(m):
        return False
    return c_nan(t) or t.real < m.real or (t.real == m.real and t.imag < m.imag)


@njit(**_JIT)
def c_sort_lt(a, b):
    # the order np.sort uses: lexicographic with NaN parts last, a NaN real part after a NaN
    # imaginary one (a total order, unlike c_lt)
    if a.real < b.real:
        return a.imag == a.imag or b.imag != b.imag
    if a.real > b.real:
        return b.imag != b.imag and a.imag == a.imag
    if a.real == b.real or (a.real != a.real and b.real != b.real):
        return a.imag < b.imag or (b.imag != b.imag and a.imag == a.imag)
    return b.real != b.real


@njit(**_JIT)
def c_argsort(key):
    """The stable argsort of a complex vector in ``c_sort_lt``'s order (Numba's ``np.argsort``
    has no complex keys): insertion sort of runs of 16, then bottom-up merges of (value,
    index) pairs; taking from the right run only when strictly smaller keeps equal values in
    their order, as ``np.argsort(kind="stable")`` does."""
    n = key.shape[0]
    k = key.copy()  # values move with their indices: no indirect loads while merging
    p = np.arange(n)
    run = 16
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            v, q = k[i], p[i]
            j = i - 1
            while j >= lo and c_sort_lt(v, k[j]):
                k[j + 1] = k[j]
                p[j + 1] = p[j]
                j -= 1
            k[j + 1] = v
            p[j + 1] = q
    k2 = np.empty_like(k)
    p2 = np.empty_like(p)
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            if mid >= hi or not c_sort_lt(k[mid], k[mid - 1]):  # already in order
                k2[lo:hi] = k[lo:hi]
                p2[lo:hi] = p[lo:hi]
                continue
            i, j = lo, mid
            for o in range(lo, hi):
                if j < hi and (i >= mid or c_sort_lt(k[j], k[i])):
                    k2[o] = k[j]
                    p2[o] = p[j]
                    j += 1
                else:
                    k2[o] = k[i]
                    p2[o] = p[i]
                    i += 1
        k, k2 = k2, k
        p, p2 = p2, p
        width *= 2
    return p


# --- float64 sin/cos on a block, vectorisable -------------------------------------------------
# NumPy (glibc) computes float64 sin/cos one element at a time (7 ns each here). This is musl's
# algorithm (Cody-Waite reduction by pi/2 in three exact steps, then the __sin/__cos kernels)
# written without branches so LLVM vectorises it: within 1 ulp of NumPy, 8x faster. Arguments
# beyond 2^20 * pi/2 (where the reduction would not be exact) and NaN/inf take libm's path.
_PIO2_1 = 1.57079632673412561417e+00
_PIO2_1T = 6.07710050650619224932e-11
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_2T = 2.02226624879595063154e-21
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_INVPIO2 = 6.36619772367581382433e-01
_TOINT = 1.5 / 2.220446049250313e-16
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, \
    -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, \
    1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, \
    2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, \
    -1.13596475577881948265e-11
_SINCOS_LIMIT = 1647099.0


@njit(cache=True, error_model="numpy")
def sincos_f64(src, dst, n, want_cos):
    bad = 0
    for i in range(n):
        x = src[i]
        fn = (x * _INVPIO2 + _TOINT) - _TOINT
        q = np.int64(fn) + want_cos
        r = x - fn * _PIO2_1
        t = r
        w = fn * _PIO2_2
        r = t - w
        w = fn * _PIO2_2T - ((t - r) - w)
        t = r
        w = fn * _PIO2_3
        r = t - w
        w = fn * _PIO2_3T - ((t - r) - w)
        y0 = r - w
        y1 = (r - y0) - w
        z = y0 * y0
        ww = z * z
        rs = _S2 + z * (_S3 + z * _S4) + z * ww * (_S5 + z * _S6)
        v = z * y0
        s = y0 - ((z * (0.5 * y1 - v * rs) - y1) - v * _S1)
        rc = z * (_C1 + z * (_C2 + z * _C3)) + ww * ww * (_C4 + z * (_C5 + z * _C6))
        hz = 0.5 * z
        w2 = 1.0 - hz
        c = w2 + (((1.0 - w2) - hz) + (z * rc - y0 * y1))
        res = c if (q & 1) else s
        dst[i] = -res if (q & 2) else res
        bad |= not (abs(x) < _SINCOS_LIMIT)
    if bad:
        for i in range(n):
            x = src[i]
            if not (abs(x) < _SINCOS_LIMIT):
                dst[i] = math.cos(x) if want_cos else math.sin(x)


def norm_arg(x, dtype):
    """A C-contiguous, writeable array of ``dtype`` (copied only when needed)."""
    a = np.asarray(x, dtype)
    if not a.flags.c_contiguous or not a.flags.writeable:
        a = np.array(a, dtype, copy=True, order="C")
    return a


def as_scalar(x, dtype):
    """A 0-d value as a NumPy scalar of ``dtype`` (what the compiled code takes for scalars)."""
    return np.asarray(x, dtype)[()]


if BLAS_AVAILABLE:
    _i64 = types.int64
    _args = (_i64, _i64, _i64, _i64, _i64, _i64)

    # pointers are passed as 64-bit integers (same calling convention on x86-64 and arm64), so
    # generated code can offset them into batches with plain integer arithmetic
    sgemm = types.ExternalFunction("scipy_cblas_sgemm64_", types.void(
        *_args, types.float32, _i64, _i64, _i64, _i64, types.float32, _i64, _i64))
    dgemm = types.ExternalFunction("scipy_cblas_dgemm64_", types.void(
        *_args, types.float64, _i64, _i64, _i64, _i64, types.float64, _i64, _i64))
else:  # pragma: no cover - code generation does not call them then
    sgemm = dgemm = None

if COMPLEX_GEMM_AVAILABLE:
    # complex GEMMs take alpha and beta by pointer (to one complex number each)
    _cargs = (*_args, _i64, _i64, _i64, _i64, _i64, _i64, _i64, _i64)
    cgemm = types.ExternalFunction("scipy_cblas_cgemm64_", types.void(*_cargs))
    zgemm = types.ExternalFunction("scipy_cblas_zgemm64_", types.void(*_cargs))
else:  # pragma: no cover - complex products then run as loops
    cgemm = zgemm = None

# The vectorisable functions of vecblocks.INLINE_MATH as ordinary (cached) functions:
# vm_<name>_<f32|f64>. Calls are inlined by LLVM after linking, which vectorises the loops
# around them; letting Numba inline them at its IR level instead (vecmath's inline="always")
# types every call site again and doubled the compile time of training steps (docs/backend.md).
VECMATH_CALLS: dict[str, str] = {}
try:
    from .vecblocks import INLINE_MATH as _INLINE_MATH

    for _table in _INLINE_MATH.values():
        for _f in _table.values():
            _py = getattr(_f, "py_func", _f)
            _nm = f"vm_{_py.__name__}"
            if _nm not in globals():
                globals()[_nm] = njit(cache=True, error_model="numpy")(_py)
                __all__.append(_nm)
            VECMATH_CALLS[_py.__name__] = _nm
except Exception:  # noqa: BLE001 - vecmath missing or broken: scalar libm calls are used
    VECMATH_CALLS = {}

# NumPy's inner loops: npy_<ufunc>_<dtype>(args, dimensions, steps, data), all pointers
for (_name, _dtype), _sym in ufuncs.AVAILABLE.items():
    _fn = f"npy_{_name}_{_dtype.name}"
    globals()[_fn] = types.ExternalFunction(_sym, types.void(types.int64, types.int64,
                                                             types.int64, types.int64))
    __all__.append(_fn)

# Special functions: the njit-compatible scalar algorithms of functrace.ops.special
from ..ops import special as _special  # noqa: E402

f_digamma = njit(**_JIT)(_special.digamma_scalar)
f_polygamma = njit(**_JIT)(_special.polygamma_scalar)
f_erf_inv = njit(**_JIT)(_special.erf_inv_scalar)
f_ndtri = njit(**_JIT)(_special.ndtri_scalar)
__all__ += ["f_digamma", "f_polygamma", "f_erf_inv", "f_ndtri"]

# Threefry-2x32 of one counter pair, for the threefry2x32 primitive's loop
from ..ops import random_bits as _random_bits  # noqa: E402

f_threefry2x32 = njit(**_JIT)(_random_bits.threefry2x32_scalar)
__all__ += ["f_threefry2x32"]
