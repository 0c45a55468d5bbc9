"""The eager reverse-mode tape (``functrace.eager_vjp``) against the staged path.

``grad``/``vjp``/``jacrev`` outside any transformation run on a tape of cached per-primitive
programs instead of JVP + partial evaluation + transposition of a linear jaxpr. Both must give
bit-identical results, the same errors and the same JAX semantics (Python control flow on
primal values, conversions of differentiated values raising, nested transformations, custom
rules, control-flow primitives, checkpoint).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from program_strategies import F64, default_op_kinds, programs_with_inputs

import functrace as ft
import functrace.numpy as fnp
from functrace import core, eager_vjp, lax
from functrace.tree_util import tree_flatten

REVERSE = default_op_kinds(reverse_mode=True)


@contextlib.contextmanager
def staged():
    """Run the block with the fast path off (the staged reference)."""
    eager_vjp.enabled = False
    try:
        yield
    finally:
        eager_vjp.enabled = True


def _leaves(tree):
    return [np.asarray(x) for x in tree_flatten(tree)[0]]


def _kind(x) -> str:
    return "array" if isinstance(x, np.ndarray) and x.ndim else "scalar"


def assert_same(fast, ref):
    """Bit-identical pytrees: same structure, dtypes, shapes and bits (NaNs included).

    A 0-d result may be a Python scalar on one path and a NumPy scalar on the other (the
    staged transposition reads weakly typed literals as NumPy scalars; for cotangents given
    as Python scalars the results differ in that way only)."""
    fl, ft_ = tree_flatten(fast), tree_flatten(ref)
    assert fl[1] == ft_[1]
    for a, b in zip(fl[0], ft_[0]):
        assert _kind(a) == _kind(b)
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), (a, b)


def both(fn, *args, **kwargs):
    """``fn(*args)`` on the fast path and on the staged path; checks they agree bitwise."""
    fast = fn(*args, **kwargs)
    with staged():
        ref = fn(*args, **kwargs)
    assert_same(fast, ref)
    return fast


def uses_fast_path(fn, *args) -> bool:
    """Whether ``fn(*args)`` records an eager tape (spies on ``eager_linearize``)."""
    calls = []
    orig = eager_vjp.eager_linearize

    def spy(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    eager_vjp.eager_linearize = spy
    try:
        fn(*args)
    finally:
        eager_vjp.eager_linearize = orig
    return bool(calls)


def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# --- random programs ---------------------------------------------------------------------------


@settings(max_examples=40)
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=20, op_kinds=REVERSE))
def test_random_programs_grad_bit_identical(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    keep = [n for n, v in enumerate(prog.out_vals) if v.dtype.kind == "f"]
    assume(keep)
    fun = prog.function(fnp)

    def total(*xs):
        outs = fun(*xs)
        return sum(fnp.sum(o) for n, o in enumerate(outs) if n in keep)

    both(ft.value_and_grad(total, argnums=tuple(range(len(args)))), *args)


@settings(max_examples=15)
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=10, op_kinds=REVERSE))
def test_random_programs_jacrev_and_vjp_bit_identical(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    keep = [n for n, v in enumerate(prog.out_vals) if v.dtype.kind == "f"]
    assume(keep)
    fun = prog.function(fnp)
    f = lambda *xs: tuple(o for n, o in enumerate(fun(*xs)) if n in keep)  # noqa: E731
    both(ft.jacrev(f, argnums=tuple(range(len(args)))), *args)

    def pulled(*xs):
        out, vjp_fn = ft.vjp(f, *xs)
        return out, vjp_fn(tuple(fnp.ones_like(o) * 0.5 for o in out))

    both(pulled, *args)


# --- the benchmark function and friends ------------------------------------------------------


def test_rosenbrock_takes_the_fast_path_and_matches():
    x = np.array([1.5, -0.5])
    g = both(ft.grad(rosenbrock), x)
    np.testing.assert_allclose(g, [1651.0, -550.0])
    assert uses_fast_path(ft.grad(rosenbrock), x)
    with staged():
        assert not uses_fast_path(ft.grad(rosenbrock), x)


def test_repeated_calls_reuse_the_cache_and_agree():
    f = ft.grad(lambda x: fnp.sum(fnp.tanh(x) * fnp.exp(-x * x)))
    xs = [np.linspace(-2, 2, 5), np.linspace(-1, 3, 5), np.linspace(0, 1, 3)]
    for x in xs * 2:
        both(f, x)


# --- API surface: argnums, has_aux, pytrees, value_and_grad, vjp ----------------------------


def test_argnums_has_aux_and_pytrees():
    params = {"w": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": [np.array([0.1, 0.2]), 1.5]}
    x = np.array([0.3, -0.7])

    def loss(p, x, scale):
        h = fnp.tanh(p["w"] @ x + p["b"][0]) * p["b"][1]
        return scale * fnp.sum(h ** 2), {"h": h, "n": 3}

    for argnums in (0, 1, (0, 1), (1, 0)):
        g, aux = both(ft.grad(loss, argnums=argnums, has_aux=True), params, x, 2.0)
        assert isinstance(aux["h"], np.ndarray) and aux["n"] == 3
    (v, aux), g = both(ft.value_and_grad(loss, has_aux=True), params, x, 2.0)
    assert np.ndim(v) == 0 and set(g) == {"w", "b"}
    assert uses_fast_path(ft.grad(loss, has_aux=True), params, x, 2.0)


def test_vjp_function_reused_and_under_other_transformations():
    f = lambda x, y: (fnp.sin(x) * y, fnp.sum(fnp.exp(y) * x))  # noqa: E731
    x, y = np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5])
    out, vjp_fn = ft.vjp(f, x, y)
    with staged():
        out_ref, vjp_ref = ft.vjp(f, x, y)
    assert_same(out, out_ref)
    ct = (np.array([1.0, 2.0, 3.0]), 0.5)
    assert_same(vjp_fn(ct), vjp_ref(ct))
    assert_same(vjp_fn(ct), vjp_fn(ct))  # the tape can be transposed again
    # the recorded vjp under vmap, jit and make_jaxpr: cotangents are tracers there
    cts = (np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0]))
    assert_same(ft.vmap(vjp_fn)(cts), ft.vmap(vjp_ref)(cts))
    np.testing.assert_allclose(ft.jit(vjp_fn)(ct)[0], vjp_ref(ct)[0], rtol=1e-14)
    jaxpr = ft.make_jaxpr(vjp_fn)(ct)
    core.check_jaxpr(jaxpr.jaxpr)
    # and differentiated: grad of a function that calls the recorded vjp_fn
    gg = ft.grad(lambda c: fnp.sum(vjp_fn((c, 0.5))[0]))(ct[0])
    gg_ref = ft.grad(lambda c: fnp.sum(vjp_ref((c, 0.5))[0]))(ct[0])
    np.testing.assert_allclose(gg, gg_ref, rtol=1e-14)


def test_jacrev_and_hessian():
    w = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]])
    f = lambda x: fnp.tanh(w @ x) + x[:2] ** 2  # noqa: E731
    x = np.array([0.2, -0.4, 0.9])
    both(ft.jacrev(f), x)
    both(ft.hessian(lambda x: fnp.sum(fnp.sin(x) * x[::-1])), x)


def test_integer_and_complex_inputs():
    def f(x, n, z):
        return fnp.sum(x ** n) + fnp.real(fnp.sum(z * fnp.conj(z) * x[0]))

    x, n, z = np.array([1.0, 2.0]), 3, np.array([1 + 2j, -0.5j])
    both(ft.grad(f, argnums=(0, 2)), x, n, z)
    both(ft.grad(lambda z: fnp.sum(z * z), holomorphic=True), z)
    with pytest.raises(TypeError, match="inexact|real- or complex"):
        ft.grad(lambda k: k * 2)(np.array(3))


def test_float32_and_weak_scalars_keep_their_types():
    x32 = np.array([0.5, 1.5], np.float32)
    g = both(ft.grad(lambda x: fnp.sum(fnp.exp(x) * 2.0 + x * x)), x32)
    assert g.dtype == np.float32
    f = ft.grad(lambda s: s * s * 3.0 + fnp.sin(s))
    g = both(f, 0.7)
    with staged():
        assert type(g) is type(f(0.7)) and np.ndim(g) == 0
    both(ft.grad(lambda s, x: fnp.sum(s * x), argnums=(0, 1)), 2.0, x32)


# --- JAX semantics inside eager grad -------------------------------------------------------


def test_python_control_flow_on_primal_values():
    def f(x):
        total = 0.0
        for i in range(3):
            if fnp.sum(x) > i:  # bool() of a primal value is allowed under grad
                total = total + fnp.sum(x ** (i + 1))
            else:
                total = total - fnp.sum(fnp.cos(x))
        n = int(x.shape[0] + fnp.argmax(x))  # int() too
        return total * n

    for x in (np.array([0.5, 1.2]), np.array([-1.0, 0.1])):
        both(ft.grad(f), x)


def test_converting_a_differentiated_value_raises():
    with pytest.raises(fnp.ConcretizationTypeError, match="float"):
        ft.grad(lambda x: float(x) * 2)(1.0)
    with pytest.raises(fnp.ConcretizationTypeError, match="NumPy array"):
        ft.grad(lambda x: fnp.sum(np.asarray(x)))(np.ones(2))
    # a value that does not depend on the input converts fine
    assert ft.grad(lambda x: x * float(fnp.sum(np.ones(2))))(1.0) == 2.0


def test_tracer_repr_and_escaped_tracer_error():
    seen, leaked = [], []

    def f(x):
        seen.append(repr(x))
        leaked.append(x)
        return fnp.sum(x)

    ft.grad(f)(np.ones(2))
    assert seen == ["Traced<f64[2]>with<JVPTrace>"]
    with pytest.raises(core.UnexpectedTracerError, match="finished jvp/grad"):
        leaked[0] + 1.0


def test_nested_grad_and_transformations_inside():
    f = lambda x: fnp.sin(x) * x ** 3  # noqa: E731
    both(ft.grad(ft.grad(f)), 0.4)
    both(ft.grad(ft.grad(ft.grad(f))), 0.4)
    x = np.array([0.1, 0.5, -0.3])
    both(ft.grad(lambda x: fnp.sum(ft.vmap(ft.grad(f))(x) * x)), x)
    both(ft.grad(lambda x: fnp.sum(ft.jit(lambda y: fnp.tanh(y) * y)(x))), x)
    both(ft.grad(lambda x: fnp.sum(ft.jacfwd(lambda y: fnp.sin(y) * y[0])(x))), x)
    # jvp and linearize outside and inside grad
    both(lambda x: ft.jvp(ft.grad(lambda y: fnp.sum(f(y))), (x,), (fnp.ones_like(x),)), x)
    both(ft.grad(lambda x: ft.jvp(f, (x,), (2.0,))[1]), 0.3)


def test_custom_jvp_and_custom_vjp():
    @ft.custom_jvp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    @softplus.defjvp
    def _jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * (1 / (1 + fnp.exp(-x)))

    @ft.custom_vjp
    def clip_grad(x, c):
        return x * c

    def fwd(x, c):
        return x * c, (c,)

    def bwd(res, g):
        (c,) = res
        return (fnp.clip(g * c, -1.0, 1.0), fnp.sum(g))

    clip_grad.defvjp(fwd, bwd)
    x = np.array([-2.0, 0.5, 3.0])
    both(ft.grad(lambda x: fnp.sum(softplus(x) * x)), x)
    both(ft.grad(lambda x: fnp.sum(clip_grad(x, fnp.sum(x)) ** 2)), x)
    both(ft.grad(lambda x: fnp.sum(clip_grad(softplus(x), x[1]))), x)
    both(ft.grad(ft.grad(lambda s: softplus(s) * s)), 0.3)


def test_checkpoint_and_control_flow_primitives():
    def body(c, x):
        return c * fnp.sin(x) + x, c * x

    def f(x):
        y = ft.checkpoint(lambda z: fnp.exp(fnp.sin(z)) * z)(x)
        c, ys = lax.scan(body, fnp.sum(y), x)
        z = lax.cond(c > 0, lambda a: a * 2.0, lambda a: fnp.cos(a), ys)
        w = lax.fori_loop(0, 3, lambda i, a: a * 0.5 + fnp.sin(a), z)
        return fnp.sum(w) + c

    x = np.array([0.3, -0.2, 0.8])
    both(ft.grad(f), x)
    both(ft.jacrev(lambda x: lax.switch(1, [fnp.sin, fnp.cos, fnp.tanh], x)), x)
    with pytest.raises(Exception, match="while_loop|reverse"):
        ft.grad(lambda x: lax.while_loop(lambda c: c < 3.0, lambda c: c * 2.0, x))(1.0)


# --- errors and debugging ----------------------------------------------------------------------


def test_shape_errors_name_the_user_line():
    def bad(x):
        return fnp.sum(x[:2] + x)  # BAD:shape

    for mode in ("fast", "staged"):
        with contextlib.ExitStack() as stack:
            if mode == "staged":
                stack.enter_context(staged())
            with pytest.raises(ValueError, match="test_eager_fast_path.py") as info:
                ft.grad(bad)(np.ones(3))
        assert "shape" in str(info.value) or "broadcast" in str(info.value)


def test_debug_nans_uses_the_staged_path_and_names_the_line():
    ft.config.update("debug_nans", True)
    try:
        assert not uses_fast_path(ft.grad(lambda x: fnp.sum(fnp.log(x))), np.ones(2))
        with pytest.raises(FloatingPointError, match="log.*test_eager_fast_path"):
            ft.grad(lambda x: fnp.sum(fnp.log(x - 1.0)))(np.zeros(2))  # NaN in the forward pass
    finally:
        ft.config.update("debug_nans", False)


def test_replaced_rules_are_not_served_from_the_cache(monkeypatch):
    from functrace import ad
    from functrace.ops import elementwise as ew
    f = ft.grad(lambda x: fnp.sum(fnp.sin(x)))
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(f(x), np.cos(x))
    monkeypatch.setitem(ad.jvp_rules, ew.sin_p,
                        lambda primals, tangents: (ew.sin_p.bind(*primals), tangents[0] * 3.0))
    np.testing.assert_allclose(f(x), [3.0, 3.0])
    monkeypatch.undo()
    np.testing.assert_allclose(f(x), np.cos(x))


def test_inside_jit_and_make_jaxpr_the_staged_path_runs():
    g = ft.grad(rosenbrock)
    x = np.array([1.5, -0.5])
    assert not uses_fast_path(ft.jit(g), x)
    assert not uses_fast_path(ft.make_jaxpr(g), x)
    np.testing.assert_allclose(ft.jit(g)(x), g(x), rtol=1e-13)


def _mixed(x):
    y = fnp.sin(x) * x[::-1] + fnp.exp(-x * x)
    return fnp.sum(fnp.tanh(y) @ fnp.outer(x, y))


def test_backward_programs_that_cannot_be_traced_run_on_values(monkeypatch):
    monkeypatch.setattr(eager_vjp, "_entries", {})
    monkeypatch.setattr(eager_vjp, "_build_bwd", lambda entry, key: (None, None))
    both(ft.grad(_mixed), np.array([0.2, -0.4, 0.9]))


def test_applications_outside_the_cache_use_the_general_path(monkeypatch):
    def no_entry(*a, **k):
        raise NotImplementedError("pretend the rules need values")

    monkeypatch.setattr(eager_vjp, "_entries", {})
    monkeypatch.setattr(eager_vjp, "_build_entry", no_entry)
    x = np.array([0.2, -0.4, 0.9])
    both(ft.grad(_mixed), x)
    both(ft.jacrev(lambda x: fnp.sin(x) * x[0]), x)
    assert all(v is eager_vjp._FALLBACK for v in eager_vjp._entries.values())


def test_identity_constant_and_unused_inputs():
    both(ft.grad(lambda x: x), 1.5)
    both(ft.grad(lambda x: 3.0), 1.5)
    both(ft.grad(lambda x, y: fnp.sum(x * 2.0), argnums=(0, 1)), np.ones(2), np.ones(3))
    both(ft.value_and_grad(lambda x: fnp.sum(lax.stop_gradient(x) * x)), np.arange(3.0))
    both(lambda x: ft.vjp(lambda a: (a, a * 2.0, a), x)[1]((1.0, 2.0, 3.0)), 0.5)
