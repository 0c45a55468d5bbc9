"""Sensitivity analysis of a dose-response model with ``grad``, ``vmap`` and ``hessian``.

Three ingredients are mixed: two agonists A and B acting on the same receptor (B is 40% as
potent as A, so the effective dose is the weighted mixture m = w_A d_A + w_B d_B) and a
competitive antagonist C, which raises the half-maximal dose EC50 to EC50 (1 + d_C / K_C). The
response is a Hill function of the mixture:

    R(d) = E_max u^n / (1 + u^n),   u = m / (EC50 (1 + d_C / K_C))

``grad`` gives the sensitivity dR/dd_i of the response to each dose in one backward pass; the
elasticities (d_i / R) dR/dd_i say which ingredient the response is most sensitive to in
relative terms. Both are checked against the chain rule worked out by hand.

    python examples/sensitivity.py
"""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp

E_MAX, EC50, HILL_N = 100.0, 10.0, 1.8  # % of maximal effect, mg, Hill coefficient
POTENCY = np.array([1.0, 0.4, 0.0])  # A, B are agonists; C does not activate
K_C = 5.0  # mg of C that doubles EC50
NAMES = ["A (agonist)", "B (weak agonist)", "C (antagonist)"]


def response(doses):
    """Response (% of E_max) to the dose vector ``doses`` = (d_A, d_B, d_C) in mg."""
    mixture = fnp.sum(POTENCY * doses)
    ec50 = EC50 * (1.0 + doses[2] / K_C)
    u_n = (mixture / ec50) ** HILL_N
    return E_MAX * u_n / (1.0 + u_n)


def chain_rule(d: np.ndarray) -> np.ndarray:
    """dR/dd by hand: dR/du * du/dd_i."""
    m = POTENCY @ d
    ec50 = EC50 * (1 + d[2] / K_C)
    u = m / ec50
    dr_du = E_MAX * HILL_N * u ** (HILL_N - 1) / (1 + u ** HILL_N) ** 2
    du_dd = np.array([POTENCY[0] / ec50, POTENCY[1] / ec50, -u / (K_C + d[2])])
    return dr_du * du_dd


def main() -> None:
    doses = np.array([6.0, 10.0, 2.0])
    r = float(response(doses))
    sens = np.asarray(ft.grad(response)(doses))
    by_hand = chain_rule(doses)
    elasticity = doses * sens / r
    print(f"Doses (mg): A={doses[0]}, B={doses[1]}, C={doses[2]}  ->  response {r:.3f} % "
          "of maximum")
    print()
    print(f"  {'ingredient':<18} {'dR/dd (grad)':>14} {'chain rule':>14} {'elasticity':>11}")
    for name, s, h, e in zip(NAMES, sens, by_hand, elasticity):
        print(f"  {name:<18} {s:>14.6f} {h:>14.6f} {e:>11.4f}")
    assert np.allclose(sens, by_hand, rtol=1e-12)
    u_n = (POTENCY @ doses / (EC50 * (1 + doses[2] / K_C))) ** HILL_N
    print(f"  elasticities of A and B sum to n / (1 + u^n) = {HILL_N / (1 + u_n):.4f} "
          f"(got {elasticity[0] + elasticity[1]:.4f}): the mixture is what matters")
    most = NAMES[int(np.argmax(np.abs(elasticity)))]
    print(f"  a 1% change in the dose of {most} moves the response most "
          f"({np.max(np.abs(elasticity)):.2f}%)")
    print()

    # sensitivity to A along a range of doses: vmap over the dose grid
    grid = np.stack([np.linspace(0.5, 40.0, 8), np.full(8, 10.0), np.full(8, 2.0)], axis=1)
    responses = np.asarray(ft.vmap(response)(grid))
    sens_grid = np.asarray(ft.vmap(ft.grad(response))(grid))
    print("Sensitivity to A across doses of A (B = 10 mg, C = 2 mg), one vmapped grad:")
    print(f"  {'d_A':>6} {'response':>9} {'dR/dd_A':>9} {'dR/dd_C':>9}")
    for d, rr, s in zip(grid, responses, sens_grid):
        print(f"  {d[0]:>6.1f} {rr:>9.2f} {s[0]:>9.4f} {s[2]:>9.4f}")
    assert np.allclose(sens_grid, np.stack([chain_rule(d) for d in grid]), rtol=1e-10)
    print()

    # interactions: mixed second derivatives
    h = np.asarray(ft.hessian(response)(doses))
    print("Interactions (Hessian d2R / dd_i dd_j):")
    for name, row in zip(NAMES, h):
        print(f"  {name:<18} " + " ".join(f"{v:>10.5f}" for v in row))
    print(f"  d2R/dd_A dd_C = {h[0, 2]:.5f}: the antagonist "
          f"{'weakens' if h[0, 2] < 0 else 'strengthens'} the effect of extra A")
    assert np.allclose(h, h.T, atol=1e-12)


if __name__ == "__main__":
    main()
