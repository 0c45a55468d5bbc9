"""Functions built on ``vmap``, as in JAX: ``vectorize`` (with ``excluded`` and gufunc
``signature``), ``apply_along_axis``, ``apply_over_axes`` and ``fromfunction`` (which, unlike
NumPy, calls the function on scalar indices).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable

import numpy as np

from ._base import asarray, aval_of, broadcast_shapes, normalize_axis
from ._shape import expand_dims, moveaxis, reshape, transpose

__all__ = ["vectorize", "apply_along_axis", "apply_over_axes", "fromfunction"]


# ---------------------------------------------------------------------------------------------
# vmap-based helpers
# ---------------------------------------------------------------------------------------------

_CORE = r"\((?:\w+(?:,\w+)*)?\)"
_SIGNATURE = re.compile(rf"^{_CORE}(?:,{_CORE})*->{_CORE}(?:,{_CORE})*$")


def _parse_signature(signature: str):
    sig = re.sub(r"\s+", "", signature)
    if not _SIGNATURE.match(sig):
        raise ValueError(f"not a valid gufunc signature: {signature}")
    ins, outs = sig.split("->")
    parse = lambda part: [tuple(re.findall(r"\w+", c)) for c in re.findall(_CORE, part)]  # noqa
    return parse(ins), parse(outs)


def _tree_map(fn, tree):
    from ..tree_util import tree_map
    return tree_map(fn, tree)


def vectorize(pyfunc: Callable, *, excluded=frozenset(), signature: str | None = None):
    """``numpy.vectorize`` built on ``vmap`` (JAX's ``jnp.vectorize``): ``pyfunc`` is written
    for one element (or for the core dimensions of ``signature``, e.g. ``"(n),(n)->()"``) and
    mapped over the broadcast leading dimensions. ``excluded`` positions/names are passed
    through unchanged."""
    if not callable(pyfunc):
        raise TypeError("vectorize: pyfunc must be callable")
    for e in excluded:
        if not isinstance(e, (int, str)):
            raise TypeError(f"excluded must be a set of ints and strings, got {e!r}")
    parsed = _parse_signature(signature) if signature is not None else None

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        pos = [i for i in range(len(args)) if i not in excluded]
        names = [k for k in kwargs if k not in excluded]
        if parsed is not None and names:
            raise TypeError("vectorize with a signature: pass the vectorised arguments "
                            "positionally (or exclude the keyword ones)")
        values = [asarray(args[i]) for i in pos] + [asarray(kwargs[k]) for k in names]
        in_core = parsed[0] if parsed is not None else [()] * len(values)
        if len(in_core) != len(values):
            raise TypeError(f"wrong number of positional arguments: expected {len(in_core)}, "
                            f"got {len(values)}")
        sizes: dict[str, int] = {}
        leads = []
        for v, dims in zip(values, in_core):
            shape = aval_of(v).shape
            if len(shape) < len(dims):
                raise ValueError(f"input with shape {shape} does not have enough dimensions "
                                 f"for its core dimensions {dims}")
            lead, core_shape = shape[:len(shape) - len(dims)], shape[len(shape) - len(dims):]
            for name, size in zip(dims, core_shape):
                if sizes.setdefault(name, size) != size:
                    raise ValueError(f"inconsistent size for core dimension {name!r}: "
                                     f"{size} vs {sizes[name]}")
            leads.append(lead)
        bshape = broadcast_shapes(*leads)
        nb = len(bshape)
        mapped = [d for d in range(nb) if bshape[d] != 1]
        batched = []
        prepared = []
        for v, lead in zip(values, leads):
            padded = (1,) * (nb - len(lead)) + lead
            flags = [padded[d] != 1 for d in mapped]
            core_shape = aval_of(v).shape[len(lead):]
            keep = tuple(padded[d] for d in mapped if padded[d] != 1)
            prepared.append(reshape(v, keep + core_shape))
            batched.append(flags)

        def call(*vals):
            new_args = list(args)
            for i, val in zip(pos, vals):
                new_args[i] = val
            new_kwargs = dict(kwargs)
            for k, val in zip(names, vals[len(pos):]):
                new_kwargs[k] = val
            out = pyfunc(*new_args, **new_kwargs)
            if parsed is not None:
                _check_outputs(out, parsed[1], sizes)
            return out

        from ..batching import vmap
        f = call
        for level in reversed(range(len(mapped))):
            f = vmap(f, in_axes=tuple(0 if flags[level] else None for flags in batched))
        out = f(*prepared)

        def restore(o):
            o = asarray(o)
            return reshape(o, bshape + aval_of(o).shape[len(mapped):])
        return _tree_map(restore, out)

    return wrapped


def _check_outputs(out, out_core, sizes) -> None:
    outs = out if len(out_core) != 1 else (out,)
    if not isinstance(outs, (tuple, list)) or len(outs) != len(out_core):
        raise ValueError(f"vectorize: the function returned {out!r}, but the signature "
                         f"declares {len(out_core)} output(s)")
    for o, dims in zip(outs, out_core):
        shape = aval_of(asarray(o)).shape
        if len(shape) != len(dims):
            raise ValueError(f"vectorize: output shape {shape} does not match the core "
                             f"dimensions {dims} of the signature")
        for name, size in zip(dims, shape):
            if sizes.setdefault(name, size) != size:
                raise ValueError(f"vectorize: inconsistent size for core dimension {name!r} "
                                 f"in an output: {size} vs {sizes[name]}")


def apply_along_axis(func1d: Callable, axis: int, arr, *args, **kwargs):
    """``numpy.apply_along_axis`` by ``vmap``: ``func1d`` gets 1-D slices along ``axis``; its
    output dimensions replace that axis."""
    from ..batching import vmap
    arr = asarray(arr)
    nd = aval_of(arr).ndim
    ax = normalize_axis(axis, nd)
    def f(x):
        return func1d(x, *args, **kwargs)

    for _ in range(nd - 1):
        f = vmap(f)
    out = asarray(f(moveaxis(arr, ax, -1)))
    out_nd = aval_of(out).ndim
    lead = list(range(nd - 1))
    core_axes = list(range(nd - 1, out_nd))
    return transpose(out, lead[:ax] + core_axes + lead[ax:])


def apply_over_axes(func: Callable, a, axes):
    """``numpy.apply_over_axes``: ``a = func(a, axis)`` for each axis in turn, keeping the
    number of dimensions (a reduced axis is re-inserted with length one)."""
    a = asarray(a)
    for axis in (axes if isinstance(axes, (list, tuple)) else (axes,)):
        nd = aval_of(a).ndim
        b = asarray(func(a, axis))
        if aval_of(b).ndim == nd:
            a = b
        elif aval_of(b).ndim == nd - 1:
            a = expand_dims(b, normalize_axis(axis, nd))
        else:
            raise ValueError("function is not returning an array of the correct shape")
    return a


def fromfunction(function: Callable, shape, *, dtype=float, **kwargs):
    """``numpy.fromfunction`` the JAX way: ``function`` is called on scalar indices under
    ``vmap`` (so it may be any traceable function of scalars)."""
    from ..batching import vmap
    shape = tuple(operator.index(d) for d in (shape if isinstance(shape, (tuple, list))
                                              else (shape,)))
    f = functools.partial(function, **kwargs) if kwargs else function
    n = len(shape)
    for i in reversed(range(n)):
        f = vmap(f, in_axes=tuple(0 if j == i else None for j in range(n)))
    return f(*[np.arange(s, dtype=dtype) for s in shape])

