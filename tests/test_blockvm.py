"""Programs of thousands of elementwise equations run as block-interpreter programs
(``backend/blockvm.py``): compiled in time about linear in their length with a small slope,
same values as the reference interpreter, dtypes kept."""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.backend import blockvm


def _chain(n_ops: int, seed: int = 0):
    """A chain of ``n_ops`` elementwise operations, mixed and with constants that differ
    from step to step (so no two stretches of the program are the same code)."""
    def f(x):
        rng = np.random.default_rng(seed)
        for i in range(n_ops):
            k = int(rng.integers(6))
            if k == 0:
                x = fnp.sin(x)
            elif k == 1:
                x = x * (1.0 + i * 1e-7) + 0.01 * (i % 17)
            elif k == 2:
                x = fnp.tanh(x)
            elif k == 3:
                x = fnp.exp(-x * x)
            elif k == 4:
                x = fnp.where(x > 0.5, x - 0.5, x + 0.25)
            else:
                x = fnp.log1p(x * x) / (1.0 + x * x)
        return x
    return f


def _reference(f, *args):
    with ft.disable_jit():
        return f(*args)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_chain_of_5000_elementwise_operations_compiles_in_seconds():
    f = _chain(5000)
    x = np.linspace(-1.0, 1.0, 1000)
    before = _maxrss_mib()
    t0 = time.perf_counter()
    with ft.config.override(tiered_compile=False):
        got = ft.jit(f)(x)
    took = time.perf_counter() - t0
    assert took < 60, f"tracing and compiling a 5000-operation chain took {took:.1f} s"
    assert _maxrss_mib() - before < 2048
    assert "block_program" in ft.jit(f).lower(x).as_text()
    np.testing.assert_allclose(got, _reference(f, x), rtol=1e-9, atol=1e-12)


@pytest.fixture
def small_segments(monkeypatch):
    """Segment programs from 8 equations on, so that small programs exercise the path."""
    monkeypatch.setattr(blockvm, "MIN_PROGRAM_EQNS", 8)
    monkeypatch.setattr(blockvm, "MIN_SEGMENT_EQNS", 8)


def _mixed(x, y, s):
    # scalars broadcast (s), literals, comparisons, selects, two outputs of which one bool
    a = fnp.exp(-x * x) + s * y
    b = fnp.where(a > y, fnp.tanh(a), fnp.sin(y) - s)
    c = fnp.log1p(b * b) / (1.0 + a * a)
    return c * 2.0 - fnp.maximum(a, b), (c > 0.1) & (a < 1.5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_segments_give_the_interpreters_values_and_keep_dtypes(small_segments, dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5)).astype(dtype)
    y = rng.normal(size=(3, 5)).astype(dtype)
    s = dtype(0.7)
    with ft.config.override(tiered_compile=False):
        jf = ft.jit(_mixed)
        got = jf(x, y, s)
    assert "block_program" in jf.lower(x, y, s).as_text()
    want = _reference(_mixed, x, y, s)
    assert got[0].dtype == want[0].dtype == dtype and got[1].dtype == np.bool_
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got[0], want[0], rtol=tol, atol=tol)
    np.testing.assert_array_equal(got[1], want[1])


def test_gradients_through_segments_match_the_interpreter(small_segments):
    def loss(x, y):
        return fnp.sum(_mixed(x, y, 0.3)[0])

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40,)), rng.normal(size=(40,))
    with ft.config.override(tiered_compile=False):
        jg = ft.jit(ft.value_and_grad(loss, argnums=(0, 1)))
        (v, (gx, gy)) = jg(x, y)
    assert "block_program" in jg.lower(x, y).as_text()
    v0, (gx0, gy0) = _reference(ft.value_and_grad(loss, argnums=(0, 1)), x, y)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(gx, gx0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, gy0, rtol=1e-10, atol=1e-12)


def test_blocks_of_uneven_length_and_programs_sharing_an_interpreter(small_segments):
    # 1000 elements: three full blocks of 256 and one of 232; the second program uses the
    # same operations in another order, so it reuses the first one's interpreter module
    def f(x):
        return fnp.tanh(fnp.exp(-x * x) * 1.5 + 0.25) * fnp.exp(-x) - 0.5 * x

    def g(x):
        return fnp.exp(-x) * 0.5 - fnp.tanh(fnp.exp(x * x) * 1.5 + 0.25) * x

    x = np.linspace(-2, 2, 1000)
    with ft.config.override(tiered_compile=False):
        for fn in (f, g):
            np.testing.assert_allclose(ft.jit(fn)(x), _reference(fn, x), rtol=1e-12,
                                       atol=1e-14)
    src = [e.params["program"].source
           for fn in (f, g)
           for e in blockvm.segment(ft.make_jaxpr(fn)(x)).jaxpr.eqns
           if e.primitive is blockvm.block_program_p]
    assert len(src) == 2 and src[0] == src[1]


def test_short_programs_are_left_to_fused_loops():
    x = np.ones(4)
    closed = ft.make_jaxpr(lambda x: fnp.sin(x) * 2.0 + 1.0)(x)
    assert blockvm.segment(closed) is closed
