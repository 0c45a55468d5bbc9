"""The ``dirichlet`` distribution, as ``jax.scipy.stats.dirichlet``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
