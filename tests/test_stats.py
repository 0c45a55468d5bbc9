"""``functrace.scipy.stats``: log-densities against closed forms written with NumPy and
``math``, normalisation (densities integrate to 1, mass functions sum to 1), JAX's conventions
outside the support, CDF/quantile consistency, derivatives (check_grads, order 2, both modes),
``vmap`` against a loop and ``jit`` against the interpreter.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from jit_check import assert_jit_matches_interpreter

import functrace as ft
from functrace.checking import check_grads
from functrace.scipy import stats

RNG = np.random.default_rng(1)
X = RNG.normal(size=7) * 2
LOG_2PI = math.log(2 * math.pi)
_lgamma = np.vectorize(math.lgamma)
_erf = np.vectorize(math.erf)


def _close(got, want, rtol=1e-13):
    np.testing.assert_allclose(np.asarray(got), want, rtol=rtol, atol=1e-300)


# --- log-densities against closed forms -------------------------------------------------------


def test_norm_logpdf_pdf_cdf():
    loc, scale = np.array([[0.5], [-1.0]]), 1.5
    z = (X - loc) / scale
    want = -0.5 * z * z - math.log(scale) - 0.5 * LOG_2PI
    _close(stats.norm.logpdf(X, loc, scale), want)
    _close(stats.norm.logpdf(X, loc=loc, scale=scale), want)
    _close(stats.norm.pdf(X, loc, scale), np.exp(want))
    _close(stats.norm.cdf(X, loc, scale), 0.5 * (1 + _erf(z / math.sqrt(2))), rtol=1e-12)
    _close(stats.norm.sf(X, loc, scale), 0.5 * (1 - _erf(z / math.sqrt(2))), rtol=1e-12)
    _close(stats.norm.logcdf(X), np.log(0.5 * (1 + _erf(X / math.sqrt(2)))), rtol=1e-12)
    _close(stats.norm.logsf(X), np.log(0.5 * (1 - _erf(X / math.sqrt(2)))), rtol=1e-12)


def test_norm_quantiles_invert_the_cdf():
    q = np.array([1e-10, 0.01, 0.3, 0.5, 0.8, 0.999])
    _close(stats.norm.cdf(stats.norm.ppf(q, 2.0, 3.0), 2.0, 3.0), q, rtol=1e-12)
    _close(stats.norm.sf(stats.norm.isf(q, 2.0, 3.0), 2.0, 3.0), q, rtol=1e-12)
    # the far tails keep relative accuracy
    assert stats.norm.logcdf(-40.0) == pytest.approx(-804.6084420137538, rel=1e-14)
    assert stats.norm.logsf(40.0) == pytest.approx(-804.6084420137538, rel=1e-14)


def test_location_scale_families():
    loc, scale = 0.3, np.array([0.5, 2.0])[:, None]
    z = (X - loc) / scale
    _close(stats.logistic.logpdf(X, loc, scale), -z - 2 * np.log1p(np.exp(-z)) - np.log(scale))
    _close(stats.logistic.cdf(X, loc, scale), 1 / (1 + np.exp(-z)))
    _close(stats.logistic.sf(X, loc, scale), 1 / (1 + np.exp(z)))
    _close(stats.laplace.logpdf(X, loc, scale), -np.abs(z) - np.log(2 * scale))
    _close(stats.laplace.cdf(X, loc, scale), np.where(z < 0, 0.5 * np.exp(z),
                                                      1 - 0.5 * np.exp(-z)))
    _close(stats.cauchy.logpdf(X, loc, scale), -np.log(np.pi * scale * (1 + z * z)))
    _close(stats.cauchy.cdf(X, loc, scale), 0.5 + np.arctan(z) / np.pi)
    _close(stats.cauchy.sf(X, loc, scale), 0.5 - np.arctan(z) / np.pi, rtol=1e-12)
    _close(stats.expon.logpdf(X, loc, scale), np.where(z >= 0, -z - np.log(scale), -np.inf))
    _close(stats.expon.cdf(X, loc, scale), np.where(z >= 0, 1 - np.exp(-z), 0.0))
    _close(stats.expon.sf(X, loc, scale), np.where(z >= 0, np.exp(-z), 1.0))
    inside = (X >= loc) & (X <= loc + scale)
    _close(stats.uniform.logpdf(X, loc, scale), np.where(inside, -np.log(scale), -np.inf))
    _close(stats.uniform.cdf(X, loc, scale), np.clip(z, 0, 1))


def test_shape_families():
    x = np.array([0.1, 0.5, 1.0, 2.5, 7.0])
    a, loc, scale = 2.5, -0.05, 1.5
    y = (x - loc) / scale
    _close(stats.gamma.logpdf(x, a, loc, scale),
           (a - 1) * np.log(y) - y - math.lgamma(a) - math.log(scale))
    u = np.array([0.05, 0.3, 0.5, 0.77, 0.99])
    a, b = np.array([[0.5], [2.0]]), 3.5
    want = ((a - 1) * np.log(u) + (b - 1) * np.log1p(-u) - _lgamma(a) - math.lgamma(b)
            + _lgamma(a + b))
    _close(stats.beta.logpdf(u, a, b), want)
    df = np.array([1.0, 3.5, 30.0])[:, None]
    z = (X - 0.2) / 1.3
    want = (_lgamma((df + 1) / 2) - _lgamma(df / 2) - 0.5 * np.log(df * np.pi) - math.log(1.3)
            - (df + 1) / 2 * np.log1p(z * z / df))
    _close(stats.t.logpdf(X, df, 0.2, 1.3), want, rtol=1e-12)
    # t with one degree of freedom is Cauchy
    _close(stats.t.logpdf(X, 1.0), stats.cauchy.logpdf(X), rtol=1e-14)


def test_discrete_families():
    k = np.arange(8.0)
    mu = np.array([0.5, 3.0])[:, None]
    _close(stats.poisson.logpmf(k, mu), k * np.log(mu) - _lgamma(k + 1) - mu)
    _close(stats.poisson.logpmf(k, 2.0, loc=2), np.where(k >= 2, (k - 2) * math.log(2.0)
                                                         - _lgamma(np.maximum(k - 1, 1)) - 2.0,
                                                         -np.inf))
    p = np.array([0.2, 0.9])[:, None]
    kk = np.array([0.0, 1.0])
    _close(stats.bernoulli.logpmf(kk, p), np.where(kk == 1, np.log(p), np.log1p(-p)))
    _close(stats.bernoulli.pmf(kk, p), np.where(kk == 1, p, 1 - p))


def test_gamma_and_poisson_cdfs():
    x = np.array([-1.0, 0.0, 0.5, 2.0, 9.0])
    # shape 1 is the exponential distribution
    _close(stats.gamma.cdf(x, 1.0, 0.2, 1.5), stats.expon.cdf(x, 0.2, 1.5), rtol=1e-14)
    _close(stats.gamma.sf(x, 1.0, 0.2, 1.5), stats.expon.sf(x, 0.2, 1.5), rtol=1e-14)
    _close(stats.gamma.logsf(x[1:], 1.0), -x[1:], rtol=1e-14)
    # the CDF is the integral of the density
    grid = np.linspace(0, 9.0, 90001)
    dens = np.asarray(stats.gamma.pdf(grid, 2.5, 0.0, 1.5))
    assert stats.gamma.cdf(9.0, 2.5, 0.0, 1.5) == pytest.approx(np.trapezoid(dens, grid),
                                                                abs=1e-8)
    check_grads(lambda v: stats.gamma.logcdf(v, 2.5, 0.1, 1.5), (np.array([0.5, 2.0, 4.0]),),
                order=2, modes=("fwd", "rev"))
    k = np.array([-1.0, 0.0, 2.5, 3.0, 30.0])
    want = [0.0] + [sum(math.exp(j * math.log(2.0) - math.lgamma(j + 1) - 2.0)
                        for j in range(int(v) + 1)) for v in k[1:]]
    _close(stats.poisson.cdf(k, 2.0), want, rtol=1e-13)
    _close(stats.poisson.cdf(k, 2.0, loc=1.0), stats.poisson.cdf(k - 1.0, 2.0), rtol=1e-15)


def test_chi2_is_a_gamma():
    x = np.array([-1.0, 0.0, 0.5, 2.0, 7.0])
    for name in ("logpdf", "pdf", "cdf", "sf", "logcdf", "logsf"):
        got = getattr(stats.chi2, name)(x, 3.0, 0.1, 1.5)
        want = getattr(stats.gamma, name)(x, 1.5, 0.1, 3.0)
        np.testing.assert_array_equal(got, want)
    # df = 2: the exponential distribution with mean 2
    _close(stats.chi2.logpdf(x[1:], 2.0), -x[1:] / 2 - math.log(2.0))


def test_dirichlet_logpdf():
    alpha = np.array([1.5, 2.0, 3.5])
    x = np.array([[0.2, 0.1, 0.6], [0.3, 0.1, 0.3], [0.5, 0.8, 0.1]])  # simplex along axis 0
    want = (np.sum((alpha[:, None] - 1) * np.log(x), axis=0) - np.sum(_lgamma(alpha))
            + math.lgamma(alpha.sum()))
    _close(stats.dirichlet.logpdf(x, alpha), want)
    # the last coordinate may be left out
    _close(stats.dirichlet.logpdf(x[:2], alpha), want, rtol=1e-12)
    # off the simplex: -inf
    off = x.copy()
    off[0, 0] = 0.4
    assert stats.dirichlet.logpdf(off, alpha)[0] == -np.inf
    with pytest.raises(ValueError, match="1-d alpha"):
        stats.dirichlet.logpdf(x, alpha[None])
    with pytest.raises(ValueError, match=r"x.shape\[0\] must be 3 or 2"):
        stats.dirichlet.logpdf(np.ones(5) / 5, alpha)


def _mvn_reference(x, mean, cov):
    d = x - mean
    sol = np.linalg.solve(cov, d[..., None])[..., 0]
    return -0.5 * (np.sum(d * sol, axis=-1) + np.linalg.slogdet(cov)[1] + x.shape[-1] * LOG_2PI)


def test_multivariate_normal_logpdf():
    a = RNG.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    mean = RNG.normal(size=3)
    x = RNG.normal(size=(5, 3))
    _close(stats.multivariate_normal.logpdf(x, mean, cov), _mvn_reference(x, mean, cov))
    _close(stats.multivariate_normal.pdf(x, mean, cov), np.exp(_mvn_reference(x, mean, cov)))
    # batched covariances and means broadcast with x
    covs = np.stack([cov, 2 * cov])
    means = np.stack([mean, -mean])
    _close(stats.multivariate_normal.logpdf(x[:2], means, covs),
           [_mvn_reference(x[i], means[i], covs[i]) for i in range(2)])
    # a 0-d mean: one-dimensional, cov is the variance
    _close(stats.multivariate_normal.logpdf(1.3, 0.2, 2.0),
           stats.norm.logpdf(1.3, 0.2, math.sqrt(2.0)), rtol=1e-15)
    with pytest.raises(ValueError, match="cov of shape"):
        stats.multivariate_normal.logpdf(x, mean, np.eye(2))
    with pytest.raises(ValueError, match="x of shape"):
        stats.multivariate_normal.logpdf(np.ones(4), mean, cov)


# --- normalisation ----------------------------------------------------------------------------

CONTINUOUS = {
    "norm": (lambda x: stats.norm.pdf(x, 0.5, 1.5), -15, 16),
    "logistic": (lambda x: stats.logistic.pdf(x, 0.5, 1.5), -60, 60),
    "laplace": (lambda x: stats.laplace.pdf(x, 0.5, 1.5), -60, 60),
    "expon": (lambda x: stats.expon.pdf(x, 0.5, 1.5), 0.5, 80),
    "gamma": (lambda x: stats.gamma.pdf(x, 2.5, 0.0, 1.5), 0.0, 100),
    "beta": (lambda x: stats.beta.pdf(x, 2.0, 3.5), 0.0, 1.0),
    "t": (lambda x: stats.t.pdf(x, 5.0, 0.5, 1.5), -400, 400),
    "uniform": (lambda x: stats.uniform.pdf(x, 0.5, 1.5), 0.5, 2.0),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_densities_integrate_to_one(name):
    pdf, lo, hi = CONTINUOUS[name]
    x = np.linspace(lo, hi, 200001)
    assert np.trapezoid(np.asarray(pdf(x)), x) == pytest.approx(1.0, abs=2e-5)


def test_cauchy_and_mvn_normalise():
    # Cauchy's tails are heavy: integrate its density against the closed-form CDF instead
    x = np.linspace(-50, 50, 200001)
    mass = np.trapezoid(np.asarray(stats.cauchy.pdf(x)), x)
    assert mass == pytest.approx(stats.cauchy.cdf(50.0) - stats.cauchy.cdf(-50.0), abs=1e-8)
    g = np.linspace(-9, 9, 601)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([xx, yy], axis=-1)
    dens = stats.multivariate_normal.pdf(pts, np.array([0.5, -0.5]),
                                         np.array([[2.0, 0.6], [0.6, 1.0]]))
    assert np.trapezoid(np.trapezoid(np.asarray(dens), g, axis=1), g) == pytest.approx(1.0,
                                                                                     abs=1e-6)
    tri = np.linspace(1e-4, 1 - 1e-4, 801)
    a, b = np.meshgrid(tri, tri, indexing="ij")
    inside = a + b < 1
    x = np.stack([np.where(inside, a, 0.2), np.where(inside, b, 0.2)])
    dens = np.where(inside, stats.dirichlet.pdf(x, np.array([2.0, 3.0, 1.5])), 0.0)
    assert np.trapezoid(np.trapezoid(dens, tri, axis=1), tri) == pytest.approx(1.0, abs=3e-3)


def test_mass_functions_sum_to_one():
    k = np.arange(200.0)
    for mu in (0.3, 4.0, 50.0):
        assert float(np.sum(stats.poisson.pmf(k, mu))) == pytest.approx(1.0, abs=1e-12)
    assert float(np.sum(stats.bernoulli.pmf(np.array([0.0, 1.0]), 0.37))) == pytest.approx(1.0)


# --- support and JAX's conventions --------------------------------------------------------------


def test_outside_the_support_is_minus_inf():
    assert stats.expon.logpdf(-0.1) == -np.inf
    assert stats.gamma.logpdf(-1.0, 2.0) == -np.inf
    assert stats.gamma.logpdf(0.0, 1.0) == 0.0
    assert stats.gamma.logpdf(0.0, 0.5) == np.inf
    np.testing.assert_array_equal(stats.beta.logpdf(np.array([-0.1, 0.0, 1.0, 1.1]), 2.0, 3.0),
                                  [-np.inf] * 4)
    np.testing.assert_array_equal(stats.uniform.logpdf(np.array([0.0, 1.0, 1.01])),
                                  [0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(stats.poisson.logpmf(np.array([-1.0, 2.5]), 2.0),
                                  [-np.inf, -np.inf])
    assert stats.poisson.logpmf(0.0, 0.0) == 0.0  # 0 log 0 = 0: all mass at 0
    assert stats.poisson.logpmf(3.0, 0.0) == -np.inf
    np.testing.assert_array_equal(stats.bernoulli.logpmf(np.array([-1.0, 2.0]), 0.3),
                                  [-np.inf, -np.inf])
    np.testing.assert_array_equal(stats.bernoulli.logpmf(np.array([0.0, 1.0]),
                                                         np.array([0.0, 1.0])), [0.0, 0.0])
    np.testing.assert_array_equal(stats.uniform.ppf(np.array([0.3, 1.5])), [0.3, np.nan])


def test_quantile_functions():
    q = np.array([0.01, 0.3, 0.5, 0.9])
    _close(stats.logistic.cdf(stats.logistic.ppf(q, 1.0, 2.0), 1.0, 2.0), q, rtol=1e-12)
    _close(stats.cauchy.cdf(stats.cauchy.ppf(q, 1.0, 2.0), 1.0, 2.0), q, rtol=1e-12)
    _close(stats.expon.cdf(stats.expon.ppf(q, 1.0, 2.0), 1.0, 2.0), q, rtol=1e-12)
    _close(stats.uniform.ppf(q, 1.0, 2.0), 1.0 + 2.0 * q)
    np.testing.assert_array_equal(stats.bernoulli.ppf(np.array([0.0, 0.5, 0.71, 1.0]), 0.3),
                                  [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(stats.bernoulli.cdf(np.array([-1.0, 0.0, 0.5, 1.0]), 0.3),
                                  [0.0, 0.7, 0.7, 1.0])


def test_float32_stays_float32():
    x = np.array([0.2, 0.7], np.float32)
    assert np.asarray(stats.norm.logpdf(x, 0, 1)).dtype == np.float32
    assert np.asarray(stats.gamma.logpdf(x, 2.0)).dtype == np.float32
    assert np.asarray(stats.beta.logpdf(x, 2, 3)).dtype == np.float32
    assert np.asarray(stats.norm.logpdf(1, 0, 1)).dtype == np.float64


# --- derivatives, vmap, jit ---------------------------------------------------------------------

GRAD_CASES = {
    "norm.logpdf": (stats.norm.logpdf, (X[:3], 0.3, 1.7)),
    "norm.logcdf": (stats.norm.logcdf, (np.array([-25.0, -3.0, 2.0]), 0.1, 1.2)),
    "norm.ppf": (stats.norm.ppf, (np.array([0.1, 0.5, 0.8]), 0.3, 1.7)),
    "logistic.logpdf": (stats.logistic.logpdf, (X[:3], 0.3, 1.7)),
    "laplace.logpdf": (stats.laplace.logpdf, (np.array([-1.0, 0.7, 2.0]), 0.3, 1.7)),
    "cauchy.logpdf": (stats.cauchy.logpdf, (X[:3], 0.3, 1.7)),
    "expon.logpdf": (stats.expon.logpdf, (np.array([0.5, 1.0, 3.0]), 0.1, 1.7)),
    "gamma.logpdf": (stats.gamma.logpdf, (np.array([0.5, 1.0, 3.0]), 2.5, 0.1, 1.7)),
    "beta.logpdf": (stats.beta.logpdf, (np.array([0.2, 0.5, 0.7]), 2.5, 1.5)),
    "t.logpdf": (stats.t.logpdf, (X[:3], 3.5, 0.3, 1.7)),
    "poisson.logpmf": (lambda mu: stats.poisson.logpmf(np.array([0.0, 2.0, 5.0]), mu),
                       (np.array([0.5, 2.0, 4.0]),)),
    "bernoulli.logpmf": (lambda p: stats.bernoulli.logpmf(np.array([0.0, 1.0, 1.0]), p),
                         (np.array([0.2, 0.5, 0.9]),)),
    "dirichlet.logpdf": (lambda x, a: stats.dirichlet.logpdf(x, a),
                         (np.array([0.2, 0.3]), np.array([1.5, 2.0, 3.0]))),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_check_grads_order_two(name):
    fn, args = GRAD_CASES[name]
    check_grads(fn, args, order=2, modes=("fwd", "rev"))


def test_check_grads_multivariate_normal():
    a = RNG.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    mean, x = RNG.normal(size=3), RNG.normal(size=(2, 3))
    check_grads(stats.multivariate_normal.logpdf, (x, mean, cov), order=2,
                modes=("fwd", "rev"), eps=1e-4)


def test_gradients_match_closed_forms():
    x, loc, scale = 1.3, 0.2, 1.5
    z = (x - loc) / scale
    gx, gl, gs = ft.grad(stats.norm.logpdf, argnums=(0, 1, 2))(x, loc, scale)
    assert gx == pytest.approx(-z / scale) and gl == pytest.approx(z / scale)
    assert gs == pytest.approx((z * z - 1) / scale)
    # d/dmu log Poisson(k; mu) = k / mu - 1
    assert ft.grad(lambda m: stats.poisson.logpmf(3.0, m))(2.0) == pytest.approx(0.5)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap_matches_loop(axis):
    x = RNG.normal(size=(3, 4))
    locs = RNG.normal(size=(3, 4))

    def f(v, loc):
        return (stats.norm.logpdf(v, loc, 2.0) + stats.t.logpdf(v, 4.0, loc)
                + stats.gamma.logpdf(np.abs(v) + 0.1, 2.0) + stats.norm.logcdf(v))

    got = ft.vmap(f, in_axes=(axis, axis))(x, locs)
    want = np.stack([f(np.take(x, i, axis), np.take(locs, i, axis))
                     for i in range(x.shape[axis])])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    got = ft.vmap(f, in_axes=(axis, None))(x, locs[0, 0])
    want = np.stack([f(np.take(x, i, axis), locs[0, 0]) for i in range(x.shape[axis])])
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_vmap_multivariate_normal_matches_loop():
    a = RNG.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    x, means = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    got = ft.vmap(stats.multivariate_normal.logpdf, in_axes=(0, 0, None))(x, means, cov)
    want = [stats.multivariate_normal.logpdf(x[i], means[i], cov) for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jit_matches_interpreter(dtype):
    x = np.linspace(0.1, 3.0, 8).astype(dtype)

    def f(v):
        return (stats.norm.logpdf(v, 0.5, 2.0) + stats.norm.logcdf(v) + stats.expon.logpdf(v)
                + stats.gamma.logpdf(v, 2.5) + stats.beta.logpdf(v / 3.1, 2.0, 3.0)
                + stats.t.logpdf(v, 3.0) + stats.cauchy.logpdf(v) + stats.laplace.logpdf(v)
                + stats.logistic.logpdf(v) + stats.poisson.logpmf(np.floor(v), 2.0))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_jit_matches_interpreter(f, x)


def test_jit_multivariate_normal_matches_interpreter():
    a = RNG.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_jit_matches_interpreter(stats.multivariate_normal.logpdf,
                                       RNG.normal(size=(4, 3)), RNG.normal(size=3), cov)


def test_repr_names_the_distribution():
    assert stats.norm.__name__ == "functrace.scipy.stats.norm"
    assert stats.norm.logpdf.__qualname__ == "norm.logpdf"


def test_each_distribution_is_a_module_as_in_jax():
    import importlib

    import functrace.scipy.stats.multivariate_normal as mvn
    import functrace.scipy.stats.norm as norm
    assert norm is stats.norm and mvn is stats.multivariate_normal
    _close(norm.logpdf(X, 0.5, 2.0), -0.5 * ((X - 0.5) / 2) ** 2 - math.log(2) - 0.5 * LOG_2PI)
    for name in stats.__all__:
        mod = importlib.import_module(f"functrace.scipy.stats.{name}")
        assert mod is getattr(stats, name)
        assert mod.__all__ and all(callable(getattr(mod, f)) for f in mod.__all__)
    assert set(stats.__all__) >= {"norm", "multivariate_normal", "t", "beta", "gamma", "poisson",
                                  "bernoulli", "expon", "uniform", "laplace", "logistic",
                                  "cauchy"}
    assert set(stats.t.__all__) == {"logpdf", "pdf"}
