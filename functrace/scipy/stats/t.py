"""The ``t`` distribution, as ``jax.scipy.stats.t``
(its functions are defined in ``_distributions.py``)."""

from ._distributions import export

export(__name__)
del export
