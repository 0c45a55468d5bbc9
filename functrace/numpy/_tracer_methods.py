"""Python operators, ndarray methods and NumPy's dispatch protocols for ``Tracer``.

Installed on ``core.Tracer`` when ``functrace.numpy`` is imported, so a traced value behaves like
an ndarray: ``x @ W``, ``x.T``, ``x.sum(axis=0)``, ``x[1:, idx]``, ``x.at[i].add(1)`` and
unmodified NumPy calls (``np.sin(x)``, ``np.dot(x, W)``) all record primitives.

Conversions that need the *value* (``bool(x)``, ``int(x)``, ``np.asarray(x)``...) work when the
value is known (e.g. under ``grad`` evaluated on concrete inputs) and otherwise raise
``ConcretizationTypeError`` explaining why and what to do instead.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..core import Tracer
from ._errors import concretization_error, differentiated_conversion_error

_FNP = None


def _fnp():
    # imported on first use (functrace.numpy imports this module), then kept: a function-level
    # import costs a microsecond on every tracer method call
    global _FNP
    if _FNP is None:
        from .. import numpy as fnp
        _FNP = fnp
    return _FNP


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------

_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "divmod": "divmod",
    "lshift": "left_shift", "rshift": "right_shift",
}
_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
            "gt": "greater", "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}


def _binary(fn, reflected: bool = False):
    if reflected:
        def method(self, other):
            if _defer(other):
                return NotImplemented
            return fn(other, self)
    else:
        def method(self, other):
            if _defer(other):
                return NotImplemented
            return fn(self, other)
    return method


def _defer(other) -> bool:
    """Let types we do not know (other array libraries) handle the operator themselves."""
    return not isinstance(other, (Tracer, np.ndarray, np.generic, int, float, complex, bool,
                                  list, tuple))


def _unary(fn):
    def method(self):
        return fn(self)
    return method


# ---------------------------------------------------------------------------------------------
# Conversions that need a concrete value
# ---------------------------------------------------------------------------------------------


def _concrete(self: Tracer, operation: str) -> np.ndarray:
    value = self.concrete_value()
    if value is None:
        raise concretization_error(self, operation)
    return np.asarray(value)


def _being_differentiated(t) -> bool:
    """Whether ``t`` carries a non-zero tangent at some level: turning it into a plain number
    would silently cut the derivative (JAX raises there too)."""
    from ..ad import JVPTracer, Zero
    from ..batching import BatchTracer
    from ..partial_eval import PartialEvalTracer
    while isinstance(t, Tracer):
        if isinstance(t, JVPTracer):
            if not isinstance(t.tangent, Zero):
                return True
            t = t.primal
        elif isinstance(t, BatchTracer):
            t = t.val
        elif isinstance(t, PartialEvalTracer):
            t = t.const
        else:
            return False
    return False


def _value(self: Tracer, operation: str) -> np.ndarray:
    """The concrete value for a conversion that leaves functrace (float(), np.asarray, ...).
    As in JAX, int(), bool() and .item() stay allowed under grad (the first two have zero
    derivative almost everywhere anyway)."""
    value = _concrete(self, operation)  # an abstract value is the more basic problem
    if _being_differentiated(self):
        raise differentiated_conversion_error(self, operation)
    return value


def _bool(self):
    return bool(_concrete(self, "bool() of a traced value (e.g. `if x > 0:` or `while`)"))


def _int(self):
    return int(_concrete(self, "int() of a traced value"))


def _float(self):
    return float(_value(self, "float() of a traced value"))


def _complex(self):
    return complex(_value(self, "complex() of a traced value"))


def _index(self):
    if not (dtypes.is_integer(self.aval.dtype) or dtypes.is_bool(self.aval.dtype)):
        raise TypeError(f"only integer scalar arrays can be converted to a scalar index, got "
                        f"{self.aval.str_short()}")
    return operator.index(_concrete(self, "using a traced value as a Python index (range(x), "
                                          "a list index, or indexing a NumPy array: use "
                                          "functrace.numpy.take(array, x, axis) for that)")[()])


def _array(self, dtype=None, copy=None):
    value = _value(self, "converting a traced value to a NumPy array (np.asarray/np.array, "
                            "a NumPy function without a functrace equivalent, or indexing a "
                            "NumPy array with a traced index: use "
                            "functrace.numpy.take(array, index, axis) for that)")
    return value if dtype is None else value.astype(dtype)


def _item(self, *args):
    return _concrete(self, "x.item() of a traced value").item(*args)


def _tolist(self):
    return _value(self, "x.tolist() of a traced value").tolist()


def _format(self, spec):
    if spec:
        value = self.concrete_value()
        if value is not None:
            return format(np.asarray(value)[()] if np.ndim(value) == 0 else value, spec)
    return format(repr(self), spec)


def _contains(self, value):
    fnp = _fnp()
    return bool(fnp.any(fnp.equal(self, value)))


def _setitem(self, key, value):
    raise TypeError(
        "functrace arrays (and traced values) are immutable; instead of `x[idx] = y` use "
        "`x = x.at[idx].set(y)` (or `.add(y)`, `.multiply(y)`, `.min(y)`, `.max(y)`).")


def _iter(self):
    if not self.aval.shape:
        raise TypeError("iteration over a 0-d array")
    getitem = _fnp()._indexing.getitem
    return (getitem(self, i) for i in range(self.aval.shape[0]))


def _reversed(self):
    return iter(_fnp().flip(self, 0))


# ---------------------------------------------------------------------------------------------
# ndarray methods
# ---------------------------------------------------------------------------------------------


def _shape_args(args):
    """``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _reshape(self, *shape, order="C"):
    return _fnp().reshape(self, _shape_args(shape), order=order)


def _transpose(self, *axes):
    axes = _shape_args(axes)
    return _fnp().transpose(self, axes if axes else None)


def _astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return _fnp().astype(self, dtype)


def _flatten(self, order="C"):
    return _fnp().ravel(self, order)


def _copy(self, order="C"):
    return self


def _sort(self, axis=-1, kind=None, order=None, *, stable=None):
    return _fnp().sort(self, axis=axis, kind=kind, order=order, stable=stable)


def _at(self):
    return _fnp()._indexing.IndexUpdateHelper(self)


def _getitem(self, idx):
    return _fnp()._indexing.getitem(self, idx)


def _same(name):
    def method(self, *args, **kwargs):
        return getattr(_fnp(), name)(self, *args, **kwargs)
    method.__name__ = name
    return method


_METHODS = ["sum", "mean", "var", "std", "max", "min", "prod", "argmax", "argmin", "any", "all",
            "cumsum", "cumprod", "ptp", "clip", "round", "conj", "conjugate", "swapaxes",
            "take", "repeat", "squeeze", "dot", "diagonal", "trace", "argsort", "nonzero",
            "searchsorted", "compress"]


# ---------------------------------------------------------------------------------------------
# NumPy dispatch (__array_ufunc__, __array_function__)
# ---------------------------------------------------------------------------------------------

_UNSUPPORTED_HINT = ("use functrace.numpy's functions (or lax) inside transformed functions, or "
                     "compute this outside the transformation")

_UFUNC_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
                 "logical_and": "all", "logical_or": "any"}
_UFUNC_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}


def _unsupported(name: str, detail: str = "") -> NotImplementedError:
    return NotImplementedError(f"functrace does not support numpy.{name}{detail} on traced "
                               f"values; {_UNSUPPORTED_HINT}.")


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    fnp = _fnp()
    name = ufunc.__name__
    out = kwargs.pop("out", None)
    if any(o is not None for o in (out if isinstance(out, tuple) else (out,))):
        raise _unsupported(f"{name}(..., out=...)",
                           " (arrays are immutable under tracing; use the return value)")
    where = kwargs.pop("where", True)
    if where is not True:
        raise _unsupported(f"{name}(..., where=...)")
    if method == "__call__":
        fn = fnp._exports.get(name)
        if fn is None:
            raise _unsupported(name)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("casting", None)
        kwargs.pop("order", None)
        if kwargs:
            raise _unsupported(f"{name}(..., {', '.join(kwargs)}=...)")
        result = fn(*inputs)
        return result if dtype is None else fnp.astype(result, dtype)
    if method == "reduce" and name in _UFUNC_REDUCE:
        (x,) = inputs
        axis = kwargs.pop("axis", 0)
        return getattr(fnp, _UFUNC_REDUCE[name])(x, axis=axis, **kwargs)
    if method == "accumulate" and name in _UFUNC_ACCUMULATE:
        (x,) = inputs
        axis = kwargs.pop("axis", 0)
        return getattr(fnp, _UFUNC_ACCUMULATE[name])(x, axis=axis, **kwargs)
    if method == "outer" and ufunc.nin == 2:
        fn = fnp._exports.get(name)
        if fn is None:
            raise _unsupported(f"{name}.outer")
        a, b = (fnp.asarray(v) for v in inputs)
        a = fnp.reshape(a, a.shape + (1,) * fnp.ndim(b))
        return fn(a, b, **kwargs)
    raise _unsupported(f"{name}.{method}")


def _array_function(self, func, types, args, kwargs):
    fnp = _fnp()
    module = getattr(func, "__module__", "") or ""
    name = func.__name__
    if module == "numpy" or module.startswith("numpy._core") or module.startswith(
            "numpy.lib"):
        table, qualified = fnp._exports, name
    elif module == "numpy.linalg":
        table, qualified = fnp.linalg._exports, f"linalg.{name}"
    else:
        table, qualified = {}, f"{module.removeprefix('numpy.')}.{name}"
    fn = table.get(name)
    if fn is None:
        raise _unsupported(qualified)
    return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------------------------


def install() -> None:
    """Install the operators, methods and NumPy protocols on ``core.Tracer``."""
    fnp = _fnp()
    for op, fname in _BINARY.items():
        fn = getattr(fnp, fname)
        setattr(Tracer, f"__{op}__", _binary(fn))
        setattr(Tracer, f"__r{op}__", _binary(fn, reflected=True))
    for op, fname in _COMPARE.items():
        setattr(Tracer, f"__{op}__", _binary(getattr(fnp, fname)))
    for op, fname in _UNARY.items():
        setattr(Tracer, f"__{op}__", _unary(getattr(fnp, fname)))
    Tracer.__hash__ = None  # arrays are unhashable, as in NumPy
    Tracer.__round__ = lambda self, ndigits=None: (
        fnp.round(self, 0 if ndigits is None else ndigits))

    Tracer.__bool__ = _bool
    Tracer.__int__ = _int
    Tracer.__float__ = _float
    Tracer.__complex__ = _complex
    Tracer.__index__ = _index
    Tracer.__array__ = _array
    Tracer.item = _item
    Tracer.tolist = _tolist
    Tracer.__setitem__ = _setitem
    Tracer.__format__ = _format
    Tracer.__contains__ = _contains
    Tracer.__getitem__ = _getitem
    Tracer.__iter__ = _iter
    Tracer.__reversed__ = _reversed
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.__array_function__ = _array_function

    Tracer.T = property(lambda self: fnp.transpose(self))
    Tracer.mT = property(lambda self: fnp.matrix_transpose(self))
    Tracer.real = property(lambda self: fnp.real(self))
    Tracer.imag = property(lambda self: fnp.imag(self))
    Tracer.at = property(_at)
    Tracer.itemsize = property(lambda self: self.aval.dtype.itemsize)
    Tracer.nbytes = property(lambda self: self.aval.dtype.itemsize * self.aval.size)

    Tracer.reshape = _reshape
    Tracer.transpose = _transpose
    Tracer.astype = _astype
    Tracer.flatten = _flatten
    Tracer.ravel = _flatten
    Tracer.copy = _copy
    Tracer.sort = _sort
    Tracer.view = _copy
    for name in _METHODS:
        setattr(Tracer, name, _same(name))

