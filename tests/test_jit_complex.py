"""Complex programs compiled by ``jit`` (issue 15): holomorphic functions, |z|^2 losses of
complex parameters with their gradients, complex products (cgemm/zgemm), signal code, views and
indexing, control flow, complex linear algebra (solve, det, slogdet, eig, cholesky, eigh, qr,
svd and triangular solves through LAPACK) and the orderings (max/min, comparisons, sort,
cummax, argmax: NumPy's lexicographic order).

Each program runs compiled with no NumPy fallback (no "runs with its NumPy implementation"
warning, no ``_fallback[...]`` call in the generated source) and is compared with the reference
interpreter on the same jaxpr (``jit_check``) and with NumPy or a closed form. complex64 stays
complex64, complex128 is the default. Jitted functions are module-level so that each compiles
once.
"""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jit_check import assert_close, interpret

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.backend import kernels

RNG = np.random.default_rng(15)
RTOL = {np.dtype(np.complex64): 2e-5, np.dtype(np.complex128): 1e-12,
        np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def _z(shape, dtype=np.complex128, scale=1.0):
    z = scale * (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))
    return z.astype(dtype)


def compiled(jitted, *args):
    """Run ``jitted`` on ``args`` asserting it compiles without any NumPy fallback: no warning
    (all warnings are errors) and no fallback call in its generated source."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = jitted(*args)
        text = jitted.lower(*args).as_text()
    assert "_fallback[" not in text, text
    return out


def check(jitted, fn, *args, rtol=None, atol=None):
    """``jitted(*args)`` compiles fully and matches the interpreter on the same program."""
    got = compiled(jitted, *args)
    want = interpret(fn, *args)
    got_l, want_l = ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want)
    assert len(got_l) == len(want_l)
    for k, (g, w) in enumerate(zip(got_l, want_l)):
        assert_close(g, w, rtol, atol, what=f"output {k}")
    return got


# --- holomorphic and elementwise functions ----------------------------------------------------


def holo(z, w):
    return {
        "arith": z * w + z / w - w - (-z),
        "exp": fnp.exp(z), "log": fnp.log(z), "sqrt": fnp.sqrt(z),
        "sin": fnp.sin(z), "cos": fnp.cos(z), "tan": fnp.tan(z),
        "sinh": fnp.sinh(z), "cosh": fnp.cosh(z), "tanh": fnp.tanh(z),
        "log1p": fnp.log1p(z), "expm1": fnp.expm1(z), "rsqrt": lax.rsqrt(z),
        "ipow": z ** 2 + z ** 3 + z ** 5 + z ** -1 + z ** -3,
        "pow": z ** w, "sign": fnp.sign(z), "conj": fnp.conj(z),
        "abs": fnp.abs(z), "real": fnp.real(z), "imag": fnp.imag(w),
        "build": lax.complex(fnp.real(w), fnp.abs(z)),
        "eq": z == w, "ne": z != z[:, :1], "finite": fnp.isfinite(z / w),
        "where": fnp.where(fnp.abs(z) > 1, z, w),
        "sum": fnp.sum(z * w, axis=1), "prod": fnp.prod(z, axis=0), "total": fnp.sum(z),
    }


NUMPY_HOLO = {
    "exp": lambda z, w: np.exp(z), "log": lambda z, w: np.log(z),
    "sqrt": lambda z, w: np.sqrt(z), "sin": lambda z, w: np.sin(z),
    "cos": lambda z, w: np.cos(z), "tan": lambda z, w: np.tan(z),
    "sinh": lambda z, w: np.sinh(z), "cosh": lambda z, w: np.cosh(z),
    "tanh": lambda z, w: np.tanh(z), "log1p": lambda z, w: np.log1p(z),
    "expm1": lambda z, w: np.expm1(z), "rsqrt": lambda z, w: 1 / np.sqrt(z),
    "pow": lambda z, w: z ** w, "sign": lambda z, w: np.sign(z),
    "abs": lambda z, w: np.abs(z), "sum": lambda z, w: np.sum(z * w, axis=1),
    "prod": lambda z, w: np.prod(z, axis=0),
}
_holo = ft.jit(holo)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_holomorphic_functions_compile_and_match_interpreter_and_numpy(dtype):
    z, w = _z((3, 40), dtype), _z((3, 40), dtype)
    got = check(_holo, holo, z, w)
    rtol = RTOL[np.dtype(dtype)]
    real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
    for name, val in got.items():
        want_dtype = {"abs": real, "real": real, "imag": real, "eq": np.bool_, "ne": np.bool_,
                      "finite": np.bool_}.get(name, np.dtype(dtype))
        assert val.dtype == want_dtype, (name, val.dtype)
    for name, ref in NUMPY_HOLO.items():
        np.testing.assert_allclose(got[name], ref(z, w), rtol=10 * rtol, err_msg=name)
    np.testing.assert_array_equal(got["conj"], np.conj(z))
    np.testing.assert_array_equal(got["real"], z.real)
    np.testing.assert_allclose(got["build"], w.real + 1j * np.abs(z), rtol=10 * rtol)
    np.testing.assert_array_equal(got["build"].real, w.real)


# division, powers and sign at zeros, infinities and NaNs give NumPy's parts exactly
_SPECIAL = np.array([0j, -0.0 + 0j, 1 + 0j, complex(np.inf, 0), complex(-np.inf, 2),
                     complex(0, np.inf), complex(np.inf, np.inf), complex(np.nan, 1),
                     1e-310 + 1e-310j, 1e300 - 1e300j, 3 - 4j, -2 + 0.5j])


with np.errstate(all="ignore"):
    _big = np.array([1e300 - 1e300j] * 4)
    _NUMPY_MULTIPLIES_WITH_FMA = bool(np.isneginf((_big * _big).real).all())


def specials(z, w):
    return z / w, fnp.sign(z), z ** 2, z ** -2, lax.complex(fnp.real(w), fnp.imag(z)), z * w


_specials = ft.jit(specials)


def test_special_values_give_numpys_parts():
    z = np.repeat(_SPECIAL, len(_SPECIAL))
    w = np.tile(_SPECIAL, len(_SPECIAL))
    with np.errstate(all="ignore"):
        got = compiled(_specials, z, w)
        # np.power, as the interpreter (an array's ``** 2`` is np.square, whose overflow
        # parts differ)
        want = (z / w, np.sign(z), np.power(z, 2), np.power(z, -2), None, z * w)
    for k, (g, r) in enumerate(zip(got, want)):
        if k == 4:  # built part by part: an infinite imaginary part keeps a finite real one
            np.testing.assert_array_equal(g.real, w.real)
            np.testing.assert_array_equal(g.imag, z.imag)
            continue
        if k == 5 and not _NUMPY_MULTIPLIES_WITH_FMA:
            # the compiled product uses fused multiply-adds as NumPy's AVX-512 loop; a NumPy
            # without that loop differs in the last bit and in overflows to NaN
            fin = np.isfinite(r)
            np.testing.assert_allclose(g[fin], r[fin], rtol=1e-15)
            continue
        np.testing.assert_array_equal(g.real, r.real, err_msg=f"output {k}")
        np.testing.assert_array_equal(g.imag, r.imag, err_msg=f"output {k}")


_arith = ft.jit(lambda z, w: (z / w, fnp.sign(z), z ** 3, z ** -2, z ** w, fnp.conj(z) * w,
                               fnp.abs(z)))


@settings(derandomize=True, max_examples=40, deadline=None)
@given(parts=hnp.arrays(np.float64, (4, 16), elements=st.one_of(
    st.floats(-1e3, 1e3), st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, 1e300]))))
def test_arithmetic_on_any_values_matches_the_interpreter(parts):
    # one compiled program (fixed shapes), values from everywhere: NaN where the interpreter
    # has NaN, infinities equal, the rest within the dtype's tolerance
    z, w = parts[0].astype(complex), parts[2].astype(complex)
    z.imag, w.imag = parts[1], parts[3]  # part by part: inf * 1j would make a NaN real part
    with np.errstate(all="ignore"):
        got = compiled(_arith, z, w)
        want = interpret(lambda z, w: (z / w, fnp.sign(z), z ** 3, z ** -2, z ** w,
                                       fnp.conj(z) * w, fnp.abs(z)), z, w)
    finite = np.isfinite(z) & np.isfinite(w)
    for k, (g, r) in enumerate(zip(got, want)):
        for part in ((g.real, r.real), (g.imag, r.imag)) if g.dtype.kind == "c" else ((g, r),):
            if k == 4:
                # z ** w of non-finite operands: libm's cpow (C99 Annex G infinities) is not
                # followed (docs/sharp-bits.md)
                part = tuple(np.where(finite, p, 0) for p in part)
            if k == 5 and not _NUMPY_MULTIPLIES_WITH_FMA:
                part = tuple(np.where(np.isfinite(part[1]), p, 0) for p in part)
            assert_close(part[0], part[1], what=f"output {k}")


def test_python_complex_scalars_and_zero_d_outputs():
    f = ft.jit(lambda z, s: (z * s, fnp.sum(z) * s, s * 2))
    z = np.array([1j, 2.0])
    for _ in range(2):  # the second call takes the dispatch fast path
        a, b, c = compiled(f, z, 1 + 2j)
    np.testing.assert_array_equal(a, z * (1 + 2j))
    assert b.shape == c.shape == () and b.dtype == c.dtype == np.complex128
    assert b == (2 + 1j) * (1 + 2j) and c == 2 + 4j


# --- gradients of real losses of complex parameters -------------------------------------------

A = _z((6, 4))
B = _z((6,))


def abs2_loss(z):
    r = fnp.dot(A, z) - B
    return fnp.sum(fnp.abs(r) ** 2) + fnp.sum(fnp.real(z * fnp.conj(z)))


_grad_abs2 = ft.jit(ft.value_and_grad(abs2_loss))


def test_grad_of_abs_squared_loss_matches_closed_form():
    z = _z((4,))
    val, g = check(_grad_abs2, ft.value_and_grad(abs2_loss), z)
    r = A @ z - B
    np.testing.assert_allclose(val, np.sum(np.abs(r) ** 2) + np.sum(np.abs(z) ** 2),
                               rtol=1e-12)
    # JAX's convention for real functions of complex input: the conjugate of 2 df/dz*
    assert g.dtype == np.complex128
    np.testing.assert_allclose(g, np.conj(2 * (A.conj().T @ r) + 2 * z), rtol=1e-12)


def phase_fit(theta, z):
    # a holomorphic model with complex parameters and a real loss
    pred = theta[0] * fnp.exp(theta[1] * z) + theta[2] * z * z
    return fnp.mean(fnp.abs(pred - fnp.sin(z)) ** 2)


_grad_phase = ft.jit(ft.grad(phase_fit))


def test_grad_of_holomorphic_model_matches_interpreter_and_finite_differences():
    theta, z = _z((3,), scale=0.5), _z((50,), scale=0.5)
    g = check(_grad_phase, ft.grad(phase_fit), theta, z)
    # d/dRe and d/dIm by central differences: the gradient is their combination re - i im
    eps = 1e-6
    for k in range(3):
        e = np.zeros(3, complex)
        e[k] = eps
        d_re = (phase_fit(theta + e, z) - phase_fit(theta - e, z)) / (2 * eps)
        d_im = (phase_fit(theta + 1j * e, z) - phase_fit(theta - 1j * e, z)) / (2 * eps)
        np.testing.assert_allclose(g[k], d_re - 1j * d_im, rtol=1e-6)


# --- products ---------------------------------------------------------------------------------

def products(a, b):
    return a @ b, fnp.einsum("bij,bjk->bik", fnp.stack([a, a]), fnp.stack([b, b])), a.T @ a, \
        fnp.dot(a[0], b[:, 0])


_products = ft.jit(products)


@pytest.mark.parametrize("dtype, gemm", [(np.complex128, "zgemm("), (np.complex64, "cgemm(")])
def test_complex_matmul_calls_complex_gemm(dtype, gemm):
    a, b = _z((24, 24), dtype), _z((24, 20), dtype)
    got = check(_products, products, a, b)
    assert gemm in _products.lower(a, b).as_text()
    rtol = 10 * RTOL[np.dtype(dtype)]
    np.testing.assert_allclose(got[0], a @ b, rtol=rtol)
    np.testing.assert_allclose(got[1][1], a @ b, rtol=rtol)
    np.testing.assert_allclose(got[2], a.T @ a, rtol=rtol)
    np.testing.assert_allclose(got[3], a[0] @ b[:, 0], rtol=rtol)
    assert all(o.dtype == dtype for o in got)


# --- signal code (no FFT): a DFT by its matrix, windowing, filtering, demodulation ------------


def spectrum(x, h):
    n = x.shape[0]
    k = fnp.arange(n)
    twiddle = fnp.exp(-2j * np.pi * fnp.outer(k, k) / n)
    window = 0.5 - 0.5 * fnp.cos(2 * np.pi * k / n)  # real block kernel in a complex loop
    xs = twiddle @ (x * window)
    # circular convolution with h through the spectra, back with the inverse matrix
    hs = twiddle @ h
    y = fnp.conj(twiddle) @ (xs * hs) / n
    carrier = fnp.exp(1j * 0.3 * k)
    demod = x * fnp.conj(carrier)
    return fnp.abs(xs) ** 2, y, fnp.angle(xs[1:4]), fnp.cumsum(demod)


_spectrum = ft.jit(spectrum)


def test_signal_code_matches_numpy_fft():
    n = 96
    x = RNG.standard_normal(n) + 0.5j * RNG.standard_normal(n)
    h = np.zeros(n, complex)
    h[:3] = [0.5, 0.3, 0.2]
    power, y, phase, dem = check(_spectrum, spectrum, x, h)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    xs = np.fft.fft(x * window)
    np.testing.assert_allclose(power, np.abs(xs) ** 2, rtol=1e-9)
    np.testing.assert_allclose(y, np.fft.ifft(xs * np.fft.fft(h)), atol=1e-11)
    np.testing.assert_allclose(phase, np.angle(xs[1:4]), rtol=1e-9)
    np.testing.assert_allclose(dem, np.cumsum(x * np.exp(-0.3j * np.arange(n))), rtol=1e-11)


# --- views, indexing and updates --------------------------------------------------------------


def shuffles(z, idx, w):
    return {
        "t": z.T, "r": z.reshape(2, -1), "b": z[None, :, :] + w[:3, None, None],
        "s": z[1:, ::2], "cat": fnp.concatenate([z, z[::-1]], axis=0),
        "g": z[idx], "g2": z[:, idx], "pad": fnp.pad(z, 1),
        "add": z.at[idx].add(w[:z.shape[1]]), "set": z.at[0, 1].set(w[0]),
        "mul": z.at[idx].multiply(2j), "dus": lax.dynamic_update_slice(z, z[:1, :2], (1, 2)),
        "csum": fnp.cumsum(z, axis=1), "cprod": fnp.cumprod(z, axis=0),
    }


_shuffles = ft.jit(shuffles)


def test_views_indexing_and_updates_compile():
    z, w = _z((3, 4)), _z((5,))
    idx = np.array([2, 0, 2])
    got = check(_shuffles, shuffles, z, idx, w)
    np.testing.assert_array_equal(got["g"], z[idx])
    np.testing.assert_array_equal(got["cat"], np.concatenate([z, z[::-1]]))
    want = z.copy()
    np.add.at(want, idx, w[:4])
    np.testing.assert_allclose(got["add"], want, rtol=1e-15)
    np.testing.assert_array_equal(got["pad"], np.pad(z, 1))


# --- conversions ------------------------------------------------------------------------------


def conversions(z, x, i):
    return (z.astype(np.float64), z.astype(np.int32), z.astype(bool), z.astype(np.complex64),
            x.astype(np.complex128), i.astype(np.complex64), (x > 0).astype(np.complex128),
            z.astype(np.complex64).astype(np.complex128))


_conversions = ft.jit(conversions)


def test_conversions_to_and_from_complex_match_the_interpreter():
    z = _z((8,), scale=3.0)
    z[0] = 0
    z[1] = 1j
    x, i = RNG.standard_normal(8), np.arange(8, dtype=np.int64) - 4
    got = check(_conversions, conversions, z, x, i)
    # complex -> real drops the imaginary part quietly (as lax; NumPy's astype would warn)
    np.testing.assert_array_equal(got[0], z.real)
    np.testing.assert_array_equal(got[1], z.real.astype(np.int32))
    np.testing.assert_array_equal(got[2], z.real != 0)  # 1j -> False, as the interpreter
    np.testing.assert_array_equal(got[4], x + 0j)
    assert [g.dtype for g in got] == [np.float64, np.int32, np.bool_, np.complex64,
                                      np.complex128, np.complex64, np.complex128,
                                      np.complex128]


def test_dtypes_complex64_preserved_complex128_default():
    f = ft.jit(lambda z: (z * 2j + 1, fnp.exp(z) / z, fnp.sum(z), z @ z))
    for dtype in (np.complex64, np.complex128):
        outs = compiled(f, _z((3,), dtype))
        assert all(o.dtype == dtype for o in outs), [o.dtype for o in outs]
    # Python complex scalars and real arrays promote to the default complex128
    g = ft.jit(lambda x: x * 1j + fnp.exp(1j * x))
    out = compiled(g, np.ones(3))
    assert out.dtype == np.complex128
    np.testing.assert_allclose(out, 1j + np.exp(1j), rtol=1e-15)


# --- control flow with complex carries --------------------------------------------------------


def power_iteration(a, v):
    def body(i, v):
        u = a @ v
        return u / fnp.sqrt(fnp.sum(fnp.abs(u) ** 2))

    v = lax.fori_loop(0, 60, body, v)
    lam = fnp.sum(fnp.conj(v) * (a @ v))

    def step(c, x):
        c = c * 0.5j + x
        return c, c * fnp.conj(c)

    c, ys = lax.scan(step, 0j * v[0], v)
    return lam, c, ys


_power = ft.jit(power_iteration)


def test_control_flow_with_complex_carries():
    q = np.linalg.qr(_z((4, 4)))[0]
    lam0 = np.array([3 + 1j, 1, 0.5j, 0.2])
    a = q @ np.diag(lam0) @ q.conj().T
    lam, c, ys = check(_power, power_iteration, a, _z((4,)))
    np.testing.assert_allclose(lam, 3 + 1j, rtol=1e-9)
    assert ys.dtype == np.complex128


# --- complex linear algebra -------------------------------------------------------------------


def linalg(a, b):
    sign, logdet = fnp.linalg.slogdet(a)
    w, v = fnp.linalg.eig(a)
    return fnp.linalg.solve(a, b), fnp.linalg.det(a), sign, logdet, w, v, \
        fnp.linalg.eigvals(a)


_linalg = ft.jit(linalg)


@pytest.mark.parametrize("dtype", [np.complex128, np.float64])
def test_solve_det_eig_compile_to_lapack(dtype):
    a = _z((2, 5, 5)) if dtype == np.complex128 else RNG.standard_normal((2, 5, 5))
    b = _z((2, 5, 2)) if dtype == np.complex128 else RNG.standard_normal((2, 5, 2))
    x, det, sign, logdet, w, v, w2 = check(_linalg, linalg, a, b, rtol=0, atol=0)
    text = _linalg.lower(a, b).as_text()
    assert "lp_eig(" in text and "lp_solve(" in text and "lp_det(" in text
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(det, np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(sign, np.linalg.slogdet(a)[0], rtol=1e-12)
    np.testing.assert_allclose(logdet, np.linalg.slogdet(a)[1], rtol=1e-12)
    rw, rv = np.linalg.eig(a)
    # same routine as NumPy: the same order, normalisation and phases
    np.testing.assert_allclose(w, rw, rtol=1e-12)
    np.testing.assert_allclose(v, rv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w2, np.linalg.eigvals(a), rtol=1e-12)
    assert w.dtype == v.dtype == np.complex128
    np.testing.assert_allclose(a @ v, v * w[:, None, :], atol=1e-10)


def eigs(a32, c64, a64):
    return fnp.linalg.eig(a32), fnp.linalg.eig(c64), fnp.linalg.eig(a64)


_eigs = ft.jit(eigs)  # one program for every eig test below


def test_eig_single_precision_and_a_complex_pair_match_interpreter_exactly():
    a32 = RNG.standard_normal((3, 3)).astype(np.float32)
    c64 = _z((3, 3), np.complex64)
    rot = np.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    (w32, v32), (wc, vc), (w, v) = check(_eigs, eigs, a32, c64, rot, rtol=0, atol=0)
    assert w32.dtype == v32.dtype == wc.dtype == vc.dtype == np.complex64
    np.testing.assert_allclose(w32, np.linalg.eig(a32)[0], rtol=1e-6)
    np.testing.assert_allclose(a32 @ v32, v32 * w32, atol=1e-5)
    np.testing.assert_allclose(c64 @ vc, vc * wc, atol=1e-5)
    # a real matrix's complex pair: conjugate eigenvalues and eigenvectors
    np.testing.assert_allclose(w, [2j, -2j, 3], atol=1e-15)
    np.testing.assert_allclose(v[:, 1], np.conj(v[:, 0]), rtol=1e-15)
    assert w.dtype == np.complex128


def test_eig_of_a_nan_matrix_gives_nans_as_the_interpreter():
    bad = np.eye(3)
    bad[0, 1] = np.nan
    args = (np.eye(3, dtype=np.float32), np.eye(3, dtype=np.complex64), bad)
    got = compiled(_eigs, *args)[2]
    want = interpret(eigs, *args)[2]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        assert np.isnan(g).all()


# --- orderings: NumPy's lexicographic order -------------------------------------------------

_PARTS = np.array([-np.inf, -1.0, -0.0, 0.0, 1.0, np.inf, np.nan])


def _cplx(re, im, dtype):
    # parts set one by one: re + 1j * im would turn inf * 1j into a NaN real part
    z = np.empty(np.shape(re), dtype)
    z.real, z.imag = re, im
    return z


def _same_bits(got, want, what):
    """Equal values, NaNs in the same parts and the same signs of zero."""
    got, want = np.atleast_1d(np.asarray(got)), np.atleast_1d(np.asarray(want))
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if got.dtype.kind == "c":
        got, want = got.view(got.real.dtype), want.view(want.real.dtype)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=what)
    np.testing.assert_array_equal(got, want, err_msg=what)


def orderings(z, w, a, idx, u, v):
    return {
        "sort_long": fnp.sort(v), "argsort_long": fnp.argsort(v),
        "max": lax.max(z, w), "min": lax.min(z, w), "maximum": fnp.maximum(z, w),
        "lt": z < w, "le": z <= w, "gt": z > w, "ge": z >= w,
        "reduce_max": fnp.max(a, axis=1), "reduce_min": fnp.min(a, axis=0),
        "max_all": fnp.max(a), "argmax": fnp.argmax(a, axis=1), "argmin": fnp.argmin(a, axis=0),
        "sort0": fnp.sort(a, axis=0), "sort1": fnp.sort(a, axis=1),
        "argsort": fnp.argsort(a, axis=1), "sort_pair": lax.sort((a, a.real), num_keys=1),
        "cummax": lax.cummax(a, axis=1), "cummin": lax.cummin(a, axis=0, reverse=True),
        "scatter_max": a[0].at[idx].max(u), "scatter_min": a[1].at[idx].min(u),
    }


_orderings = ft.jit(orderings)


def _numpy_orderings(z, w, a, idx, u, v):
    with np.errstate(invalid="ignore"):
        smax, smin = a[0].copy(), a[1].copy()
        np.maximum.at(smax, idx, u)
        np.minimum.at(smin, idx, u)
        return {
            "sort_long": np.sort(v, kind="stable"),
            "argsort_long": np.argsort(v, kind="stable"),
            "max": np.maximum(z, w), "min": np.minimum(z, w), "maximum": np.maximum(z, w),
            "lt": z < w, "le": z <= w, "gt": z > w, "ge": z >= w,
            "reduce_max": np.max(a, axis=1), "reduce_min": np.min(a, axis=0),
            "max_all": np.max(a), "argmax": np.argmax(a, axis=1),
            "argmin": np.argmin(a, axis=0), "sort0": np.sort(a, axis=0, kind="stable"),
            "sort1": np.sort(a, axis=1, kind="stable"),
            "argsort": np.argsort(a, axis=1, kind="stable"),
            "cummax": np.maximum.accumulate(a, axis=1),
            "cummin": np.minimum.accumulate(a[::-1], axis=0)[::-1],
            "scatter_max": smax, "scatter_min": smin,
        }


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_orderings_compile_in_numpys_lexicographic_order(dtype):
    # every pair of parts from +-0, +-1, +-inf and NaN for the elementwise orderings; arrays
    # drawn from the same parts (with ties, and zeros of both signs) for the rest
    zr, zi, wr, wi = (m.ravel() for m in np.meshgrid(_PARTS, _PARTS, _PARTS, _PARTS))
    z, w = _cplx(zr, zi, dtype), _cplx(wr, wi, dtype)
    a = _cplx(RNG.choice(_PARTS, (6, 9)), RNG.choice(_PARTS, (6, 9)), dtype)
    a[:3] = _cplx(RNG.integers(-1, 2, (3, 9)), RNG.integers(-1, 2, (3, 9)), dtype)
    a[1, ::2] = _cplx(RNG.standard_normal(5), -0.0, dtype)
    idx = np.array([0, 2, 2, 1, 0, 8, 8])
    u = _cplx(RNG.choice(_PARTS, 7), RNG.choice(_PARTS, 7), dtype)
    # long enough for the sort's merges (runs of 16), with many ties and some NaN parts
    v = _cplx(RNG.integers(-3, 4, 300), RNG.integers(-2, 3, 300), dtype)
    v[::37] = _cplx(RNG.choice(_PARTS, 9), RNG.choice(_PARTS, 9), dtype)
    got = compiled(_orderings, z, w, a, idx, u, v)
    want = _numpy_orderings(z, w, a, idx, u, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's invalid-value warnings on NaN comparisons
        interp = interpret(orderings, z, w, a, idx, u, v)
    for key, g in got.items():
        if key == "sort_pair":
            _same_bits(g[0], want["sort1"], key)
            _same_bits(g[1], np.take_along_axis(a.real, want["argsort"], 1), key)
            continue
        if key in ("argmax", "argmin", "argsort", "argsort_long"):
            g = np.asarray(g).astype(np.int64)
        _same_bits(g, want[key], key)
        _same_bits(np.asarray(got[key]), np.asarray(interp[key]), key)


def test_erf_of_a_complex_value_says_it_takes_real_operands():
    # as JAX (and the other special functions here): no NumPy error from deep inside its impl
    for f in (lambda z: ft.scipy.special.erf(z), ft.jit(lambda z: ft.scipy.special.erf(z))):
        with pytest.raises(TypeError, match="erf needs a real floating-point operand, got "
                                            "complex128"):
            f(np.array([0.5 + 0.1j]))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_empty_complex_max_and_min_compile_to_numpys_identities(dtype):
    # no start value of the compiled fold gives NumPy's empty maximum (-inf+0j): over an
    # empty axis the lowering emits that identity itself (and +inf+0j for the minimum)
    f = ft.jit(lambda a: (lax.reduce_max(a, (1,)), lax.reduce_min(a, (1,))))
    a = np.zeros((2, 0), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        top, bottom = f(a)
    assert "_fallback" not in f.lower(a).as_text()
    _same_bits(top, np.full(2, complex(-np.inf, 0.0), dtype), "empty max")
    _same_bits(bottom, np.full(2, complex(np.inf, 0.0), dtype), "empty min")


_INVERSE = {"arcsin": fnp.arcsin, "arccos": fnp.arccos, "arctan": fnp.arctan,
            "arcsinh": fnp.arcsinh, "arccosh": fnp.arccosh, "arctanh": fnp.arctanh}
_inverse_jit = ft.jit(lambda z: {k: f(z) for k, f in _INVERSE.items()})


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_inverse_functions_compile_and_match_numpy(dtype):
    # the C library's casin/casinh/... are what NumPy calls: complex128 matches bit for bit,
    # special values included; complex64 is computed in complex128 and rounded
    vals = [0.0, -0.0, 0.5, -1.0, 1.0, 2.0, 1e-300, 1e300, np.inf, -np.inf, np.nan]
    z = np.array([complex(a, b) for a in vals for b in vals], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy fallback anywhere
        with np.errstate(all="ignore"):
            got = _inverse_jit(z)
    assert "_fallback" not in _inverse_jit.lower(z).as_text()
    with np.errstate(all="ignore"):
        for name, g in got.items():
            want = getattr(np, name)(z)
            assert g.dtype == dtype, name
            if dtype == np.complex128:
                _same_bits(g, want, name)
            else:
                np.testing.assert_allclose(g, want, rtol=2e-7, atol=1e-30, err_msg=name)
    assert kernels.NUMPY_ONLY_DTYPES == {}
    assert "eig" not in kernels.NUMPY_FALLBACKS


# --- complex decompositions under differentiation ---------------------------------------------


def hermitian_loss(t, a, b):
    # a Hermitian positive definite matrix moved along a real parameter: Cholesky (through
    # triangular solves with conjugate_a in its derivative), eigh, qr, svd and det (through
    # the adjugate) of complex values
    h = a + t[0] * b
    lo = fnp.linalg.cholesky(h)
    w, v = fnp.linalg.eigh(h)
    q, r = fnp.linalg.qr(h + t[1] * a)
    s = fnp.linalg.svd(h * t[1], compute_uv=False)
    d = fnp.linalg.det(h * t[1])  # its derivative through the adjugate
    return (fnp.sum(fnp.abs(lo) ** 2) + fnp.sum(w * w) + fnp.sum(fnp.abs(r) ** 2)
            + fnp.sum(s) + fnp.real(v[0, 0] * fnp.conj(v[0, 0])) + fnp.real(q[1, 1]) ** 2
            + fnp.abs(d) * 1e-3)


_hermitian_grad = ft.jit(ft.value_and_grad(hermitian_loss))


def test_grad_through_complex_decompositions_compiles():
    m = _z((4, 4))
    a = m @ np.conj(m.T) + 4 * np.eye(4)
    c = _z((4, 4), scale=0.3)
    b = c + np.conj(c.T)
    t = np.array([0.2, 1.1])
    val, grad = check(_hermitian_grad, ft.value_and_grad(hermitian_loss), t, a, b, rtol=1e-11,
                      atol=1e-12)
    fd = [(hermitian_loss(t + d, a, b) - hermitian_loss(t - d, a, b)) / 2e-6
          for d in np.eye(2) * 1e-6]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
