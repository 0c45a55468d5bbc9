"""Products: dot, matmul, tensordot, einsum, inner, outer, vdot, kron, vecdot, matvec, vecmat.

Everything lowers to ``lax.dot_general`` (whose result axes are: batch, lhs free, rhs free) plus
transposes, reshapes and reductions. Operands are promoted to their common dtype first, as
NumPy does (Python scalars are *not* weak here: ``np.dot(2, x32)`` is float64).
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np

from .. import core, dtypes, lax
from ._base import (
    asarray,
    aval_of,
    broadcast_shapes,
    broadcast_to,
    cast,
    check_unsupported,
    scalarize,
)

__all__ = ["dot", "matmul", "tensordot", "einsum", "inner", "outer", "vdot", "kron", "vecdot",
           "matvec", "vecmat", "cross"]


def _shape(x) -> tuple[int, ...]:
    return aval_of(x).shape


def _promote(*xs, dtype=None, preferred_element_type=None):
    # JAX's preferred_element_type: the result's (and accumulation's) dtype; casting the
    # operands to it first gives the same values and dtype as dot_general's own parameter
    if preferred_element_type is not None:
        dtype = dtypes.check_supported(preferred_element_type, "preferred_element_type")
    xs = [asarray(x) for x in xs]
    dt = np.dtype(dtype) if dtype is not None else dtypes.result_type(*xs)
    return [cast(x, dt) for x in xs]


def _contract(a, b, a_axes: Sequence[int], b_axes: Sequence[int]):
    return lax.dot_general(a, b, ((tuple(a_axes), tuple(b_axes)), ((), ())))


def _multiply(a, b):
    from ._ufuncs import multiply
    return multiply(a, b)


def dot(a, b, out=None, *, precision=None, preferred_element_type=None):
    """``numpy.dot``: sum over the last axis of ``a`` and the second-to-last of ``b``.
    ``precision`` (JAX's) is accepted and ignored on CPU; ``preferred_element_type`` sets the
    result dtype, as in JAX."""
    check_unsupported("dot", out=out)
    a, b = _promote(a, b, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if na == 0 or nb == 0:
        return _multiply(a, b)
    return scalarize(_contract(a, b, (na - 1,), (0 if nb == 1 else nb - 2,)))


def _shapes_note(sa: tuple, sb: tuple) -> str:
    return (f"the operands have shapes {sa} and {sb}: the last axis of the first must match "
            "the second-to-last axis (or only axis) of the second")


def matmul(x1, x2, /, out=None, *, dtype=None, precision=None, preferred_element_type=None,
           **kwargs):
    """``numpy.matmul`` (``@``): matrix products broadcast over leading batch axes.
    ``precision``/``preferred_element_type`` as in ``dot``."""
    check_unsupported("matmul", out=out)
    a, b = _promote(x1, x2, dtype=dtype, preferred_element_type=preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        which = 0 if not sa else 1
        raise ValueError(f"matmul: Input operand {which} does not have enough dimensions")
    if len(sa) == 1 or len(sb) == 1:
        k = sa[-1]
        if sb[-2 if len(sb) > 1 else 0] != k:
            raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, "
                             f"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size "
                             f"{sb[-2 if len(sb) > 1 else 0]} is different from {k}); "
                             f"{_shapes_note(sa, sb)}")
        if len(sa) == 1:  # (k) @ (..., k, m) -> (..., m)
            return scalarize(_contract(a, b, (0,), (len(sb) - 2 if len(sb) > 1 else 0,)))
        return _contract(a, b, (len(sa) - 1,), (0,))  # (..., n, k) @ (k) -> (..., n)
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, with "
                         f"gufunc signature (n?,k),(k,m?)->(n?,m?) (size {sb[-2]} is different "
                         f"from {sa[-1]}); {_shapes_note(sa, sb)}")
    if len(sb) == 2:  # (..., n, k) @ (k, m): the common case of a weight matrix
        return _contract(a, b, (len(sa) - 1,), (0,))
    if len(sa) == 2:  # (n, k) @ (..., k, m) -> (n, ..., m), then move n
        out = _contract(a, b, (1,), (len(sb) - 2,))
        nb = len(sb) - 2
        return lax.transpose(out, tuple(range(1, nb + 1)) + (0, nb + 1))
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    a = broadcast_to(a, batch + sa[-2:])
    b = broadcast_to(b, batch + sb[-2:])
    nb = len(batch)
    return lax.dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))))


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """``numpy.tensordot``: contract ``axes`` (an int N: last N of ``a`` with first N of
    ``b``; or a pair of axis sequences). ``precision``/``preferred_element_type`` as in
    ``dot``."""
    a, b = _promote(a, b, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        a_axes, b_axes = tuple(range(na - n, na)), tuple(range(n))
    else:
        a_axes, b_axes = axes
        a_axes = (a_axes,) if isinstance(a_axes, (int, np.integer)) else tuple(a_axes)
        b_axes = (b_axes,) if isinstance(b_axes, (int, np.integer)) else tuple(b_axes)
        if len(a_axes) != len(b_axes):
            raise ValueError("shape-mismatch for sum")
        a_axes = tuple(int(x) % na for x in a_axes)
        b_axes = tuple(int(x) % nb for x in b_axes)
    for i, j in zip(a_axes, b_axes):
        if _shape(a)[i] != _shape(b)[j]:
            raise ValueError("shape-mismatch for sum")
    return scalarize(_contract(a, b, a_axes, b_axes))


def inner(a, b, /, *, precision=None, preferred_element_type=None):
    """``numpy.inner``: sum over the last axes of both. ``precision``/
    ``preferred_element_type`` as in ``dot``."""
    a, b = _promote(a, b, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if na == 0 or nb == 0:
        return _multiply(a, b)
    return scalarize(_contract(a, b, (na - 1,), (nb - 1,)))


def outer(a, b, out=None):
    """``numpy.outer`` of the flattened inputs."""
    check_unsupported("outer", out=out)
    a, b = _promote(a, b)
    a = lax.reshape(a, (core.get_aval(a).size, 1))
    b = lax.reshape(b, (1, core.get_aval(b).size))
    return _multiply(a, b)


def vdot(a, b, /, *, precision=None, preferred_element_type=None):
    """``numpy.vdot``: dot product of the flattened inputs, the first one conjugated.
    ``precision``/``preferred_element_type`` as in ``dot``."""
    a, b = _promote(a, b, preferred_element_type=preferred_element_type)
    if dtypes.is_complex(core.get_aval(a).dtype):
        a = lax.conj(a)
    a = lax.reshape(a, (core.get_aval(a).size,))
    b = lax.reshape(b, (core.get_aval(b).size,))
    return scalarize(_contract(a, b, (0,), (0,)))


def kron(a, b):
    """``numpy.kron``: the Kronecker product."""
    a, b = _promote(a, b)
    sa, sb = _shape(a), _shape(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a = lax.reshape(a, tuple(v for d in sa for v in (d, 1)))
    b = lax.reshape(b, tuple(v for d in sb for v in (1, d)))
    return lax.reshape(_multiply(a, b), tuple(x * y for x, y in zip(sa, sb)))


def vecdot(x1, x2, /, *, axis=-1, out=None, dtype=None, precision=None,
           preferred_element_type=None):
    """``numpy.vecdot``: dot products of vectors along ``axis`` (real arrays).
    ``precision``/``preferred_element_type`` as in ``dot``."""
    check_unsupported("vecdot", out=out)
    from ._reductions import sum
    a, b = _promote(x1, x2, dtype=dtype, preferred_element_type=preferred_element_type)
    return sum(_multiply(a, b), axis=axis)


def matvec(x1, x2, /, *, out=None, dtype=None):
    """``numpy.matvec``: ``(..., m, n) x (..., n) -> (..., m)``."""
    check_unsupported("matvec", out=out)
    b = asarray(x2)
    out_ = matmul(x1, lax.reshape(b, _shape(b) + (1,)), dtype=dtype)
    return lax.reshape(out_, _shape(out_)[:-1])


def vecmat(x1, x2, /, *, out=None, dtype=None):
    """``numpy.vecmat``: ``(..., n) x (..., n, m) -> (..., m)``."""
    check_unsupported("vecmat", out=out)
    a = asarray(x1)
    out_ = matmul(lax.reshape(a, _shape(a)[:-1] + (1, _shape(a)[-1])), x2, dtype=dtype)
    return lax.reshape(out_, _shape(out_)[:-2] + _shape(out_)[-1:])


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (2-vectors count as having z = 0; two 2-vectors give the z
    component only)."""
    from ._base import broadcast_arrays
    from ._shape import concatenate, moveaxis, stack, take_slice
    from ._ufuncs import subtract
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _promote(a, b)
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if _shape(a)[-1] not in (2, 3) or _shape(b)[-1] not in (2, 3):
        raise ValueError("incompatible dimensions for cross product (dimension must be 2 or 3)")
    planar = _shape(a)[-1] == 2 and _shape(b)[-1] == 2

    def components(x):
        s = _shape(x)
        if s[-1] == 2:
            x = concatenate([x, lax.full(s[:-1] + (1,), 0, core.get_aval(x).dtype)], axis=-1)
        return [lax.reshape(take_slice(x, len(s) - 1, i, i + 1), s[:-1]) for i in range(3)]

    (a0, a1, a2), (b0, b1, b2) = components(a), components(b)
    z = subtract(_multiply(a0, b1), _multiply(a1, b0))
    if planar:
        return z
    x = subtract(_multiply(a1, b2), _multiply(a2, b1))
    y = subtract(_multiply(a2, b0), _multiply(a0, b2))
    return moveaxis(stack(broadcast_arrays(x, y, z), axis=-1), -1, axisc)


# ---------------------------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------------------------

_LETTERS = set(string.ascii_letters)


def _interleaved_to_subscripts(args) -> tuple[str, list]:
    """``einsum(op0, sublist0, op1, sublist1, ..., [out])`` as a subscripts string."""
    args = list(args)
    out_list = args.pop() if len(args) % 2 else None
    ops, subs = args[0::2], args[1::2]

    def term(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[s] for s in sub)

    spec = ",".join(term(s) for s in subs)
    if out_list is not None:
        spec += "->" + term(out_list)
    return spec, ops


def _parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Input terms and output term with '...' replaced by fresh labels, implicit output made
    explicit."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins, out = spec, None
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operand terms in {subscripts!r} but "
                         f"{len(shapes)} operands given")
    used = set(spec) & _LETTERS
    fresh = [c for c in string.ascii_letters[::-1] + "".join(map(chr, range(0x3b1, 0x3ca)))
             if c not in used]
    n_ell = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(s) - (len(t) - 3))
    ell = "".join(fresh[:n_ell])
    new_terms = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            if k < 0:
                raise ValueError(f"einsum: operand has fewer dimensions than term {t!r}")
            t = t.replace("...", ell[n_ell - k:] if k else "")
        if len(t) != len(s) or not set(t) <= (_LETTERS | set(ell)):
            raise ValueError(f"einsum: term {t!r} does not match an operand of shape {s}")
        new_terms.append(t)
    if out is None:
        counts = {}
        for t in new_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscript {out!r} repeats a label")
        missing = set(out) - set("".join(new_terms))
        if missing:
            raise ValueError(f"einsum: output label(s) {sorted(missing)} appear in no input")
    return new_terms, out


def _take_diagonals(x, term: str):
    """Repeated labels within one term select the diagonal (moved to the last axis)."""
    from ._shape import diagonal
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        x = diagonal(x, 0, i, j)
        term = "".join(t for k, t in enumerate(term) if k not in (i, j)) + c
    return x, term


def _sum_out(x, term: str, keep: set):
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    return lax.reduce_sum(x, axes), "".join(c for c in term if c in keep)


def einsum(subscripts, *operands, out=None, dtype=None, order="K", casting="safe",
           optimize=False, precision=None, preferred_element_type=None):
    """``numpy.einsum``: explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) output,
    ``'...'`` broadcasting, repeated labels (diagonals), the interleaved operand/sublist form.
    Contractions are done left to right with ``dot_general``. ``precision``/
    ``preferred_element_type`` as in ``dot``."""
    check_unsupported("einsum", out=out)
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_subscripts((subscripts,) + operands)
    ops = _promote(*operands, dtype=dtype, preferred_element_type=preferred_element_type)
    terms, out_term = _parse(subscripts, [_shape(x) for x in ops])
    sizes: dict[str, int] = {}
    for x, t in zip(ops, terms):
        for c, d in zip(t, _shape(x)):
            prev = sizes.get(c)
            if prev is None or prev == 1:  # size 1 broadcasts (also against a size 0)
                sizes[c] = d
            elif d not in (1, prev):
                raise ValueError(f"einsum: label {c!r} has sizes {prev} and {d}")
    prepared = []
    for i, (x, t) in enumerate(zip(ops, terms)):
        x, t = _take_diagonals(x, t)
        # size-1 axes broadcast against the others' (as with '...')
        target = tuple(sizes[c] for c in t)
        if _shape(x) != target:
            x = lax.broadcast_in_dim(x, target, tuple(range(len(t))))
        later = set(out_term).union(*[set(u) for u in terms[:i] + terms[i + 1:]])
        prepared.append(_sum_out(x, t, later))
    x, t = prepared[0]
    for i, (y, u) in enumerate(prepared[1:], start=1):
        needed = set(out_term).union(*[set(s) for _, s in prepared[i + 1:]])
        shared = [c for c in t if c in u]
        batch = [c for c in shared if c in needed]
        contract = [c for c in shared if c not in needed]
        x = lax.dot_general(x, y, ((tuple(t.index(c) for c in contract),
                                    tuple(u.index(c) for c in contract)),
                                   (tuple(t.index(c) for c in batch),
                                    tuple(u.index(c) for c in batch))))
        t = ("".join(batch) + "".join(c for c in t if c not in shared)
             + "".join(c for c in u if c not in shared))
        x, t = _sum_out(x, t, needed)
    x, t = _sum_out(x, t, set(out_term))
    return scalarize(lax.transpose(x, tuple(t.index(c) for c in out_term)))
