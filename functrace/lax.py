"""``functrace.lax``: one function per primitive, with explicit shapes and dtypes.

Unlike ``functrace.numpy`` there is no implicit broadcasting or type promotion here, except that
a Python scalar operand of a binary function takes the other operand's shape and dtype (so rules
can write ``lax.mul(g, 0.5)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import core
from .core import Tracer


def _is_py_scalar(x) -> bool:
    return type(x) in (bool, int, float, complex)


def full(shape: Sequence[int], fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (staged as one broadcast)."""
    from .ops.structural import broadcast_in_dim_p
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


def _unary(prim):
    def op(x):
        return prim.bind(x)

    op.__name__ = prim.name
    op.__doc__ = f"Elementwise ``{prim.name}``."
    return op


from .ops import elementwise as _ew  # noqa: E402
from .ops import reductions as _red  # noqa: E402
from .ops import structural as _st  # noqa: E402

for _name in ("neg exp log log1p expm1 sin cos tan asin acos atan sinh cosh tanh asinh acosh "
              "atanh logistic sqrt rsqrt cbrt abs sign floor ceil round is_finite erf not "
              "stop_gradient real imag conj").split():
    globals()[_name] = _unary(getattr(_ew, f"{_name}_p"))
for _name in ("add sub mul div rem pow max min atan2 eq ne lt le gt ge and or xor "
              "complex").split():
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


def convert_element_type(x, new_dtype, weak_type: bool = False):
    """``x`` converted to ``new_dtype`` (no-op when it already has it); ``weak_type``: the
    result is weakly typed (see ``core.ShapedArray``)."""
    new_dtype = np.dtype(new_dtype)
    if core.get_aval(x).dtype == new_dtype:
        return x
    if weak_type:
        return _ew.convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=True)
    return _ew.convert_element_type_p.bind(x, new_dtype=new_dtype)


def broadcast_in_dim(x, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
    """Broadcast ``x`` to ``shape``; operand axis ``i`` becomes output axis
    ``broadcast_dimensions[i]``."""
    shape, bdims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if core.get_aval(x).shape == shape and bdims == tuple(range(len(shape))):
        return x
    return _st.broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bdims)


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


def transpose(x, permutation: Sequence[int]):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return _st.transpose_p.bind(x, permutation=permutation)


def reduce_sum(x, axes: int | Sequence[int]):
    """Sum over ``axes`` (an int or a sequence; negative axes count from the end)."""
    axes = _red.normalize_axes(axes, core.get_aval(x).ndim)
    if not axes:
        return x
    return _red.reduce_sum_p.bind(x, axes=axes)


from .control_flow import *  # noqa: E402,F403
from .ops.cumulative import *  # noqa: E402,F403
from .ops.indexing import *  # noqa: E402,F403
from .ops.linalg import *  # noqa: E402,F403
from .ops.linalg_decomp import *  # noqa: E402,F403
from .ops.reductions import *  # noqa: E402,F403
from .ops.shapes import *  # noqa: E402,F403
from .ops.sorting import *  # noqa: E402,F403
from .ops.special import *  # noqa: E402,F403
from .ops.windowed import *  # noqa: E402,F403

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
    from .ops.windowed import _ints, conv_dimension_numbers, padtype_to_pads
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
    from .ops.windowed import _dilate, _ints, padtype_to_pads
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
        from .ops.windowed import Precision
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
