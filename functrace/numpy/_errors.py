"""Errors raised when NumPy-style code needs a value that a transformation only knows abstractly.

``ConcretizationTypeError`` is what ``bool(tracer)``, ``int(tracer)``, ``np.asarray(tracer)``
and friends raise when the tracer stands for an array whose *value* is unknown (under
``jit``/``make_jaxpr`` or ``vmap``); its message names the operation, the abstract value, the
transformation and the fix. ``NonConcreteBooleanIndexError`` is the special case of a boolean
mask, whose result shape would depend on the data.
"""

from __future__ import annotations

from typing import Any

from .. import core
from ..errors import (  # noqa: F401 - defined in functrace.errors, importable from here too
    ConcretizationTypeError,
    NonConcreteBooleanIndexError,
    TracerArrayConversionError,
    TracerBoolConversionError,
    TracerIntegerConversionError,
)

_FIX = ("Use functrace.numpy.where (or lax.cond, lax.while_loop) for value-dependent branches, "
        "loops and selections, or mark the argument static with static_argnums so its value is "
        "known while tracing.")


def _error_class(operation: str) -> type[ConcretizationTypeError]:
    """The most specific class for ``operation``, as JAX's error names go."""
    if operation.startswith("bool()"):
        return TracerBoolConversionError
    if operation.startswith(("int()", "using a traced value as a Python index")):
        return TracerIntegerConversionError
    if operation.startswith("converting a traced value to a NumPy array"):
        return TracerArrayConversionError
    return ConcretizationTypeError


def transformation_name(tracer: Any) -> str:
    """A human name for the transformation a tracer belongs to (``"vmap"``, ``"jit"``...)."""
    chain = [tracer]
    while (inner := _inner_tracer(chain[-1])) is not None:
        chain.append(inner)
    names = list(dict.fromkeys(core.transformation_name(type(t._trace)) for t in chain))
    # The innermost transformation is the one that made the value abstract (jit in
    # ``jit(grad(f))``); the outer ones only wrap it.
    if len(names) == 1:
        return names[0]
    return f"{names[-1]} (and {', '.join(reversed(names[:-1]))})"


def _inner_tracer(tracer: Any) -> Any:
    """The tracer a tracer wraps (a JVP primal, a batched value...), or None."""
    for attr in ("primal", "val", "known"):
        v = getattr(tracer, attr, None)
        if isinstance(v, core.Tracer):
            return v
    return None


def describe(tracer: Any) -> str:
    """A tracer's abstract value and transformation, e.g. ``f32[3] traced by vmap``."""
    return f"{tracer.aval.str_short()} traced by {transformation_name(tracer)}"


def concretization_error(tracer: Any, operation: str) -> ConcretizationTypeError:
    """The error for ``operation`` (e.g. ``"bool() of a traced value"``) needing a real value."""
    return _error_class(operation)(
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


def differentiated_conversion_error(tracer: Any, operation: str) -> ConcretizationTypeError:
    """The error for ``operation`` (e.g. ``"float() of a traced value"``) on a value whose
    derivative is being taken: the conversion would silently drop that derivative."""
    return _error_class(operation)(
        f"{operation} would cut the derivative: the value ({describe(tracer)}) is being "
        "differentiated, and a plain Python or NumPy number carries no derivative. Compute "
        "with functrace.numpy (fnp.sin(x), not math.sin(x)) and keep the value an array, or "
        "apply functrace.lax.stop_gradient first if dropping the derivative is what you mean.")
