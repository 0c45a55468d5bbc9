"""Elementwise primitives, each with all its rules in one place.

Operands of an n-ary elementwise primitive have equal shapes (the numpy layer makes NumPy's
broadcasting explicit with ``broadcast_in_dim``) and, for arithmetic, equal dtypes.

Every primitive is declared with ``unop``/``binop``: NumPy reference, dtype rule, derivative,
batching (always the elementwise helpers) and the scalar expression the Numba backend fuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import ad, batching, core, core_prims, dtypes, simplify
from ..ad import Zero, defjvp, defjvp_zero, is_undefined
from ..backend.rules import defscalar
from ..core import Primitive, ShapedArray

_FLOAT = "float"  # inexact dtypes (float, complex)
_NUM = "num"  # any number
_INT_BOOL = "int_bool"  # integers and bool (bitwise ops)
_ANY = "any"
_COMPLEX = "complex"  # complex dtypes only (real, imag, conj)
_REAL_FLOAT = "real_float"  # real floating dtypes only (the parts given to complex)


def _check_kind(prim_name: str, dtype, kind: str) -> None:
    ok = {
        _FLOAT: dtypes.is_inexact(dtype),
        _NUM: not dtypes.is_bool(dtype),
        _INT_BOOL: dtypes.is_integer(dtype) or dtypes.is_bool(dtype),
        _ANY: True,
        _COMPLEX: dtypes.is_complex(dtype),
        _REAL_FLOAT: dtypes.is_float(dtype),
    }[kind]
    if not ok:
        need = {_FLOAT: "a floating-point", _NUM: "a numeric (not bool)",
                _INT_BOOL: "an integer or bool", _COMPLEX: "a complex",
                _REAL_FLOAT: "a real floating-point"}[kind]
        raise TypeError(f"{prim_name} needs {need} operand, got {np.dtype(dtype).name}")


def _elementwise_shape_rule(name: str, kind: str, out_dtype: Callable | None):
    def rule(*avals: ShapedArray, **params) -> ShapedArray:
        shapes = {a.shape for a in avals}
        if len(shapes) != 1:
            raise TypeError(f"{name} needs operands of equal shapes, got "
                            f"{', '.join(str(a.shape) for a in avals)}")
        dts = {a.dtype for a in avals}
        if len(dts) != 1:
            raise TypeError(f"{name} needs operands of equal dtypes, got "
                            f"{', '.join(a.dtype.name for a in avals)}")
        dtype = avals[0].dtype
        _check_kind(name, dtype, kind)
        if out_dtype:
            new = out_dtype(dtype)
            # abs of a weak real stays weak; a dtype change (to bool, real, complex) does not
            weak = new == dtype and all(a.weak_type for a in avals)
            return ShapedArray(avals[0].shape, new, weak)
        # as in JAX: weakly typed iff every operand is (a Python scalar's arithmetic)
        return ShapedArray(avals[0].shape, dtype, all(a.weak_type for a in avals))

    return rule


def _register(name: str, nargs: int, impl: Callable, kind: str, out_dtype, numba,
              prim: Primitive | None = None) -> Primitive:
    prim = Primitive(name) if prim is None else prim
    core.shape_rules[prim] = _elementwise_shape_rule(name, kind, out_dtype)
    core.impl_rules[prim] = impl
    if nargs == 1:
        batching.defvectorized(prim)
    else:
        batching.defbroadcasting(prim)
    if numba is not None:
        defscalar(prim, numba)
    return prim


def unop(name: str, impl: Callable, numba, kind: str = _FLOAT, out_dtype=None) -> Primitive:
    return _register(name, 1, impl, kind, out_dtype, numba)


def binop(name: str, impl: Callable, numba, kind: str = _NUM, out_dtype=None,
          prim: Primitive | None = None) -> Primitive:
    """``prim``: the primitive to give the rules (default: a new one named ``name``)."""
    return _register(name, 2, impl, kind, out_dtype, numba, prim)


def _to_bool(dtype):
    return dtypes.bool_


def _erf_impl(x):
    x = np.asarray(x)
    out = np.vectorize(math.erf, otypes=[np.float64])(x)
    return out.astype(x.dtype)[()] if out.ndim == 0 else out.astype(x.dtype)


def _logistic_impl(x):
    x = np.asarray(x)
    # exp(-log(1 + exp(-x))) neither overflows nor loses relative accuracy in the tails
    return np.exp(-np.logaddexp(np.zeros((), x.dtype), -x))


def _complex_impl(x, y):
    # filled part by part: x + 1j * y would turn an infinite y into a NaN real part
    x, y = np.asarray(x), np.asarray(y)
    out = np.empty(x.shape, dtypes.complex_dtype(x.dtype))
    out.real, out.imag = x, y
    return out[()] if out.ndim == 0 else out


def _int_div(x, y):
    """lax's integer division: rounds toward zero (C semantics), unlike NumPy's ``//``."""
    q = np.floor_divide(x, y)
    fix = (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
    return q + fix.astype(q.dtype)


def _div_impl(x, y):
    if dtypes.is_integer(np.asarray(x).dtype):
        return _int_div(x, y)
    return np.true_divide(x, y)


# --- unary ------------------------------------------------------------------------------------

neg_p = unop("neg", np.negative, "(-{0})", _NUM)
exp_p = unop("exp", np.exp, "math.exp({0})")
log_p = unop("log", np.log, "math.log({0})")
log1p_p = unop("log1p", np.log1p, "math.log1p({0})")
expm1_p = unop("expm1", np.expm1, "math.expm1({0})")
sin_p = unop("sin", np.sin, "math.sin({0})")
cos_p = unop("cos", np.cos, "math.cos({0})")
tan_p = unop("tan", np.tan, "math.tan({0})")
asin_p = unop("asin", np.arcsin, "math.asin({0})")
acos_p = unop("acos", np.arccos, "math.acos({0})")
atan_p = unop("atan", np.arctan, "math.atan({0})")
sinh_p = unop("sinh", np.sinh, "math.sinh({0})")
cosh_p = unop("cosh", np.cosh, "math.cosh({0})")
tanh_p = unop("tanh", np.tanh, "math.tanh({0})")
asinh_p = unop("asinh", np.arcsinh, "math.asinh({0})")
acosh_p = unop("acosh", np.arccosh, "math.acosh({0})")
atanh_p = unop("atanh", np.arctanh, "math.atanh({0})")
logistic_p = unop("logistic", _logistic_impl, None)
sqrt_p = unop("sqrt", np.sqrt, "math.sqrt({0})")
rsqrt_p = unop("rsqrt", lambda x: 1 / np.sqrt(x), None)
cbrt_p = unop("cbrt", np.cbrt, "np.cbrt({0})")
abs_p = unop("abs", np.abs, "abs({0})", _NUM, dtypes.real_dtype)  # |complex| is real
sign_p = unop("sign", np.sign, "np.sign({0})", _NUM)
floor_p = unop("floor", np.floor, "math.floor({0})")
ceil_p = unop("ceil", np.ceil, "math.ceil({0})")
round_p = unop("round", np.round, "np.round({0})")
is_finite_p = unop("is_finite", np.isfinite, "math.isfinite({0})", _FLOAT, _to_bool)
erf_p = unop("erf", _erf_impl, "math.erf({0})", _REAL_FLOAT)
not_p = unop("not", np.invert, None, _INT_BOOL)
stop_gradient_p = unop("stop_gradient", lambda x: x, "{0}", _ANY)
integer_pow_p = unop("integer_pow", lambda x, *, y: np.power(x, y), None, _NUM)
real_p = unop("real", np.real, "{0}.real", _COMPLEX, dtypes.real_dtype)
imag_p = unop("imag", np.imag, "{0}.imag", _COMPLEX, dtypes.real_dtype)
conj_p = unop("conj", np.conjugate, "{0}.conjugate()", _COMPLEX)

# --- binary -----------------------------------------------------------------------------------

add_p = binop("add", np.add, "({0} + {1})", prim=core_prims.add_p)  # bound by ad too
sub_p = binop("sub", np.subtract, "({0} - {1})")
mul_p = binop("mul", np.multiply, "({0} * {1})")
div_p = binop("div", _div_impl, None)
rem_p = binop("rem", np.fmod, None)
pow_p = binop("pow", np.power, None, _FLOAT)
max_p = binop("max", np.maximum, None, _ANY)
min_p = binop("min", np.minimum, None, _ANY)
atan2_p = binop("atan2", np.arctan2, "math.atan2({0}, {1})", _FLOAT)
eq_p = binop("eq", np.equal, "({0} == {1})", _ANY, _to_bool)
ne_p = binop("ne", np.not_equal, "({0} != {1})", _ANY, _to_bool)
lt_p = binop("lt", np.less, "({0} < {1})", _ANY, _to_bool)
le_p = binop("le", np.less_equal, "({0} <= {1})", _ANY, _to_bool)
gt_p = binop("gt", np.greater, "({0} > {1})", _ANY, _to_bool)
ge_p = binop("ge", np.greater_equal, "({0} >= {1})", _ANY, _to_bool)
and_p = binop("and", np.bitwise_and, "({0} & {1})", _INT_BOOL)
or_p = binop("or", np.bitwise_or, "({0} | {1})", _INT_BOOL)
xor_p = binop("xor", np.bitwise_xor, "({0} ^ {1})", _INT_BOOL)
complex_p = binop("complex", lambda x, y: _complex_impl(x, y), "complex({0}, {1})",
                  _REAL_FLOAT, dtypes.complex_dtype)

# --- select and convert -----------------------------------------------------------------------

select_n_p = Primitive("select_n")


def _select_n_shape(pred, *cases):
    if pred.dtype != dtypes.bool_:
        raise TypeError(f"select_n needs a bool predicate, got {pred.dtype.name}")
    if len(cases) != 2:
        raise TypeError("select_n takes a predicate and exactly two cases")
    if {c.shape for c in cases} != {pred.shape} and pred.shape != ():
        raise TypeError(f"select_n needs predicate and cases of equal shapes, got "
                        f"{pred.shape}, {', '.join(str(c.shape) for c in cases)}")
    if len({c.shape for c in cases}) != 1 or len({c.dtype for c in cases}) != 1:
        raise TypeError("select_n needs cases of equal shapes and dtypes, got "
                        f"{[c.str_short() for c in cases]}")
    return cases[0].update(weak_type=all(c.weak_type for c in cases))


core.shape_rules[select_n_p] = _select_n_shape
core.impl_rules[select_n_p] = lambda pred, f, t: np.where(pred, t, f)
defscalar(select_n_p, "({2} if {0} else {1})")


def _select_n_batch(vals, dims, axis_size):
    pred_aval = core.get_aval(vals[0])
    if pred_aval.ndim == 0 and dims[0] is not None or len({d for d in dims}) != 1:
        vals = [batching.bdim_at(v, d, axis_size) for v, d in zip(vals, dims)]
        case_shape = core.get_aval(vals[1]).shape
        if core.get_aval(vals[0]).shape != case_shape:
            vals[0] = core_prims.broadcast_in_dim(vals[0], case_shape, (0,))
        return select_n_p.bind(*vals), 0
    return select_n_p.bind(*vals), dims[0]


batching.batch_rules[select_n_p] = _select_n_batch


def _select_n_jvp(primals, tangents):
    pred, *cases = primals
    out = select_n_p.bind(pred, *cases)
    if all(isinstance(t, Zero) for t in tangents[1:]):
        return out, Zero(core.get_aval(out))
    return out, select_n_p.bind(pred, *map(ad.instantiate, tangents[1:]))


def _select_n_transpose(ct, pred, *cases):
    assert not is_undefined(pred)
    if isinstance(ct, Zero):
        return [None] + [Zero(c.aval) if is_undefined(c) else None for c in cases]
    zeros = core_prims.full_like(ct, 0)
    out = [None]
    for i, c in enumerate(cases):
        if is_undefined(c):
            out.append(select_n_p.bind(pred, *[ct if j == i else zeros for j in range(2)]))
        else:
            out.append(None)
    return out


ad.jvp_rules[select_n_p] = _select_n_jvp
ad.transpose_rules[select_n_p] = _select_n_transpose

convert_element_type_p = core_prims.convert_element_type_p  # declared below ad; rules here
# ``weak_type=True`` (JAX's param too): the result of converting a weakly typed value whose
# result stays weak (a traced Python int in ``i * 0.5``)
core.shape_rules[convert_element_type_p] = (
    lambda x, *, new_dtype, weak_type=False: x.update(dtype=new_dtype, weak_type=weak_type))


def _convert_impl(x, *, new_dtype, weak_type=False):
    x = np.asarray(x)
    if dtypes.is_complex(x.dtype) and not dtypes.is_complex(new_dtype):
        x = x.real  # as lax does: the imaginary part is dropped (NumPy would warn)
    return x.astype(new_dtype)[()]


core.impl_rules[convert_element_type_p] = _convert_impl
batching.defvectorized(convert_element_type_p)


def _convert_jvp(primals, tangents, *, new_dtype, **params):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, **params)
    old = core.get_aval(x).dtype
    if isinstance(t, Zero) or not (dtypes.is_inexact(old) and dtypes.is_inexact(new_dtype)):
        return out, Zero(core.get_aval(out))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype)


def _convert_transpose(ct, x, *, new_dtype, **params):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    if dtypes.is_complex(core.get_aval(ct).dtype) and not dtypes.is_complex(x.aval.dtype):
        ct = L.real(ct)  # a real input only sees the real part of a complex cotangent
    return [L.convert_element_type(ct, x.aval.dtype)]


ad.jvp_rules[convert_element_type_p] = _convert_jvp
ad.transpose_rules[convert_element_type_p] = _convert_transpose

# ---------------------------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------------------------

# basic wraps the primitives above, so it is imported once they exist
from . import basic  # noqa: E402

L = basic  # rules below read like the math

defjvp(neg_p, lambda g, ans, x: L.neg(g))
ad.transpose_rules[neg_p] = lambda ct, x: [L.neg(ct) if not isinstance(ct, Zero) else ct]
defjvp(exp_p, lambda g, ans, x: L.mul(g, ans))
defjvp(log_p, lambda g, ans, x: L.div(g, x))
defjvp(log1p_p, lambda g, ans, x: L.div(g, L.add(x, 1)))
defjvp(expm1_p, lambda g, ans, x: L.mul(g, L.add(ans, 1)))
defjvp(sin_p, lambda g, ans, x: L.mul(g, L.cos(x)))
defjvp(cos_p, lambda g, ans, x: L.neg(L.mul(g, L.sin(x))))
defjvp(tan_p, lambda g, ans, x: L.mul(g, L.add(L.mul(ans, ans), 1)))
defjvp(asin_p, lambda g, ans, x: L.mul(g, L.rsqrt(L.sub(1, L.mul(x, x)))))
defjvp(acos_p, lambda g, ans, x: L.neg(L.mul(g, L.rsqrt(L.sub(1, L.mul(x, x))))))
defjvp(atan_p, lambda g, ans, x: L.div(g, L.add(L.mul(x, x), 1)))
defjvp(sinh_p, lambda g, ans, x: L.mul(g, L.cosh(x)))
defjvp(cosh_p, lambda g, ans, x: L.mul(g, L.sinh(x)))
defjvp(tanh_p, lambda g, ans, x: L.mul(L.add(g, L.mul(g, ans)), L.sub(1, ans)))
defjvp(asinh_p, lambda g, ans, x: L.mul(g, L.rsqrt(L.add(L.mul(x, x), 1))))
defjvp(acosh_p, lambda g, ans, x: L.mul(g, L.rsqrt(L.mul(L.sub(x, 1), L.add(x, 1)))))
defjvp(atanh_p, lambda g, ans, x: L.div(L.div(g, L.add(x, 1)), L.sub(1, x)))
defjvp(logistic_p, lambda g, ans, x: L.mul(g, L.mul(ans, L.sub(1, ans))))
defjvp(sqrt_p, lambda g, ans, x: L.mul(g, L.div(L.full_like(ans, 0.5), ans)))
defjvp(rsqrt_p, lambda g, ans, x: L.mul(g, L.mul(L.full_like(x, -0.5), L.div(ans, x))))
defjvp(cbrt_p, lambda g, ans, x: L.mul(g, L.mul(L.full_like(x, 1 / 3),
                                                 L.integer_pow(ans, -2))))


def _abs_jvp(g, ans, x):
    if dtypes.is_complex(core.get_aval(x).dtype):
        # d|z| = Re(conj(z) dz) / |z|, taken as 0 at z = 0 (JAX's choice)
        safe = L.select(L.eq(ans, L.full_like(ans, 0)), L.full_like(ans, 1), ans)
        return L.div(L.real(L.mul(g, L.conj(x))), safe)
    return L.select(L.ge(x, L.full_like(x, 0)), g, L.neg(g))


defjvp(abs_p, _abs_jvp)
defjvp(erf_p, lambda g, ans, x: L.mul(g, L.mul(L.full_like(x, 2 / math.sqrt(math.pi)),
                                               L.exp(L.neg(L.mul(x, x))))))
for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, stop_gradient_p,
           eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, xor_p):
    defjvp_zero(_p)


# The complex parts are linear, over the reals: transposing gives JAX's conventions, where
# grad(real)(z) = 1 and grad(imag)(z) = -1j.


def _real_transpose(ct, x):
    return [Zero(x.aval) if isinstance(ct, Zero) else L.complex(ct, L.full_like(ct, 0))]


def _imag_transpose(ct, x):
    return [Zero(x.aval) if isinstance(ct, Zero) else L.complex(L.full_like(ct, 0), L.neg(ct))]


def _conj_transpose(ct, x):
    return [ct if isinstance(ct, Zero) else L.conj(ct)]


def _complex_transpose(ct, x, y):
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(y.aval) if is_undefined(y) else None]
    return [L.real(ct) if is_undefined(x) else None,
            L.neg(L.imag(ct)) if is_undefined(y) else None]


ad.deflinear(real_p, _real_transpose)
ad.deflinear(imag_p, _imag_transpose)
ad.deflinear(conj_p, _conj_transpose)
ad.deflinear(complex_p, _complex_transpose)


def _integer_pow_jvp(g, ans, x, *, y):
    if y == 0:
        return L.full_like(g, 0)
    if y == 1:
        return g
    if y == 2:  # the common square: 2 * x as x + x (exact), one operation instead of three
        return L.mul(g, L.add(x, x))
    return L.mul(g, L.mul(L.full_like(x, y), L.integer_pow(x, y - 1)))


defjvp(integer_pow_p, _integer_pow_jvp)


def _linear_add_like(sign: int):
    def transpose(ct, x, y):
        if isinstance(ct, Zero):
            return [Zero(x.aval) if is_undefined(x) else None,
                    Zero(y.aval) if is_undefined(y) else None]
        return [ct if is_undefined(x) else None,
                (ct if sign > 0 else L.neg(ct)) if is_undefined(y) else None]

    return transpose


defjvp(add_p, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
ad.transpose_rules[add_p] = _linear_add_like(+1)
defjvp(sub_p, lambda g, ans, x, y: g, lambda g, ans, x, y: L.neg(g))
ad.transpose_rules[sub_p] = _linear_add_like(-1)
defjvp(mul_p, lambda g, ans, x, y: L.mul(g, y), lambda g, ans, x, y: L.mul(x, g))
_mul_jvp_general = ad.jvp_rules[mul_p]


def _mul_jvp(primals, tangents):
    x, y = primals
    g, h = tangents
    if x is y and g is h and not isinstance(g, Zero):
        # a square x * x: one tangent product g * 2x instead of g * x + x * g, which also
        # transposes to one product
        return mul_p.bind(x, y), L.mul(g, L.add(x, x))
    return _mul_jvp_general(primals, tangents)


ad.jvp_rules[mul_p] = _mul_jvp


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise ad_nonlinear_error("mul")
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None,
                Zero(y.aval) if is_undefined(y) else None]
    return [L.mul(ct, y) if is_undefined(x) else None, L.mul(x, ct) if is_undefined(y) else None]


def ad_nonlinear_error(name: str) -> Exception:
    return TypeError(f"cannot transpose {name}: both operands depend on the linear input "
                     "(the program is not linear)")


ad.transpose_rules[mul_p] = _mul_transpose
defjvp(div_p, lambda g, ans, x, y: L.div(g, y),
       lambda g, ans, x, y: L.mul(L.neg(g), L.div(ans, y)))


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ad_nonlinear_error("div (in its denominator)")
    if isinstance(ct, Zero):
        return [Zero(x.aval), None]
    return [L.div(ct, y), None]


ad.transpose_rules[div_p] = _div_transpose
defjvp(rem_p, lambda g, ans, x, y: g,
       lambda g, ans, x, y: L.mul(L.neg(g), L.mul(L.sign(L.div(x, y)),
                                                  L.floor(L.abs(L.div(x, y))))))


def _pow_jvp_x(g, ans, x, y):
    # y * x^(y-1) also at y == 0 (NaN at x == 0 then), as JAX's rule for a floating exponent
    return L.mul(g, L.mul(y, L.pow(x, L.sub(y, 1))))


def _pow_jvp_y(g, ans, x, y):
    safe_x = L.select(L.eq(x, L.full_like(x, 0)), L.full_like(x, 1), x)
    return L.mul(g, L.mul(L.log(safe_x), ans))


defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced_eq(x, z, y):
    """1 where x alone is the extremum z, 0.5 where x ties with y, 0 elsewhere (JAX's choice)."""
    one, half, zero = L.full_like(z, 1), L.full_like(z, 0.5), L.full_like(z, 0)
    return L.select(L.eq(x, z), L.select(L.eq(y, z), half, one), zero)


defjvp(max_p, lambda g, ans, x, y: L.mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: L.mul(g, _balanced_eq(y, ans, x)))
defjvp(min_p, lambda g, ans, x, y: L.mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: L.mul(g, _balanced_eq(y, ans, x)))


def _atan2_denominator(x, y):
    return L.add(L.mul(x, x), L.mul(y, y))


defjvp(atan2_p, lambda g, ans, x, y: L.mul(g, L.div(y, _atan2_denominator(x, y))),
       lambda g, ans, x, y: L.mul(g, L.div(L.neg(x), _atan2_denominator(x, y))))

simplify.known_primitives.update(mul=mul_p, add=add_p, sub=sub_p, div=div_p, neg=neg_p,
                                 convert_element_type=convert_element_type_p)
