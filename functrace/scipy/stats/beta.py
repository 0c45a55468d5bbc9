"""The ``beta`` distribution, as ``jax.scipy.stats.beta``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
