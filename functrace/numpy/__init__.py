"""``functrace.numpy``: a NumPy-compatible namespace that works on arrays and tracers alike.

Outside any transformation these functions return NumPy results (arrays and NumPy scalars with
NumPy's dtypes); inside one they record lax primitives. Semantics follow NumPy 2: NEP 50
promotion (Python scalars are weak), float64 by default, float32 preserved, ``sum`` of int32 is
int64, ``mean`` and ``sin`` of integers are float64.

Modules: ``_ufuncs`` (elementwise), ``_reductions``, ``_shape``, ``_creation``, ``_dot``
(products and einsum), ``_indexing`` (``x[idx]``, ``x.at[idx]``, take), ``_sorting``,
``linalg``; ``_tracer_methods`` makes tracers behave like ndarrays and routes NumPy's own
functions (``np.sin(tracer)``) here.
"""

from __future__ import annotations

import builtins as _builtins
import functools as _functools
import types as _types

import numpy as _np

from .. import dtypes as _dtypes
from ..core import Tracer as _Tracer
from . import (
    _bit_packing,
    _creation,
    _differences,
    _dot,
    _functional_updates,
    _functions,
    _histograms,
    _index_tricks,
    _indexing,
    _int_float_ufuncs,
    _introspection,
    _nan_statistics,
    _partition_and_sets,
    _polynomials,
    _reductions,
    _selection,
    _shape,
    _sorting,
    _ufuncs,
    _vectorize,
    _window_functions,
    linalg,
)
from ._array import as_eager_result as _as_eager_result
from ._bit_packing import *  # noqa: F403
from ._creation import *  # noqa: F403
from ._differences import *  # noqa: F403
from ._dot import *  # noqa: F403
from ._errors import ConcretizationTypeError, NonConcreteBooleanIndexError
from ._functional_updates import *  # noqa: F403
from ._functions import *  # noqa: F403
from ._histograms import *  # noqa: F403
from ._index_tricks import *  # noqa: F403
from ._indexing import *  # noqa: F403
from ._int_float_ufuncs import *  # noqa: F403
from ._introspection import *  # noqa: F403
from ._nan_statistics import *  # noqa: F403
from ._partition_and_sets import *  # noqa: F403
from ._polynomials import *  # noqa: F403
from ._reductions import *  # noqa: F403
from ._selection import *  # noqa: F403
from ._shape import *  # noqa: F403
from ._sorting import *  # noqa: F403
from ._ufuncs import *  # noqa: F403
from ._vectorize import *  # noqa: F403
from ._window_functions import *  # noqa: F403

# --- constants and dtypes ---------------------------------------------------------------------

pi, e, inf, nan, newaxis, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, None, _np.euler_gamma
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
complex64, complex128 = _np.complex64, _np.complex128
bool_ = bool = _np.bool_  # noqa: A001
int_, uint, intp, single, double = _np.int_, _np.uint, _np.intp, _np.single, _np.double
generic, number, inexact, floating, complexfloating = (_np.generic, _np.number, _np.inexact,
                                                       _np.floating, _np.complexfloating)
integer, signedinteger, unsignedinteger = _np.integer, _np.signedinteger, _np.unsignedinteger
dtype, finfo, iinfo, issubdtype, promote_types, can_cast = (
    _np.dtype, _np.finfo, _np.iinfo, _np.issubdtype, _np.promote_types, _np.can_cast)


class _ArrayMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, (_np.ndarray, _Tracer))


class ndarray(metaclass=_ArrayMeta):
    """For ``isinstance(x, functrace.numpy.ndarray)``: true of NumPy arrays and tracers."""


def result_type(*arrays_and_dtypes) -> _np.dtype:
    """``numpy.result_type`` (NEP 50; accepts tracers)."""
    return _dtypes.result_type(*[_np.dtype(a) if isinstance(a, type) else a
                                 for a in arrays_and_dtypes])


def iscomplexobj(x) -> bool:
    """Whether ``x`` has a complex dtype (``numpy.iscomplexobj``)."""
    return _dtypes.is_complex(_dtypes.result_type(x if not isinstance(x, (list, tuple))
                                                  else asarray(x)))  # noqa: F405


def isrealobj(x) -> bool:
    """Whether ``x`` has a non-complex dtype (``numpy.isrealobj``)."""
    return not iscomplexobj(x)


def isscalar(element) -> bool:
    """``numpy.isscalar``; a 0-d tracer counts as a scalar (as in JAX)."""
    if isinstance(element, _Tracer):
        return element.aval.ndim == 0
    return _np.isscalar(element)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.allclose`` (a Python bool outside transformations)."""
    out = all(isclose(a, b, rtol, atol, equal_nan))  # noqa: F405
    return out if isinstance(out, _Tracer) else _builtins.bool(out)


def array_equal(a1, a2, equal_nan=False):
    """``numpy.array_equal``: same shape and equal entries."""
    a1, a2 = asarray(a1), asarray(a2)  # noqa: F405
    if shape(a1) != shape(a2):  # noqa: F405
        return False
    eq = equal(a1, a2)  # noqa: F405
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))  # noqa: F405
    out = all(eq)  # noqa: F405
    return out if isinstance(out, _Tracer) else _builtins.bool(out)


__all__ = sorted(
    {name for module in (_bit_packing, _creation, _differences, _dot, _introspection,
                         _functional_updates, _functions, _histograms, _index_tricks, _indexing,
                         _int_float_ufuncs, _nan_statistics, _partition_and_sets, _polynomials,
                         _reductions, _selection, _shape, _sorting, _ufuncs, _vectorize,
                         _window_functions)
     for name in module.__all__}
    | {"linalg", "pi", "e", "inf", "nan", "newaxis", "euler_gamma", "float16", "float32",
       "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
       "complex64", "complex128", "bool_", "bool", "int_", "uint", "intp", "single", "double",
       "generic", "number", "inexact", "floating", "complexfloating", "integer",
       "signedinteger", "unsignedinteger", "dtype", "finfo", "iinfo", "issubdtype",
       "promote_types", "can_cast", "ndarray", "result_type", "iscomplexobj", "isrealobj",
       "isscalar", "allclose", "array_equal", "ConcretizationTypeError",
       "NonConcreteBooleanIndexError"})



def _returning_arrays(fn):
    """``fn`` whose NumPy-array results come back as ``Array`` (with ``.at``), as every
    ``jax.numpy`` result has it; tracers pass through untouched."""
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        t = type(out)
        if t is _np.ndarray or t is tuple or t is list:  # tracers and scalars pass as they are
            return _as_eager_result(out)
        return out
    return wrapper


for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, _types.FunctionType):
        globals()[_name] = _returning_arrays(_obj)
del _name, _obj

# NumPy functions routed here by Tracer.__array_function__/__array_ufunc__, by name.
_exports = {name: globals()[name] for name in __all__ if callable(globals()[name])}

from . import _tracer_methods  # noqa: E402

_tracer_methods.install()

# lax.reduce_window/reduce accept these as their computation, as they accept lax.add etc.
from .. import windowed as _windowed  # noqa: E402

_windowed.monoid_functions.extend([(add, "add"), (multiply, "mul"),  # noqa: F405
                                   (maximum, "max"), (minimum, "min")])  # noqa: F405
