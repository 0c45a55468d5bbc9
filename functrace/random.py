"""Pseudo-random numbers with ``jax.random``'s keys and streams.

Keys are ``uint32[2]`` arrays, as ``jax.random.PRNGKey`` makes them, and every function draws
the same bits as JAX's default generator (Threefry-2x32, 20 rounds, counters laid out as with
``jax_threefry_partitionable``, JAX's default): the same key gives the same numbers in both,
so a program initialised with ``functrace.random`` can be compared with its JAX version.
Floating-point results default to float64 (JAX with ``jax_enable_x64``; float32 on request).

The functions compute with NumPy on concrete keys: draw random numbers outside ``jit``,
``grad`` and ``vmap`` and pass them in (a traced key raises a TypeError saying so).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import core

__all__ = ["PRNGKey", "bernoulli", "bits", "categorical", "exponential", "fold_in", "gumbel",
           "normal", "split", "uniform"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _threefry2x32(key: np.ndarray, x1: np.ndarray, x2: np.ndarray):
    """Threefry-2x32 (20 rounds) of the counter pairs (x1, x2) under ``key``."""
    k1, k2 = key[0], key[1]
    ks = (k1, k2, k1 ^ k2 ^ _KS_PARITY)
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as it should
        x1, x2 = x1 + ks[0], x2 + ks[1]
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x1 = x1 + x2
                x2 = _rotl(x2, r) ^ x1
            x1 = x1 + ks[(i + 1) % 3]
            x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _counters(shape: tuple[int, ...]):
    """Each element's row-major index as two uint32 words (high, low)."""
    idx = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64).reshape(shape)
    return (idx >> np.uint64(32)).astype(np.uint32), (idx & np.uint64(0xFFFFFFFF)).astype(
        np.uint32)


def _key(key, where: str) -> np.ndarray:
    if isinstance(key, core.Tracer):
        raise TypeError(
            f"functrace.random.{where} got a traced key (inside jit, grad or vmap): random "
            "numbers are drawn with NumPy from concrete keys. Draw them outside the "
            "transformation and pass them in as arguments.")
    k = np.asarray(key)
    if k.shape != (2,) or k.dtype != np.uint32:
        raise TypeError(f"functrace.random.{where}: a key is a uint32 array of shape (2,), as "
                        f"PRNGKey(seed) makes it; got {k.dtype} of shape {k.shape}")
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


def PRNGKey(seed: int) -> np.ndarray:  # noqa: N802 - JAX's name
    """A key from an integer seed (below 2**64 in magnitude), as ``jax.random.PRNGKey``."""
    if isinstance(seed, core.Tracer):
        raise TypeError("functrace.random.PRNGKey needs a concrete seed, not a traced value")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"PRNGKey: the seed must be an integer, not {type(seed).__name__}")
    s = int(seed)
    if not -(2**63) <= s < 2**64:
        raise OverflowError(f"PRNGKey: seed {s} does not fit in 64 bits")
    s &= 0xFFFFFFFFFFFFFFFF
    return np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32)


def split(key, num: int = 2) -> np.ndarray:
    """``num`` new keys from ``key``, as a ``uint32[num, 2]`` array (``jax.random.split``)."""
    k = _key(key, "split")
    hi, lo = _counters((int(num),))
    b1, b2 = _threefry2x32(k, hi, lo)
    return np.stack([b1, b2], axis=-1)


def fold_in(key, data: int) -> np.ndarray:
    """A new key from ``key`` and an integer in [0, 2**32) (``jax.random.fold_in``)."""
    k = _key(key, "fold_in")
    d = int(data)
    if not 0 <= d < 2**32:
        raise OverflowError(f"fold_in: data {d} does not fit in uint32")
    b1, b2 = _threefry2x32(k, np.zeros(1, np.uint32), np.array([d], np.uint32))
    return np.array([b1[0], b2[0]], dtype=np.uint32)


def bits(key, shape: Sequence[int] = (), dtype=np.uint64) -> np.ndarray:
    """Uniform random bits of an unsigned integer dtype (``jax.random.bits``; uint64 by
    default, as JAX with 64-bit types enabled)."""
    k = _key(key, "bits")
    dtype = np.dtype(dtype)
    if dtype.kind != "u":
        raise TypeError(f"bits: dtype must be an unsigned integer type, not {dtype}")
    b1, b2 = _threefry2x32(k, *_counters(_shape(shape, "bits")))
    if dtype.itemsize == 8:
        return (b1.astype(np.uint64) << np.uint64(32)) | b2.astype(np.uint64)
    return (b1 ^ b2).astype(dtype)


def _float_dtype(dtype, where: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: dtype must be float32 or float64, not {dtype}")
    return dtype


def uniform(key, shape: Sequence[int] = (), dtype=np.float64, minval=0.0,
            maxval=1.0) -> np.ndarray:
    """Uniform floats in [minval, maxval) (``jax.random.uniform``): the top mantissa bits of
    random bits, as a float in [1, 2), minus 1, scaled."""
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    ity = np.uint64 if dtype == np.float64 else np.uint32
    nmant = np.finfo(dtype).nmant
    b = bits(key, shape, ity)
    one = np.array(1.0, dtype).view(ity)
    floats = ((b >> ity(8 * dtype.itemsize - nmant)) | one).view(dtype) - dtype.type(1.0)
    lo, hi = np.asarray(minval, dtype), np.asarray(maxval, dtype)
    # XLA fuses floats * (hi - lo) + lo into one rounding: exact in float64 for float32, and
    # an exact product (Dekker) plus a two-sum for float64
    if dtype == np.float32:
        scaled = (floats.astype(np.float64) * (hi - lo) + lo).astype(np.float32)
    else:
        scaled = _fma64(floats, hi - lo, lo)
    return np.maximum(lo, scaled).astype(dtype, copy=False)


def _split53(a: np.ndarray):
    t = a * 134217729.0  # 2^27 + 1
    hi = t - (t - a)
    return hi, a - hi


def _fma64(a: np.ndarray, b, c) -> np.ndarray:
    """a * b + c rounded once (but for rare double roundings), for float64 arrays."""
    b = np.broadcast_to(np.asarray(b, np.float64), np.shape(a))
    with np.errstate(over="ignore", invalid="ignore"):
        p = a * b
        ah, al = _split53(a)
        bh, bl = _split53(b)
        e = ((ah * bh - p) + ah * bl + al * bh) + al * bl  # a * b = p + e exactly
        s = p + c
        v = s - p
        t = (p - (s - v)) + (c - v)  # p + c = s + t exactly
        out = s + (t + e)
    return np.where(np.isfinite(out), out, a * b + c)


# Giles' single-precision erfinv ("Approximating the erfinv function", GPU Computing Gems),
# the approximation XLA evaluates for float32 (w = -log1p(-x^2), fused multiply-adds): with it
# float32 normals agree with JAX's to 1-2 ulp, where an accurate erfinv differs by up to 20
# ulp in the tails
_ERFINV32_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                     0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV32_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                  0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv_f32(x: np.ndarray) -> np.ndarray:
    f32 = np.float32
    w = -np.log1p(-x * x)
    central, tail = w - f32(2.5), np.sqrt(w) - f32(3.0)
    results = []
    for coeffs, t in ((_ERFINV32_CENTRAL, central), (_ERFINV32_TAIL, tail)):
        p = np.full_like(t, coeffs[0])
        t64 = t.astype(np.float64)
        for c in coeffs[1:]:  # fma in float32: exact product and sum in float64, one rounding
            p = (p.astype(np.float64) * t64 + f32(c)).astype(f32)
        results.append(p)
    return np.where(w < f32(5.0), results[0], results[1]) * x


def normal(key, shape: Sequence[int] = (), dtype=np.float64) -> np.ndarray:
    """Standard normal floats (``jax.random.normal``): sqrt(2) erfinv(u) with u uniform in
    (-1, 1)."""
    from .scipy.special import erfinv

    dtype = _float_dtype(dtype, "normal")
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform(key, shape, dtype, lo, 1.0)
    e = _erfinv_f32(u) if dtype == np.float32 else np.asarray(erfinv(u))
    return (dtype.type(np.sqrt(2)) * e).astype(dtype, copy=False)


def bernoulli(key, p=0.5, shape: Sequence[int] | None = None) -> np.ndarray:
    """Booleans that are True with probability ``p`` (``jax.random.bernoulli``); the shape is
    ``p``'s unless given."""
    p = np.asarray(p)
    dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    shape = p.shape if shape is None else _shape(shape, "bernoulli")
    return uniform(key, shape, dtype) < p


def exponential(key, shape: Sequence[int] = (), dtype=np.float64) -> np.ndarray:
    """Exponential(1) floats, -log(1 - u) (``jax.random.exponential``)."""
    u = uniform(key, shape, _float_dtype(dtype, "exponential"))
    return -np.log1p(-u)


def gumbel(key, shape: Sequence[int] = (), dtype=np.float64) -> np.ndarray:
    """Standard Gumbel floats, -log(-log u) with u uniform in [tiny, 1)
    (``jax.random.gumbel``)."""
    dtype = _float_dtype(dtype, "gumbel")
    u = uniform(key, shape, dtype, np.finfo(dtype).tiny, 1.0)
    return -np.log(-np.log(u))


def categorical(key, logits, axis: int = -1, shape: Sequence[int] | None = None) -> np.ndarray:
    """Indices drawn from the categorical distributions ``softmax(logits)`` along ``axis``, by
    the Gumbel-max trick (``jax.random.categorical``)."""
    logits = np.asarray(logits)
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
    noise = gumbel(key, draw_shape, logits.dtype)
    return np.argmax(noise + logits, axis=draw_axis)
