"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``, ``map``.

The user's functions are traced once into sub-jaxprs held in the params of one equation
(``cond``, ``while``, ``scan``), so a loop of a million steps is one equation whatever its trip
count. Each primitive's module documents its param layout and holds all its rules: the NumPy
reference implementation (a Python loop over the sub-jaxpr), the type rule, forward mode,
partial evaluation and transposition (reverse mode) and batching.
"""

from __future__ import annotations

from .cond import cond, cond_p, switch  # noqa: F401
from .loops import fori_loop, while_loop, while_p  # noqa: F401
from .scan import map, scan, scan_p  # noqa: A004, F401 - map is JAX's name

# What ``functrace.lax`` re-exports; the primitives are importable from here.
__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]
