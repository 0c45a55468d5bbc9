"""Reduction primitives: reduce_{max,min,prod,and,or}, argmax/argmin (and reduce_sum's batching).

Each is checked against NumPy (values, shapes, dtypes, NaN handling), type-checked after
tracing, differentiated (check_grads to order 2 in both modes, closed forms at ties and zeros)
and vectorised (vmap against a Python loop).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax

FLOATS = [np.float32, np.float64]


@st.composite
def array_and_axes(draw, min_ndim=1, max_ndim=3):
    """A random array (float32 or float64, small shape) and reduction axes in any accepted
    spelling (int, tuple, negative), with the normalised tuple NumPy would use."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(FLOATS))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    axes = tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))
    spelled = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    if len(spelled) == 1 and draw(st.booleans()):
        spelled = spelled[0]
    return x, spelled, axes


def distinct_values(shape, seed=0, scale=1.0):
    """Entries at least 0.1 * scale apart, so max/min/sort are differentiable with margin."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.37 * scale).reshape(shape) + 0.01


REDUCERS = {
    "reduce_max": (lax.reduce_max, np.max),
    "reduce_min": (lax.reduce_min, np.min),
    "reduce_prod": (lax.reduce_prod, np.prod),
}


# ---------------------------------------------------------------------------------------------
# The NumPy reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REDUCERS)
@given(case=array_and_axes())
def test_reducers_match_numpy(name, case):
    x, spelled, axes = case
    ours, ref = REDUCERS[name]
    out = ours(x, spelled)
    expected = ref(x, axis=axes)
    assert out.dtype == x.dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6 if x.dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", ["reduce_max", "reduce_min"])
@given(case=array_and_axes())
def test_max_min_propagate_nan_like_numpy(name, case):
    x, spelled, axes = case
    x = x.copy()
    x.flat[len(x.flat) // 2] = np.nan
    ours, ref = REDUCERS[name]
    np.testing.assert_array_equal(ours(x, spelled), ref(x, axis=axes))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_max_min_keep_integer_and_bool_dtypes(dtype):
    x = np.array([[3, 0, 2], [1, 1, 0]]).astype(dtype)
    for ours, ref in (REDUCERS["reduce_max"], REDUCERS["reduce_min"]):
        out = ours(x, 1)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, ref(x, axis=1))


def test_prod_of_int32_stays_int32_at_this_level():
    x = np.array([[3, 2], [4, -1]], np.int32)
    out = lax.reduce_prod(x, 0)
    assert out.dtype == np.int32  # NumPy would give int64: the numpy layer promotes first
    np.testing.assert_array_equal(out, [12, -2])


def test_empty_max_gives_the_identity_like_lax():
    out = lax.reduce_max(np.zeros((2, 0), np.float32), 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [-np.inf, -np.inf])
    np.testing.assert_array_equal(lax.reduce_min(np.zeros((0, 2), np.int32), 0),
                                  [np.iinfo(np.int32).max] * 2)


@given(case=array_and_axes())
def test_and_or_match_numpy_all_any(case):
    x, spelled, axes = case
    b = x > 0.3
    for ours, ref in ((lax.reduce_and, np.all), (lax.reduce_or, np.any)):
        out = ours(b, spelled)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out, ref(b, axis=axes))


def test_and_or_on_integers_are_bitwise():
    x = np.array([[6, 3], [5, 12]], np.int32)
    np.testing.assert_array_equal(lax.reduce_and(x, 1), [2, 4])
    np.testing.assert_array_equal(lax.reduce_or(x, 0), [7, 15])


@pytest.mark.parametrize("ours,ref", [(lax.argmax, np.argmax), (lax.argmin, np.argmin)])
@given(case=array_and_axes(), with_nan=st.booleans(), with_ties=st.booleans())
def test_argmax_argmin_match_numpy(ours, ref, case, with_nan, with_ties):
    x, _, axes = case
    x = np.round(x) if with_ties else x.copy()
    if with_nan:
        x.flat[::3] = np.nan  # NumPy (and JAX) answer the first NaN
    axis = axes[0]
    for spelled in (axis, axis - x.ndim):
        out = ours(x, spelled, np.int32)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref(x, axis=axis))
    assert ours(x, axis).dtype == np.int64  # the default, as NumPy's intp


def test_wrappers_are_no_ops_without_axes():
    x = np.ones((2, 3))
    for f in (lax.reduce_max, lax.reduce_min, lax.reduce_prod):
        assert f(x, ()) is x
    closed = ft.make_jaxpr(lambda x: lax.reduce_max(x, []))(x)
    assert not closed.eqns


# ---------------------------------------------------------------------------------------------
# Tracing
# ---------------------------------------------------------------------------------------------


@given(case=array_and_axes())
def test_traced_programs_type_check(case):
    x, spelled, axes = case

    def f(x):
        outs = [lax.reduce_max(x, spelled), lax.reduce_min(x, spelled),
                lax.reduce_prod(x, spelled), lax.reduce_sum(x, axes),
                lax.argmax(x, axes[0], np.int32), lax.argmin(x, axes[-1])]
        b = lax.gt(x, lax.full_like(x, 0))
        return outs + [lax.reduce_and(b, spelled), lax.reduce_or(b, spelled)]

    closed = ft.make_jaxpr(f)(x)
    ft.check_jaxpr(closed)
    names = [e.primitive.name for e in closed.eqns]
    for n in ("reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin", "reduce_and",
              "reduce_or"):
        assert n in names
    for got, want in zip(closed(x), f(x)):
        np.testing.assert_array_equal(got, want)
    # the derivative programs type-check too
    g = ft.make_jaxpr(ft.grad(lambda x: lax.reduce_sum(
        lax.add(lax.reduce_max(x, spelled), lax.reduce_prod(x, spelled)),
        tuple(range(x.ndim - len(axes))))))(x)
    ft.check_jaxpr(g)


# ---------------------------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------------------------


def _total(y):
    return lax.reduce_sum(y, tuple(range(np.ndim(y))))


@pytest.mark.parametrize("name", REDUCERS)
@pytest.mark.parametrize("shape,axes", [((5,), 0), ((3, 4), 1), ((3, 4), (0, 1)),
                                        ((2, 3, 4), (0, -1)), ((2, 3, 4), -2)])
def test_check_grads(name, shape, axes):
    ours = REDUCERS[name][0]
    x = distinct_values(shape, seed=len(shape))
    if name == "reduce_prod":
        x = x / np.max(np.abs(x)) + np.sign(x) * 0.5  # moderate magnitudes, no zeros
    ft.check_grads(lambda x: ours(x, axes), (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("zeros", [[1], [0, 3], [1, 2, 4], [0, 1, 2, 3, 4, 5]])
def test_prod_derivatives_exact_with_zeros(zeros):
    # the product is a polynomial, so finite differences stay valid at exact zeros
    x = np.array([[1.5, -0.7, 2.0], [0.9, -1.2, 0.6]])
    x.flat[zeros] = 0.0
    for axes in (1, 0, (0, 1)):
        ft.check_grads(lambda x, axes=axes: lax.reduce_prod(x, axes), (x,), order=2,
                       modes=("fwd", "rev"))


def test_prod_gradient_closed_forms():
    f = lambda x: lax.reduce_prod(x, 0)  # noqa: E731
    np.testing.assert_allclose(ft.grad(f)(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(ft.grad(f)(np.array([2.0, 0.0, 0.0])), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(ft.grad(f)(np.array([2.0, 5.0, 3.0])), [15.0, 6.0, 10.0])
    # second derivative through a zero: d2/dx1 dx2 of x0 x1 x2 at (2, 0, 0) is x0 = 2
    h = ft.hessian(f)(np.array([2.0, 0.0, 0.0]))
    np.testing.assert_allclose(h, [[0, 0, 0], [0, 0, 2], [0, 2, 0]])
    f32 = np.array([1.5, 0.0, 2.0], np.float32)
    g = ft.grad(f)(f32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0.0, 3.0, 0.0])


def test_max_min_ties_share_the_tangent_equally_as_jax():
    fmax = lambda x: lax.reduce_max(x, 0)  # noqa: E731
    np.testing.assert_allclose(ft.grad(fmax)(np.array([1.0, 3.0, 3.0])), [0, 0.5, 0.5])
    np.testing.assert_allclose(ft.grad(lambda x: lax.reduce_min(x, 0))(
        np.array([2.0, 1.0, 1.0, 1.0, 4.0])), [0, 1 / 3, 1 / 3, 1 / 3, 0])
    x = np.array([[1.0, 2.0], [2.0, 0.0]])
    np.testing.assert_allclose(ft.grad(lambda x: lax.reduce_max(x, (0, 1)))(x),
                               [[0, 0.5], [0.5, 0]])
    _, t = ft.jvp(fmax, (np.array([1.0, 3.0, 3.0]),), (np.array([7.0, 1.0, 2.0]),))
    np.testing.assert_allclose(t, 1.5)
    # the second derivative of a max is zero (it is piecewise linear), ties included
    np.testing.assert_allclose(ft.hessian(fmax)(np.array([1.0, 3.0, 3.0])), np.zeros((3, 3)))


def test_max_of_nan_has_nan_gradient_as_jax():
    with np.errstate(divide="ignore", invalid="ignore"):
        g = ft.grad(lambda x: lax.reduce_max(x, 0))(np.array([1.0, np.nan, 2.0]))
    assert np.isnan(g).all()


def test_non_differentiable_reductions_have_zero_derivatives():
    x = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.2]])

    def f(x):
        i = lax.convert_element_type(lax.argmax(x, 1), np.float64)
        j = lax.convert_element_type(lax.argmin(x, 0), np.float64)
        b = lax.convert_element_type(lax.reduce_or(lax.gt(x, lax.full_like(x, 0)), 1),
                                     np.float64)
        c = lax.convert_element_type(lax.reduce_and(lax.gt(x, lax.full_like(x, 0)), 0),
                                     np.float64)
        return _total(i) + _total(j) + _total(b) + _total(c) + _total(x)

    np.testing.assert_array_equal(ft.grad(f)(x), np.ones_like(x))
    _, t = ft.jvp(lambda x: lax.argmax(x, 0), (x,), (np.ones_like(x),))
    assert np.asarray(t).shape == (3,)
    np.testing.assert_array_equal(t, 0)


# ---------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------


def _stack_loop(f, xs, in_axis):
    return np.stack([f(np.take(xs, i, axis=in_axis)) for i in range(xs.shape[in_axis])])


OPS_FOR_VMAP = {
    "reduce_sum": lambda x: lax.reduce_sum(x, (0, 2)),
    "reduce_max": lambda x: lax.reduce_max(x, (0, 2)),
    "reduce_min": lambda x: lax.reduce_min(x, -1),
    "reduce_prod": lambda x: lax.reduce_prod(x, (1,)),
    "reduce_and": lambda x: lax.reduce_and(lax.gt(x, lax.full_like(x, 0)), (0, 1)),
    "reduce_or": lambda x: lax.reduce_or(lax.gt(x, lax.full_like(x, 0)), 2),
    "argmax": lambda x: lax.argmax(x, 1),
    "argmin": lambda x: lax.argmin(x, -1, np.int32),
}


@pytest.mark.parametrize("name", OPS_FOR_VMAP)
@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_vmap_matches_a_loop(name, in_axis):
    f = OPS_FOR_VMAP[name]
    xs = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    xs = np.moveaxis(xs, 0, in_axis)
    np.testing.assert_allclose(ft.vmap(f, in_axes=in_axis)(xs), _stack_loop(f, xs, in_axis))


@pytest.mark.parametrize("name", OPS_FOR_VMAP)
def test_vmap_with_unbatched_operand(name):
    f = OPS_FOR_VMAP[name]
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    shifts = np.arange(3.0)

    def g(x, s):
        y = f(x)
        return lax.add(lax.convert_element_type(y, np.float64), lax.full_like(y, s, np.float64))

    out = ft.vmap(g, in_axes=(None, 0))(x, shifts)
    np.testing.assert_allclose(out, np.stack([g(x, s) for s in shifts]))


@pytest.mark.parametrize("name", ["reduce_max", "reduce_min", "reduce_prod"])
@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_vmap_of_grad_matches_a_loop(name, in_axis):
    f = OPS_FOR_VMAP[name]
    df = ft.grad(lambda x: _total(f(x)))
    xs = np.moveaxis(distinct_values((2, 3, 4, 5), seed=7) / 10, 0, in_axis)
    np.testing.assert_allclose(ft.vmap(df, in_axes=in_axis)(xs), _stack_loop(df, xs, in_axis),
                               rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [lax.reduce_max, lax.reduce_min, lax.reduce_prod])
def test_bad_axes_raise_clear_errors(f):
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"axes \(2,\) are not distinct axes of an array of "
                                        r"shape \(2, 3\)"):
        f(x, 2)
    with pytest.raises(TypeError, match=r"axes \(-3,\)"):
        f(x, (-3,))
    with pytest.raises(TypeError, match=r"axes \(1, 1\) are not distinct"):
        f(x, (1, -1))


def test_bad_dtypes_raise_clear_errors():
    with pytest.raises(TypeError, match="reduce_prod needs a numeric"):
        lax.reduce_prod(np.ones(3, bool), 0)
    with pytest.raises(TypeError, match="reduce_and needs a bool or integer operand, got "
                                        "float64"):
        lax.reduce_and(np.ones(3), 0)
    with pytest.raises(TypeError, match="reduce_or needs a bool or integer"):
        lax.reduce_or(np.ones(3, np.float32), 0)
    with pytest.raises(TypeError, match="argmax needs an integer index_dtype"):
        lax.argmax(np.ones(3), 0, np.float32)


def test_argmax_bad_axis_and_empty_axis():
    with pytest.raises(TypeError, match=r"argmax: axis 2 is not an axis of an array of shape "
                                        r"\(2, 3\)"):
        lax.argmax(np.ones((2, 3)), 2)
    with pytest.raises(TypeError, match=r"argmin: axis -3 is not an axis"):
        lax.argmin(np.ones((2, 3)), -3)
    with pytest.raises(TypeError, match="empty sequence has no argmax"):
        lax.argmax(np.ones((2, 0)), 1)
