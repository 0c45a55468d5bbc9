"""NumPy indexing of traced arrays: ``x[idx]`` for every index form, ``x.at[idx]`` updates,
gradients through both, and vmap of indexing.

Every read is compared with NumPy's own ``x[idx]``: eagerly through
``functrace.numpy._indexing.getitem`` on a NumPy array, and traced (``make_jaxpr`` then
``eval_jaxpr``, with ``check_jaxpr``); updates are compared with NumPy's in-place assignment
(``np.add.at`` and friends where indices repeat).
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.numpy._indexing import IndexUpdateHelper, getitem

X = np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6) / 7.0

STATIC_INDICES = {
    "int": 1, "neg_int": -1, "np_int": np.int64(2), "zero_d_array": np.array(3),
    "ints": (1, -2, 3), "slice": slice(1, 3), "slice_step": slice(None, None, 2),
    "slice_neg_step": slice(None, None, -1), "slice_neg_bounds": slice(-1, -4, -2),
    "slice_empty": slice(3, 1), "slice_clip": slice(-10, 10, 3),
    "ellipsis": Ellipsis, "ellipsis_int": (Ellipsis, 1), "int_ellipsis_int": (0, ..., -1),
    "none": None, "none_middle": (slice(None), None, 1), "none_ellipsis": (None, ..., None),
    "array": np.array([0, 2, -1]), "list": [3, 0, 0], "nested_list": [[0, 1], [2, 3]],
    "array_2d": np.array([[0, 1], [-1, 2]]), "empty_list": [],
    "two_arrays": (np.array([0, 1]), np.array([2, 3])),
    "broadcast_arrays": (np.array([[0], [3]]), np.array([1, 2, 4])),
    "array_slice": (np.array([0, 2]), slice(1, 4)),
    "slice_array": (slice(None), np.array([4, 0, 1])),
    "separated_arrays": (np.array([0, 1]), slice(None), np.array([2, 3])),
    "int_array_separated": (1, slice(None), np.array([0, 5])),
    "array_int_adjacent": (slice(None), np.array([0, 4]), 2),
    "slice_arrays_adjacent": (slice(1, 3), np.array([0, 4]), np.array([[1], [2]])),
    "none_between_arrays": (np.array([0, 1]), None, np.array([2, 3])),
    "array_none_slice": (np.array([1, 2]), None, slice(2, 4)),
    "true": True, "false": False, "true_with_int": (True, 1),
    "array_with_true": (np.array([1, 2]), True),
    "mask_1d": np.array([True, False, True, True]),
    "mask_2d": np.array([[True, False, True, False, False]] * 4),
    "mask_after_slice": (slice(None), np.array([False, True, False, True, True])),
    "mask_and_array": (np.array([True, False, False, True]), np.array([0, 4])),
    "mask_3d": X > 3.0,
    "everything": (np.array([[1], [2]]), None, slice(4, 0, -2), ..., np.array([0, 5])),
}


def _traced_getitem(x, idx):
    closed = ft.make_jaxpr(lambda x: x[idx])(x)
    ft.check_jaxpr(closed)
    return closed(x)[0]


def _check_read(x, idx):
    expected = x[idx]
    for got in (getitem(x, idx), _traced_getitem(x, idx)):
        assert np.asarray(got).shape == expected.shape
        assert np.asarray(got).dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", list(STATIC_INDICES))
def test_static_index_forms_match_numpy(name):
    _check_read(X, STATIC_INDICES[name])


def test_indexing_small_and_zero_d_arrays():
    for x, idx in [(np.float32(3.0) * np.ones(()), ()), (np.ones(()), ...),
                   (np.ones(()), None), (np.arange(3.0), (None, 1)), (np.arange(3), 2),
                   (np.arange(3.0), np.array([], int)), (np.ones((0, 3)), (slice(None), 1))]:
        _check_read(np.asarray(x), idx)


@st.composite
def basic_and_advanced(draw):
    """A random index mixing NumPy's basic and integer-array forms for a random shape."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    n_adv = draw(st.integers(0, min(2, len(shape))))
    adv_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    adv_axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=n_adv, max_size=n_adv,
                             unique=True))
    items = []
    for ax, n in enumerate(shape):
        if ax in adv_axes:
            items.append(draw(hnp.arrays(np.int64, adv_shape, elements=st.integers(-n, n - 1))))
            continue
        items.append(draw(st.one_of(
            st.integers(-n, n - 1),
            st.builds(slice, st.none() | st.integers(-n - 1, n + 1),
                      st.none() | st.integers(-n - 1, n + 1),
                      st.none() | st.integers(-3, 3).filter(bool)))))
        if draw(st.integers(0, 5)) == 0:
            items.append(None)
    # drop trailing entries or replace a run with an ellipsis, sometimes
    cut = draw(st.integers(0, len(items)))
    if draw(st.booleans()):
        items = items[:cut]
    elif cut < len(items) and not any(isinstance(i, np.ndarray) for i in items[cut:]):
        items = items[:cut] + [Ellipsis]
    return x, tuple(items)


@given(basic_and_advanced())
def test_random_indices_match_numpy(case):
    x, idx = case
    _check_read(x, idx)


# --- traced indices ---------------------------------------------------------------------------

TRACED_CASES = {
    "scalar": (lambda x, i: x[i], [np.int64(2)]),
    "neg_scalar": (lambda x, i: x[i], [np.int64(-1)]),
    "int32_scalar": (lambda x, i: x[:, i], [np.int32(-2)]),
    "scalar_and_slices": (lambda x, i: x[1:, i, ::2], [np.int64(3)]),
    "two_scalars": (lambda x, i, j: x[i, :, j], [np.int64(1), np.int64(-3)]),
    "array": (lambda x, i: x[i], [np.array([3, 0, -2])]),
    "array_axis1": (lambda x, i: x[:, i], [np.array([[4, -5], [0, 1]])]),
    "two_arrays": (lambda x, i, j: x[i, j], [np.array([0, -1]), np.array([[1], [2]])]),
    "traced_and_static": (lambda x, i: x[i, np.array([1, 2]), 1:3],
                          [np.array([[0], [3]])]),
    "separated": (lambda x, i: x[i, :, np.array([0, 5])], [np.array([2, 1])]),
    "scalar_with_array": (lambda x, i: x[np.array([0, 2]), i], [np.int64(4)]),
    "list_of_tracers": (lambda x, i: x[[i, i]], [np.int64(1)]),
}


@pytest.mark.parametrize("name", list(TRACED_CASES))
def test_traced_indices_match_numpy(name):
    f, idx_args = TRACED_CASES[name]
    expected = f(X, *idx_args)
    closed = ft.make_jaxpr(f)(X, *idx_args)
    ft.check_jaxpr(closed)
    got = closed(X, *idx_args)[0]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_traced_scalar_index_uses_dynamic_slice_and_arrays_one_gather():
    names = [e.primitive.name for e in ft.make_jaxpr(lambda x, i: x[i, 1:])(X, 2).eqns]
    assert "dynamic_slice" in names and "gather" not in names
    names = [e.primitive.name for e in ft.make_jaxpr(lambda x: x[1:3, ::-1])(X).eqns]
    assert set(names) <= {"slice", "rev", "reshape"}
    eqns = ft.make_jaxpr(lambda x, i: x[i, :, i])(X, np.array([0, 1])).eqns
    assert [e.primitive.name for e in eqns].count("gather") == 1


def test_out_of_range_traced_indices_are_clamped():
    closed = ft.make_jaxpr(lambda x, i: x[i])(np.arange(5.0), np.array([7, -9]))
    np.testing.assert_array_equal(closed(np.arange(5.0), np.array([7, -9]))[0], [4.0, 0.0])


def test_iteration_and_len_of_tracers():
    def f(x):
        assert len(x) == 4
        rows = [r for r in x]
        a, b, c, d = x
        return fnp.stack(rows[::-1]), a + d, list(reversed(x))[0]

    closed = ft.make_jaxpr(f)(X[:, 0])
    outs = closed(X[:, 0])
    np.testing.assert_array_equal(outs[0], X[::-1, 0])
    np.testing.assert_array_equal(outs[1], X[0, 0] + X[3, 0])
    np.testing.assert_array_equal(outs[2], X[3, 0])


# --- .at[] updates ----------------------------------------------------------------------------

AT_INDICES = {
    "int": 1, "neg_int": -2, "slice": slice(1, 3), "slice_step": slice(None, None, -2),
    "ellipsis": ..., "ints": (0, 2), "array": np.array([2, 0]),
    "array_2d": (slice(None), np.array([[0, 4], [1, 1]])), "none": (None, 0),
    "separated": (np.array([0, 1]), slice(1, 3), np.array([2, 3])),
    "mask": np.array([True, False, False, True]), "slice_int": (slice(None, 2), -1, 1),
}


def _numpy_update(x, idx, v, kind):
    y = x.copy()
    if kind == "set":
        y[idx] = v
    else:
        ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum,
                 "max": np.maximum}[kind]
        ufunc.at(y, idx, v)
    return y


@pytest.mark.parametrize("kind", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("name", list(AT_INDICES))
def test_at_updates_match_numpy(name, kind):
    idx = AT_INDICES[name]
    shape = X[idx].shape
    v = np.cos(np.arange(int(np.prod(shape)))).reshape(shape)
    expected = _numpy_update(X, idx, v, kind)
    for vals in (v, v[..., :1] if shape else v, 0.5):
        exp = _numpy_update(X, idx, vals, kind)
        closed = ft.make_jaxpr(lambda x, w: getattr(x.at[idx], kind)(w))(X, np.asarray(vals))
        ft.check_jaxpr(closed)
        np.testing.assert_allclose(closed(X, np.asarray(vals))[0], exp, rtol=1e-15)
        eager = getattr(IndexUpdateHelper(X)[idx], kind)(vals)
        np.testing.assert_allclose(eager, exp, rtol=1e-15)
    assert expected.shape == X.shape


def test_at_other_methods():
    idx = (slice(None), np.array([1, 3]))

    def f(x):
        return (x.at[idx].get(), x.at[idx].divide(2.0), x.at[idx].power(2),
                x.at[idx].apply(np.sin), x.at[idx].subtract(1.0), x.at[0].mul(3.0))

    closed = ft.make_jaxpr(f)(X)
    ft.check_jaxpr(closed)
    outs = closed(X)
    ref = [X[idx]]
    for op in (lambda a: a / 2.0, lambda a: a ** 2, np.sin, lambda a: a - 1.0):
        y = X.copy()
        y[idx] = op(y[idx])
        ref.append(y)
    y = X.copy()
    y[0] *= 3.0
    ref.append(y)
    for got, exp in zip(outs, ref):
        np.testing.assert_allclose(got, exp, rtol=1e-14)


def test_at_with_repeated_and_traced_indices():
    x = np.zeros(5)
    idx = np.array([1, 1, 3, -1])
    closed = ft.make_jaxpr(lambda x, i: x.at[i].add(1.0))(x, idx)
    np.testing.assert_array_equal(closed(x, idx)[0], [0.0, 2.0, 0.0, 1.0, 1.0])
    # out-of-range traced indices are dropped, as in JAX
    out = ft.make_jaxpr(lambda x, i: x.at[i].set(7.0))(x, np.array([9, 2]))(x, np.array([9, 2]))
    np.testing.assert_array_equal(out[0], [0.0, 0.0, 7.0, 0.0, 0.0])
    out = ft.make_jaxpr(lambda x, i: x.at[i].set(7.0))(x, np.int64(-2))(x, np.int64(-2))
    np.testing.assert_array_equal(out[0], [0.0, 0.0, 0.0, 7.0, 0.0])


def test_at_dtype_and_shape_errors():
    x = np.zeros((2, 3), np.float32)
    out = ft.make_jaxpr(lambda x: x.at[0].set(1))(x)(x)[0]
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="could not be broadcast"):
        ft.make_jaxpr(lambda x: x.at[0].set(np.ones(2)))(x)


# --- derivatives and vmap ---------------------------------------------------------------------

def at(x):
    """``x.at`` also for NumPy arrays (check_grads evaluates the function on them)."""
    return IndexUpdateHelper(x)


GRAD_CASES = {
    "int": lambda x: x[1], "slice_step": lambda x: x[::-2, 1:], "array": lambda x: x[[0, 2, 0]],
    "two_arrays": lambda x: x[np.array([0, 1]), np.array([2, 2])],
    "mask": lambda x: x[np.array([True, False, True])],
    "none_ellipsis": lambda x: x[None, ..., 1],
    "at_set": lambda x: at(x)[1, :2].set(x[0, 1:] ** 2),
    "at_add": lambda x: at(x)[np.array([0, 0, 2])].add(x[1] * 3.0),
    "at_mul": lambda x: at(x)[:, 1].multiply(x[:, 0]),
    "at_max": lambda x: at(x)[0].max(x[2] + 0.1),
    "take": lambda x: fnp.take(x, np.array([2, 0]), axis=1),
    "take_along_axis": lambda x: fnp.take_along_axis(x, np.array([[0], [2], [1]]), 1),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients_through_indexing(name):
    rng = np.random.RandomState(1)
    x = rng.uniform(-1, 1, (3, 3))
    f = GRAD_CASES[name]
    ft.check_grads(lambda x: fnp.sin(f(x)), (x,), order=2, modes=("fwd", "rev"))


def test_gradient_of_indexing_has_closed_form():
    x = np.arange(4.0)
    g = ft.grad(lambda x: fnp.sum(x[np.array([0, 0, 3])] ** 2))(x)
    np.testing.assert_allclose(g, [0.0 * 2 * 2, 0.0, 0.0, 6.0 * 1.0])
    g = ft.grad(lambda x: x[-1] * x[1])(x)
    np.testing.assert_allclose(g, [0.0, 3.0, 0.0, 1.0])
    g = ft.grad(lambda x, i: x[i] ** 2)(x, 2)
    np.testing.assert_allclose(g, [0.0, 0.0, 4.0, 0.0])


@pytest.mark.parametrize("in_axes", [0, 1, -1, None])
def test_vmap_of_traced_indexing_matches_a_loop(in_axes):
    x = np.arange(24.0).reshape(2, 3, 4)
    idx = np.array([2, 0, 1])

    def f(x, i):
        return x[i, ::-1] * 2.0 + x[:, np.array([0, 0, 3, 1])][0]

    if in_axes is None:  # an unbatched NumPy x: index it with fnp.take, not x[i]
        xx = x[0]
        out = ft.vmap(lambda i: fnp.take(xx, i, axis=0), in_axes=0)(idx)
        expected = np.stack([xx[i] for i in idx])
    else:
        out = ft.vmap(f, in_axes=(in_axes, 0))(np.moveaxis(x, 0, in_axes), idx[:2])
        expected = np.stack([f(row, i) for row, i in zip(x, idx[:2])])
    np.testing.assert_allclose(out, expected)


def test_vmap_of_at_update_matches_a_loop():
    x, i, v = np.zeros((3, 4)), np.array([0, 3, 3]), np.array([1.0, 2.0, 3.0])
    out = ft.vmap(lambda x, i, v: x.at[i].add(v))(x, i, v)
    expected = np.stack([xr + np.eye(4)[ir] * vr for xr, ir, vr in zip(x, i, v)])
    np.testing.assert_allclose(out, expected)


# --- errors -----------------------------------------------------------------------------------


def test_indexing_errors_are_numpy_like():
    x = np.ones((2, 3))
    for idx, exc, msg in [((0, 0, 0), IndexError, "too many indices"),
                          (5, IndexError, "out of bounds"),
                          (np.array([0, 3]), IndexError, "out of bounds"),
                          ((..., ...), IndexError, "single ellipsis"),
                          (1.5, IndexError, "only integers"),
                          (np.array([True, False, True]), IndexError, "did not match")]:
        with pytest.raises(exc, match=msg):
            getitem(x, idx)
        with pytest.raises(exc, match=msg):
            ft.make_jaxpr(lambda x, idx=idx: x[idx])(x)


def test_traced_boolean_mask_raises_and_suggests_where():
    x = np.arange(4.0)
    with pytest.raises(fnp.NonConcreteBooleanIndexError, match=r"where\(mask, x, 0\)"):
        ft.make_jaxpr(lambda x: x[x > 1.0])(x)
    with pytest.raises(IndexError, match=r"bool\[4\] traced by vmap"):
        ft.vmap(lambda x: fnp.sum(x[x > 1.0]))(np.ones((2, 4)))
    # under grad of concrete inputs the mask is known, as in NumPy code
    g = ft.grad(lambda x: fnp.sum(x[x > 1.0] ** 2))(x)
    np.testing.assert_allclose(g, [0.0, 0.0, 4.0, 6.0])


def test_setitem_points_to_at():
    with pytest.raises(TypeError, match=r"x\.at\[idx\]\.set\(y\)"):
        ft.make_jaxpr(lambda x: x.__setitem__(0, 1.0))(np.ones(3))
