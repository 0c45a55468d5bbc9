"""The block kernels of functrace.backend.vecblocks and the in-register tables of vtable.

Block kernels compute a fast path over a whole block, then recompute the elements that were not
ordinary (specials, subnormals, negative bases) with vecmath's complete functions: each is
checked for accuracy on samples that mix both kinds in one block, for NumPy's special values
with blocks of every length, and for what makes it fast (vectorised, tables in registers).
"""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest
from test_vecmath import (
    F32,
    F64,
    FUZZ,
    MAX_ULP,
    NP64,
    assert_ulp,
    expected_special,
    mp_reference,
    np_ulp_errors,
    pow_samples,
    same_value,
    samples,
    special_values,
    ulp_errors,
)

import functrace as ft
from functrace import lax
from functrace.backend import vtable
from functrace.backend.vecblocks import BLOCK_KERNELS, INLINE_MATH, pow_table_f32
from functrace.backend.vecmath import VECTOR_MATH

# sin and cos have their own tests in test_vecmath (their fast path is a range, not a class)
KERNELS = sorted((name, dt) for name, dt in BLOCK_KERNELS if name not in ("sin", "cos"))
IDS = [f"{name}-{dt.name}" for name, dt in KERNELS]


def run_block(name: str, *args: np.ndarray, block: int = 1024) -> np.ndarray:
    """The kernel over consecutive blocks, as the code generator calls it."""
    kernel, extra = BLOCK_KERNELS[(name, args[0].dtype)]
    args = [np.ascontiguousarray(a) for a in args]
    out = np.full_like(args[0], 7.0)  # every element must be written
    n = out.size
    for j in range(0, n, block):
        kernel(*[a[j:] for a in args], out[j:], min(block, n - j), *extra)
    return out


def _numpy(name: str, *args: np.ndarray) -> np.ndarray:
    if name == "erf":  # NumPy has no erf: SciPy's, or math.erf elementwise
        return expected_special("erf", *args)
    with np.errstate(all="ignore"):
        return np.power(*args) if name == "pow" else getattr(np, name)(*args)


@pytest.mark.parametrize(("name", "dtype"), KERNELS, ids=IDS)
def test_accuracy(name, dtype):
    n = 1500 if dtype == F64 else 20000  # float64 is checked against mpmath: slower
    if name == "pow":
        x, y = pow_samples(dtype, n)
        got = run_block(name, x, y)
        if dtype == F64:
            errs = ulp_errors(got, mp_reference("pow", x, y))
        else:
            with np.errstate(all="ignore"):
                errs = np_ulp_errors(got, np.power(x.astype(np.float64), y.astype(np.float64)))
    else:
        x = samples(name, dtype, n)
        got = run_block(name, x)
        if dtype == F64:
            errs = ulp_errors(got, mp_reference(name, x))
        else:
            with np.errstate(all="ignore"):
                errs = np_ulp_errors(got, NP64[name](x.astype(np.float64)))
    assert_ulp(name, x, got, errs)


@pytest.mark.parametrize(("name", "dtype"), KERNELS, ids=IDS)
def test_special_values_match_numpy(name, dtype):
    v = special_values(dtype)
    if name == "pow":
        ys = np.concatenate([v[:27], np.array([3.0, -3.0, 2.5, 1e20, -1e20], dtype)])
        args = [a.ravel() for a in np.meshgrid(v[:27], ys)]
    else:
        args = [v]
    want = _numpy(name, *args)
    exact = ~np.isfinite(want) | (want == 0) | np.any([~np.isfinite(a) | (a == 0)
                                                        for a in args], axis=0)
    # short blocks: the fix-up pass must patch exactly the flagged elements of each
    for block in (1, 5, 16, 1024):
        got = run_block(name, *args, block=block)
        assert got.dtype == dtype
        bad = exact & ~same_value(got, want)
        assert not bad.any(), (f"{name}{tuple(a[bad][:4] for a in args)} = {got[bad][:4]}, "
                               f"NumPy gives {want[bad][:4]}")
        close = np.abs(got[~exact].astype(np.float64) - want[~exact]) \
            <= MAX_ULP * np.spacing(np.abs(want[~exact])).astype(np.float64)
        assert close.all()
    # whole vectors of one special value
    for value in (0.0, -0.0, np.inf, np.nan, -1.0):
        same = [np.full(64, value, dtype)] + [np.full(64, 2.5, dtype)] * (len(args) - 1)
        got, want = run_block(name, *same), _numpy(name, *same)
        if np.isfinite(want[0]) and want[0] != 0:  # an ordinary result (erf(-1)): 2 ulp
            assert (np.abs(got - want) <= MAX_ULP * np.spacing(np.abs(want))).all()
        else:
            assert same_value(got, want).all()


def test_pow_float32_near_one_with_huge_exponents():
    # the reduction keeps log2 x relative-accurate near 1, where |y| can reach 2^30 and still
    # give a finite result: the error of y log2 x is what the result's error is made of
    rng = np.random.default_rng(5)
    x = (1 + rng.uniform(-2e-3, 2e-3, 50000)).astype(np.float32)
    x = np.concatenate([x, np.nextafter(np.float32(1), np.float32([0, 2]))])
    lx = np.log2(x.astype(np.float64))
    y = (rng.uniform(-149, 127, x.size) / np.where(lx == 0, 1, lx)).astype(np.float32)
    got = run_block("pow", x, y)
    with np.errstate(all="ignore"):
        errs = np_ulp_errors(got, np.power(x.astype(np.float64), y.astype(np.float64)))
    assert errs.max() <= 1.0, f"{errs.max():.3g} ulp at pow({x[errs.argmax()]}, ...)"


def test_pow_tables():
    inv_c, log_hi, log_lo, exp_hi, exp_lo, (r_lo, r_hi) = pow_table_f32()
    assert all(len(t) == 16 for t in (inv_c, log_hi, log_lo, exp_hi, exp_lo))
    assert inv_c[9] == 1.0 and log_hi[9] == 0.0  # the interval around 1 is not reduced
    assert -1 / 32 < r_lo < 0 < r_hi <= 1 / 32
    log2_c = np.array(log_hi) + np.array(log_lo)  # hi + lo: log2 c to ~2^-48
    np.testing.assert_allclose(np.exp2(log2_c) * inv_c, 1.0, rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.array(exp_hi) + np.array(exp_lo), 2.0 ** (np.arange(16) / 16),
                               rtol=2.0**-46, atol=0)
    assert all(np.float32(v) == v for t in (inv_c, log_hi, log_lo, exp_hi, exp_lo) for v in t)


def test_pow_float32_large_exponents_take_the_exact_path():
    # |y| > 64 and every special case: vecmath.pow_f32 (float64 inside) in the fix-up pass
    rng = np.random.default_rng(8)
    x = rng.uniform(0.5, 2, 4096).astype(np.float32)
    y = rng.uniform(-64, 64, 4096).astype(np.float32)
    y[::7] = rng.uniform(64, 1e4, y[::7].size).astype(np.float32) * rng.choice([-1, 1])
    y[::13] = np.float32(64.0)
    got = run_block("pow", x, y)
    with np.errstate(all="ignore"):
        errs = np_ulp_errors(got, np.power(x.astype(np.float64), y.astype(np.float64)))
    assert errs.max() <= 1.0


@pytest.mark.parametrize(("name", "dtype"), KERNELS, ids=IDS)
def test_kernels_vectorise_with_tables_in_registers(name, dtype):
    kernel, extra = BLOCK_KERNELS[(name, dtype)]
    fresh = numba.njit(error_model="numpy")(kernel.py_func)  # cached code has no IR
    x = np.full(64, 1.5, dtype)
    fresh(*([x] * (2 if name == "pow" else 1)), np.empty_like(x), x.size, *extra)
    ir_text = fresh.inspect_llvm(fresh.signatures[0])
    assert f"x {'double' if dtype == F64 else 'float'}>" in ir_text
    if vtable.IN_REGISTER:
        assert "masked.gather" not in ir_text
        # the vector variants were inlined: no call of one is left (the scalar remainder loop
        # may call the scalar function)
        assert not re.search(r"call [^\n]*<\d+ x (double|float)> @functrace_table", ir_text)


# --- table-driven functions the code generator inlines instead of vecmath's ------------------

OVERRIDES = sorted((name, dt) for name, per_dtype in INLINE_MATH.items()
                   for dt, fn in per_dtype.items() if fn is not VECTOR_MATH[name][dt])
OVERRIDE_IDS = [f"{name}-{dt.name}" for name, dt in OVERRIDES]
_INLINE_LOOPS: dict = {}


def run_inline(name: str, x: np.ndarray) -> np.ndarray:
    """INLINE_MATH[name] in a Numba loop, as fused loops call it."""
    key = (name, x.dtype)
    if key not in _INLINE_LOOPS:
        fn = INLINE_MATH[name][x.dtype]

        @numba.njit(error_model="numpy")
        def loop(x, out):
            for i in range(x.shape[0]):
                out[i] = fn(x[i])
        _INLINE_LOOPS[key] = loop
    out = np.empty_like(x)
    _INLINE_LOOPS[key](np.ascontiguousarray(x), out)
    return out


def test_overrides_exist_where_tables_are_in_registers():
    want = {("tanh", F32), ("tanh", F64), ("exp", F64)} if vtable.IN_REGISTER else set()
    assert set(OVERRIDES) == want


@pytest.mark.parametrize(("name", "dtype"), OVERRIDES, ids=OVERRIDE_IDS)
def test_override_accuracy_and_special_values(name, dtype):
    x = samples(name, dtype, 1500 if dtype == F64 else 20000)
    # every interval boundary of the piecewise float32 tanh and its neighbours; for exp the
    # ranges where results are subnormal, overflow, or cross a table entry
    edges = (np.arange(480, 530, dtype=np.int32) << 21).view(np.float32).astype(dtype)
    if name == "exp":
        edges = np.concatenate([np.linspace(-745.2, -700, 300), np.linspace(700, 709.8, 100),
                                np.arange(-64, 65) * (np.log(2) / 16)]).astype(dtype)
    x = np.concatenate([x, edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)])
    got = run_inline(name, x)
    if dtype == F64:
        assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))
    else:
        with np.errstate(all="ignore"):
            assert_ulp(name, x, got, np_ulp_errors(got, NP64[name](x.astype(np.float64))))
    v = special_values(dtype)
    got, want = run_inline(name, v), _numpy(name, v)
    exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(v) | (v == 0)
    assert same_value(got[exact], want[exact]).all(), (v[exact], got[exact])
    if dtype == F64:
        nan_bits = np.array([0x7FF8000000000000, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000001,
                             0xFFF8000000000001], dtype=np.uint64)
    else:
        nan_bits = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF],
                            np.uint32)
    assert np.isnan(run_inline(name, np.repeat(nan_bits.view(dtype), 16))).all()
    with np.errstate(over="ignore"):  # whole vectors of infinities
        for value in (np.inf, -np.inf):
            inf = np.full(64, value, dtype)
            assert same_value(run_inline(name, inf), _numpy(name, inf)).all()


@pytest.mark.parametrize(("name", "dtype"), OVERRIDES, ids=OVERRIDE_IDS)
def test_override_vectorises_with_tables_in_registers(name, dtype):
    run_inline(name, np.linspace(0.1, 2, 64).astype(dtype))
    loop = _INLINE_LOOPS[(name, dtype)]
    ir_text = loop.inspect_llvm(loop.signatures[0])
    assert f"x {'double' if dtype == F64 else 'float'}>" in ir_text
    assert "masked.gather" not in ir_text
    assert not re.search(r"call [^\n]*<\d+ x (double|float)> @functrace_table", ir_text)


@pytest.mark.skipif(not FUZZ, reason="exhaustive sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize(("name", "dtype"), [o for o in OVERRIDES if o[1] == F32],
                         ids=[i for o, i in zip(OVERRIDES, OVERRIDE_IDS) if o[1] == F32])
def test_override_float32_exhaustive(name, dtype):
    from test_vecmath import _assert_every_float32_within_max_ulp
    _assert_every_float32_within_max_ulp(name, lambda name, x: run_inline(name, x))


# --- vtable --------------------------------------------------------------------------------------

_T64 = [1.0 + k / 7 for k in range(16)]
_T32 = [2.0 + k / 3 for k in range(32)]
_lookup64 = vtable.table_lookup(_T64, np.float64)
_lookup32 = vtable.table_lookup(_T32, np.float32)
_lookup_short = vtable.table_lookup(_T64[:4], np.float64)


@numba.njit(error_model="numpy")
def _look_up_all(idx64, idx32, out64, out32, out_short):
    for i in range(idx64.shape[0]):
        out64[i] = _lookup64(idx64[i]) * 2.0
        out32[i] = _lookup32(idx32[i]) * np.float32(2.0)
        out_short[i] = _lookup_short(idx32[i])


def test_table_lookup_values_and_wrapping():
    rng = np.random.default_rng(0)
    idx64 = rng.integers(-(2**40), 2**40, 1003)
    idx32 = rng.integers(-(2**30), 2**30, 1003).astype(np.int32)
    outs = [np.empty(1003), np.empty(1003, np.float32), np.empty(1003)]
    _look_up_all(idx64, idx32, *outs)
    np.testing.assert_array_equal(outs[0], np.array(_T64)[idx64 % 16] * 2.0)
    np.testing.assert_array_equal(outs[1], np.array(_T32, np.float32)[idx32 % 32] * 2)
    np.testing.assert_array_equal(outs[2], np.array(_T64[:4])[idx32 % 4])
    ir_text = _look_up_all.inspect_llvm(_look_up_all.signatures[0])
    assert "x double>" in ir_text and "x float>" in ir_text
    if vtable.IN_REGISTER:
        assert "masked.gather" not in ir_text and "vpermi2var" in ir_text


@numba.njit(error_model="numpy")
def _scalef_all(m, e, out):
    for i in range(m.shape[0]):
        out[i] = vtable.scalef(m[i], e[i])


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
def test_scalef_is_ldexp_by_the_floor(dtype):
    # correctly rounded into overflow and the subnormals, like ldexp
    rng = np.random.default_rng(9)
    m = rng.uniform(-2, 2, 4099).astype(dtype)
    e = rng.uniform(-1200, 1200, m.size).astype(dtype)
    e[:4] = [-150.5, -149.0, 127.9, 128.0]
    out = np.empty_like(m)
    _scalef_all(m, e, out)
    with np.errstate(over="ignore"):
        want = np.ldexp(m, np.floor(e).astype(np.int32))
    assert same_value(out, want).all()


def test_without_avx512_tables_are_memory_reads(monkeypatch):
    # other CPUs: the same results through plain loads (and ldexp for scalef), no permutes
    monkeypatch.setattr(vtable, "IN_REGISTER", False)
    lookup = vtable.table_lookup([3.0 + k for k in range(16)], np.float64)

    @numba.njit(error_model="numpy")
    def loop(idx, e, out):
        for i in range(idx.shape[0]):
            out[i] = vtable.scalef(lookup(idx[i]), e[i])

    idx = np.arange(-40, 40)
    e = np.linspace(-1100.5, 1100.5, idx.size)
    out = np.empty(idx.size)
    loop(idx, e, out)
    with np.errstate(over="ignore"):
        want = np.ldexp(3.0 + idx % 16, np.floor(e).astype(np.int32))
    np.testing.assert_array_equal(out, want)
    ir_text = loop.inspect_llvm(loop.signatures[0])
    assert "vpermi2var" not in ir_text and "scalef" not in ir_text.replace(
        "functrace_scalef", "")


def test_table_lookup_rejects_bad_tables():
    with pytest.raises(ValueError, match="power-of-two length of at most 16"):
        vtable.table_lookup([1.0] * 17, np.float64)
    with pytest.raises(ValueError, match="power-of-two"):
        vtable.table_lookup([1.0] * 12, np.float32)
    with pytest.raises(TypeError, match="float64 or float32"):
        vtable.table_lookup([1, 2], np.int32)


# --- the code generator ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "dtype"), KERNELS, ids=IDS)
def test_code_generator_uses_block_kernels(name, dtype):
    rng = np.random.default_rng(6)
    x = rng.uniform(0.1, 4, (3, 1500)).astype(dtype)  # two blocks per row
    y = rng.uniform(-3, 3, (3, 1500)).astype(dtype)
    x[0, 3], x[1, 1100], x[2, 7], y[2, 9] = 0.0, -2.0, np.inf, np.nan  # fix-ups in some blocks
    if name == "pow":
        f = ft.jit(lambda a, b: (a ** b, (a * 2) ** (b + 1) + a))
        args, want = (x, y), (_numpy("pow", x, y), _numpy("pow", x * 2, y + 1) + x)
    else:
        fn = getattr(lax, name)
        f = ft.jit(lambda a, b: (fn(a), fn(a * b) * 2 + b))
        args, want = (x, y), (_numpy(name, x), _numpy(name, x * y) * 2 + y)
    kernel = BLOCK_KERNELS[(name, dtype)][0].py_func.__name__
    src = f.lower(*args).as_text()
    assert f"{kernel}(x0[i0, j0:], " in src  # inputs read in place
    assert f"{kernel}(bi" in src  # computed operands through block buffers
    got = f(*args)
    arity = 2 if name == "pow" else 1
    assert same_value(got[0].ravel(), run_block(name, *(a.ravel() for a in args[:arity]))).all()
    tol = 1e-5 if dtype == F32 else 1e-13
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol)


@pytest.mark.skipif(not FUZZ, reason="large sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize(("name", "dtype"), KERNELS, ids=IDS)
def test_large_sweep(name, dtype):
    n = 30000 if dtype == F64 else 2_000_000
    for seed in range(1, 4):
        if name == "pow":
            x, y = pow_samples(dtype, n, seed=seed)
            got = run_block(name, x, y)
            errs = (ulp_errors(got, mp_reference("pow", x, y)) if dtype == F64 else
                    np_ulp_errors(got, np.power(x.astype(np.float64), y.astype(np.float64))))
        else:
            x = samples(name, dtype, n, seed=seed)
            got = run_block(name, x)
            errs = (ulp_errors(got, mp_reference(name, x)) if dtype == F64 else
                    np_ulp_errors(got, NP64[name](x.astype(np.float64))))
        assert_ulp(name, x, got, errs)


@pytest.mark.skipif(not FUZZ, reason="large sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize(("name", "dtype"), [o for o in OVERRIDES if o[1] == F64],
                         ids=[i for o, i in zip(OVERRIDES, OVERRIDE_IDS) if o[1] == F64])
def test_override_float64_large_sweep(name, dtype):
    x = samples(name, dtype, 30000, seed=1)
    got = run_inline(name, x)
    assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))


@pytest.mark.skipif(not vtable.IN_REGISTER, reason="table-driven functions need AVX-512")
def test_two_table_functions_in_one_loop_both_vectorise():
    # the table functions of separately compiled callees meet in one module when Numba links
    # them: they must merge, not be renamed away from their vector-variant attributes (which
    # left the loop with a scalar call per element, 3.5x slower)
    x = np.random.default_rng(10).standard_normal(3000)
    f = ft.jit(lambda a: lax.exp(-a * a / 2) + lax.tanh(a) * a)
    ns: dict = {}
    exec(f.lower(x).as_text().replace("cache=True, ", ""), ns)
    main = ns["main"]
    np.testing.assert_allclose(main(x), np.exp(-x * x / 2) + np.tanh(x) * x, rtol=1e-15)
    ir_text = main.inspect_llvm(main.signatures[0])
    assert not re.search(r"@functrace_\w+\.\d", ir_text)  # no renamed copy
    assert ir_text.count("call <8 x double> @llvm.x86.avx512.mask.scalef.pd.512") >= 2


def test_result_taking_over_an_operand_buffer_goes_through_the_block_buffer():
    # log(a @ W): the result reuses the product's buffer in place, so the kernel must not write
    # a whole block into it while reading the same block (it writes its own buffer, copied out
    # element by element after)
    rng = np.random.default_rng(11)
    a, w = rng.uniform(0.1, 1, (8, 40)), rng.uniform(0.1, 1, (40, 1500))
    w[:, 5] = 0.0  # log(0): the fix-up pass reads its operand again after the fast pass
    f = ft.jit(lambda a, w: lax.log(a @ w))
    src = f.lower(a, w).as_text()
    assert "log_block_f64(x2[i0, j0:], bo" in src
    assert not re.search(r"bo\d+ = x\d+\[", src)  # no direct write into the shared buffer
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(f(a, w), np.log(a @ w), rtol=1e-15)
    g = ft.jit(lambda a, w: lax.log(a @ w) + (a @ w) ** 0.5)  # two kernels, the buffer shared
    np.testing.assert_allclose(g(a, w), np.log(a @ w) + (a @ w) ** 0.5, rtol=1e-14)
