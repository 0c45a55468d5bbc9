"""Structured control flow (cond, switch, while_loop, fori_loop, scan, map): values against
Python loops and closed forms, derivatives (check_grads, closed forms of discrete schemes,
unrolled references), vmap against loops over the batch, the staged programs, and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import core, lax
from functrace.control_flow import cond, fori_loop, scan, switch, while_loop
from functrace.control_flow import map as lmap
from functrace.core import ClosedJaxpr
from functrace.tree_util import tree_flatten, tree_map

RNG = np.random.RandomState(0)


def _eqn_names(closed) -> list[str]:
    return [e.primitive.name for e in closed.jaxpr.eqns]


_CONTROL_FLOW = {"cond", "while", "scan"}


def _assert_params_hold_no_arrays(jaxpr):
    """Control-flow sub-jaxprs never carry constants (they are operands), at any depth."""
    for eqn in jaxpr.eqns:
        for sub in core.subjaxprs(eqn.params):
            if eqn.primitive.name in _CONTROL_FLOW:
                assert isinstance(sub, ClosedJaxpr) and not sub.consts, eqn.primitive
            _assert_params_hold_no_arrays(sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub)


def _traced_ok(f, *args):
    """make_jaxpr + check_jaxpr, and the staged program computes what ``f`` does."""
    closed = ft.make_jaxpr(f)(*args)
    ft.check_jaxpr(closed)
    _assert_params_hold_no_arrays(closed.jaxpr)
    flat_args, _ = tree_flatten(args)
    got = ft.eval_jaxpr(closed.jaxpr, closed.consts, *flat_args)
    want, _ = tree_flatten(f(*args))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    return closed


def _loop_vmap(f, in_axes, *args):
    """The reference for vmap: a Python loop over the batch, results stacked."""
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)])
            for i in range(size)]
    return tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


def _assert_vmap_matches(f, in_axes, *args):
    got = ft.vmap(f, in_axes)(*args)
    want = _loop_vmap(f, in_axes, *args)
    for g, w in zip(tree_flatten(got)[0], tree_flatten(want)[0]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    closed = ft.make_jaxpr(ft.vmap(f, in_axes))(*args)
    ft.check_jaxpr(closed)
    _assert_params_hold_no_arrays(closed.jaxpr)


def _batched(base: np.ndarray, axis: int | None):
    """``base`` (batch axis first) with its batch axis moved to ``axis``."""
    return base[0] if axis is None else np.moveaxis(base, 0, axis)


# ---------------------------------------------------------------------------------------------
# cond and switch
# ---------------------------------------------------------------------------------------------


def _branchy(p, x):
    return cond(p > 0, lambda x: fnp.sin(x) * p, lambda x: x * x + p, x)


def test_cond_values_both_branches_and_pytrees():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(_branchy(2.0, x), np.sin(x) * 2)
    np.testing.assert_allclose(_branchy(-2.0, x), x * x - 2)
    out = cond(True, lambda a, b: {"s": a + b["v"], "t": (a, b["v"])},
               lambda a, b: {"s": a - b["v"], "t": (b["v"], a)}, 1.0, {"v": 3.0})
    assert out["s"] == 4.0 and out["t"] == (1.0, 3.0)
    # integer predicates: nonzero is true
    assert cond(np.int32(7), lambda: 1.0, lambda: 2.0) == 1.0
    assert cond(0, lambda: 1.0, lambda: 2.0) == 2.0


def test_cond_runs_only_the_chosen_branch():
    with np.errstate(all="raise"):  # log(-1) would raise if the false branch ran
        assert cond(True, lambda x: x * 2, lambda x: fnp.log(x), -1.0) == -2.0
        assert cond(-3.0 < 0, lambda x: -x, lambda x: fnp.log(x), -3.0) == 3.0


def test_cond_python_scalar_outputs_are_weakly_typed():
    x = np.float32(2.0)
    out = cond(False, lambda x: x, lambda x: 0.0, x)
    assert out == 0.0 and np.asarray(out).dtype == np.float32
    out = switch(0, [lambda x: 1, lambda x: x * 3], x)
    assert out == 1.0 and np.asarray(out).dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):  # a NumPy float64 is not weak
        cond(True, lambda x: x, lambda x: np.float64(0.0), x)


def test_cond_is_one_equation_holding_both_branches():
    closed = _traced_ok(_branchy, 1.5, np.ones(3))
    (eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "cond"]
    assert len(eqn.params["branches"]) == 2
    assert [a.shape for a in eqn.params["branches"][1].out_avals] == [(3,)]


def test_cond_closes_over_traced_values():
    def f(x, y):
        return cond(x > y, lambda: x * y, lambda: x - fnp.exp(y))

    _traced_ok(f, 2.0, 1.0)
    np.testing.assert_allclose(ft.grad(f, (0, 1))(2.0, 1.0), (1.0, 2.0))
    np.testing.assert_allclose(ft.grad(f, (0, 1))(0.5, 1.0), (1.0, -np.e))


def test_switch_clamps_index_like_jax():
    branches = [lambda x: x, lambda x: x * 10.0, lambda x: x - 100.0]
    got = [switch(i, branches, 1.0) for i in (-5, 0, 1, 2, 3, 99)]
    np.testing.assert_allclose(got, [1.0, 1.0, 10.0, -99.0, -99.0, -99.0])
    assert switch(3, [lambda x: x + 1.0], 1.0) == 2.0  # one branch: just call it
    assert _traced_ok(lambda i, x: switch(i, branches, x), 2, 1.0)


@pytest.mark.parametrize("p", [1.3, -0.7])
def test_cond_grads(p):
    x = np.array([0.3, -0.8, 1.1])
    ft.check_grads(_branchy, (p, x), order=2)
    # closed form
    g = ft.grad(lambda x: fnp.sum(_branchy(p, x)))(x)
    np.testing.assert_allclose(g, np.cos(x) * p if p > 0 else 2 * x)


def test_cond_grads_with_different_residuals_and_passthrough_outputs():
    def f(x, y):
        a, b = cond(fnp.sum(x) > 0,
                    lambda x, y: (fnp.exp(x) * y, y),  # y passes through untouched
                    lambda x, y: (fnp.sin(x), fnp.tanh(y) * x[0]),
                    x, y)
        return fnp.sum(a) + b

    for x in (np.array([0.4, 0.2]), np.array([-0.4, 0.1])):
        ft.check_grads(f, (x, 0.7), order=2)


@pytest.mark.parametrize("i", [0, 1, 2, 7])
def test_switch_grads(i):
    branches = [lambda x: fnp.sin(x), lambda x: x ** 3, lambda x: fnp.exp(x) * x]
    ft.check_grads(lambda x: switch(i, branches, x), (np.array([0.3, -0.5]),), order=2)


def test_cond_grad_with_integer_operand_and_output():
    def f(x, n):
        y, m = cond(n > 2, lambda x, n: (x * n, n + 1), lambda x, n: (x / n, n - 1), x, n)
        return y * m

    assert ft.grad(f)(2.0, 3) == pytest.approx(3 * 4)
    assert ft.grad(f)(2.0, 2) == pytest.approx(1 / 2 * 1)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_cond_batched_predicate(axis):
    p = np.array([1.0, -2.0, 0.5, -0.1])
    xs = _batched(RNG.randn(4, 3), axis)
    _assert_vmap_matches(_branchy, (0, axis), p, xs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_cond_unbatched_predicate(axis):
    xs = _batched(RNG.randn(4, 3), axis)
    _assert_vmap_matches(_branchy, (None, axis), 1.5, xs)
    _assert_vmap_matches(_branchy, (None, axis), -1.5, xs)
    # the predicate stays a real branch: one cond equation, no select
    names = _eqn_names(ft.make_jaxpr(ft.vmap(_branchy, (None, axis)))(1.5, xs))
    assert "cond" in names and "select_n" not in names


def test_vmap_cond_batched_predicate_becomes_select():
    names = _eqn_names(ft.make_jaxpr(ft.vmap(_branchy))(np.ones(2), np.ones((2, 3))))
    assert "cond" not in names and "select_n" in names


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_switch_batched_index(axis):
    branches = [lambda x: x, lambda x: fnp.sin(x), lambda x: x * x]
    idx = np.array([0, 1, 2, -3, 9])
    xs = _batched(RNG.randn(5, 2), axis)
    _assert_vmap_matches(lambda i, x: switch(i, branches, x), (0, axis), idx, xs)
    if axis is not None:
        _assert_vmap_matches(lambda i, x: switch(i, branches, x), (None, axis), 1, xs)


def test_grad_of_vmapped_cond_and_vmap_of_grad():
    p = np.array([1.0, -2.0, 0.5])
    xs = RNG.randn(3, 2)
    ft.check_grads(lambda p, x: ft.vmap(_branchy)(p, x), (p, xs), order=2)
    per_example = ft.vmap(ft.grad(lambda p, x: fnp.sum(_branchy(p, x)), 1))(p, xs)
    loop = np.stack([ft.grad(lambda p, x: fnp.sum(_branchy(p, x)), 1)(a, b)
                     for a, b in zip(p, xs)])
    np.testing.assert_allclose(per_example, loop, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# while_loop and fori_loop
# ---------------------------------------------------------------------------------------------


def _pow_loop(n, x):
    """x ** n by repeated multiplication, and the number of steps taken."""
    i, y = while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * x), (0, fnp.ones_like(x)))
    return i, y


def test_while_loop_values_and_pytree_carry():
    i, y = _pow_loop(5, np.array([2.0, 0.5]))
    assert i == 5
    np.testing.assert_allclose(y, [32.0, 0.5 ** 5])
    out = while_loop(lambda c: c["k"] > 0, lambda c: {"k": c["k"] - 1, "acc": c["acc"] + c["k"]},
                     {"k": 4, "acc": 0})
    assert out == {"k": 0, "acc": 10}
    assert while_loop(lambda c: c < 0, lambda c: c + 1, 7) == 7  # zero iterations


def test_while_loop_collatz_against_python():
    def steps(n):
        def body(c):
            m, k = c
            m = lax.select(lax.eq(lax.rem(m, 2), 0), lax.div(m, 2), m * 3 + 1)
            return m, k + 1
        return while_loop(lambda c: c[0] != 1, body, (n, 0))[1]

    def py(n):
        k = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            k += 1
        return k

    ns = np.array([1, 6, 7, 27], dtype=np.int64)
    assert [int(steps(n)) for n in ns] == [py(int(n)) for n in ns]
    np.testing.assert_array_equal(ft.vmap(steps)(ns), [py(int(n)) for n in ns])


def test_while_loop_forward_mode_and_linearize():
    def f(x):
        return while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.sin(c[1]) * x + c[1]),
                          (0, x))[1]

    x = np.array([0.3, -0.6])
    ft.check_grads(f, (x,), order=2, modes=("fwd",))
    y, f_jvp = ft.linearize(f, x)
    np.testing.assert_allclose(f_jvp(np.ones(2)), ft.jvp(f, (x,), (np.ones(2),))[1])
    np.testing.assert_allclose(ft.jacfwd(f)(x), np.diag(ft.jvp(f, (x,), (np.ones(2),))[1]))


def test_reverse_mode_through_while_loop_is_a_clear_error():
    def f(x):
        return while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] * x, c[1] + 1.0), (x, 0.0))[0]

    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for "
                                         r"lax.while_loop.*lax.scan.*fori_loop with static"):
        ft.grad(f)(1.1)
    # fori_loop with traced bounds (here: traced by make_jaxpr) is a while_loop too
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work"):
        ft.make_jaxpr(ft.grad(lambda x, n: fori_loop(0, n, lambda i, y: y * x, x)))(1.1, 3)
    # but a while_loop whose result does not depend on x is fine
    assert ft.grad(lambda x: x * while_loop(lambda c: c < 3, lambda c: c + 1, 0))(2.0) == 3.0


def test_fori_loop_static_bounds_is_a_scan_and_reverse_differentiable():
    def f(x):
        return fori_loop(1, 4, lambda i, y: y * x + i, x)

    x = 0.7
    # y1 = x*x + 1, y2 = y1*x + 2, y3 = y2*x + 3
    assert f(x) == pytest.approx(((x * x + 1) * x + 2) * x + 3)
    assert ft.grad(f)(x) == pytest.approx(4 * x ** 3 + 2 * x + 2)
    ft.check_grads(f, (x,), order=2)
    closed = _traced_ok(f, x)
    assert "scan" in _eqn_names(closed) and "while" not in _eqn_names(closed)
    grad_names = _eqn_names(ft.make_jaxpr(ft.grad(f))(x))
    assert grad_names.count("scan") == 2  # forward pass, then the reversed backward pass


def test_fori_loop_traced_bounds_is_a_while_loop():
    f = ft.make_jaxpr(lambda n, x: fori_loop(0, n, lambda i, y: y + i * x, 0.0))
    closed = f(3, 2.0)
    ft.check_jaxpr(closed)
    assert "while" in _eqn_names(closed)
    assert ft.eval_jaxpr(closed.jaxpr, closed.consts, 4, 2.0)[0] == pytest.approx(12.0)
    assert fori_loop(5, 2, lambda i, y: y + 1.0, 0.0) == 0.0  # empty range
    assert fori_loop(np.int32(0), 4, lambda i, y: y + i, np.int32(0)).dtype == np.int32


def test_fori_loop_index_dtype_and_weakly_typed_init():
    seen = []
    fori_loop(0, 2, lambda i, y: (seen.append(i.dtype), y)[1], 0.0)
    assert seen == [np.dtype(np.int64)]
    # a Python-int initial value takes the dtype the body produces (JAX's weak typing)
    out = fori_loop(0, 3, lambda i, acc: acc + np.float32(1.5), 0)
    assert out == pytest.approx(4.5) and np.asarray(out).dtype.kind == "f"


def _euler(k, y0, h, n):
    return fori_loop(0, n, lambda i, y: y + h * (-k * y), y0)


def _rk4(k, y0, h, n):
    def step(i, y):
        f = lambda y: -k * y  # noqa: E731
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return fori_loop(0, n, step, y0)


def test_fori_loop_ode_integration_gradients_match_the_discrete_scheme():
    k, y0, h, n = 0.8, 1.5, 0.1, 20
    # explicit Euler: y_n = y0 (1 - k h)^n
    r = 1 - k * h
    assert _euler(k, y0, h, n) == pytest.approx(y0 * r ** n, rel=1e-12)
    assert ft.grad(_euler)(k, y0, h, n) == pytest.approx(-y0 * n * h * r ** (n - 1), rel=1e-12)
    assert ft.grad(_euler, 1)(k, y0, h, n) == pytest.approx(r ** n, rel=1e-12)
    # RK4: y_n = y0 R(z)^n with z = -k h and R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24
    z = -k * h
    R = 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24
    dR = 1 + z + z ** 2 / 2 + z ** 3 / 6
    assert _rk4(k, y0, h, n) == pytest.approx(y0 * R ** n, rel=1e-12)
    assert ft.grad(_rk4)(k, y0, h, n) == pytest.approx(y0 * n * R ** (n - 1) * dR * -h,
                                                       rel=1e-10)
    ft.check_grads(lambda k: _rk4(k, y0, h, 5), (k,), order=2)
    # one gradient per decay rate, batched
    ks = np.array([0.1, 0.8, 2.0])
    np.testing.assert_allclose(ft.vmap(ft.grad(_euler), (0, None, None, None))(ks, y0, h, n),
                               -y0 * n * h * (1 - ks * h) ** (n - 1), rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_while_loop_batched_termination(axis):
    ns = np.array([0, 3, 1, 5])
    xs = _batched(RNG.rand(4, 2) + 0.5, axis)
    if axis is None:
        _assert_vmap_matches(_pow_loop, (0, None), ns, xs)
    else:
        _assert_vmap_matches(_pow_loop, (0, axis), ns, xs)
        _assert_vmap_matches(_pow_loop, (None, axis), 3, xs)  # same trip count everywhere


def test_vmap_while_loop_batched_termination_runs_until_all_done():
    closed = ft.make_jaxpr(ft.vmap(_pow_loop, (0, None)))(np.array([1, 4]), np.ones(2))
    ft.check_jaxpr(closed)
    (eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "while"]
    assert "reduce_or" in _eqn_names(eqn.params["cond_jaxpr"])  # any example still going
    assert "select_n" in _eqn_names(eqn.params["body_jaxpr"])  # finished ones are frozen


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_fori_loop(axis):
    xs = _batched(RNG.randn(3, 4), axis)

    def f(n, x):
        static = fori_loop(0, 3, lambda i, y: fnp.sin(y) + x * i, x)
        traced = fori_loop(0, n, lambda i, y: y * 0.5 + x, x)
        return static, traced

    _assert_vmap_matches(f, (0, axis), np.array([2, 0, 4]), xs)
    if axis is not None:
        _assert_vmap_matches(f, (None, axis), 2, xs)


# ---------------------------------------------------------------------------------------------
# scan and map
# ---------------------------------------------------------------------------------------------


def test_scan_cumulative_sum_forward_and_reverse():
    xs = np.arange(1.0, 6.0)
    c, ys = scan(lambda c, x: (c + x, c + x), 0.0, xs)
    assert c == 15.0
    np.testing.assert_allclose(ys, np.cumsum(xs))
    c, ys = scan(lambda c, x: (c + x, c + x), 0.0, xs, reverse=True)
    np.testing.assert_allclose(ys, np.cumsum(xs[::-1])[::-1])


def test_scan_without_xs_pytrees_and_none_outputs():
    c, ys = scan(lambda c, _: (c * 2.0, c), 1.0, None, length=4)
    assert c == 16.0
    np.testing.assert_allclose(ys, [1.0, 2.0, 4.0, 8.0])
    carry, ys = scan(lambda c, x: ({"a": c["a"] + x[0], "b": c["b"] * x[1]}, None),
                     {"a": 0.0, "b": np.ones(2)}, (np.arange(3.0), np.full((3, 2), 2.0)))
    assert carry["a"] == 3.0 and ys is None
    np.testing.assert_allclose(carry["b"], [8.0, 8.0])
    c, (y1, y2) = scan(lambda c, x: (c, (x * c, {"k": x})), 2.0, {"u": np.arange(3.0)}["u"])
    np.testing.assert_allclose(y1, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(y2["k"], [0.0, 1.0, 2.0])
    c, ys = scan(lambda c, x: (c, x), 0.0, np.zeros((0, 2)))  # zero-length scan
    assert c == 0.0 and ys.shape == (0, 2)


@given(st.integers(0, 6), st.booleans(), st.integers(1, 3))
def test_scan_matches_python_loop(length, reverse, width):
    xs = np.random.RandomState(length).randn(length, width)

    def step(c, x):
        c = fnp.tanh(c * 0.9 + x)
        return c, fnp.sum(c) * x

    c, ys = scan(step, np.zeros(width), xs, reverse=reverse)
    cr, ysr = np.zeros(width), [None] * length
    for i in (reversed(range(length)) if reverse else range(length)):
        cr = np.tanh(cr * 0.9 + xs[i])
        ysr[i] = cr.sum() * xs[i]
    np.testing.assert_allclose(c, cr, rtol=1e-12)
    np.testing.assert_allclose(ys, np.array(ysr).reshape(length, width), rtol=1e-12)


def test_scan_body_is_traced_once_into_one_equation():
    calls = []

    def step(c, x):
        calls.append(1)
        return c * x, c

    closed = _traced_ok(lambda xs: scan(step, 1.0, xs), np.linspace(1.0, 2.0, 1000))
    assert len(calls) == 2  # make_jaxpr, then the evaluation in _traced_ok: once each
    assert _eqn_names(closed) == ["scan"]
    assert closed.jaxpr.eqns[0].params["length"] == 1000


def test_map_and_closures():
    w = np.array([1.0, -2.0])
    np.testing.assert_allclose(lmap(lambda x: fnp.sum(x * w), np.ones((3, 2))), [-1.0] * 3)
    np.testing.assert_allclose(lmap(lambda x: (x, x * 2), np.arange(3.0))[1], [0.0, 2.0, 4.0])
    ft.check_grads(lambda w, xs: lmap(lambda x: fnp.sin(x * w), xs), (w, RNG.randn(3, 2)),
                   order=2)
    xs = RNG.randn(5, 2)
    for bs in (1, 2, 5, 8):  # full chunks, a remainder, one chunk, fewer slices than a chunk
        np.testing.assert_allclose(lmap(lambda x: fnp.sin(x * w), xs, batch_size=bs),
                                   np.sin(xs * w), rtol=1e-14)
    ft.check_grads(lambda w: lmap(lambda x: fnp.sin(x * w), xs, batch_size=2), (w,), order=1)


def test_checkpointed_scan_body():
    def step(c, x):
        return fnp.sin(c) * x + c, c * x

    xs = np.linspace(0.1, 1.0, 4)
    f = lambda c, xs: fnp.sum(scan(ft.checkpoint(step), c, xs)[1])  # noqa: E731
    g = lambda c, xs: fnp.sum(scan(step, c, xs)[1])  # noqa: E731
    for a, b in zip(ft.grad(f, (0, 1))(0.3, xs), ft.grad(g, (0, 1))(0.3, xs)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    ft.check_grads(f, (0.3, xs), order=2)


def _rnn_params(n_h=3, n_x=2, seed=1):
    rng = np.random.RandomState(seed)
    return {"Wh": rng.randn(n_h, n_h) * 0.5, "Wx": rng.randn(n_x, n_h) * 0.5,
            "b": rng.randn(n_h) * 0.1, "v": rng.randn(n_h)}


def _rnn_scan(params, h0, xs):
    def step(h, x):
        h = fnp.tanh(h @ params["Wh"] + x @ params["Wx"] + params["b"])
        return h, h @ params["v"]

    h, ys = scan(step, h0, xs)
    return fnp.sum(ys ** 2) + fnp.sum(h)


def _rnn_unrolled(params, h0, xs):
    h, total = h0, 0.0
    for x in xs:
        h = fnp.tanh(h @ params["Wh"] + x @ params["Wx"] + params["b"])
        total = total + (h @ params["v"]) ** 2
    return total + fnp.sum(h)


def test_grad_of_scan_rnn_equals_unrolled_python_rnn():
    params, h0, xs = _rnn_params(), np.full(3, 0.1), RNG.randn(6, 2)
    v1, g1 = ft.value_and_grad(_rnn_scan, (0, 1, 2))(params, h0, xs)
    v2, g2 = ft.value_and_grad(_rnn_unrolled, (0, 1, 2))(params, h0, xs)
    assert v1 == pytest.approx(v2, rel=1e-13)
    for a, b in zip(tree_flatten(g1)[0], tree_flatten(g2)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    ft.check_grads(_rnn_scan, (params, h0, xs[:3]), order=2)


def test_scan_rnn_gradient_program_is_well_typed_and_saves_loop_invariants_once():
    params, h0, xs = _rnn_params(), np.full(3, 0.1), RNG.randn(6, 2)
    closed = _traced_ok(ft.grad(_rnn_scan), params, h0, xs)
    scans = [e for e in closed.jaxpr.eqns if e.primitive.name == "scan"]
    assert [e.params["reverse"] for e in scans] == [False, True]
    # the weights are consts of the backward scan, not stacked once per step
    stacked = [v.aval.shape for v in scans[0].outvars]
    assert (6, 3, 3) not in stacked and (6, 2, 3) not in stacked


def test_scan_grads_with_only_carry_or_only_ys_used():
    xs = RNG.randn(4)

    def step(c, x):
        return fnp.sin(c) * x + c, c * x

    ft.check_grads(lambda c, xs: scan(step, c, xs)[0], (0.4, xs), order=2)
    ft.check_grads(lambda c, xs: scan(step, c, xs)[1], (0.4, xs), order=2)
    ft.check_grads(lambda c, xs: scan(step, c, xs, reverse=True), (0.4, xs), order=2)


def test_scan_grad_with_integer_xs_indexing_a_closure():
    w = np.array([0.5, 2.0, -1.0])

    def f(w):
        return scan(lambda c, i: (c * fnp.take(w, i) + fnp.take(w, i), c), 1.0,
                    np.array([0, 2, 1, 2]))[0]

    # c1 = w0 + w0, c2 = c1 w2 + w2, c3 = c2 w1 + w1, c4 = c3 w2 + w2
    ft.check_grads(f, (w,), order=2)


def test_nested_scan_in_scan_and_cond_in_scan():
    def inner(c, x):
        return c * fnp.sin(x) + 1.0, c

    def outer(c, row):
        c2, ys = scan(inner, c, row)
        return c2 * 0.5, fnp.sum(ys)

    X = np.linspace(0.1, 1.0, 6).reshape(2, 3)

    def nested(c, X):
        c, ys = scan(outer, c, X)
        return c + fnp.sum(ys)

    def nested_py(c, X):
        total = 0.0
        for row in X:
            s = 0.0
            for x in row:
                s, c = s + c, c * np.sin(x) + 1.0
            c, total = c * 0.5, total + s
        return c + total

    assert nested(0.3, X) == pytest.approx(nested_py(0.3, X), rel=1e-13)
    ft.check_grads(nested, (0.3, X), order=2)

    def with_cond(c, xs):
        def body(c, x):
            c = cond(x > 0.5, lambda c: c * x, lambda c: fnp.sin(c) + x, c)
            return c, c * c
        return fnp.sum(scan(body, c, xs)[1])

    ft.check_grads(with_cond, (0.3, np.array([0.1, 0.7, 0.3, 0.9])), order=2)
    _traced_ok(ft.grad(with_cond), 0.3, np.array([0.1, 0.7]))


def test_scan_inside_cond_and_fori_inside_scan():
    def f(x):
        return cond(fnp.sum(x) > 0, lambda x: scan(lambda c, y: (c * y, c), 1.0, x)[0],
                    lambda x: fnp.sum(x), x)

    ft.check_grads(f, (np.array([0.5, 1.5, 0.7]),), order=2)

    def g(a, xs):
        return scan(lambda c, x: (fori_loop(0, 3, lambda i, y: y * x + a, c), c), 1.0, xs)[0]

    ft.check_grads(g, (0.3, np.array([0.5, -0.2])), order=2)


def test_hessian_of_scan_matches_forward_over_forward():
    def f(x):
        c, ys = scan(lambda c, xi: (fnp.sin(c) * xi + c, c * xi), x[0], x[1:])
        return c + fnp.sum(ys ** 2)

    x = np.array([0.3, 0.5, -0.4, 0.9])
    np.testing.assert_allclose(ft.hessian(f)(x), ft.jacfwd(ft.jacfwd(f))(x), atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_scan(axis):
    xs = _batched(RNG.randn(3, 5, 2), axis)  # batch 3, length 5, width 2
    c0 = RNG.randn(3, 2)

    def f(c, xs):
        return scan(lambda c, x: (fnp.tanh(c + x), c * x), c, xs)

    _assert_vmap_matches(f, (0, axis), c0, xs)
    if axis is not None:
        _assert_vmap_matches(f, (None, axis), c0[0], xs)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_vmap_map(axis):
    w = RNG.randn(3, 2)
    xs = _batched(RNG.randn(3, 5, 2), axis)

    def f(w, xs):
        return lmap(lambda x: fnp.sin(x * w) + fnp.sum(x), xs)

    _assert_vmap_matches(f, (0, axis), w, xs)
    if axis is not None:
        _assert_vmap_matches(f, (None, axis), w[0], xs)
        _assert_vmap_matches(lambda xs: lmap(fnp.cos, xs, batch_size=2), (axis,), xs)


def test_vmap_of_grad_through_scan_gives_per_example_gradients():
    params, h0 = _rnn_params(), np.zeros(3)
    batch = RNG.randn(4, 5, 2)
    per_ex = ft.vmap(ft.grad(_rnn_scan), (None, None, 0))(params, h0, batch)
    loop = [ft.grad(_rnn_unrolled)(params, h0, x) for x in batch]
    for k in params:
        np.testing.assert_allclose(per_ex[k], np.stack([g[k] for g in loop]), rtol=1e-11,
                                   atol=1e-13)
    # and the other way round
    g = ft.grad(lambda p: fnp.sum(ft.vmap(_rnn_scan, (None, None, 0))(p, h0, batch)))(params)
    for k in params:
        np.testing.assert_allclose(g[k], sum(d[k] for d in loop), rtol=1e-11)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_branch_type_mismatch_errors_name_both_types():
    with pytest.raises(TypeError, match=r"true_fun and false_fun.*f64\[3\].*f64\[2\]"):
        cond(True, lambda: np.zeros(3), lambda: np.zeros(2))
    with pytest.raises(TypeError, match=r"dtype.*f32\[\].*f64\[\]"):
        cond(True, lambda x: x.astype(np.float32), lambda x: x, 1.0)
    with pytest.raises(TypeError, match="pytree structures differ"):
        cond(True, lambda x: (x, x), lambda x: [x, x], 1.0)
    with pytest.raises(TypeError, match=r"branch 0 and branch 2"):
        switch(1, [lambda x: x, lambda x: x, lambda x: (x, x)], 1.0)
    with pytest.raises(TypeError, match="scalar"):
        cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="boolean or integer"):
        cond(1.0, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="integer"):
        switch(1.0, [lambda: 1.0, lambda: 2.0])


def test_carry_type_mismatch_errors():
    with pytest.raises(TypeError, match=r"scan: .*carry.*shape.*f64\[2\]"):
        scan(lambda c, x: (fnp.concatenate([c, c]), x), np.zeros(1), np.zeros(3))
    with pytest.raises(TypeError, match=r"while_loop: body_fun.*dtype.*f32\[\] vs f64\[\]"):
        while_loop(lambda c: c < 3, lambda c: (c + 1).astype(np.float64), np.float32(0))
    with pytest.raises(TypeError, match="pytree structures differ"):
        fori_loop(0, 3, lambda i, c: (c, c), 1.0)
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        while_loop(lambda c: c, lambda c: c + 1, 0.0)
    with pytest.raises(TypeError, match=r"bounds must be integer scalars, got i64\[2\]"):
        fori_loop(0, np.array([1, 2]), lambda i, x: x, 0.0)


def test_scan_argument_errors():
    with pytest.raises(ValueError, match="different leading axis sizes"):
        scan(lambda c, x: (c, None), 0.0, (np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="length"):
        scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match="length=2"):
        scan(lambda c, x: (c, None), 0.0, np.zeros(3), length=2)
    with pytest.raises(TypeError, match="pair"):
        scan(lambda c, x: c, 0.0, np.zeros(3))


def test_functrace_lax_exposes_the_control_flow_functions():
    if not hasattr(lax, "scan"):
        pytest.skip("functrace.lax does not re-export functrace.control_flow yet")
    import functrace.control_flow as cf
    for name in ("cond", "switch", "while_loop", "fori_loop", "scan", "map"):
        assert getattr(lax, name) is getattr(cf, name)


def test_jit_of_control_flow_and_its_gradient_match_eager():
    jit = pytest.importorskip("functrace.jit").jit

    def f(x, n):
        a = cond(fnp.sum(x) > 0, lambda x: fnp.sin(x), lambda x: x * 2.0, x)
        c, ys = scan(lambda c, xi: (c * 0.5 + xi, c), 0.0, a)
        w = while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] * 1.5), (0, c))[1]
        return fori_loop(0, 3, lambda i, y: y + fnp.sum(ys) * i, w)

    def g(x):
        return fnp.sum(scan(lambda c, xi: (fnp.tanh(c + xi), c * xi), 0.1, x)[1])

    x = np.array([0.3, -0.1, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a primitive without native lowering
        for n in (0, 3):
            np.testing.assert_allclose(jit(f)(x, n), f(x, n), rtol=1e-12)
        np.testing.assert_allclose(jit(f)(-x, 2), f(-x, 2), rtol=1e-12)
        np.testing.assert_allclose(jit(ft.grad(g))(x), ft.grad(g)(x), rtol=1e-12)
