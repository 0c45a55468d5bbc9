"""Python operators, array methods and NumPy's dispatch protocols for ``Tracer``.

Installed on ``core.Tracer`` when ``functrace.numpy`` is imported, so a traced value behaves
like an ndarray: ``x @ W``, ``x.T``, ``x.sum(axis=0)``, ``np.sin(x)`` all record primitives.
"""

from __future__ import annotations

from ..core import Tracer


def _fnp():
    from .. import numpy as fnp
    return fnp


def _binary(name: str, reflected: bool = False):
    if reflected:
        def method(self, other):
            return getattr(_fnp(), name)(other, self)
    else:
        def method(self, other):
            return getattr(_fnp(), name)(self, other)
    return method


def _unary(name: str):
    def method(self):
        return getattr(_fnp(), name)(self)
    return method


_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "divmod": "divmod",
    "lshift": "left_shift", "rshift": "right_shift",
}
_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
            "gt": "greater", "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "abs", "invert": "invert"}


def install() -> None:
    for op, fname in _BINARY.items():
        setattr(Tracer, f"__{op}__", _binary(fname))
        setattr(Tracer, f"__r{op}__", _binary(fname, reflected=True))
    for op, fname in _COMPARE.items():
        setattr(Tracer, f"__{op}__", _binary(fname))
    for op, fname in _UNARY.items():
        setattr(Tracer, f"__{op}__", _unary(fname))
    Tracer.__hash__ = None  # arrays are unhashable, as in NumPy
