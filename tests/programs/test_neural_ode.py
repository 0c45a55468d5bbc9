"""A neural ODE ``y' = tanh(W y + b)`` trained through an adjoint ``custom_vjp``: the forward
solve and the backward (adjoint) solve are fixed-step RK4 integrators written with NumPy and
called through ``functrace.pure_callback``, the whole loss compiled by ``jit(value_and_grad)``.
"""

from __future__ import annotations

import warnings

import numpy as np

import functrace as ft
import functrace.numpy as fnp

from ._util import assert_grad_matches_numerical

T_END, N_STEPS, DIM = 1.0, 40, 2


def _dynamics(y, w, b):
    return np.tanh(y @ w.T + b)


def _rk4(rhs, y, t0, t1):
    h = (t1 - t0) / N_STEPS
    for _ in range(N_STEPS):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * h * k1)
        k3 = rhs(y + 0.5 * h * k2)
        k4 = rhs(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def solve_numpy(y0, w, b):
    """y(T_END) for a batch of initial states ``y0`` (rows)."""
    return _rk4(lambda y: _dynamics(y, w, b), np.asarray(y0), 0.0, T_END)


def _adjoint_numpy(y_end, w, b, g):
    """Integrate (y, a, dL/dW, dL/db) from T_END back to 0, where a = dL/dy(t)."""
    n = y_end.shape[0]
    sizes = [n * DIM, n * DIM, DIM * DIM, DIM]

    def rhs(z):
        y, a = z[:sizes[0]].reshape(n, DIM), z[sizes[0]:2 * sizes[0]].reshape(n, DIM)
        f = _dynamics(y, w, b)
        u = a * (1 - f ** 2)                      # a^T df/d(pre-activation)
        # forward in reversed time: y' = f, a' = -a f_y, g' = -a f_theta
        return np.concatenate([f.ravel(), -(u @ w).ravel(), -(u.T @ y).ravel(),
                               -u.sum(axis=0)])

    z = np.concatenate([y_end.ravel(), g.ravel(), np.zeros(DIM * DIM + DIM)])
    z = _rk4(rhs, z, T_END, 0.0)
    a0 = z[sizes[0]:2 * sizes[0]].reshape(n, DIM)
    gw = z[2 * sizes[0]:2 * sizes[0] + sizes[2]].reshape(DIM, DIM)
    gb = z[2 * sizes[0] + sizes[2]:]
    # g(0) = -integral from T to 0 of a f_theta = integral from 0 to T of a f_theta
    return a0, gw, gb


@ft.custom_vjp
def odeint(y0, w, b):
    return ft.pure_callback(solve_numpy, ft.ShapeDtypeStruct(y0.shape, y0.dtype), y0, w, b)


def _odeint_fwd(y0, w, b):
    y = odeint(y0, w, b)
    return y, (y, w, b)


def _odeint_bwd(res, g):
    y, w, b = res
    shapes = (ft.ShapeDtypeStruct(y.shape, y.dtype), ft.ShapeDtypeStruct(w.shape, w.dtype),
              ft.ShapeDtypeStruct(b.shape, b.dtype))
    return ft.pure_callback(_adjoint_numpy, shapes, y, w, b, g)


odeint.defvjp(_odeint_fwd, _odeint_bwd)


def loss(params, y0, target):
    w, b = params
    return fnp.mean((odeint(y0, w, b) - target) ** 2)


STEP = ft.jit(ft.value_and_grad(loss, argnums=(0, 1)))

_rng = np.random.default_rng(4)
Y0 = _rng.normal(size=(5, DIM))
TRUE = (np.array([[-0.5, 1.5], [-1.5, -0.5]]), np.array([0.2, -0.1]))
TARGET = solve_numpy(Y0, *TRUE)
PARAMS0 = (np.array([[0.1, 0.3], [-0.4, 0.2]]), np.zeros(DIM))


def test_adjoint_gradient_matches_numerical_differentiation():
    with warnings.catch_warnings():   # the callbacks run between compiled parts, unwarned
        warnings.filterwarnings("error", message=".*no compiled lowering")
        value, (g_params, g_y0) = STEP(PARAMS0, Y0, TARGET)
    np.testing.assert_allclose(value, np.mean((solve_numpy(Y0, *PARAMS0) - TARGET) ** 2),
                               rtol=1e-14)
    # the continuous adjoint and the discrete solver agree to the solver's O(h^4) error
    assert_grad_matches_numerical(lambda p: STEP(p, Y0, TARGET)[0], PARAMS0, g_params,
                                  rtol=1e-6)
    assert_grad_matches_numerical(lambda y: STEP(PARAMS0, y, TARGET)[0], Y0, g_y0, rtol=1e-6)


def test_training_the_neural_ode_fits_the_target_flow():
    params = PARAMS0
    first = None
    for _ in range(40):
        value, (grads, _) = STEP(params, Y0, TARGET)
        first = float(value) if first is None else first
        params = ft.tree_util.tree_map(lambda p, g: p - 1.0 * g, params, grads)
    last = float(STEP(params, Y0, TARGET)[0])
    assert last < 0.05 * first, (first, last)
