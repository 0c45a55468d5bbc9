"""Errors raised when NumPy-style code needs a value that a transformation only knows abstractly.

``ConcretizationTypeError`` is what ``bool(tracer)``, ``int(tracer)``, ``np.asarray(tracer)``
and friends raise when the tracer stands for an array whose *value* is unknown (under
``jit``/``make_jaxpr`` or ``vmap``); its message names the operation, the abstract value, the
transformation and the fix. ``NonConcreteBooleanIndexError`` is the special case of a boolean
mask, whose result shape would depend on the data.
"""

from __future__ import annotations

from typing import Any

_TRACE_NAMES = {
    "JaxprTrace": "jit/make_jaxpr",
    "BatchTrace": "vmap",
    "PartialEvalTrace": "grad/vjp/linearize",
    "JVPTrace": "jvp/grad",
}

_FIX = ("Use functrace.numpy.where (or lax.cond) for value-dependent branches and "
        "selections, or mark the argument static with static_argnums so its value is known "
        "while tracing.")


class ConcretizationTypeError(TypeError):
    """A concrete value was needed but the traced value is only known by shape and dtype."""


class NonConcreteBooleanIndexError(IndexError):
    """Boolean-mask indexing of a traced array: the result shape would depend on the data."""


def transformation_name(tracer: Any) -> str:
    """A human name for the transformation a tracer belongs to (``"vmap"``, ``"jit"``...)."""
    name = type(tracer._trace).__name__
    return _TRACE_NAMES.get(name, name)


def describe(tracer: Any) -> str:
    """A tracer's abstract value and transformation, e.g. ``f32[3] traced by vmap``."""
    return f"{tracer.aval.str_short()} traced by {transformation_name(tracer)}"


def concretization_error(tracer: Any, operation: str) -> ConcretizationTypeError:
    """The error for ``operation`` (e.g. ``"bool() of a traced value"``) needing a real value."""
    return ConcretizationTypeError(
        f"{operation} needs a concrete value, but got an abstract one: {describe(tracer)}. "
        "Its value is not known while the function is being transformed, only its shape and "
        f"dtype. {_FIX}")


def boolean_index_error(mask: Any) -> NonConcreteBooleanIndexError:
    """The error for indexing with a traced boolean mask."""
    return NonConcreteBooleanIndexError(
        f"Indexing with a traced boolean mask ({describe(mask)}) is not supported: the shape "
        "of the result would depend on how many entries are True, which is unknown while "
        "tracing. Use functrace.numpy.where(mask, x, 0) (keeps the shape; combine with a sum "
        "or mean), or pass the mask as a static (NumPy) array.")
