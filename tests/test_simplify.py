"""Tests of the program clean-up passes, in particular products with identity matrices.

Each rewrite is checked three ways: the simplified program is well typed (check_jaxpr), it is
smaller or does less (no dense product with the identity left), and it evaluates to the same
values as the program before the pass.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import core
from functrace.simplify import cse_jaxpr, dce_jaxpr, diagonal_jaxpr, identity_constvars, simplify
from functrace.tracing import trace_flat

RNG = np.random.default_rng(0)


def _raw_and_simplified(fun, *args):
    closed, _, _ = trace_flat(fun, args)
    return closed, simplify(closed)


def _cleaned(closed):
    """The program after the clean-up passes other than the diagonal one."""
    return type(closed)(dce_jaxpr(cse_jaxpr(closed.jaxpr)), closed.consts)


def _prims(closed):
    return [e.primitive.name for e in closed.eqns]


def _dense_dots(closed):
    """dot_general equations with a 2-D output (the n^3 products)."""
    return [e for e in closed.eqns
            if e.primitive.name == "dot_general" and e.outvars[0].aval.ndim == 2]


def _assert_same_values(raw, simple, *args):
    core.check_jaxpr(simple)
    flat = [np.asarray(a) for a in args]
    want = core.eval_jaxpr(raw.jaxpr, raw.consts, *flat)
    got = core.eval_jaxpr(simple.jaxpr, simple.consts, *flat)
    assert len(want) == len(got)
    for w, g in zip(want, got):
        assert np.asarray(g).shape == np.asarray(w).shape
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


def jac_fun(w, x):
    return fnp.tanh(w @ x) + x ** 2


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_jacobian_basis_products_become_elementwise(jac):
    w, x = RNG.standard_normal((6, 6)), RNG.standard_normal(6)
    raw, simple = _raw_and_simplified(jac(jac_fun, argnums=1), w, x)
    assert identity_constvars(raw), "the Jacobian basis should be an identity constant"
    # Before: a dense product with the basis; after: none, and no more equations.
    assert _dense_dots(_cleaned(raw))
    assert not _dense_dots(simple)
    assert len(simple.eqns) <= len(_cleaned(raw).eqns)
    _assert_same_values(raw, simple, w, x)
    t = np.tanh(w @ x)
    np.testing.assert_allclose(ft.jit(jac(jac_fun, argnums=1))(w, x),
                               (1 - t * t)[:, None] * w + np.diag(2 * x), rtol=1e-12)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_jacobian_of_matrix_function_matches_closed_form(jac):
    a = RNG.standard_normal((4, 5))

    def f(x):  # R^5 -> R^4, Jacobian a * cos(a @ x)[:, None]
        return fnp.sin(a @ x)

    x = RNG.standard_normal(5)
    raw, simple = _raw_and_simplified(jac(f), x)
    assert not _dense_dots(simple)
    _assert_same_values(raw, simple, x)
    np.testing.assert_allclose(ft.jit(jac(f))(x), np.cos(a @ x)[:, None] * a, rtol=1e-12)


@pytest.mark.parametrize("case", ["eye_rhs", "eye_lhs", "scaled_rhs", "scaled_lhs",
                                  "transposed", "sum_and_neg", "scalar_scale", "3d_operand"])
def test_products_with_diagonals(case):
    n = 4
    a = RNG.standard_normal((3, n)) if case != "3d_operand" else RNG.standard_normal((2, n, 3))
    v, u = RNG.standard_normal(n), RNG.standard_normal(n)
    bodies = {
        "eye_rhs": lambda e, a, v, u: a @ e,
        "eye_lhs": lambda e, a, v, u: e @ a.T,
        "scaled_rhs": lambda e, a, v, u: a @ (e * v[None, :] * u[:, None]),
        "scaled_lhs": lambda e, a, v, u: (e * v) @ a.T,
        "transposed": lambda e, a, v, u: a @ (e * v).T,
        "sum_and_neg": lambda e, a, v, u: a @ (-(e * v) + e - e * u),
        "scalar_scale": lambda e, a, v, u: a @ (e * v[0]),
        "3d_operand": lambda e, a, v, u: fnp.einsum("ijk,jl->ikl", a, e * v),
    }
    body = bodies[case]
    raw, simple = _raw_and_simplified(lambda a, v, u: body(np.eye(n), a, v, u), a, v, u)
    assert "dot_general" in _prims(_cleaned(raw))
    assert "dot_general" not in _prims(simple)
    _assert_same_values(raw, simple, a, v, u)


def test_non_diagonal_products_are_kept():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 4))

    def f(a, b):
        e = np.eye(4)
        return a @ (e + b), a @ (e * b)   # neither operand is diagonal

    raw, simple = _raw_and_simplified(f, a, b)
    assert _prims(simple).count("dot_general") == 2
    _assert_same_values(raw, simple, a, b)


def test_batched_products_with_identity_are_kept():
    a = RNG.standard_normal((2, 3, 3))
    raw, simple = _raw_and_simplified(
        lambda a: fnp.einsum("bij,bjk->bik", a, np.broadcast_to(np.eye(3), (2, 3, 3))), a)
    _assert_same_values(raw, simple, a)


@pytest.mark.parametrize("c,expected", [
    (np.eye(3), True), (np.eye(3, dtype=np.float32), True), (np.eye(3) * 2, False),
    (np.eye(3) + 1e-300, False), (np.eye(3, dtype=np.int64), False), (np.eye(1), False),
    (np.ones((3, 3)), False), (np.eye(3, 4), False)])
def test_identity_detection(c, expected):
    def f(x):
        return x + c

    closed, _, _ = trace_flat(f, (np.zeros(c.shape, c.dtype),))
    assert bool(identity_constvars(closed)) == expected


def test_diagonal_pass_without_identities_changes_nothing():
    closed, _, _ = trace_flat(lambda a, b: a @ b, (np.ones((3, 3)), np.ones((3, 3))))
    out = diagonal_jaxpr(closed.jaxpr, set())
    assert [e.primitive for e in out.eqns] == [e.primitive for e in closed.eqns]


# --- arithmetic identities ---------------------------------------------------------------------


def test_reverse_mode_seed_multiplications_are_dropped():
    x = np.linspace(-1.0, 1.0, 5)
    raw, simple = _raw_and_simplified(ft.grad(lambda x: fnp.sum(fnp.sin(x) * x)), x)
    n_mul = _prims(_cleaned(raw)).count("mul")
    assert _prims(simple).count("mul") < n_mul
    assert len(simple.eqns) < len(_cleaned(raw).eqns)
    _assert_same_values(raw, simple, x)
    np.testing.assert_allclose(ft.jit(ft.grad(lambda x: fnp.sum(fnp.sin(x) * x)))(x),
                               np.cos(x) * x + np.sin(x), rtol=1e-14)


@pytest.mark.parametrize("body,removed", [
    (lambda x: x * fnp.ones_like(x), True),
    (lambda x: fnp.ones_like(x) * x, True),
    (lambda x: x - fnp.zeros_like(x), True),
    (lambda x: x / fnp.ones_like(x), True),
    (lambda x: x + fnp.zeros_like(x), False),       # -0.0 + 0.0 is +0.0: not an identity
    (lambda x: fnp.zeros_like(x) - x, False),
    (lambda x: x * fnp.full_like(x, 2.0), False),
])
def test_identities_are_exact(body, removed):
    x = np.array([-0.0, 0.0, -1.5, np.inf, -np.inf, np.nan, 3.0])
    raw, simple = _raw_and_simplified(body, x)
    arith = {"mul", "sub", "div", "add", "neg"}
    assert any(p in arith for p in _prims(simple)) != removed
    core.check_jaxpr(simple)
    want = core.eval_jaxpr(raw.jaxpr, raw.consts, x)[0]
    got = core.eval_jaxpr(simple.jaxpr, simple.consts, x)[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_complex_multiplication_by_one_is_kept():
    # (1+0j) * (inf+1j) has a NaN imaginary part, so x * 1 is not an identity for complex x
    x = np.array([np.inf + 1j, 1 + 2j])
    _, simple = _raw_and_simplified(lambda x: x * fnp.ones_like(x), x)
    assert "mul" in _prims(simple)


def test_square_has_one_tangent_product():
    from functrace.checking import check_grads
    x = np.linspace(-1.0, 1.0, 5)

    def f(x):
        return fnp.sum(fnp.sin(x * x) * (x * x))

    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    lin = ft.make_jaxpr(lambda x, t: ft.jvp(lambda x: x * x, (x,), (t,)))(x, x)
    assert _prims(lin).count("mul") == 2  # x * x and t * (x + x)
    np.testing.assert_allclose(ft.grad(f)(x), 2 * x * (np.cos(x * x) * x * x + np.sin(x * x)),
                               rtol=1e-13)
