"""The ``poisson`` distribution, as ``jax.scipy.stats.poisson``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
