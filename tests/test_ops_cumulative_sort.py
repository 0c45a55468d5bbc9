"""Cumulative primitives (cumsum, cumprod, cummax, cummin) and sorting (sort, sort_key_val,
argsort): NumPy reference, tracing, derivatives (JAX's choices at ties and zeros) and vmap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax

FLOATS = [np.float32, np.float64]


@st.composite
def array_and_axis(draw, min_ndim=1, max_ndim=3):
    """A small random float32/float64 array, an axis spelled either way and its normal form."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(FLOATS))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    axis = draw(st.integers(0, ndim - 1))
    spelled = axis - ndim if draw(st.booleans()) else axis
    return x, spelled, axis


def distinct_values(shape, seed=0):
    """Entries at least 0.1 apart, so max/min/sort stay differentiable under finite steps."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.37).reshape(shape) + 0.01


def _np_cumulative(accumulate, x, axis, reverse):
    if reverse:
        return np.flip(accumulate(np.flip(x, axis), axis), axis)
    return accumulate(x, axis)


CUMULATIVE = {
    "cumsum": (lax.cumsum, lambda x, a: np.cumsum(x, axis=a, dtype=x.dtype)),
    "cumprod": (lax.cumprod, lambda x, a: np.cumprod(x, axis=a, dtype=x.dtype)),
    "cummax": (lax.cummax, lambda x, a: np.maximum.accumulate(x, axis=a)),
    "cummin": (lax.cummin, lambda x, a: np.minimum.accumulate(x, axis=a)),
}


# ---------------------------------------------------------------------------------------------
# Cumulative: NumPy reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CUMULATIVE)
@given(case=array_and_axis(), reverse=st.booleans())
def test_cumulative_matches_numpy(name, case, reverse):
    x, spelled, axis = case
    ours, ref = CUMULATIVE[name]
    out = ours(x, spelled, reverse=reverse)
    expected = _np_cumulative(ref, x, axis, reverse)
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if x.dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_propagate_nan(name):
    ours, ref = CUMULATIVE[name]
    x = np.array([[1.0, np.nan, 3.0, 0.0], [2.0, 1.0, -1.0, np.nan]])
    np.testing.assert_array_equal(ours(x, 1), ref(x, 1))
    np.testing.assert_array_equal(ours(x, 1, reverse=True), _np_cumulative(ref, x, 1, True))
    assert np.isnan(ours(x, 1)[0, 1:]).all()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integer_cumsum_cumprod_keep_the_dtype(dtype):
    # NumPy promotes small integers (np.cumsum of int32 is int64 here); the primitive keeps
    # the operand's dtype and the numpy layer promotes before binding.
    x = np.array([[1, 2, 3], [4, 0, 2]]).astype(dtype)
    for name in ("cumsum", "cumprod", "cummax", "cummin"):
        ours, ref = CUMULATIVE[name]
        out = ours(x, 1)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, ref(x, 1))
    assert np.cumsum(np.ones(2, np.int32)).dtype == np.int64


def test_cumulative_wrapper_is_a_no_op_on_length_one_axes():
    x = np.ones((3, 1))
    for ours, _ in CUMULATIVE.values():
        assert ours(x, 1) is x
        assert ours(x, -1, reverse=True) is x
    np.testing.assert_array_equal(lax.cumsum(np.ones((2, 2))), [[1, 1], [2, 2]])  # axis=0


# ---------------------------------------------------------------------------------------------
# Cumulative: tracing and derivatives
# ---------------------------------------------------------------------------------------------


@given(case=array_and_axis(), reverse=st.booleans())
def test_cumulative_traced_programs_type_check(case, reverse):
    x, spelled, _ = case

    def f(x):
        return [ours(x, spelled, reverse) for ours, _ in CUMULATIVE.values()]

    closed = ft.make_jaxpr(f)(x)
    ft.check_jaxpr(closed)
    if x.shape[spelled] > 1:
        assert {e.primitive.name for e in closed.eqns} == set(CUMULATIVE)
    for got, want in zip(closed(x), f(x)):
        np.testing.assert_array_equal(got, want)
    for ours, _ in CUMULATIVE.values():
        g = ft.make_jaxpr(ft.grad(lambda x, ours=ours: _total(ours(x, spelled, reverse))))(x)
        ft.check_jaxpr(g)


def _total(y):
    return lax.reduce_sum(y, tuple(range(np.ndim(y))))


@pytest.mark.parametrize("name", CUMULATIVE)
@pytest.mark.parametrize("shape,axis", [((6,), 0), ((7,), -1), ((3, 5), 1), ((4, 3), 0),
                                        ((2, 3, 4), 1)])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_check_grads(name, shape, axis, reverse):
    ours = CUMULATIVE[name][0]
    x = distinct_values(shape, seed=sum(shape))
    if name == "cumprod":
        x = x / np.max(np.abs(x)) + np.sign(x) * 0.6  # magnitudes near one
    ft.check_grads(lambda x: ours(x, axis, reverse), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("zeros", [[1], [0, 3], [2, 3], [0, 1, 2, 3, 4]])
def test_cumprod_derivatives_exact_with_zeros(reverse, zeros):
    # a cumulative product is a polynomial, so finite differences remain valid at zeros
    x = np.array([1.3, -0.8, 1.7, 0.9, -1.1])
    x[zeros] = 0.0
    ft.check_grads(lambda x: lax.cumprod(x, 0, reverse), (x,), order=2, modes=("fwd", "rev"))
    x2 = np.stack([x, x[::-1]])
    ft.check_grads(lambda x: lax.cumprod(x, 1, reverse), (x2,), order=2, modes=("fwd", "rev"))


def test_cumprod_jacobian_closed_form_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    expected = np.zeros((5, 5))
    expected[0, 0], expected[1, 1], expected[2, 1] = 1.0, 2.0, 6.0
    np.testing.assert_allclose(ft.jacfwd(lambda x: lax.cumprod(x, 0))(x), expected)
    np.testing.assert_allclose(ft.jacrev(lambda x: lax.cumprod(x, 0))(x), expected)


# Jacobians JAX 0.10 gives for cummax at ties (its associative-scan derivative).
JAX_CUMMAX_JACOBIANS = [
    ([1.0, 3.0, 3.0], False, [[1, 0, 0], [0, 1, 0], [0, 0.5, 0.5]]),
    ([1.0, 3.0, 3.0], True, [[0, 0.5, 0.5], [0, 0.5, 0.5], [0, 0, 1]]),
    ([3.0, 3.0, 3.0, 3.0], False,
     [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.25, 0.25, 0.5, 0], [0.25, 0.25, 0.25, 0.25]]),
    ([3.0, 3.0, 3.0, 3.0, 3.0], True,
     [[0.5, 0.125, 0.125, 0.125, 0.125], [0, 0.25, 0.25, 0.25, 0.25], [0, 0, 0.5, 0.25, 0.25],
      [0, 0, 0, 0.5, 0.5], [0, 0, 0, 0, 1]]),
    ([1.0, 2.0, 2.0, 1.0, 2.0, 0.0, 2.0], False,
     [[1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0, 0],
      [0, 0.5, 0.5, 0, 0, 0, 0], [0, 0.25, 0.25, 0, 0.5, 0, 0], [0, 0.25, 0.25, 0, 0.5, 0, 0],
      [0, 0.125, 0.125, 0, 0.25, 0, 0.5]]),
]


@pytest.mark.parametrize("x,reverse,expected", JAX_CUMMAX_JACOBIANS)
def test_cummax_cummin_ties_split_as_jax(x, reverse, expected):
    x = np.array(x)
    for jac in (ft.jacfwd, ft.jacrev):
        np.testing.assert_allclose(jac(lambda x: lax.cummax(x, 0, reverse))(x), expected)
        np.testing.assert_allclose(jac(lambda x: lax.cummin(x, 0, reverse))(-x), expected)
    # along the second axis of a 2-D array the same weights appear
    x2 = np.stack([x, x])
    g = ft.grad(lambda x: _total(lax.mul(lax.cummax(x, 1, reverse), np.ones_like(x2))))(x2)
    np.testing.assert_allclose(g[0], np.sum(expected, axis=0))


def test_cumsum_transpose_is_the_reversed_cumsum():
    ct = np.array([1.0, 2.0, 3.0, 4.0])
    _, vjp = ft.vjp(lambda x: lax.cumsum(x, 0), np.zeros(4))
    np.testing.assert_allclose(vjp(ct)[0], np.cumsum(ct[::-1])[::-1])
    _, vjp = ft.vjp(lambda x: lax.cumsum(x, 0, reverse=True), np.zeros(4))
    np.testing.assert_allclose(vjp(ct)[0], np.cumsum(ct))
    closed = ft.make_jaxpr(lambda c: vjp(c))(ct)
    assert [e.params["reverse"] for e in closed.eqns if e.primitive.name == "cumsum"] == [False]


def test_cumulative_gradient_keeps_float32():
    x = np.array([1.0, 2.0, 0.5], np.float32)
    for ours, _ in CUMULATIVE.values():
        assert ft.grad(lambda x, ours=ours: _total(ours(x, 0)))(x).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Cumulative: batching and errors
# ---------------------------------------------------------------------------------------------


def _stack_loop(f, xs, in_axis):
    return np.stack([f(np.take(xs, i, axis=in_axis)) for i in range(xs.shape[in_axis])])


@pytest.mark.parametrize("name", CUMULATIVE)
@pytest.mark.parametrize("in_axis", [0, 1, -1])
@pytest.mark.parametrize("axis,reverse", [(0, False), (-1, True), (1, False)])
def test_cumulative_vmap_matches_a_loop(name, in_axis, axis, reverse):
    ours = CUMULATIVE[name][0]
    xs = np.moveaxis(np.random.default_rng(5).standard_normal((3, 4, 2, 5)), 0, in_axis)

    def f(x):
        return ours(x, axis, reverse)

    np.testing.assert_allclose(ft.vmap(f, in_axes=in_axis)(xs), _stack_loop(f, xs, in_axis),
                               rtol=1e-12)
    df = ft.grad(lambda x: _total(lax.mul(f(x), f(x))))
    np.testing.assert_allclose(ft.vmap(df, in_axes=in_axis)(xs), _stack_loop(df, xs, in_axis),
                               rtol=1e-10)


@pytest.mark.parametrize("name", CUMULATIVE)
def test_cumulative_vmap_with_unbatched_operand(name):
    ours = CUMULATIVE[name][0]
    x = np.random.default_rng(6).standard_normal((3, 4))

    def g(x, s):
        return lax.add(ours(x, 1), lax.full_like(x, s))

    out = ft.vmap(g, in_axes=(None, 0))(x, np.arange(3.0))
    np.testing.assert_allclose(out, np.stack([g(x, s) for s in np.arange(3.0)]))


@pytest.mark.parametrize("name", CUMULATIVE)
def test_cumulative_bad_axis_raises(name):
    ours = CUMULATIVE[name][0]
    with pytest.raises(TypeError, match=rf"{name}: axis 2 is not an axis of an array of "
                                        r"shape \(2, 3\)"):
        ours(np.ones((2, 3)), 2)
    with pytest.raises(TypeError, match=rf"{name}: axis -3 is not an axis"):
        ours(np.ones((2, 3)), -3)
    with pytest.raises(TypeError, match="is not an axis of an array of shape \\(\\)"):
        ours(np.float64(1.0), 0)


def test_cumsum_of_bool_raises():
    with pytest.raises(TypeError, match="cumsum needs a numeric \\(not bool\\) operand"):
        lax.cumsum(np.ones(3, bool))
    np.testing.assert_array_equal(lax.cummax(np.array([False, True, False])), [0, 1, 1])


# ---------------------------------------------------------------------------------------------
# Sorting: NumPy reference
# ---------------------------------------------------------------------------------------------


def _with_nans_and_ties(x, draw_nan, draw_ties):
    x = np.round(x * 2) / 2 if draw_ties else x.copy()
    if draw_nan:
        x.flat[::4] = np.nan
    return x


@given(case=array_and_axis(), nan=st.booleans(), ties=st.booleans())
def test_sort_matches_numpy(case, nan, ties):
    x, spelled, axis = case
    x = _with_nans_and_ties(x, nan, ties)
    out = lax.sort(x, spelled)
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, np.sort(x, axis=axis))
    idx = lax.argsort(x, spelled)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, np.argsort(x, axis=axis, kind="stable"))
    assert lax.argsort(x, spelled, index_dtype=np.int32).dtype == np.int32


@given(case=array_and_axis(), ties=st.booleans())
def test_sort_key_val_and_multiple_operands_match_numpy(case, ties):
    x, spelled, axis = case
    keys = _with_nans_and_ties(x, False, ties)
    vals = np.arange(x.size).reshape(x.shape).astype(np.float32)
    perm = np.argsort(keys, axis=axis, kind="stable")
    k, v = lax.sort_key_val(keys, vals, spelled)
    np.testing.assert_array_equal(k, np.take_along_axis(keys, perm, axis))
    np.testing.assert_array_equal(v, np.take_along_axis(vals, perm, axis))
    assert v.dtype == np.float32
    # two keys: lexicographic, the first key primary
    k2 = np.round(np.cos(vals))
    out = lax.sort((keys > 0, k2, vals), dimension=spelled, num_keys=2)
    assert isinstance(out, tuple) and len(out) == 3
    perm2 = np.lexsort((k2, keys > 0), axis=axis)
    for got, ref in zip(out, (keys > 0, k2, vals)):
        np.testing.assert_array_equal(got, np.take_along_axis(ref, perm2, axis))


def test_sort_details():
    x = np.array([0.0, -0.0, np.nan, -np.inf, 1.0, -0.0])
    vals = np.arange(6)
    k, v = lax.sort_key_val(x, vals)
    np.testing.assert_array_equal(k, np.sort(x))
    np.testing.assert_array_equal(v, [3, 0, 1, 5, 4, 2])  # -0.0 == 0.0 keeps order; NaN last
    assert lax.sort(np.array([3, 1, 2], np.int32)).dtype == np.int32
    np.testing.assert_array_equal(lax.sort(np.array([True, False, True])), [False, True, True])
    np.testing.assert_array_equal(lax.sort(x, is_stable=False), np.sort(x))
    np.testing.assert_array_equal(lax.sort([x], num_keys=1)[0], np.sort(x))
    y = np.ones((3, 1))
    assert lax.sort(y) is y  # nothing to sort along a length-one axis


# ---------------------------------------------------------------------------------------------
# Sorting: tracing, derivatives, batching, errors
# ---------------------------------------------------------------------------------------------


@given(case=array_and_axis())
def test_sort_traced_programs_type_check(case):
    x, spelled, _ = case

    def f(x):
        return [lax.sort(x, spelled), lax.argsort(x, spelled),
                *lax.sort_key_val(x, lax.neg(x), spelled)]

    closed = ft.make_jaxpr(f)(x)
    ft.check_jaxpr(closed)
    for got, want in zip(closed(x), f(x)):
        np.testing.assert_array_equal(got, want)
    g = ft.make_jaxpr(ft.grad(lambda x: _total(lax.mul(lax.sort(x, spelled), x))))(x)
    ft.check_jaxpr(g)


@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2)])
def test_sort_check_grads(shape, dim):
    x = distinct_values(shape, seed=1)
    w = np.random.default_rng(2).standard_normal(shape)
    ft.check_grads(lambda x: lax.sort(x, dim), (x,), order=2, modes=("fwd", "rev"))
    ft.check_grads(lambda x: lax.mul(lax.sort(x, dim), x), (x,), order=2,
                   modes=("fwd", "rev"))
    # keys and values both differentiated; the values are moved by the keys' permutation
    ft.check_grads(lambda k, v: lax.sort_key_val(k, v, dim), (x, w), order=2,
                   modes=("fwd", "rev"))


def test_sort_gradient_closed_form():
    x = np.array([[3.0, 4.0, 1.0, 2.0], [0.0, -1.0, 5.0, 2.5]])
    w = np.arange(8.0).reshape(2, 4)
    g = ft.grad(lambda x: _total(lax.mul(lax.sort(x, 1), w)))(x)
    # entry i of x lands at position rank(i) of the sorted row, so it gets w[rank(i)]
    np.testing.assert_allclose(g, np.take_along_axis(w, np.argsort(np.argsort(x, 1), 1), 1))
    # ties: each tied entry follows its own stable position
    g = ft.grad(lambda x: _total(lax.mul(lax.sort(x, 0), np.array([1.0, 2.0, 3.0]))))(
        np.array([2.0, 2.0, 1.0]))
    np.testing.assert_allclose(g, [2.0, 3.0, 1.0])
    # integer and argsort outputs carry no derivative
    _, t = ft.jvp(lambda x: lax.argsort(x), (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(t, 0)


def test_sort_gradient_of_non_key_operand_with_multiple_keys():
    k1 = np.array([1.0, 0.0, 1.0, 0.0])
    k2 = np.array([0.5, 0.7, 0.1, 0.2])
    v = np.array([10.0, 20.0, 30.0, 40.0])
    out = lax.sort((k1, k2, v), num_keys=2)
    np.testing.assert_array_equal(out[2], [40.0, 20.0, 30.0, 10.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    g = ft.grad(lambda v: _total(lax.mul(lax.sort((k1, k2, v), num_keys=2)[2], w)))(v)
    np.testing.assert_allclose(g, [4.0, 2.0, 3.0, 1.0])


@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_sort_vmap_matches_a_loop(in_axis):
    xs = np.moveaxis(np.round(np.random.default_rng(8).standard_normal((3, 4, 5)), 1), 0,
                     in_axis)
    fs = [lambda x: lax.sort(x, 0), lambda x: lax.sort(x, -1), lambda x: lax.argsort(x, 1),
          lambda x: lax.sort_key_val(x, lax.neg(x), 0)[1],
          lambda x: lax.sort((x, lax.mul(x, x)), 1, num_keys=2)[1],
          ft.grad(lambda x: _total(lax.mul(lax.sort(x, 1), lax.exp(x))))]
    for f in fs:
        np.testing.assert_allclose(ft.vmap(f, in_axes=in_axis)(xs), _stack_loop(f, xs, in_axis))


def test_sort_vmap_with_some_operands_unbatched():
    keys = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.2]])
    vals_batch = np.random.default_rng(9).standard_normal((4, 2, 3))

    def f(k, v):
        return lax.sort_key_val(k, v, 1)[1]

    np.testing.assert_allclose(ft.vmap(f, in_axes=(None, 0))(keys, vals_batch),
                               np.stack([f(keys, v) for v in vals_batch]))
    keys_batch = np.random.default_rng(10).standard_normal((4, 2, 3))
    vals = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ft.vmap(f, in_axes=(0, None))(keys_batch, vals),
                               np.stack([f(k, vals) for k in keys_batch]))
    np.testing.assert_allclose(ft.vmap(f, in_axes=(2, 0))(np.moveaxis(keys_batch, 0, 2),
                                                          vals_batch),
                               np.stack([f(k, v) for k, v in zip(keys_batch, vals_batch)]))


def test_sort_errors():
    with pytest.raises(TypeError, match=r"sort needs operands of equal shapes, got \(3,\), "
                                        r"\(4,\)"):
        lax.sort_key_val(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match=r"num_keys=3 must be between 1 and the number of "
                                        r"operands \(2\)"):
        lax.sort((np.ones(3), np.ones(3)), num_keys=3)
    with pytest.raises(TypeError, match="sort of a single array needs num_keys=1"):
        lax.sort(np.ones(3), num_keys=2)
    with pytest.raises(TypeError, match=r"sort: dimension 2 is not an axis of an array of "
                                        r"shape \(2, 3\)"):
        lax.sort(np.ones((2, 3)), 2)
    with pytest.raises(TypeError, match=r"dimension -1 is not an axis of an array of shape "
                                        r"\(\)"):
        lax.sort(np.float64(1.0))
    with pytest.raises(TypeError, match="sort needs at least one operand"):
        lax.sort(())
    with pytest.raises(TypeError, match=r"argsort: axis 3 is not an axis"):
        lax.argsort(np.ones((2, 3)), 3)
