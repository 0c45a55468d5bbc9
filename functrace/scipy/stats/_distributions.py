"""The ``scipy.stats`` distributions (``jax.scipy.stats``'s names and signatures) that trace,
differentiate, batch and compile; each is published as a module of ``functrace.scipy.stats``
(``functrace.scipy.stats.norm``) by ``export``.

Each distribution is a namespace of functions, used as ``stats.norm.logpdf(x, loc, scale)``.
Arguments broadcast against each other (NumPy rules) and are promoted to a common floating
dtype; ``loc``/``scale`` default to 0/1. Outside the support a log-density is ``-inf`` (and a
density 0), as in JAX; parameters are not validated (an invalid ``scale`` gives NaN or garbage,
as in JAX).

Everything is written with ``functrace.numpy`` and ``functrace.scipy.special``, so derivatives
of every order, ``vmap`` and ``jit`` come for free.
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import numpy as np

from ... import lax
from ... import numpy as fnp
from ...numpy._base import asarray, promote_args
from .. import special as sp

__all__ = ["norm", "multivariate_normal", "logistic", "laplace", "expon", "gamma", "chi2",
           "beta", "poisson", "bernoulli", "t", "cauchy", "uniform", "dirichlet"]

_LOG_2PI = math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)


def _promote(*args) -> list:
    """The arguments as arrays of one floating dtype (not yet broadcast: arithmetic does)."""
    # Python scalars stay as they are, so that they adapt to the arrays' dtype (NEP 50):
    # ``norm.logpdf(x32, 0, 1)`` is float32
    return promote_args(*[a if type(a) in (bool, int, float) else asarray(a) for a in args],
                        to_inexact=True)


def _neg_inf_where(cond, x):
    return fnp.where(cond, fnp.full_like(x, -np.inf), x)


class _Distribution(SimpleNamespace):
    """A distribution's functions, as attributes (``norm.logpdf``)."""

    def __repr__(self) -> str:
        return f"<functrace.scipy.stats.{self.name}>"


def _namespace(name: str, **fns) -> _Distribution:
    for fn in fns.values():
        fn.__qualname__ = f"{name}.{fn.__name__.lstrip('_').split('_', 1)[1]}"
    return _Distribution(name=name, **fns)


# ---------------------------------------------------------------------------------------------
# norm
# ---------------------------------------------------------------------------------------------


def _norm_logpdf(x, loc=0, scale=1):
    """``log N(x; loc, scale^2)``."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    return -0.5 * y * y - fnp.log(scale) - 0.5 * _LOG_2PI


def _norm_pdf(x, loc=0, scale=1):
    """The normal density."""
    return fnp.exp(_norm_logpdf(x, loc, scale))


def _norm_cdf(x, loc=0, scale=1):
    """The normal CDF ``Phi((x - loc) / scale)``."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.ndtr((x - loc) / scale)


def _norm_logcdf(x, loc=0, scale=1):
    """``log Phi((x - loc) / scale)``, accurate in the far left tail."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.log_ndtr((x - loc) / scale)


def _norm_sf(x, loc=0, scale=1):
    """The survival function ``1 - cdf``, accurate in the right tail."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.ndtr((loc - x) / scale)


def _norm_logsf(x, loc=0, scale=1):
    """``log(1 - cdf)``, accurate in the far right tail."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.log_ndtr((loc - x) / scale)


def _norm_ppf(q, loc=0, scale=1):
    """The quantile function (inverse of ``cdf``)."""
    q, loc, scale = _promote(q, loc, scale)
    return sp.ndtri(q) * scale + loc


def _norm_isf(q, loc=0, scale=1):
    """The inverse of ``sf``."""
    q, loc, scale = _promote(q, loc, scale)
    return loc - sp.ndtri(q) * scale


norm = _namespace("norm", logpdf=_norm_logpdf, pdf=_norm_pdf, cdf=_norm_cdf,
                  logcdf=_norm_logcdf, sf=_norm_sf, logsf=_norm_logsf, ppf=_norm_ppf,
                  isf=_norm_isf)


# ---------------------------------------------------------------------------------------------
# multivariate_normal
# ---------------------------------------------------------------------------------------------


def _mvn_logpdf(x, mean, cov, allow_singular=None):
    """``log N(x; mean, cov)`` over the last axis of ``x`` and ``mean`` (leading axes of
    ``x``, ``mean`` and ``cov`` broadcast). With a 0-d ``mean`` the distribution is
    one-dimensional with variance ``cov``. Uses the Cholesky factor of ``cov``."""
    if allow_singular is not None:
        raise NotImplementedError("multivariate_normal.logpdf: allow_singular is not supported")
    x, mean, cov = _promote(x, mean, cov)
    if not fnp.shape(mean):
        return -0.5 * (x - mean) ** 2 / cov - 0.5 * (_LOG_2PI + fnp.log(cov))
    n = fnp.shape(mean)[-1]
    if fnp.ndim(cov) < 2 or fnp.shape(cov)[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf: cov of shape {fnp.shape(cov)} does not "
                         f"match mean of shape {fnp.shape(mean)} (it needs (..., {n}, {n}))")
    if fnp.shape(x)[-1:] != (n,):
        raise ValueError(f"multivariate_normal.logpdf: x of shape {fnp.shape(x)} does not "
                         f"match mean of shape {fnp.shape(mean)}")
    diff = x - mean
    chol = fnp.linalg.cholesky(cov)
    batch = np.broadcast_shapes(fnp.shape(diff)[:-1], fnp.shape(chol)[:-2])
    diff = fnp.broadcast_to(diff, batch + (n,))
    chol = fnp.broadcast_to(chol, batch + (n, n))
    # L y = x - mean: then (x - mean)^T cov^-1 (x - mean) = |y|^2
    y = lax.triangular_solve(chol, diff[..., None], left_side=True, lower=True)[..., 0]
    half_logdet = fnp.sum(fnp.log(fnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * fnp.sum(y * y, axis=-1) - half_logdet - 0.5 * n * _LOG_2PI


def _mvn_pdf(x, mean, cov):
    """The multivariate normal density."""
    return fnp.exp(_mvn_logpdf(x, mean, cov))


multivariate_normal = _namespace("multivariate_normal", logpdf=_mvn_logpdf, pdf=_mvn_pdf)


# ---------------------------------------------------------------------------------------------
# logistic, laplace, cauchy, uniform, expon
# ---------------------------------------------------------------------------------------------


def _logistic_logpdf(x, loc=0, scale=1):
    """``log`` of the logistic density ``exp(-y) / (scale (1 + exp(-y))^2)``."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    # -y - 2 log(1 + exp(-y)) = -2 log(exp(y/2) + exp(-y/2)): symmetric and overflow-free
    return -2.0 * fnp.logaddexp(0.5 * y, -0.5 * y) - fnp.log(scale)


def _logistic_pdf(x, loc=0, scale=1):
    """The logistic density."""
    return fnp.exp(_logistic_logpdf(x, loc, scale))


def _logistic_cdf(x, loc=0, scale=1):
    """The logistic CDF ``expit((x - loc) / scale)``."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.expit((x - loc) / scale)


def _logistic_sf(x, loc=0, scale=1):
    """``1 - cdf``."""
    x, loc, scale = _promote(x, loc, scale)
    return sp.expit((loc - x) / scale)


def _logistic_ppf(q, loc=0, scale=1):
    """The quantile function ``loc + scale logit(q)``."""
    q, loc, scale = _promote(q, loc, scale)
    return sp.logit(q) * scale + loc


def _logistic_isf(q, loc=0, scale=1):
    """The inverse of ``sf``."""
    q, loc, scale = _promote(q, loc, scale)
    return loc - sp.logit(q) * scale


logistic = _namespace("logistic", logpdf=_logistic_logpdf, pdf=_logistic_pdf,
                      cdf=_logistic_cdf, sf=_logistic_sf, ppf=_logistic_ppf,
                      isf=_logistic_isf)


def _laplace_logpdf(x, loc=0, scale=1):
    """``-|x - loc| / scale - log(2 scale)``."""
    x, loc, scale = _promote(x, loc, scale)
    return -fnp.abs((x - loc) / scale) - fnp.log(2.0 * scale)


def _laplace_pdf(x, loc=0, scale=1):
    """The Laplace density."""
    return fnp.exp(_laplace_logpdf(x, loc, scale))


def _laplace_cdf(x, loc=0, scale=1):
    """The Laplace CDF."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    half = 0.5 * fnp.exp(-fnp.abs(y))
    return fnp.where(y < 0, half, 1.0 - half)


laplace = _namespace("laplace", logpdf=_laplace_logpdf, pdf=_laplace_pdf, cdf=_laplace_cdf)


def _cauchy_logpdf(x, loc=0, scale=1):
    """``-log(pi scale (1 + y^2))`` with ``y = (x - loc) / scale``."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    return -_LOG_PI - fnp.log(scale) - fnp.log1p(y * y)


def _cauchy_pdf(x, loc=0, scale=1):
    """The Cauchy density."""
    return fnp.exp(_cauchy_logpdf(x, loc, scale))


def _cauchy_cdf(x, loc=0, scale=1):
    """The Cauchy CDF ``1/2 + atan(y) / pi``."""
    x, loc, scale = _promote(x, loc, scale)
    return 0.5 + fnp.arctan((x - loc) / scale) / np.pi


def _cauchy_logcdf(x, loc=0, scale=1):
    """``log cdf``."""
    return fnp.log(_cauchy_cdf(x, loc, scale))


def _cauchy_sf(x, loc=0, scale=1):
    """``1 - cdf`` (as the cdf of the mirrored point, so the right tail keeps its digits)."""
    x, loc, scale = _promote(x, loc, scale)
    return 0.5 + fnp.arctan((loc - x) / scale) / np.pi


def _cauchy_logsf(x, loc=0, scale=1):
    """``log sf``."""
    return fnp.log(_cauchy_sf(x, loc, scale))


def _cauchy_ppf(q, loc=0, scale=1):
    """The quantile function ``loc + scale tan(pi (q - 1/2))``."""
    q, loc, scale = _promote(q, loc, scale)
    return loc + scale * fnp.tan(np.pi * (q - 0.5))


def _cauchy_isf(q, loc=0, scale=1):
    """The inverse of ``sf``."""
    q, loc, scale = _promote(q, loc, scale)
    return loc + scale * fnp.tan(np.pi * (0.5 - q))


cauchy = _namespace("cauchy", logpdf=_cauchy_logpdf, pdf=_cauchy_pdf, cdf=_cauchy_cdf,
                    logcdf=_cauchy_logcdf, sf=_cauchy_sf, logsf=_cauchy_logsf,
                    ppf=_cauchy_ppf, isf=_cauchy_isf)


def _uniform_logpdf(x, loc=0, scale=1):
    """``-log(scale)`` on ``[loc, loc + scale]``, ``-inf`` outside."""
    x, loc, scale = _promote(x, loc, scale)
    inside = -fnp.log(scale) + fnp.zeros_like(x)
    return _neg_inf_where((x < loc) | (x > loc + scale), inside)


def _uniform_pdf(x, loc=0, scale=1):
    """The uniform density."""
    return fnp.exp(_uniform_logpdf(x, loc, scale))


def _uniform_cdf(x, loc=0, scale=1):
    """The uniform CDF, clipped to ``[0, 1]``."""
    x, loc, scale = _promote(x, loc, scale)
    return fnp.clip((x - loc) / scale, 0.0, 1.0)


def _uniform_ppf(q, loc=0, scale=1):
    """The quantile ``loc + q scale`` (NaN outside ``[0, 1]``)."""
    q, loc, scale = _promote(q, loc, scale)
    out = loc + q * scale
    return fnp.where((q < 0) | (q > 1), fnp.full_like(out, np.nan), out)


uniform = _namespace("uniform", logpdf=_uniform_logpdf, pdf=_uniform_pdf, cdf=_uniform_cdf,
                     ppf=_uniform_ppf)


def _expon_logpdf(x, loc=0, scale=1):
    """``-(x - loc) / scale - log(scale)`` for ``x >= loc``, ``-inf`` below."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    return _neg_inf_where(y < 0, -y - fnp.log(scale))


def _expon_pdf(x, loc=0, scale=1):
    """The exponential density."""
    return fnp.exp(_expon_logpdf(x, loc, scale))


def _expon_logsf(x, loc=0, scale=1):
    """``log(1 - cdf) = -(x - loc) / scale``, 0 below ``loc``."""
    x, loc, scale = _promote(x, loc, scale)
    y = (x - loc) / scale
    return fnp.where(y < 0, fnp.zeros_like(y), -y)


def _expon_sf(x, loc=0, scale=1):
    """``1 - cdf``."""
    return fnp.exp(_expon_logsf(x, loc, scale))


def _expon_cdf(x, loc=0, scale=1):
    """``1 - exp(-(x - loc) / scale)``, 0 below ``loc``."""
    return -fnp.expm1(_expon_logsf(x, loc, scale))


def _expon_logcdf(x, loc=0, scale=1):
    """``log cdf`` (``-inf`` below ``loc``)."""
    return fnp.log(_expon_cdf(x, loc, scale))


def _expon_ppf(q, loc=0, scale=1):
    """The quantile ``loc - scale log(1 - q)`` (NaN outside ``[0, 1]``)."""
    q, loc, scale = _promote(q, loc, scale)
    out = loc - scale * fnp.log1p(-q)
    return fnp.where((q < 0) | (q > 1), fnp.full_like(out, np.nan), out)


expon = _namespace("expon", logpdf=_expon_logpdf, pdf=_expon_pdf, cdf=_expon_cdf,
                   logcdf=_expon_logcdf, sf=_expon_sf, logsf=_expon_logsf, ppf=_expon_ppf)


# ---------------------------------------------------------------------------------------------
# gamma, beta, t, dirichlet
# ---------------------------------------------------------------------------------------------


def _gamma_logpdf(x, a, loc=0, scale=1):
    """``(a - 1) log y - y - gammaln(a) - log(scale)`` with ``y = (x - loc) / scale``;
    ``-inf`` for ``x < loc``."""
    x, a, loc, scale = _promote(x, a, loc, scale)
    y = (x - loc) / scale
    out = sp.xlogy(a - 1.0, y) - y - sp.gammaln(a) - fnp.log(scale)
    return _neg_inf_where(x < loc, out)


def _gamma_pdf(x, a, loc=0, scale=1):
    """The gamma density."""
    return fnp.exp(_gamma_logpdf(x, a, loc, scale))


def _gamma_cdf(x, a, loc=0, scale=1):
    """The gamma CDF ``P(a, (x - loc) / scale)`` (0 below ``loc``); differentiable in ``x``,
    ``loc`` and ``scale`` (not in ``a``)."""
    x, a, loc, scale = _promote(x, a, loc, scale)
    y = fnp.maximum((x - loc) / scale, 0.0)
    return sp.gammainc(a, y)


def _gamma_sf(x, a, loc=0, scale=1):
    """``1 - cdf`` as ``Q(a, y)``, accurate in the right tail."""
    x, a, loc, scale = _promote(x, a, loc, scale)
    y = fnp.maximum((x - loc) / scale, 0.0)
    return sp.gammaincc(a, y)


def _gamma_logcdf(x, a, loc=0, scale=1):
    """``log cdf``."""
    return fnp.log(_gamma_cdf(x, a, loc, scale))


def _gamma_logsf(x, a, loc=0, scale=1):
    """``log sf``."""
    return fnp.log(_gamma_sf(x, a, loc, scale))


gamma = _namespace("gamma", logpdf=_gamma_logpdf, pdf=_gamma_pdf, cdf=_gamma_cdf,
                   sf=_gamma_sf, logcdf=_gamma_logcdf, logsf=_gamma_logsf)


def _chi2_logpdf(x, df, loc=0, scale=1):
    """The chi-squared log-density: a gamma with shape ``df / 2`` and scale ``2 scale``."""
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_logpdf(x, 0.5 * df, loc, 2.0 * scale)


def _chi2_pdf(x, df, loc=0, scale=1):
    """The chi-squared density."""
    return fnp.exp(_chi2_logpdf(x, df, loc, scale))


def _chi2_cdf(x, df, loc=0, scale=1):
    """The chi-squared CDF."""
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_cdf(x, 0.5 * df, loc, 2.0 * scale)


def _chi2_sf(x, df, loc=0, scale=1):
    """``1 - cdf``."""
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_sf(x, 0.5 * df, loc, 2.0 * scale)


def _chi2_logcdf(x, df, loc=0, scale=1):
    """``log cdf``."""
    return fnp.log(_chi2_cdf(x, df, loc, scale))


def _chi2_logsf(x, df, loc=0, scale=1):
    """``log sf``."""
    return fnp.log(_chi2_sf(x, df, loc, scale))


chi2 = _namespace("chi2", logpdf=_chi2_logpdf, pdf=_chi2_pdf, cdf=_chi2_cdf, sf=_chi2_sf,
                  logcdf=_chi2_logcdf, logsf=_chi2_logsf)


def _beta_logpdf(x, a, b, loc=0, scale=1):
    """``(a - 1) log y + (b - 1) log(1 - y) - betaln(a, b) - log(scale)`` on
    ``[loc, loc + scale]``, ``-inf`` outside."""
    x, a, b, loc, scale = _promote(x, a, b, loc, scale)
    y = (x - loc) / scale
    out = sp.xlogy(a - 1.0, y) + sp.xlog1py(b - 1.0, -y) - sp.betaln(a, b) - fnp.log(scale)
    return _neg_inf_where((x < loc) | (x > loc + scale), out)


def _beta_pdf(x, a, b, loc=0, scale=1):
    """The beta density."""
    return fnp.exp(_beta_logpdf(x, a, b, loc, scale))


beta = _namespace("beta", logpdf=_beta_logpdf, pdf=_beta_pdf)


def _t_logpdf(x, df, loc=0, scale=1):
    """Student's t log-density with ``df`` degrees of freedom."""
    x, df, loc, scale = _promote(x, df, loc, scale)
    y = (x - loc) / scale
    half = 0.5 * df
    norm_const = (sp.gammaln(half + 0.5) - sp.gammaln(half)
                  - 0.5 * (fnp.log(df) + _LOG_PI) - fnp.log(scale))
    return norm_const - (half + 0.5) * fnp.log1p(y * y / df)


def _t_pdf(x, df, loc=0, scale=1):
    """Student's t density."""
    return fnp.exp(_t_logpdf(x, df, loc, scale))


t = _namespace("t", logpdf=_t_logpdf, pdf=_t_pdf)


def _dirichlet_logpdf(x, alpha):
    """The Dirichlet log-density; the simplex is axis 0 of ``x`` (SciPy's layout), which may
    omit the last coordinate (then ``1 - sum`` of the others). ``-inf`` off the simplex
    (a coordinate ``<= 0`` or a sum off 1 by more than 1e-6)."""
    x, alpha = _promote(x, alpha)
    if fnp.ndim(alpha) != 1:
        raise ValueError(f"dirichlet.logpdf needs a 1-d alpha, got shape {fnp.shape(alpha)}")
    k = fnp.shape(alpha)[0]
    if fnp.ndim(x) < 1 or fnp.shape(x)[0] not in (k, k - 1):
        raise ValueError(f"dirichlet.logpdf: x of shape {fnp.shape(x)} does not match alpha of "
                         f"shape {fnp.shape(alpha)} (x.shape[0] must be {k} or {k - 1})")
    if fnp.shape(x)[0] == k - 1:
        x = fnp.concatenate([x, 1.0 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    alpha = fnp.reshape(alpha, (k,) + (1,) * (fnp.ndim(x) - 1))
    log_norm = fnp.sum(sp.gammaln(alpha), axis=0) - sp.gammaln(fnp.sum(alpha, axis=0))
    out = fnp.sum(sp.xlogy(alpha - 1.0, x), axis=0) - log_norm
    on_simplex = fnp.all(x > 0, axis=0) & (fnp.abs(fnp.sum(x, axis=0) - 1.0) < 1e-6)
    return _neg_inf_where(~on_simplex, out)


def _dirichlet_pdf(x, alpha):
    """The Dirichlet density."""
    return fnp.exp(_dirichlet_logpdf(x, alpha))


dirichlet = _namespace("dirichlet", logpdf=_dirichlet_logpdf, pdf=_dirichlet_pdf)


# ---------------------------------------------------------------------------------------------
# Discrete: poisson, bernoulli
# ---------------------------------------------------------------------------------------------


def _poisson_logpmf(k, mu, loc=0):
    """``k log(mu) - gammaln(k + 1) - mu`` at ``k - loc``; ``-inf`` off the non-negative
    integers (``0 log 0 = 0``, so ``mu = 0`` puts all mass on 0)."""
    k, mu, loc = _promote(k, mu, loc)
    x = k - loc
    out = sp.xlogy(x, mu) - sp.gammaln(x + 1.0) - mu
    return _neg_inf_where((x < 0) | (x != fnp.floor(x)), out)


def _poisson_pmf(k, mu, loc=0):
    """The Poisson probability mass."""
    return fnp.exp(_poisson_logpmf(k, mu, loc))


def _poisson_cdf(k, mu, loc=0):
    """``P(K <= k - loc) = Q(floor(k - loc) + 1, mu)``, 0 below 0."""
    k, mu, loc = _promote(k, mu, loc)
    x = k - loc
    out = sp.gammaincc(fnp.floor(fnp.maximum(x, 0.0)) + 1.0, mu)
    return fnp.where(x < 0, fnp.zeros_like(out), out)


poisson = _namespace("poisson", logpmf=_poisson_logpmf, pmf=_poisson_pmf, cdf=_poisson_cdf)


def _bernoulli_logpmf(k, p, loc=0):
    """``k log p + (1 - k) log(1 - p)`` at ``k - loc``; ``-inf`` outside ``[0, 1]`` (as in JAX,
    values between 0 and 1 are not rejected)."""
    k, p, loc = _promote(k, p, loc)
    x = k - loc
    out = sp.xlogy(x, p) + sp.xlog1py(1.0 - x, -p)
    return _neg_inf_where((x < 0) | (x > 1), out)


def _bernoulli_pmf(k, p, loc=0):
    """The Bernoulli probability mass."""
    return fnp.exp(_bernoulli_logpmf(k, p, loc))


def _bernoulli_cdf(k, p):
    """0 below 0, ``1 - p`` on ``[0, 1)``, 1 from 1 on (NaN for ``p`` outside ``[0, 1]``)."""
    k, p = _promote(k, p)
    zero, one = fnp.zeros_like(k * p), fnp.ones_like(k * p)
    out = fnp.where(k < 0, zero, fnp.where(k < 1, one - p, one))
    return fnp.where((p < 0) | (p > 1), fnp.full_like(out, np.nan), out)


def _bernoulli_ppf(q, p):
    """The smallest ``k`` in ``{0, 1}`` with ``cdf(k) >= q`` (NaN outside ``[0, 1]``)."""
    q, p = _promote(q, p)
    out = fnp.where(q > 1.0 - p, fnp.ones_like(q * p), fnp.zeros_like(q * p))
    bad = (q < 0) | (q > 1) | (p < 0) | (p > 1)
    return fnp.where(bad, fnp.full_like(out, np.nan), out)


bernoulli = _namespace("bernoulli", logpmf=_bernoulli_logpmf, pmf=_bernoulli_pmf,
                       cdf=_bernoulli_cdf, ppf=_bernoulli_ppf)


def export(module_name: str) -> None:
    """Fill the module ``functrace.scipy.stats.<name>`` with distribution ``<name>``'s
    functions (what each one-distribution module does, as ``jax.scipy.stats.norm`` is a
    module)."""
    module = sys.modules[module_name]
    dist = globals()[module_name.rsplit(".", 1)[1]]
    names = sorted(k for k in vars(dist) if k != "name")
    for k in names:
        setattr(module, k, getattr(dist, k))
    module.__all__ = names
