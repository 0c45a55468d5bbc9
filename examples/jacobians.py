"""Jacobians and Hessians of functions of tensors: ``jacfwd``, ``jacrev`` and ``hessian``.

A Jacobian of ``f: R^(in shape) -> R^(out shape)`` has shape ``out.shape + in.shape``.
``jacfwd`` builds it from one vmapped JVP per input direction (cheap when inputs are few),
``jacrev`` from one vmapped VJP per output direction (cheap when outputs are few); both must
agree with each other and with finite differences. ``hessian`` is ``jacfwd(jacrev(f))``.

    python examples/jacobians.py
"""

from __future__ import annotations

import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp

rng = np.random.default_rng(0)


def layer(w, x):
    """A tensor-valued function: a (4, 2) batch of tanh activations of a (3, 2) input."""
    return fnp.tanh(fnp.matmul(w, x))


def energy(w, x):
    """A scalar function of a matrix: its Hessian has shape w.shape + w.shape."""
    return fnp.sum(fnp.log(1.0 + fnp.exp(fnp.matmul(w, x)))) + 0.5 * fnp.sum(w * w)


def report(name: str, jacs: dict[str, np.ndarray], reference: np.ndarray) -> None:
    print(f"{name}")
    for how, j in jacs.items():
        err = np.max(np.abs(j - reference))
        print(f"  {how:<24} shape {str(j.shape):<16} max |difference| vs reference "
              f"{err:.1e}")
        assert j.shape == reference.shape and err < 1e-6, (how, err)


def timed(f, *args):
    t0 = time.perf_counter()
    out = np.asarray(f(*args))
    return out, time.perf_counter() - t0


def main() -> None:
    w = rng.normal(size=(4, 3))
    x = rng.normal(size=(3, 2))

    # d layer / d w: output (4, 2), input (4, 3) -> Jacobian (4, 2, 4, 3)
    j_fwd, t_fwd = timed(ft.jacfwd(layer, argnums=0), w, x)
    j_rev, t_rev = timed(ft.jacrev(layer, argnums=0), w, x)
    numeric = ft.numerical_jacobian(lambda w_: layer(w_, x), w)
    report("Jacobian of tanh(w @ x) with respect to w (4x3) -> output (4x2)",
           {"jacfwd": j_fwd, "jacrev": j_rev, "finite differences": numeric}, j_fwd)
    # only output row i depends on row i of w: the other blocks are exactly zero
    off_diagonal = np.abs(j_fwd[0, :, 1:, :]).max()
    print(f"  block structure: d out[0] / d w[1:] is {off_diagonal} (rows do not mix)")
    print(f"  time: jacfwd {t_fwd * 1e3:.1f} ms, jacrev {t_rev * 1e3:.1f} ms")

    # both arguments at once: a tuple of Jacobians
    jw, jx = ft.jacrev(layer, argnums=(0, 1))(w, x)
    print(f"  argnums=(0, 1): shapes {np.shape(jw)} and {np.shape(jx)}")
    print()

    # Hessian of a scalar function of a matrix: shape (4, 3, 4, 3), symmetric
    h = np.asarray(ft.hessian(energy)(w, x))
    h_rev_rev = np.asarray(ft.jacrev(ft.jacrev(energy))(w, x))
    h_numeric = ft.numerical_jacobian(lambda w_: ft.grad(energy)(w_, x), w)
    report("Hessian of sum(softplus(w @ x)) + |w|^2 / 2 with respect to w",
           {"hessian (fwd over rev)": h, "jacrev(jacrev)": h_rev_rev,
            "finite diff. of grad": h_numeric}, h)
    flat = h.reshape(12, 12)
    print(f"  symmetry: max |H - H^T| = {np.abs(flat - flat.T).max():.1e}")
    eig = np.linalg.eigvalsh(flat)
    print(f"  eigenvalues in [{eig.min():.3f}, {eig.max():.3f}]: positive definite (convex), "
          "as the |w|^2 / 2 term guarantees")
    print()

    # a vector function with a cheap closed form: d/dx (x * sin(x)) is diagonal
    v = np.linspace(0.0, 2.0, 5)
    jv = np.asarray(ft.jacfwd(lambda u: u * fnp.sin(u))(v))
    closed = np.diag(np.sin(v) + v * np.cos(v))
    print(f"Jacobian of x * sin(x), x in R^5: shape {jv.shape}, "
          f"max |difference| vs diag(sin x + x cos x) = {np.abs(jv - closed).max():.1e}")


if __name__ == "__main__":
    main()
