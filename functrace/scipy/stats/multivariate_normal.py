"""The ``multivariate_normal`` distribution, as ``jax.scipy.stats.multivariate_normal``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
