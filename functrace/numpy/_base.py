"""NumPy semantics on top of lax: operand conversion, NEP 50 promotion, explicit broadcasting,
axis normalisation and the conventions every ``functrace.numpy`` module shares.

Conventions:
- An *array* here is a ``Tracer``, a NumPy array or a NumPy scalar; ``asarray`` turns anything
  else (Python scalars, nested lists, lists holding tracers) into one.
- Python scalars stay *weak* (NEP 50) only where NumPy keeps them weak: the ufunc-like
  functions, ``where`` and ``clip``. Everything else converts them with ``asarray`` first.
- Outside a transformation, 0-d results are returned as NumPy scalars (``scalarize``) as NumPy
  does for ufuncs and reductions.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

from .. import core, dtypes, lax
from ..core import Tracer

PY_SCALARS = (bool, int, float, complex)
_ARRAY_TYPES = (Tracer, np.ndarray, np.generic)


def is_py_scalar(x: Any) -> bool:
    """Whether ``x`` is a Python bool, int, float or complex (a weak scalar)."""
    return type(x) in PY_SCALARS


def is_tracer(x: Any) -> bool:
    """Whether ``x`` is a traced value."""
    return isinstance(x, Tracer)


def asarray(x: Any, dtype: Any = None):
    """``x`` as an array: tracers and NumPy arrays pass through (cast to ``dtype`` if given);
    Python scalars and nested lists become NumPy arrays; lists holding tracers are stacked."""
    if not isinstance(x, _ARRAY_TYPES):
        if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in _flat_list(x)):
            from ._shape import stack
            x = stack([asarray(e) for e in x])
        else:
            return np.asarray(x, dtype)
    if dtype is not None:
        return cast(x, np.dtype(dtype))
    return x


def _flat_list(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flat_list(e)
        else:
            yield e


class _ArrayInfo:
    """Shape and dtype of a NumPy array, read without building (and validating) an aval: the
    hot eager path. The primitives still type-check their operands when they are applied."""

    __slots__ = ("shape", "dtype")

    def __init__(self, x: np.ndarray):
        self.shape = x.shape
        self.dtype = x.dtype

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))


def aval_of(x: Any):
    """Shape/dtype/ndim/size of an array or tracer (cheaply for NumPy arrays)."""
    if type(x) is np.ndarray:
        return _ArrayInfo(x)
    return core.get_aval(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array, tracer or Python scalar."""
    return () if is_py_scalar(x) else aval_of(x).shape


def ndim_of(x: Any) -> int:
    """The number of dimensions of an array, tracer or Python scalar."""
    return len(shape_of(x))


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array or tracer."""
    return x.dtype if type(x) is np.ndarray else core.get_aval(x).dtype


def cast(x: Any, dtype: np.dtype):
    """``x`` converted to ``dtype`` (a no-op when it already has it)."""
    if is_py_scalar(x):
        return np.asarray(x, dtype)[()]
    if not isinstance(x, _ARRAY_TYPES):
        x = asarray(x)
    if dtype_of(x) == dtype:
        return x
    return lax.convert_element_type(x, dtype)


def staging() -> bool:
    """True while a function is being staged into a jaxpr (``make_jaxpr``/``jit``): then even
    operations on constants must be recorded rather than run."""
    return core._state().dynamic_trace is not None


def lift_to_dynamic(x: Any):
    """A NumPy constant as a tracer of the dynamic trace (``jit``/``make_jaxpr``/``vmap``), if
    one is running: ``fnp.asarray(W)`` inside them is then an array of the transformed function
    (JAX's omnistaging), which traced indices can index. Under an eager ``grad``/``jvp`` it
    becomes a tracer of the innermost transformation (with a zero tangent), so that arrays made
    by ``fnp.zeros``/``fnp.asarray`` there have ``.at`` like JAX arrays. Unchanged outside any
    transformation."""
    if isinstance(x, Tracer):
        return x
    st = core._state()
    main = st.dynamic_trace
    if main is None:
        if len(st.trace_stack) == 1:
            return x
        main = st.trace_stack[-1]
    return main.trace_type(main).pure(x)


def scalarize(x: Any):
    """0-d NumPy arrays become NumPy scalars, as NumPy returns them from reductions."""
    if type(x) is np.ndarray and x.ndim == 0:
        return x[()]
    return x


def concrete_value(x: Any):
    """The NumPy value of ``x`` if it is known (also for tracers over known values), else None."""
    if isinstance(x, Tracer):
        return x.concrete_value()
    return np.asarray(x)


# ---------------------------------------------------------------------------------------------
# Promotion and broadcasting
# ---------------------------------------------------------------------------------------------


def promote_dtype(*args) -> np.dtype:
    """NEP 50: the dtype NumPy gives an arithmetic operation on ``args``."""
    return dtypes.result_type(*args)


def promote_args(*args, to_inexact: bool = False) -> list:
    """Cast operands to their common dtype (Python scalars adapt to the arrays)."""
    dtype = promote_dtype(*args)
    if to_inexact:
        dtype = dtypes.to_inexact(dtype)
    if all_weak(args):
        return [weak_cast(a, dtype) for a in args]
    return [cast(a, dtype) for a in args]


def all_weak(args) -> bool:
    """Whether ``args`` are all weakly typed and at least one is traced: then, as in JAX, the
    result is weak too (``2 * a`` for a traced Python float ``a`` still adapts to float32).
    Only Python scalars (no tracer) keep NumPy's eager behaviour."""
    return (any(isinstance(a, Tracer) for a in args)
            and all(core.is_weak(a) for a in args))


_WEAK_DTYPES = (dtypes.int64, dtypes.float64, dtypes.complex128)


def weak_cast(x: Any, dtype: np.dtype):
    """``cast`` that keeps a Python scalar a Python scalar (of ``dtype``'s kind), so that it
    stays weakly typed next to weakly typed tracers."""
    if is_py_scalar(x) and dtype in _WEAK_DTYPES:
        return np.asarray(x, dtype).item()
    if isinstance(x, Tracer) and dtype in _WEAK_DTYPES and dtype_of(x) != dtype:
        return lax.convert_element_type(x, dtype, weak_type=True)
    return cast(x, dtype)


@functools.lru_cache(maxsize=4096)
def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``; ValueError naming them when they do not broadcast."""
    ndim = max(map(len, shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s, ndim - len(s)):
            if d != out[i]:
                if out[i] == 1:
                    out[i] = d
                elif d != 1:
                    raise ValueError(
                        "operands could not be broadcast together with shapes "
                        + " ".join(str(tuple(s)) for s in shapes))
    return tuple(out)


def broadcast_to(x: Any, shape: tuple[int, ...]):
    """``x`` broadcast to ``shape`` NumPy-style (trailing axes aligned)."""
    shape = tuple(shape)
    if is_py_scalar(x):
        return lax.full(shape, x, np.asarray(x).dtype)
    xs = core.get_aval(x).shape
    if xs == shape:
        return x
    if len(xs) > len(shape) or broadcast_shapes(xs, shape) != shape:
        raise ValueError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    lead = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


def broadcast_arrays(*args) -> list:
    """The arrays broadcast to their common shape (NumPy rules)."""
    shape = broadcast_shapes(*[shape_of(a) for a in args])
    return [broadcast_to(a, shape) for a in args]


def elementwise(lax_fn, *args, to_inexact: bool = False):
    """Apply an n-ary lax elementwise function with NumPy promotion and broadcasting."""
    args = promote_args(*args, to_inexact=to_inexact)
    if all(shape_of(a) == () for a in args):
        return lax_fn(*args)  # nothing to broadcast; weak Python scalars stay weak
    return lax_fn(*broadcast_arrays(*args))


# ---------------------------------------------------------------------------------------------
# Axes
# ---------------------------------------------------------------------------------------------


def normalize_axis(axis: Any, ndim: int, what: str = "axis") -> int:
    """``axis`` in ``[0, ndim)``; NumPy's AxisError when out of range."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"{what} {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or sequence) as a tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"duplicate value in 'axis': {axis}")
        return axes
    return (normalize_axis(axis, ndim),)


def canonical_shape(shape: Any) -> tuple[int, ...]:
    """A shape argument (int or sequence of ints) as a tuple of Python ints."""
    if isinstance(shape, (tuple, list)):
        return tuple(operator.index(d) for d in shape)
    return (operator.index(shape),)


def check_unsupported(name: str, **kwargs) -> None:
    """Raise for NumPy keyword arguments functrace does not implement (``out=`` etc.)."""
    for k, v in kwargs.items():
        if v is not None:
            raise NotImplementedError(f"functrace.numpy.{name} does not support the {k!r} "
                                      "argument (arrays are immutable; use the return value).")
