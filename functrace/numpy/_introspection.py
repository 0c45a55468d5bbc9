"""Functions about arrays and dtypes rather than array arithmetic: NumPy's dtype aliases
(``float_``, ``complex_``...), ``isdtype``, ``iterable``, ``array_equiv``, ``real_if_close``,
``array_repr``/``array_str`` and ``einsum_path`` (a contraction order from shapes alone).
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes
from ..core import Tracer
from . import _ufuncs as u
from ._base import asarray as _asarray
from ._base import aval_of, dtype_of
from ._errors import concretization_error

__all__ = ["float_", "complex_", "cdouble", "csingle", "object_", "character", "flexible",
           "isdtype", "iterable", "array_equiv", "array_repr", "array_str", "real_if_close",
           "einsum_path"]

# ---------------------------------------------------------------------------------------------
# dtype aliases and predicates
# ---------------------------------------------------------------------------------------------

float_ = np.float64
complex_ = cdouble = np.complex128
csingle = np.complex64
object_, character, flexible = np.object_, np.character, np.flexible


def isdtype(dtype, kind) -> bool:
    """``numpy.isdtype``: whether ``dtype`` is of ``kind`` (a dtype, a kind name such as
    ``"real floating"``, or a tuple of them)."""
    return bool(np.isdtype(np.dtype(dtype), kind))


def iterable(y) -> bool:
    """``numpy.iterable``; a tracer is iterable when it has at least one dimension."""
    if isinstance(y, Tracer):
        return y.aval.ndim > 0
    return bool(np.iterable(y))


def array_equiv(a1, a2):
    """``numpy.array_equiv``: shapes broadcast together and all entries are equal (a Python
    bool outside transformations, a traced bool inside)."""
    a1, a2 = _asarray(a1), _asarray(a2)
    try:
        eq = u.equal(a1, a2)
    except ValueError:  # shapes do not broadcast
        return False
    out = _all(eq)
    return out if isinstance(out, Tracer) else builtins.bool(out)


def _all(x):
    from ._reductions import all as all_
    return all_(x)


def _printable(a, name: str):
    if isinstance(a, Tracer):
        value = a.concrete_value()
        if value is None:
            return None
        return np.asarray(value)
    return np.asarray(a)


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None) -> str:
    """``numpy.array_repr`` (of a traced array: its abstract description)."""
    value = _printable(arr, "array_repr")
    if value is None:
        return repr(arr)
    return np.array_repr(value, max_line_width, precision, suppress_small)


def array_str(a, max_line_width=None, precision=None, suppress_small=None) -> str:
    """``numpy.array_str`` (of a traced array: its abstract description)."""
    value = _printable(a, "array_str")
    if value is None:
        return str(a)
    return np.array_str(value, max_line_width, precision, suppress_small)

def real_if_close(a, tol: float = 100):
    """``numpy.real_if_close``: the real part of a complex ``a`` if every imaginary part is
    below ``tol`` machine epsilons of its dtype (``tol`` is absolute if at most 1), else ``a``
    unchanged. The result's dtype depends on the values, so ``a`` must be concrete (not a
    traced value inside ``jit``/``grad``/``vmap``)."""
    a = _asarray(a)
    dt = dtype_of(a)
    if not dtypes.is_complex(dt):
        return a
    imag = u.imag(a)
    if isinstance(imag, Tracer):
        value = imag.concrete_value()
        if value is None:
            raise concretization_error(imag, "real_if_close (its result dtype depends on the "
                                             "values: use functrace.numpy.real where the "
                                             "imaginary parts are known to be small)")
        imag = value
    limit = tol * np.finfo(dt).eps if tol > 1 else tol
    return u.real(a) if bool(np.all(np.abs(imag) < limit)) else a



def einsum_path(subscripts, /, *operands, optimize="greedy"):
    """``numpy.einsum_path``: NumPy's contraction order for operands of these shapes (only the
    shapes and dtypes matter, so tracers are fine)."""
    stand_ins = [o if isinstance(o, str) else np.broadcast_to(
        np.zeros((), dtype_of(_asarray(o))), aval_of(_asarray(o)).shape) for o in operands]
    return np.einsum_path(subscripts, *stand_ins, optimize=optimize)
