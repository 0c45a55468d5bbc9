"""The exceptions functrace raises for traced values, under JAX's names (``jax.errors``).

``ConcretizationTypeError`` (a ``TypeError``) is raised when Python needs the value of an
array that a transformation only knows by shape and dtype; its subclasses name the
conversion (``bool()``, ``int()``/indexing, ``np.asarray``). ``NonConcreteBooleanIndexError``
(an ``IndexError``) is boolean-mask indexing of a traced array. ``UnexpectedTracerError`` is a
tracer used after its transformation finished (leaked through a global or a closure).
``WindowShapeError`` (a ``TypeError`` and a ``ValueError``) is a bad shape, dtype or parameter
of a convolution or windowed reduction; ``PaddingError`` (a ``ValueError`` and a
``RuntimeError``) an unknown padding string. ``CompiledLoopInterrupted`` (a
``KeyboardInterrupt``) is Ctrl-C stopping a compiled ``while_loop``.
"""

from __future__ import annotations

from .core import UnexpectedTracerError

# The conversion errors are defined here, not in the NumPy frontend that raises them
# (``functrace.numpy._errors`` builds their messages): importing this module never imports
# ``functrace.numpy``.


class ConcretizationTypeError(TypeError):
    """A concrete value was needed but the traced value is only known by shape and dtype."""


class TracerBoolConversionError(ConcretizationTypeError):
    """``bool()`` of a traced value (``if x > 0:``, ``while``, ``and``/``or``)."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """``int()`` of a traced value, or its use as a Python index (``range(x)``, ``l[x]``)."""


class TracerArrayConversionError(ConcretizationTypeError):
    """``np.asarray``/``np.array`` of a traced value."""


class NonConcreteBooleanIndexError(IndexError):
    """Boolean-mask indexing of a traced array: the result shape would depend on the data."""


class WindowShapeError(TypeError, ValueError):
    """Bad shapes, dtypes or parameters of a convolution or windowed reduction: a TypeError
    like functrace's other shape errors and a ValueError like JAX's for some of the same
    mistakes, so either ``except`` catches it (raised by ``functrace.windowed``)."""


class PaddingError(ValueError, RuntimeError):
    """An unknown padding string: a ValueError, and a RuntimeError as JAX raises (raised by
    ``functrace.windowed``)."""


class CompiledLoopInterrupted(KeyboardInterrupt, Exception):
    """Ctrl-C (SIGINT) stopped a compiled ``while_loop``: a ``KeyboardInterrupt`` (also an
    ``Exception`` only because compiled code can raise nothing else)."""


__all__ = ["CompiledLoopInterrupted", "ConcretizationTypeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError", "WindowShapeError",
           "PaddingError"]
