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


def is_float(dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def is_complex(dtype) -> bool:
    return np.issubdtype(dtype, np.complexfloating)


def is_inexact(dtype) -> bool:
    return np.issubdtype(dtype, np.inexact)


def is_integer(dtype) -> bool:
    return np.issubdtype(dtype, np.integer)


def is_bool(dtype) -> bool:
    return np.dtype(dtype) == bool_


def result_type(*args) -> np.dtype:
    """NEP 50 promotion of dtypes, arrays and (weak) Python scalars, as NumPy 2 does it."""
    converted = []
    for a in args:
        if isinstance(a, (bool, int, float, complex)):
            converted.append(a)
        elif hasattr(a, "aval"):
            converted.append(a.aval.dtype)
        elif hasattr(a, "dtype"):
            converted.append(a.dtype)
        else:
            converted.append(np.dtype(a))
    return np.result_type(*converted)


@functools.cache
def to_inexact(dtype) -> np.dtype:
    """The floating dtype NumPy gives ``sin`` or ``mean`` of ``dtype`` (int64 -> float64)."""
    return np.sin(np.zeros((), dtype)).dtype


def real_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype == complex64:
        return float32
    if dtype == complex128:
        return float64
    return dtype
