"""vmap of every elementwise primitive agrees with stacking its unbatched results, for in_axes
0, 1, -1 and None on each operand (hypothesis over shapes, axes and dtypes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.lax as lax

FLOAT_UNARY = ("neg exp log log1p expm1 sin cos tan asin acos atan sinh cosh tanh asinh acosh "
               "atanh logistic sqrt rsqrt cbrt abs sign floor ceil round is_finite erf "
               "stop_gradient").split()
FLOAT_BINARY = "add sub mul div rem pow max min atan2 eq ne lt le gt ge".split()
BOOL_OPS = {"not": 1, "and": 2, "or": 2, "xor": 2}


def _lax(name):
    return getattr(lax, name, None) or getattr(lax, name + "_")


# operands inside every primitive's domain (log, acosh, pow of a base > 0, ...)
def _float_operand(rng, shape, dtype, name):
    if name == "acosh":
        return rng.uniform(1.1, 3.0, shape).astype(dtype)
    if name in ("asin", "acos", "atanh"):
        return rng.uniform(-0.9, 0.9, shape).astype(dtype)
    return rng.uniform(0.2, 2.0, shape).astype(dtype)


def _stack_unbatched(f, args, in_axes, size):
    rows = []
    for i in range(size):
        rows.append(f(*[a if ax is None else np.take(a, i, axis=ax)
                        for a, ax in zip(args, in_axes)]))
    return np.stack([np.asarray(r) for r in rows])


def _batched_args(rng, base_shape, in_axes, size, make):
    args = []
    for ax in in_axes:
        if ax is None:
            args.append(make(base_shape))
        else:
            x = make((size,) + base_shape)
            args.append(np.moveaxis(x, 0, ax))
    return args


axes = st.sampled_from([0, 1, -1, None])
shapes = st.sampled_from([(2,), (3, 2), (2, 1, 3)])


def _check(f, nargs, make, data):
    base_shape = data.draw(shapes)
    in_axes = tuple(data.draw(axes) for _ in range(nargs))
    if all(a is None for a in in_axes):
        in_axes = (0,) + in_axes[1:]
    size = 3
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    args = _batched_args(rng, base_shape, in_axes, size, lambda s: make(rng, s))
    got = ft.vmap(f, in_axes=in_axes)(*args)
    want = _stack_unbatched(f, args, in_axes, size)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FLOAT_UNARY)
@given(data=st.data())
def test_vmap_of_unary_primitive_matches_stacking(name, dtype, data):
    _check(_lax(name), 1, lambda rng, s: _float_operand(rng, s, dtype, name), data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FLOAT_BINARY)
@given(data=st.data())
def test_vmap_of_binary_primitive_matches_stacking(name, dtype, data):
    _check(_lax(name), 2, lambda rng, s: _float_operand(rng, s, dtype, name), data)


@pytest.mark.parametrize("name", sorted(BOOL_OPS))
@given(data=st.data())
def test_vmap_of_logical_primitive_matches_stacking(name, data):
    _check(_lax(name), BOOL_OPS[name], lambda rng, s: rng.uniform(size=s) < 0.5, data)


@given(data=st.data())
def test_vmap_of_integer_pow_select_and_convert_matches_stacking(data):
    make = lambda rng, s: rng.uniform(-2.0, 2.0, s)  # noqa: E731
    _check(lambda x: lax.integer_pow(x, 3), 1, make, data)
    _check(lambda p, x, y: lax.select(p > 0, x, y), 3, make, data)
    _check(lambda x: lax.convert_element_type(x, np.float32), 1, make, data)
