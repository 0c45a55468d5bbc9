"""The primitives the transformation machinery binds itself, and lax's functions for them.

``ad`` makes zero tangents (``full``) and adds tangents (``add``); ``batching`` moves and adds
batch axes (``transpose``, ``broadcast_in_dim``); ``full`` may convert its fill value
(``convert_element_type``). The four primitives are declared here, below the machinery, without
rules: ``ops.elementwise`` (``add``, ``convert_element_type``) and ``ops.structural``
(``broadcast_in_dim``, ``transpose``) own them and register all their rules. ``functrace.lax``
re-exports the functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import core
from .core import Primitive, Tracer

add_p = Primitive("add")
convert_element_type_p = Primitive("convert_element_type")
broadcast_in_dim_p = Primitive("broadcast_in_dim")
transpose_p = Primitive("transpose")


def _is_py_scalar(x) -> bool:
    return type(x) in (bool, int, float, complex)


# Eager ``full`` of a Python scalar: (shape, dtype, type, value, zero's repr) -> the read-only
# broadcast array. Eager grad broadcasts every Python-scalar operand (``x * 0.5`` in a loop);
# NumPy's broadcast_to costs more than the operation on small arrays. The repr tells -0.0 from
# 0.0, which compare equal; a NaN only matches itself (identity), so it is just recomputed.
_eager_fulls: dict = {}


def full(shape: Sequence[int], fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (staged as one broadcast)."""
    t = type(fill_value)
    st = core._state()
    # only outside transformations or on eager grad's tape (the only trace that takes raw
    # arguments): elsewhere one shared object would be one constant, where fresh ones were
    # several (the residuals a staged linearization saves)
    if (t is float or t is int or t is bool) and st.dynamic_trace is None and (
            len(st.trace_stack) == 1 or st.trace_stack[-1].trace_type.raw_args):
        key = (tuple(shape), dtype, t, fill_value, repr(fill_value) if fill_value == 0 else 0)
        try:
            out = _eager_fulls.get(key)
        except TypeError:  # an unhashable shape entry or dtype: no caching
            out = key = None
        if out is None:
            out = _full(shape, fill_value, dtype)
            if key is not None:
                if len(_eager_fulls) > 1024:
                    _eager_fulls.clear()
                _eager_fulls[key] = out
        return out
    return _full(shape, fill_value, dtype)


def _full(shape: Sequence[int], fill_value, dtype=None):
    if isinstance(fill_value, Tracer) or isinstance(fill_value, np.ndarray) and fill_value.ndim:
        fill = fill_value if dtype is None else convert_element_type(fill_value, dtype)
    else:
        fill = np.asarray(fill_value, dtype)[()]
    if tuple(shape) == ():
        return fill
    if not isinstance(fill, Tracer) and core._state().dynamic_trace is None:
        # nothing is being staged: the value broadcast_in_dim's impl would give, without
        # binding (eager grad and vjp broadcast every Python-scalar operand this way)
        return np.broadcast_to(fill, tuple(int(d) for d in shape))
    return broadcast_in_dim_p.bind(fill, shape=tuple(int(d) for d in shape),
                                   broadcast_dimensions=())


def full_like(x, fill_value, dtype=None):
    aval = core.get_aval(x)
    return full(aval.shape, fill_value, aval.dtype if dtype is None else dtype)


def zeros_like(x):
    return full_like(x, 0)


def _scalar_like(scalar, other):
    """The Python scalar operand of a binary function, typed like the other operand. Next to a
    weakly typed 0-d operand it stays a Python scalar, so the result stays weak too."""
    aval = core.get_aval(other)
    if aval.weak_type and not aval.shape:
        return np.asarray(scalar, aval.dtype).item()
    return full(aval.shape, scalar, aval.dtype)


def _binary(prim):
    def op(x, y):
        if _is_py_scalar(x):
            if _is_py_scalar(y):  # two (weak) Python scalars: NumPy's promotion of the pair
                dtype = np.result_type(x, y)
                return prim.bind(np.asarray(x, dtype).item(), np.asarray(y, dtype).item())
            x = _scalar_like(x, y)
        elif _is_py_scalar(y):
            y = _scalar_like(y, x)
        return prim.bind(x, y)

    op.__name__ = prim.name
    op.__doc__ = f"Elementwise ``{prim.name}`` of two operands of equal shape and dtype."
    return op


add = _binary(add_p)


def convert_element_type(x, new_dtype, weak_type: bool = False):
    """``x`` converted to ``new_dtype`` (no-op when it already has it); ``weak_type``: the
    result is weakly typed (see ``core.ShapedArray``)."""
    new_dtype = np.dtype(new_dtype)
    if core.get_aval(x).dtype == new_dtype:
        return x
    if weak_type:
        return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=True)
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


def broadcast_in_dim(x, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
    """Broadcast ``x`` to ``shape``; operand axis ``i`` becomes output axis
    ``broadcast_dimensions[i]``."""
    shape, bdims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if core.get_aval(x).shape == shape and bdims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bdims)


def transpose(x, permutation: Sequence[int]):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


__all__ = ["add", "broadcast_in_dim", "convert_element_type", "full", "full_like", "transpose",
           "zeros_like"]
