"""lax's functions for the elementwise, structural and ``reduce_sum`` primitives.

One function per primitive (``add``, ``sin``, ``select``, ``reshape``, ...), explicit shapes and
dtypes. The primitive modules' rules use them; ``functrace.lax`` re-exports them. The few the
transformation machinery needs itself (``full``, ``add``, ``broadcast_in_dim``, ``transpose``,
``convert_element_type``) live in ``functrace.core_prims`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import core
from ..core_prims import (
    _binary,
    _is_py_scalar,
    add,
    broadcast_in_dim,
    convert_element_type,
    full,
    full_like,
    transpose,
    zeros_like,
)
from . import elementwise as _ew
from . import reductions as _red
from . import structural as _st


def _unary(prim):
    def op(x):
        return prim.bind(x)

    op.__name__ = prim.name
    op.__doc__ = f"Elementwise ``{prim.name}``."
    return op


_UNARY = ("neg exp log log1p expm1 sin cos tan asin acos atan sinh cosh tanh asinh acosh "
          "atanh logistic sqrt rsqrt cbrt abs sign floor ceil round is_finite erf not "
          "stop_gradient real imag conj").split()
# ``add`` is core_prims' (the machinery binds it too)
_BINARY = "sub mul div rem pow max min atan2 eq ne lt le gt ge and or xor complex".split()
for _name in _UNARY:
    globals()[_name] = _unary(getattr(_ew, f"{_name}_p"))
for _name in _BINARY:
    globals()[_name] = _binary(getattr(_ew, f"{_name}_p"))
del _name
# ``and``/``or``/``not`` are Python keywords: spell them as JAX does
and_, or_, not_ = globals()["and"], globals()["or"], globals()["not"]


def integer_pow(x, y: int):
    """``x ** y`` for a static integer ``y``."""
    if int(y) < 0 and np.dtype(core.get_aval(x).dtype).kind in "iub":
        # as JAX: NumPy raises for it eagerly, and compiled code could not (docs/sharp-bits.md)
        raise TypeError(f"integer_pow: integers cannot be raised to a negative power (got "
                        f"y={int(y)} for an {core.get_aval(x).dtype} operand); convert the "
                        "operand to a float dtype first.")
    return _ew.integer_pow_p.bind(x, y=int(y))


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (all of equal shape)."""
    if _is_py_scalar(on_true):
        on_true = full_like(on_false, on_true)
    if _is_py_scalar(on_false):
        on_false = full_like(on_true, on_false)
    return _ew.select_n_p.bind(pred, on_false, on_true)


def broadcast_to_rank(x, shape: Sequence[int]):
    """NumPy-style broadcast of ``x`` to ``shape`` (trailing axes aligned)."""
    aval = core.get_aval(x)
    lead = len(shape) - aval.ndim
    return broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


def reshape(x, new_sizes: Sequence[int]):
    new_sizes = tuple(int(d) for d in new_sizes)
    if core.get_aval(x).shape == new_sizes:
        return x
    return _st.reshape_p.bind(x, new_sizes=new_sizes)


def reduce_sum(x, axes: int | Sequence[int]):
    """Sum over ``axes`` (an int or a sequence; negative axes count from the end)."""
    axes = _red.normalize_axes(axes, core.get_aval(x).ndim)
    if not axes:
        return x
    return _red.reduce_sum_p.bind(x, axes=axes)


__all__ = ["add", "and_", "broadcast_in_dim", "broadcast_to_rank", "convert_element_type",
           "full", "full_like", "integer_pow", "not_", "or_", "reduce_sum", "reshape", "select",
           "transpose", "zeros_like", *_UNARY, *_BINARY]
