"""How each primitive is lowered by the Numba backend, keyed by primitive.

Kept free of Numba imports so that defining a primitive never pays for importing Numba.

``scalar_lowerings[p]`` turns an elementwise primitive into a scalar expression:
``fn(args: list[str], in_dtypes, out_dtype, **params) -> str`` where ``args`` are the operands'
expressions. Elementwise primitives lowered this way are fused into loop nests.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import Primitive

scalar_lowerings: dict[Primitive, Callable[..., str]] = {}


def defscalar(primitive: Primitive, template: str | Callable[..., str]) -> None:
    """Register a scalar expression: a format string over ``{0}``, ``{1}``... or a function."""
    if isinstance(template, str):
        fmt = template

        def lower(args, in_dtypes, out_dtype, **params):
            return fmt.format(*args, **params)

        scalar_lowerings[primitive] = lower
    else:
        scalar_lowerings[primitive] = template
