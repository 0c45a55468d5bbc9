"""iota, squeeze, expand_dims, concatenate, pad, rev, slice, dynamic_slice and
dynamic_update_slice: values against NumPy, derivatives, vmap, typing and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.ops.shapes import iota_p, roll_p

FLOATS = [np.float32, np.float64]
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def _rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _take(x, i, axis):
    return x if axis is None else np.take(x, i, axis=axis)


def _batched(rng, shape, axis, size=3, dtype=np.float64):
    if axis is None:
        return _rand(rng, shape, dtype)
    return np.moveaxis(_rand(rng, (size,) + tuple(shape), dtype), 0, axis)


def assert_vmap_matches_loop(f, args, in_axes, size=3):
    """``vmap(f)`` equals stacking ``f`` over the batch, and its program type-checks."""
    out = ft.vmap(f, in_axes=in_axes)(*args)
    loop = np.stack([np.asarray(f(*[_take(a, i, ax) for a, ax in zip(args, in_axes)]))
                     for i in range(size)])
    np.testing.assert_allclose(out, loop, rtol=1e-12, atol=1e-12)
    ft.check_jaxpr(ft.make_jaxpr(ft.vmap(f, in_axes=in_axes))(*args))


def check_unary_op(f, x, axes=(0, 1, -1)):
    """Derivatives (order 2, both modes), typed programs, and vmap over each axis of ``x``."""
    ft.check_grads(f, (x,), order=2)
    ft.check_jaxpr(ft.make_jaxpr(f)(x))
    out = f(x)
    ct = np.ones(np.shape(out))
    ft.check_jaxpr(ft.make_jaxpr(lambda x, c: ft.vjp(f, x)[1](c))(x, ct))
    ft.check_jaxpr(ft.make_jaxpr(lambda x, t: ft.jvp(f, (x,), (t,)))(x, x))
    rng = np.random.RandomState(7)
    for ax in axes:
        if ax is not None and ax > x.ndim:
            continue
        assert_vmap_matches_loop(f, (_batched(rng, x.shape, ax),), (ax,))


# --- iota -------------------------------------------------------------------------------------


@given(shapes, st.data(), st.sampled_from([np.int32, np.int64, np.float32, np.float64]))
def test_iota(shape, data, dtype):
    dim = data.draw(st.integers(0, len(shape) - 1))
    out = lax.iota(dtype, shape, dim)
    expected = np.indices(shape)[dim].astype(dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


def test_iota_is_staged_without_inputs_and_under_transforms():
    closed = ft.make_jaxpr(lambda x: lax.add(x, lax.iota(np.float64, (3,), 0)))(np.ones(3))
    ft.check_jaxpr(closed)
    assert closed.eqns[0].primitive is iota_p and closed.eqns[0].invars == ()
    np.testing.assert_array_equal(lax.iota(np.int32, 4), np.arange(4))
    xs = np.ones((2, 3))
    np.testing.assert_array_equal(
        ft.vmap(lambda x: lax.mul(x, lax.iota(np.float64, (3,), 0)))(xs), xs * np.arange(3))
    g = ft.grad(lambda x: lax.reduce_sum(lax.mul(x, lax.iota(np.float64, (3,), 0)), (0,)))
    np.testing.assert_array_equal(g(np.ones(3)), np.arange(3.0))
    with pytest.raises(TypeError, match=r"dimension 2 is not an axis of shape \(2, 3\)"):
        lax.iota(np.int32, (2, 3), 2)


# --- squeeze and expand_dims ------------------------------------------------------------------


@given(st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple), st.data(),
       st.sampled_from(FLOATS))
def test_squeeze_and_expand_dims(shape, data, dtype):
    ones = [i for i, n in enumerate(shape) if n == 1]
    dims = data.draw(st.lists(st.sampled_from(ones), unique=True) if ones else st.just([]))
    x = _rand(np.random.RandomState(0), shape, dtype)
    out = lax.squeeze(x, dims)
    np.testing.assert_array_equal(out, np.squeeze(x, tuple(dims)))
    assert out.dtype == dtype
    new = data.draw(st.lists(st.integers(-(x.ndim + 2), x.ndim + 1), max_size=2, unique=True))
    out_ndim = x.ndim + len(new)
    if all(-out_ndim <= d < out_ndim for d in new) and len({d % out_ndim for d in new}) == len(
            new):
        np.testing.assert_array_equal(lax.expand_dims(x, new), np.expand_dims(x, tuple(new)))
    if dims:
        check_unary_op(lambda x: lax.squeeze(x, dims), x.astype(np.float64))
    check_unary_op(lambda x: lax.expand_dims(x, (0, -1)), x.astype(np.float64))


def test_squeeze_expand_dims_errors_and_no_ops():
    x = np.ones((2, 1))
    assert lax.squeeze(x, ()) is x
    assert lax.expand_dims(x, ()) is x
    np.testing.assert_array_equal(lax.squeeze(x, -1), np.ones(2))
    with pytest.raises(TypeError, match=r"squeeze: dimensions \(0,\) of an array of shape "
                                        r"\(2, 1\) must all have size 1"):
        lax.squeeze(x, 0)
    with pytest.raises(TypeError, match="expand_dims"):
        lax.expand_dims(x, (5,))


# --- concatenate ------------------------------------------------------------------------------


@given(shapes, st.data(), st.sampled_from(FLOATS))
def test_concatenate(shape, data, dtype):
    dim = data.draw(st.integers(0, len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=2, max_size=3))
    rng = np.random.RandomState(1)
    xs = [_rand(rng, shape[:dim] + (n,) + shape[dim + 1:], dtype) for n in sizes]
    out = lax.concatenate(xs, dim)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.concatenate(xs, axis=dim))
    xs = [x.astype(np.float64) for x in xs]
    f = lambda *xs: lax.concatenate(xs, dim)  # noqa: E731
    ft.check_grads(f, xs, order=2)
    # only one operand linear: the others' cotangents are never built
    g = ft.grad(lambda a: lax.reduce_sum(lax.sin(lax.concatenate([xs[0], a], dim)),
                                         tuple(range(len(shape)))))(xs[1])
    np.testing.assert_allclose(g, np.cos(xs[1]))
    ft.check_jaxpr(ft.make_jaxpr(f)(*xs))
    n = len(xs)
    for axes in [(0,) * n, (1,) * n, (-1,) * n, (None,) + (1,) * (n - 1),
                 (-1,) + (None,) * (n - 1)]:
        args = [_batched(rng, x.shape, ax) for x, ax in zip(xs, axes)]
        assert_vmap_matches_loop(f, args, axes)


def test_concatenate_errors():
    with pytest.raises(TypeError, match=r"agree except along dimension 0, got \(2, 3\), "
                                        r"\(2, 4\)"):
        lax.concatenate([np.ones((2, 3)), np.ones((2, 4))], 0)
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.concatenate([np.ones(2), np.ones(2, np.float32)], 0)
    with pytest.raises(TypeError, match="dimension 1 is not an axis"):
        lax.concatenate([np.ones(2), np.ones(2)], 1)
    x = np.ones(3)
    assert lax.concatenate([x], 0) is x


# --- pad --------------------------------------------------------------------------------------


def _pad_reference(x, value, config):
    """Place each entry where the padding puts it, one at a time (independent of the impl)."""
    out_shape = tuple(lo + hi + n + max(n - 1, 0) * i for n, (lo, hi, i) in zip(x.shape, config))
    out = np.full(out_shape, value, x.dtype)
    for idx in np.ndindex(*x.shape):
        pos = tuple(lo + k * (i + 1) for k, (lo, _, i) in zip(idx, config))
        if all(0 <= p < n for p, n in zip(pos, out_shape)):
            out[pos] = x[idx]
    return out


@st.composite
def pad_problems(draw):
    shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple))
    config = []
    for n in shape:
        interior = draw(st.integers(0, 2))
        full = n + max(n - 1, 0) * interior
        lo = draw(st.integers(-full, 2))
        hi = draw(st.integers(-(full + lo) if full + lo > 0 else 0, 2))
        config.append((lo, hi, interior))
    return shape, tuple(config)


@given(pad_problems(), st.sampled_from(FLOATS))
def test_pad(problem, dtype):
    shape, config = problem
    rng = np.random.RandomState(2)
    x = _rand(rng, shape, dtype)
    out = lax.pad(x, dtype(-7.0), config)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, _pad_reference(x, dtype(-7.0), config))
    x = x.astype(np.float64)
    f = lambda x, v: lax.pad(x, v, config)  # noqa: E731
    ft.check_grads(f, (x, np.float64(0.5)), order=2)
    ft.check_jaxpr(ft.make_jaxpr(f)(x, np.float64(0.5)))
    # the padding value's cotangent counts the padded positions
    n_pad = np.sum(_pad_reference(np.zeros(shape), 1.0, config))
    g = ft.grad(lambda v: lax.reduce_sum(f(x, v), tuple(range(len(shape)))))(np.float64(0.5))
    np.testing.assert_allclose(g, n_pad)
    v = np.array([0.5, -1.0, 2.0])
    for axes in [(0, None), (None, 0), (-1, 0), (len(shape), -1)]:
        xb = _batched(rng, shape, axes[0])
        assert_vmap_matches_loop(f, (xb, v if axes[1] is not None else np.float64(3.0)), axes)


def test_pad_errors_and_no_op():
    x = np.ones((2, 3))
    assert lax.pad(x, 0.0, ((0, 0, 0), (0, 0, 0))) is x
    with pytest.raises(TypeError, match=r"one \(lo, hi, interior\) triple per axis.*\(2, 3\)"):
        lax.pad(x, 0.0, ((0, 0, 0),))
    with pytest.raises(TypeError, match="negative size"):
        lax.pad(x, 0.0, ((-3, 0, 0), (0, 0, 0)))
    with pytest.raises(TypeError, match="interior padding must be >= 0"):
        lax.pad(x, 0.0, ((0, 0, -1), (0, 0, 0)))
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.pad(x, np.float32(0), ((1, 0, 0), (0, 0, 0)))


# --- rev --------------------------------------------------------------------------------------


@given(shapes, st.data(), st.sampled_from(FLOATS))
def test_rev(shape, data, dtype):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1))
    x = _rand(np.random.RandomState(3), shape, dtype)
    np.testing.assert_array_equal(lax.rev(x, dims), np.flip(x, tuple(dims)))
    check_unary_op(lambda x: lax.rev(x, dims), x.astype(np.float64))


def test_rev_errors():
    with pytest.raises(TypeError, match=r"rev: dimensions \(2,\) are not distinct axes of an "
                                        r"array of shape \(2, 3\)"):
        lax.rev(np.ones((2, 3)), (2,))


# --- roll -------------------------------------------------------------------------------------


@given(shapes, st.data(), st.sampled_from(FLOATS))
def test_roll(shape, data, dtype):
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=3))
    shifts = data.draw(st.lists(st.integers(-7, 7), min_size=len(axes), max_size=len(axes)))
    x = _rand(np.random.RandomState(4), shape, dtype)
    np.testing.assert_array_equal(lax.roll(x, shifts, axes), np.roll(x, shifts, axes))
    check_unary_op(lambda x: lax.roll(x, shifts, axes), x.astype(np.float64))


def test_roll_errors():
    with pytest.raises(ValueError, match=r"roll axis 2 is out of bounds for an array of shape "
                                         r"\(2, 3\)"):
        lax.roll(np.ones((2, 3)), (1,), (2,))
    with pytest.raises(ValueError, match=r"roll needs one shift per distinct axis, got "
                                         r"shifts=\(1, 2\), axes=\(0,\)"):
        roll_p.bind(np.ones((2, 3)), shifts=(1, 2), axes=(0,))


# --- slice ------------------------------------------------------------------------------------


@st.composite
def slice_problems(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    starts, limits, strides = [], [], []
    for n in shape:
        s = draw(st.integers(0, n))
        starts.append(s)
        limits.append(draw(st.integers(s, n)))
        strides.append(draw(st.integers(1, 3)))
    return shape, tuple(starts), tuple(limits), tuple(strides)


@given(slice_problems(), st.sampled_from(FLOATS))
def test_slice(problem, dtype):
    shape, starts, limits, strides = problem
    x = _rand(np.random.RandomState(4), shape, dtype)
    expected = x[tuple(slice(*t) for t in zip(starts, limits, strides))]
    out = lax.slice(x, starts, limits, strides)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(lax.slice(x, starts, limits),
                                  x[tuple(slice(*t) for t in zip(starts, limits))])
    check_unary_op(lambda x: lax.slice(x, starts, limits, strides), x.astype(np.float64))


def test_slice_helpers_errors_and_no_op():
    x = np.arange(12.0).reshape(3, 4)
    assert lax.slice(x, (0, 0), (3, 4)) is x
    np.testing.assert_array_equal(lax.slice_in_dim(x, 1, -1, axis=1), x[:, 1:-1])
    np.testing.assert_array_equal(lax.slice_in_dim(x, None, None, 2, 0), x[::2])
    np.testing.assert_array_equal(lax.index_in_dim(x, -1, 1, keepdims=False), x[:, -1])
    np.testing.assert_array_equal(lax.index_in_dim(x, 1), x[1:2])
    with pytest.raises(TypeError, match=r"do not describe a slice of an array of shape "
                                        r"\(3, 4\)"):
        lax.slice(x, (0, 2), (3, 5))
    with pytest.raises(TypeError, match="one entry per axis"):
        lax.slice(x, (0,), (3,))


# --- dynamic_slice and dynamic_update_slice ---------------------------------------------------


def _clamp(starts, shape, sizes):
    # JAX: a negative start counts from the end of its axis, then the window is clamped inside
    return [min(max(int(s) + (n if s < 0 else 0), 0), n - m)
            for s, n, m in zip(starts, shape, sizes)]


@st.composite
def window_problems(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    sizes = tuple(draw(st.integers(0, n)) for n in shape)
    starts = tuple(draw(st.integers(-3, n + 2)) for n in shape)
    return shape, sizes, starts


@given(window_problems(), st.sampled_from(FLOATS), st.sampled_from([np.int32, np.int64]))
def test_dynamic_slice(problem, dtype, idx_dtype):
    shape, sizes, starts = problem
    rng = np.random.RandomState(5)
    x = _rand(rng, shape, dtype)
    starts = [idx_dtype(s) for s in starts]
    clamped = _clamp(starts, shape, sizes)
    expected = x[tuple(slice(s, s + m) for s, m in zip(clamped, sizes))]
    out = lax.dynamic_slice(x, starts, sizes)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    x = x.astype(np.float64)
    f = lambda x, *s: lax.dynamic_slice(x, s, sizes)  # noqa: E731
    ft.check_grads(lambda x: f(x, *starts), (x,), order=2)
    ft.check_jaxpr(ft.make_jaxpr(f)(x, *starts))
    ft.check_jaxpr(ft.make_jaxpr(ft.grad(lambda x, *s: lax.reduce_sum(
        f(x, *s), tuple(range(len(shape))))))(x, *starts))
    # batched operand and/or batched (per-example, out-of-range) starts
    bstarts = [np.array([s, s - 2, s + 3], idx_dtype) for s in starts]
    for x_ax, s_ax in [(0, None), (1, 0), (None, 0), (-1, -1), (None, None)]:
        if x_ax is None and s_ax is None:
            continue
        if x_ax == 1 and len(shape) < 1:
            continue
        xb = _batched(rng, shape, x_ax)
        args = [xb] + (bstarts if s_ax is not None else starts)
        assert_vmap_matches_loop(f, args, (x_ax,) + (s_ax,) * len(starts))
        # the transpose (a dynamic_update_slice) under vmap, and grad through it
        g = ft.grad(lambda x, *s: lax.reduce_sum(lax.sin(f(x, *s)), tuple(range(len(shape)))))
        assert_vmap_matches_loop(g, args, (x_ax,) + (s_ax,) * len(starts))


@given(window_problems(), st.sampled_from(FLOATS))
def test_dynamic_update_slice(problem, dtype):
    shape, sizes, starts = problem
    rng = np.random.RandomState(6)
    x, u = _rand(rng, shape, dtype), _rand(rng, sizes, dtype)
    starts = [np.int64(s) for s in starts]
    clamped = _clamp(starts, shape, sizes)
    expected = x.copy()
    expected[tuple(slice(s, s + m) for s, m in zip(clamped, sizes))] = u
    out = lax.dynamic_update_slice(x, u, starts)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    x, u = x.astype(np.float64), u.astype(np.float64)
    f = lambda x, u, *s: lax.dynamic_update_slice(x, u, s)  # noqa: E731
    ft.check_grads(lambda x, u: f(x, u, *starts), (x, u), order=2)
    ft.check_jaxpr(ft.make_jaxpr(f)(x, u, *starts))
    bstarts = [np.array([s, s + 4, s - 1]) for s in starts]
    for x_ax, u_ax, s_ax in [(0, 0, None), (None, 0, None), (1, None, 0), (None, None, 0),
                             (-1, 0, -1), (0, -1, 0)]:
        xb, ub = _batched(rng, shape, x_ax), _batched(rng, sizes, u_ax)
        args = [xb, ub] + (bstarts if s_ax is not None else starts)
        axes = (x_ax, u_ax) + (s_ax,) * len(starts)
        assert_vmap_matches_loop(f, args, axes)
        g = ft.grad(lambda x, u, *s: lax.reduce_sum(lax.sin(f(x, u, *s)),
                                                    tuple(range(len(shape)))), argnums=(0, 1))
        out = ft.vmap(g, in_axes=axes)(*args)
        for i in range(3):
            gi = g(*[_take(a, i, ax) for a, ax in zip(args, axes)])
            np.testing.assert_allclose(_take(out[0], i, 0), gi[0], rtol=1e-12)
            np.testing.assert_allclose(_take(out[1], i, 0), gi[1], rtol=1e-12)
        # and forward mode through the per-example (scatter-based) version
        batched_f = ft.vmap(f, in_axes=axes)
        ft.check_grads(lambda x, u, bf=batched_f, s=args[2:]: bf(x, u, *s), (xb, ub), order=1)


def test_dynamic_slice_errors():
    x = np.ones((3, 4))
    with pytest.raises(TypeError, match=r"got 1 start indices for an operand of shape \(3, 4\)"):
        lax.dynamic_slice(x, (0,), (1,))
    with pytest.raises(TypeError, match=r"slice_sizes \(4, 1\).*shape \(3, 4\)"):
        lax.dynamic_slice(x, (0, 0), (4, 1))
    with pytest.raises(TypeError, match="integer scalars"):
        lax.dynamic_slice(x, (0.5, 0), (1, 1))
    with pytest.raises(TypeError, match=r"update of shape \(4, 1\) does not fit in the operand "
                                        r"of shape \(3, 4\)"):
        lax.dynamic_update_slice(x, np.ones((4, 1)), (0, 0))
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.dynamic_update_slice(x, np.ones((1, 1), np.float32), (0, 0))


def test_dynamic_in_dim_helpers_and_no_op():
    x = np.arange(12.0).reshape(3, 4)
    assert lax.dynamic_slice(x, (np.int64(2), np.int64(-1)), (3, 4)) is x
    with pytest.raises(TypeError, match="integer scalars"):
        lax.dynamic_slice(x, (0.5, 0), (3, 4))
    np.testing.assert_array_equal(lax.dynamic_slice_in_dim(x, np.int32(3), 2, axis=1),
                                  x[:, 2:4])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 1, axis=0, keepdims=False), x[1])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, -5, axis=-1), x[:, :1])
    expected = x.copy()
    expected[:, 1:3] = -1.0
    np.testing.assert_array_equal(
        lax.dynamic_update_slice_in_dim(x, -np.ones((3, 2)), np.int64(1), axis=1), expected)
    expected = x.copy()
    expected[2] = 7.0
    np.testing.assert_array_equal(lax.dynamic_update_index_in_dim(x, np.full(4, 7.0), 5, 0),
                                  expected)
    # a traced index, differentiated
    g = ft.grad(lambda x, i: lax.reduce_sum(lax.dynamic_index_in_dim(x, i, 1, False), (0,)))(
        x, np.int64(2))
    np.testing.assert_array_equal(g, np.eye(4)[[2, 2, 2]])
