"""Helpers shared by the end-to-end programs: numerical gradients of pytree-valued parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import functrace as ft
from functrace.flatten_util import ravel_pytree


def assert_grad_matches_numerical(loss: Callable[[Any], Any], params: Any, grads: Any,
                                  rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """``grads`` (a pytree like ``params``) equals the central-difference gradient of the
    scalar ``loss`` at ``params``, entry by entry up to ``rtol`` of the largest entry."""
    flat, unravel = ravel_pytree(params)
    flat = np.asarray(flat, np.float64)
    want = ft.numerical_jacobian(lambda v: np.asarray(loss(unravel(v)), np.float64), flat,
                                 method="richardson")
    got = np.asarray(ravel_pytree(grads)[0], np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(float(np.max(np.abs(want))), 1.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol + rtol * scale)
