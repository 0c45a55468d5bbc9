"""Derivatives with ``grad``: first derivatives, then tanh's derivatives up to the 4th order.

Each order is ``grad`` applied to the previous one (reverse over reverse over ...), evaluated on a
grid of points with ``vmap``, and compared with the closed forms written in terms of
t = tanh(x):

    tanh'    = 1 - t^2
    tanh''   = -2 t (1 - t^2)
    tanh'''  = (1 - t^2)(6 t^2 - 2)
    tanh'''' = 8 t (1 - t^2)(2 - 3 t^2)

    python examples/derivatives.py
"""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def closed_forms(x: np.ndarray) -> list[np.ndarray]:
    t = np.tanh(x)
    s = 1 - t * t
    return [t, s, -2 * t * s, s * (6 * t * t - 2), 8 * t * s * (2 - 3 * t * t)]


def first_derivatives() -> None:
    print("First derivatives")

    def f(x, y):
        return fnp.sin(x) * y + fnp.exp(x * y)

    x, y = 0.5, 2.0
    dfdx, dfdy = ft.grad(f, argnums=(0, 1))(x, y)
    print(f"  f(x, y) = sin(x) y + exp(x y) at (x, y) = ({x}, {y})")
    print(f"  df/dx = {float(dfdx):.12f}   (cos(x) y + y exp(x y) = "
          f"{np.cos(x) * y + y * np.exp(x * y):.12f})")
    print(f"  df/dy = {float(dfdy):.12f}   (sin(x) + x exp(x y)   = "
          f"{np.sin(x) + x * np.exp(x * y):.12f})")
    value, g = ft.value_and_grad(lambda v: fnp.sum(v * v))(np.arange(3.0))
    print(f"  value_and_grad of sum(v^2) at v = [0, 1, 2]: value {float(value)}, "
          f"gradient {np.asarray(g)}")
    print()


def tanh_derivatives(max_order: int = 4) -> None:
    print(f"Derivatives of tanh up to order {max_order} (grad of grad ..., vmapped over x)")
    xs = np.array([-2.0, -0.5, 0.0, 0.3, 1.0, 2.5])
    fns = [fnp.tanh]
    for _ in range(max_order):
        fns.append(ft.grad(fns[-1]))
    exact = closed_forms(xs)
    header = f"  {'order':>5} {'x':>6} {'autodiff':>22} {'closed form':>22} {'abs error':>10}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    worst = 0.0
    for order in range(1, max_order + 1):
        values = np.asarray(ft.vmap(fns[order])(xs))
        for x, v, e in zip(xs, values, exact[order]):
            err = abs(v - e)
            worst = max(worst, err)
            print(f"  {order:>5} {x:>6.2f} {v:>22.15f} {e:>22.15f} {err:>10.1e}")
    print(f"  largest error over all orders: {worst:.1e}")
    assert worst < 1e-12, worst
    print()
    print("The program of the 2nd derivative, as traced:")
    print(ft.make_jaxpr(fns[2])(0.3))


if __name__ == "__main__":
    first_derivatives()
    tanh_derivatives()
