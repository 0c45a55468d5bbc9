"""The special-function primitives (``functrace.ops.special``) and ``functrace.scipy.special``'s
gamma family and normal-distribution functions.

Values are compared with mpmath (dense grids and random points across each domain, float64 to
1e-13 relative and float32 to 1e-6, away from poles and zeros), special values (poles,
infinities, NaN, the ends of the domain) with JAX's conventions, derivatives with check_grads
(order 2, both modes) and closed forms, ``vmap`` with a loop over the batch, ``jit`` with the
reference interpreter.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from jit_check import assert_jit_matches_interpreter

import functrace as ft
from functrace import core, lax
from functrace.checking import check_grads
from functrace.ops import special as ops
from functrace.scipy import special

mp.mp.dps = 40
RNG = np.random.default_rng(0)


def _mp_array(fn, xs) -> np.ndarray:
    return np.array([float(fn(mp.mpf(float(x)))) for x in np.ravel(xs)]).reshape(np.shape(xs))


def _max_rel_err(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    ok = np.isfinite(want) & (want != 0)
    return float(np.max(np.abs(got[ok] - want[ok]) / np.abs(want[ok]), initial=0.0))


def _away_from_integers(x, gap=1e-3):
    return x[(x > 0) | (np.abs(x - np.round(x)) > gap)]


# --- domains: dense grids plus random points ----------------------------------------------------

GAMMA_X = _away_from_integers(np.concatenate([
    np.linspace(-20.5, 30.5, 181), RNG.uniform(-60, 60, 60), np.exp(RNG.uniform(-30, 7, 60)),
    np.array([1e-300, 1e-8, 0.5, 1e5, 1e12, 170.5])]))
UNIT = np.concatenate([np.linspace(-0.999, 0.999, 101), RNG.uniform(-1, 1, 40),
                       1 - np.exp(RNG.uniform(-36, -1, 30)), -np.exp(RNG.uniform(-300, -1, 20))])
PROB = np.concatenate([np.linspace(0.001, 0.999, 99), RNG.uniform(0, 1, 30),
                       np.exp(RNG.uniform(-700, -1, 40)), 1 - np.exp(RNG.uniform(-36, -2, 20))])
PROB = PROB[np.abs(PROB - 0.5) > 1e-6]


def _mp_ndtri(p):
    guess = float(ops._ndtri_impl(np.float64(p)))
    return mp.findroot(lambda y: mp.log(mp.ncdf(y)) - mp.log(p), guess)


def _mp_log_ndtr(x):
    # log1p(-Phi(-x)) on the right: log(Phi(x)) would need far more digits than 40 there
    return mp.log1p(-mp.ncdf(-x)) if x > 0 else mp.log(mp.ncdf(x))


def _mp_gammaln(x):
    return mp.log(abs(mp.gamma(x)))


# name -> (function under test, mpmath reference, points, keep(reference) for the comparison)
CASES = {
    "gammaln": (special.gammaln, _mp_gammaln, GAMMA_X, lambda w: np.abs(w) > 0.1),
    "digamma": (special.digamma, mp.digamma, GAMMA_X, lambda w: np.abs(w) > 0.1),
    "erfc": (special.erfc, mp.erfc, np.concatenate([np.linspace(-6, 27, 200),
                                                    RNG.uniform(-3, 3, 40)]), None),
    "erfinv": (special.erfinv, mp.erfinv, UNIT, None),
    "ndtr": (special.ndtr, mp.ncdf, np.concatenate([np.linspace(-37, 8, 181),
                                                    RNG.normal(size=40)]), None),
    "log_ndtr": (special.log_ndtr, _mp_log_ndtr,
                 np.concatenate([np.linspace(-60, 30, 181), RNG.normal(size=40) * 10,
                                 np.array([-1e3, -19.99, -20.01, 1e-3])]), None),
    "ndtri": (special.ndtri, _mp_ndtri, PROB, None),
    "gamma": (special.gamma, mp.gamma, GAMMA_X[np.abs(GAMMA_X) < 150], None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_values_match_mpmath(name):
    fn, ref, xs, keep = CASES[name]
    want = _mp_array(ref, xs)
    got = np.asarray(fn(xs))
    assert got.dtype == np.float64 and got.shape == xs.shape
    if keep is not None:
        sel = keep(want)
        got, want = got[sel], want[sel]
    # ndtr/log_ndtr lose a little to the rounding of x / sqrt(2) in the far tail
    tol = 5e-13 if name in ("ndtr", "log_ndtr", "gamma") else 1e-13
    assert _max_rel_err(got, want) < tol


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_values_match_mpmath(name):
    fn, ref, xs, keep = CASES[name]
    x32 = xs.astype(np.float32)
    x32 = x32[np.isfinite(x32) & (np.abs(x32) < 3e38)]
    if name in ("gammaln", "digamma", "gamma"):
        x32 = _away_from_integers(x32)
    if name == "ndtri":
        x32 = x32[(x32 > 1e-37) & (x32 < 1)]
    if name == "erfinv":
        x32 = x32[np.abs(x32) < 1]
    want = _mp_array(ref, x32.astype(np.float64))
    got = np.asarray(fn(x32))
    assert got.dtype == np.float32
    sel = np.abs(want) < 3e38
    if keep is not None:
        sel &= keep(want)
    sel &= np.abs(want) > 1e-37  # float32's normal range
    got, want, x32 = got[sel], want[sel], x32[sel]
    if name == "gamma":  # exp of a float32 gammaln: relative error |gammaln| eps
        assert np.all(np.abs(got - want) <= 1e-6 * (1 + np.abs(np.log(np.abs(want))))
                      * np.abs(want))
        return
    if name in ("ndtr", "log_ndtr"):
        # x / sqrt(2) rounds in float32 (as in JAX): erfc(z) then carries a relative error of
        # about 2 z^2 eps, which the tolerance allows for
        tol = 1e-6 * (1 + x32.astype(np.float64) ** 2)
        assert np.all(np.abs(got - want) <= tol * np.abs(want))
        return
    assert _max_rel_err(got, want) < 1e-6


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_polygamma_matches_mpmath(n):
    xs = GAMMA_X[np.abs(GAMMA_X) < 1e6]
    want = _mp_array(lambda x: mp.polygamma(n, x), xs)
    got = special.polygamma(n, xs)
    assert _max_rel_err(got, want) < 1e-13
    x32 = _away_from_integers(xs.astype(np.float32))
    got32 = special.polygamma(n, x32)
    assert np.asarray(got32).dtype == np.float32
    want32 = _mp_array(lambda x: mp.polygamma(n, x), x32.astype(np.float64))
    sel = (np.abs(want32) < 1e30) & (np.abs(want32) > 1e-30)
    assert _max_rel_err(np.asarray(got32)[sel], want32[sel]) < 1e-6


def test_polygamma_order_zero_is_digamma_and_orders_broadcast():
    x = np.array([0.3, 2.5, -1.5, 7.0])
    np.testing.assert_array_equal(special.polygamma(0, x), special.digamma(x))
    n = np.array([[0], [1], [2]])
    out = special.polygamma(n, x)
    assert out.shape == (3, 4)
    for i in range(3):
        np.testing.assert_allclose(out[i], special.polygamma(i, x), rtol=1e-15)


def test_betaln_and_multigammaln_match_mpmath():
    a = np.array([0.5, 1.0, 2.5, 10.0, 0.01, 300.0])
    b = np.array([0.5, 3.0, 0.25, 7.5, 5.0, 0.7])
    want = [float(mp.log(mp.beta(x, y))) for x, y in zip(a, b)]
    assert _max_rel_err(special.betaln(a, b), want) < 1e-12
    for d in (1, 2, 4):
        x = np.array([3.0, 5.5, 20.0])
        want = [float(d * (d - 1) / 4 * mp.log(mp.pi)
                      + sum(mp.loggamma(v - mp.mpf(j) / 2) for j in range(d))) for v in x]
        assert _max_rel_err(special.multigammaln(x, d), want) < 1e-13
    with pytest.raises(ValueError, match="d >= 1"):
        special.multigammaln(3.0, 0)


def _mp_gammainc(a, x, upper):
    lo, hi = (x, mp.inf) if upper else (0, x)
    return float(mp.gammainc(mp.mpf(float(a)), lo, hi, regularized=True))


def test_gammainc_and_gammaincc_match_mpmath():
    a = np.exp(RNG.uniform(-4, 4, 150))
    x = a * np.exp(RNG.uniform(-3, 3, 150))
    lower, upper = special.gammainc(a, x), special.gammaincc(a, x)
    want_lower = np.array([_mp_gammainc(u, v, False) for u, v in zip(a, x)])
    want_upper = np.array([_mp_gammainc(u, v, True) for u, v in zip(a, x)])
    keep = want_lower > 1e-300
    assert _max_rel_err(lower[keep], want_lower[keep]) < 1e-13
    keep = want_upper > 1e-300
    assert _max_rel_err(upper[keep], want_upper[keep]) < 1e-13
    got32 = special.gammainc(a.astype(np.float32), x.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want_lower, rtol=2e-5, atol=1e-30)  # input rounding


def test_gammainc_special_values_as_jax():
    a = np.array([0.5, 1.0, 2.0, 0.0, -1.0, 1.0, 1.0, np.inf, 1.0, np.nan, 3.0])
    x = np.array([1.0, 0.0, 3.0, 1.0, 1.0, -1.0, np.inf, 1.0, np.nan, 1.0, 0.0])
    lower = special.gammainc(a, x)
    np.testing.assert_array_equal(np.isnan(lower), [0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(lower[[1, 3, 6, 10]], [0.0, 1.0, 1.0, 0.0])
    upper = special.gammaincc(a, x)
    np.testing.assert_array_equal(np.isnan(upper), np.isnan(lower))
    np.testing.assert_array_equal(upper[[1, 3, 6, 10]], [1.0, 0.0, 0.0, 1.0])
    # P(1, x) = 1 - exp(-x); P(1/2, x) = erf(sqrt(x))
    v = np.array([0.1, 2.0, 30.0])
    np.testing.assert_allclose(special.gammainc(1.0, v), -np.expm1(-v), rtol=1e-14)
    np.testing.assert_allclose(special.gammaincc(1.0, v), np.exp(-v), rtol=1e-14)
    np.testing.assert_allclose(special.gammainc(0.5, v),
                               [math.erf(math.sqrt(t)) for t in v], rtol=1e-14)


def test_gammainc_derivatives():
    a, x = np.array([0.7, 2.0, 5.5]), np.array([0.4, 3.0, 4.0])
    check_grads(lambda v: special.gammainc(a, v), (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda v: special.gammaincc(a, v), (x,), order=2, modes=("fwd", "rev"))
    want = x ** (a - 1) * np.exp(-x) / np.exp(_lgamma_np(a))
    np.testing.assert_allclose(ft.vmap(ft.grad(special.gammainc, argnums=1))(a, x), want,
                               rtol=1e-14)
    with pytest.raises(NotImplementedError, match="respect to the shape a"):
        ft.grad(special.gammainc)(2.0, 3.0)


def _lgamma_np(a):
    return np.array([math.lgamma(v) for v in np.ravel(a)]).reshape(np.shape(a))


def test_beta_and_factorial():
    a = np.array([0.5, -0.5, 2.5, -1.5, 3.0])
    b = np.array([1.5, 2.0, -0.3, 0.7, 4.0])
    want = [float(mp.beta(u, v)) for u, v in zip(a, b)]
    np.testing.assert_allclose(special.beta(a, b), want, rtol=1e-13)
    n = np.array([-1.0, 0.0, 3.0, 4.5, 20.0])
    want = [0.0, 1.0, 6.0, float(mp.gamma(5.5)), float(mp.factorial(20))]
    np.testing.assert_allclose(special.factorial(n), want, rtol=1e-13)
    with pytest.raises(NotImplementedError, match="exact=True"):
        special.factorial(3, exact=True)


def test_log_ndtr_series_order():
    x = np.array([-200.0, -30.0, -20.5])
    want = np.array([float(mp.log(mp.ncdf(v))) for v in x])
    # more terms, smaller error (JAX's default of 3 terms is within 1e-10 at -20.5)
    err3 = np.abs(special.log_ndtr(x, series_order=3) - want) / np.abs(want)
    err10 = np.abs(special.log_ndtr(x) - want) / np.abs(want)
    assert np.all(err3 < 1e-10) and np.all(err10 < 1e-15)
    assert err3[-1] > err10[-1]
    with pytest.raises(ValueError, match="series_order"):
        special.log_ndtr(x, series_order=31)
    check_grads(lambda v: special.log_ndtr(v, series_order=3), (x[:2],), order=2,
                modes=("fwd", "rev"))


# --- special values -----------------------------------------------------------------------------

SPECIAL_X = np.array([-2.0, -1.5, -0.0, 0.0, 0.5, 1.0, np.inf, -np.inf, np.nan])
NAN, INF = np.nan, np.inf

F = None  # a finite value, checked against mpmath
SPECIAL_VALUES = {  # JAX 0.10's non-finite results at SPECIAL_X
    "gammaln": [INF, F, INF, INF, F, 0.0, INF, INF, NAN],
    "digamma": [NAN, F, NAN, NAN, F, F, INF, NAN, NAN],
    "gamma": [NAN, F, -INF, INF, F, 1.0, INF, NAN, NAN],
    "erfc": [F, F, 1.0, 1.0, F, F, 0.0, 2.0, NAN],
    "ndtr": [F, F, 0.5, 0.5, F, F, 1.0, 0.0, NAN],
    "log_ndtr": [F, F, F, F, F, F, 0.0, -INF, NAN],
    "ndtri": [NAN, NAN, -INF, -INF, 0.0, INF, NAN, NAN, NAN],
    "erfinv": [NAN, NAN, -0.0, 0.0, F, INF, NAN, NAN, NAN],
}


@pytest.mark.parametrize("name", sorted(SPECIAL_VALUES))
def test_special_values_as_jax(name):
    got = np.asarray(getattr(special, name)(SPECIAL_X))
    fn, ref, _, _ = CASES[name]
    for g, w, x in zip(got, SPECIAL_VALUES[name], SPECIAL_X):
        if w is None:
            assert g == pytest.approx(float(ref(mp.mpf(float(x)))), rel=1e-14)
        elif np.isnan(w):
            assert np.isnan(g), x
        else:
            assert g == w, x


def test_signed_zeros_and_pole_conventions():
    assert math.copysign(1, special.erfinv(-0.0)) == -1
    assert special.gamma(-0.0) == -np.inf and special.gamma(0.0) == np.inf
    np.testing.assert_array_equal(special.gammasgn(np.array([-0.5, -1.5, 2.0, -3.0])),
                                  [-1.0, 1.0, 1.0, np.nan])
    # polygamma at the poles: +inf for odd orders (same sign on both sides), NaN for even
    got = special.polygamma(np.array([0.0, 1.0, 2.0, 3.0]), np.array([-1.0, 0.0, -2.0, -3.0]))
    np.testing.assert_array_equal(got, [np.nan, np.inf, np.nan, np.inf])
    np.testing.assert_array_equal(special.polygamma(np.array([1.5, -1.0]), 2.0), [np.nan] * 2)
    np.testing.assert_array_equal(special.polygamma(2, np.inf), 0.0)
    assert special.erfinv(1.5) != special.erfinv(1.5)  # NaN outside [-1, 1]


def test_tails_keep_relative_accuracy():
    # the far left tail of log_ndtr comes from the asymptotic series: compare with mpmath
    for x in (-25.0, -40.0, -1e3, -1e150):
        want = float(mp.log(mp.ncdf(x)))
        assert abs(special.log_ndtr(x) - want) <= 2e-15 * abs(want)
    assert special.log_ndtr(-1e200) == -np.inf
    # the right tail: log(1 - tiny) stays tiny rather than rounding to 0
    assert special.log_ndtr(10.0) == pytest.approx(float(-mp.ncdf(-10)), rel=1e-13)
    assert special.ndtri(1e-300) == pytest.approx(float(_mp_ndtri(mp.mpf(1e-300))), rel=1e-14)
    assert special.erfinv(1 - 2.0 ** -52) == pytest.approx(float(mp.erfinv(1 - mp.mpf(2) ** -52)),
                                                          rel=1e-14)


# --- derivatives --------------------------------------------------------------------------------

GRAD_POINTS = {
    "gammaln": np.array([0.3, 1.7, 4.5, -0.5, -2.3]),
    "digamma": np.array([0.3, 1.7, 4.5, -0.5, -2.3]),
    "polygamma1": np.array([0.3, 1.7, 4.5, -0.5]),
    "polygamma3": np.array([0.6, 1.7, 4.5, -0.5]),
    "erfc": np.array([-2.0, -0.3, 0.0, 0.8, 3.0]),
    "erfinv": np.array([-0.9, -0.3, 0.0, 0.5, 0.95]),
    "ndtr": np.array([-5.0, -0.3, 0.0, 1.2, 4.0]),
    "ndtri": np.array([0.02, 0.1, 0.5, 0.7, 0.97]),
    "log_ndtr": np.array([-30.0, -19.0, -21.0, -4.0, 0.0, 3.0, 9.0]),
    "gamma": np.array([0.4, 2.2, 5.5, -0.5, -1.5]),
    "multigammaln": np.array([2.1, 3.0, 7.5]),
}
GRAD_FNS = {
    "gammaln": special.gammaln, "digamma": special.digamma,
    "polygamma1": lambda x: special.polygamma(1, x),
    "polygamma3": lambda x: special.polygamma(3, x),
    "erfc": special.erfc, "erfinv": special.erfinv, "ndtr": special.ndtr,
    "ndtri": special.ndtri, "log_ndtr": special.log_ndtr, "gamma": special.gamma,
    "multigammaln": lambda x: special.multigammaln(x, 3),
}


@pytest.mark.parametrize("name", sorted(GRAD_FNS))
def test_check_grads_order_two(name):
    check_grads(GRAD_FNS[name], (GRAD_POINTS[name],), order=2, modes=("fwd", "rev"))


def test_check_grads_betaln_both_arguments():
    a, b = np.array([0.5, 2.0, 7.0]), np.array([1.5, 0.3, 4.0])
    check_grads(special.betaln, (a, b), order=2, modes=("fwd", "rev"))


def test_derivatives_match_closed_forms():
    x = np.array([0.7, 1.0, 3.5, -0.5])
    vgrad = lambda f: ft.vmap(ft.grad(f))  # noqa: E731
    np.testing.assert_allclose(vgrad(special.gammaln)(x), special.digamma(x), rtol=1e-15)
    np.testing.assert_allclose(ft.grad(special.digamma)(1.0), math.pi ** 2 / 6, rtol=1e-14)
    np.testing.assert_allclose(ft.grad(ft.grad(special.digamma))(1.0),
                               float(mp.polygamma(2, 1)), rtol=1e-14)
    np.testing.assert_allclose(ft.grad(special.erfinv)(0.0), math.sqrt(math.pi) / 2, rtol=1e-15)
    np.testing.assert_allclose(ft.grad(special.ndtri)(0.5), math.sqrt(2 * math.pi), rtol=1e-15)
    np.testing.assert_allclose(ft.grad(special.erfc)(1.0), -2 / math.sqrt(math.pi) / math.e,
                               rtol=1e-15)
    # d/dx log Phi(x) = phi(x) / Phi(x), also where Phi underflows
    for v in (-40.0, -5.0, 2.0):
        want = float(mp.npdf(v) / mp.ncdf(v))
        assert ft.grad(special.log_ndtr)(v) == pytest.approx(want, rel=1e-12)
    assert ft.grad(special.log_ndtr)(40.0) == 0.0
    # polygamma has no derivative in its order
    assert ft.grad(lambda n: special.polygamma(n, 2.0))(1.0) == 0.0


def test_grad_is_float32_for_float32_input():
    g = ft.grad(lambda x: special.gammaln(x).sum())(np.array([1.5, 2.5], np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, special.digamma(np.array([1.5, 2.5])), rtol=1e-6)


# --- vmap, jit, tracing -----------------------------------------------------------------------

UNARY_LAX = {"lgamma": (lax.lgamma, 2.5), "digamma": (lax.digamma, 2.5),
             "erfc": (lax.erfc, 0.0), "erf_inv": (lax.erf_inv, 0.0), "ndtri": (lax.ndtri, 0.5)}


def _domain(name, shape):
    x = RNG.uniform(-0.9, 0.9, shape)
    return x if name in ("erf_inv", "erfc") else (x + 1) / 2 if name == "ndtri" else x * 4 + 0.5


@pytest.mark.parametrize("name", sorted(UNARY_LAX))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_unary_matches_loop(name, axis):
    fn, _ = UNARY_LAX[name]
    x = _domain(name, (3, 4))
    got = ft.vmap(fn, in_axes=axis)(x)
    want = np.stack([fn(np.take(x, i, axis=axis)) for i in range(x.shape[axis])])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("axes", [(0, 0), (None, 0), (0, None), (1, -1)])
def test_vmap_gammainc_matches_loop(axes):
    a = RNG.uniform(0.2, 5, (3, 3))
    x = RNG.uniform(0.1, 8, (3, 3))
    got = ft.vmap(special.gammainc, in_axes=axes)(a, x)
    want = np.stack([special.gammainc(a if axes[0] is None else np.take(a, i, axes[0]),
                                      x if axes[1] is None else np.take(x, i, axes[1]))
                     for i in range(3)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("axes", [(0, 0), (None, 0), (0, None), (1, -1), (-1, 1)])
def test_vmap_polygamma_matches_loop(axes):
    n = RNG.integers(0, 4, (3, 3)).astype(np.float64)
    x = RNG.uniform(0.2, 5, (3, 3))
    got = ft.vmap(lambda m, y: special.polygamma(m, y), in_axes=axes)(n, x)
    want = np.stack([special.polygamma(n if axes[0] is None else np.take(n, i, axes[0]),
                                       x if axes[1] is None else np.take(x, i, axes[1]))
                     for i in range(3)])
    np.testing.assert_array_equal(got, want)


def test_vmap_of_grad_matches_loop():
    x = RNG.uniform(0.5, 4, 5)
    f = lambda v: special.gammaln(v) * special.digamma(v) + special.log_ndtr(v - 3)  # noqa: E731
    got = ft.vmap(ft.grad(f))(x)
    want = np.array([ft.grad(f)(v) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jit_matches_interpreter(dtype):
    x = np.linspace(0.1, 3.0, 12).astype(dtype)
    p = (x / 3.1).astype(dtype)

    def f(x, p):
        return (special.gammaln(x) + special.digamma(x) + special.polygamma(2, x)
                + special.erfc(x) + special.erfinv(p) + special.ndtri(p) + special.log_ndtr(x)
                + special.gamma(x) + special.betaln(x, p + 1) + special.gammainc(x, p)
                + special.gammaincc(p + 1, x))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # digamma, polygamma, ... run with NumPy (one warning)
        assert_jit_matches_interpreter(f, x, p)


def test_jit_compiled_lowerings_at_special_values():
    # lgamma and erfc compile to math.lgamma / math.erfc: poles and infinities as the reference
    x = np.array([-2.0, -1.5, -0.0, 0.0, 0.5, 1e300, np.inf, -np.inf, np.nan, 171.7])
    assert_jit_matches_interpreter(lambda v: (lax.lgamma(v), lax.erfc(v)), x)
    assert_jit_matches_interpreter(lambda v: (lax.lgamma(v), lax.erfc(v)), x.astype(np.float32))


def test_jit_grad_matches_interpreter():
    x = np.linspace(0.3, 3.0, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_jit_matches_interpreter(ft.grad(lambda v: special.gammaln(v).sum()
                                               + special.erfc(v).sum()), x)


def test_traced_program_is_well_typed():
    closed = ft.make_jaxpr(lambda x: special.polygamma(1, x) + special.gammaln(x))(
        np.ones(3, np.float32))
    core.check_jaxpr(closed)
    names = {e.primitive.name for e in closed.jaxpr.eqns}
    assert {"polygamma", "lgamma"} <= names
    assert closed.jaxpr.outvars[0].aval.dtype == np.float32


def test_integer_and_weak_inputs_promote_to_float():
    assert np.asarray(special.gammaln(3)).dtype == np.float64
    assert np.asarray(special.gammaln(np.arange(3, 5, dtype=np.int32))).dtype == np.float64
    assert np.asarray(special.polygamma(1, np.float32(2.0))).dtype == np.float32
    np.testing.assert_allclose(special.gammaln(np.array([5])), [math.log(24)], rtol=1e-15)


# --- errors -------------------------------------------------------------------------------------


def test_bad_operands_raise_clear_errors():
    with pytest.raises(TypeError, match="lgamma needs a real floating-point operand"):
        lax.lgamma(np.array([1, 2]))
    with pytest.raises(TypeError, match="digamma needs a real floating-point operand"):
        special.digamma(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="polygamma needs operands of equal shapes"):
        lax.polygamma(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="polygamma needs operands of equal dtypes"):
        lax.polygamma(np.ones(2, np.float32), np.ones(2))


# --- the scalar helpers that the Numba backend can wrap ------------------------------------------


def test_scalar_helpers_match_the_numpy_references():
    xs = np.concatenate([GAMMA_X, [-0.0, 0.0, -3.0, np.inf, -np.inf, np.nan]])
    got = np.array([ops.digamma_scalar(float(v)) for v in xs])
    np.testing.assert_allclose(got, ops._digamma_impl(xs), rtol=1e-14, atol=1e-300)
    us = np.concatenate([UNIT, [-1.0, 1.0, 1.5, -0.0, np.nan]])
    got = np.array([ops.erf_inv_scalar(float(v)) for v in us])
    np.testing.assert_allclose(got, ops._erf_inv_impl(us), rtol=1e-15, atol=1e-300)


def test_polygamma_and_ndtri_scalar_helpers_match():
    # (tiny x overflow 1 / x^(n+1): plain Python raises there, where Numba gives inf)
    xs = GAMMA_X[(np.abs(GAMMA_X) < 1e6) & (np.abs(GAMMA_X) > 1e-30)]
    xs = np.concatenate([xs, [-3.0, 0.0, np.inf, -np.inf, np.nan]])
    for n in (0, 1, 2, 5):
        got = np.array([ops.polygamma_scalar(float(n), float(v)) for v in xs])
        np.testing.assert_allclose(got, special.polygamma(n, xs), rtol=1e-14, atol=1e-300)
    assert math.isnan(ops.polygamma_scalar(1.5, 2.0))
    ps = np.concatenate([PROB, [0.0, 1.0, 0.5, -0.1, 1.1, np.nan]])
    got = np.array([ops.ndtri_scalar(float(v)) for v in ps])
    np.testing.assert_allclose(got, special.ndtri(ps), rtol=1e-14, atol=1e-300)


def test_scalar_helpers_compile_with_numba():
    numba = pytest.importorskip("numba")
    digamma_nb = numba.njit(ops.digamma_scalar)
    erf_inv_nb = numba.njit(ops.erf_inv_scalar)
    for v in (0.3, 2.5, -1.5, 40.0, -3.0, np.inf):
        got, want = digamma_nb(v), ops.digamma_scalar(v)
        assert got == pytest.approx(want, rel=1e-15) or (np.isnan(got) and np.isnan(want))
    for v in (-0.99, -0.2, 0.0, 0.6, 1 - 1e-12, 1.0):
        assert erf_inv_nb(v) == pytest.approx(ops.erf_inv_scalar(v), rel=1e-15)
    polygamma_nb = numba.njit(ops.polygamma_scalar)
    ndtri_nb = numba.njit(ops.ndtri_scalar)
    for n, v in ((0.0, -2.5), (1.0, 0.3), (3.0, -2.5), (2.0, 40.0)):
        assert polygamma_nb(n, v) == pytest.approx(ops.polygamma_scalar(n, v), rel=1e-15)
    for v in (1e-300, 0.1, 0.3, 0.5, 0.9, 1 - 1e-12):
        assert ndtri_nb(v) == pytest.approx(ops.ndtri_scalar(v), rel=1e-15, abs=1e-300)
