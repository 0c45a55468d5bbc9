"""The ``cauchy`` distribution, as ``jax.scipy.stats.cauchy``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
