"""dot_general: values against NumPy's einsum, derivatives, vmap, typing and errors."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.ops.linalg import dot_general_p
from functrace.ops.structural import transpose_p

FLOATS = [np.float32, np.float64]


@st.composite
def dot_problems(draw):
    """Random operand shapes with permuted batch/contracting/free axes, plus the einsum spec
    that computes the same contraction (the independent reference)."""
    nb, nc = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nlf, nrf = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sizes = draw(st.lists(st.integers(1, 3), min_size=nb + nc + nlf + nrf,
                          max_size=nb + nc + nlf + nrf))
    letters = string.ascii_lowercase
    b, c = letters[:nb], letters[nb:nb + nc]
    lf, rf = letters[nb + nc:nb + nc + nlf], letters[nb + nc + nlf:nb + nc + nlf + nrf]
    size_of = dict(zip(letters, sizes))
    lhs_axes = draw(st.permutations(list(b + c + lf)))
    rhs_axes = draw(st.permutations(list(b + c + rf)))
    dn = ((tuple(lhs_axes.index(x) for x in c), tuple(rhs_axes.index(x) for x in c)),
          (tuple(lhs_axes.index(x) for x in b), tuple(rhs_axes.index(x) for x in b)))
    # result: batch axes (in pairing order), then the free axes of each side in its own order
    lf_out = "".join(x for x in lhs_axes if x in lf)
    rf_out = "".join(x for x in rhs_axes if x in rf)
    spec = f"{''.join(lhs_axes)},{''.join(rhs_axes)}->{b}{lf_out}{rf_out}"
    lhs_shape = tuple(size_of[x] for x in lhs_axes)
    rhs_shape = tuple(size_of[x] for x in rhs_axes)
    return lhs_shape, rhs_shape, dn, spec


def _rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


@given(dot_problems(), st.sampled_from(FLOATS))
def test_dot_general_matches_einsum(problem, dtype):
    lhs_shape, rhs_shape, dn, spec = problem
    rng = np.random.RandomState(0)
    a, b = _rand(rng, lhs_shape, dtype), _rand(rng, rhs_shape, dtype)
    out = lax.dot_general(a, b, dn)
    expected = np.einsum(spec, a.astype(np.float64), b.astype(np.float64))
    assert out.dtype == dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@given(dot_problems())
def test_dot_general_derivatives(problem):
    lhs_shape, rhs_shape, dn, _ = problem
    rng = np.random.RandomState(1)
    a, b = _rand(rng, lhs_shape), _rand(rng, rhs_shape)
    ft.check_grads(lambda a, b: lax.dot_general(a, b, dn), (a, b), order=2)


@given(dot_problems())
def test_dot_general_transposes_typecheck(problem):
    lhs_shape, rhs_shape, dn, _ = problem
    rng = np.random.RandomState(2)
    a, b = _rand(rng, lhs_shape), _rand(rng, rhs_shape)
    out, vjp_fn = ft.vjp(lambda a, b: lax.dot_general(a, b, dn), a, b)
    ct = _rand(rng, out.shape)
    closed = ft.make_jaxpr(lambda a, b, ct: ft.vjp(lambda a, b: lax.dot_general(a, b, dn),
                                                   a, b)[1](ct))(a, b, ct)
    ft.check_jaxpr(closed)
    ga, gb = vjp_fn(ct)
    # the transposes of a bilinear map: <ct, A(da, b)> = <ga, da>, <ct, A(a, db)> = <gb, db>
    da, db = _rand(rng, a.shape), _rand(rng, b.shape)
    np.testing.assert_allclose(np.sum(ct * lax.dot_general(da, b, dn)), np.sum(ga * da),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.sum(ct * lax.dot_general(a, db, dn)), np.sum(gb * db),
                               rtol=1e-10, atol=1e-10)


def _take(x, i, axis):
    return x if axis is None else np.take(x, i, axis=axis)


def _assert_vmap_matches_loop(f, args, in_axes, size):
    out = ft.vmap(f, in_axes=in_axes)(*args)
    loop = np.stack([f(*[_take(a, i, ax) for a, ax in zip(args, in_axes)])
                     for i in range(size)])
    np.testing.assert_allclose(out, loop, rtol=1e-10, atol=1e-10)


def _batched(rng, shape, axis, size=3):
    if axis is None:
        return _rand(rng, shape)
    return np.moveaxis(_rand(rng, (size,) + shape), 0, axis)


VMAP_AXES = [(0, 0), (1, 1), (-1, -1), (0, None), (None, 0), (1, None), (None, -1), (-1, 0),
             (None, 1), (2, None), (None, 2)]


@given(dot_problems())
def test_dot_general_vmap(problem):
    lhs_shape, rhs_shape, dn, _ = problem
    rng = np.random.RandomState(3)
    f = lambda a, b: lax.dot_general(a, b, dn)  # noqa: E731
    for in_axes in VMAP_AXES:
        if any(ax is not None and ax > len(s) for ax, s in zip(in_axes, (lhs_shape, rhs_shape))):
            continue
        a = _batched(rng, lhs_shape, in_axes[0])
        b = _batched(rng, rhs_shape, in_axes[1])
        _assert_vmap_matches_loop(f, (a, b), in_axes, 3)
        ft.check_jaxpr(ft.make_jaxpr(ft.vmap(f, in_axes=in_axes))(a, b))


def test_vmap_of_grad_and_grad_of_vmap():
    rng = np.random.RandomState(4)
    w = _rand(rng, (4, 3))
    xs = _rand(rng, (5, 2, 4))

    def loss(w, x):
        return lax.reduce_sum(lax.tanh(lax.dot_general(x, w, (((1,), (0,)), ((), ())))), (0, 1))

    per_example = ft.vmap(ft.grad(loss), in_axes=(None, 0))(w, xs)
    loop = np.stack([ft.grad(loss)(w, x) for x in xs])
    np.testing.assert_allclose(per_example, loop, rtol=1e-12)
    total = ft.grad(lambda w: lax.reduce_sum(ft.vmap(loss, in_axes=(None, 0))(w, xs), (0,)))(w)
    np.testing.assert_allclose(total, loop.sum(0), rtol=1e-12)


def test_matmul_gradient_needs_no_transposes():
    rng = np.random.RandomState(5)
    x, w = _rand(rng, (3, 4)), _rand(rng, (4, 5))
    closed = ft.make_jaxpr(ft.grad(
        lambda x, w: lax.reduce_sum(lax.dot(x, w), (0, 1)), argnums=(0, 1)))(x, w)
    ft.check_jaxpr(closed)
    prims = [e.primitive for e in closed.eqns]
    assert prims.count(dot_general_p) == 2
    assert transpose_p not in prims
    gx, gw = ft.grad(lambda x, w: lax.reduce_sum(lax.dot(x, w), (0, 1)), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, np.ones((3, 5)) @ w.T)
    np.testing.assert_allclose(gw, x.T @ np.ones((3, 5)))


def test_integer_and_bool_operands():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = lax.dot(a, b)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, a @ b)
    p = np.array([[True, False], [False, False]])
    assert lax.dot(p, p).dtype == np.bool_


def test_preferred_element_type():
    a = np.full((2, 3), 100, np.int8)
    out = lax.dot_general(a, a, (((1,), (1,)), ((), ())), preferred_element_type=np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.full((2, 2), 30000, np.int32))
    x = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    closed = ft.make_jaxpr(lambda x: lax.dot_general(
        x, x, (((1,), (1,)), ((), ())), preferred_element_type=np.float64))(x)
    ft.check_jaxpr(closed)
    assert closed.out_avals[0].dtype == np.float64
    g = ft.grad(lambda x: lax.reduce_sum(lax.dot_general(
        x, x, (((1,), (1,)), ((), ())), preferred_element_type=np.float64), (0, 1)))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * np.ones((2, 2)) @ x, rtol=1e-6)


def test_dot_general_jaxpr_and_no_op_preferred_type():
    x = np.ones((2, 3))
    closed = ft.make_jaxpr(lambda x: lax.dot_general(
        x, x, (((1,), (1,)), ((), ())), preferred_element_type=np.float64))(x)
    assert "preferred_element_type=None" in str(closed)
    eqn = closed.eqns[0]
    assert eqn.params["dimension_numbers"] == (((1,), (1,)), ((), ()))


def test_contracting_size_mismatch_names_both_shapes():
    with pytest.raises(TypeError, match=r"\(2, 3\).*\(4, 5\)"):
        lax.dot_general(np.ones((2, 3)), np.ones((4, 5)), (((1,), (0,)), ((), ())))
    with pytest.raises(TypeError, match="contracting"):
        lax.dot(np.ones((2, 3)), np.ones((4, 5)))


def test_other_errors():
    with pytest.raises(TypeError, match=r"batch dimensions must have equal sizes.*\(2, 3\)"):
        lax.dot_general(np.ones((2, 3)), np.ones((3, 3)), (((1,), (1,)), ((0,), (0,))))
    with pytest.raises(TypeError, match="equal dtypes.*float32.*float64"):
        lax.dot(np.ones(3, np.float32), np.ones(3))
    with pytest.raises(TypeError, match="distinct axes"):
        lax.dot_general(np.ones((2, 3)), np.ones((3, 2)), (((1, 1), (0, 0)), ((), ())))
    with pytest.raises(TypeError, match="as many contracting"):
        lax.dot_general(np.ones((2, 3)), np.ones((3, 2)), (((1,), ()), ((), ())))
    with pytest.raises(TypeError, match="rank-1 or rank-2"):
        lax.dot(np.ones((2, 2, 2)), np.ones(2))


def test_dot_vector_forms():
    rng = np.random.RandomState(6)
    v, m = _rand(rng, 3), _rand(rng, (3, 4))
    np.testing.assert_allclose(lax.dot(v, v), v @ v)
    np.testing.assert_allclose(lax.dot(v, m), v @ m)
    np.testing.assert_allclose(lax.dot(m.T, v), m.T @ v)
    ft.check_grads(lambda v, m: lax.dot(v, m), (v, m), order=2)


def test_dot_general_takes_jax_positional_precision_and_empty_axes():
    a, b = np.ones((2, 3, 0)), np.ones((2, 0, 4))
    out = lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,))), None, np.float32)
    assert out.shape == (2, 3, 4) and out.dtype == np.float32 and not out.any()
    np.testing.assert_array_equal(lax.dot(np.eye(2), np.ones(2), precision="highest"),
                                  np.ones(2))
