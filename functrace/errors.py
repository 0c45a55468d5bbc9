"""The exceptions functrace raises for traced values, under JAX's names (``jax.errors``).

``ConcretizationTypeError`` (a ``TypeError``) is raised when Python needs the value of an
array that a transformation only knows by shape and dtype; its subclasses name the
conversion (``bool()``, ``int()``/indexing, ``np.asarray``). ``NonConcreteBooleanIndexError``
(an ``IndexError``) is boolean-mask indexing of a traced array. ``UnexpectedTracerError`` is a
tracer used after its transformation finished (leaked through a global or a closure).
"""

from __future__ import annotations

from .core import UnexpectedTracerError
from .numpy._errors import (
    ConcretizationTypeError,
    NonConcreteBooleanIndexError,
    TracerArrayConversionError,
    TracerBoolConversionError,
    TracerIntegerConversionError,
)

__all__ = ["ConcretizationTypeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError"]
