"""``debug_nans`` / ``debug_infs``: the first primitive that produces a NaN (inf) raises
``FloatingPointError`` naming the primitive and the user's line, in eager code and under ``jit``,
in the forward pass and in the backward pass of ``grad``.

Bad operations are on lines tagged ``# BAD:<name>``; messages must name that line of this file.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.config import config

with open(__file__) as _f:
    _SOURCE_LINES = _f.read().splitlines()


def where(tag: str) -> str:
    hits = [i + 1 for i, ln in enumerate(_SOURCE_LINES) if ln.rstrip().endswith(f"# BAD:{tag}")]
    assert len(hits) == 1, tag
    return f"{__file__}:{hits[0]}"


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def log_model(x):
    y = x * 2.0
    z = fnp.log(y - 1.0)  # BAD:log
    return fnp.sum(z * 3.0)


def sqrt_model(x):
    y = fnp.sqrt(x)  # BAD:sqrt
    return y * 0.0  # d/dx = 0 * (1 / (2 sqrt(0))) = 0 * inf = NaN, in the backward pass


def div_model(x):
    return fnp.sum(fnp.divide(1.0, x))  # BAD:div


FORWARD = {"eager": lambda f: f, "jit": ft.jit, "vmap": lambda f: ft.vmap(f),
           "jit_of_vmap": lambda f: ft.jit(ft.vmap(f))}


@pytest.mark.parametrize("mode", list(FORWARD))
def test_forward_nan_names_primitive_and_line(mode):
    f = FORWARD[mode](log_model)
    x = np.array([[2.0, 0.25, 3.0]]) if "vmap" in mode else np.array([2.0, 0.25, 3.0])
    with config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match=r"NaN produced by primitive 'log'") as info:
            f(x)
        assert where("log") in str(info.value)
        assert "debug_nans" in str(info.value)
        # no NaN: the right value, no error
        ok = x + 1.0
        np.testing.assert_allclose(f(ok), FORWARD[mode](log_model)(ok))
    assert np.isnan(f(x)).all()  # off again: NaN results are allowed


GRADS = {
    "grad": lambda f: ft.grad(f),
    "jit_of_grad": lambda f: ft.jit(ft.grad(f)),
    "grad_of_jit": lambda f: ft.grad(ft.jit(f)),
    "vjp": lambda f: (lambda x: ft.vjp(f, x)[1](1.0)[0]),
}


@pytest.mark.parametrize("mode", list(GRADS))
def test_backward_nan_names_primitive_and_forward_line(mode):
    g = GRADS[mode](sqrt_model)
    assert np.isnan(g(0.0))  # as in NumPy/JAX: 0 * inf
    with config.override(debug_nans=True):
        np.testing.assert_allclose(g(4.0), 0.0)  # forward is finite, backward too
        with pytest.raises(FloatingPointError, match=r"NaN produced by primitive '(mul|div)'") \
                as info:
            g(0.0)
        assert where("sqrt") in str(info.value)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_forward_inf(mode):
    f = FORWARD[mode](div_model)
    with config.override(debug_infs=True):
        with pytest.raises(FloatingPointError, match=r"inf produced by primitive 'div'") as info:
            f(np.array([1.0, 0.0]))
        msg = str(info.value)
        assert where("div") in msg
        assert "config.update('debug_infs', False)" in msg
        np.testing.assert_allclose(f(np.array([1.0, 2.0])), 1.5)
    with config.override(debug_nans=True):  # an inf is not a NaN
        assert np.isinf(f(np.array([1.0, 0.0])))


def test_backward_inf_under_jit():
    g = ft.jit(ft.grad(lambda x: fnp.sum(fnp.sqrt(x))))  # BAD:sqrt_inf
    with config.override(debug_infs=True):
        with pytest.raises(FloatingPointError, match="inf produced by primitive") as info:
            g(np.array([1.0, 0.0]))
        assert where("sqrt_inf") in str(info.value)


def test_nan_passed_through_a_compiled_program():
    # no primitive produces it, yet the program's output has one: still reported, as in JAX
    f = ft.jit(lambda x, y: (x, y * 2.0))
    with config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match="NaN in the outputs of the compiled program"):
            f(np.array([np.nan]), np.array([1.0]))
    out = f(np.array([np.nan]), np.array([1.0]))
    assert np.isnan(out[0]).all() and out[1][0] == 2.0


def test_integer_results_are_not_checked():
    with config.override(debug_nans=True, debug_infs=True):
        np.testing.assert_array_equal(ft.jit(lambda x: x // 2)(np.arange(4)), np.arange(4) // 2)
