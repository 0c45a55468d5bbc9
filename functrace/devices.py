"""JAX's device-placement calls, for code written against them: functrace runs on the one CPU
it is on, and its results are ready when a call returns, so these are (near) identities."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tree_util import tree_map


def block_until_ready(x: Any) -> Any:
    """``x`` itself: functrace computes synchronously, so every result is already ready."""
    return x


def device_put(x: Any, device: Any = None) -> Any:
    """The arrays of pytree ``x`` as ``Array``s (no copy for NumPy arrays); ``device`` is
    accepted and ignored (there is one device, the CPU)."""
    from .numpy import asarray
    return tree_map(asarray, x)


def device_get(x: Any) -> Any:
    """The arrays of pytree ``x`` as plain NumPy arrays."""
    return tree_map(np.asarray, x)


def devices() -> list[str]:
    """The devices functrace computes on: the host CPU."""
    return ["cpu"]
