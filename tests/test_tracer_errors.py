"""Tracers behave like ndarrays, and fail clearly where they cannot.

Conversions that need a value (``bool``, ``int``, ``float``, ``np.asarray``, ``.item()``...)
work when the value is known (under ``grad`` on concrete inputs) and otherwise raise
``ConcretizationTypeError`` naming the operation, the abstract value, the transformation and
the fix. NumPy functions dispatch to functrace.numpy; unsupported ones raise
``NotImplementedError`` rather than compute something wrong.
"""

from __future__ import annotations

import math
import operator
import re

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.numpy import ConcretizationTypeError

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

CONVERSIONS = {
    "bool": (lambda x: bool(x.ravel()[0] > 0), "bool\\(\\) of a traced value"),
    "if": (lambda x: 1.0 if x.ravel()[0] > 0 else 0.0, "bool\\(\\) of a traced value"),
    "int": (lambda x: int(x.ravel()[0]), "int\\(\\) of a traced value"),
    "float": (lambda x: float(x.ravel()[0]), "float\\(\\) of a traced value"),
    "complex": (lambda x: complex(x.ravel()[0]), "complex\\(\\) of a traced value"),
    "index": (lambda x: operator.index(fnp.argmax(x)), "Python index"),
    "range": (lambda x: range(fnp.argmax(x)), "Python index"),
    "asarray": (lambda x: np.asarray(x), "converting a traced value to a NumPy array"),
    "array": (lambda x: np.array(x), "converting a traced value to a NumPy array"),
    "item": (lambda x: x.ravel()[0].item(), "item\\(\\)"),
    "tolist": (lambda x: x.tolist(), "tolist\\(\\)"),
    "numpy_index": (lambda x: np.arange(6.0)[fnp.argmax(x)], "functrace.numpy.take"),
}

TRANSFORMS = {
    "make_jaxpr": (lambda f: ft.make_jaxpr(f), "jit/make_jaxpr"),
    "vmap": (lambda f: ft.vmap(f), "vmap"),
}


@pytest.mark.parametrize("tname", list(TRANSFORMS))
@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_conversions_of_abstract_values_explain_themselves(name, tname):
    f, what = CONVERSIONS[name]
    transform, human = TRANSFORMS[tname]
    with pytest.raises(ConcretizationTypeError) as info:
        transform(f)(X)
    msg = str(info.value)
    assert re.search(what, msg), msg
    assert human in msg
    assert "static_argnums" in msg and "where" in msg
    assert isinstance(info.value, TypeError)


def test_message_names_shape_and_dtype():
    with pytest.raises(ConcretizationTypeError, match=r"bool\[2,3\] traced by jit/make_jaxpr"):
        ft.make_jaxpr(lambda x: bool(x > 0))(X)
    with pytest.raises(ConcretizationTypeError, match=r"f32\[\] traced by vmap"):
        ft.vmap(lambda x: float(x[0]))(X.astype(np.float32))


def test_conversions_of_known_values_work_under_grad():
    def f(x):
        s = 0.0
        if x[0] > 0:  # Python control flow on the value, as in NumPy/autograd code
            s = s + fnp.sin(x[0])
        n = int(x[1])  # a known value
        for _ in range(n):
            s = s + x[1] ** 2
        assert isinstance(x[2].item(), float)
        return s + x[2] ** 2

    x = np.array([0.5, 2.5, 3.0])
    g = ft.grad(f)(x)
    np.testing.assert_allclose(g, [np.cos(0.5), 2 * 2 * 2.5, 6.0])
    ft.check_grads(lambda x: f(x), (x,), order=1, modes=("rev",))


def _tolist(x):
    return x.tolist() if hasattr(x, "tolist") else [x]


@pytest.mark.parametrize("convert", [float, complex, np.asarray, _tolist, math.sin])
def test_conversions_that_would_cut_the_derivative_raise_under_grad(convert):
    # JAX raises here too: the result would be a constant as far as differentiation goes
    with pytest.raises(ConcretizationTypeError, match="would cut the derivative"):
        ft.grad(lambda x: x * fnp.sum(convert(x)))(2.0)
    # the same conversions of values that are not differentiated still work
    def f(x):
        c = convert(ft.lax.stop_gradient(x * 1.5))  # a plain value
        return x * float(np.sum(np.real(c)))

    assert ft.grad(f)(2.0) == np.sum(np.real(convert(3.0)))


def test_bool_of_known_array_follows_numpy():
    def f(x):
        bool(x)  # more than one element: NumPy's ValueError, not a concretization error
        return x

    with pytest.raises(ValueError, match="ambiguous"):
        ft.grad(lambda x: fnp.sum(f(x)))(np.ones(2))


def test_setitem_raises_pointing_to_at():
    def f(x):
        x[0] = 1.0
        return x

    with pytest.raises(TypeError, match=r"immutable.*x = x\.at\[idx\]\.set\(y\)"):
        ft.make_jaxpr(f)(X)
    with pytest.raises(TypeError, match=r"\.at\[idx\]"):
        ft.grad(lambda x: fnp.sum(f(x)))(X)


def test_traced_boolean_mask_is_a_clear_index_error():
    with pytest.raises(fnp.NonConcreteBooleanIndexError) as info:
        ft.make_jaxpr(lambda x: x[x > 0])(X)
    msg = str(info.value)
    assert "bool[2,3]" in msg and "where(mask, x, 0)" in msg and "static" in msg
    assert isinstance(info.value, IndexError)


def test_iteration_and_len_of_scalars_fail_like_numpy():
    with pytest.raises(TypeError, match="0-d"):
        ft.make_jaxpr(lambda x: list(x[0, 0]))(X)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d"):
        ft.make_jaxpr(lambda x: len(x[0, 0]))(X)


# --- NumPy dispatch ---------------------------------------------------------------------------


def test_unmodified_numpy_code_traces():
    W = np.linspace(-1, 1, 12).reshape(3, 4)

    def model(x):
        h = np.tanh(np.dot(x, W) + 0.5)
        h = np.maximum(h, 0.0) @ W.T
        s = np.sum(np.sin(h), axis=0) + np.mean(h ** 2, axis=0, keepdims=False)
        return np.where(s > 0, s, np.exp(s)) + np.linalg.norm(x) + np.abs(x).max()

    closed = ft.make_jaxpr(model)(X)
    ft.check_jaxpr(closed)
    np.testing.assert_allclose(closed(X)[0], model(X), rtol=1e-14)
    g = ft.grad(lambda x: np.sum(model(x)))(X)
    num = ft.numerical_jacobian(lambda x: np.sum(model(x)), X) if hasattr(
        ft, "numerical_jacobian") else None
    if num is not None:
        np.testing.assert_allclose(g, np.reshape(num, X.shape), rtol=1e-5, atol=1e-7)


def test_numpy_operators_on_mixed_operands():
    a32 = np.ones(3, np.float32)

    def f(x):
        return (a32 + x, x + a32, np.float64(2.0) * x, 2.0 * x, a32 @ x, x > a32, -x,
                np.ones(3) - x, x ** 2, 3 // (x + 1), divmod(x, 2.0)[1])

    x = np.array([1.0, 2.0, 3.0], np.float32)
    closed = ft.make_jaxpr(f)(x)
    for got, exp in zip(closed(x), f(x)):
        assert np.asarray(got).dtype == np.asarray(exp).dtype
        np.testing.assert_allclose(got, exp)


def test_ufunc_methods_dispatch():
    def f(x):
        return (np.add.reduce(x, axis=1), np.maximum.reduce(x), np.multiply.accumulate(x),
                np.add.outer(x[0], x[1]), np.logical_or.reduce(x > 1.0, axis=None))

    closed = ft.make_jaxpr(f)(X)
    for got, exp in zip(closed(X), f(X)):
        np.testing.assert_allclose(got, exp)


@pytest.mark.parametrize("call, name", [
    (lambda x: np.fft.fft(x), "numpy.fft.fft on traced values"),
    (lambda x: np.fft.irfft(x), "numpy.fft.irfft on traced values"),
    (lambda x: np.frompyfunc(abs, 1, 1)(x), "numpy.abs (vectorized) on"),
    (lambda x: np.histogram2d(x[:, 0], x[:, 1]), "numpy.histogram2d on"),
    (lambda x: np.sin(x, out=np.empty_like(X)), "numpy.sin(..., out=...)"),
    (lambda x: np.add.at(x, 0, 1.0), "numpy.add.at on"),
    (lambda x: np.sin(x, where=X > 0), "numpy.sin(..., where=...)"),
])
def test_unsupported_numpy_functions_raise_not_implemented(call, name):
    with pytest.raises(NotImplementedError, match=re.escape(f"functrace does not support {name}")):
        ft.make_jaxpr(call)(X)


def test_dispatch_results_match_functrace_numpy():
    def f(x):
        return (np.sum(x, axis=0), fnp.sum(x, axis=0), np.transpose(x), x.T, x.mT, np.shape(x),
                np.ndim(x), np.size(x))

    closed = ft.make_jaxpr(lambda x: f(x)[:5])(X)
    outs = closed(X)
    np.testing.assert_allclose(outs[0], outs[1])
    np.testing.assert_allclose(outs[2], X.T)
    np.testing.assert_allclose(outs[4], X.T)
    assert ft.make_jaxpr(lambda x: (x, f(x)[5:]) and x)(X) is not None
    shapes = []
    ft.make_jaxpr(lambda x: shapes.append(f(x)[5:]) or x)(X)
    assert shapes == [((2, 3), 2, 6)]


def test_tracer_methods():
    def f(x):
        return (x.reshape(3, 2), x.reshape((6,)), x.sum(axis=1), x.mean(), x.max(0), x.min(),
                x.prod(), x.argmax(), x.argmin(axis=1), x.any(), x.all(), x.std(ddof=1),
                fnp.var(x), x.cumsum(axis=1), x.astype(np.float32), x.transpose(1, 0),
                x.transpose(), x.flatten(), x.ravel(), x[None].squeeze(), x.dot(x.T),
                x.clip(0.0, 1.0), x.round(1), x.conj(), x.real, x.imag, x.copy(),
                x.swapaxes(0, 1), x.take(np.array([0, 2]), axis=1), x.repeat(2, axis=0),
                x.sort(axis=0), x.argsort(), round(x[0, 0]), abs(x), x.ptp(), x.trace(),
                x.diagonal(), x.cumprod())

    closed = ft.make_jaxpr(f)(X)
    ft.check_jaxpr(closed)
    expected = (X.reshape(3, 2), X.reshape((6,)), X.sum(axis=1), X.mean(), X.max(0), X.min(),
                X.prod(), X.argmax(), X.argmin(axis=1), X.any(), X.all(), X.std(ddof=1),
                X.var(), X.cumsum(axis=1), X.astype(np.float32), X.transpose(1, 0),
                X.transpose(), X.flatten(), X.ravel(), X[None].squeeze(), X.dot(X.T),
                X.clip(0.0, 1.0), X.round(1), X.conj(), X.real, X.imag, X.copy(),
                X.swapaxes(0, 1), X.take(np.array([0, 2]), axis=1), X.repeat(2, axis=0),
                np.sort(X, axis=0), X.argsort(), np.round(X[0, 0]), abs(X), np.ptp(X),
                X.trace(), X.diagonal(), X.cumprod())
    for got, exp in zip(closed(X), expected):
        assert np.asarray(got).dtype == np.asarray(exp).dtype
        np.testing.assert_allclose(got, exp, rtol=1e-14)
    sizes = []
    ft.make_jaxpr(lambda x: sizes.append((x.shape, x.ndim, x.size, x.dtype, x.itemsize,
                                          x.nbytes)) or x)(X)
    assert sizes == [((2, 3), 2, 6, np.float64, 8, 48)]


def test_tracers_are_unhashable_and_isinstance_ndarray():
    def f(x):
        with pytest.raises(TypeError):
            hash(x)
        assert isinstance(x, fnp.ndarray)
        return x

    ft.make_jaxpr(f)(X)


# --- the exception classes under JAX's names (functrace.errors) ---------------------------------


@pytest.mark.parametrize("f, error", [
    (lambda x: bool(x > 0), "TracerBoolConversionError"),
    (lambda x: int(x), "TracerIntegerConversionError"),
    (lambda x: list(range(10))[x], "TracerIntegerConversionError"),
    (lambda x: np.asarray(x) + 1, "TracerArrayConversionError"),
    (lambda x: x[x > 0], "NonConcreteBooleanIndexError"),
], ids=["bool", "int", "index", "asarray", "mask"])
def test_errors_module_names_each_conversion(f, error):
    from functrace import errors
    with pytest.raises(getattr(errors, error)):
        ft.jit(f)(np.array(1))


def test_conversion_errors_are_concretization_and_type_errors():
    from functrace import errors
    for name in ("TracerBoolConversionError", "TracerIntegerConversionError",
                 "TracerArrayConversionError"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ConcretizationTypeError) and issubclass(cls, TypeError)
    assert issubclass(errors.NonConcreteBooleanIndexError, IndexError)
    # a conversion that would cut a derivative raises the same classes
    with pytest.raises(errors.TracerArrayConversionError, match="cut the derivative"):
        ft.grad(lambda x: np.asarray(x).sum())(1.0)
