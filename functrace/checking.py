"""Numerical differentiation and gradient checking (``check_grads``, ``numerical_jacobian``).

``check_grads`` compares JVPs against central differences along random directions, and VJPs
against JVPs through the identity <vjp(c), v> = <c, J v>, recursing for higher orders as JAX's
does. It is what the test suite uses to prove every differentiation rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import dtypes
from .tree_util import tree_flatten, tree_map

_DEFAULT_EPS = {np.dtype(np.float32): 3e-3, np.dtype(np.float64): 1e-5,
                np.dtype(np.complex64): 3e-3, np.dtype(np.complex128): 1e-5}
_DEFAULT_TOL = {np.dtype(np.float32): 3e-2, np.dtype(np.float64): 1e-5,
                np.dtype(np.complex64): 3e-2, np.dtype(np.complex128): 1e-5}


def _inexact_leaves(tree) -> list[bool]:
    leaves, _ = tree_flatten(tree)
    return [dtypes.is_inexact(np.asarray(x).dtype) for x in leaves]


def _worst_dtype(trees) -> np.dtype:
    dts = [np.asarray(x).dtype for t in trees for x in tree_flatten(t)[0]
           if dtypes.is_inexact(np.asarray(x).dtype)]
    if not dts:
        return np.dtype(np.float64)
    return max(dts, key=lambda d: np.finfo(d).eps)  # the least precise sets the tolerance


def _random_like(tree, rng: np.random.RandomState):
    def rand(x):
        x = np.asarray(x)
        if not dtypes.is_inexact(x.dtype):
            return np.zeros(x.shape, x.dtype)
        v = rng.standard_normal(x.shape)
        if dtypes.is_complex(x.dtype):
            v = v + 1j * rng.standard_normal(x.shape)
        return np.asarray(v, x.dtype)
    return tree_map(rand, tree)


def _axpy(a: float, x, y):
    return tree_map(lambda xi, yi: (np.asarray(yi) + a * np.asarray(xi)).astype(
        np.asarray(yi).dtype) if dtypes.is_inexact(np.asarray(yi).dtype) else yi, x, y)


def _inner(x, y) -> complex:
    lx, _ = tree_flatten(x)
    ly, _ = tree_flatten(y)
    total = 0.0
    for a, b in zip(lx, ly):
        a, b = np.asarray(a), np.asarray(b)
        if dtypes.is_inexact(a.dtype) and dtypes.is_inexact(b.dtype):
            total += np.vdot(a.astype(np.complex128), b.astype(np.complex128)).real \
                if dtypes.is_complex(a.dtype) or dtypes.is_complex(b.dtype) \
                else float(np.sum(a.astype(np.float64) * b.astype(np.float64)))
    return total


def _conj(tree):
    return tree_map(lambda x: np.conj(x) if np.iscomplexobj(x) else x, tree)


def _assert_close(actual, expected, atol, rtol, what: str) -> None:
    la, ta = tree_flatten(actual)
    le, te = tree_flatten(expected)
    if ta != te:
        raise AssertionError(f"{what}: structures differ: {ta} vs {te}")
    for a, e in zip(la, le):
        a = np.asarray(a)
        e = np.asarray(e)
        if a.shape != e.shape:
            raise AssertionError(f"{what}: shapes differ: {a.shape} vs {e.shape}")
        if not dtypes.is_inexact(a.dtype) and not dtypes.is_inexact(e.dtype):
            continue
        a64, e64 = a.astype(np.complex128), e.astype(np.complex128)
        err = np.abs(a64 - e64)
        bound = atol + rtol * np.abs(e64)
        bad = ~(err <= bound) & ~(np.isnan(a64) & np.isnan(e64))
        if np.any(bad):
            i = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), a.shape) \
                if a.ndim else ()
            raise AssertionError(
                f"{what} does not match: {int(np.sum(bad))} of {a.size} entries differ; worst "
                f"at index {i}: got {a64[i]}, expected {e64[i]} (atol={atol}, rtol={rtol})")


def numerical_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any],
                  eps: float) -> Any:
    """Central difference ``(f(x + eps v) - f(x - eps v)) / (2 eps)`` over pytrees."""
    plus = f(*_axpy(eps, tangents, primals))
    minus = f(*_axpy(-eps, tangents, primals))
    return tree_map(lambda p, m: (np.asarray(p, np.complex128 if np.iscomplexobj(p) else
                                             np.float64) - np.asarray(m)) / (2 * eps), plus,
                    minus)


def check_jvp(f: Callable, f_jvp: Callable, args: Sequence[Any], atol=None, rtol=None,
              eps=None, rng=None) -> None:
    """Check ``f_jvp`` (``jvp``-like) against central differences of ``f`` at ``args``."""
    rng = rng or np.random.RandomState(0)
    dtype = _worst_dtype([args])
    eps = eps or _DEFAULT_EPS.get(dtype, 1e-5)
    atol = _DEFAULT_TOL.get(dtype, 1e-5) if atol is None else atol
    rtol = _DEFAULT_TOL.get(dtype, 1e-5) if rtol is None else rtol
    args = tuple(args)
    tangents = _random_like(args, rng)
    out, tout = f_jvp(args, tangents)
    expected = numerical_jvp(f, args, tangents, eps)
    _assert_close(out, f(*args), atol, rtol, "jvp primal output")
    _assert_close(tout, expected, atol, rtol, "jvp tangent vs. central differences")


def check_vjp(f: Callable, f_vjp: Callable, args: Sequence[Any], atol=None, rtol=None,
              eps=None, rng=None) -> None:
    """Check ``f_vjp`` (``vjp``-like) through <vjp(c), v> = <c, J v> with J v by differences."""
    rng = rng or np.random.RandomState(1)
    dtype = _worst_dtype([args])
    eps = eps or _DEFAULT_EPS.get(dtype, 1e-5)
    atol = _DEFAULT_TOL.get(dtype, 1e-5) if atol is None else atol
    rtol = _DEFAULT_TOL.get(dtype, 1e-5) if rtol is None else rtol
    args = tuple(args)
    out, vjp_fn = f_vjp(*args)
    _assert_close(out, f(*args), atol, rtol, "vjp primal output")
    v = _random_like(args, rng)
    jv = numerical_jvp(f, args, v, eps)
    ct = _random_like(out, rng)
    # vjp is the transpose, not the adjoint: for complex values, <c, J v> under the real inner
    # product Re(vdot) pairs with conj(vjp(conj(c))) (a no-op for real values)
    ct_in = _conj(vjp_fn(_conj(ct)))
    lhs = _inner(ct_in, v)
    rhs = _inner(ct, jv)
    _assert_close(np.asarray(lhs), np.asarray(rhs), atol, rtol,
                  "vjp: <vjp(c), v> vs. <c, J v> by central differences")


def check_grads(f: Callable, args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None) -> None:
    """Check derivatives of ``f`` at ``args`` up to ``order`` in forward and/or reverse mode.

    Raises ``AssertionError`` naming the mode, order and worst mismatch. Tolerances default
    per dtype (float64: 1e-5, float32: 3e-2).
    """
    from .autodiff import jvp, vjp

    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'.")

    def _check(f, args, order, label):
        if "fwd" in modes:
            msg = f"{label}forward mode, order {order}"
            try:
                check_jvp(f, lambda p, t: jvp(f, p, t), args, atol, rtol, eps)
            except AssertionError as e:
                raise AssertionError(f"{msg}: {e}") from None
            if order > 1:
                _check(lambda p, t: jvp(f, p, t), (tuple(args), tuple(args)), order - 1,
                       f"{msg} -> ")
        if "rev" in modes:
            msg = f"{label}reverse mode, order {order}"
            try:
                check_vjp(f, lambda *a: vjp(f, *a), args, atol, rtol, eps)
            except AssertionError as e:
                raise AssertionError(f"{msg}: {e}") from None
            if order > 1:
                def f_vjp(*a):
                    out, vjp_fn = vjp(f, *a)
                    return vjp_fn(out)
                _check(f_vjp, args, order - 1, f"{msg} -> ")

    _check(f, tuple(args), order, "")


def numerical_jacobian(f: Callable, x: Any, method: str = "central", eps: float | None = None
                       ) -> np.ndarray:
    """The Jacobian of ``f`` at array ``x`` by finite differences, shape ``out.shape + x.shape``.

    ``method="central"`` uses one central difference per input entry (error O(eps^2));
    ``"richardson"`` combines steps eps and eps/2 (error O(eps^4)) at twice the cost.
    """
    x = np.asarray(x)
    if not dtypes.is_inexact(x.dtype):
        x = x.astype(np.float64)
    if method not in ("central", "richardson"):
        raise ValueError(f"numerical_jacobian: method must be 'central' or 'richardson', got "
                         f"{method!r}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps) ** (1 / 3 if method == "central" else 1 / 5)
        eps *= max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    f0 = np.asarray(f(x))
    jac = np.zeros(f0.shape + x.shape, np.result_type(f0.dtype, x.dtype, np.float64)
                   if dtypes.is_inexact(f0.dtype) else np.float64)

    def central(i, h):
        e = np.zeros(x.shape, x.dtype)
        e[i] = h
        return (np.asarray(f(x + e), np.float64) - np.asarray(f(x - e), np.float64)) / (2 * h)

    for i in np.ndindex(*x.shape):
        d1 = central(i, eps)
        if method == "richardson":
            d2 = central(i, eps / 2)
            d1 = (4 * d2 - d1) / 3
        jac[(Ellipsis,) + i] = d1
    return jac
