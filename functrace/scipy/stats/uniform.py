"""The ``uniform`` distribution, as ``jax.scipy.stats.uniform``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
