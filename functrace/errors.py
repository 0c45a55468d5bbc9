"""The exceptions functrace raises for traced values, under JAX's names (``jax.errors``).

``ConcretizationTypeError`` (a ``TypeError``) is raised when Python needs the value of an
array that a transformation only knows by shape and dtype; its subclasses name the
conversion (``bool()``, ``int()``/indexing, ``np.asarray``). ``NonConcreteBooleanIndexError``
(an ``IndexError``) is boolean-mask indexing of a traced array. ``UnexpectedTracerError`` is a
tracer used after its transformation finished (leaked through a global or a closure).
``WindowShapeError`` (a ``TypeError`` and a ``ValueError``) is a bad shape, dtype or parameter
of a convolution or windowed reduction; ``PaddingError`` (a ``ValueError`` and a
``RuntimeError``) an unknown padding string.
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
from .ops.windowed import PaddingError, WindowShapeError

__all__ = ["ConcretizationTypeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError", "WindowShapeError",
           "PaddingError"]
