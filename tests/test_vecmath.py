"""Accuracy, special values and vectorisation of functrace.backend.vecmath.

Every function is run the way the backend runs it: inlined into a Numba loop over an array.
float64 results are checked against mpmath (40+ significant digits), float32 results against
float64 NumPy (2**-29 float32-ulp accurate), in ulps of the result dtype: at most 2 ulp
everywhere (the fits and algorithms aim at ~1). Special values must equal NumPy's results bit for
bit (NaN stays NaN, signed zeros, infinities). The default run uses moderate samples (seconds);
FUNCTRACE_FUZZ=1 adds exhaustive float32 sweeps and 10**6-sample float64 sweeps (minutes).
"""

from __future__ import annotations

import math
import os

import mpmath as mp
import numba
import numpy as np
import pytest

from functrace.backend.vecmath import VECTOR_MATH, trig_block_f32, trig_block_f64

FUZZ = os.environ.get("FUNCTRACE_FUZZ", "") not in ("", "0")
MAX_ULP = 2.0
F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
UNARY = ["exp", "expm1", "log", "log1p", "tanh", "logistic", "softplus", "sin", "cos", "erf"]
mp.mp.dps = 40

# --- running the functions as the backend does: inlined in a loop ----------------------------

_LOOPS: dict = {}


def run(name: str, *args: np.ndarray) -> np.ndarray:
    """Apply VECTOR_MATH[name] elementwise in a Numba loop (compiled once per name/dtype)."""
    dtype = args[0].dtype
    key = (name, dtype)
    if key not in _LOOPS:
        fn = VECTOR_MATH[name][dtype]
        if len(args) == 2:
            @numba.njit(error_model="numpy")
            def loop(x, y, out):
                for i in range(x.shape[0]):
                    out[i] = fn(x[i], y[i])
        else:
            @numba.njit(error_model="numpy")
            def loop(x, out):
                for i in range(x.shape[0]):
                    out[i] = fn(x[i])
        _LOOPS[key] = loop
    out = np.empty_like(args[0])
    _LOOPS[key](*[np.ascontiguousarray(a) for a in args], out)
    return out


# --- references ----------------------------------------------------------------------------------

def _mp_logistic(x):
    return 1 / (1 + mp.exp(-x))


def _mp_softplus(x):
    return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))


MP = {"exp": mp.exp, "expm1": mp.expm1, "log": mp.log, "log1p": mp.log1p, "tanh": mp.tanh,
      "logistic": _mp_logistic, "softplus": _mp_softplus, "sin": mp.sin, "cos": mp.cos,
      "erf": mp.erf}


def _np_erf(x):
    try:
        from scipy.special import erf
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float64])(x)
    return erf(x)


NP64 = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
        "logistic": lambda x: np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))),
                                       np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))),
        "softplus": lambda x: np.logaddexp(0.0, x), "sin": np.sin, "cos": np.cos,
        "erf": _np_erf}


# outside RANGES these round to a limit (0, -1, +-1, inf or x) that float64 NumPy gets exactly
SATURATED = {"exp": np.exp, "expm1": np.expm1, "tanh": np.tanh, "erf": np.sign,
             "logistic": lambda x: 0.0 if x < 0 else 1.0,
             "softplus": lambda x: 0.0 if x < 0 else x}


def mp_reference(name: str, x: np.ndarray, y: np.ndarray | None = None) -> list:
    """Exact-ish values as mpmath numbers (None where the true result is not real)."""
    out = []
    for i, xi in enumerate(x.astype(np.float64)):
        xm = mp.mpf(float(xi))
        if name == "pow":
            ym = mp.mpf(float(y[i]))
            if xm < 0 and ym != int(ym):
                out.append(None)
                continue
            with mp.workdps(60):
                out.append(mp.power(xm, ym) if xm != 0 else mp.mpf(0))
        elif name in ("log",) and xm <= 0 or name == "log1p" and xm <= -1:
            out.append(None)
        elif name in SATURATED and not RANGES[name][0] <= xi <= RANGES[name][1]:
            with np.errstate(over="ignore"):  # exactly 0, +-1, inf, x, ...
                out.append(mp.mpf(float(SATURATED[name](xi))))
        else:
            with mp.workdps(40 + max(0, int(mp.log10(abs(xm) + 1)))):  # sin(1e300) needs 340
                out.append(+MP[name](xm))
    return out


def ulp_errors(got: np.ndarray, ref: list) -> np.ndarray:
    """|got - ref| in ulps of the dtype of got, at the reference (inf where the result is a
    non-finite value that the reference does not round to)."""
    dt = got.dtype
    errs = np.zeros(got.shape)
    tiny = np.finfo(dt).smallest_subnormal
    for i, (g, r) in enumerate(zip(got, ref)):
        if r is None:
            errs[i] = 0.0 if np.isnan(g) else np.inf
            continue
        rounded = dt.type(float(r)) if abs(r) < 1e300 or dt == F64 else dt.type(np.inf)
        if not np.isfinite(g) or not np.isfinite(rounded):
            errs[i] = 0.0 if g == rounded else np.inf
            continue
        with np.errstate(over="ignore"):
            ulp = max(float(np.spacing(abs(rounded))), float(tiny))
        errs[i] = float(abs(mp.mpf(float(g)) - r)) / ulp
    return errs


def assert_ulp(name: str, x: np.ndarray, got: np.ndarray, errs: np.ndarray) -> None:
    worst = int(np.argmax(errs))
    assert errs[worst] <= MAX_ULP, (
        f"{name}[{got.dtype}]({x[worst]!r}) = {got[worst]!r}: {errs[worst]:.3g} ulp")


# --- samples -------------------------------------------------------------------------------------

# the interesting range of each function (where results are neither 0, +-1, inf nor x itself)
RANGES = {"exp": (-750, 712), "expm1": (-40, 712), "log": (0, 1e6), "log1p": (-1, 1e3),
          "tanh": (-20, 20), "logistic": (-750, 40), "softplus": (-750, 40), "sin": (-50, 50),
          "cos": (-50, 50), "erf": (-6.5, 6.5)}
RANGES32 = {"exp": (-105, 90), "expm1": (-18, 90), "logistic": (-105, 18),
            "softplus": (-105, 18), "erf": (-4.5, 4.5)}


def random_bits(dtype, n: int, rng) -> np.ndarray:
    """Uniform over bit patterns: every binade equally, subnormals included."""
    ity = np.int64 if dtype == F64 else np.int32
    x = rng.integers(np.iinfo(ity).min, np.iinfo(ity).max, n, dtype=ity).view(dtype)
    return x[np.isfinite(x)]


def samples(name: str, dtype, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = (RANGES32 if dtype == F32 else {}).get(name, RANGES[name])
    parts = [random_bits(dtype, n, rng), rng.uniform(lo, hi, n), rng.uniform(-2, 2, n),
             rng.uniform(-1e-3, 1e-3, n // 4)]
    if name in ("sin", "cos"):  # the hardest inputs: floats nearest to multiples of pi/2
        k = rng.integers(1, 2**20, n // 4).astype(np.float64)
        parts.append(k * (np.pi / 2))
        parts.append(np.array([6381956970095103.0 * 2.0**797, 5.319372648326541e255,
                               1.5707963267948966, 3.141592653589793, 1e22, 2.0**1023]))
    with np.errstate(over="ignore"):
        x = np.concatenate(parts).astype(dtype)
    return x[np.isfinite(x)]


# --- accuracy -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", UNARY)
def test_float64_accuracy(name):
    x = samples(name, F64, 1500)
    got = run(name, x)
    assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))


@pytest.mark.parametrize("name", UNARY)
def test_float32_accuracy(name):
    x = samples(name, F32, 20000)
    got = run(name, x)
    with np.errstate(all="ignore"):
        ref = NP64[name](x.astype(np.float64))
    assert_ulp(name, x, got, np_ulp_errors(got, ref))


def np_ulp_errors(got: np.ndarray, ref64: np.ndarray) -> np.ndarray:
    """ulp errors of float32 results against a float64 reference (vectorised)."""
    with np.errstate(all="ignore"):
        rounded = ref64.astype(np.float32)
        ulp = np.maximum(np.spacing(np.abs(rounded)), np.finfo(np.float32).smallest_subnormal)
        err = np.abs(got.astype(np.float64) - ref64) / ulp.astype(np.float64)
    same = (got == rounded) | (np.isnan(got) & np.isnan(ref64))
    return np.where(np.isfinite(rounded) & np.isfinite(got), err, np.where(same, 0.0, np.inf))


def pow_samples(dtype, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    big = 700.0 if dtype == F64 else 85.0
    x = np.abs(random_bits(dtype, n, rng))
    # y such that |y log x| spans the whole range, where the error amplification is largest
    y = rng.uniform(-1, 1, x.size) * big / np.maximum(np.abs(np.log(x.astype(np.float64))), 1e-3)
    x2 = rng.uniform(0, 4, n)
    y2 = rng.uniform(-60, 60, n)
    x3 = -rng.uniform(0, 3, n // 4)
    y3 = rng.integers(-40, 40, n // 4).astype(np.float64)
    x4 = 1 + rng.uniform(-1e-6, 1e-6, n // 4)
    y4 = rng.uniform(-1, 1, n // 4) * big * 1e6
    xs = np.concatenate([x, x2, x3, x4]).astype(dtype)
    ys = np.concatenate([y, y2, y3, y4]).astype(dtype)
    return xs, ys


def test_pow_float64_accuracy():
    x, y = pow_samples(F64, 1500)
    got = run("pow", x, y)
    ref = mp_reference("pow", x, y)
    errs = ulp_errors(got, ref)
    worst = int(np.argmax(errs))
    assert errs[worst] <= MAX_ULP, f"pow({x[worst]!r}, {y[worst]!r}) = {got[worst]!r}"


def test_pow_float32_accuracy():
    x, y = pow_samples(F32, 20000)
    got = run("pow", x, y)
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), y.astype(np.float64))
    errs = np_ulp_errors(got, ref)
    worst = int(np.argmax(errs))
    assert errs[worst] <= MAX_ULP, f"pow({x[worst]!r}, {y[worst]!r}) = {got[worst]!r}"


# --- special values --------------------------------------------------------------------------

def special_values(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0,
            fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal,
            fi.tiny / 3, -fi.tiny / 3, fi.eps, -fi.eps, np.pi, -np.pi, np.pi / 2, 100.0, -100.0]
    if dtype == F64:  # overflow/underflow thresholds of exp and friends, split points
        vals += [709.782712893384, 709.7827128933841, -708.3964185322641, -745.1332191019411,
                 -745.1332191019412, -744.44007192138, 710.0, -746.0, -40.0, -37.5, 0.625,
                 0.6249999999999999, 1.0000000000000002, 6.0, 5.9, 19.1, 2.0**-27, 2.0**-54,
                 2.0**27, 1e300, -1e300]
    else:
        vals += [88.72283, 88.72284, -87.33654, -103.97208, -103.97209, 89.0, -104.0, -18.0,
                 0.625, 3.9, 4.0, 9.1, 2.0**-12, 2.0**-25, 2.0**24, 1e30, -1e30]
    return np.array(vals, dtype=dtype)


NP_SPECIAL = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
              "tanh": np.tanh, "sin": np.sin, "cos": np.cos}


def same_value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal including the sign of zero, NaN equal to NaN."""
    return ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", UNARY)
def test_special_values(name, dtype):
    x = special_values(dtype)
    got = run(name, x)
    assert got.dtype == dtype
    # non-finite and zero inputs/outputs must match NumPy exactly; the rest to 2 ulp
    if name in NP_SPECIAL:
        with np.errstate(all="ignore"):
            want = NP_SPECIAL[name](x)
    else:
        want = expected_special(name, x)
    exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(x) | (x == 0)
    bad = exact & ~same_value(got, want)
    assert not bad.any(), f"{name}({x[bad]}) = {got[bad]}, NumPy gives {want[bad]}"
    finite = ~exact
    if dtype == F64:
        errs = ulp_errors(got[finite], mp_reference(name, x[finite]))
    else:
        with np.errstate(all="ignore"):
            errs = np_ulp_errors(got[finite], NP64[name](x[finite].astype(np.float64)))
    assert_ulp(name, x[finite], got[finite], errs)


def expected_special(name: str, x: np.ndarray) -> np.ndarray:
    """What NumPy-style code gives for the functions NumPy has no ufunc for."""
    with np.errstate(all="ignore"):
        if name == "logistic":
            e = np.exp(-np.abs(x))
            return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        if name == "softplus":
            return np.logaddexp(x.dtype.type(0), x)
        if name == "erf":
            return np.where(np.isnan(x), x, _np_erf(x.astype(np.float64))).astype(x.dtype)
    raise KeyError(name)


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
def test_pow_special_values(dtype):
    v = special_values(dtype)[:27]
    ints = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5, 2.5, 1e20],
                    dtype=dtype)
    ys = np.concatenate([v, ints])
    x, y = (a.ravel() for a in np.meshgrid(v, ys))
    got = run("pow", x, y)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(x) | ~np.isfinite(y) | (x == 0) \
        | (y == 0) | (np.abs(x) == 1)
    bad = exact & ~same_value(got, want)
    assert not bad.any(), f"pow({x[bad]}, {y[bad]}) = {got[bad]}, NumPy gives {want[bad]}"


def test_trig_huge_arguments_are_reduced_exactly():
    # x = 2**1023 and the hardest double for pi/2 reduction (|x mod pi/2| ~ 2**-61)
    x = np.array([2.0**1023, 6381956970095103.0 * 2.0**797, 1e22, 8.0e300, 3.0e16])
    for name in ("sin", "cos"):
        got = run(name, x)
        assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))
    got32 = run("sin", np.array([1e38, 1.5707964, 3.4e38], dtype=np.float32))
    ref = np.sin(np.array([1e38, 1.5707964, 3.4e38], dtype=np.float32).astype(np.float64))
    assert np_ulp_errors(got32, ref).max() <= MAX_ULP


# --- the sin/cos block kernels (what the code generator calls on blocks of a fused loop) ------

BLOCK_KERNELS = {F32: trig_block_f32, F64: trig_block_f64}


def run_block(name: str, x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, 7.0)  # every element must be written
    BLOCK_KERNELS[x.dtype](x, out, x.size, 1 if name == "cos" else 0)
    return out


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_block_f32_accuracy(name):
    # samples() holds every binade (so fast path and exact fix-up mixed in the same block),
    # floats nearest to multiples of pi/2 and the fast path's bound
    lim = float(np.float32(71476.0625))
    edge = np.array([lim, np.nextafter(lim, 0, dtype=np.float32), 7e4, 65536.0], np.float32)
    x = np.concatenate([samples(name, F32, 20000), edge, -edge])
    got = run_block(name, x)
    with np.errstate(all="ignore"):
        ref = NP64[name](x.astype(np.float64))
    assert_ulp(name, x, got, np_ulp_errors(got, ref))


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_block_f64_accuracy(name):
    rng = np.random.default_rng(3)
    near = rng.integers(1, 2**20, 1000) * (np.pi / 2)  # hardest for the fast path's reduction
    edge = np.array([1647099.0, np.nextafter(1647099.0, 0), 1647098.9, 1e6, 2.0**20])
    x = np.concatenate([samples(name, F64, 1500), near, np.nextafter(near, 0),
                        np.nextafter(near, np.inf), edge, -edge])
    got = run_block(name, x)
    assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_block_special_values(name, dtype):
    x = special_values(dtype)
    for n in (1, 5, x.size):  # the fix-up pass patches exactly the flagged elements
        got = run_block(name, x[:n])
        assert got.dtype == dtype
        with np.errstate(all="ignore"):
            want = NP_SPECIAL[name](x[:n])
        exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(x[:n]) | (x[:n] == 0)
        bad = exact & ~same_value(got, want)
        assert not bad.any(), f"{name}({x[:n][bad]}) = {got[bad]}, NumPy gives {want[bad]}"
    x = np.repeat(np.array([0.0, -0.0, np.inf, np.nan], dtype), 40)  # whole vectors
    got = run_block(name, x)
    with np.errstate(all="ignore"):
        assert same_value(got, NP_SPECIAL[name](x)).all()


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
def test_trig_block_vectorises(dtype):
    kernel = BLOCK_KERNELS[dtype]
    fresh = numba.njit(error_model="numpy")(kernel.py_func)  # cached code has no IR
    x = np.ones(64, dtype)
    fresh(x, np.empty_like(x), x.size, 0)
    ir_text = fresh.inspect_llvm(fresh.signatures[0])
    assert f"x {'double' if dtype == F64 else 'float'}>" in ir_text


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
def test_code_generator_runs_sin_cos_through_block_kernels(dtype):
    import functrace as ft
    import functrace.numpy as fnp

    x = np.random.default_rng(4).uniform(-50, 50, (3, 2500)).astype(dtype)  # several blocks
    x[1, 7], x[2, 2100], x[0, 1500] = 1e30, np.inf, -0.0  # exact path, NaN result, sign of 0
    f = ft.jit(lambda a: (fnp.sin(a), fnp.sin(a) * a + fnp.cos(a * 2)))
    src = f.lower(x).as_text()
    kernel = f"trig_block_{'f32' if dtype == F32 else 'f64'}"
    assert f"{kernel}(x0[i0, j0:], " in src  # an input array is read in place
    assert f"{kernel}(bi" in src  # a computed operand goes through a block buffer
    with np.errstate(all="ignore"):
        s_got, mix = f(x)
        assert same_value(s_got.ravel(), run_block("sin", x.ravel())).all()
        want = np.sin(x) * x + np.cos(x * 2)
    tol = 1e-5 if dtype == F32 else 1e-13
    np.testing.assert_allclose(mix, want, rtol=tol, atol=tol)


# --- structure -----------------------------------------------------------------------------------

def test_table_covers_primitives_and_dtypes():
    want = {"exp", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "pow", "erf"}
    assert want <= set(VECTOR_MATH)
    for name, per_dtype in VECTOR_MATH.items():
        assert set(per_dtype) == {F64, F32}, name
        for fn in per_dtype.values():
            assert isinstance(fn, numba.core.registry.CPUDispatcher), name


def test_float32_stays_float32():
    # the generated code composes these in expressions: a float64 result would promote them
    unary = tuple(VECTOR_MATH[name][F32] for name in sorted(VECTOR_MATH) if name != "pow")
    pow32 = VECTOR_MATH["pow"][F32]
    src = ["def call(x, y):", "    return (pow32(x, y),"]
    src += [f"            f{i}(x)," for i in range(len(unary))]
    src.append("    )")
    ns = {"pow32": pow32, **{f"f{i}": f for i, f in enumerate(unary)}}
    exec("\n".join(src), ns)
    call = numba.njit(ns["call"])
    call(np.float32(0.5), np.float32(1.5))
    assert set(call.nopython_signatures[0].return_type) == {numba.float32}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(VECTOR_MATH))
def test_loops_vectorise(name, dtype):
    """The point of the module: the loop around each function compiles to SIMD code."""
    x = np.linspace(0.1, 2, 64).astype(dtype)
    run(name, *([x, x] if name == "pow" else [x]))
    loop = _LOOPS[(name, dtype)]
    ir_text = loop.inspect_llvm(loop.signatures[0])
    elem = "double" if dtype == F64 else "float"
    assert f"x {elem}>" in ir_text, f"{name}[{dtype}] did not vectorise"
    assert "@llvm.sin" not in ir_text and "@exp(" not in ir_text, "libm call left in the loop"


# --- opt-in exhaustive sweeps (FUNCTRACE_FUZZ=1) ------------------------------------------------

def _assert_every_float32_within_max_ulp(name, runner):
    """``runner(name, x)`` on all 2^32 float32 bit patterns, in chunks, against float64."""
    chunk = 1 << 26
    worst = (0.0, None)
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        got = runner(name, x)
        with np.errstate(all="ignore"):
            ref = NP64[name](x.astype(np.float64))
        errs = np_ulp_errors(got, ref)
        i = int(np.argmax(errs))
        if errs[i] > worst[0]:
            worst = (errs[i], x[i])
    assert worst[0] <= MAX_ULP, f"{name}({worst[1]!r}): {worst[0]:.3g} ulp"


@pytest.mark.skipif(not FUZZ, reason="exhaustive sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize("name", UNARY)
def test_float32_exhaustive(name):
    _assert_every_float32_within_max_ulp(name, run)


@pytest.mark.skipif(not FUZZ, reason="exhaustive sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_block_f32_exhaustive(name):
    _assert_every_float32_within_max_ulp(name, run_block)


@pytest.mark.skipif(not FUZZ, reason="large sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_block_f64_large_sweep(name):
    rng = np.random.default_rng(7)
    near = rng.integers(1, 2**20, 10000) * (np.pi / 2)
    x = np.concatenate([samples(name, F64, 30000, seed=1), rng.uniform(-1.7e6, 1.7e6, 30000),
                        np.nextafter(near, 0), np.nextafter(near, np.inf)])
    got = run_block(name, x)
    assert_ulp(name, x, got, ulp_errors(got, mp_reference(name, x)))


@pytest.mark.skipif(not FUZZ, reason="large sweep: set FUNCTRACE_FUZZ=1")
@pytest.mark.parametrize("name", UNARY + ["pow"])
def test_float64_large_sweep(name):
    n = 30000
    if name == "pow":
        x, y = pow_samples(F64, n, seed=1)
        got = run("pow", x, y)
        errs = ulp_errors(got, mp_reference("pow", x, y))
    else:
        x = samples(name, F64, n, seed=1)
        got = run(name, x)
        errs = ulp_errors(got, mp_reference(name, x))
    assert_ulp(name, x, got, errs)


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(VECTOR_MATH))
def test_every_nan_payload_stays_nan(name, dtype):
    # exponent-field arithmetic on a NaN with payload bits can produce a number (tanh float32
    # once returned +-1 for 0x7fffffff); quiet, signalling and negative NaNs, a full vector each
    if dtype == F64:
        bits = np.array([0x7FF8000000000000, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000001,
                         0xFFF8000000000001], dtype=np.uint64)
    else:
        bits = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFFFFF],
                        dtype=np.uint32)
    x = np.repeat(bits.view(dtype), 16)
    outs = [run(name, x, np.full_like(x, 2.5)), run(name, np.full_like(x, 2.5), x)] \
        if name == "pow" else [run(name, x)]
    for out in outs:
        assert np.isnan(out).all(), f"{name}[{dtype}] of a NaN gave {out[~np.isnan(out)][:3]}"
