"""The ``chi2`` distribution, as ``jax.scipy.stats.chi2``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
