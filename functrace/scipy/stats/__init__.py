"""``scipy.stats`` distributions (``jax.scipy.stats``'s names and signatures) that trace,
differentiate, batch and compile: one module per distribution, as in JAX
(``import functrace.scipy.stats.norm as norm``; ``stats.norm.logpdf(x, loc, scale)``).
The functions are defined in ``_distributions.py``.
"""

from . import (
    bernoulli,
    beta,
    cauchy,
    chi2,
    dirichlet,
    expon,
    gamma,
    laplace,
    logistic,
    multivariate_normal,
    norm,
    poisson,
    t,
    uniform,
)

__all__ = [
    "bernoulli",
    "beta",
    "cauchy",
    "chi2",
    "dirichlet",
    "expon",
    "gamma",
    "laplace",
    "logistic",
    "multivariate_normal",
    "norm",
    "poisson",
    "t",
    "uniform",
]
