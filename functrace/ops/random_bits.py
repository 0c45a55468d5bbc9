"""The ``threefry2x32`` primitive: the counter-based generator behind ``functrace.random``.

``threefry2x32(k1, k2, x1, x2)`` encrypts the counter pairs ``(x1, x2)`` under the key
``(k1, k2)`` with Threefry-2x32 (20 rounds, Random123's rotation schedule) and returns the two
output words, all ``uint32``. It is one primitive, rather than the generator written out in
``functrace.numpy``, because its rounds are shifts and wrapping adds that elementwise tracing
turns into hundreds of equations (shifts become multiplies and divides); as one primitive a
sampler inside ``jit`` is a handful of equations and one compiled loop.

Operands are either 0-d (the same word for every element, usually the key) or share one shape,
the output's; each output element depends only on the operands' elements at its index. The
outputs are integer bits, so the primitive has no derivative (a zero tangent, and reverse mode
never reaches its key). Every rule is registered right below, including the Numba lowering,
which calls ``_support.f_threefry2x32`` (the scalar function ``threefry2x32_scalar`` compiled)
in a loop over the output.
"""

from __future__ import annotations

import numpy as np

from .. import ad, batching, core
from ..backend import rules as backend_rules
from ..core import Primitive, ShapedArray

__all__ = ["threefry2x32", "threefry2x32_p"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = 0x1BD11BDA
_U32 = np.dtype(np.uint32)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32_numpy(k1, k2, x1, x2) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32 (20 rounds) of the counter pairs ``(x1, x2)`` under the key ``(k1, k2)``,
    with NumPy: uint32 operands broadcast together, two uint32 arrays out."""
    k1, k2, x1, x2 = (np.asarray(v, np.uint32) for v in (k1, k2, x1, x2))
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(_KS_PARITY))
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as it should
        x1, x2 = x1 + ks[0], x2 + ks[1]
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x1 = x1 + x2
                x2 = _rotl(x2, r) ^ x1
            x1 = x1 + ks[(i + 1) % 3]
            x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    return (np.broadcast_to(x1, shape).astype(np.uint32, copy=False),
            np.broadcast_to(x2, shape).astype(np.uint32, copy=False))


def threefry2x32_scalar(k1, k2, x1, x2):
    """Threefry-2x32 of one counter pair, for ``numba.njit`` (``_support.f_threefry2x32``).

    Numba widens 32-bit integer arithmetic to 64 bits, so the words are kept in uint64 and
    masked after every add and shift; every constant is a uint64 because mixing uint64 with a
    signed integer would give a float."""
    m = np.uint64(0xFFFFFFFF)
    a = np.uint64(k1)
    b = np.uint64(k2)
    c = a ^ b ^ np.uint64(0x1BD11BDA)
    ks = (a, b, c)
    y1 = (np.uint64(x1) + a) & m
    y2 = (np.uint64(x2) + b) & m
    for i in range(5):
        rots = (np.uint64(13), np.uint64(15), np.uint64(26), np.uint64(6)) if i % 2 == 0 else (
            np.uint64(17), np.uint64(29), np.uint64(16), np.uint64(24))
        for r in rots:
            y1 = (y1 + y2) & m
            y2 = (((y2 << r) & m) | (y2 >> (np.uint64(32) - r))) ^ y1
        y1 = (y1 + ks[(i + 1) % 3]) & m
        y2 = (y2 + ks[(i + 2) % 3] + np.uint64(i + 1)) & m
    return np.uint32(y1), np.uint32(y2)


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)


def _out_shape(shapes) -> tuple[int, ...]:
    return next((s for s in shapes if s != ()), ())


def _threefry_shape(k1: ShapedArray, k2: ShapedArray, x1: ShapedArray, x2: ShapedArray):
    avals = (k1, k2, x1, x2)
    if any(a.dtype != _U32 for a in avals):
        raise TypeError("threefry2x32: key and counter words must be uint32, got "
                        + ", ".join(a.dtype.name for a in avals))
    shape = _out_shape([a.shape for a in avals])
    if any(a.shape not in ((), shape) for a in avals):
        raise TypeError("threefry2x32: the operands must be 0-d or all of one shape, got "
                        + ", ".join(str(a.shape) for a in avals))
    return [ShapedArray(shape, _U32), ShapedArray(shape, _U32)]


def _threefry_impl(k1, k2, x1, x2):
    return list(threefry2x32_numpy(k1, k2, x1, x2))


def _threefry_batch(vals, dims, axis_size, **params):
    from . import basic
    # the unbatched output shape is that of any non-0-d operand, with its batch axis removed
    inner = _out_shape([tuple(s for j, s in enumerate(core.get_aval(v).shape) if j != d)
                        for v, d in zip(vals, dims)])
    full = (axis_size,) + inner
    moved = []
    for v, d in zip(vals, dims):
        if d is None:
            # a 0-d word stays 0-d (the kernel reads it once); an array gets the batch axis
            moved.append(v if core.get_aval(v).ndim == 0 else
                         batching.broadcast_batch(v, axis_size, 0))
            continue
        v = batching.moveaxis(v, d, 0)
        if core.get_aval(v).shape != full:  # a batched 0-d word next to array counters
            v = basic.broadcast_in_dim(v, full, (0,))
        moved.append(v)
    return threefry2x32_p.bind(*moved, **params), [0, 0]


core.shape_rules[threefry2x32_p] = _threefry_shape
core.impl_rules[threefry2x32_p] = _threefry_impl
ad.defjvp_zero(threefry2x32_p)
batching.batch_rules[threefry2x32_p] = _threefry_batch


def _threefry_kernel(k, eqn) -> None:
    """One loop over the output calling the compiled scalar generator per element."""
    shape = eqn.outvars[0].aval.shape
    idx = [k.tmp("t") for _ in shape]

    def read(name: str, aval) -> str:
        return f"{name}[{', '.join(idx)}]" if aval.ndim else name

    ops = [read(n, a.aval) for n, a in zip(k.ins, eqn.invars)]
    pair = k.tmp("tf")
    out = [f"{o}[{', '.join(idx)}]" if shape else o for o in k.outs]
    body = [f"{pair} = f_threefry2x32({', '.join(ops)})",
            f"{out[0]} = {pair}[0]", f"{out[1]} = {pair}[1]"]
    lines = [f"{'    ' * d}for {idx[d]} in range({n}):" for d, n in enumerate(shape)]
    lines += ["    " * len(shape) + b for b in body]
    k.emit(*lines)


backend_rules.kernel_lowerings[threefry2x32_p] = _threefry_kernel


def threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32 of the counters ``(x1, x2)`` under the key words ``(k1, k2)``: two uint32
    arrays of the operands' common shape (0-d operands are shared by every element)."""
    return threefry2x32_p.bind(k1, k2, x1, x2)
