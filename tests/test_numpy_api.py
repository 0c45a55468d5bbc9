"""functrace.numpy against NumPy itself, one table row per function.

For every row, on random shapes and dtypes: the eager call equals NumPy (values, shape, dtype,
scalar-vs-array), the function traces to a jaxpr that ``check_jaxpr`` accepts, and interpreting
that jaxpr gives NumPy's result again. Array arguments are traced; ``S(value)`` marks an argument
that stays a static Python value (so Python scalars keep their weak NEP 50 typing).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.tree_util import tree_flatten

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
FLOATS = st.sampled_from([F32, F64])
INTS = st.sampled_from([np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int8)])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SHAPES_1 = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
SHAPES_2 = hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4)


@dataclasses.dataclass(frozen=True)
class S:
    """A static (untraced) argument."""
    value: object


def _elements(dtype: np.dtype, lo: float, hi: float):
    if dtype == np.bool_:
        return st.booleans()
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return st.integers(max(int(lo), int(info.min)), min(int(hi), int(info.max)))
    lo_, hi_ = dtype.type(lo), dtype.type(hi)  # representable bounds inside [lo, hi]
    lo_ = lo_ if lo_ >= lo else np.nextafter(lo_, dtype.type(np.inf))
    hi_ = hi_ if hi_ <= hi else np.nextafter(hi_, dtype.type(-np.inf))
    return st.floats(float(lo_), float(hi_), width=dtype.itemsize * 8, allow_nan=False,
                     allow_infinity=False)


@st.composite
def arrays(draw, dtype=FLOATS, shape=SHAPES, lo=-3.0, hi=3.0):
    dt = np.dtype(draw(dtype) if isinstance(dtype, st.SearchStrategy) else dtype)
    shp = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    return draw(hnp.arrays(dt, shp, elements=_elements(dt, lo, hi)))


def axis_for(ndim: int, allow_tuple: bool = True):
    """None, an int (maybe negative) or a tuple of distinct axes of an ndim-array."""
    options = [st.none()]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)
                           .map(tuple))
    return st.one_of(*options)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    name: str
    fnp_fn: Callable
    np_fn: Callable
    args: st.SearchStrategy  # draws a list of arguments (arrays are traced, S(...) static)
    kwargs: Callable | None = None  # args -> strategy of static keyword arguments
    rtol: float | None = None


CASES: list[Case] = []


def case(name, args, np_fn=None, fnp_fn=None, kwargs=None, rtol=None):
    base = name.split(":")[0]
    CASES.append(Case(name, fnp_fn or getattr(fnp, base), np_fn or getattr(np, base), args,
                      kwargs, rtol))


def one(lo=-3.0, hi=3.0, dtype=FLOATS, shape=SHAPES):
    return st.tuples(arrays(dtype, shape, lo, hi)).map(list)


@st.composite
def two(draw, lo=-3.0, hi=3.0, lo2=None, hi2=None, dtype=FLOATS, dtype2=None):
    """Two arrays of mutually broadcastable shapes."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    dt = draw(dtype)
    dt2 = dt if dtype2 is None else draw(dtype2)
    return [draw(arrays(dt, shapes.input_shapes[0], lo, hi)),
            draw(arrays(dt2, shapes.input_shapes[1], lo if lo2 is None else lo2,
                        hi if hi2 is None else hi2))]


@st.composite
def with_scalar(draw, lo=-3.0, hi=3.0, scalar=None, dtype=FLOATS, left=False):
    """An array and a static Python scalar (weakly typed)."""
    x = draw(arrays(dtype, SHAPES, lo, hi))
    s = S(draw(st.floats(-2, 2) if scalar is None else scalar))
    return [s, x] if left else [x, s]


# --- elementwise ------------------------------------------------------------------------------

for _name, _lo, _hi in [
        ("negative", -3, 3), ("positive", -3, 3), ("abs", -3, 3), ("absolute", -3, 3),
        ("fabs", -3, 3), ("sign", -3, 3), ("exp", -3, 3), ("exp2", -3, 3), ("expm1", -3, 3),
        ("log", 0.1, 5), ("log2", 0.1, 5), ("log10", 0.1, 5), ("log1p", -0.5, 3),
        ("sqrt", 0, 5), ("cbrt", -3, 3), ("square", -3, 3), ("reciprocal", 0.5, 3),
        ("sin", -3, 3), ("cos", -3, 3), ("tan", -1.2, 1.2), ("arcsin", -0.9, 0.9),
        ("arccos", -0.9, 0.9), ("arctan", -3, 3), ("sinh", -3, 3), ("cosh", -3, 3),
        ("tanh", -3, 3), ("arcsinh", -3, 3), ("arccosh", 1.1, 4), ("arctanh", -0.9, 0.9),
        ("floor", -3, 3), ("ceil", -3, 3), ("rint", -3, 3), ("trunc", -3, 3), ("fix", -3, 3),
        ("round", -3, 3), ("around", -3, 3), ("isfinite", -3, 3), ("isnan", -3, 3),
        ("isinf", -3, 3), ("signbit", -3, 3), ("deg2rad", -3, 3), ("rad2deg", -3, 3),
        ("degrees", -3, 3), ("radians", -3, 3), ("logical_not", -1, 1), ("sinc", -3, 3),
        ("conj", -3, 3), ("conjugate", -3, 3), ("real", -3, 3), ("imag", -3, 3),
        ("angle", -3, 3), ("nan_to_num", -3, 3), ("isposinf", -3, 3), ("isneginf", -3, 3),
        ("isreal", -3, 3), ("iscomplex", -3, 3), ("asin", -0.9, 0.9), ("acos", -0.9, 0.9),
        ("atan", -3, 3), ("asinh", -3, 3), ("acosh", 1.1, 4), ("atanh", -0.9, 0.9)]:
    case(_name, one(_lo, _hi))
# integer and bool inputs: NumPy's dtype rules (sin of int -> float64, floor of int is int...)
for _name in ["sin", "exp", "sqrt", "floor", "ceil", "trunc", "rint", "abs", "negative",
              "square", "sign", "isnan", "isfinite", "signbit", "cbrt", "deg2rad", "log1p",
              "invert", "bitwise_not", "logical_not", "sinc", "round", "angle"]:
    case(f"{_name}:int", one(0, 5, dtype=INTS))
for _name in ["abs", "invert", "logical_not", "isnan", "square", "sin"]:
    case(f"{_name}:bool", one(dtype=st.just(np.dtype(np.bool_))))
case("round:decimals", one(-30, 30), kwargs=lambda a: st.fixed_dictionaries(
    {"decimals": st.integers(-1, 2)}))
case("nan_to_num:inf", st.just([np.array([np.nan, np.inf, -np.inf, 1.5])]),
     kwargs=lambda a: st.fixed_dictionaries({"nan": st.just(-1.0),
                                             "posinf": st.sampled_from([None, 9.0])}))
case("isnan:special", st.just([np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5])]))
case("isinf:special", st.just([np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5])]))
case("signbit:special", st.just([np.array([np.inf, -np.inf, -0.0, 0.0, -1.5])]))

for _name, _lo, _hi, _lo2, _hi2 in [
        ("add", -3, 3, None, None), ("subtract", -3, 3, None, None),
        ("multiply", -3, 3, None, None), ("divide", -3, 3, 0.5, 3),
        ("true_divide", -3, 3, -3, -0.5), ("floor_divide", -5, 5, 0.5, 3),
        ("remainder", -5, 5, 0.5, 3), ("mod", -5, 5, -3, -0.5), ("fmod", -5, 5, 0.5, 3),
        ("power", 0.1, 3, -2, 2), ("float_power", 0.1, 3, -2, 2), ("maximum", -3, 3, None, None),
        ("minimum", -3, 3, None, None), ("fmax", -3, 3, None, None),
        ("fmin", -3, 3, None, None), ("hypot", -3, 3, None, None),
        ("logaddexp", -3, 3, None, None), ("logaddexp2", -3, 3, None, None),
        ("arctan2", -3, 3, None, None), ("atan2", -3, 3, None, None),
        ("copysign", -3, 3, None, None), ("heaviside", -1, 1, None, None),
        ("equal", -1, 1, None, None), ("not_equal", -1, 1, None, None),
        ("less", -1, 1, None, None), ("less_equal", -1, 1, None, None),
        ("greater", -1, 1, None, None), ("greater_equal", -1, 1, None, None),
        ("logical_and", -1, 1, None, None), ("logical_or", -1, 1, None, None),
        ("logical_xor", -1, 1, None, None)]:
    case(_name, two(_lo, _hi, _lo2, _hi2))
    case(f"{_name}:mixed", two(_lo, _hi, _lo2, _hi2, dtype=st.just(F32),
                               dtype2=st.just(F64)))
for _name, _lo, _hi, _lo2, _hi2 in [
        ("add", -50, 50, None, None), ("subtract", -50, 50, None, None),
        ("multiply", -9, 9, None, None), ("true_divide", -9, 9, 1, 9),
        ("floor_divide", -20, 20, -5, 5), ("remainder", -20, 20, -5, 5),
        ("fmod", -20, 20, -5, 5), ("power", -4, 4, 0, 4), ("maximum", -9, 9, None, None),
        ("bitwise_and", -9, 9, None, None), ("bitwise_or", -9, 9, None, None),
        ("bitwise_xor", -9, 9, None, None), ("left_shift", -9, 9, 0, 9),
        ("right_shift", -100, 100, 0, 9), ("less", -9, 9, None, None),
        ("hypot", -9, 9, None, None), ("arctan2", -9, 9, None, None)]:
    case(f"{_name}:int", two(_lo, _hi, _lo2, _hi2, dtype=INTS))
for _name in ["add", "multiply", "maximum", "logical_xor", "floor_divide", "remainder",
              "bitwise_and", "equal", "true_divide"]:
    case(f"{_name}:bool", two(dtype=st.just(np.dtype(np.bool_))))
case("floor_divide:zero", st.just([np.array([1.0, -1.0, 0.0, 7.0, -7.5]),
                                   np.array([0.0, 0.0, 2.0, -2.0, 2.5])]))
case("remainder:zero", st.just([np.array([1.0, -1.0, 0.0, 7.0, -7.5, -0.0]),
                                np.array([0.0, 3.0, -2.0, -2.0, 2.5, 2.0])]))
case("floor_divide:intzero", st.just([np.array([7, -7, 0, 5]), np.array([0, 2, 3, -2])]))
for _name in ["add", "subtract", "multiply", "true_divide", "power", "maximum", "minimum",
              "less", "equal", "arctan2", "floor_divide", "remainder", "logaddexp"]:
    case(f"{_name}:scalar", with_scalar(0.5, 3))
    case(f"{_name}:lscalar", with_scalar(0.5, 3, scalar=st.floats(0.5, 2), left=True))
case("power:intscalar", with_scalar(-3, 3, scalar=st.integers(0, 4)))
case("power:intscalar_int", with_scalar(-3, 3, scalar=st.integers(0, 4), dtype=INTS))
case("power:intscalar_bool", with_scalar(scalar=st.integers(0, 3),
                                         dtype=st.just(np.dtype(np.bool_))))
case("add:int_with_float", with_scalar(-3, 3, scalar=st.floats(-2, 2), dtype=INTS))
case("multiply:int_with_int", with_scalar(-3, 3, scalar=st.integers(-3, 3), dtype=INTS))
case("divmod", two(-5, 5, 0.5, 3))
case("divmod:int", two(-9, 9, 1, 4, dtype=INTS))
case("modf", one(-5, 5))
@st.composite
def three(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4))
    c, x, y = shapes.input_shapes
    return [draw(arrays(np.bool_, c)), draw(arrays(FLOATS, x)), draw(arrays(FLOATS, y))]


case("where", three())
case("where:scalars", st.builds(lambda c: [c, S(1), S(2.5)], arrays(np.bool_, SHAPES)),
     np_fn=np.where, fnp_fn=fnp.where)
case("where:weak", st.builds(lambda c, x: [c, x, S(0.0)], arrays(np.bool_, st.just((4,))),
                             arrays(F32, st.just((3, 4)))))
case("clip", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"a_min": st.sampled_from([None, -1.0, -0.5]), "a_max": st.sampled_from([1.0, 2.0])}))
case("clip:arrays", two(), np_fn=lambda x, y: np.clip(x, y, 2.0),
     fnp_fn=lambda x, y: fnp.clip(x, y, 2.0))
case("clip:int", one(-9, 9, dtype=INTS), np_fn=lambda x: np.clip(x, 0, 1.5),
     fnp_fn=lambda x: fnp.clip(x, 0, 1.5))
case("isclose", two(-1, 1))
case("allclose", two(-1, 1), np_fn=lambda a, b: np.bool_(np.allclose(a, b)),
     fnp_fn=lambda a, b: fnp.all(fnp.isclose(a, b)))

# --- reductions -------------------------------------------------------------------------------


def axis_kwargs(args, keepdims=True, tuple_axes=True):
    ndim = args[0].ndim
    d = {"axis": axis_for(ndim, tuple_axes)}
    if keepdims:
        d["keepdims"] = st.booleans()
    return st.fixed_dictionaries(d)


for _name in ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "all", "any",
              "ptp", "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd",
              "count_nonzero", "median"]:
    case(_name, one(-2, 2), kwargs=axis_kwargs)
for _name in ["sum", "prod", "mean", "var", "max", "all", "any", "cumsum", "median"]:
    case(f"{_name}:int", one(-5, 5, dtype=INTS),
         kwargs=(lambda a: st.fixed_dictionaries({"axis": axis_for(a[0].ndim, False)}))
         if _name == "cumsum" else axis_kwargs)
for _name in ["sum", "mean", "all", "any", "max", "cumsum", "prod"]:
    case(f"{_name}:bool", one(dtype=st.just(np.dtype(np.bool_))),
         kwargs=(lambda a: st.fixed_dictionaries({"axis": axis_for(a[0].ndim, False)}))
         if _name == "cumsum" else axis_kwargs)
case("sum:dtype", one(-5, 5, dtype=INTS), kwargs=lambda a: st.fixed_dictionaries(
    {"dtype": st.sampled_from([np.float32, np.int16, np.int64]), "axis": axis_for(a[0].ndim)}))
case("sum:initial", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"initial": st.floats(-2, 2), "axis": axis_for(a[0].ndim)}))
case("max:initial", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"initial": st.floats(-2, 2), "axis": axis_for(a[0].ndim)}))
case("mean:dtype", one(dtype=st.just(F32)), kwargs=lambda a: st.fixed_dictionaries(
    {"dtype": st.just(np.float64), "axis": axis_for(a[0].ndim)}))
case("sum:where", st.builds(lambda x, m: [x, S(m)], arrays(F64, st.just((3, 4))),
                            arrays(np.bool_, st.just((4,)))),
     np_fn=lambda x, m: np.sum(x, axis=0, where=m), fnp_fn=lambda x, m: fnp.sum(x, 0, where=m))
case("mean:where", st.builds(lambda x, m: [x, S(m)], arrays(F64, st.just((3, 4))),
                             arrays(np.bool_, st.just((3, 1)))),
     np_fn=lambda x, m: np.mean(x, axis=None, where=m),
     fnp_fn=lambda x, m: fnp.mean(x, where=m))
for _name in ["var", "std"]:
    case(f"{_name}:ddof", one(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2,
                                                     max_side=4)),
         kwargs=lambda a: st.fixed_dictionaries({"ddof": st.integers(0, 1),
                                                 "axis": axis_for(a[0].ndim)}))
for _name in ["argmax", "argmin", "nanargmax", "nanargmin"]:
    case(_name, one(), kwargs=lambda a: st.fixed_dictionaries(
        {"axis": axis_for(a[0].ndim, False), "keepdims": st.booleans()}))
    case(f"{_name}:int", one(-3, 3, dtype=INTS), kwargs=lambda a: st.fixed_dictionaries(
        {"axis": axis_for(a[0].ndim, False)}))
for _name in ["cumsum", "cumprod", "nancumsum"]:
    case(_name, one(-2, 2), kwargs=lambda a: st.fixed_dictionaries(
        {"axis": axis_for(a[0].ndim, False)}))
case("cumsum:int32", one(-9, 9, dtype=st.just(np.dtype(np.int32))))
case("cumulative_sum", one(shape=st.just((4,))), kwargs=lambda a: st.fixed_dictionaries(
    {"include_initial": st.booleans()}))
case("cumulative_prod", one(shape=SHAPES_2), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.integers(-a[0].ndim, a[0].ndim - 1)}))
case("diff", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"n": st.integers(0, 2), "axis": st.integers(-a[0].ndim, a[0].ndim - 1)}))
case("diff:bool", one(dtype=st.just(np.dtype(np.bool_)), shape=SHAPES_1))
case("diff:prepend", one(shape=st.just((3, 4))), np_fn=lambda x: np.diff(x, prepend=0.5,
                                                                          append=x[:, :1]),
     fnp_fn=lambda x: fnp.diff(x, prepend=0.5, append=x[:, :1]))
case("quantile", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"q": st.sampled_from([0.0, 0.3, 0.5, 1.0, (0.25, 0.75)]),
     "axis": axis_for(a[0].ndim), "keepdims": st.booleans()}))
case("percentile", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"q": st.sampled_from([10, 50, 99.5]), "axis": axis_for(a[0].ndim, False)}))
case("median:nan", st.just([np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 5.0]])]),
     kwargs=lambda a: st.fixed_dictionaries({"axis": st.sampled_from([None, 0, 1])}))
case("nanmax:allnan", st.just([np.array([[1.0, np.nan], [np.nan, np.nan]])]),
     kwargs=lambda a: st.fixed_dictionaries({"axis": st.sampled_from([0, 1])}))
case("nanmean:nan", st.just([np.array([[1.0, np.nan], [3.0, 4.0]])]),
     kwargs=lambda a: st.fixed_dictionaries({"axis": st.sampled_from([None, 0, 1])}))
case("average", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": axis_for(a[0].ndim)}))
case("average:weights", st.just([np.arange(12.0).reshape(3, 4), np.array([1.0, 2.0, 0.5])]),
     np_fn=lambda a, w: np.average(a, axis=0, weights=w),
     fnp_fn=lambda a, w: fnp.average(a, axis=0, weights=w))

# --- products ---------------------------------------------------------------------------------


@st.composite
def matmul_pair(draw, dtype=FLOATS):
    dt = draw(dtype)
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv", "bmm", "bm", "mb", "bcast"]))
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
    shapes = {"mm": ((n, k), (k, m)), "vm": ((k,), (k, m)), "mv": ((n, k), (k,)),
              "vv": ((k,), (k,)), "bmm": (batch + (n, k), batch + (k, m)),
              "bm": (batch + (n, k), (k, m)), "mb": ((n, k), batch + (k, m)),
              "bcast": ((batch[0], 1, n, k), (1,) + batch[-1:] + (k, m))}[kind]
    return [draw(arrays(dt, shapes[0])), draw(arrays(dt, shapes[1]))]


case("matmul", matmul_pair())
case("matmul:mixed", matmul_pair(dtype=st.just(F32)).map(lambda a: [a[0], a[1].astype(F64)]))
case("matmul:int", matmul_pair(dtype=INTS.filter(lambda d: d != np.int8)))
case("dot", matmul_pair().filter(lambda a: a[0].ndim <= 2 or a[1].ndim <= 2))
case("dot:nd", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3, 4))),
                         arrays(shape=st.just((5, 4, 2)))))
case("dot:scalar", st.builds(lambda a, b: [a, b], arrays(shape=st.just(())),
                             arrays(shape=SHAPES)))
case("vdot", st.builds(lambda a, b: [a, b.reshape(a.shape)], arrays(shape=st.just((2, 3))),
                       arrays(shape=st.just((6,)))))
case("inner", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3))),
                        arrays(shape=st.just((4, 3)))))
case("outer", two())
case("kron", st.builds(lambda a, b: [a, b], arrays(shape=hnp.array_shapes(max_dims=2,
                                                                          max_side=3)),
                       arrays(shape=hnp.array_shapes(max_dims=3, max_side=3))))
case("tensordot", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3, 4))),
                            arrays(shape=st.just((3, 4, 5)))))
case("tensordot:pairs", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3, 4))),
                                  arrays(shape=st.just((4, 5, 2)))),
     np_fn=lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])),
     fnp_fn=lambda a, b: fnp.tensordot(a, b, axes=([0, 2], [2, 0])))
case("tensordot:1", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3))),
                              arrays(shape=st.just((3, 2)))),
     np_fn=lambda a, b: np.tensordot(a, b, 1), fnp_fn=lambda a, b: fnp.tensordot(a, b, 1))
case("vecdot", two(-1, 1).filter(lambda a: a[0].ndim and a[1].ndim and
                                 a[0].shape[-1] == a[1].shape[-1]))
case("matvec", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3, 4))),
                         arrays(shape=st.just((4,)))))
case("vecmat", st.builds(lambda a, b: [a, b], arrays(shape=st.just((3,))),
                         arrays(shape=st.just((2, 3, 4)))))
case("cross", st.builds(lambda a, b: [a, b], arrays(shape=st.sampled_from([(3,), (2, 3)])),
                        arrays(shape=st.sampled_from([(3,), (2, 3), (4, 1, 3)]))))

EINSUM_SPECS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("...i,...i->...", [(2, 3), (3,)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]), ("i,i,i->", [(3,), (3,), (3,)]),
    ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]), ("iij->j", [(3, 3, 2)]),
    ("ij,ij->i", [(2, 3), (2, 3)]), ("bi,bj->bij", [(2, 3), (2, 4)]),
    ("...,...", [(2, 3), (3,)]), ("i...->...", [(2, 3, 4)]), ("ij,kj", [(2, 3), (4, 3)]),
    ("ij,j->i", [(2, 3), (3,)])]


@st.composite
def einsum_args(draw):
    spec, shapes = draw(st.sampled_from(EINSUM_SPECS))
    dt = draw(FLOATS)
    return [S(spec)] + [draw(arrays(dt, s)) for s in shapes]


case("einsum", einsum_args())
case("einsum:interleaved", st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3))),
                                     arrays(shape=st.just((3, 4)))),
     np_fn=lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     fnp_fn=lambda a, b: fnp.einsum(a, [0, 1], b, [1, 2], [0, 2]))

# --- shapes -----------------------------------------------------------------------------------


@st.composite
def reshape_args(draw):
    x = draw(arrays(shape=SHAPES))
    shape = list(draw(st.permutations(list(x.shape) + [1])))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return [x, S(tuple(shape))]


case("reshape", reshape_args())
case("reshape:F", reshape_args(), np_fn=lambda x, s: np.reshape(x, s, order="F"),
     fnp_fn=lambda x, s: fnp.reshape(x, s, order="F"))
case("ravel", one())
case("transpose", one())
case("transpose:axes", st.builds(lambda x, p: [x, S(tuple(p))], arrays(shape=st.just((2, 3, 4))),
                                 st.permutations([0, -2, 2])))
case("permute_dims", st.just([np.ones((2, 3))]), np_fn=lambda x: np.permute_dims(x, (1, 0)),
     fnp_fn=lambda x: fnp.permute_dims(x, (1, 0)))
case("matrix_transpose", one(shape=SHAPES_2))
case("swapaxes", one(shape=SHAPES_2), kwargs=lambda a: st.fixed_dictionaries(
    {"axis1": st.integers(-a[0].ndim, a[0].ndim - 1),
     "axis2": st.integers(-a[0].ndim, a[0].ndim - 1)}))
case("moveaxis", one(shape=st.just((2, 3, 4))), kwargs=lambda a: st.fixed_dictionaries(
    {"source": st.sampled_from([0, -1, (0, 1), (2, 0)]),
     "destination": st.sampled_from([1, -1, (1, 2), (0, 1)])}).filter(
         lambda d: np.ndim(d["source"]) == np.ndim(d["destination"])))
case("rollaxis", one(shape=st.just((2, 3, 4))), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.integers(-3, 2), "start": st.integers(0, 3)}))
case("squeeze", one(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2)))
case("squeeze:axis", st.just([np.ones((1, 3, 1))]), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.sampled_from([0, -1, (0, 2)])}))
case("expand_dims", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.sampled_from([0, -1, (0, 1)])}))
case("broadcast_to", one(shape=st.just((3, 1))), kwargs=lambda a: st.fixed_dictionaries(
    {"shape": st.sampled_from([(3, 1), (3, 4), (2, 3, 5)])}))
case("broadcast_arrays", two())
for _name in ["atleast_1d", "atleast_2d", "atleast_3d"]:
    case(_name, one())
    case(f"{_name}:many", two())


@st.composite
def joinable(draw, same_shape=False, min_dims=1):
    dt = draw(FLOATS)
    base = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(base), len(base) - 1)) if base else 0
    n = draw(st.integers(1, 3))
    xs = []
    for _ in range(n):
        s = list(base)
        if not same_shape:
            s[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(draw(st.sampled_from([dt, F32])), tuple(s))))
    return [S(axis)] + xs


case("concatenate", joinable(), np_fn=lambda ax, *xs: np.concatenate(xs, axis=ax),
     fnp_fn=lambda ax, *xs: fnp.concatenate(xs, axis=ax))
case("concatenate:none", joinable(), np_fn=lambda ax, *xs: np.concatenate(xs, axis=None),
     fnp_fn=lambda ax, *xs: fnp.concatenate(xs, axis=None))
case("stack", joinable(True, 0), np_fn=lambda ax, *xs: np.stack(xs, axis=ax % (xs[0].ndim + 1)),
     fnp_fn=lambda ax, *xs: fnp.stack(xs, axis=ax % (xs[0].ndim + 1)))
case("stack:neg", joinable(True, 0), np_fn=lambda ax, *xs: np.stack(xs, axis=-1),
     fnp_fn=lambda ax, *xs: fnp.stack(xs, axis=-1))
for _name in ["hstack", "vstack", "dstack", "column_stack"]:
    case(_name, st.one_of(st.just([np.ones(3), np.zeros(3)]),
                          st.builds(lambda a, b: [a, b], arrays(shape=st.just((2, 3))),
                                    arrays(shape=st.just((2, 3))))),
         np_fn=getattr(np, _name) if False else (lambda *xs, _n=_name: getattr(np, _n)(xs)),
         fnp_fn=lambda *xs, _n=_name: getattr(fnp, _n)(xs))
case("append", two(), np_fn=np.append, fnp_fn=fnp.append)
case("append:axis", st.just([np.ones((2, 3)), np.zeros((1, 3))]),
     np_fn=lambda a, b: np.append(a, b, axis=0), fnp_fn=lambda a, b: fnp.append(a, b, axis=0))
case("block", st.just([np.ones((2, 2)), np.zeros((2, 3)), np.ones((1, 5))]),
     np_fn=lambda a, b, c: np.block([[a, b], [c]]),
     fnp_fn=lambda a, b, c: fnp.block([[a, b], [c]]))
case("split", one(shape=st.just((6, 4))), kwargs=lambda a: st.fixed_dictionaries(
    {"indices_or_sections": st.sampled_from([1, 2, 3, [1, 4], [2, -1]]),
     "axis": st.just(0)}))
case("array_split", one(shape=st.just((5, 3))), kwargs=lambda a: st.fixed_dictionaries(
    {"indices_or_sections": st.sampled_from([2, 3, [1, 3], [4, 9]]),
     "axis": st.sampled_from([0, -2])}))
for _name in ["hsplit", "vsplit", "dsplit"]:
    case(_name, st.just([np.arange(24.0).reshape(2, 2, 6)]),
         np_fn=lambda x, _n=_name: getattr(np, _n)(x, 2),
         fnp_fn=lambda x, _n=_name: getattr(fnp, _n)(x, 2))
case("unstack", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.integers(-a[0].ndim, a[0].ndim - 1)}))
case("tile", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"reps": st.sampled_from([2, (1, 2), (2, 1, 3), (0, 2)])}))
case("repeat", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"repeats": st.integers(0, 3), "axis": axis_for(a[0].ndim, False)}))
case("repeat:array", st.just([np.arange(6.0).reshape(2, 3)]),
     np_fn=lambda x: np.repeat(x, [1, 0, 2], axis=1),
     fnp_fn=lambda x: fnp.repeat(x, [1, 0, 2], axis=1))
case("flip", one(), kwargs=lambda a: st.fixed_dictionaries({"axis": axis_for(a[0].ndim)}))
case("fliplr", one(shape=SHAPES_2))
case("flipud", one(shape=SHAPES_1))
case("roll", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"shift": st.integers(-5, 5), "axis": axis_for(a[0].ndim, False)}))
case("roll:multi", st.just([np.arange(12.0).reshape(3, 4)]),
     np_fn=lambda x: np.roll(x, (1, -2), axis=(0, 1)),
     fnp_fn=lambda x: fnp.roll(x, (1, -2), axis=(0, 1)))
case("rot90", one(shape=SHAPES_2), kwargs=lambda a: st.fixed_dictionaries(
    {"k": st.integers(-1, 4), "axes": st.sampled_from([(0, 1), (1, 0), (-1, 0)])}))
for _name in ["triu", "tril"]:
    case(_name, one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
        {"k": st.integers(-2, 2)}))
case("diag", one(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
     kwargs=lambda a: st.fixed_dictionaries({"k": st.integers(-2, 2)}))
case("diagflat", one(shape=st.just((2, 2))), kwargs=lambda a: st.fixed_dictionaries(
    {"k": st.integers(-1, 1)}))
case("diagonal", one(shape=SHAPES_2), kwargs=lambda a: st.fixed_dictionaries(
    {"offset": st.integers(-3, 3), "axis1": st.sampled_from([0, -1]),
     "axis2": st.just(1)}).filter(lambda d: d["axis1"] % a[0].ndim != 1))
case("trace", one(shape=SHAPES_2), kwargs=lambda a: st.fixed_dictionaries(
    {"offset": st.integers(-2, 2)}))
case("trace:int", one(-3, 3, dtype=st.just(np.dtype(np.int32)), shape=SHAPES_2))
case("pad", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"pad_width": st.sampled_from([1, (1, 2), ((0, 1),) * a[0].ndim]),
     "mode": st.sampled_from(["constant", "edge", "wrap", "reflect", "symmetric"])}))
case("pad:values", one(shape=st.just((2, 3))), kwargs=lambda a: st.fixed_dictionaries(
    {"pad_width": st.just(1), "constant_values": st.sampled_from([1.5, ((1, 2), (3, 4))])}))
case("copy", one())
case("astype", st.builds(lambda x, d: [x, S(d)], arrays(), st.sampled_from(
    [np.float32, np.int32, np.bool_, np.float64])))

# --- creation (static arguments; traced programs build them with iota/broadcast) ---------------


def creation(name, np_call, fnp_call, draws):
    case(name, draws, np_fn=np_call, fnp_fn=fnp_call)


creation("zeros", lambda s: np.zeros(s), lambda s: fnp.zeros(s), st.just([S((2, 3))]))
creation("ones", lambda s: np.ones(s, np.int32), lambda s: fnp.ones(s, np.int32),
         st.just([S(4)]))
creation("full", lambda v: np.full((2, 2), v), lambda v: fnp.full((2, 2), v),
         st.sampled_from([[S(1)], [S(2.5)], [S(True)]]))
creation("full:array", lambda v: np.full((2, 3), v), lambda v: fnp.full((2, 3), v),
         one(shape=st.just((3,))))
creation("empty", lambda: np.zeros((3,)), lambda: fnp.empty(3), st.just([]))
for _name in ["zeros_like", "ones_like", "empty_like"]:
    case(_name, one(), np_fn=(lambda x: np.zeros_like(x)) if _name == "empty_like" else None)
case("full_like", one(), np_fn=lambda x: np.full_like(x, 7), fnp_fn=lambda x: fnp.full_like(x, 7))
case("full_like:dtype", one(), np_fn=lambda x: np.full_like(x, 7, np.int32, shape=(2,)),
     fnp_fn=lambda x: fnp.full_like(x, 7, np.int32, shape=(2,)))
creation("eye", lambda n, m, k: np.eye(n, m, k), lambda n, m, k: fnp.eye(n, m, k),
         st.tuples(st.integers(0, 4), st.sampled_from([None, 2, 5]), st.integers(-2, 2))
         .map(lambda t: [S(v) for v in t]))
creation("identity", lambda n: np.identity(n, np.int32), lambda n: fnp.identity(n, np.int32),
         st.integers(1, 4).map(lambda n: [S(n)]))
creation("tri", lambda n, k: np.tri(n, 4, k), lambda n, k: fnp.tri(n, 4, k),
         st.tuples(st.integers(1, 4), st.integers(-1, 1)).map(lambda t: [S(v) for v in t]))
creation("arange", lambda *a: np.arange(*a), lambda *a: fnp.arange(*a),
         st.sampled_from([[S(5)], [S(2), S(7)], [S(1), S(8), S(3)], [S(0.5), S(3.0), S(0.5)],
                          [S(5), S(1), S(-2)], [S(3), S(1)], [S(0.0), S(1.0), S(0.1)]]))
creation("arange:dtype", lambda: np.arange(4, dtype=np.float32),
         lambda: fnp.arange(4, dtype=np.float32), st.just([]))
creation("linspace", lambda a, b, n, e: np.linspace(a, b, n, e),
         lambda a, b, n, e: fnp.linspace(a, b, n, e),
         st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.integers(0, 6), st.booleans())
         .map(lambda t: [S(v) for v in t]))
case("linspace:arrays", two(), np_fn=lambda a, b: np.linspace(a, b, 4, axis=-1),
     fnp_fn=lambda a, b: fnp.linspace(a, b, 4, axis=-1))
case("linspace:int", st.just([S(0), S(10)]), np_fn=lambda a, b: np.linspace(a, b, 4, dtype=int),
     fnp_fn=lambda a, b: fnp.linspace(a, b, 4, dtype=int))
creation("logspace", lambda a, b: np.logspace(a, b, 5), lambda a, b: fnp.logspace(a, b, 5),
         st.just([S(0.0), S(2.0)]))
creation("geomspace", lambda a, b: np.geomspace(a, b, 5), lambda a, b: fnp.geomspace(a, b, 5),
         st.just([S(1.0), S(100.0)]))
case("meshgrid", st.builds(lambda a, b: [a, b], arrays(shape=st.just((3,))),
                           arrays(shape=st.just((2,)))),
     kwargs=lambda a: st.fixed_dictionaries({"indexing": st.sampled_from(["xy", "ij"]),
                                             "sparse": st.booleans()}))
creation("indices", lambda: np.indices((2, 3)), lambda: fnp.indices((2, 3)), st.just([]))
case("asarray", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"dtype": st.sampled_from([None, np.float32])}))
case("array", one(), np_fn=lambda x: np.array(x, ndmin=3), fnp_fn=lambda x: fnp.array(x, ndmin=3))
case("asarray:list", two(shape=st.just((3,))) if False else st.builds(
    lambda a, b: [a, b], arrays(shape=st.just((3,))), arrays(shape=st.just((3,)))),
     np_fn=lambda a, b: np.asarray([a, b]), fnp_fn=lambda a, b: fnp.asarray([a, b]))

# --- indexing-like and sorting ----------------------------------------------------------------

case("take", st.builds(lambda x: [x, np.array([0, -1, 1])], arrays(shape=SHAPES_1)),
     kwargs=lambda a: st.fixed_dictionaries({"axis": axis_for(a[0].ndim, False)}).filter(
         lambda d: (a[0].size if d["axis"] is None else a[0].shape[d["axis"]]) >= 2))
case("take:mode", st.just([np.arange(5.0), np.array([[0, 7], [-9, 2]])]),
     kwargs=lambda a: st.fixed_dictionaries({"mode": st.sampled_from(["clip", "wrap"])}))
case("take_along_axis", st.builds(
    lambda x, ax: [x, np.argsort(x, axis=ax), S(ax)], arrays(shape=SHAPES_1),
    st.integers(-1, 0)))
case("take_along_axis:none", one(shape=st.just((2, 3))),
     np_fn=lambda x: np.take_along_axis(x, np.array([5, 0, -1]), None),
     fnp_fn=lambda x: fnp.take_along_axis(x, np.array([5, 0, -1]), None))
case("compress", st.just([np.arange(6.0).reshape(2, 3)]),
     np_fn=lambda x: np.compress([True, False, True], x, axis=1),
     fnp_fn=lambda x: fnp.compress([True, False, True], x, axis=1))
case("sort", one(), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": axis_for(a[0].ndim, False)}))
case("argsort", one(-2, 2), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": axis_for(a[0].ndim, False), "stable": st.just(True)}))
case("lexsort", st.builds(lambda a, b: [a, b], arrays(INTS, st.just((6,)), 0, 2),
                          arrays(INTS, st.just((6,)), 0, 2)),
     np_fn=lambda a, b: np.lexsort((a, b)), fnp_fn=lambda a, b: fnp.lexsort((a, b)))
case("searchsorted", st.builds(lambda a, v: [np.sort(a), v], arrays(shape=st.just((7,))),
                               arrays(shape=SHAPES)),
     kwargs=lambda a: st.fixed_dictionaries({"side": st.sampled_from(["left", "right"])}))
case("searchsorted:ties", st.just([np.array([1.0, 2.0, 2.0, 2.0, 5.0]),
                                   np.array([0.0, 2.0, 2.5, 5.0, 6.0])]),
     kwargs=lambda a: st.fixed_dictionaries({"side": st.sampled_from(["left", "right"])}))
case("linalg.norm", one(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
     np_fn=np.linalg.norm, fnp_fn=fnp.linalg.norm, kwargs=lambda a: st.fixed_dictionaries(
         {"ord": st.sampled_from([None, 1, np.inf, -np.inf] + (
             [2, 0, 3, 0.5] if a[0].ndim == 1 else ["fro", -1])),
          "keepdims": st.booleans()}))
case("linalg.norm:axis", one(shape=st.just((2, 3, 4))), np_fn=np.linalg.norm,
     fnp_fn=fnp.linalg.norm, kwargs=lambda a: st.fixed_dictionaries(
         {"axis": st.sampled_from([None, 0, -1, (0, 2), (2, 1)]),
          "keepdims": st.booleans()}).flatmap(lambda d: st.fixed_dictionaries(
              {**{k: st.just(v) for k, v in d.items()},
               "ord": st.sampled_from([None] if d["axis"] is None else [None, 1, -np.inf]
                                      if isinstance(d["axis"], tuple)
                                      else [None, 1, 2, np.inf])})))
case("linalg.norm:int", one(-3, 3, dtype=INTS), np_fn=np.linalg.norm, fnp_fn=fnp.linalg.norm)
case("linalg.vector_norm", one(), np_fn=np.linalg.vector_norm, fnp_fn=fnp.linalg.vector_norm,
     kwargs=lambda a: st.fixed_dictionaries({"ord": st.sampled_from([2, 1, np.inf]),
                                             "axis": axis_for(a[0].ndim)}))
case("linalg.matrix_norm", one(shape=SHAPES_2), np_fn=np.linalg.matrix_norm,
     fnp_fn=fnp.linalg.matrix_norm,
     kwargs=lambda a: st.fixed_dictionaries({"ord": st.sampled_from(["fro", 1, -np.inf])}))
case("linalg.matrix_power", one(shape=st.just((2, 3, 3)), lo=-1, hi=1),
     np_fn=np.linalg.matrix_power, fnp_fn=fnp.linalg.matrix_power,
     kwargs=lambda a: st.fixed_dictionaries({"n": st.integers(0, 5)}))
case("linalg.multi_dot", st.builds(lambda a, b, c, d: [a, b, c, d], arrays(shape=st.just((3,))),
                                   arrays(shape=st.just((3, 4))), arrays(shape=st.just((4, 2))),
                                   arrays(shape=st.sampled_from([(2,), (2, 5)]))),
     np_fn=lambda *xs: np.linalg.multi_dot(xs), fnp_fn=lambda *xs: fnp.linalg.multi_dot(xs))
case("linalg.trace", one(shape=SHAPES_2), np_fn=np.linalg.trace, fnp_fn=fnp.linalg.trace)
case("linalg.diagonal", one(shape=SHAPES_2), np_fn=np.linalg.diagonal,
     fnp_fn=fnp.linalg.diagonal)

# --- assorted ---------------------------------------------------------------------------------

case("select", st.builds(lambda x: [x], arrays(shape=SHAPES)),
     np_fn=lambda x: np.select([x < -1, x > 1], [x * 2, 7], default=0.5),
     fnp_fn=lambda x: fnp.select([x < -1, x > 1], [x * 2, 7], default=0.5))
case("interp", st.builds(lambda x, xp, fp: [x, np.sort(xp), fp], arrays(shape=SHAPES, lo=-4, hi=4),
                         arrays(shape=st.just((5,))), arrays(shape=st.just((5,)))))
case("interp:edges", st.just([np.array([-5.0, 0.0, 1.0, 2.0, 9.0])]),
     np_fn=lambda x: np.interp(x, [0.0, 1.0, 2.0], [3.0, -1.0, 4.0], left=-9.0),
     fnp_fn=lambda x: fnp.interp(x, [0.0, 1.0, 2.0], [3.0, -1.0, 4.0], left=-9.0))
for _name in ["convolve", "correlate"]:
    case(_name, st.builds(lambda a, v: [a, v], arrays(shape=hnp.array_shapes(max_dims=1,
                                                                             min_dims=1)),
                          arrays(shape=hnp.array_shapes(max_dims=1, min_dims=1))),
         kwargs=lambda a: st.fixed_dictionaries(
             {"mode": st.sampled_from(["full", "same", "valid"])}))
case("polyval", st.builds(lambda p, x: [p, x], arrays(shape=st.just((4,))), arrays()))
case("polyval:list", one(), np_fn=lambda x: np.polyval([1, -2, 3], x),
     fnp_fn=lambda x: fnp.polyval([1, -2, 3], x))
case("trapezoid", one(shape=SHAPES_1), kwargs=lambda a: st.fixed_dictionaries(
    {"axis": st.integers(-a[0].ndim, a[0].ndim - 1), "dx": st.sampled_from([1.0, 0.5])}))
case("trapezoid:x", st.just([np.arange(12.0).reshape(3, 4) ** 2, np.array([0.0, 1.0, 3.0, 4.5])]),
     np_fn=lambda y, x: np.trapezoid(y, x), fnp_fn=lambda y, x: fnp.trapezoid(y, x))
case("cov", one(shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4)),
     kwargs=lambda a: st.fixed_dictionaries({"rowvar": st.booleans(), "bias": st.booleans()}))
case("cov:y", st.builds(
    lambda a, b: [a, b], arrays(shape=st.just((2, 4))), arrays(shape=st.just((4,)))),
     np_fn=lambda a, b: np.cov(a, b, ddof=0), fnp_fn=lambda a, b: fnp.cov(a, b, ddof=0))
case("corrcoef", one(shape=st.just((3, 5))))
case("isin", st.builds(lambda a, b: [a, b], arrays(INTS, SHAPES, 0, 5),
                       arrays(INTS, st.just((3,)), 0, 5)),
     kwargs=lambda a: st.fixed_dictionaries({"invert": st.booleans()}))
case("digitize", st.builds(lambda x, b: [x, np.unique(b)], arrays(shape=SHAPES),
                           arrays(shape=st.just((4,)))),
     kwargs=lambda a: st.fixed_dictionaries({"right": st.booleans()}))
case("digitize:decreasing", st.just([np.array([0.5, 1.0, 3.0, -2.0])]),
     np_fn=lambda x: np.digitize(x, [2.0, 1.0, 0.0]),
     fnp_fn=lambda x: fnp.digitize(x, [2.0, 1.0, 0.0]))
case("ldexp", st.builds(lambda x, i: [x, i], arrays(shape=st.just((3,))),
                        arrays(INTS, st.just((3,)), -3, 3)))
case("delete", one(shape=st.just((3, 4))), kwargs=lambda a: st.fixed_dictionaries(
    {"obj": st.sampled_from([1, [0, 2], slice(None, None, 2)]),
     "axis": st.sampled_from([None, 1, -2])}))
case("unravel_index", st.just([np.array([0, 5, 11, 7])]),
     np_fn=lambda i: np.unravel_index(i, (3, 4)), fnp_fn=lambda i: fnp.unravel_index(i, (3, 4)))
case("unravel_index:F", st.just([np.array([0, 5, 11, 7])]),
     np_fn=lambda i: np.unravel_index(i, (3, 4), order="F"),
     fnp_fn=lambda i: fnp.unravel_index(i, (3, 4), order="F"))
case("ravel_multi_index", st.just([np.array([0, 2, 1]), np.array([3, 0, -1])]),
     np_fn=lambda i, j: np.ravel_multi_index((i, j), (3, 4), mode="wrap"),
     fnp_fn=lambda i, j: fnp.ravel_multi_index((i, j), (3, 4), mode="wrap"))

# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def _tol(dtype: np.dtype, rtol: float | None) -> dict:
    if rtol is not None:
        return {"rtol": rtol, "atol": rtol}
    if dtype in (np.float16,):
        return {"rtol": 2e-3, "atol": 2e-3}
    if dtype in (np.float32, np.complex64):
        return {"rtol": 3e-5, "atol": 3e-6}
    return {"rtol": 1e-11, "atol": 1e-12}


def assert_same(got, expected, rtol=None, where=""):
    got_leaves, _ = tree_flatten(got)
    exp_leaves, _ = tree_flatten(expected)
    assert len(got_leaves) == len(exp_leaves), f"{where}: {len(got_leaves)} outputs, " \
                                               f"NumPy gives {len(exp_leaves)}"
    for g, e in zip(got_leaves, exp_leaves):
        g_arr, e_arr = np.asarray(g), np.asarray(e)
        assert g_arr.dtype == e_arr.dtype, f"{where}: dtype {g_arr.dtype}, NumPy {e_arr.dtype}"
        assert g_arr.shape == e_arr.shape, f"{where}: shape {g_arr.shape}, NumPy {e_arr.shape}"
        if np.issubdtype(e_arr.dtype, np.inexact):
            np.testing.assert_allclose(g_arr, e_arr, err_msg=where, equal_nan=True,
                                       **_tol(e_arr.dtype, rtol))
        else:
            np.testing.assert_array_equal(g_arr, e_arr, err_msg=where)


def _split(args):
    traced = [a for a in args if not isinstance(a, S)]

    def bind(call):
        def f(*xs):
            it = iter(xs)
            return call(*[a.value if isinstance(a, S) else next(it) for a in args])
        return f

    return traced, bind


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
@settings(max_examples=10)
@given(data=st.data())
def test_matches_numpy_eager_and_traced(c: Case, data):
    args = data.draw(c.args, label="args")
    kwargs = data.draw(c.kwargs(args), label="kwargs") if c.kwargs else {}
    traced, bind = _split(args)
    with np.errstate(all="ignore"):
        expected = bind(lambda *a: c.np_fn(*a, **kwargs))(*traced)
        eager = bind(lambda *a: c.fnp_fn(*a, **kwargs))(*traced)
    assert_same(eager, expected, c.rtol, f"{c.name} eager")
    for g, e in zip(tree_flatten(eager)[0], tree_flatten(expected)[0]):
        if isinstance(e, np.generic):  # (where NumPy gives a 0-d array, either is accepted)
            assert isinstance(g, np.generic), \
                f"{c.name}: eager result is {type(g).__name__}, NumPy gives {type(e).__name__}"
        else:
            assert isinstance(g, (np.ndarray, np.generic)), f"{c.name}: got {type(g).__name__}"
    fn = bind(lambda *a: c.fnp_fn(*a, **kwargs))
    closed = ft.make_jaxpr(fn)(*traced)
    ft.check_jaxpr(closed)
    with np.errstate(all="ignore"):
        outs = ft.eval_jaxpr(closed.jaxpr, closed.consts, *traced)
    assert_same(outs, tree_flatten(expected)[0], c.rtol, f"{c.name} traced")


def test_every_public_function_has_a_row():
    """Adding a function to functrace.numpy without a table row fails here."""
    covered = {c.name.split(":")[0] for c in CASES}
    exempt = {"result_type", "iscomplexobj", "isrealobj", "isscalar", "allclose",
              "array_equal", "nonzero", "argwhere", "flatnonzero", "unique", "shape", "ndim",
              "size", "concat", "pow", "bitwise_invert", "bitwise_left_shift",
              "bitwise_right_shift", "product", "sort_complex", "asanyarray",
              "ascontiguousarray", "broadcast_shapes", "dtype", "finfo", "iinfo", "issubdtype",
              "promote_types", "can_cast", "ndarray", "ConcretizationTypeError",
              "NonConcreteBooleanIndexError"}
    # the rarer functions are tested one by one in tests/test_numpy_extras.py
    from functrace.numpy import (
        _bit_packing,
        _differences,
        _functional_updates,
        _histograms,
        _index_tricks,
        _int_float_ufuncs,
        _introspection,
        _nan_statistics,
        _partition_and_sets,
        _polynomials,
        _selection,
        _vectorize,
        _window_functions,
    )
    exempt |= {n for m in (_bit_packing, _differences, _introspection, _functional_updates,
                           _histograms, _index_tricks, _int_float_ufuncs, _nan_statistics,
                           _partition_and_sets, _polynomials, _selection, _vectorize,
                           _window_functions)
               for n in m.__all__}
    functions = {n for n in fnp.__all__ if callable(getattr(fnp, n))
                 and not isinstance(getattr(fnp, n), type)}
    missing = sorted(functions - covered - exempt)
    assert not missing, f"functions without a test row: {missing}"


# ---------------------------------------------------------------------------------------------
# Things the table cannot express
# ---------------------------------------------------------------------------------------------


def test_small_helpers_match_numpy():
    x = np.ones((2, 3), np.float32)
    assert fnp.shape(x) == (2, 3) and fnp.ndim(x) == 2 and fnp.size(x) == 6
    assert fnp.size(x, 1) == 3
    assert fnp.result_type(x, 2.0) == np.float32
    assert fnp.result_type(x, np.float64) == np.float64
    assert fnp.promote_types(np.int32, np.float32) == np.float64
    assert not fnp.iscomplexobj(x) and fnp.isrealobj(x)
    assert fnp.isscalar(1.0) and not fnp.isscalar(x)
    assert fnp.allclose(x, x + 1e-9) is True
    assert fnp.array_equal(x, x) and not fnp.array_equal(x, x[:1])
    assert isinstance(x, fnp.ndarray) and not isinstance(1.0, fnp.ndarray)
    assert fnp.broadcast_shapes((2, 1), (3,)) == (2, 3)

    def traced(x):
        assert isinstance(x, fnp.ndarray) and fnp.isscalar(x[0, 0])
        assert fnp.result_type(x, 1) == np.float32 and fnp.shape(x) == (2, 3)
        return fnp.allclose(x, x), fnp.array_equal(x, x)

    closed = ft.make_jaxpr(traced)(x)
    assert [bool(v) for v in closed(x)] == [True, True]


def test_eager_creation_returns_writable_numpy_arrays():
    for arr in (fnp.zeros(3), fnp.ones((2, 2)), fnp.full(3, 2.0), fnp.eye(3), fnp.arange(4),
                fnp.linspace(0, 1, 5), fnp.zeros_like(np.ones(2))):
        assert isinstance(arr, np.ndarray) and arr.flags.writeable
        # an ndarray with JAX's functional updates, so jax.numpy-style code also runs eagerly
        first = (0,) * arr.ndim
        updated = arr.at[first].set(7)
        assert updated[first] == 7 and arr[first] != 7 and isinstance(updated, ft.Array)


def test_creation_is_staged_under_make_jaxpr():
    closed = ft.make_jaxpr(lambda x: x + fnp.arange(4.0) + fnp.eye(4)[0] + fnp.zeros(4))(
        np.ones(4))
    assert not closed.consts  # nothing baked in as a constant array
    names = {e.primitive.name for e in closed.eqns}
    assert "iota" in names


def test_data_dependent_functions_need_concrete_values():
    x = np.array([0.0, 1.0, 2.0])
    np.testing.assert_array_equal(fnp.nonzero(x)[0], [1, 2])
    np.testing.assert_array_equal(fnp.unique(np.array([2, 1, 2])), [1, 2])
    np.testing.assert_array_equal(fnp.argwhere(x), np.argwhere(x))
    np.testing.assert_array_equal(fnp.flatnonzero(x), [1, 2])
    with pytest.raises(fnp.ConcretizationTypeError, match="nonzero"):
        ft.make_jaxpr(fnp.nonzero)(x)
    # under grad on concrete inputs the value is known, so it works
    g = ft.grad(lambda x: fnp.sum(x[fnp.nonzero(x > 0.5)[0]] ** 2))(x)
    np.testing.assert_allclose(g, [0.0, 2.0, 4.0])


def test_functions_reject_bad_input_like_numpy():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="could not be broadcast"):
        fnp.add(x, np.ones(4))
    with pytest.raises(np.exceptions.AxisError):
        fnp.sum(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        fnp.sum(x, axis=(0, 0))
    with pytest.raises(ValueError, match="cannot reshape"):
        fnp.reshape(x, (4, 2))
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(x, 4, axis=1)
    with pytest.raises(ValueError, match="matmul"):
        fnp.matmul(x, np.ones((2, 3)))
    with pytest.raises(ValueError, match="zero-size array"):
        fnp.max(np.ones((0, 2)), axis=0)
    with pytest.raises(TypeError, match="boolean subtract"):
        fnp.subtract(np.ones(2, bool), np.ones(2, bool))
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(np.arange(3), -1)
    with pytest.raises(NotImplementedError, match="out"):
        fnp.sum(x, out=np.zeros(3))
    with pytest.raises(ValueError, match="einsum"):
        fnp.einsum("ij,jk->il", x, x.T)


COMPOSITE_GRADS = [
    ("logaddexp", lambda x, y: fnp.logaddexp(x, y)),
    ("hypot", lambda x, y: fnp.hypot(x, y)),
    ("var", lambda x, y: fnp.var(x * y, axis=0, ddof=1)),
    ("std", lambda x, y: fnp.std(x + y)),
    ("norm", lambda x, y: fnp.linalg.norm(x - y + 5.0)),
    ("norm_fro", lambda x, y: fnp.linalg.norm(fnp.outer(x, y), "fro")),
    ("einsum", lambda x, y: fnp.einsum("i,j,j->i", x, y, y)),
    ("matmul", lambda x, y: fnp.outer(x, y) @ y),
    ("where", lambda x, y: fnp.where(x > 0, x * y, y ** 2)),
    ("clip", lambda x, y: fnp.clip(x * y, -0.3, 0.4)),
    ("diagonal", lambda x, y: fnp.trace(fnp.outer(x, y), offset=1)),
    ("roll", lambda x, y: fnp.roll(x, 2) * y),
    ("tile", lambda x, y: fnp.tile(x, 2) * fnp.repeat(y, 2)),
    ("cumsum", lambda x, y: fnp.cumsum(x * y)),
    ("sort", lambda x, y: fnp.sort(x) * y),
    ("median", lambda x, y: fnp.median(x * y)),
    ("pad", lambda x, y: fnp.pad(x, 1, mode="reflect")[:3] * y),
    ("sinc", lambda x, y: fnp.sinc(x + y)),
    ("power", lambda x, y: fnp.power(fnp.abs(x) + 1.0, y) + x ** 3),
    ("mean", lambda x, y: fnp.mean(fnp.exp2(x) + fnp.log10(y * y + 1))),
    ("linspace", lambda x, y: fnp.linspace(x, y, 4, axis=-1)),
    ("stack", lambda x, y: fnp.stack([x, y, x * y], axis=1)),
    ("triu", lambda x, y: fnp.triu(fnp.outer(x, y), 1)),
    ("kron", lambda x, y: fnp.kron(x, y)),
    ("cross", lambda x, y: fnp.cross(x, y)),
    ("nanmean", lambda x, y: fnp.nanmean(x * y)),
]


@pytest.mark.parametrize("name,f", COMPOSITE_GRADS, ids=[n for n, _ in COMPOSITE_GRADS])
def test_composite_functions_differentiate(name, f):
    rng = np.random.RandomState(0)
    x, y = rng.uniform(-1, 1, 3), rng.uniform(0.5, 1.5, 3)
    ft.check_grads(f, (x, y), order=2, modes=("fwd", "rev"))


def test_roll_with_traced_shift():
    x = np.arange(10.0).reshape(2, 5)
    for shift in (3, -7, 0, 12):
        closed = ft.make_jaxpr(lambda x, s: fnp.roll(x, s, axis=1))(x, np.int64(shift))
        ft.check_jaxpr(closed)
        np.testing.assert_array_equal(closed(x, np.int64(shift))[0], np.roll(x, shift, axis=1))


VMAPPED = [
    ("var", lambda x: fnp.var(x, axis=-1, ddof=1)),
    ("norm", lambda x: fnp.linalg.norm(x, axis=0)),
    ("einsum", lambda x: fnp.einsum("ij,kj->ik", x, x)),
    ("searchsorted", lambda x: fnp.searchsorted(fnp.sort(x[0]), x[1])),
    ("median", lambda x: fnp.median(x, axis=1)),
    ("indexing", lambda x: x[::-1, np.array([0, 2])] + x[1, 1:3]),
    ("roll", lambda x: fnp.roll(x, 1, axis=1)),
    ("triu", lambda x: fnp.triu(x, 1) @ x.T),
    ("floor_divide", lambda x: (x * 3.0) // 1.3 + (x * 3.0) % 1.3),
    ("logaddexp", lambda x: fnp.logaddexp(x, x[::-1])),
]


@pytest.mark.parametrize("in_axes", [0, 1, -1])
@pytest.mark.parametrize("name,f", VMAPPED, ids=[n for n, _ in VMAPPED])
def test_vmap_matches_a_loop(name, f, in_axes):
    x = np.random.RandomState(2).uniform(-2, 2, (2, 3, 4))
    xs = np.moveaxis(x, 0, in_axes)
    out = ft.vmap(f, in_axes=in_axes)(xs)
    expected = np.stack([f(x[i]) for i in range(2)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
