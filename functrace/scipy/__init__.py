"""SciPy-compatible functions that trace and differentiate (``jax.scipy``'s names)."""

from . import special

__all__ = ["special"]
