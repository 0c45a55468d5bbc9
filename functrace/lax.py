"""``functrace.lax``: one function per primitive, with explicit shapes and dtypes.

Unlike ``functrace.numpy`` there is no implicit broadcasting or type promotion here, except that
a Python scalar operand of a binary function takes the other operand's shape and dtype (so rules
can write ``lax.mul(g, 0.5)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .control_flow import *  # noqa: F403
from .ops.basic import *  # noqa: F403
from .ops.cumulative import *  # noqa: F403
from .ops.indexing import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.linalg_decomp import *  # noqa: F403
from .ops.reductions import *  # noqa: F403
from .ops.shapes import *  # noqa: F403
from .ops.sorting import *  # noqa: F403
from .ops.special import *  # noqa: F403
from .windowed import *  # noqa: F403

# ---------------------------------------------------------------------------------------------
# Shape helpers and precision settings JAX code imports from jax.lax / jax
# ---------------------------------------------------------------------------------------------


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                             window_strides: Sequence[int], padding,
                             dimension_numbers) -> tuple[int, ...]:
    """The output shape of ``conv_general_dilated(lhs, rhs, window_strides, padding,
    dimension_numbers=dimension_numbers)`` (no dilation, one feature group), as JAX's
    ``lax.conv_general_shape_tuple``. ``padding``: 'VALID', 'SAME', 'SAME_LOWER' or
    ``(low, high)`` pairs; ``dimension_numbers`` as for ``conv_general_dilated``."""
    from .windowed import _ints, conv_dimension_numbers, padtype_to_pads
    lhs_shape, rhs_shape = tuple(int(d) for d in lhs_shape), tuple(int(d) for d in rhs_shape)
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs_t = [lhs_shape[a] for a in dn.lhs_spec]
    rhs_t = [rhs_shape[a] for a in dn.rhs_spec]
    nsp = len(lhs_shape) - 2
    strides = _ints("window_strides", window_strides, nsp)
    pads = padtype_to_pads(lhs_t[2:], rhs_t[2:], strides, padding)
    spatial = [max(0, (size + lo + hi - k) // s + 1)
               for size, k, s, (lo, hi) in zip(lhs_t[2:], rhs_t[2:], strides, pads)]
    out_t = [lhs_t[0], rhs_t[0], *spatial]
    out = [0] * len(out_t)
    for axis, size in zip(dn.out_spec, out_t):
        out[axis] = size
    return tuple(out)


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int], padding,
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """The output shape of ``reduce_window`` with these parameters (JAX's
    ``lax.reduce_window_shape_tuple``): ``padding`` is ``(low, high)`` pairs (or 'VALID'/'SAME',
    resolved on the dilated operand); each axis gives ``(padded - dilated window) // stride + 1``
    (at least 0)."""
    from .windowed import _dilate, _ints, padtype_to_pads
    shape = tuple(int(d) for d in operand_shape)
    n = len(shape)
    window = _ints("window_dimensions", window_dimensions, n)
    strides = _ints("window_strides", window_strides, n)
    base = _ints("base_dilation", base_dilation, n, default=1)
    wdil = _ints("window_dilation", window_dilation, n, default=1)
    dil_in = [_dilate(d, b) for d, b in zip(shape, base)]
    dil_win = [_dilate(w, d) for w, d in zip(window, wdil)]
    pads = padtype_to_pads(dil_in, dil_win, strides, padding)
    return tuple(max(0, (d + lo + hi - w) // s + 1)
                 for d, w, s, (lo, hi) in zip(dil_in, dil_win, strides, pads))


_MATMUL_PRECISIONS = ("default", "high", "highest", "fastest", "bfloat16", "tensorfloat32",
                      "float32", "bfloat16_3x", "tensorfloat32_3x")


class default_matmul_precision:  # noqa: N801 - JAX's name (a context manager)
    """``with functrace.default_matmul_precision("highest"): ...`` (JAX's
    ``jax.default_matmul_precision``): accepted and a no-op, since the CPU backend always
    multiplies in the operands' own precision. Takes JAX's names ("default", "high",
    "highest", "bfloat16", "tensorfloat32", "float32", ...) or a ``lax.Precision``; an unknown
    name is a ValueError, as in JAX. Also usable as a decorator."""

    def __init__(self, precision):
        from .windowed import Precision
        if precision is not None and not isinstance(precision, Precision) and (
                not isinstance(precision, str) or precision.lower() not in _MATMUL_PRECISIONS):
            raise ValueError(f"default_matmul_precision: unknown precision {precision!r}; use "
                             f"one of {', '.join(_MATMUL_PRECISIONS)} or a lax.Precision.")
        self.precision = precision

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, fun):
        import functools

        @functools.wraps(fun)
        def wrapped(*args, **kwargs):
            with self:
                return fun(*args, **kwargs)
        return wrapped
