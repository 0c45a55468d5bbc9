"""gather, the scatter family, take_along_axis and take: values against loop references,
duplicates and out-of-bounds semantics, derivatives, vmap (batched operand, indices and
updates), typing and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.ops.indexing import gather_p, scatter_add_p

FLOATS = [np.float32, np.float64]
SCATTERS = {
    "scatter_add": (lax.scatter_add, lambda old, u: old + u),
    "scatter": (lax.scatter, lambda old, u: u),
    "scatter_mul": (lax.scatter_mul, lambda old, u: old * u),
    "scatter_min": (lax.scatter_min, np.minimum),
    "scatter_max": (lax.scatter_max, np.maximum),
}


def _rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _take(x, i, axis):
    return x if axis is None else np.take(x, i, axis=axis)


def _position(idx_vec, axes, ndim):
    """The operand index selecting one index vector's slice (other axes whole)."""
    pos = [slice(None)] * ndim
    for a, i in zip(axes, idx_vec):
        pos[a] = int(i)
    return tuple(pos)


def gather_reference(x, indices, axes):
    batch = indices.shape[:-1]
    rest = tuple(n for d, n in enumerate(x.shape) if d not in axes)
    out = np.zeros(batch + rest, x.dtype)
    for b in np.ndindex(*batch):
        vec = [min(max(int(i), 0), x.shape[a] - 1) for a, i in zip(axes, indices[b])]
        out[b] = x[_position(vec, axes, x.ndim)]
    return out


def scatter_reference(combine, x, indices, updates, axes):
    """Apply the updates one at a time in order (so for a set, the last one wins)."""
    out = x.copy()
    for b in np.ndindex(*indices.shape[:-1]):
        vec = indices[b]
        if all(0 <= i < x.shape[a] for a, i in zip(axes, vec)):
            pos = _position(vec, axes, x.ndim)
            out[pos] = combine(out[pos], updates[b])
    return out


@st.composite
def index_problems(draw, in_bounds=False):
    """An operand shape, indexed axes in any order, and indices (with repeats, and out of
    bounds unless ``in_bounds``)."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    axes = tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])
    batch = draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    cols = []
    for a in axes:
        lo, hi = (0, shape[a] - 1) if in_bounds else (-2, shape[a] + 1)
        cols.append(draw(st.lists(st.integers(lo, hi), min_size=int(np.prod(batch)),
                                  max_size=int(np.prod(batch)))))
    indices = np.array(cols, np.int64).T.reshape(batch + (len(axes),))
    return shape, axes, indices


def _out_shape(shape, indices, axes):
    return indices.shape[:-1] + tuple(n for d, n in enumerate(shape) if d not in axes)


# --- gather -----------------------------------------------------------------------------------


@given(index_problems(), st.sampled_from(FLOATS), st.sampled_from([np.int32, np.int64]))
def test_gather_matches_reference_with_clamping(problem, dtype, idx_dtype):
    shape, axes, indices = problem
    x = _rand(np.random.RandomState(0), shape, dtype)
    out = lax.gather(x, indices.astype(idx_dtype), axes)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, gather_reference(x, indices, axes))


@given(index_problems())
def test_gather_derivatives(problem):
    shape, axes, indices = problem
    x = _rand(np.random.RandomState(1), shape)
    f = lambda x: lax.gather(x, indices, axes)  # noqa: E731
    ft.check_grads(f, (x,), order=2)
    ft.check_jaxpr(ft.make_jaxpr(lambda x, i: lax.gather(x, i, axes))(x, indices))
    # gradient of a sum of gathered entries counts how often each (clamped) entry was read
    counts = np.zeros(shape)
    for b in np.ndindex(*indices.shape[:-1]):
        vec = [min(max(int(i), 0), shape[a] - 1) for a, i in zip(axes, indices[b])]
        counts[_position(vec, axes, len(shape))] += 1
    g = ft.grad(lambda x: lax.reduce_sum(f(x), tuple(range(len(_out_shape(shape, indices,
                                                                              axes))))))(x)
    np.testing.assert_array_equal(g, counts)


def test_gather_gradient_accumulates_repeated_indices():
    x = np.arange(5.0)
    idx = np.array([[1], [1], [3], [1], [9], [-4]])
    g = ft.grad(lambda x: lax.reduce_sum(lax.mul(lax.gather(x, idx, 0), lax.gather(x, idx, 0)),
                                         (0,)))(x)
    # d/dx sum(x[i]^2) with i = 1, 1, 3, 1, clamp(9) = 4, clamp(-4) = 0
    np.testing.assert_array_equal(g, [0.0, 6 * 1.0, 0.0, 2 * 3.0, 2 * 4.0])


@given(index_problems())
def test_gather_vmap(problem):
    shape, axes, indices = problem
    rng = np.random.RandomState(2)
    f = lambda x, i: lax.gather(x, i, axes)  # noqa: E731
    x = _rand(rng, shape)
    xs = {ax: np.moveaxis(_rand(rng, (3,) + shape), 0, ax) for ax in (0, 1, -1)}
    shifted = np.stack([indices, indices + 1, indices[::-1] - 1]) if indices.ndim > 1 else \
        np.stack([indices, indices + 1, indices - 1])
    idxs = {ax: np.moveaxis(shifted, 0, ax) for ax in (0, 1, -1)}
    cases = [(0, None), (1, None), (-1, None), (None, 0), (None, 1), (None, -1), (0, 0),
             (1, -1), (-1, 1)]
    for xa, ia in cases:
        if xa == 1 and len(shape) < 1:
            continue
        args = (xs[xa] if xa is not None else x, idxs[ia] if ia is not None else indices)
        out = ft.vmap(f, in_axes=(xa, ia))(*args)
        loop = np.stack([f(_take(args[0], k, xa), _take(args[1], k, ia)) for k in range(3)])
        np.testing.assert_array_equal(out, loop)
        ft.check_jaxpr(ft.make_jaxpr(ft.vmap(f, in_axes=(xa, ia)))(*args))
        # the transpose (a scatter_add) batched: per-example gradients
        g = ft.grad(lambda x, i: lax.reduce_sum(lax.sin(f(x, i)), tuple(
            range(len(_out_shape(shape, indices, axes))))))
        out = ft.vmap(g, in_axes=(xa, ia))(*args)
        loop = np.stack([g(_take(args[0], k, xa), _take(args[1], k, ia)) for k in range(3)])
        np.testing.assert_allclose(out, loop, rtol=1e-12)


def test_gather_with_no_axes_and_empty_batch():
    x = np.arange(6.0).reshape(2, 3)
    out = lax.gather(x, np.zeros((4, 0), np.int64), ())
    np.testing.assert_array_equal(out, np.broadcast_to(x, (4, 2, 3)))
    empty = lax.gather(x, np.zeros((0, 1), np.int64), 1)
    assert empty.shape == (0, 2)


def test_gather_errors():
    x = np.ones((3, 4))
    with pytest.raises(TypeError, match="indices must be integers, got float64"):
        lax.gather(x, np.zeros((2, 1)), 0)
    with pytest.raises(TypeError, match=r"indices of shape \(2, 2\) must end with an axis of "
                                        r"length len\(axes\) = 1"):
        lax.gather(x, np.zeros((2, 2), np.int64), 0)
    with pytest.raises(TypeError, match=r"axes \(0, 0\) are not distinct axes of an operand of "
                                        r"shape \(3, 4\)"):
        lax.gather(x, np.zeros((2, 2), np.int64), (0, 0))


# --- scatters ---------------------------------------------------------------------------------


@given(index_problems(), st.sampled_from(sorted(SCATTERS)), st.sampled_from(FLOATS))
def test_scatter_matches_reference(problem, name, dtype):
    shape, axes, indices = problem
    rng = np.random.RandomState(3)
    x = _rand(rng, shape, dtype)
    u = _rand(rng, _out_shape(shape, indices, axes), dtype)
    fn, combine = SCATTERS[name]
    out = fn(x, indices, u, axes)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, scatter_reference(combine, x, indices, u, axes), rtol=1e-6)


def test_scatter_add_accumulates_duplicates_and_drops_out_of_bounds():
    x = np.zeros(4)
    idx = np.array([[1], [1], [3], [4], [-1], [1]])
    u = np.array([1.0, 2.0, 3.0, 100.0, 100.0, 4.0])
    np.testing.assert_array_equal(lax.scatter_add(x, idx, u, 0), [0.0, 7.0, 0.0, 3.0])
    # dropped updates get no cotangent; duplicates all get one
    g = ft.grad(lambda u: lax.reduce_sum(lax.mul(lax.scatter_add(x, idx, u, 0),
                                                 np.arange(4.0)), (0,)))(u)
    np.testing.assert_array_equal(g, [1.0, 1.0, 3.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(lax.scatter(x, idx, u, 0), [0.0, 4.0, 0.0, 3.0])
    np.testing.assert_array_equal(lax.scatter_mul(np.ones(4), idx, u, 0), [1.0, 8.0, 1.0, 3.0])


@given(index_problems(), st.sampled_from(sorted(SCATTERS)))
def test_scatter_derivatives(problem, name):
    shape, axes, indices = problem
    rng = np.random.RandomState(4)
    x = _rand(rng, shape)
    u = _rand(rng, _out_shape(shape, indices, axes))
    fn, _ = SCATTERS[name]
    f = lambda x, u: fn(x, indices, u, axes)  # noqa: E731
    ft.check_grads(f, (x, u), order=2)
    ft.check_jaxpr(ft.make_jaxpr(lambda x, i, u: fn(x, i, u, axes))(x, indices, u))
    ct = rng.standard_normal(shape)
    ft.check_jaxpr(ft.make_jaxpr(lambda x, u, c: ft.vjp(f, x, u)[1](c))(x, u, ct))


def test_scatter_set_gradient_follows_the_winning_update():
    x = np.array([1.0, 2.0, 3.0])
    idx = np.array([[0], [0], [2], [5]])
    u = np.array([10.0, 20.0, 30.0, 40.0])
    out = lax.scatter(x, idx, u, 0)
    gx, gu = ft.grad(lambda x, u: lax.reduce_sum(lax.scatter(x, idx, u, 0), (0,)),
                     argnums=(0, 1))(x, u)
    winner = [i for i in range(2) if u[i] == out[0]]
    assert len(winner) == 1
    expected_gu = np.zeros(4)
    expected_gu[winner[0]] = 1.0
    expected_gu[2] = 1.0
    np.testing.assert_array_equal(gu, expected_gu)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0])


def test_scatter_mul_derivative_with_repeats_and_zeros():
    x = np.array([2.0, 3.0])
    idx = np.array([[0], [0], [0], [1]])
    for u in (np.array([1.5, -2.0, 0.5, 4.0]), np.array([0.0, -2.0, 0.5, 4.0]),
              np.array([0.0, 0.0, 0.5, 4.0])):
        gu = ft.grad(lambda u: lax.reduce_sum(lax.scatter_mul(x, idx, u, 0), (0,)))(u)
        # d/du_j of x0 * u0 * u1 * u2 is x0 times the product of the other two
        others = [u[1] * u[2], u[0] * u[2], u[0] * u[1]]
        np.testing.assert_allclose(gu, [2.0 * o for o in others] + [3.0])
        ft.check_grads(lambda x, u: lax.scatter_mul(x, idx, u, 0), (x, u), order=2)


def test_scatter_max_ties_share_the_derivative():
    x = np.array([1.0, 5.0, 0.0])
    idx = np.array([[0], [0], [1], [2]])
    u = np.array([3.0, 3.0, 5.0, -1.0])
    for fn in (lax.scatter_max, lax.scatter_min):
        out, t = ft.jvp(lambda x, u, fn=fn: fn(x, idx, u, 0), (x, u), (np.ones(3) * 10,
                                                               np.array([1.0, 2.0, 4.0, 8.0])))
        if fn is lax.scatter_max:
            np.testing.assert_array_equal(out, [3.0, 5.0, 0.0])
            # two updates tie at 0; the operand ties with the update at 1
            np.testing.assert_allclose(t, [1.5, (10 + 4.0) / 2, 10.0])
        else:
            np.testing.assert_array_equal(out, [1.0, 5.0, -1.0])
            np.testing.assert_allclose(t, [10.0, (10 + 4.0) / 2, 8.0])


SCATTER_AXES = [(0, None, None), (None, None, 0), (1, None, -1), (None, 0, 0), (0, 0, 0),
                (-1, 1, None), (None, -1, 1), (0, -1, None)]


@given(index_problems(), st.sampled_from(sorted(SCATTERS)))
def test_scatter_vmap(problem, name):
    shape, axes, indices = problem
    rng = np.random.RandomState(5)
    fn, _ = SCATTERS[name]
    f = lambda x, i, u: fn(x, i, u, axes)  # noqa: E731
    ushape = _out_shape(shape, indices, axes)
    bx = {ax: np.moveaxis(_rand(rng, (3,) + shape), 0, ax) for ax in (0, 1, -1)}
    bu = {ax: np.moveaxis(_rand(rng, (3,) + ushape), 0, ax) for ax in (0, 1, -1)
          if ax != 1 or ushape}
    bi = {ax: np.moveaxis(np.stack([indices, indices[..., ::-1] % 2, indices - 1])
                          if indices.shape[-1] > 0 else np.stack([indices] * 3), 0, ax)
          for ax in (0, 1, -1)}
    x, u = _rand(rng, shape), _rand(rng, ushape)
    for xa, ia, ua in SCATTER_AXES:
        if ua == 1 and not ushape:
            continue
        args = (bx[xa] if xa is not None else x, bi[ia] if ia is not None else indices,
                bu[ua] if ua is not None else u)
        in_axes = (xa, ia, ua)
        out = ft.vmap(f, in_axes=in_axes)(*args)
        loop = np.stack([f(*[_take(a, k, ax) for a, ax in zip(args, in_axes)])
                         for k in range(3)])
        np.testing.assert_allclose(out, loop, rtol=1e-12)
        ft.check_jaxpr(ft.make_jaxpr(ft.vmap(f, in_axes=in_axes))(*args))
        g = ft.grad(lambda x, i, u: lax.reduce_sum(lax.sin(f(x, i, u)), tuple(
            range(len(shape)))), argnums=(0, 2))
        gv = ft.vmap(g, in_axes=in_axes)(*args)
        for k in range(3):
            gk = g(*[_take(a, k, ax) for a, ax in zip(args, in_axes)])
            np.testing.assert_allclose(gv[0][k], gk[0], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(gv[1][k], gk[1], rtol=1e-10, atol=1e-12)


def test_scatter_errors():
    x = np.ones((3, 4))
    idx = np.zeros((2, 1), np.int64)
    with pytest.raises(TypeError, match=r"updates of shape \(2, 3\) do not match operand "
                                        r"\(3, 4\).*expected updates of shape \(2, 4\)"):
        lax.scatter_add(x, idx, np.ones((2, 3)), 0)
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.scatter(x, idx, np.ones((2, 4), np.float32), 0)
    with pytest.raises(TypeError, match="indices must be integers"):
        lax.scatter_max(x, idx.astype(np.float64), np.ones((2, 4)), 0)


def test_gather_transpose_is_a_scatter_add_of_clamped_indices():
    x = np.arange(4.0)
    idx = np.array([[7], [-3]])
    closed = ft.make_jaxpr(ft.grad(lambda x: lax.reduce_sum(lax.gather(x, idx, 0), (0,))))(x)
    ft.check_jaxpr(closed)
    assert scatter_add_p in [e.primitive for e in closed.eqns]
    np.testing.assert_array_equal(closed(x)[0], [1.0, 0.0, 0.0, 1.0])
    # traced indices are clamped inside the program
    g = ft.make_jaxpr(lambda x, i: ft.grad(lambda x: lax.reduce_sum(lax.gather(x, i, 0),
                                                                    (0,)))(x))(x, idx)
    ft.check_jaxpr(g)
    np.testing.assert_array_equal(g(x, idx)[0], [1.0, 0.0, 0.0, 1.0])


# --- take_along_axis and take -----------------------------------------------------------------


@st.composite
def take_along_problems(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    ishape = tuple(draw(st.sampled_from([1, n])) for n in shape)
    ishape = tuple(draw(st.integers(1, 4)) if d == axis % len(shape) else n
                   for d, n in enumerate(ishape))
    n = shape[axis]
    idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(ishape)),
                                 max_size=int(np.prod(ishape)))), np.int64).reshape(ishape)
    return shape, axis, idx


@given(take_along_problems(), st.sampled_from(FLOATS))
def test_take_along_axis(problem, dtype):
    shape, axis, idx = problem
    rng = np.random.RandomState(6)
    x = _rand(rng, shape, dtype)
    out = lax.take_along_axis(x, idx, axis)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.take_along_axis(x, idx, axis))
    x = x.astype(np.float64)
    f = lambda x: lax.take_along_axis(x, idx, axis)  # noqa: E731
    ft.check_grads(f, (x,), order=2)
    ft.check_jaxpr(ft.make_jaxpr(lambda x, i: lax.take_along_axis(x, i, axis))(x, idx))
    g = lambda x, i: lax.take_along_axis(x, i, axis)  # noqa: E731
    for xa, ia in [(0, None), (None, 0), (0, 0), (-1, 1)]:
        xb = np.moveaxis(_rand(rng, (3,) + shape), 0, xa) if xa is not None else x
        ib = np.moveaxis(np.stack([idx, -1 - idx % shape[axis], idx // 2]), 0, ia) \
            if ia is not None else idx
        out = ft.vmap(g, in_axes=(xa, ia))(xb, ib)
        loop = np.stack([g(_take(xb, k, xa), _take(ib, k, ia)) for k in range(3)])
        np.testing.assert_array_equal(out, loop)


def test_take_along_axis_clamps_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(lax.take_along_axis(x, np.array([[5, -1]]), 1),
                                  [[2.0, 2.0], [5.0, 5.0]])
    with pytest.raises(TypeError, match=r"indices of shape \(2,\) must have the rank of the "
                                        r"array, shape \(2, 3\)"):
        lax.take_along_axis(x, np.array([0, 1]), 1)
    with pytest.raises(TypeError, match="do not broadcast"):
        lax.take_along_axis(x, np.zeros((3, 1), np.int64), 1)
    with pytest.raises(TypeError, match="indices must be integers"):
        lax.take_along_axis(x, np.zeros((2, 1)), 1)


def test_take_along_axis_with_traced_indices_as_sort_jvp_uses_it():
    x = np.array([[3.0, 1.0, 2.0], [0.5, 2.5, 1.5]])
    perm = np.argsort(x, axis=1)
    closed = ft.make_jaxpr(lambda x, p: lax.take_along_axis(x, p, 1))(x, perm)
    ft.check_jaxpr(closed)
    assert gather_p in [e.primitive for e in closed.eqns]
    np.testing.assert_array_equal(closed(x, perm)[0], np.sort(x, axis=1))
    _, t = ft.jvp(lambda x: lax.take_along_axis(x, perm, 1), (x,), (np.arange(6.0).reshape(2, 3),))
    np.testing.assert_array_equal(t, np.take_along_axis(np.arange(6.0).reshape(2, 3), perm, 1))


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), st.data())
def test_take(shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    ishape = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(ishape)),
                                      max_size=int(np.prod(ishape)))), np.int64).reshape(ishape)
    x = _rand(np.random.RandomState(7), shape)
    out = lax.take(x, idx, axis)
    np.testing.assert_array_equal(out, np.take(x, idx, axis=axis))
    ft.check_grads(lambda x: lax.take(x, idx, axis), (x,), order=2)
    xb = _rand(np.random.RandomState(8), (3,) + shape)
    out = ft.vmap(lambda x: lax.take(x, idx, axis))(xb)
    np.testing.assert_array_equal(out, np.stack([np.take(b, idx, axis=axis) for b in xb]))


def test_scatter_with_no_indexed_axes_updates_the_whole_operand():
    x = np.zeros((2, 2))
    idx = np.zeros((3, 0), np.int64)
    u = np.stack([np.full((2, 2), v) for v in (1.0, 2.0, 3.0)])
    np.testing.assert_array_equal(lax.scatter_add(x, idx, u, ()), np.full((2, 2), 6.0))
    np.testing.assert_array_equal(lax.scatter(x, idx, u, ()), np.full((2, 2), 3.0))
    gu = ft.grad(lambda u: lax.reduce_sum(lax.scatter(x, idx, u, ()), (0, 1)))(u)
    np.testing.assert_array_equal(gu, [np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2))])
    empty = lax.scatter_add(x, np.zeros((0, 1), np.int64), np.zeros((0, 2)), 0)
    np.testing.assert_array_equal(empty, x)


@pytest.mark.parametrize("traced", [False, True])
def test_take_modes(traced):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[5, -1], [-5, 2], [3, -4]])

    def run(f, *args):
        return ft.make_jaxpr(f)(*args)(*args)[0] if traced else f(*args)

    for mode in ("clip", "wrap"):
        np.testing.assert_array_equal(run(lambda x, i, m=mode: lax.take(x, i, 1, mode=m), x, idx),
                                      np.take(x, idx, axis=1, mode=mode))
        np.testing.assert_array_equal(
            run(lambda x, i, m=mode: lax.take_along_axis(x, i, 1, mode=m), x, idx),
            np.take_along_axis(x, np.take(np.arange(4), idx, mode=mode), 1))
    filled = run(lambda x, i: lax.take(x, i, 1, mode="fill"), x, idx)
    expected = np.take(x, np.clip(np.where(idx < 0, idx + 4, idx), 0, 3), axis=1)
    expected[:, (idx < -4) | (idx >= 4)] = np.nan
    np.testing.assert_array_equal(filled, expected)
    along = run(lambda x, i: lax.take_along_axis(x, i, 1, mode="fill", fill_value=-1.0), x, idx)
    expected = np.take_along_axis(x, np.clip(np.where(idx < 0, idx + 4, idx), 0, 3), 1)
    expected[(idx < -4) | (idx >= 4)] = -1.0
    np.testing.assert_array_equal(along, expected)
    ints = run(lambda x, i: lax.take(x, i, 0, mode="fill"), np.arange(3), np.array([0, 3]))
    np.testing.assert_array_equal(ints, [0, np.iinfo(np.int64).min])
    # filled entries get no gradient
    g = ft.grad(lambda x: lax.reduce_sum(lax.take(x, np.array([1, 9, 1]), 0, mode="fill",
                                                  fill_value=0.0), (0,)))(np.ones(3))
    np.testing.assert_array_equal(g, [0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="index mode"):
        lax.take(x, idx, 1, mode="raise")
