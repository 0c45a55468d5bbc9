"""``ravel_pytree``: a pytree of arrays as one flat vector, and back (``jax.flatten_util``).

Optimisers and solvers written for a vector (``scipy.optimize``-style code, Newton steps,
Hessians of a whole parameter set) use it to work on a model's parameter tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import core
from . import numpy as fnp
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["ravel_pytree"]


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(flat, unravel)``: the leaves of ``pytree`` raveled and concatenated into one 1-D array,
    and the function mapping such a vector back to a pytree of the same structure, shapes and
    dtypes (JAX's ``jax.flatten_util.ravel_pytree``).

    ``flat`` has the promoted dtype of the leaves (``fnp.result_type``; Python scalars are weak
    and adapt, so float32 leaves with a Python float give float32; an empty tree gives a
    float64 vector of length 0). ``unravel`` casts each piece back to its leaf's dtype; it
    needs a 1-D array of ``flat``'s length and dtype (``ValueError``/``TypeError`` otherwise).
    Both trace, so ``grad``/``vmap``/``jit`` go through them.
    """
    leaves, treedef = tree_flatten(pytree)
    arrays = [fnp.asarray(x) for x in leaves]
    avals = [core.get_aval(a) for a in arrays]
    shapes = [a.shape for a in avals]
    flat_dtype = np.dtype(fnp.result_type(*leaves)) if leaves else np.dtype(np.float64)
    # a Python scalar leaf is weakly typed: it comes back in the vector's dtype, as in JAX
    dtypes_ = [flat_dtype if core.get_aval(x).weak_type else a.dtype
               for x, a in zip(leaves, avals)]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    total = sum(sizes)
    if arrays:
        flat = fnp.concatenate([fnp.ravel(a).astype(flat_dtype) for a in arrays])
    else:
        flat = np.zeros(0, flat_dtype)

    def unravel(vector: Any) -> Any:
        v = fnp.asarray(vector)
        aval = core.get_aval(v)
        if aval.shape != (total,):
            raise ValueError(f"unravel: expected a 1-D array of length {total} (the size of the "
                             f"raveled pytree), got shape {aval.shape}.")
        if aval.dtype != flat_dtype:
            raise TypeError(f"unravel: expected an array of dtype {flat_dtype.name} (the "
                            f"raveled pytree's), got {aval.dtype.name}; cast it first.")
        pieces, start = [], 0
        for shape, dt, size in zip(shapes, dtypes_, sizes):
            piece = fnp.reshape(v[start:start + size], shape)
            start += size
            if dt != flat_dtype:
                # complex -> real keeps the real part, as JAX does, without NumPy's warning
                piece = fnp.real(piece) if (np.issubdtype(flat_dtype, np.complexfloating)
                                            and not np.issubdtype(dt, np.complexfloating)) \
                    else piece
                piece = piece.astype(dt)
            pieces.append(piece)
        return tree_unflatten(treedef, pieces)

    return flat, unravel
