"""Control flow under ``jit``: cond, switch, while_loop, fori_loop and scan become native loops
and branches inside one compiled function (no Python, no NumPy fallback, no object mode), the
generated code does not grow with the trip count, and ``scan(..., unroll=k)`` unrolls the body
inside the native loop without changing any result.
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pytest
from jit_check import assert_close, assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
from functrace.control_flow import cond, fori_loop, scan, switch, while_loop
from functrace.jit import jit

FLOATS = [np.float32, np.float64]


def _source(f, *args) -> str:
    return jit(f).lower(*args).as_text()


def _assert_native(src: str) -> None:
    """One njit ``main``: no Python driver, no NumPy fallback, no object mode."""
    assert re.search(r"^@njit\(\(.*\ndef main\(", src, flags=re.M), src
    for python in ("make_main", "_fallback", "objmode", "pyobject"):
        assert python not in src, python


def _strict(f, *args):
    """``assert_jit_matches_interpreter`` with fallback warnings turned into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return assert_jit_matches_interpreter(f, *args)


# ---------------------------------------------------------------------------------------------
# Every control-flow primitive lowers natively
# ---------------------------------------------------------------------------------------------


def _cond_prog(x, p):
    return cond(p > 0, lambda v: fnp.sin(v) * p, lambda v: v * v - p, x)


def _switch_prog(x, i):
    return switch(i, [lambda v: v + 1.0, lambda v: fnp.cos(v), lambda v: v[::-1] * 2.0], x)


def _while_prog(x, n):
    return while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, fnp.tanh(s[1]) + 0.5), (0, x))


def _fori_static(x):
    return fori_loop(0, 5, lambda i, v: v * 0.9 + fnp.sin(v) * i.astype(v.dtype), x)


def _fori_traced(x, n):
    return fori_loop(0, n, lambda i, v: v * 0.9 + fnp.sin(v) * i.astype(v.dtype), x)


def _scan_prog(x, w):
    def body(c, xi):
        c2 = fnp.tanh(c * w + xi)
        return c2, fnp.sum(c2 * c2)
    return scan(body, x[0], x)


def _nested_prog(x, n):
    def body(c, xi):
        c = cond(xi[0] > 0, lambda v: v + xi, lambda v: v - xi, c)
        return fori_loop(0, 2, lambda i, v: v * 0.5 + 1.0, c), fnp.max(c)
    c, ys = scan(body, x[0], x)
    return while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] * 1.1), (0, c))[1], ys


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_control_flow_primitives_compile_to_one_native_function(dtype):
    x = np.linspace(-1.0, 1.0, 4).astype(dtype)
    xs = np.linspace(-1.0, 1.0, 12).reshape(4, 3).astype(dtype)
    w = np.array([0.5, -0.25, 1.5], dtype)
    cases = [(_cond_prog, (x, dtype(0.5))), (_cond_prog, (x, dtype(-0.5))),
             (_switch_prog, (x, np.int32(0))), (_switch_prog, (x, np.int32(2))),
             (_switch_prog, (x, np.int32(7))),  # clamped like JAX
             (_while_prog, (x, np.int64(0))), (_while_prog, (x, np.int64(3))),
             (_fori_static, (x,)), (_fori_traced, (x, np.int64(4))),
             (_scan_prog, (xs, w)), (_nested_prog, (xs, np.int64(2)))]
    for f, args in cases:
        _assert_native(_source(f, *args))
        _strict(f, *args)


def test_loops_are_native_loops_calling_compiled_bodies():
    x = np.linspace(-1.0, 1.0, 4)
    assert re.search(r"^    while sub\d+\(", _source(_while_prog, x, np.int64(3)), re.M)
    src = _source(_scan_prog, np.ones((4, 3)), np.ones(3))
    # the body fills the next carry and this step's slice of the stacked outputs in place
    assert re.search(r"^    for t\d+_ in range\(0, 4, 1\):\n.*\n"
                     r"        (\(.*\) = )?sub\d+\(.*\bn\d+_\)", src, re.M)
    src = _source(_cond_prog, x, 0.5)
    assert re.search(r"^    if ix\d+_ == 0:", src, re.M) and "    else:" in src


def test_gradients_through_scan_and_cond_compile_natively():
    xs = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    w = np.array([0.5, -0.25, 1.5])
    loss = lambda x, w: fnp.sum(_scan_prog(x, w)[1])  # noqa: E731
    _assert_native(_source(ft.grad(loss, argnums=(0, 1)), xs, w))
    _strict(ft.grad(loss, argnums=(0, 1)), xs, w)
    _strict(ft.grad(lambda x, p: fnp.sum(_cond_prog(x, p)), argnums=(0, 1)), xs[0], 0.3)


# ---------------------------------------------------------------------------------------------
# Trip count: neither the code nor the compile time grows with it
# ---------------------------------------------------------------------------------------------


def _rnn(h0, xs, w):
    def body(h, x):
        h = fnp.tanh(w * h + x)
        return h, fnp.sum(h)
    return scan(body, h0, xs)


def _normalised(src: str, length: int) -> str:
    src = re.sub(rf"\b{length}\b", "LENGTH", src)
    return re.sub(rf"\b{length - 1}\b", "LAST", src)  # reversed loops count down from it


def test_generated_code_does_not_depend_on_the_trip_count():
    h0, w = np.zeros(3), np.full(3, 0.5)
    short = _source(_rnn, h0, np.ones((10, 3)), w)
    long = _source(_rnn, h0, np.ones((10_000, 3)), w)
    # the same program up to the literal trip count (so the same compile time)
    assert _normalised(short, 10) == _normalised(long, 10_000)
    assert len(long) - len(short) == 3 * long.count("10000")
    short_g = _source(ft.grad(lambda *a: fnp.sum(_rnn(*a)[1]), argnums=2), h0,
                      np.ones((10, 3)), w)
    long_g = _source(ft.grad(lambda *a: fnp.sum(_rnn(*a)[1]), argnums=2), h0,
                     np.ones((10_000, 3)), w)
    assert _normalised(short_g, 10) == _normalised(long_g, 10_000)


def test_long_scan_runs_natively_and_fast():
    n = 10_000
    h0, w = np.zeros(3), np.full(3, 0.5)
    xs = np.random.RandomState(0).uniform(-1, 1, (n, 3))
    _assert_native(_source(_rnn, h0, xs, w))
    f = jit(_rnn)
    h, ys = f(h0, xs, w)  # compiles
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        h, ys = f(h0, xs, w)
        best = min(best, time.perf_counter() - t0)
    # about 5 ms; the interpreter, with Python in every step, takes about 0.3 s
    assert best < 0.1, best
    _, ys50 = f(h0, xs[:50], w)
    assert_close(ys50, _rnn_numpy(h0, xs[:50], w), rtol=1e-12)
    assert ys.shape == (n,) and np.all(np.isfinite(ys))


def _rnn_numpy(h, xs, w):
    out = []
    for x in xs:
        h = np.tanh(w * h + x)
        out.append(h.sum())
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# scan(..., unroll=k)
# ---------------------------------------------------------------------------------------------


def _unrolled(k, reverse):
    def f(c0, xs, w):
        def body(c, x):
            c = fnp.sin(c * w) + x
            return c, c * 2.0 + fnp.sum(x)
        return scan(body, c0, xs, reverse=reverse, unroll=k)
    return f


def _sum_ys(f):
    return lambda *a: fnp.sum(f(*a)[1])


@pytest.mark.parametrize("reverse", [False, True])
def test_unroll_gives_identical_results(reverse):
    c0, w = np.array([0.1, -0.2]), np.array([1.5, 0.5])
    xs = np.random.RandomState(1).uniform(-1, 1, (7, 2))  # 7: not a multiple of 2 or 3
    base = _unrolled(1, reverse)
    want = assert_jit_matches_interpreter(base, c0, xs, w)
    for k in (2, 3, True):
        f = _unrolled(k, reverse)
        got = _strict(f, c0, xs, w)
        for g, r in zip(got, want):
            np.testing.assert_array_equal(g, r)  # same operations in the same order
        with ft.disable_jit():
            eager = f(c0, xs, w)
        for g, r in zip(eager, want):
            assert_close(g, r)
        # gradients (a reverse scan of the transposed body) keep the factor and agree too
        gk = _strict(ft.grad(_sum_ys(f), argnums=(0, 2)), c0, xs, w)
        g1 = jit(ft.grad(_sum_ys(base), argnums=(0, 2)))(c0, xs, w)
        for g, r in zip(gk, g1):
            assert_close(g, r)


def test_unroll_repeats_the_body_inside_the_native_loop():
    c0, w, xs = np.zeros(2), np.ones(2), np.ones((7, 2))
    calls = {k: len(re.findall(r"(?<!def )\bsub0\(", _source(_unrolled(k, False), c0, xs, w)))
             for k in (1, 3)}
    assert calls == {1: 1, 3: 3 + 1}  # three copies, plus the loop over the remainder
    src = _source(_unrolled(3, True), c0, xs, w)
    assert "range(0, 6, 3)" in src and "range(6, 7)" in src
    jaxpr = ft.make_jaxpr(_unrolled(3, False))(c0, xs, w)
    assert [e.params["unroll"] for e in jaxpr.eqns if e.primitive.name == "scan"] == [3]
    # True: the whole loop (bounded for long loops)
    jaxpr = ft.make_jaxpr(_unrolled(True, False))(c0, np.ones((100, 2)), w)
    assert [e.params["unroll"] for e in jaxpr.eqns if e.primitive.name == "scan"] == [32]
    with pytest.raises(ValueError, match="unroll"):
        scan(lambda c, x: (c, x), 0.0, xs, unroll=0)


def test_fori_loop_passes_unroll_to_its_scan():
    f = lambda x: fori_loop(0, 5, lambda i, v: v * 0.5 + i, x, unroll=2)  # noqa: E731
    jaxpr = ft.make_jaxpr(f)(np.ones(3))
    assert [e.params["unroll"] for e in jaxpr.eqns if e.primitive.name == "scan"] == [2]
    got = _strict(f, np.ones(3))
    assert_close(got, np.asarray(fori_loop(0, 5, lambda i, v: v * 0.5 + i, np.ones(3))))


# ---------------------------------------------------------------------------------------------
# Loop bodies write into buffers allocated once: carries double-buffered, outputs in place
# ---------------------------------------------------------------------------------------------

_W = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]])


def _aliasing_scans(a0, xs, W):
    def new_carry_is_output(c, x):  # ys is the new carry itself
        c = fnp.tanh(c @ W + x)
        return c, c

    def old_carry_is_output(c, x):  # ys is the carry the step reads
        return c * 0.5 + x, c

    def swapped(carry, x):  # carries swap; one passes through to ys, with a 0-d output
        a, b = carry
        return (b @ W, a + x), (a, fnp.sum(b))

    def passthrough(carry, x):  # a carry that never changes, a scalar carry
        a, s = carry
        return (a, s + fnp.sum(x * a)), s

    # odd and even trip counts (their parity picks the buffers) in one program: one compile
    return (scan(new_carry_is_output, a0, xs),
            scan(new_carry_is_output, a0, xs[:2], reverse=True),
            scan(old_carry_is_output, a0, xs[:2], reverse=True),
            scan(swapped, (a0, a0), xs),  # both carries start as one buffer
            scan(swapped, (a0, a0 * 2.0), xs[:2], reverse=True, unroll=2),
            scan(passthrough, (a0, 0.0), xs[:1], unroll=3))


def _numpy_scan(body, carry, xs, reverse=False):
    ys = []
    for x in (xs[::-1] if reverse else xs):
        carry, y = body(carry, x)
        ys.append(y)
    ys = ys[::-1] if reverse else ys
    if isinstance(ys[0], tuple):
        return carry, tuple(np.array(v) for v in zip(*ys))
    return carry, np.array(ys)


def test_scan_outputs_that_alias_carries():
    a0 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    xs = np.random.RandomState(0).uniform(-1, 1, (3, 2, 3))
    got = _strict(_aliasing_scans, a0, xs, _W)
    # independent NumPy loops, so a wrong buffer shows even where the interpreter agrees
    tanh_step = lambda c, x: (np.tanh(c @ _W + x),) * 2  # noqa: E731
    for (c, ys), (rc, rys) in zip(got[:2], [_numpy_scan(tanh_step, a0, xs),
                                            _numpy_scan(tanh_step, a0, xs[:2], True)]):
        assert_close(c, rc)
        assert_close(ys, rys)
    assert_close(got[2][1], _numpy_scan(lambda c, x: (c * 0.5 + x, c), a0, xs[:2], True)[1])
    for k, (init, n, rev) in enumerate([((a0, a0), 3, False), ((a0, a0 * 2.0), 2, True)]):
        (a, b), (ya, yb) = got[3 + k]
        (ra, rb), (rya, ryb) = _numpy_scan(
            lambda cr, x: ((cr[1] @ _W, cr[0] + x), (cr[0], cr[1].sum())), init, xs[:n], rev)
        for g, r in zip((a, b, ya, yb), (ra, rb, rya, ryb)):
            assert_close(g, r)
    (a, s), ss = got[5]
    assert_close(a, a0)
    assert_close(s, np.sum(xs[0] * a0))
    assert_close(ss, np.zeros(1))


def test_scan_bodies_allocate_nothing_per_iteration():
    a0, xs = np.zeros((2, 3)), np.ones((4, 2, 3))
    src = _source(_aliasing_scans, a0, xs, _W)
    functions = re.split(r"^@njit", src, flags=re.M)
    bodies = [f for f in functions if re.match(r"\(cache=True.*\)\ndef sub\d+\(", f)]
    assert len(bodies) == 6
    for body in bodies:  # buffers come from the caller: outputs and workspace
        assert "np.empty" not in body and ".copy()" not in body, body
    loops = re.findall(r"^    for t\d+_ in range.*\n((?:        .*\n)+)", src, flags=re.M)
    assert len(loops) >= 6 and not any("np.empty" in lp or ".copy()" in lp for lp in loops)


def _nested_scans(a0, xs, W):
    def inner(c, x):
        c = fnp.sin(c @ W) + x
        return c, c

    def outer(c, xk):
        c2, ys = scan(inner, c, xk, reverse=True)
        return c2 * 0.5 + c, ys[0] + c

    return scan(outer, a0, xs)


def test_nested_scans_and_their_gradients():
    a0 = np.linspace(-0.5, 0.5, 6).reshape(2, 3)
    xs = np.random.RandomState(2).uniform(-1, 1, (3, 2, 2, 3))
    c, ys = _strict(_nested_scans, a0, xs, _W)

    def ref(a0):
        def outer(c, xk):
            c2, ys = _numpy_scan(lambda c, x: (np.sin(c @ _W) + x,) * 2, c, xk, True)
            return c2 * 0.5 + c, ys[0] + c
        return _numpy_scan(outer, a0, xs)

    rc, rys = ref(a0)
    assert_close(c, rc)
    assert_close(ys, rys)
    loss = lambda a0, xs, W: fnp.sum(_nested_scans(a0, xs, W)[1] ** 2)  # noqa: E731
    _strict(ft.grad(loss, argnums=(0, 2)), a0, xs, _W)
    ft.check_grads(loss, (a0, xs, _W), order=1, modes=["rev"])


def _while_swap(a, n):
    def body(s):
        i, x, y = s
        return i + 1, y * 0.5, fnp.tanh(x @ _W) + 1.0
    return while_loop(lambda s: s[0] < n, body, (0, a, a))


def _cond_in_scan(a0, xs, W):
    def body(c, x):
        c2 = cond(fnp.sum(x) > 0, lambda v: v, lambda v: v @ W, c)  # a branch returns its input
        return c2 + x, c2
    return scan(body, a0, xs)


def test_while_and_cond_fill_buffers_in_place():
    a = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    f = jit(_while_swap)
    for n in range(4):  # even and odd trip counts end in different buffers
        x, y = a, a
        for _ in range(n):
            x, y = y * 0.5, np.tanh(x @ _W) + 1.0
        i, gx, gy = f(a, np.int64(n))
        assert int(i) == n
        assert_close(gx, x)
        assert_close(gy, y)
    xs = np.random.RandomState(3).uniform(-1, 1, (5, 2, 3))
    c, ys = _strict(_cond_in_scan, a, xs, _W)
    rc, rys = _numpy_scan(lambda c, x: (lambda c2: (c2 + x, c2))(c if x.sum() > 0 else c @ _W),
                          a, xs)
    assert_close(c, rc)
    assert_close(ys, rys)
    _strict(ft.grad(lambda a, xs: fnp.sum(_cond_in_scan(a, xs, _W)[1]), argnums=(0, 1)), a, xs)


def test_cond_branches_needing_workspace_compile():
    # Regression (found by the fuzzer in CI): lowering the second branch emitted its workspace
    # allocation between the if and else arms, a syntax error, and the program ran interpreted.
    def f(x, w):
        return cond(fnp.sum(x) > -1.0, lambda v: fnp.sin(v) @ w,
                    lambda v: fnp.cos(v) @ w * 2.0, x)

    x, w = np.arange(3.0), np.ones((3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to the interpreter warns
        got = jit(f)(x, w)
    np.testing.assert_allclose(got, np.sin(x) @ w, rtol=1e-15)
    np.testing.assert_allclose(jit(f)(-x, w), np.cos(-x) @ w * 2.0, rtol=1e-15)
