"""Every primitive through the same checks, driven by the records of ``primitive_records.py``.

For each record: values against NumPy (each dtype), ``check_grads`` of order 2 in forward and
reverse mode (differentiable float primitives), ``vmap`` against a Python loop (``in_axes`` 0,
1, -1 and None), the adjoint identity ``<ct, J t> == <J^T ct, t>`` for the operands a
primitive is linear in, and ``jit`` against the reference interpreter (records compiled in
batches, one program per batch and dtype). ``test_every_primitive_has_a_record`` fails when a
primitive is added without a record or a reasoned exclusion below.
"""

from __future__ import annotations

import numpy as np
import pytest
from jit_check import assert_close, interpret
from primitive_records import C64, C128, DEFAULT_TOL, F32, F64, RECORDS, Record

import functrace as ft
from functrace import ad
from functrace.backend import kernels
from functrace.tree_util import tree_flatten

# Primitives with no record, and why: their checks need programs or keys, not operands.
EXCLUDED = {
    # control flow and calls hold sub-programs: tests/test_control_flow.py,
    # test_jit_control_flow.py and test_custom_rules_and_checkpoint.py test them with bodies
    "cond": "control flow (sub-programs)",
    "while": "control flow (sub-programs)",
    "scan": "control flow (sub-programs)",
    "jit_call": "a call of a sub-program",
    "checkpoint": "a call of a sub-program (remat)",
    "custom_jvp_call": "a call with user-given rules",
    "custom_vjp_call": "a call with user-given rules",
    "custom_lin": "internal to custom_vjp's reverse mode",
    "pure_callback": "runs user Python code (tests/test_callbacks.py)",
    "block_program": "made by the backend from elementwise equations (tests/test_blockvm.py)",
    # random bits: checked against known-answer vectors in tests/test_random.py; it is not
    # differentiable and its uint32 key operands have no NumPy twin
    "threefry2x32": "random bits (test_random.py)",
    # general eigenvectors are complex and defined up to a complex scale; the eigenvalues'
    # order is LAPACK's (tests/test_linalg_decomp.py)
    "eig": "no gauge-free output with a NumPy twin",
}

BY_ID = {r.id: r for r in RECORDS}
IDS = list(BY_ID)


def test_every_primitive_has_a_record():
    recorded = {r.name for r in RECORDS}
    names = set(kernels.primitives_by_name())
    missing = sorted(names - recorded - set(EXCLUDED))
    assert not missing, (f"primitives without a test record: {missing}; add a Record to "
                         "tests/primitive_records.py (or, with a reason, to EXCLUDED in "
                         "tests/test_primitive_registry.py)")
    stale = sorted((recorded | set(EXCLUDED)) - names)
    assert not stale, f"records or exclusions for primitives that do not exist: {stale}"
    assert not recorded & set(EXCLUDED), "a primitive is both recorded and excluded"


def test_every_transposable_primitive_has_an_adjoint_check():
    prims = kernels.primitives_by_name()
    unchecked = sorted({r.name for r in RECORDS if prims[r.name] in ad.transpose_rules}
                       - {r.name for r in RECORDS if r.linear or r.linear_reason})
    assert not unchecked, f"linear primitives without an adjoint check: {unchecked}"


def _tol(rec: Record, dtype) -> tuple[float, float]:
    return rec.tol.get(np.dtype(dtype), DEFAULT_TOL.get(np.dtype(dtype), (0.0, 0.0)))


def _leaves(x) -> list[np.ndarray]:
    return [np.asarray(v) for v in tree_flatten(x)[0]]


def _compare(got, want, rec: Record, dtype, what: str) -> None:
    g, w = _leaves(got), _leaves(want)
    assert len(g) == len(w), f"{rec.id} {what}: {len(g)} outputs, expected {len(w)}"
    rtol, atol = _tol(rec, dtype)
    for k, (a, b) in enumerate(zip(g, w)):
        assert_close(a, b.astype(a.dtype) if b.dtype != a.dtype and what != "value" else b,
                     rtol, atol, what=f"{rec.id} {what} output {k}")


@pytest.mark.parametrize("rid", IDS)
def test_values_match_numpy(rid):
    rec = BY_ID[rid]
    for dtype in rec.dtypes:
        args = rec.make_args(dtype)
        got = rec.fn(*args)
        if rec.ref is None:
            with ft.disable_jit():
                want = rec.fn(*args)
        else:
            want = rec.ref(*args)
        _compare(got, want, rec, dtype, "value")


def _grad_argnums(rec: Record, args) -> tuple[int, ...]:
    if rec.grad_argnums is not None:
        return rec.grad_argnums
    return tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")


def _partial(fn, args, argnums):
    def f(*diff):
        full = list(args)
        for i, v in zip(argnums, diff):
            full[i] = v
        return fn(*full)
    return f


GRAD_IDS = [i for i in IDS if BY_ID[i].grad]


@pytest.mark.parametrize("rid", GRAD_IDS)
def test_check_grads(rid):
    rec = BY_ID[rid]
    args = rec.make_args(F64)
    nums = _grad_argnums(rec, args)
    ft.check_grads(_partial(rec.fn, args, nums), [args[i] for i in nums], order=2,
                   modes=["fwd", "rev"])


def _vmap_cases(rec: Record):
    """(in_axes per operand) cases: all at 0, 1, -1 (0 for operands too small), all None
    (with axis_size), and one operand batched at a time with the others None."""
    n = len(rec.args)
    cases = [tuple(ax if ax == 0 or a.shape else 0 for a in rec.args) for ax in (0, 1, -1)]
    cases.append((None,) * n)
    if n >= 2:
        cases += [tuple(1 if j == i and rec.args[j].shape else 0 if j == i else None
                        for j in range(n)) for i in range(n)]
    return list(dict.fromkeys(cases))


VMAP_IDS = [i for i in IDS if BY_ID[i].vmap and BY_ID[i].args]


@pytest.mark.parametrize("rid", VMAP_IDS)
def test_vmap_matches_loop(rid):
    rec = BY_ID[rid]
    dtype = rec.dtypes[0]
    size = 2
    draws = [rec.make_args(dtype, seed) for seed in range(size)]
    for axes in _vmap_cases(rec):
        batched = [draws[0][i] if ax is None else np.stack([d[i] for d in draws], ax)
                   for i, ax in enumerate(axes)]
        got = ft.vmap(rec.fn, in_axes=axes, axis_size=size)(*batched)
        loop = [rec.fn(*[draws[0][i] if ax is None else d[i] for i, ax in enumerate(axes)])
                for d in draws]
        want = [np.stack(outs) for outs in zip(*[_leaves(o) for o in loop])]
        _compare(got, want, rec, dtype, f"vmap in_axes={axes}")


LINEAR_CASES = [(i, k) for i in IDS for k in BY_ID[i].linear]


def _inner(a, b) -> float:
    # JAX's convention for complex values: the cotangent pairs with the tangent by the real
    # part of the unconjugated product (the transpose of ``imag`` is ``-1j * ct``)
    return float(sum(np.real(np.sum(x * y)) for x, y in zip(_leaves(a), _leaves(b))))


@pytest.mark.parametrize(("rid", "argnum"), LINEAR_CASES)
def test_adjoint_identity(rid, argnum):
    rec = BY_ID[rid]
    dtype = next((d for d in rec.dtypes if np.dtype(d) in (F64, C128)), rec.dtypes[0])
    args = rec.make_args(dtype)
    f = _partial(rec.fn, args, (argnum,))
    x = args[argnum]
    rng = np.random.default_rng(7)
    t = rec.make_args(dtype, seed=3)[argnum] + 0 * x
    y, jt = ft.jvp(f, (x,), (t,))
    ct = [(rng.standard_normal(np.shape(v)) + (1j * rng.standard_normal(np.shape(v))
                                                if np.iscomplexobj(v) else 0)).astype(v.dtype)
          for v in _leaves(y)]
    ct = ct[0] if not isinstance(y, (tuple, list)) else type(y)(ct)
    _, pull = ft.vjp(f, x)
    (jtct,) = pull(ct)
    lhs, rhs = _inner(ct, jt), _inner(jtct, t)
    single = any(v.dtype in (F32, C64) for v in _leaves((x, y)))
    rtol = 1e-5 if single else 1e-10
    assert np.isclose(lhs, rhs, rtol=rtol, atol=rtol * 1e-2), f"{rid} arg {argnum}: {lhs} != {rhs}"


# jit against the interpreter: the records compiled together, a few programs per dtype slot
BATCH = 40
JIT_BATCHES = [IDS[i:i + BATCH] for i in range(0, len(IDS), BATCH)]


def _jit_dtypes(rec: Record) -> tuple:
    return rec.dtypes if rec.jit_dtypes is None else rec.jit_dtypes


@pytest.mark.parametrize("slot", [0, 1])
@pytest.mark.parametrize("batch", range(len(JIT_BATCHES)))
def test_jit_matches_interpreter(batch, slot):
    recs = [BY_ID[i] for i in JIT_BATCHES[batch] if slot < len(_jit_dtypes(BY_ID[i]))]
    dtypes = [_jit_dtypes(r)[slot] for r in recs]
    arglists = tuple(tuple(r.make_args(d)) for r, d in zip(recs, dtypes))

    def program(arglists):
        return [r.fn(*a) for r, a in zip(recs, arglists)]

    got = ft.jit(program)(arglists)
    want = interpret(program, arglists)
    for r, d, g, w in zip(recs, dtypes, got, want):
        rtol, atol = _tol(r, d)
        # the backend may use its own vectorised elementary functions: a few ulps apart
        if np.dtype(d) in (F32, C64):
            rtol, atol = max(rtol, 2e-6), max(atol, 1e-7)
        else:
            rtol, atol = max(rtol, 1e-12), max(atol, 1e-14)
        for k, (a, b) in enumerate(zip(_leaves(g), _leaves(w))):
            assert_close(a, b, rtol, atol, what=f"{r.id} ({np.dtype(d).name}) jit output {k}")
