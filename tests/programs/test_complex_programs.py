"""Complex programs: holomorphic derivatives (``grad(..., holomorphic=True)``) against the
analytic ones, and real losses of complex matrices through ``fnp.linalg.solve``, ``inv`` and
``det`` against numerical differentiation. For a real ``L`` of complex ``A`` the gradient is
JAX's ``dL/dRe(A) - i dL/dIm(A)``."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

# complex values have no compiled lowering: under jit they run with NumPy, after a warning
COMPLEX_UNDER_JIT = pytest.mark.filterwarnings(
    "ignore:functrace.jit has no compiled lowering:RuntimeWarning")

ZS = np.array([0.3 + 0.4j, -1.2 + 0.1j, 0.5 - 2.0j, 2.0 + 0.0j])
C = 1.0 + 1.0j


def poly(z):
    return z ** 3 - 2 * z ** 2 + C * z - 0.5j


def exp_sin(z):
    return fnp.exp(z) * fnp.sin(z)


def test_holomorphic_gradient_of_a_polynomial():
    want = 3 * ZS ** 2 - 4 * ZS + C
    for z, w in zip(ZS, want):
        np.testing.assert_allclose(ft.grad(poly, holomorphic=True)(z), w, rtol=1e-14)
    np.testing.assert_allclose(ft.vmap(ft.grad(poly, holomorphic=True))(ZS), want, rtol=1e-14)
    # second derivative, and forward mode
    np.testing.assert_allclose(
        ft.vmap(ft.grad(ft.grad(poly, holomorphic=True), holomorphic=True))(ZS), 6 * ZS - 4,
        rtol=1e-14)
    np.testing.assert_allclose(np.diagonal(ft.jacfwd(poly, holomorphic=True)(ZS)), want,
                               rtol=1e-14)


@COMPLEX_UNDER_JIT
def test_holomorphic_gradient_of_exp_times_sin():
    want = np.exp(ZS) * (np.sin(ZS) + np.cos(ZS))
    got = ft.vmap(ft.grad(exp_sin, holomorphic=True))(ZS)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(ft.grad(lambda z: fnp.exp(z), holomorphic=True)(ZS[2]),
                               np.exp(ZS[2]), rtol=1e-14)
    # under jit too (complex arithmetic runs with NumPy between compiled parts)
    got_jit = ft.jit(ft.vmap(ft.grad(exp_sin, holomorphic=True)))(ZS)
    np.testing.assert_allclose(got_jit, want, rtol=1e-13)


def test_holomorphic_gradient_agrees_with_the_complex_step_difference():
    # a holomorphic derivative is the same along every direction of h
    z, h = 0.7 - 0.3j, 1e-5
    g = ft.grad(exp_sin, holomorphic=True)(z)
    for d in (h, 1j * h, (1 + 1j) * h / np.sqrt(2)):
        fd = (np.exp(z + d) * np.sin(z + d) - np.exp(z - d) * np.sin(z - d)) / (2 * d)
        np.testing.assert_allclose(g, fd, rtol=1e-9)


_rng = np.random.default_rng(5)
A = _rng.normal(size=(3, 3)) + 1j * _rng.normal(size=(3, 3)) + 3 * np.eye(3)
B = _rng.normal(size=3) + 1j * _rng.normal(size=3)


def complex_linalg_loss(a):
    """A real loss of a complex matrix: |solve(a, b)|^2 + log|det a| + Re tr(inv(a) a^H)."""
    x = fnp.linalg.solve(a, B)
    return (fnp.sum(fnp.real(x * fnp.conj(x))) + fnp.log(fnp.abs(fnp.linalg.det(a)))
            + fnp.real(fnp.trace(fnp.linalg.inv(a) @ fnp.conj(a).T)))


def _loss_numpy(a):
    x = np.linalg.solve(a, B)
    return (np.sum(np.abs(x) ** 2) + np.log(np.abs(np.linalg.det(a)))
            + np.real(np.trace(np.linalg.inv(a) @ a.conj().T)))


def _numerical_complex_grad(f, a):
    d_re = ft.numerical_jacobian(lambda x: f(x + 1j * a.imag), a.real, method="richardson")
    d_im = ft.numerical_jacobian(lambda y: f(a.real + 1j * y), a.imag, method="richardson")
    return d_re - 1j * d_im


@COMPLEX_UNDER_JIT
def test_real_loss_of_a_complex_matrix_through_solve_inv_det():
    np.testing.assert_allclose(complex_linalg_loss(A), _loss_numpy(A), rtol=1e-13)
    want = _numerical_complex_grad(_loss_numpy, A)
    got = ft.grad(complex_linalg_loss)(A)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ft.jit(ft.grad(complex_linalg_loss))(A), want, rtol=1e-7,
                               atol=1e-9)


@COMPLEX_UNDER_JIT
def test_complex_gradient_descent_finds_the_inverse():
    # minimise |a x - b|^2 over a complex vector x: the minimiser is solve(A, B)
    def residual(x):
        r = A @ x - B
        return fnp.sum(fnp.real(r * fnp.conj(r)))

    step = ft.jit(ft.grad(residual))
    x = np.zeros(3, complex)
    # JAX's convention: the steepest-descent direction is conj(grad) = 2 A^H (A x - b)
    np.testing.assert_allclose(np.conj(step(B)), 2 * A.conj().T @ (A @ B - B), rtol=1e-13)
    lr = 0.5 / np.linalg.norm(A, 2) ** 2
    for _ in range(300):
        x = x - lr * np.conj(step(x))
    np.testing.assert_allclose(x, np.linalg.solve(A, B), atol=1e-8)
