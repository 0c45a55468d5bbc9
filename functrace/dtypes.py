"""Dtypes functrace supports and NumPy-compatible (NEP 50) type promotion.

Python scalars are *weak*: they adapt to the array they meet (``x32 * 2.0`` stays float32),
exactly as NumPy 2 does. Arrays and NumPy scalars are strong.
"""

from __future__ import annotations

import functools

import numpy as np

bool_ = np.dtype(np.bool_)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)

SUPPORTED = (
    bool_,
    np.dtype(np.int8), np.dtype(np.int16), int32, int64,
    np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64),
    np.dtype(np.float16), float32, float64, complex64, complex128,
)

_SHORT_NAMES = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "float32": "f32", "float64": "f64", "complex64": "c64", "complex128": "c128",
}


def short_name(dtype: np.dtype) -> str:
    """The compact name used by the IR printer, e.g. ``f32``."""
    return _SHORT_NAMES[np.dtype(dtype).name]


def check_supported(dtype: np.dtype, what: str = "value") -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in SUPPORTED:
        raise TypeError(
            f"functrace does not support dtype {dtype} for {what}; use one of bool, int32, "
            "int64, float32, float64, complex64 or complex128 (convert with .astype)."
        )
    return dtype


# dtype kinds: these run several times per traced operation, and np.issubdtype is slow there
def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_complex(dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_bool(dtype) -> bool:
    return np.dtype(dtype) == bool_


# the Python scalar NumPy's NEP 50 promotion treats as weak, per weakly typed dtype
_WEAK_STAND_INS = {np.dtype(np.int64): 0, np.dtype(np.float64): 0.0,
                   np.dtype(np.complex128): 0j, np.dtype(np.bool_): False}


def _promotion_operand(a):
    """What ``np.result_type`` should see for ``a``: a Python scalar stays (weak), a dtype-like
    becomes a dtype, an array, tracer or aval gives its dtype (a Python scalar of its kind when
    weakly typed)."""
    if isinstance(a, (bool, int, float, complex)):
        return a
    if isinstance(a, (type, str, np.dtype)):
        return np.dtype(a)
    aval = getattr(a, "aval", None)
    if aval is None and hasattr(a, "weak_type"):
        aval = a  # an abstract value itself
    if aval is not None:
        if aval.weak_type:
            return _WEAK_STAND_INS.get(aval.dtype, aval.dtype)
        return aval.dtype
    dtype = getattr(a, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype
    return np.dtype(a)


def result_type(*args) -> np.dtype:
    """NEP 50 promotion of dtypes, dtype-likes (``float``, ``np.float32``, ``"int8"``), arrays,
    tracers and weak values (Python scalars and weakly typed tracers), as NumPy 2 does it."""
    return np.result_type(*[_promotion_operand(a) for a in args])


@functools.cache
def to_inexact(dtype) -> np.dtype:
    """The floating dtype NumPy gives ``sin`` or ``mean`` of ``dtype`` (int64 -> float64)."""
    return np.sin(np.zeros((), dtype)).dtype


def complex_dtype(dtype) -> np.dtype:
    """The complex dtype whose parts have ``dtype`` (float32 -> complex64)."""
    dtype = np.dtype(dtype)
    if dtype == float32 or dtype == complex64:
        return complex64
    return complex128


def real_dtype(dtype) -> np.dtype:
    """The dtype of the parts of a complex ``dtype`` (others are returned unchanged)."""
    dtype = np.dtype(dtype)
    if dtype == complex64:
        return float32
    if dtype == complex128:
        return float64
    return dtype
