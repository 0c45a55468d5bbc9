"""The ``gamma`` distribution, as ``jax.scipy.stats.gamma``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
