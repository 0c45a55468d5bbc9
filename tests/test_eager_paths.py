"""The eager shortcuts (no ``jit``) give exactly what the general paths give.

* integer/boolean ufuncs on plain values call NumPy's ufunc directly (``_ufuncs._direct``):
  compared bit for bit, dtype and type included, with the primitive path on edge values;
* ``x[int_array, int_array]`` builds its gather without parsing: compared with NumPy and, under
  ``value_and_grad``, with the same index written as a list (the general path);
* the gather/scatter impls' flat-index forms: compared with the per-column reference forms.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.core import impl_rules
from functrace.numpy import _ufuncs
from functrace.ops import indexing as ops_indexing

DIRECT = ["negative", "positive", "absolute", "sign", "floor", "ceil", "trunc", "rint",
          "logical_not", "invert", "add", "subtract", "multiply", "floor_divide", "remainder",
          "fmod", "maximum", "minimum", "fmax", "fmin", "equal", "not_equal", "less",
          "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_xor",
          "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift"]
DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_]


def _edge_values(dtype) -> list:
    if dtype == np.bool_:
        return [False, True]
    info = np.iinfo(dtype)
    vals = [0, 1, 2, 3, 7, info.max, info.max - 1, info.min, info.min + 1]
    if info.min < 0:
        vals += [-1, -2, -3, -7]
    return vals


@st.composite
def _operand(draw, dtype):
    kind = draw(st.sampled_from(["array", "scalar", "pyint"] if dtype != np.bool_
                                else ["array", "scalar"]))
    vals = _edge_values(dtype)
    if kind == "array":
        n = draw(st.integers(0, 6))
        return np.array([draw(st.sampled_from(vals)) for _ in range(n)], dtype)
    if kind == "scalar":
        return dtype(draw(st.sampled_from(vals)))
    return draw(st.sampled_from([0, 1, 2, 3, 5, -1, -3, 100, 300, -300, 2 ** 40]))


def _both(fn, *args):
    """(direct result, primitive-path result); either may be an exception type."""
    outs = []
    for enabled in (True, False):
        _ufuncs.direct_enabled = enabled
        try:
            with np.errstate(all="ignore"):  # (the primitive path warns for 0-d 0 divisors)
                outs.append(fn(*args))
        except Exception as e:  # noqa: BLE001 - compared below
            outs.append(type(e))
        finally:
            _ufuncs.direct_enabled = True
    return outs


def _same(a, b) -> bool:
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    if type(a) is not type(b):
        return False
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.data())
def test_direct_integer_ufuncs_match_primitive_path(data):
    name = data.draw(st.sampled_from(DIRECT))
    fn = getattr(fnp, name)
    d1 = data.draw(st.sampled_from(DTYPES))
    args = [data.draw(_operand(d1))]
    if getattr(np, name).nin == 2:
        d2 = data.draw(st.sampled_from([d1] + DTYPES))
        args.append(data.draw(_operand(d2)))
        if all(isinstance(a, np.ndarray) for a in args) and args[0].shape != args[1].shape:
            args[1] = args[1][:1] if args[1].size else args[1]
    direct, prim = _both(fn, *args)
    assert _same(direct, prim), (name, args, direct, prim)
    if not isinstance(direct, type):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # NumPy's warnings (0 divisors) stay inside
            _ufuncs._direct(getattr(np, name), tuple(args))


@pytest.mark.parametrize("name", ["remainder", "floor_divide", "fmod"])
def test_direct_zero_divisors_and_int_min(name):
    fn = getattr(fnp, name)
    for dt in (np.int8, np.int64):
        lo = np.iinfo(dt).min
        a = np.array([lo, lo, -7, 7, 0, -1, 5], dt)
        b = np.array([-1, 0, 0, -2, 0, lo, 3], dt)
        direct, prim = _both(fn, a, b)
        assert _same(direct, prim), (name, dt, direct, prim)
        np.testing.assert_array_equal(direct, getattr(np, name)(a, b) if name != "floor_divide"
                                      else prim)


def test_direct_path_is_taken_and_stays_out_of_staging():
    calls = []
    orig = _ufuncs._direct

    def spy(ufunc, args):
        out = orig(ufunc, args)
        calls.append(out is not _ufuncs._NOT_DIRECT)
        return out

    _ufuncs._direct = spy
    try:
        a = np.arange(-5, 5)
        out = fnp.mod(a, 3)
        assert calls == [True]
        np.testing.assert_array_equal(out, np.mod(a, 3))
        calls.clear()
        fnp.mod(np.arange(4.0), 3)  # a float loop: the primitive path
        assert calls == [False]
        calls.clear()
        # staged: the constant arithmetic becomes equations of the program
        jaxpr = ft.make_jaxpr(lambda x: x + fnp.mod(np.arange(4), 3))(np.zeros(4, np.int64))
        assert calls == [False] and "rem" in str(jaxpr)
    finally:
        _ufuncs._direct = orig


def test_direct_path_keeps_python_int_errors():
    with pytest.raises(OverflowError):
        fnp.add(np.arange(3, dtype=np.int8), 300)
    np.testing.assert_array_equal(fnp.add(np.arange(3, dtype=np.int8), 100),
                                  np.arange(3, dtype=np.int8) + 100)


# --- x[int_array, int_array] ------------------------------------------------------------------

_RNG = np.random.default_rng(0)
_F = _RNG.normal(size=(6, 5, 3))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_static_int_array_index_matches_numpy_and_general_path(k):
    idx = tuple(_RNG.integers(-_F.shape[i], _F.shape[i], size=(4, 7)) for i in range(k))
    out = fnp.asarray(_F)[idx]
    assert np.asarray(out).tobytes() == _F[idx].tobytes() and out.shape == _F[idx].shape

    def loss(f, as_list):
        ix = tuple(i.tolist() for i in idx) if as_list else idx
        return fnp.sum(fnp.sin(f[ix]) * np.arange(_F[idx].size).reshape(_F[idx].shape))

    v1, g1 = ft.value_and_grad(loss)(_F, False)
    v2, g2 = ft.value_and_grad(loss)(_F, True)
    assert v1 == v2 and g1.tobytes() == g2.tobytes()


def test_static_int_array_index_errors():
    with pytest.raises(IndexError, match="index 6 is out of bounds for axis 0 with size 6"):
        fnp.asarray(_F)[np.array([0, 6]), np.array([1, 1])]
    with pytest.raises(IndexError, match="index -7 is out of bounds for axis 0 with size 6"):
        ft.grad(lambda f: fnp.sum(f[np.array([-7]), np.array([0])]))(_F)
    with pytest.raises(IndexError, match="too many indices"):
        fnp.asarray(_F)[(np.array([0]),) * 4]


def _gather_reference(operand, indices, axes):
    sizes = [operand.shape[a] for a in axes]
    return ops_indexing._axes_first(operand, axes)[
        ops_indexing._index_columns(indices, sizes, clip=True)]


def _scatter_reference(ufunc, operand, indices, updates, axes):
    out = np.array(operand, copy=True)
    sizes = [operand.shape[a] for a in axes]
    ok = np.ones(indices.shape[:-1], bool)
    for k, n in enumerate(sizes):
        ok &= (indices[..., k] >= 0) & (indices[..., k] < n)
    cols = ops_indexing._index_columns(indices, sizes, clip=False)
    if not ok.all():
        cols, updates = tuple(c[ok] for c in cols), updates[ok]
    ufunc.at(ops_indexing._axes_first(out, axes), cols, updates)
    return out


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data())
def test_gather_and_scatter_impls_match_reference(data):
    nd = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    k = data.draw(st.integers(1, nd))
    axes = tuple(data.draw(st.permutations(range(nd)))[:k]) if data.draw(st.booleans()) \
        else tuple(range(k))
    batch = tuple(data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 2))))
    dt = data.draw(st.sampled_from([np.int64, np.int32, np.int8, np.uint8]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    indices = rng.integers(-2 if dt != np.uint8 else 0, 6, batch + (k,)).astype(dt)
    operand = rng.normal(size=shape)
    if data.draw(st.booleans()):
        operand = np.asfortranarray(operand)
    got = impl_rules[ops_indexing.gather_p](operand, indices, axes=axes)
    want = _gather_reference(operand, indices, axes)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    updates = rng.normal(size=want.shape)
    for prim, ufunc in [(ops_indexing.scatter_add_p, np.add),
                        (ops_indexing.scatter_mul_p, np.multiply)]:
        got = impl_rules[prim](operand, indices, updates, axes=axes)
        want = _scatter_reference(ufunc, operand, indices, updates, axes)
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("idx", [None, (None,), (slice(None), None), (None, Ellipsis),
                                 (Ellipsis, None), (None, slice(None), None, Ellipsis, None),
                                 (slice(None),) * 3 + (None,), (Ellipsis, None, slice(None))])
def test_new_axes_index_matches_numpy_and_reshape(idx):
    want = _F[idx]
    out = fnp.asarray(_F)[idx]
    assert out.shape == want.shape and np.asarray(out).tobytes() == want.tobytes()
    w = np.arange(want.size, dtype=float).reshape(want.shape)
    v1, g1 = ft.value_and_grad(lambda f: fnp.sum(fnp.sin(f[idx]) * w))(_F)
    v2, g2 = ft.value_and_grad(lambda f: fnp.sum(fnp.sin(fnp.reshape(f, want.shape)) * w))(_F)
    assert v1 == v2 and g1.tobytes() == g2.tobytes()
    jaxpr = str(ft.make_jaxpr(lambda f: f[idx])(_F))
    assert "reshape" in jaxpr and "slice" not in jaxpr and "gather" not in jaxpr


def test_new_axes_index_errors():
    with pytest.raises(IndexError, match="too many indices"):
        fnp.asarray(_F)[None, :, :, :, :]
    with pytest.raises(IndexError, match="single ellipsis"):
        fnp.asarray(_F)[..., None, ...]


# --- _operands' fast cases ----------------------------------------------------------------------

_OPERAND_UFUNCS = ["add", "multiply", "subtract", "true_divide", "power", "maximum", "less",
                   "arctan2", "floor_divide", "tanh", "exp", "negative", "sqrt", "logical_not"]
_OPERAND_VALUES = [np.float64(1.5), np.float32(2.5), np.int32(3), np.int64(-2), np.bool_(True),
                   np.ones(3), np.ones(3, np.float32), np.arange(3, dtype=np.int8), 2.0, 3,
                   np.ones((2, 3))]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_operand_fast_cases_stage_what_the_general_loop_stages(data):
    name = data.draw(st.sampled_from(_OPERAND_UFUNCS))
    fn = getattr(fnp, name)
    nin = getattr(np, name).nin
    vals = [data.draw(st.sampled_from(_OPERAND_VALUES)) for _ in range(nin)]
    traced = [data.draw(st.booleans()) for _ in vals]

    def f(*ts):
        it = iter(ts)
        return fn(*[next(it) if t else v for v, t in zip(vals, traced)])

    args = [v for v, t in zip(vals, traced) if t]

    def staged():
        try:
            return str(ft.make_jaxpr(f)(*args))
        except Exception as e:  # noqa: BLE001 - compared below
            return type(e).__name__ + str(e)

    fast = staged()
    orig = _ufuncs._operands_fast
    _ufuncs._operands_fast = lambda ufunc, args: None
    try:
        general = staged()
    finally:
        _ufuncs._operands_fast = orig
    assert fast == general


@pytest.mark.parametrize("idx", [(slice(1, 4),), (slice(None), slice(0, 3)),
                                 (slice(0, 6, 2), slice(1, None), slice(None, None, 2)),
                                 (slice(4, 2), slice(None)), (slice(-3, None), slice(-10, 10)),
                                 (slice(None, None, -1), slice(None)), (slice(0, 1),) * 4])
def test_static_slices_stage_what_the_general_path_stages(idx, monkeypatch):
    from functrace.numpy import _indexing

    def read(f):
        return f[idx]

    try:
        want = _F[idx]
    except IndexError:
        want = None
    if want is not None:
        out = ft.jit(read)(_F)
        assert out.shape == want.shape and np.asarray(out).tobytes() == want.tobytes()
    fast = str(ft.make_jaxpr(read)(_F)) if want is not None else None
    v1 = ft.grad(lambda f: fnp.sum(fnp.sin(read(f))))(_F) if want is not None else None
    monkeypatch.setattr(_indexing, "_static_slices", lambda x, idx: None)
    if want is None:
        with pytest.raises(IndexError):
            ft.make_jaxpr(read)(_F)
        return
    assert str(ft.make_jaxpr(read)(_F)) == fast
    assert ft.grad(lambda f: fnp.sum(fnp.sin(read(f))))(_F).tobytes() == v1.tobytes()
