"""Tests of the Numba backend: generated programs agree with the reference interpreter on a
representative set of programs (float32 and float64), and the generated code has the structure
the backend promises (fusion, fused reductions, buffer reuse, vectorised transcendentals,
BLAS for matmuls, NumPy fallbacks with a warning).
"""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest
from jit_check import assert_close, assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
from functrace import backend, core, lax
from functrace.backend import _support, codegen
from functrace.jit import jit

RNG = np.random.RandomState(42)
FLOATS = [np.float32, np.float64]


def _arr(shape, dtype, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(dtype)


def _source(f, *args) -> str:
    return jit(f).lower(*args).as_text()


def _loop_nests(src: str) -> int:
    """Number of outermost loops in the generated main function."""
    return len(re.findall(r"^    for ", src, flags=re.M))


# ---------------------------------------------------------------------------------------------
# Agreement with the interpreter on representative programs
# ---------------------------------------------------------------------------------------------


def _mlp_loss(params, x, y):
    h = fnp.tanh(x @ params[0]["w"] + params[0]["b"])
    logits = h @ params[1]["w"] + params[1]["b"]
    logits = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(logp * y, axis=1))


def _mlp_inputs(dtype, big=False):
    n, d, h, k = (64, 96, 80, 10) if big else (6, 5, 4, 3)
    params = [{"w": _arr((d, h), dtype, -0.5, 0.5), "b": _arr((h,), dtype, -0.1, 0.1)},
              {"w": _arr((h, k), dtype, -0.5, 0.5), "b": _arr((k,), dtype, -0.1, 0.1)}]
    y = np.eye(k, dtype=dtype)[RNG.randint(0, k, n)]
    return params, _arr((n, d), dtype), y


PROGRAMS = {
    "elementwise_broadcast": (lambda a, b: fnp.exp(-a * a / 2) * b[None, :] + fnp.tanh(a) * 3.0,
                              lambda dt: (_arr((4, 5), dt), _arr((5,), dt))),
    "long_chain_big": (lambda a: fnp.sin(a) * fnp.exp(-a * a / 2) + fnp.tanh(a) * fnp.log1p(a * a)
                       + fnp.cos(a) * fnp.cosh(a / 4),
                       lambda dt: (_arr((50, 37), dt),)),
    "reductions_keepdims": (lambda a: (fnp.sum(a, axis=0, keepdims=True) * a,
                                       fnp.max(a, axis=1, keepdims=True), fnp.min(a),
                                       fnp.prod(a, axis=1), fnp.mean(a ** 2, axis=(0, 1))),
                            lambda dt: (_arr((3, 4, 5), dt),)),
    "argmax_argmin": (lambda a: (fnp.argmax(a, axis=1), fnp.argmin(a, axis=0), fnp.argmax(a)),
                      lambda dt: (_arr((6, 7), dt),)),
    "matmul_chain": (lambda a, b, c: fnp.tanh(a @ b) @ c + (a @ b).sum(axis=1, keepdims=True),
                     lambda dt: (_arr((5, 6), dt), _arr((6, 7), dt), _arr((7, 3), dt))),
    "matmul_chain_blas": (lambda a, b, c: (fnp.tanh(a @ b) @ c, a.T @ a, fnp.matmul(b.T, a.T)),
                          lambda dt: (_arr((40, 50), dt, -0.3, 0.3), _arr((50, 60), dt),
                                      _arr((60, 30), dt))),
    "batched_matmul": (lambda a, b: (fnp.matmul(a, b), fnp.einsum("bij,bkj->bik", a, a)),
                       lambda dt: (_arr((3, 20, 30), dt), _arr((3, 30, 25), dt))),
    "vector_dots": (lambda a, b, m: (fnp.dot(a, b), m @ a, a @ m.T, fnp.outer(a, b)),
                    lambda dt: (_arr((6,), dt), _arr((6,), dt), _arr((4, 6), dt))),
    "softmax_logsumexp": (lambda a: (fnp.exp(a - fnp.max(a, axis=-1, keepdims=True))
                                     / fnp.sum(fnp.exp(a - fnp.max(a, axis=-1, keepdims=True)),
                                               axis=-1, keepdims=True),
                                     fnp.log(fnp.sum(fnp.exp(a), axis=0))),
                          lambda dt: (_arr((7, 9), dt),)),
    "where_select": (lambda a, b: (fnp.where(a > b, a, b * 2), fnp.clip(a, -0.5, 0.5),
                                   fnp.maximum(a, b), fnp.minimum(a, 0.0)),
                     lambda dt: (_arr((4, 5), dt), _arr((4, 5), dt))),
    "views": (lambda a: (a[1:3, ::2] * 2, fnp.pad(a, ((1, 2), (0, 1))), a.T + 1,
                         fnp.concatenate([a, a * 2], axis=1), fnp.flip(a, axis=0),
                         fnp.reshape(a, (5, 4)) * 3, fnp.reshape(a * a, (20,))[3:9]),
              lambda dt: (_arr((4, 5), dt),)),
    "cumulative_sort": (lambda a: (fnp.cumsum(a, axis=1), fnp.cumprod(a, axis=0),
                                   fnp.sort(a, axis=1), fnp.argsort(a, axis=0)),
                        lambda dt: (_arr((4, 5), dt),)),
    "indexing": (lambda a, i: (a[i] * 2, fnp.take_along_axis(a, fnp.argsort(a, axis=1), axis=1),
                               lax.dynamic_slice(a, (i[0], 1), (2, 3)),
                               lax.dynamic_update_slice(a, a[:2, :2] * 0, (i[1], i[1]))),
                 lambda dt: (_arr((4, 5), dt), np.array([3, 1, 1]))),
    "scalars_and_constants": (lambda a, s: (a * s + 1.0, s * s, fnp.sum(a) * s, a[0] * 0 + 2.5),
                              lambda dt: (_arr((3,), dt), dt(1.5))),
    "nan_inf": (lambda a: (fnp.log(a), fnp.sqrt(a), a / 0.0, fnp.max(fnp.log(a)), fnp.exp(a * 100),
                           fnp.isfinite(fnp.log(a)), fnp.min(a / 0.0)),
                lambda dt: (np.array([-1.0, 0.0, 1.0, np.inf, -np.inf, np.nan], dt),)),
    "mlp_loss": (lambda p, x, y: _mlp_loss(p, x, y), lambda dt: _mlp_inputs(dt)),
    "mlp_grad": (lambda p, x, y: ft.grad(_mlp_loss)(p, x, y), lambda dt: _mlp_inputs(dt)),
    "mlp_grad_blas": (lambda p, x, y: ft.value_and_grad(_mlp_loss)(p, x, y),
                      lambda dt: _mlp_inputs(dt, big=True)),
}


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_matches_interpreter(name, dtype):
    fn, make = PROGRAMS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy fallback in these programs
        warnings.filterwarnings("ignore", message=".*(invalid value|divide by zero|overflow)")
        got = assert_jit_matches_interpreter(fn, *make(dtype))
    for leaf in ft.tree_util.tree_leaves(got):
        if leaf.dtype.kind == "f":
            assert leaf.dtype == dtype  # float32 programs stay float32


def test_integer_programs():
    i = RNG.randint(-50, 50, (4, 6))
    j = RNG.randint(-3, 4, (4, 6))
    assert_jit_matches_interpreter(
        lambda a, b: (a // b, a % b, lax.div(a, b), lax.rem(a, b), a * b - 3, fnp.abs(a),
                      fnp.sum(a, axis=0), fnp.max(a, axis=1), a ** 2, fnp.cumsum(a, axis=1),
                      (a > b) & (b != 0), a.astype(np.int8) * 3, fnp.sign(a),
                      fnp.minimum(a, b)), i, j)


def test_integer_division_by_zero_does_not_trap():
    z = np.zeros(3, np.int64)
    q, r = jit(lambda a, b: (lax.div(a, b), lax.rem(a, b)))(np.array([5, -5, 0]), z)
    np.testing.assert_array_equal(q, [0, 0, 0])
    np.testing.assert_array_equal(r, [0, 0, 0])


def test_small_int_and_bool_dtypes():
    a = np.array([100, -100, 7], np.int8)
    b = np.array([True, False, True])
    assert_jit_matches_interpreter(lambda x, m: (x + x, x * 3, fnp.where(m, x, -x), ~m, m | ~m,
                                                 x.astype(np.uint8), fnp.sum(m)), a, b)


def test_mixed_precision_and_conversions():
    a = _arr((5,), np.float32)
    assert_jit_matches_interpreter(
        lambda x: ((x.astype(np.float64) * 1e-3).astype(np.float32), (x * 10).astype(np.int32),
                   x > 0, (x > 0).astype(np.float32) + x), a)


def test_sincos_kernel_accuracy():
    x = np.concatenate([RNG.uniform(-1e6, 1e6, 5000), RNG.uniform(-10, 10, 5000),
                        [0.0, -0.0, np.pi, -np.pi / 2, 1e-300, 1e300, np.inf, -np.inf, np.nan,
                         2e6, 1647098.9]])
    for want_cos, ref in ((0, np.sin), (1, np.cos)):
        out = np.empty_like(x)
        _support.sincos_f64(x, out, x.size, want_cos)
        with np.errstate(invalid="ignore"):
            expected = ref(x)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
        fin = np.isfinite(expected)
        ulps = np.abs(out[fin] - expected[fin]) / np.spacing(np.abs(expected[fin]))
        assert ulps.max() <= 1.0
    out = np.empty(1)
    _support.sincos_f64(np.array([-0.0]), out, 1, 0)
    assert np.signbit(out[0])


# ---------------------------------------------------------------------------------------------
# Structure of the generated code
# ---------------------------------------------------------------------------------------------


def test_elementwise_chain_is_one_loop_without_temporaries():
    src = _source(lambda a, b: fnp.sin(a) * b + fnp.exp(a) - a * b, _arr((3, 4), np.float64),
                  _arr((3, 4), np.float64))
    assert _loop_nests(src) == 1
    assert src.count("np.empty(") == 1  # the output only


def test_reduction_fuses_with_its_producers():
    src = _source(lambda a: fnp.sum(fnp.sin(a) * a, axis=1), _arr((3, 4), np.float64))
    assert _loop_nests(src) == 1
    assert src.count("np.empty(") == 1
    # a reduction over a leading axis accumulates into the output inside the same loop
    src0 = _source(lambda a: fnp.sum(fnp.sin(a) * a, axis=0), _arr((3, 4), np.float64))
    assert _loop_nests(src0) == 1


def test_grad_of_elementwise_program_is_one_loop():
    src = _source(ft.grad(lambda a: fnp.sum(fnp.tanh(a) * fnp.sin(a) + a * a)),
                  _arr((3, 4), np.float64))
    assert _loop_nests(src) == 1


def test_broadcasts_and_views_do_not_allocate():
    src = _source(lambda a, b: a * b[None, :] + a.T.T[::-1] * 2, _arr((3, 4), np.float64),
                  _arr((4,), np.float64))
    assert src.count("np.empty(") == 1


def test_values_with_several_consumers_are_computed_once():
    def f(a, w):
        e = fnp.exp(a)  # read by the matmul and by the elementwise tail
        return fnp.sum(e @ w) + fnp.sum(e * 2)

    src = _source(f, _arr((8, 9), np.float64), _arr((9, 3), np.float64))
    assert len(re.findall(r"math\.exp\(|npy_exp_|vm_exp_", src)) == 1


def test_dead_buffers_are_reused():
    def f(a, w):
        h = fnp.tanh(a @ w)
        return fnp.tanh(h @ w.T) * 2

    a, w = _arr((40, 50), np.float32), _arr((50, 50), np.float32)
    src = _source(f, a, w)
    assert re.search(r"^    x\d+ = x\d+(\.reshape\(.*\))?$", src, flags=re.M)
    assert_jit_matches_interpreter(f, a, w)


def test_no_in_place_write_over_a_value_read_through_a_view():
    # the product dies in the loop that reads it both directly and transposed: its buffer must
    # not receive the result (element [i, j] would clobber what [j, i] still reads)
    a, w = _arr((8, 8), np.float64), _arr((8, 8), np.float64)
    assert_jit_matches_interpreter(lambda x, y: (x @ y) * 2 + (x @ y).T, a, w)
    assert_jit_matches_interpreter(lambda x: fnp.exp(x) + fnp.exp(x)[::-1, ::-1], a)


def test_large_transcendental_loops_use_vectorised_kernels():
    from functrace.backend import kernels
    src = _source(lambda a: fnp.tanh(a) * fnp.sin(a) + fnp.sinh(a), _arr((100, 50), np.float32))
    # sin: our float32 block kernel; functions without an inlinable version: NumPy's SIMD
    # loops on blocks
    assert "trig_block_f32(" in src and "npy_sinh_float32" in src and "math." not in src
    from functrace.backend.vecblocks import INLINE_MATH
    tanh32 = f"vm_{INLINE_MATH['tanh'][np.dtype(np.float32)].py_func.__name__}"
    assert (tanh32 if kernels.USE_VECMATH else "npy_tanh_float32") in src
    src64 = _source(lambda a: fnp.sin(a) + fnp.cos(a), _arr((200,), np.float64))
    assert src64.count("trig_block_f64(") == 2
    small = _source(lambda a: fnp.sin(a), _arr((3,), np.float32))
    assert "math.sin" in small and "npy_" not in small
    assert_jit_matches_interpreter(lambda a: fnp.tanh(a) * fnp.sin(a) + fnp.sinh(a),
                                   _arr((100, 50), np.float32))


def test_matmul_uses_blas_and_matches_python_driver(monkeypatch):
    fn, make = PROGRAMS["matmul_chain_blas"]
    args = make(np.float32)
    src = _source(fn, *args)
    assert "sgemm(" in src and "def main(" in src and "make_main" not in src
    want = assert_jit_matches_interpreter(fn, *args)
    monkeypatch.setattr(backend, "DOT_MODE", "python")
    g = jit(lambda a, b, c: fn(a, b, c))  # a new function: a new program
    src_py = g.lower(*args).as_text()
    assert "np.matmul(" in src_py and "make_main" in src_py
    for got, w in zip(g(*args), want):
        assert_close(got, w)


def test_literals_are_typed():
    src = _source(lambda a: a * 0.5 + 2, _arr((3,), np.float32))
    assert "np.float32(0.5)" in src and "np.float32(2.0)" in src


# ---------------------------------------------------------------------------------------------
# Fallbacks
# ---------------------------------------------------------------------------------------------

_mystery_p = core.Primitive("mystery_op_for_tests")
core.shape_rules[_mystery_p] = lambda x: x
core.impl_rules[_mystery_p] = lambda x: np.asarray(x) * 2 + 1


def test_unlowered_primitive_runs_its_numpy_impl_with_one_warning():
    def f(a):
        return fnp.sin(_mystery_p.bind(fnp.exp(a))) + 1.0

    a = _arr((3, 4), np.float64)
    with pytest.warns(RuntimeWarning, match="mystery_op_for_tests"):
        got = jit(f)(a)
    assert_close(got, np.sin(np.exp(a) * 2 + 1) + 1)
    src = jit(f).lower(a).as_text()
    assert "_fallback[0]" in src and "@njit" in src  # compiled segments around it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jit(lambda a: _mystery_p.bind(a) * 3)(a)  # warned once per primitive


def test_program_that_cannot_be_generated_is_interpreted(monkeypatch):
    def broken(*args, **kwargs):
        raise codegen.CodegenError("simulated failure")

    monkeypatch.setattr(codegen, "generate", broken)
    with pytest.warns(RuntimeWarning, match="simulated failure"):
        got = jit(lambda a: fnp.cos(a) * 7.0)(np.arange(3.0))
    assert_close(got, np.cos(np.arange(3.0)) * 7)


def test_complex_values_fall_back_to_numpy():
    z = np.array([1 + 2j, 3 - 1j])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = jit(lambda a: a * a + 1)(z)
    assert_close(got, z * z + 1)


# ---------------------------------------------------------------------------------------------
# The control-flow hook: a primitive carrying a sub-program, lowered to a compiled loop
# ---------------------------------------------------------------------------------------------

_repeat_p = core.Primitive("repeat_for_tests")
core.shape_rules[_repeat_p] = lambda x, *, body, n: x


def _repeat_impl(x, *, body, n):
    for _ in range(n):
        (x,) = core.eval_jaxpr(body.jaxpr, body.consts, x)
    return x


def _repeat_lowering(gen, eqn, ins, outs):
    fname, extra = gen.lower_subprogram(eqn.params["body"])
    tail = "".join(", " + e for e in extra)
    assign = f"{outs[0]}[:] = c" if eqn.outvars[0].aval.ndim else f"{outs[0]} = c"
    return [f"c = {ins[0]}", f"for _ in range({eqn.params['n']}):",
            f"    (c,) = {fname}(c{tail})", assign], False


core.impl_rules[_repeat_p] = _repeat_impl


def test_subjaxpr_hook_compiles_a_loop(monkeypatch):
    from functrace.backend import rules
    monkeypatch.setitem(rules.subjaxpr_lowerings, _repeat_p, _repeat_lowering)
    w = np.array([0.5, 0.25, 2.0])  # a constant of the body becomes a program input
    body = ft.make_jaxpr(lambda v: fnp.sin(v) * w + 1.0)(np.ones(3))
    f = lambda a: _repeat_p.bind(a * 2, body=body, n=3) + fnp.sum(a)  # noqa: E731
    x = np.array([1.0, 2.0, 3.0])
    src = jit(f).lower(x).as_text()
    assert "def sub0(" in src and "for _ in range(3):" in src and "_fallback" not in src
    assert_close(jit(f)(x), _repeat_impl(x * 2, body=body, n=3) + x.sum())
    s = np.float64(0.3)  # 0-d values go through the sub-program as scalars
    body0 = ft.make_jaxpr(lambda v: v * v + 0.5)(s)
    assert_close(jit(lambda a: _repeat_p.bind(a, body=body0, n=2))(s),
                 np.asarray(_repeat_impl(s, body=body0, n=2)))


def test_generated_source_is_deterministic():
    # the disk cache is keyed by the source: tracing the same program again (new variables,
    # new object ids) must give the same text
    fn, make = PROGRAMS["mlp_grad_blas"]
    args = make(np.float32)
    srcs = {jit(lambda *a: fn(*a)).lower(*args).as_text() for _ in range(3)}
    assert len(srcs) == 1
    fn2, make2 = PROGRAMS["long_chain_big"]
    args2 = make2(np.float64)
    assert len({jit(lambda *a: fn2(*a)).lower(*args2).as_text() for _ in range(3)}) == 1


def test_control_flow_compiles_natively():
    cf = pytest.importorskip("functrace.control_flow")

    def f(x, n):
        a = cf.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v), lambda v: v * 2.0, x)
        c, ys = cf.scan(lambda c, xi: (c * 0.5 + xi, c), 0.0, a)
        w = cf.while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] * 1.5), (0, c))[1]
        return cf.fori_loop(0, 3, lambda i, y: y + fnp.sum(ys) * i, w), ys

    def rnn(w, xs, h):
        return fnp.sum(cf.scan(lambda h, x: (fnp.tanh(w @ h + x), h), h, xs)[0])

    x = np.array([0.3, -0.1, 0.5])
    w, xs, h = _arr((6, 6), np.float64, -0.4, 0.4), _arr((7, 6), np.float64), np.zeros(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy fallback
        for n in (0, 3):
            assert_jit_matches_interpreter(f, x, np.int64(n))
        assert_jit_matches_interpreter(f, -x, np.int64(2))
        assert_jit_matches_interpreter(rnn, w, xs, h)
        assert_jit_matches_interpreter(ft.grad(rnn), w, xs, h)
        assert_jit_matches_interpreter(ft.vmap(rnn, in_axes=(None, 0, None)),
                                       w, np.stack([xs, xs * 2]), h)
    src = _source(f, x, np.int64(3))
    assert "while sub" in src and "_fallback" not in src


# ---------------------------------------------------------------------------------------------
# Aliasing: outputs that share an operand's memory
# ---------------------------------------------------------------------------------------------


def _barrier_program(x):
    from functrace.remat import optimization_barrier_p
    y = x * 2.0
    (z,) = optimization_barrier_p.bind(y)
    v = fnp.sin(x[::-1]) * 3.0 + 1.0  # a new buffer of y's size, allocated after y's last use
    return (z[::-1] + v) * z


def test_barrier_is_an_alias_whose_buffer_stays_alive():
    x = np.linspace(-1.0, 1.0, 6)
    src = _source(_barrier_program, x)
    # the barrier allocates nothing: its output is its operand's buffer ...
    assert len(re.findall(r"np\.empty\(", src)) == 2
    assert re.search(r"^    x\d+ = x\d+$", src, flags=re.M)
    # ... which must not be reused for the loop that reads the barrier's output reversed
    assert_jit_matches_interpreter(_barrier_program, x)
    assert_jit_matches_interpreter(_barrier_program, x.astype(np.float32))


def test_outputs_aliasing_each_other_or_inputs_are_separate_arrays():
    from functrace.remat import optimization_barrier_p

    def f(x):
        y = x + 1.0
        z, w = optimization_barrier_p.bind(y, x)
        return y, z, w

    x = np.arange(4.0)
    y, z, w = jit(f)(x)
    assert_close(y, x + 1) and assert_close(z, x + 1) and assert_close(w, x)
    assert not np.shares_memory(y, z) and not np.shares_memory(w, x)


def test_fallback_outputs_may_alias_their_operands():
    # A primitive run by its NumPy implementation may return an operand (or a view of one):
    # the planner keeps that operand's buffer alive, unreused, as long as the output lives.
    from functrace.remat import optimization_barrier_p

    def f(x, h):
        y = x * 2.0
        z, h2 = optimization_barrier_p.bind(y, h)  # float16 operand: the NumPy fallback
        v = fnp.sin(x[::-1]) * 3.0 + 1.0
        return z[::-1] + v, h2

    x, h = np.linspace(-1.0, 1.0, 6), np.ones(3, np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert "_fallback[0]" in _source(f, x, h)
        assert_jit_matches_interpreter(f, x, h)


# ---------------------------------------------------------------------------------------------
# Debugging aids: where to read the generated code of a failing program
# ---------------------------------------------------------------------------------------------


def test_compile_failure_names_a_file_with_the_generated_source(monkeypatch):
    from functrace.backend import cache

    def broken(source):
        raise RuntimeError("numba says no")

    monkeypatch.setattr(cache, "load", broken)
    g = jit(lambda x: fnp.cos(x) * 7.25 - 0.5)
    with pytest.warns(RuntimeWarning, match="numba says no") as rec:
        assert_close(g(np.ones(3)), np.cos(np.ones(3)) * 7.25 - 0.5)  # interpreted instead
    msg = str(rec[0].message)
    path = re.search(r"generated source is in (\S+\.py)", msg).group(1)
    assert "as_text()" in msg
    with open(path) as f:
        text = f.read()
    assert "def main(" in text and "7.25" in text


_raising_p = core.Primitive("raising_for_test")
core.shape_rules[_raising_p] = lambda a: a


def _raising_impl(x):
    if np.any(x < 0):
        raise ValueError("negative input")
    return x


core.impl_rules[_raising_p] = _raising_impl


def test_error_inside_a_compiled_program_names_its_source_file():
    g = jit(lambda x: _raising_p.bind(x * 2.0) + 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no lowering: a NumPy fallback
        assert_close(g(np.ones(2)), np.full(2, 3.0))
        with pytest.raises(ValueError, match="negative input") as info:
            g(-np.ones(2))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    if sys.version_info >= (3, 11):
        path = re.search(r"generated source is in (\S+\.py)", notes).group(1)
        with open(path) as f:
            assert "_fallback[0]" in f.read()
