"""How each primitive is lowered by the Numba backend, keyed by primitive.

Kept free of Numba imports so that defining a primitive never pays for importing Numba.

``scalar_lowerings[p]`` turns an elementwise primitive into a scalar expression:
``fn(args: list[str], in_dtypes, out_dtype, **params) -> str`` where ``args`` are the operands'
expressions. Elementwise primitives lowered this way are fused into loop nests.

The backend's other tables (filled by ``backend/kernels.py``; primitive modules may register
their own entries too):

``view_lowerings[p]``: primitives that only move or select elements (broadcast, transpose,
    slice, pad, ...). ``fn(eqn, idx, read) -> str`` gives the output element at index ``idx``
    (one index expression per output axis) with ``read(k, operand_idx)`` reading operand ``k``;
    fused programs read through them, so they never allocate.
``reduce_lowerings[p]``: reductions fused into the loop nest that produces their operand.
``kernel_lowerings[p]``: whole-array kernels (``dot_general``, cumulative sums, ...) emitting
    statements; see ``kernels.py`` for the interface.
``call_params[p]``: primitives whose meaning is "run the ClosedJaxpr in this parameter on my
    inputs" (``jit_call``, custom derivative wrappers, ``checkpoint``): the backend inlines them.
``subjaxpr_lowerings[p]``: the hook for control flow (``cond``, ``while``, ``scan``): a function
    ``fn(codegen, eqn, in_names, out_names) -> list of lines`` that may compile the ClosedJaxprs
    in its params with ``codegen.lower_subprogram``. Without an entry such a primitive runs with
    its NumPy implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import Primitive

scalar_lowerings: dict[Primitive, Callable[..., str]] = {}
view_lowerings: dict[Primitive, Callable[..., str]] = {}
reduce_lowerings: dict[Primitive, Any] = {}
kernel_lowerings: dict[Primitive, Callable[..., Any]] = {}
call_params: dict[Primitive, str] = {}
subjaxpr_lowerings: dict[Primitive, Callable[..., Any]] = {}


def defscalar(primitive: Primitive, template: str | Callable[..., str]) -> None:
    """Register a scalar expression: a format string over ``{0}``, ``{1}``... or a function."""
    if isinstance(template, str):
        fmt = template

        def lower(args, in_dtypes, out_dtype, **params):
            return fmt.format(*args, **params)

        scalar_lowerings[primitive] = lower
    else:
        scalar_lowerings[primitive] = template


def defcall(primitive: Primitive, param: str = "call_jaxpr") -> None:
    """Declare that ``primitive`` just runs the ClosedJaxpr ``params[param]`` on its inputs."""
    call_params[primitive] = param
