"""Mistakes users make, and the messages that explain them.

Each test writes the bad operation on a line tagged ``# BAD:<name>`` and checks both the message
(what went wrong, the shapes/dtypes involved, the transformation, the fix) and that the message
names that line of this file: the user's own code, not functrace's internals.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.core import UnexpectedTracerError
from functrace.numpy import ConcretizationTypeError

X = np.array([[0.5, -1.0, 2.0, 1.0], [1.5, 0.25, -0.75, 2.0], [1.0, 2.0, 3.0, 4.0]])

with open(__file__) as _f:
    _SOURCE_LINES = _f.read().splitlines()


def where(tag: str) -> str:
    """``file:line`` of the line of this file tagged ``# BAD:<tag>``."""
    hits = [i + 1 for i, ln in enumerate(_SOURCE_LINES) if ln.rstrip().endswith(f"# BAD:{tag}")]
    assert len(hits) == 1, tag
    return f"{__file__}:{hits[0]}"


def assert_names_line(exc: BaseException, tag: str) -> None:
    assert where(tag) in str(exc), f"expected {where(tag)} in:\n{exc}"


# --- Python control flow and conversions on abstract values ------------------------------------


def f_if(x):
    if fnp.sum(x) > 0:  # BAD:if
        return x
    return -x


def f_while(x):
    while fnp.max(x) < 10.0:  # BAD:while
        x = x * 2
    return x


def f_bool(x):
    return x * bool(x[0, 0] > 0)  # BAD:bool


def f_int(x):
    return x * int(x[0, 0])  # BAD:int


def f_float(x):
    return x * float(x[0, 0])  # BAD:float


def f_asarray(x):
    return np.asarray(x) + 1.0  # BAD:asarray


CONVERSIONS = {
    "if": (f_if, r"bool\(\) of a traced value", "bool[]"),
    "while": (f_while, r"bool\(\) of a traced value", "bool[]"),
    "bool": (f_bool, r"bool\(\) of a traced value", "bool[]"),
    "int": (f_int, r"int\(\) of a traced value", "f64[]"),
    "float": (f_float, r"float\(\) of a traced value", "f64[]"),
    "asarray": (f_asarray, r"converting a traced value to a NumPy array", "f64[3,4]"),
}

TRANSFORMS = {
    "jit": (ft.jit, "jit"),
    "make_jaxpr": (ft.make_jaxpr, "make_jaxpr"),
    "jit_of_grad": (lambda f: ft.jit(ft.grad(lambda x: fnp.sum(f(x)))), "jit"),
    "grad_of_jit": (lambda f: ft.grad(ft.jit(lambda x: fnp.sum(f(x)))), "jit"),
}


@pytest.mark.parametrize("tname", list(TRANSFORMS))
@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_python_conversions_of_traced_values(name, tname):
    fun, what, aval = CONVERSIONS[name]
    transform, human = TRANSFORMS[tname]
    with pytest.raises(ConcretizationTypeError) as info:
        transform(fun)(X)
    msg = str(info.value)
    assert re.search(what, msg), msg
    assert f"{aval} traced by " in msg and human in msg
    assert "lax.cond" in msg and "where" in msg and "static_argnums" in msg
    assert_names_line(info.value, name)


@pytest.mark.parametrize("name", ["bool", "float", "int"])
def test_conversions_under_vmap_name_vmap_and_the_line(name):
    fun, _, aval = CONVERSIONS[name]
    with pytest.raises(ConcretizationTypeError, match=re.escape(f"{aval} traced by vmap")) as info:
        ft.vmap(lambda row: fun(row[None, :]))(X)
    assert_names_line(info.value, name)


def test_static_argnums_is_the_fix_that_works():
    g = ft.jit(lambda x, n: x * n if n > 1 else x, static_argnums=1)
    np.testing.assert_allclose(g(X, 3), X * 3)
    np.testing.assert_allclose(g(X, 1), X)


# --- in-place mutation ----------------------------------------------------------------------


def f_setitem(x):
    x[0, 1] = 5.0  # BAD:setitem
    return x


def f_augmented_item(x):
    x[1] += 2.0  # BAD:augmented_item
    return x


@pytest.mark.parametrize("tag, fun", [("setitem", f_setitem),
                                      ("augmented_item", f_augmented_item)])
@pytest.mark.parametrize("transform", [ft.jit, ft.make_jaxpr, ft.vmap])
def test_in_place_mutation_points_to_at(tag, fun, transform):
    with pytest.raises(TypeError, match=r"immutable.*x\.at\[idx\]\.set\(y\).*\.add") as info:
        transform(fun)(X)
    assert_names_line(info.value, tag)


def test_augmented_assignment_rebinds_like_jax():
    def f(x):
        y = x
        y += 1.0  # a new value bound to y; x is unchanged (JAX semantics)
        return x, y

    x, y = ft.jit(f)(X)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, X + 1.0)


def test_at_set_is_the_fix_that_works():
    got = ft.jit(lambda x: x.at[0, 1].set(5.0).at[1].add(2.0))(X)
    want = X.copy()
    want[0, 1] = 5.0
    want[1] += 2.0
    np.testing.assert_array_equal(got, want)


# --- tracers escaping their transformation ----------------------------------------------------

_leaked: list = []


def _leak(x):
    _leaked.append(x * 2.0)
    return x


@pytest.mark.parametrize("transform, human", [(ft.jit, "jit"), (ft.make_jaxpr, "jit"),
                                              (ft.vmap, "vmap"),
                                              (lambda f: ft.grad(lambda x: fnp.sum(f(x))),
                                               "grad")])
def test_escaped_tracer_used_later(transform, human):
    _leaked.clear()
    transform(_leak)(X)
    leaked = _leaked.pop()
    with pytest.raises(UnexpectedTracerError) as info:
        leaked + 1.0  # BAD:escaped_eager
    msg = str(info.value)
    assert "finished" in msg and human in msg and "global" in msg and "Return the value" in msg
    assert_names_line(info.value, "escaped_eager")
    with pytest.raises(UnexpectedTracerError) as info:
        ft.jit(lambda y: y * leaked)(X)  # BAD:escaped_in_jit
    assert_names_line(info.value, "escaped_in_jit")
    with pytest.raises(UnexpectedTracerError):
        fnp.sin(leaked)
    with pytest.raises(UnexpectedTracerError):
        np.sin(leaked)


def test_ft_exposes_the_error_types():
    assert issubclass(ConcretizationTypeError, TypeError)
    assert issubclass(UnexpectedTracerError, Exception)


# --- shape and dtype mismatches at trace time -------------------------------------------------


def f_matmul(a, b):
    return a @ b  # BAD:matmul


def f_add(a, b):
    return a + b  # BAD:add


def f_dot(a, b):
    return fnp.dot(a, b)  # BAD:dot


def f_lax_add(a, b):
    return lax.add(a, b)  # BAD:lax_add


def f_concat(a, b):
    return fnp.concatenate([a, b], axis=1)  # BAD:concat


def f_reshape(a, b):
    return a.reshape(5, 2)  # BAD:reshape


def f_lax_dtypes(a, b):
    return lax.add(a, b.astype(np.float32))  # BAD:lax_dtypes


MISMATCHES = {
    "matmul": (f_matmul, (3, 4), (5, 6), r"4.*5|5.*4"),
    "add": (f_add, (3, 4), (5, 6), r"\(3, 4\).*\(5, 6\)"),
    "dot": (f_dot, (3, 4), (5, 6), r"\(3, 4\).*\(5, 6\)"),
    "lax_add": (f_lax_add, (3, 4), (5, 6), r"\(3, 4\).*\(5, 6\)"),
    "concat": (f_concat, (3, 4), (5, 6), r"\(3, 4\).*\(5, 6\)"),
    "reshape": (f_reshape, (3, 4), (1,), r"size 12.*\(5, 2\)"),
    "lax_dtypes": (f_lax_dtypes, (3,), (3,), r"float64.*float32|f64.*f32"),
}


@pytest.mark.parametrize("transform", [ft.jit, ft.make_jaxpr,
                                       lambda f: ft.vmap(f, in_axes=(None, None), axis_size=2)])
@pytest.mark.parametrize("name", list(MISMATCHES))
def test_shape_mismatch_names_both_shapes_and_the_line(name, transform):
    fun, sa, sb, pattern = MISMATCHES[name]
    with pytest.raises((TypeError, ValueError)) as info:
        transform(fun)(np.ones(sa), np.ones(sb))
    assert re.search(pattern, str(info.value)), str(info.value)
    assert_names_line(info.value, name)


def test_matmul_mismatch_under_grad_names_the_line():
    with pytest.raises(ValueError, match=r"mismatch.*shapes \(3, 4\) and \(5, 6\)") as info:
        ft.grad(lambda a: fnp.sum(f_matmul(a, np.ones((5, 6)))))(np.ones((3, 4)))
    assert_names_line(info.value, "matmul")


def test_errors_raised_by_user_code_are_left_alone():
    def f(x):
        raise ValueError("the user's own message")

    with pytest.raises(ValueError) as info:
        ft.jit(f)(X)
    assert str(info.value) == "the user's own message"


# --- unsupported NumPy functions: NotImplementedError, never a wrong result --------------------


def f_fft(x):
    return np.fft.fft(x)  # BAD:fft


_py_ufunc = np.frompyfunc(lambda a: a * 2, 1, 1)


def f_pyufunc(x):
    return _py_ufunc(x)  # BAD:pyufunc


def f_rfft(x):
    return np.fft.rfft(x)  # BAD:rfft


def f_hist2d(x):
    return np.histogram2d(x[:, 0], x[:, 1])  # BAD:hist2d


@pytest.mark.parametrize("tag, fun, name", [("fft", f_fft, "numpy.fft.fft"),
                                            ("pyufunc", f_pyufunc, "numpy.<lambda>"),
                                            ("rfft", f_rfft, "numpy.fft.rfft"),
                                            ("hist2d", f_hist2d, "numpy.histogram2d")])
@pytest.mark.parametrize("transform", [
    ft.jit, ft.vmap,
    # under grad the values are concrete, yet the derivative would silently be lost
    lambda f: ft.grad(lambda x: fnp.sum(fnp.real(fnp.asarray(f(x)[0]))))])
def test_unsupported_numpy_functions(tag, fun, name, transform):
    arg = X if transform is not ft.vmap else np.stack([X, X])
    with pytest.raises(NotImplementedError, match=re.escape(name)) as info:
        transform(fun)(arg)
    assert_names_line(info.value, tag)


def test_supported_linalg_matches_numpy():
    a = X[:, :3] + 3 * np.eye(3)
    u, s, vt = ft.jit(lambda a: fnp.linalg.svd(a))(a)
    np.testing.assert_allclose(s, np.linalg.svd(a)[1], rtol=1e-12)
    np.testing.assert_allclose((u * s) @ vt, a, atol=1e-12)


# --- wrong inputs to transformations ----------------------------------------------------------


def test_grad_of_non_scalar_output():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3, 4\).*jacrev"):
        ft.grad(lambda x: x * 2.0)(X)
    with pytest.raises(TypeError, match=r"scalar output.*jacrev or vjp"):
        ft.grad(lambda x: [fnp.sum(x)])(X)


@pytest.mark.parametrize("arg, pattern", [
    (1, r"requires real- or complex-valued inputs.*int64"),
    (np.arange(3), r"requires real- or complex-valued inputs.*int64"),
    (True, r"requires real- or complex-valued inputs.*bool"),
    ("text", r"'text' of type str.*not a valid array type"),
    ({"a": "text"}, r"'text' of type str"),
])
def test_grad_of_non_float_inputs(arg, pattern):
    with pytest.raises(TypeError, match=pattern):
        ft.grad(lambda x: 2.0)(arg)


def test_grad_of_integer_output():
    with pytest.raises(TypeError, match="real-valued outputs.*int64"):
        ft.grad(lambda x: fnp.sum(x > 0).astype(np.int64))(X)


@pytest.mark.parametrize("argnums", [1, -2, (0, 3)])
def test_grad_argnums_out_of_range(argnums):
    with pytest.raises(ValueError, match=r"argnums=.* out of range.*1 positional argument"):
        ft.grad(lambda x: fnp.sum(x), argnums=argnums)(X)


@pytest.mark.parametrize("argnums", [0.0, "x", (0, 1.5)])
def test_grad_argnums_of_the_wrong_type(argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        ft.grad(lambda x, y: fnp.sum(x), argnums=argnums)(X, X)


def test_vjp_fn_with_wrong_cotangents():
    out, vjp_fn = ft.vjp(lambda x: (x * 2.0, fnp.sum(x)), X)
    with pytest.raises(ValueError, match=r"cotangent has structure .* output has structure"):
        vjp_fn(X)
    with pytest.raises(ValueError, match=r"cotangent of shape \(4,\).*output of shape \(3, 4\)"):
        vjp_fn((np.ones(4), 1.0))
    with pytest.raises(ValueError, match=r"cotangent of dtype float32.*dtype float64"):
        vjp_fn((X.astype(np.float32), 1.0))
    with pytest.raises(ValueError, match=r"cotangent of dtype int64.*dtype float64"):
        vjp_fn((np.ones((3, 4), np.int64), 1.0))
    # the right cotangent, with a Python scalar for the scalar output, works
    (g,) = vjp_fn((np.ones((3, 4)), 1.0))
    np.testing.assert_allclose(g, np.full((3, 4), 3.0))


@pytest.mark.parametrize("static, pattern", [([1, 2], "list"), ({"a": 1}, "dict"),
                                             (np.ones(2), "ndarray")])
def test_unhashable_static_arguments(static, pattern):
    g = ft.jit(lambda x, s: x, static_argnums=1)
    with pytest.raises(TypeError, match=rf"static argument at position 1 must be hashable.*"
                                        rf"{pattern}.*tuple"):
        g(X, static)
    h = ft.jit(lambda x, s: x, static_argnames="s")
    with pytest.raises(TypeError, match=rf"static argument 's' must be hashable.*{pattern}"):
        h(X, s=static)


def test_static_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"static_argnums=\(3,\).*only accepts 1 positional"):
        ft.jit(lambda x: x, static_argnums=3)
    # with *args any position may exist
    np.testing.assert_allclose(ft.jit(lambda *xs: xs[0] * xs[1], static_argnums=1)(X, 2.0), X * 2)


def test_jit_of_non_array_arguments_and_outputs():
    with pytest.raises(TypeError, match="value of type str.*static"):
        ft.jit(lambda x: x)("text")
    with pytest.raises(TypeError, match="value of type str"):
        ft.jit(lambda x: "text")(X)


@pytest.mark.parametrize("in_axes, args, pattern", [
    ((0,), (X, X), r"in_axes has 1 entries .* 2 positional arguments"),
    (2, (X,), r"in_axes=2 is out of range for an argument of shape \(3, 4\)"),
    (0, (1.0,), r"in_axes=0 is out of range for an argument of shape \(\)"),
    ((0, 1), (X, X), r"inconsistent sizes.*\[3, 4\].*axis 0 of argument leaf 0 \(f64\[3,4\]\) "
                     r"has size 3.*axis 1 of argument leaf 1 \(f64\[3,4\]\) has size 4"),
    (((0, 1), 0), (X, X), r"in_axes specification must be a tree prefix"),
    (({"b": 0},), ({"a": X},), r"in_axes specification must be a tree prefix.*\['b'\]"),
    (None, (X,), r"at least one batched argument or an explicit axis_size"),
])
def test_vmap_in_axes_that_do_not_match(in_axes, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        ft.vmap(lambda *a: a[0], in_axes=in_axes)(*args)


@pytest.mark.parametrize("in_axes", [0.5, "a"])
def test_vmap_in_axes_of_the_wrong_type(in_axes):
    with pytest.raises(TypeError, match="in_axes entries must be int or None"):
        ft.vmap(lambda x: x, in_axes=in_axes)(X)


def test_vmap_out_axes():
    # out_axes=None: the output must not depend on the mapped inputs (as in JAX)
    with pytest.raises(ValueError, match="out_axes=None for an output that depends on the "
                                         "batched inputs"):
        ft.vmap(lambda x: x * 2.0, out_axes=None)(X)
    y, c = ft.vmap(lambda x: (x * 2.0, fnp.ones(2)), out_axes=(0, None))(X)
    np.testing.assert_allclose(y, X * 2.0)
    np.testing.assert_allclose(c, np.ones(2))
    for bad in (2, 5, -3):
        with pytest.raises(ValueError, match=rf"out_axes={bad} is out of range"):
            ft.vmap(lambda x: x, out_axes=bad)(X)
    np.testing.assert_allclose(ft.vmap(lambda x: x, out_axes=-1)(X), X.T)
    with pytest.raises(TypeError, match="out_axes must be an int, None"):
        ft.vmap(lambda x: x, out_axes="a")(X)
    with pytest.raises(ValueError, match="out_axes specification must be a tree prefix"):
        ft.vmap(lambda x: (x, x), out_axes=(0, 0, 0))(X)
