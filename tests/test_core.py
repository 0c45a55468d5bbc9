"""The IR, its printer and type checker, the reference interpreter and trace levels."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import core, lax
from functrace.core import Eqn, Jaxpr, JaxprTypeError, ShapedArray, Var
from functrace.ops.elementwise import add_p, sin_p


def test_make_jaxpr_prints_typed_equations():
    x = np.ones((2, 3), np.float32)
    closed = ft.make_jaxpr(lambda x: fnp.sum(fnp.tanh(x) * 2.0))(x)
    text = str(closed)
    assert text.splitlines()[0] == "{ lambda ; a:f32[2,3]. let"
    assert "b:f32[2,3] = tanh a" in text
    assert "broadcast_in_dim[broadcast_dimensions=() shape=(2, 3)] 2.0:f32[]" in text
    assert "reduce_sum[axes=(0, 1)]" in text
    assert text.rstrip().endswith("in (e,) }")
    ft.check_jaxpr(closed)


def test_constants_become_constvars_and_scalars_literals():
    w = np.arange(3.0)
    closed = ft.make_jaxpr(lambda x: x * w + 1.0)(np.ones(3))
    assert len(closed.jaxpr.constvars) == 1
    # captured when traced (a copy): mutating w later does not change the program
    np.testing.assert_array_equal(closed.consts[0], w)
    assert closed.consts[0] is not w
    assert str(closed).startswith("{ lambda a:f64[3] ; b:f64[3]. let")
    np.testing.assert_allclose(closed(np.full(3, 2.0))[0], 2 * w + 1)


def test_operations_on_constants_are_staged_not_baked():
    closed = ft.make_jaxpr(lambda x: x + fnp.sin(np.float64(1.0)) * 2.0)(np.ones(4))
    assert any(e.primitive is sin_p for e in closed.eqns)


def test_eval_jaxpr_is_the_numpy_reference():
    x = np.linspace(-1, 1, 5)
    closed = ft.make_jaxpr(lambda x: fnp.exp(x) * fnp.sin(x))(x)
    (out,) = ft.eval_jaxpr(closed.jaxpr, closed.consts, x)
    np.testing.assert_allclose(out, np.exp(x) * np.sin(x))


def test_plain_call_returns_numpy_values():
    x = np.linspace(0, 1, 4, dtype=np.float32)
    out = fnp.sum(fnp.tanh(x) ** 2) if hasattr(fnp, "power") else fnp.sum(fnp.tanh(x))
    assert isinstance(out, (np.ndarray, np.generic))
    assert out.dtype == np.float32


def test_check_jaxpr_rejects_use_before_definition():
    a, b = Var(ShapedArray((3,), np.float64)), Var(ShapedArray((3,), np.float64))
    c = Var(ShapedArray((3,), np.float64))
    bad = Jaxpr([], [a], [c], [Eqn(add_p, [a, b], [c], {})])
    with pytest.raises(JaxprTypeError, match="used before it is defined"):
        ft.check_jaxpr(bad)


def test_check_jaxpr_rejects_wrong_output_type():
    a = Var(ShapedArray((3,), np.float64))
    c = Var(ShapedArray((4,), np.float64))
    bad = Jaxpr([], [a], [c], [Eqn(sin_p, [a], [c], {})])
    with pytest.raises(JaxprTypeError, match="outputs typed"):
        ft.check_jaxpr(bad)


def test_check_jaxpr_rejects_double_definition():
    a = Var(ShapedArray((3,), np.float64))
    bad = Jaxpr([], [a], [a], [Eqn(sin_p, [a], [a], {})])
    with pytest.raises(JaxprTypeError, match="defined twice"):
        ft.check_jaxpr(bad)


def test_shape_rule_errors_are_clear():
    with pytest.raises(TypeError, match=r"equal shapes, got \(3,\), \(4,\)"):
        lax.add(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="equal dtypes, got float32, float64"):
        ft.make_jaxpr(lambda x: lax.add(x, np.ones(3)))(np.ones(3, np.float32))


def test_perturbation_confusion_is_avoided():
    # d/dx [x * d/dy (x + y)] = d/dx [x] = 1; confusing the two tangents would give 2.
    def f(x):
        return x * ft.grad(lambda y: x + y)(np.float64(1.0))

    assert ft.grad(f)(np.float64(2.0)) == pytest.approx(1.0)
    out, t = ft.jvp(f, (np.float64(2.0),), (np.float64(1.0),))
    assert t == pytest.approx(1.0)


def test_nested_levels_grad_of_grad_of_grad():
    def f(x):
        return fnp.sin(x) * x

    x = np.float64(0.7)
    d3 = ft.grad(ft.grad(ft.grad(f)))(x)
    # (x sin x)''' = -3 sin x - x cos x
    assert d3 == pytest.approx(-3 * np.sin(x) - x * np.cos(x))


def test_escaped_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x)
        return fnp.sin(x)

    ft.make_jaxpr(f)(np.ones(2))
    with pytest.raises(core.UnexpectedTracerError, match="Return the value from the function"):
        fnp.sin(leaked[0])


def test_trace_stack_is_per_thread():
    import threading
    results = []

    def work():
        results.append(str(ft.make_jaxpr(lambda x: fnp.exp(x))(np.ones(2))))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and "exp a" in results[0]
    assert core.current_level() == 0


def test_literal_and_printer_names_beyond_z():
    def f(x):
        for _ in range(30):
            x = fnp.sin(x)
        return x

    text = str(ft.make_jaxpr(f)(np.ones(1)))
    assert "aa:f64[1] = sin z" in text and "ab:f64[1] = sin aa" in text
