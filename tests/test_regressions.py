"""Regression tests for bugs found by the fuzzer (tests/test_fuzz.py), one named test per bug.

Each test is the minimised program the fuzzer produced (or a hand-reduced equivalent), with a
comment naming the bug. Tests of bugs not fixed yet that would block fuzzing are marked
``xfail(strict=True)``: the owner removes the mark with the fix.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp


# Bug: functrace has no array type of its own, so a value computed only from unbatched vmap
# arguments (or from constants: fnp.asarray(W)) is a plain NumPy array, and indexing it with a
# traced integer raises ConcretizationTypeError. In JAX, jnp.sin(W) / jnp.asarray(W) are jax
# Arrays, which traced indices can index: vmap(lambda W, i: jnp.sin(W)[i], in_axes=(None, 0))
# and jit(lambda i: jnp.asarray(W)[i]) both work there. Found by the fuzzer as
#     v4 = np.argmax(v3); v5 = x1[v4 % 3]      under vmap(in_axes=(0, None, None)).
def test_numpy_array_indexed_by_traced_index_under_vmap():
    W = np.arange(6.0).reshape(3, 2)
    idx = np.array([0, 2])
    got = ft.vmap(lambda W, i: fnp.sin(W)[i], in_axes=(None, 0))(W, idx)
    np.testing.assert_allclose(got, np.sin(W)[idx])


def test_asarray_constant_indexed_by_traced_index_under_make_jaxpr():
    W = np.arange(6.0).reshape(3, 2)
    closed = ft.make_jaxpr(lambda i: fnp.asarray(W)[i])(np.int64(1))
    np.testing.assert_allclose(ft.eval_jaxpr(closed.jaxpr, closed.consts, np.int64(2))[0], W[2])


# Bug: Python scalar *arguments* lose their weak type when traced. NumPy (eagerly) and JAX
# (jit, make_jaxpr, jvp) treat `a * x` with a Python float `a` and a float32 array `x` as
# float32; functrace's tracers for Python scalars are strong float64, so make_jaxpr/jit/jvp of
# the same function return float64 (and the jaxpr converts x to float64). The eager call, vmap
# with in_axes=None and grad with respect to x already give float32.
def _scale(a, x):
    return a * x


def test_python_scalar_argument_stays_weak_under_make_jaxpr():
    x = np.ones(3, np.float32)
    assert _scale(2.0, x).dtype == np.float32  # NumPy's answer
    closed = ft.make_jaxpr(_scale)(2.0, x)
    assert closed.jaxpr.outvars[0].aval.dtype == np.float32


def test_python_scalar_argument_stays_weak_under_jvp():
    x = np.ones(3, np.float32)
    out, tangent = ft.jvp(_scale, (2.0, x), (1.0, x))
    assert out.dtype == np.float32 and tangent.dtype == np.float32


# Bug: lax.logistic's NumPy implementation reads x.dtype, so an eager call with a Python float
# (lax.logistic(0.5), fine in JAX) raises AttributeError. Found by the fuzzer with a Python
# float argument: `v1 = lax.logistic(x0)`.
def test_lax_logistic_of_python_float():
    out = ft.lax.logistic(0.5)
    np.testing.assert_allclose(out, 1.0 / (1.0 + np.exp(-0.5)))
    assert np.asarray(out).dtype == np.float64


# Bug: the derivative of np.mod / np.remainder vanishes where x is an exact multiple of the
# divisor. functrace.numpy's remainder ends with select(mod == 0, copysign(0, b), mod) to
# give NumPy's signed zero, and the constant branch carries no tangent; JAX gives
# d/dx mod(x, b) = 1 and d/db = -floor(x / b) there too (so grad(lambda t: t % 1.0)(2.0) is
# 1.0 in JAX, 0.0 here). Found by comparing derivative conventions at kinks with JAX's.
def test_grad_of_remainder_at_exact_multiples():
    assert ft.grad(lambda x: fnp.mod(x, 1.0))(2.0) == 1.0
    assert ft.grad(lambda x: x % 1.5)(-3.0) == 1.0
    assert ft.grad(lambda b: fnp.remainder(3.0, b))(1.5) == -2.0
    # away from multiples it was already right
    assert ft.grad(lambda x: fnp.mod(x, 1.0))(2.25) == 1.0


# Bug: x.at[idx].get/set/add accept JAX's `mode=` / `fill_value=` keywords but ignore them, so
# x.at[i].get(mode="fill", fill_value=-1.0) with an out-of-range traced index returns a clamped
# entry instead of -1.0 (JAX), and x.at[i].set(v, mode="clip") drops the update instead of
# writing the last entry. Found comparing out-of-range index semantics with JAX's.
def test_at_get_fill_mode_with_out_of_range_traced_index():
    x = np.arange(4.0) + 1

    def f(x, i):
        return x.at[fnp.stack([i, i - 3])].get(mode="fill", fill_value=-1.0)

    closed = ft.make_jaxpr(f)(x, np.int64(5))
    got = ft.eval_jaxpr(closed.jaxpr, closed.consts, x, np.int64(5))[0]
    np.testing.assert_array_equal(got, [-1.0, 3.0])


def test_at_set_clip_mode_with_out_of_range_traced_index():
    x = np.zeros(4)
    closed = ft.make_jaxpr(lambda x, i: x.at[i].set(7.0, mode="clip"))(x, np.int64(9))
    got = ft.eval_jaxpr(closed.jaxpr, closed.consts, x, np.int64(9))[0]
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 7.0])


def _traced(f, *args):
    closed = ft.make_jaxpr(f)(*args)
    return ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)[0]


def test_at_modes_with_static_out_of_range_indices_and_defaults():
    x = np.arange(4.0)
    got = _traced(lambda x: x.at[np.array([1, 7, -9])].get(mode="fill"), x)
    np.testing.assert_array_equal(got, [1.0, np.nan, np.nan])
    got = _traced(lambda x: x.at[np.array([1, 7])].set(5.0, mode="drop"), x)
    np.testing.assert_array_equal(got, [0.0, 5.0, 2.0, 3.0])
    got = _traced(lambda x: x.at[7].add(5.0, mode="clip"), x)
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0, 8.0])
    xi = np.arange(3, dtype=np.uint8)
    assert _traced(lambda x: x.at[5].get(mode="fill"), xi) == 255
    with pytest.raises(ValueError, match="mode must be one of"):
        _traced(lambda x: x.at[1].get(mode="wrap"), x)


def test_at_fill_mode_is_differentiable():
    x = np.arange(1.0, 5.0)
    grad = ft.grad(lambda x: fnp.sum(x.at[np.array([0, 9, 0])].get(mode="fill", fill_value=0.0)))
    np.testing.assert_array_equal(grad(x), [2.0, 0.0, 0.0, 0.0])


# Bug: arrays created by fnp.zeros/fnp.asarray inside an eager grad were plain NumPy arrays, so
# the common JAX idiom `jnp.zeros(n).at[idx].add(x)` raised AttributeError ('.at'). Found by
# comparing user-style programs with JAX.
def test_zeros_at_add_inside_eager_grad():
    idx = np.array([0, 2, 2])
    grad = ft.grad(lambda x: fnp.sum(fnp.zeros(3).at[idx].add(x) ** 2))(np.ones(3))
    np.testing.assert_array_equal(grad, [2.0, 4.0, 4.0])  # d/dx_i of (x0)^2 + (x1 + x2)^2
    out = ft.jvp(lambda x: fnp.asarray([1.0, 2.0]).at[1].set(x), (3.0,), (1.0,))
    np.testing.assert_array_equal(out[0], [1.0, 3.0])
    np.testing.assert_array_equal(out[1], [0.0, 1.0])
