"""Custom derivative rules with ``custom_vjp``: fixing gradients that overflow or divide 0 by 0.

1. softplus(x) = log(1 + exp(x)). Written naively, exp overflows for large x: the value is inf
   and the gradient exp(x) / (1 + exp(x)) evaluates inf / inf = nan. A stable formula for the
   value plus a custom rule giving the gradient as the logistic sigmoid fixes both.
2. norm(x) = sqrt(sum(x^2)). At x = 0 the chain rule multiplies 1 / (2 sqrt(0)) = inf by 2x = 0
   and returns nan; the custom rule returns the subgradient 0 there.

    python examples/custom_rules.py
"""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

# --- 1. softplus --------------------------------------------------------------------------------


def softplus_naive(x):
    return fnp.log(1.0 + fnp.exp(x))


@ft.custom_vjp
def softplus(x):
    # max(x, 0) + log1p(exp(-|x|)): exp never sees a positive argument, so nothing overflows
    return fnp.maximum(x, 0.0) + fnp.log1p(fnp.exp(-fnp.abs(x)))


def _softplus_fwd(x):
    return softplus(x), x


def _softplus_bwd(x, g):
    return (g * lax.logistic(x),)  # d softplus / dx = sigmoid(x), evaluated stably


softplus.defvjp(_softplus_fwd, _softplus_bwd)


def exact_sigmoid(x: float) -> float:
    return 1 / (1 + np.exp(-x)) if x >= 0 else np.exp(x) / (1 + np.exp(x))


# --- 2. a norm with a gradient at zero --------------------------------------------------------


def norm_naive(x):
    return fnp.sqrt(fnp.sum(x * x))


@ft.custom_vjp
def safe_norm(x):
    return fnp.sqrt(fnp.sum(x * x))


def _safe_norm_fwd(x):
    n = safe_norm(x)
    return n, (x, n)


def _safe_norm_bwd(res, g):
    x, n = res
    nonzero = n > 0
    # the inner where keeps x / n from ever dividing by zero, even in the unused branch
    return (g * fnp.where(nonzero, x / fnp.where(nonzero, n, 1.0), 0.0),)


safe_norm.defvjp(_safe_norm_fwd, _safe_norm_bwd)


def main() -> None:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        print("softplus(x) = log(1 + exp(x)) and its derivative sigmoid(x)")
        header = (f"  {'x':>7} {'naive value':>12} {'naive grad':>11} {'custom value':>13} "
                  f"{'custom grad':>12} {'exact grad':>11}")
        print(header)
        naive_grad, custom_grad = ft.grad(softplus_naive), ft.grad(softplus)
        bad_naive = False
        for x in [-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0]:
            nv, ng = float(softplus_naive(x)), float(naive_grad(x))
            cv, cg = float(softplus(x)), float(custom_grad(x))
            exact = exact_sigmoid(x)
            bad_naive |= not (np.isfinite(nv) and np.isfinite(ng))
            print(f"  {x:>7.0f} {nv:>12.6g} {ng:>11.6g} {cv:>13.6g} {cg:>12.6g} "
                  f"{exact:>11.6g}")
            assert np.isfinite(cv) and abs(cg - exact) <= 1e-15 + 1e-12 * exact
        assert bad_naive
        print("  the naive formula overflows at x = 1000 (value inf, gradient nan); the custom "
              "rule stays exact")
        ft.check_grads(softplus, (np.array([-3.0, 0.5, 4.0]),), order=1, modes=("rev",))
        print("  check_grads against finite differences: ok")
        print()

        print("norm(x) = sqrt(sum(x^2))")
        zero, v = np.zeros(3), np.array([3.0, 0.0, 4.0])
        for name, fn in [("naive", norm_naive), ("custom_vjp", safe_norm)]:
            print(f"  {name:<11} grad at 0: {np.asarray(ft.grad(fn)(zero))}   grad at "
                  f"[3, 0, 4]: {np.asarray(ft.grad(fn)(v))}")
        assert np.isnan(np.asarray(ft.grad(norm_naive)(zero))).all()
        assert np.array_equal(np.asarray(ft.grad(safe_norm)(zero)), zero)
        np.testing.assert_allclose(ft.grad(safe_norm)(v), v / 5.0, rtol=1e-15)
        # it also composes with other transformations: per-row gradients with vmap
        rows = np.array([[0.0, 0.0], [3.0, 4.0]])
        print(f"  vmap(grad(safe_norm)) over rows [[0, 0], [3, 4]]: "
              f"{np.asarray(ft.vmap(ft.grad(safe_norm))(rows)).tolist()}")


if __name__ == "__main__":
    main()
