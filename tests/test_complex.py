"""Complex numbers: the real/imag/conj/complex primitives, complex abs, the functrace.numpy
functions on complex arrays, and derivatives with JAX's conventions.

JAX's conventions, which the closed forms below pin down: ``vjp`` is the transpose of the
(real-linear) JVP, not its adjoint, so ``grad`` of a real function of ``z = x + iy`` is
``df/dx - i df/dy`` (``grad(abs(z)**2)(z) == 2 conj(z)``), and ``grad(..., holomorphic=True)``
of a holomorphic function is its complex derivative.
"""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jit_check import assert_close

import functrace as ft
import functrace.numpy as fnp
from functrace import ad, lax
from functrace.ops import elementwise as ew

COMPLEX_DTYPES = [np.complex64, np.complex128]


def _random_complex(shape, dtype=np.complex128, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@st.composite
def complex_arrays(draw, dtype):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    parts = hnp.arrays(np.float64, shape, elements=st.floats(-10, 10))
    z = draw(parts) + 1j * draw(parts)
    return z.astype(dtype)


# fnp function, NumPy reference
FUNCTIONS = {
    "real": (fnp.real, np.real),
    "imag": (fnp.imag, np.imag),
    "conj": (fnp.conj, np.conj),
    "conjugate": (fnp.conjugate, np.conjugate),
    "abs": (fnp.abs, np.abs),
    "absolute": (fnp.absolute, np.absolute),
    "angle": (fnp.angle, np.angle),
    "angle_deg": (lambda z: fnp.angle(z, deg=True), lambda z: np.angle(z, deg=True)),
    "round": (lambda z: fnp.round(z, 1), lambda z: np.round(z, 1)),
    "isreal": (fnp.isreal, np.isreal),
    "iscomplex": (fnp.iscomplex, np.iscomplex),
    "isfinite": (fnp.isfinite, np.isfinite),
    "isinf": (fnp.isinf, np.isinf),
    "isnan": (fnp.isnan, np.isnan),
    "nan_to_num": (fnp.nan_to_num, np.nan_to_num),
    "exp": (fnp.exp, np.exp),
    "tanh": (fnp.tanh, np.tanh),
    "square": (fnp.square, np.square),
    "attributes": (lambda z: z.real - 2 * z.imag, lambda z: z.real - 2 * z.imag),
    "conj_method": (lambda z: z.conj() * z, lambda z: z.conj() * z),
    "sum": (lambda z: fnp.sum(z, axis=-1), lambda z: np.sum(z, axis=-1)),
    "mean": (fnp.mean, np.mean),
    "var": (fnp.var, np.var),
    "std": (lambda z: fnp.std(z, axis=-1), lambda z: np.std(z, axis=-1)),
    "vdot": (lambda z: fnp.vdot(z, 2 * z + 1j), lambda z: np.vdot(z, 2 * z + 1j)),
    "mixed_real": (lambda z: z * np.float32(2.5) + 1, lambda z: z * np.float32(2.5) + 1),
    "norm": (fnp.linalg.norm, np.linalg.norm),
    "norm_1": (lambda z: fnp.linalg.norm(z, 1, axis=-1), lambda z: np.linalg.norm(z, 1, axis=-1)),
    "norm_inf": (lambda z: fnp.linalg.norm(z, np.inf, axis=0),
                 lambda z: np.linalg.norm(z, np.inf, axis=0)),
    "norm_0": (lambda z: fnp.linalg.norm(z, 0, axis=-1), lambda z: np.linalg.norm(z, 0, axis=-1)),
}


@pytest.mark.parametrize("dtype", COMPLEX_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@given(data=st.data())
def test_functions_on_complex_arrays_match_numpy(name, dtype, data):
    z = data.draw(complex_arrays(dtype))
    ours, theirs = FUNCTIONS[name]
    expected = theirs(z)
    closed = ft.make_jaxpr(ours)(z)
    ft.check_jaxpr(closed)
    got = ours(z)
    tol = 1e-5 if dtype == np.complex64 else 1e-12
    assert_close(got, np.asarray(expected), rtol=tol, atol=tol, what=name)


def test_special_values_keep_their_parts():
    z = np.array([complex(1, np.inf), complex(np.nan, 2), complex(-np.inf, 0), 3 + 4j])
    parts = lax.complex(np.array([1.0, np.nan, -np.inf]), np.array([np.inf, 2.0, 0.0]))
    np.testing.assert_array_equal(parts, z[:3])  # no NaN from multiplying inf by 1j
    np.testing.assert_array_equal(fnp.isinf(z), np.isinf(z))
    np.testing.assert_array_equal(fnp.isnan(z), np.isnan(z))
    np.testing.assert_array_equal(fnp.nan_to_num(z), np.nan_to_num(z))


def test_primitive_dtypes_and_type_errors():
    z64 = np.ones(3, np.complex64)
    assert ft.make_jaxpr(lax.real)(z64).out_avals[0].dtype == np.float32
    assert ft.make_jaxpr(lax.abs)(z64).out_avals[0].dtype == np.float32
    assert ft.make_jaxpr(lax.conj)(z64).out_avals[0].dtype == np.complex64
    x32 = np.ones(3, np.float32)
    assert ft.make_jaxpr(lax.complex)(x32, x32).out_avals[0].dtype == np.complex64
    with pytest.raises(TypeError, match="real needs a complex operand, got float64"):
        lax.real(np.ones(3))
    with pytest.raises(TypeError, match="complex needs a real floating-point operand"):
        lax.complex(z64, z64)
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.complex(x32, np.ones(3))


def test_printed_program_names_the_parts():
    text = str(ft.make_jaxpr(lambda z: fnp.abs(z) + fnp.angle(z))(np.ones(2, np.complex128)))
    assert "f64[2] = abs a" in text
    assert "imag a" in text and "real a" in text


# --- derivatives: closed forms (JAX's conventions) ---------------------------------------------


Z = _random_complex((4,), seed=3)


@pytest.mark.parametrize("f, expected", [
    (lambda z: fnp.sum(fnp.real(z)), lambda z: np.ones_like(z)),
    (lambda z: fnp.sum(fnp.imag(z)), lambda z: np.full_like(z, -1j)),
    (lambda z: fnp.sum(fnp.abs(z)), lambda z: np.conj(z) / np.abs(z)),
    (lambda z: fnp.sum(fnp.abs(z) ** 2), lambda z: 2 * np.conj(z)),
    (lambda z: fnp.sum(fnp.real(fnp.exp(z))), lambda z: np.exp(z)),
    (lambda z: fnp.sum(fnp.real(z * z)), lambda z: 2 * z),
    (lambda z: fnp.real(fnp.vdot(z, z)), lambda z: 2 * np.conj(z)),
], ids=["real", "imag", "abs", "abs_squared", "re_exp", "re_square", "vdot"])
def test_grad_of_real_function_of_complex_input(f, expected):
    got = ft.grad(f)(Z)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, expected(Z), rtol=1e-12)
    np.testing.assert_allclose(ft.jacrev(f)(Z), expected(Z), rtol=1e-12)


def test_angle_gradient_closed_form():
    # angle = atan2(y, x): d/dx = -y/r^2, d/dy = x/r^2, so grad = -y/r^2 - i x/r^2
    r2 = np.abs(Z) ** 2
    np.testing.assert_allclose(ft.grad(lambda z: fnp.sum(fnp.angle(z)))(Z),
                               -Z.imag / r2 - 1j * Z.real / r2, rtol=1e-12)


def test_abs_gradient_at_zero_is_zero():
    z = np.array([0j, 3 + 4j])
    g = ft.grad(lambda z: fnp.sum(fnp.abs(z)))(z)
    assert g[0] == 0
    np.testing.assert_allclose(g[1], 0.6 - 0.8j, rtol=1e-15)


def test_holomorphic_derivatives():
    f = lambda z: z ** 3 + fnp.exp(z)  # noqa: E731
    want = 3 * Z ** 2 + np.exp(Z)
    np.testing.assert_allclose(ft.grad(lambda z: fnp.sum(f(z)), holomorphic=True)(Z), want)
    np.testing.assert_allclose(ft.jacfwd(f, holomorphic=True)(Z), np.diag(want))
    np.testing.assert_allclose(ft.jacrev(f, holomorphic=True)(Z), np.diag(want))
    second = ft.grad(ft.grad(lambda z: z ** 3, holomorphic=True), holomorphic=True)(Z[0])
    np.testing.assert_allclose(second, 6 * Z[0])


def test_jvp_and_vjp_of_the_parts():
    t = _random_complex((4,), seed=4)
    np.testing.assert_allclose(ft.jvp(fnp.real, (Z,), (t,))[1], t.real)
    np.testing.assert_allclose(ft.jvp(fnp.imag, (Z,), (t,))[1], t.imag)
    np.testing.assert_allclose(ft.jvp(fnp.abs, (Z,), (t,))[1],
                               (np.conj(Z) * t).real / np.abs(Z))
    np.testing.assert_allclose(ft.vjp(fnp.conj, Z)[1](t)[0], np.conj(t))
    x, y = Z.real, Z.imag
    gx, gy = ft.vjp(lax.complex, x, y)[1](t)
    np.testing.assert_allclose(gx, t.real)
    np.testing.assert_allclose(gy, -t.imag)


# --- derivatives: numerical checks, order 2, both modes ----------------------------------------

CHECKED = {
    "real": fnp.real, "imag": fnp.imag, "conj": fnp.conj, "abs": fnp.abs, "angle": fnp.angle,
    "exp": fnp.exp, "log": fnp.log, "sqrt": fnp.sqrt, "sin": fnp.sin, "tanh": fnp.tanh,
    "mul_div": lambda z: z * z * (1 + 2j) / (z + 3),
    "power": lambda z: z ** 2.5,
    "abs_squared": lambda z: fnp.abs(z) ** 2,
    "rebuild": lambda z: fnp.real(z) + 1j * fnp.imag(z) ** 2,
    "hermitian": lambda z: fnp.sum(z * fnp.conj(z)),
    "matmul": lambda z: fnp.outer(z, fnp.conj(z)) @ z,
    "var": fnp.var,
    "vdot": lambda z: fnp.vdot(z, 2 * z),
    "astype_real": lambda z: (z * z).astype(np.float64),
    "norm": fnp.linalg.norm,
    "norm_3": lambda z: fnp.linalg.norm(z, 3),
}


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_check_grads_on_complex_functions(name):
    ft.check_grads(CHECKED[name], (_random_complex((3,), seed=5),), order=2)


def test_check_grads_real_input_through_complex_intermediates():
    x = np.random.default_rng(6).standard_normal(3)
    ft.check_grads(lambda x: fnp.abs(fnp.exp(1j * x) * x + 2), (x,), order=2)
    ft.check_grads(lambda x, y: fnp.angle(lax.complex(x, y)), (x, x[::-1] + 0.5), order=2)


def test_check_grads_catches_a_wrong_complex_transpose(monkeypatch):
    # the adjoint (+1j) instead of the transpose (-1j): a classic complex convention slip
    monkeypatch.setitem(ad.transpose_rules, ew.imag_p, lambda ct, x: [
        lax.complex(lax.full_like(ct, 0), ct)])
    with pytest.raises(AssertionError, match="reverse mode"):
        ft.check_grads(fnp.imag, (Z,), order=1, modes=("rev",))


def test_converting_complex_to_real_keeps_the_real_part_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # jit runs complex values via NumPy
        np.testing.assert_allclose(lax.convert_element_type(Z, np.float64), Z.real)
        np.testing.assert_allclose(ft.jit(lambda z: z.astype(np.float32))(Z), Z.real, 1e-6)
        g = ft.grad(lambda z: fnp.sum(z.astype(np.float64)))(Z)
    np.testing.assert_allclose(g, np.ones_like(Z))


# --- errors ------------------------------------------------------------------------------------


def test_grad_of_complex_output_needs_holomorphic():
    with pytest.raises(TypeError, match="real-valued outputs.*complex128.*holomorphic=True"):
        ft.grad(lambda z: fnp.sum(z * z))(Z)
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs"):
        ft.jacrev(lambda z: z * z)(Z)


def test_jacfwd_of_complex_input_needs_holomorphic():
    with pytest.raises(TypeError, match="jacfwd requires real-valued inputs.*complex128"):
        ft.jacfwd(fnp.abs)(Z)


def test_holomorphic_needs_complex_inputs_and_outputs():
    with pytest.raises(TypeError, match="holomorphic=True requires inputs with complex dtype"):
        ft.grad(lambda x: fnp.sum(x), holomorphic=True)(Z.real)
    with pytest.raises(TypeError, match="holomorphic=True requires outputs with complex dtype"):
        ft.grad(lambda z: fnp.sum(fnp.abs(z)), holomorphic=True)(Z)
    with pytest.raises(TypeError, match="jacfwd with holomorphic=True requires outputs"):
        ft.jacfwd(fnp.abs, holomorphic=True)(Z)


# --- vmap and jit ------------------------------------------------------------------------------


@pytest.mark.parametrize("in_axes", [0, 1, -1])
@pytest.mark.parametrize("name", ["real", "imag", "conj", "abs", "angle", "var"])
def test_vmap_matches_a_loop(name, in_axes):
    f = CHECKED[name]
    z = _random_complex((2, 3), seed=7)
    moved = np.moveaxis(z, 0, in_axes)
    want = np.stack([f(row) for row in z])
    np.testing.assert_allclose(ft.vmap(f, in_axes=in_axes)(moved), want, rtol=1e-12)


def test_vmap_of_complex_with_one_unbatched_part():
    x = np.arange(6.0).reshape(2, 3)
    y = np.array([1.0, 2.0, 3.0])
    got = ft.vmap(lax.complex, in_axes=(0, None))(x, y)
    np.testing.assert_array_equal(got, x + 1j * y)


def test_jit_of_a_complex_program_matches_the_interpreter():
    def f(z):
        return fnp.sum(fnp.abs(fnp.exp(z) * fnp.conj(z)) + fnp.angle(z))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # complex parts run through NumPy
        np.testing.assert_allclose(ft.jit(f)(Z), f(Z), rtol=1e-12)
        np.testing.assert_allclose(ft.jit(ft.grad(f))(Z), ft.grad(f)(Z), rtol=1e-12)
