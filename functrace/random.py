"""Pseudo-random numbers with ``jax.random``'s keys and streams.

Keys are ``uint32[2]`` arrays, as ``jax.random.PRNGKey`` makes them, and every function draws
the same bits as JAX's default generator (Threefry-2x32, 20 rounds, counters laid out as with
``jax_threefry_partitionable``, JAX's default): the same key gives the same numbers in both,
so a program initialised with ``functrace.random`` can be compared with its JAX version.
Floating-point results default to float64 (JAX with ``jax_enable_x64``; float32 on request).
``key(seed)``, JAX's new-style typed key, is represented by the same ``uint32[2]`` array here
(``key_data`` and ``wrap_key_data`` convert between the two views, which are one).

Keys may be concrete or traced (inside ``jit``, ``vmap``, ``grad``, ``lax.scan``, ...): every
function dispatches on whether any of its array arguments is a ``Tracer``. Concrete arguments
are computed with NumPy directly (fast, no tracing); traced ones with the ``threefry2x32``
primitive (``functrace/ops/random_bits.py``) and a few ``functrace.numpy`` operations, so that a
sampler inside ``jit`` is a handful of equations and one compiled loop. Both routes do the same
arithmetic, so a traced key gives the numbers its concrete value gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import core
from . import lax as _lax
from . import numpy as _fnp
from .ops.random_bits import threefry2x32, threefry2x32_numpy

__all__ = ["PRNGKey", "bernoulli", "bits", "categorical", "choice", "exponential", "fold_in",
           "gumbel", "key", "key_data", "normal", "permutation", "randint", "shuffle", "split",
           "truncated_normal", "uniform", "wrap_key_data"]

_U32 = np.dtype(np.uint32)


def _traced(*values) -> bool:
    return any(isinstance(v, core.Tracer) for v in values)


def _xp(*values):
    """The array namespace for these values: NumPy, or functrace.numpy if any is traced."""
    return _fnp if _traced(*values) else np


def _threefry2x32(key: np.ndarray, x1: np.ndarray, x2: np.ndarray):
    """Threefry-2x32 of the counter pairs (x1, x2) under the concrete ``key`` (NumPy)."""
    return threefry2x32_numpy(key[0], key[1], x1, x2)


# --- keys -------------------------------------------------------------------------------------


def _key(key, where: str):
    """``key`` checked to be one key (a uint32[2] array): a NumPy array or the tracer."""
    if isinstance(key, core.Tracer):
        aval = core.get_aval(key)
        shape, dtype = aval.shape, aval.dtype
        k = key
    else:
        k = np.asarray(key)
        shape, dtype = k.shape, k.dtype
    if shape != (2,) or dtype != _U32:
        hint = (" (a batch of keys: map over it with functrace.vmap)"
                if len(shape) > 1 and shape[-1:] == (2,) and dtype == _U32 else "")
        raise TypeError(f"functrace.random.{where}: a key is a uint32 array of shape (2,), as "
                        f"PRNGKey(seed) or key(seed) makes it; got {dtype} of shape "
                        f"{tuple(shape)}{hint}")
    return k


def _shape(shape, where: str) -> tuple[int, ...]:
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"functrace.random.{where}: shape must be a tuple of ints, "
                        f"not {shape!r}") from None


def _seed_key(seed, where: str):
    if isinstance(seed, core.Tracer):
        dtype = core.get_aval(seed).dtype
        if dtype.kind not in "iu":
            raise TypeError(f"{where}: the seed must be an integer, not {dtype}")
        if dtype.itemsize == 8:
            s = _lax.convert_element_type(seed, np.uint64)
            hi = _lax.convert_element_type(_lax.div(s, np.uint64(2**32)), _U32)
        else:  # as JAX: a 32-bit seed fills the low word only
            s = _lax.convert_element_type(seed, np.int64)
            hi = np.zeros(core.get_aval(seed).shape, _U32)
        lo = _lax.convert_element_type(_fnp.bitwise_and(s, 0xFFFFFFFF), _U32)
        return _fnp.stack([hi, lo], axis=-1)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: the seed must be an integer, not {type(seed).__name__}")
    s = int(seed)
    if not -(2**63) <= s < 2**64:
        raise OverflowError(f"{where}: seed {s} does not fit in 64 bits")
    s &= 0xFFFFFFFFFFFFFFFF
    return np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32)


def PRNGKey(seed: int) -> np.ndarray:  # noqa: N802 - JAX's name
    """A key from an integer seed (below 2**64 in magnitude), as ``jax.random.PRNGKey``; the
    seed may be traced (a 64-bit one fills both words, a 32-bit one only the low word)."""
    return _seed_key(seed, "PRNGKey")


def key(seed: int) -> np.ndarray:
    """A key from an integer seed, as ``jax.random.key``. JAX returns a typed key array; here
    a key is always the ``uint32[2]`` array ``PRNGKey`` makes (the same numbers follow from it),
    so ``key(s)`` equals ``PRNGKey(s)`` and ``key_data`` / ``wrap_key_data`` only check it."""
    return _seed_key(seed, "key")


def key_data(keys):
    """The ``uint32[..., 2]`` words of a key or an array of keys (``jax.random.key_data``):
    here the keys themselves, checked."""
    return _key_words(keys, "key_data")


def wrap_key_data(key_bits, *, impl=None):
    """Keys from their ``uint32[..., 2]`` words (``jax.random.wrap_key_data``): here the words
    themselves, checked. Only the default Threefry implementation exists (``impl`` None or
    ``"threefry2x32"``)."""
    if impl not in (None, "threefry2x32"):
        raise ValueError(f"wrap_key_data: only impl='threefry2x32' is available, not {impl!r}")
    return _key_words(key_bits, "wrap_key_data")


def _key_words(keys, where: str):
    aval = core.get_aval(keys) if isinstance(keys, core.Tracer) else np.asarray(keys)
    if aval.dtype != _U32 or aval.shape[-1:] != (2,):
        raise TypeError(f"functrace.random.{where}: keys are uint32 arrays whose last axis has "
                        f"size 2; got {aval.dtype} of shape {tuple(aval.shape)}")
    return keys if isinstance(keys, core.Tracer) else np.asarray(keys)


# --- the generator on counters ----------------------------------------------------------------


def _counters(shape: tuple[int, ...]):
    """Each element's row-major index as two uint32 words (high, low)."""
    idx = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64).reshape(shape)
    return (idx >> np.uint64(32)).astype(np.uint32), (idx & np.uint64(0xFFFFFFFF)).astype(
        np.uint32)


def _bits_pair(k, shape: tuple[int, ...]):
    """The two Threefry output words for each element of ``shape`` (its index the counter)."""
    n = math.prod(shape)
    if not isinstance(k, core.Tracer):
        if n < 2**32:  # the high counter word is 0 throughout
            lo = np.arange(n, dtype=np.uint32).reshape(shape)
            return _threefry2x32(k, np.zeros((), np.uint32), lo)
        return _threefry2x32(k, *_counters(shape))
    if n >= 2**32:
        raise ValueError(f"functrace.random: {n} random numbers from a traced key is more than "
                         "the 2**32 this generator supports in one call")
    k1 = _lax.index_in_dim(k, 0, keepdims=False)
    k2 = _lax.index_in_dim(k, 1, keepdims=False)
    lo = np.uint32(0) if not shape else _lax.reshape(_lax.iota(_U32, (n,)), shape)
    return threefry2x32(k1, k2, np.uint32(0), lo)


def _shr(x, n: int):
    """Unsigned ``x >> n`` (on tracers a division by 2**n: shifts are not primitives)."""
    if isinstance(x, core.Tracer):
        return _lax.div(x, _lax.full_like(x, 1 << n))
    return x >> np.asarray(n, x.dtype)


def _bits(k, shape: tuple[int, ...], dtype: np.dtype):
    b1, b2 = _bits_pair(k, shape)
    if dtype.itemsize == 8:
        if isinstance(b1, core.Tracer):
            return _lax.add(_lax.mul(_lax.convert_element_type(b1, np.uint64), 2**32),
                            _lax.convert_element_type(b2, np.uint64))
        return (b1.astype(np.uint64) << np.uint64(32)) | b2.astype(np.uint64)
    b = _xp(b1).bitwise_xor(b1, b2)
    return b if dtype == _U32 else b.astype(dtype)


def _split(k, num: int):
    b1, b2 = _bits_pair(k, (num,))
    return _xp(b1).stack([b1, b2], axis=-1)


def split(key, num: int = 2):
    """``num`` new keys from ``key``, as a ``uint32[num, 2]`` array (``jax.random.split``)."""
    return _split(_key(key, "split"), int(num))


def fold_in(key, data: int):
    """A new key from ``key`` and an integer in [0, 2**32) (``jax.random.fold_in``); ``data``
    may be traced (it is then taken modulo 2**32)."""
    k = _key(key, "fold_in")
    if isinstance(data, core.Tracer):
        d = _lax.convert_element_type(data, _U32)
    else:
        d = int(data)
        if not 0 <= d < 2**32:
            raise OverflowError(f"fold_in: data {d} does not fit in uint32")
        d = np.uint32(d)
    if _traced(k, d):
        if not isinstance(k, core.Tracer):
            k = _fnp.asarray(k)
        b1, b2 = threefry2x32(_lax.index_in_dim(k, 0, keepdims=False),
                              _lax.index_in_dim(k, 1, keepdims=False), np.uint32(0), d)
        return _fnp.stack([b1, b2])
    b1, b2 = _threefry2x32(k, np.zeros((), np.uint32), d)
    return np.array([b1, b2], dtype=np.uint32)


def bits(key, shape: Sequence[int] = (), dtype=np.uint64):
    """Uniform random bits of an unsigned integer dtype (``jax.random.bits``; uint64 by
    default, as JAX with 64-bit types enabled)."""
    k = _key(key, "bits")
    dtype = np.dtype(dtype)
    if dtype.kind != "u":
        raise TypeError(f"bits: dtype must be an unsigned integer type, not {dtype}")
    return _bits(k, _shape(shape, "bits"), dtype)


# --- floats -----------------------------------------------------------------------------------


def _float_dtype(dtype, where: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: dtype must be float32 or float64, not {dtype}")
    return dtype


def _unit_floats(k, shape: tuple[int, ...], dtype: np.dtype):
    """Floats in [0, 1) from the top mantissa-width bits, as JAX makes them (a float in [1, 2)
    from the bits, minus 1), here by exact arithmetic: the same values, and it traces."""
    b1, b2 = _bits_pair(k, shape)
    if dtype == np.float64:  # the 52 top bits of the 64-bit word b1 b2
        return b1.astype(np.float64) * 2.0**-32 + _shr(b2, 12).astype(np.float64) * 2.0**-52
    m = _shr(_xp(b1).bitwise_xor(b1, b2), 9)  # the 23 top bits of the 32-bit word
    return m.astype(np.float32) * np.float32(2.0**-23)


def _is_const(v, value) -> bool:
    return not isinstance(v, core.Tracer) and bool(np.all(np.asarray(v) == value))


def _uniform(k, shape: tuple[int, ...], dtype: np.dtype, minval=0.0, maxval=1.0):
    floats = _unit_floats(k, shape, dtype)
    if _is_const(minval, 0.0) and _is_const(maxval, 1.0):
        return floats
    xp = _xp(floats, minval, maxval)
    bounds = _xp(minval, maxval)  # concrete bounds stay NumPy values (constants if traced)
    lo, hi = bounds.asarray(minval, dtype), bounds.asarray(maxval, dtype)
    span = hi - lo
    # XLA fuses floats * span + lo into one rounding: exact in float64 for float32; for
    # float64 an exact product (Dekker) plus a two-sum, or directly when span is a power of 2
    if dtype == np.float32:
        scaled = (floats.astype(np.float64) * span.astype(np.float64)
                  + lo.astype(np.float64)).astype(np.float32)
    elif (not isinstance(span, core.Tracer) and span.ndim == 0 and span > 0
          and np.frexp(span)[0] == 0.5):
        scaled = floats * span + lo
    else:
        scaled = _fma64(floats, span, lo, xp)
    return xp.maximum(lo, scaled)


def _split53(a):
    t = a * 134217729.0  # 2^27 + 1
    hi = t - (t - a)
    return hi, a - hi


def _fma64(a, b, c, xp):
    """a * b + c rounded once (but for rare double roundings), for float64 arrays."""
    b = xp.broadcast_to(xp.asarray(b, np.float64), np.shape(a))
    with np.errstate(over="ignore", invalid="ignore"):
        p = a * b
        ah, al = _split53(a)
        bh, bl = _split53(b)
        e = ((ah * bh - p) + ah * bl + al * bh) + al * bl  # a * b = p + e exactly
        s = p + c
        v = s - p
        t = (p - (s - v)) + (c - v)  # p + c = s + t exactly
        out = s + (t + e)
        return xp.where(xp.isfinite(out), out, a * b + c)


def uniform(key, shape: Sequence[int] = (), dtype=np.float64, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval) (``jax.random.uniform``): the top mantissa bits of
    random bits, as a float in [1, 2), minus 1, scaled."""
    k = _key(key, "uniform")
    return _uniform(k, _shape(shape, "uniform"), _float_dtype(dtype, "uniform"), minval, maxval)


# Giles' single-precision erfinv ("Approximating the erfinv function", GPU Computing Gems),
# the approximation XLA evaluates for float32 (w = -log1p(-x^2), fused multiply-adds): with it
# float32 normals agree with JAX's to 1-2 ulp, where an accurate erfinv differs by up to 20
# ulp in the tails
_ERFINV32_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                     0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV32_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                  0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv_f32(x, xp):
    f32 = np.float32
    w = -xp.log1p(-x * x)
    central, tail = w - f32(2.5), xp.sqrt(w) - f32(3.0)
    results = []
    for coeffs, t in ((_ERFINV32_CENTRAL, central), (_ERFINV32_TAIL, tail)):
        t64 = t.astype(np.float64)
        p = t64 * f32(coeffs[0]) + f32(coeffs[1])
        for c in coeffs[2:]:  # fma in float32: exact product and sum in float64, one rounding
            p = p.astype(f32).astype(np.float64) * t64 + f32(c)
        results.append(p.astype(f32))
    return xp.where(w < f32(5.0), results[0], results[1]) * x


def _erfinv(u, dtype: np.dtype):
    from .scipy.special import erfinv
    if dtype == np.float32:
        return _erfinv_f32(u, _xp(u))
    e = erfinv(u)
    return e if isinstance(e, core.Tracer) else np.asarray(e)


def _normal(k, shape: tuple[int, ...], dtype: np.dtype):
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = _uniform(k, shape, dtype, lo, 1.0)
    return dtype.type(np.sqrt(2)) * _erfinv(u, dtype)


def normal(key, shape: Sequence[int] = (), dtype=np.float64):
    """Standard normal floats (``jax.random.normal``): sqrt(2) erfinv(u) with u uniform in
    (-1, 1)."""
    k = _key(key, "normal")
    return _normal(k, _shape(shape, "normal"), _float_dtype(dtype, "normal"))


def _p_dtype(p) -> np.dtype:
    dt = core.get_aval(p).dtype if isinstance(p, core.Tracer) else np.asarray(p).dtype
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float64)


def bernoulli(key, p=0.5, shape: Sequence[int] | None = None):
    """Booleans that are True with probability ``p`` (``jax.random.bernoulli``); the shape is
    ``p``'s unless given."""
    k = _key(key, "bernoulli")
    dtype = _p_dtype(p)
    shape = np.shape(p) if shape is None else _shape(shape, "bernoulli")
    if isinstance(p, core.Tracer):
        p = _lax.convert_element_type(p, dtype)
    else:
        p = np.asarray(p, dtype)
    return _uniform(k, tuple(shape), dtype) < p


def exponential(key, shape: Sequence[int] = (), dtype=np.float64):
    """Exponential(1) floats, -log(1 - u) (``jax.random.exponential``)."""
    k = _key(key, "exponential")
    u = _uniform(k, _shape(shape, "exponential"), _float_dtype(dtype, "exponential"))
    return -_xp(u).log1p(-u)


def _gumbel(k, shape: tuple[int, ...], dtype: np.dtype):
    u = _uniform(k, shape, dtype, np.finfo(dtype).tiny, 1.0)
    xp = _xp(u)
    return -xp.log(-xp.log(u))


def gumbel(key, shape: Sequence[int] = (), dtype=np.float64):
    """Standard Gumbel floats, -log(-log u) with u uniform in [tiny, 1)
    (``jax.random.gumbel``)."""
    k = _key(key, "gumbel")
    return _gumbel(k, _shape(shape, "gumbel"), _float_dtype(dtype, "gumbel"))


def categorical(key, logits, axis: int = -1, shape: Sequence[int] | None = None):
    """Indices drawn from the categorical distributions ``softmax(logits)`` along ``axis``, by
    the Gumbel-max trick (``jax.random.categorical``)."""
    k = _key(key, "categorical")
    xp = _xp(k, logits)
    logits = xp.asarray(logits)
    if logits.dtype not in (np.float32, np.float64):
        logits = logits.astype(np.float64)
    axis = axis % logits.ndim
    batch = logits.shape[:axis] + logits.shape[axis + 1:]
    shape = batch if shape is None else _shape(shape, "categorical")
    if shape[len(shape) - len(batch):] != batch:
        raise ValueError(f"categorical: shape {shape} must end with the logits' batch shape "
                         f"{batch}")
    draw_shape = shape[:len(shape) - len(batch)] + logits.shape
    draw_axis = len(shape) - len(batch) + axis
    noise = _gumbel(k, draw_shape, np.dtype(logits.dtype))
    return _xp(noise, logits).argmax(noise + logits, axis=draw_axis)


# --- integers, permutations, choices ----------------------------------------------------------


def _clip_convert(val, dtype: np.dtype, xp, where: str):
    """An integer bound clipped to what both its own dtype and ``dtype`` hold, in ``dtype``."""
    val = xp.asarray(val)
    if val.dtype.kind not in "iu":
        raise TypeError(f"{where}: minval and maxval must be integers, not {val.dtype}")
    src = np.iinfo(val.dtype)
    dst = np.iinfo(dtype)
    lo, hi = max(src.min, dst.min), min(src.max, dst.max)
    return xp.clip(val, val.dtype.type(lo), val.dtype.type(hi)).astype(dtype)


def _urem(a, b):
    """Unsigned ``a % b``, with ``a % 0 == a`` (XLA's remainder, on which JAX's randint
    relies when the span wraps to 0)."""
    zero = b == 0
    if _traced(a, b):
        a, b, zero = _fnp.broadcast_arrays(a, b, zero)
        return _lax.select(zero, a, _lax.rem(a, _lax.select(zero, _lax.full_like(b, 1), b)))
    return np.where(zero, a, a % np.where(zero, b.dtype.type(1), b))


def randint(key, shape: Sequence[int], minval, maxval, dtype=np.int64):
    """Integers uniform in [minval, maxval) (``jax.random.randint``, the same numbers): two
    draws of random bits of at least 32 bits each, combined modulo the span (so the bias is
    about span / 2**64 for 32-bit integers).
    ``maxval <= minval`` gives ``minval``; bounds beyond ``dtype``'s range are clipped to it
    (a ``maxval`` above the largest value then still makes that value possible)."""
    k = _key(key, "randint")
    shape = _shape(shape, "randint")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"randint: dtype must be an integer type, not {dtype}")
    xp = _xp(k, minval, maxval)
    if dtype.itemsize < 4:
        # as JAX: narrow integers are drawn as int32 (less bias), then converted
        info = np.iinfo(dtype)
        lo32 = xp.clip(xp.asarray(minval).astype(np.int32), info.min, info.max)
        hi32 = xp.clip(xp.asarray(maxval).astype(np.int32), info.min, info.max + 1)
        return randint(k, shape, lo32, hi32, np.int32).astype(dtype)
    nbits = 8 * dtype.itemsize
    udt = np.dtype(f"uint{nbits}")
    top = np.iinfo(dtype).max
    maxval_arr = xp.asarray(maxval)
    if maxval_arr.dtype.kind in "iu":
        # the largest value is drawable even when maxval (exclusive) cannot be represented
        above = (maxval_arr > top) if np.iinfo(maxval_arr.dtype).max > top else (
            xp.zeros(np.shape(maxval_arr), bool))
    else:
        above = None
    lo = xp.broadcast_to(_clip_convert(minval, dtype, xp, "randint"), shape)
    hi = xp.broadcast_to(_clip_convert(maxval, dtype, xp, "randint"), shape)
    above = xp.broadcast_to(above, shape)
    keys = _split(k, 2)
    if nbits == 64 and _traced(k) and _small_span(minval, maxval):
        return _randint64_small_span(keys, shape, lo, hi, dtype)
    higher = _bits(keys[0], shape, udt)
    lower = _bits(keys[1], shape, udt)
    with np.errstate(over="ignore"):
        span = (hi - lo).astype(udt)  # wraps for spans above dtype's maximum: right as unsigned
        span = xp.where(hi <= lo, udt.type(1), span)
        span = xp.where(above & (hi > lo), span + udt.type(1), span)
        # 2**nbits mod span, from (2**(nbits/2) mod span)**2 without overflow
        mult = _urem(xp.full(shape, 1 << (nbits // 2), udt), span)
        mult = _urem(mult * mult, span)
        offset = _urem(_urem(higher, span) * mult + _urem(lower, span), span)
        return lo + offset.astype(dtype)


def _small_span(minval, maxval) -> bool:
    """Concrete bounds whose spans are below 2**31."""
    if _traced(minval, maxval):
        return False
    lo, hi = np.asarray(minval), np.asarray(maxval)
    if lo.dtype.kind not in "iu" or hi.dtype.kind not in "iu":
        return False
    span = hi.astype(object) - lo.astype(object)
    return bool(np.all(span < 2**31))


def _randint64_small_span(keys, shape, lo, hi, dtype):
    """randint's 64-bit arithmetic for spans below 2**31 on traced keys, in int64 from the
    32-bit words: the same numbers (nothing wraps for such spans), without the unsigned 64-bit
    remainder, which the compiled backend gets wrong above 2**53 (its integer division helper
    returns a float for unsigned operands)."""
    i64 = np.dtype(np.int64)
    span = _fnp.where(hi <= lo, 1, (hi - lo).astype(i64))
    mult = _fnp.remainder(_fnp.remainder(2**32, span) ** 2, span)  # 2**64 mod span

    def word_mod(key):
        b1, b2 = _bits_pair(key, shape)
        w1 = _lax.rem(_lax.convert_element_type(b1, i64), span)
        w2 = _lax.rem(_lax.convert_element_type(b2, i64), span)
        return _lax.rem(_lax.add(_lax.mul(w1, _lax.rem(_fnp.full(shape, 2**32, i64), span)),
                                 w2), span)

    offset = _lax.rem(word_mod(keys[0]) * mult + word_mod(keys[1]), span)
    return lo + offset.astype(dtype)


def _shuffle(k, x, axis: int):
    """``x`` with the entries along ``axis`` sorted by fresh random 32-bit keys, as many rounds
    as make ties (which keep their order) unlikely, as ``jax.random``'s shuffle."""
    size = math.prod(np.shape(x))
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        keys = _split(k, 2)
        k, sub = keys[0], keys[1]
        sort_keys = _bits(sub, np.shape(x), _U32)
        if _traced(sort_keys, x):
            x = _lax.sort_key_val(sort_keys, _fnp.asarray(x), axis)[1]
        else:
            order = np.argsort(sort_keys, axis=axis, kind="stable")
            x = np.take_along_axis(x, order, axis=axis)
    return x


def _static_int(x, where: str) -> int:
    if isinstance(x, core.Tracer):
        raise TypeError(f"functrace.random.{where}: an integer argument sets the output's size "
                        "and must be concrete, not traced; pass an array to permute instead")
    return int(x)


def permutation(key, x, axis: int = 0, independent: bool = False):
    """A random permutation of ``range(x)`` for an integer ``x``, or of ``x``'s entries along
    ``axis`` (``jax.random.permutation``, the same numbers). ``independent=True`` permutes each
    slice along ``axis`` separately; the default moves whole slices."""
    k = _key(key, "permutation")
    if (core.get_aval(x).ndim if isinstance(x, core.Tracer) else np.ndim(x)) == 0:
        if not isinstance(x, core.Tracer) and np.asarray(x).dtype.kind not in "iu":
            raise TypeError("functrace.random.permutation: x must be an integer or an array, "
                            f"not {type(x).__name__}")
        n = _static_int(x, "permutation")
        return _shuffle(k, np.arange(n, dtype=np.int64), 0)
    xp = _xp(k, x)
    x = xp.asarray(x)
    axis = axis % x.ndim
    if independent or x.ndim == 1:
        return _shuffle(k, x, axis)
    order = _shuffle(k, np.arange(x.shape[axis], dtype=np.int64), 0)
    return _xp(x, order).take(x, order, axis=axis)


def shuffle(key, x, axis: int = 0):
    """``x`` with each slice along ``axis`` permuted independently (``jax.random.shuffle``,
    deprecated there in favour of ``permutation(key, x, axis, independent=True)``)."""
    k = _key(key, "shuffle")
    return _shuffle(k, _xp(k, x).asarray(x), axis % max(1, np.ndim(x)))


def choice(key, a, shape: Sequence[int] = (), replace: bool = True, p=None, axis: int = 0):
    """Random entries of ``a`` along ``axis`` (of ``range(a)`` for an integer ``a``), with or
    without replacement, uniformly or with probabilities ``p`` (``jax.random.choice``, the
    same numbers: uniform draws by ``randint``; without replacement a ``permutation``; with
    ``p`` the inverse CDF, or without replacement the Gumbel top-k trick)."""
    k = _key(key, "choice")
    if not isinstance(shape, Sequence):
        raise TypeError(f"functrace.random.choice: shape must be a sequence of ints, not "
                        f"{shape!r}")
    shape = _shape(shape, "choice")
    xp = _xp(k, a, p)
    scalar = np.ndim(a) == 0 and not isinstance(a, core.Tracer) or (
        isinstance(a, core.Tracer) and core.get_aval(a).ndim == 0)
    if scalar:
        n_inputs = _static_int(a, "choice")
        arr = None
    else:
        arr = xp.asarray(a)
        axis = axis % arr.ndim
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    out_shape = shape if arr is None else arr.shape[:axis] + shape + arr.shape[axis + 1:]
    if n_draws == 0:
        return xp.zeros(out_shape, np.int64 if arr is None else arr.dtype)
    if n_inputs <= 0:
        raise ValueError("functrace.random.choice: a must be positive (or have a nonempty "
                         "axis) unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"functrace.random.choice: cannot take {n_draws} samples from "
                         f"{n_inputs} entries without replacement")
    if p is None:
        if replace:
            ind = randint(k, shape, 0, n_inputs)
        else:
            pool = n_inputs if arr is None else arr
            perm = permutation(k, pool, axis)
            ind = None
            result = _xp(perm).take(perm, np.arange(n_draws), axis=0 if arr is None else axis)
    else:
        pa = xp.asarray(p)
        if pa.dtype not in (np.float32, np.float64):
            pa = pa.astype(np.float64)
        if pa.shape != (n_inputs,):
            raise ValueError(f"functrace.random.choice: p must have shape ({n_inputs},), "
                             f"one probability per entry; got {pa.shape}")
        if replace:
            cum = xp.cumsum(pa)
            r = cum[-1] * (1 - _uniform(k, shape, np.dtype(pa.dtype)))
            ind = _xp(cum, r).searchsorted(cum, r).astype(np.int64)
        else:
            g = _gumbel(k, (n_inputs,), np.dtype(pa.dtype)) + xp.log(pa)
            if _traced(g):
                ind = _lax.top_k(g, n_draws)[1].astype(np.int64)
            else:
                ind = np.argsort(-g, kind="stable")[:n_draws].astype(np.int64)
    if ind is not None:
        result = ind if arr is None else _xp(arr, ind).take(arr, ind, axis=axis)
    return result.reshape(out_shape)


def truncated_normal(key, lower, upper, shape: Sequence[int] | None = None,
                     dtype=np.float64):
    """Standard normal floats conditioned on ``lower < x < upper``
    (``jax.random.truncated_normal``): ``sqrt(2) erfinv(u)`` with ``u`` uniform between
    ``erf(lower / sqrt 2)`` and ``erf(upper / sqrt 2)``, clipped into the open interval. The
    algorithm is JAX's, but its ``erf`` is not the one here: values agree with JAX's to a few
    ulp, not bit for bit."""
    from .scipy.special import erf
    k = _key(key, "truncated_normal")
    dtype = _float_dtype(dtype, "truncated_normal")
    if shape is None:
        shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
    shape = _shape(shape, "truncated_normal")
    xp = _xp(lower, upper)
    lower, upper = xp.asarray(lower, dtype), xp.asarray(upper, dtype)
    sqrt2 = dtype.type(np.sqrt(2))

    def cdf(v):
        out = erf(v / sqrt2)
        return out if isinstance(out, core.Tracer) else np.asarray(out, dtype)

    u = _uniform(k, shape, dtype, cdf(lower), cdf(upper))
    out = sqrt2 * _erfinv(u, dtype)
    xo = _xp(out, lower, upper)
    inf = dtype.type(np.inf)
    return xo.clip(out, xo.nextafter(lower, inf), xo.nextafter(upper, -inf))

