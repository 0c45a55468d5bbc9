"""NumPy semantics on top of lax: NEP 50 promotion and explicit broadcasting.

Every ``functrace.numpy`` function funnels its array operands through ``promote_args`` (dtype
promotion, Python scalars weak) and ``broadcast_arrays`` (NumPy broadcasting made explicit with
``broadcast_in_dim``), then calls one lax function per primitive.
"""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ..core import Tracer


def is_py_scalar(x) -> bool:
    return type(x) in (bool, int, float, complex)


def asarray_or_tracer(x):
    """Tracers and NumPy arrays pass through; scalars and nested lists become NumPy arrays."""
    if isinstance(x, (Tracer, np.ndarray)):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in _flat_list(x)):
        from . import stack
        return stack([asarray_or_tracer(e) for e in x])
    return np.asarray(x)


def _flat_list(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flat_list(e)
        else:
            yield e


def shape_of(x) -> tuple[int, ...]:
    return core.get_aval(x).shape if not is_py_scalar(x) else ()


def dtype_of(x) -> np.dtype:
    return core.get_aval(x).dtype


def promote_dtype(*args) -> np.dtype:
    """NEP 50: the dtype NumPy gives an arithmetic operation on ``args``."""
    return dtypes.result_type(*args)


def promote_args(*args, to_inexact: bool = False):
    """Cast operands to their common dtype (Python scalars adapt to the arrays)."""
    dtype = promote_dtype(*args)
    if to_inexact:
        dtype = dtypes.to_inexact(dtype)
    return [cast(a, dtype) for a in args]


def cast(x, dtype):
    if is_py_scalar(x):
        return np.asarray(x, dtype)
    x = asarray_or_tracer(x)
    if dtype_of(x) == dtype:
        return x
    return lax.convert_element_type(x, dtype)


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(
            "operands could not be broadcast together with shapes "
            + " ".join(str(tuple(s)) for s in shapes)) from None


def broadcast_to(x, shape):
    shape = tuple(shape)
    if shape_of(x) == shape:
        return x
    xs = shape_of(x)
    if len(xs) > len(shape):
        raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    broadcast_shapes(xs, shape)
    # axes of size 1 that must stretch are squeezed first so broadcast_in_dim sees them as new
    lead = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


def broadcast_arrays(*args):
    shape = broadcast_shapes(*[shape_of(a) for a in args])
    return [broadcast_to(a, shape) for a in args]


def elementwise(lax_fn, *args, to_inexact: bool = False):
    """Apply an n-ary lax elementwise function with NumPy promotion and broadcasting."""
    args = promote_args(*args, to_inexact=to_inexact)
    return lax_fn(*broadcast_arrays(*args))


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise np.exceptions.AxisError(f"{what} {axis} is out of bounds for array of dimension "
                                      f"{ndim}")
    return axis % ndim if ndim else 0


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(int(a), ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"duplicate value in 'axis': {axis}")
        return axes
    return (normalize_axis(int(axis), ndim),)
