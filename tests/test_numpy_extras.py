"""The less common functrace.numpy functions (index tricks, functional updates, selection,
histograms, bit packing, window functions, introspection, integer/float ufuncs, differences,
polynomials, NaN statistics, partitions and sets, vectorize) against NumPy: eager values and
dtypes, traced programs (check_jaxpr, then the NumPy interpreter), derivatives (check_grads),
vmap against a Python loop, a few jitted, and the errors for what cannot be traced."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.tree_util import tree_leaves

R = np.random.RandomState(0)
X5 = R.randn(5)
X23 = R.randn(2, 3)
X34 = R.randn(3, 4)
INTS = np.array([0, 1, 1, 3, 2, 1, 7])
WITH_NAN = np.array([[1.0, np.nan, 3.0, 4.0, -2.0], [np.nan] * 5, [2.0, 8.0, 1.0, np.nan, 0.5]])
SPECIAL = np.array([0.0, -0.0, 1.0, 0.75, -3.5, 1e-310, 5e-324, np.inf, -np.inf, np.nan,
                    2.0 ** -1022, 1024.0, 1e308, 0.1, -7e-300])
PHASE = np.mod(np.cumsum(R.uniform(-3, 3, 12)), 2 * np.pi)
BITS = np.array([[1, 0, 1, 1, 0, 0, 1, 0, 1], [0, 0, 0, 1, 1, 1, 0, 1, 1]])


def _np_updated(fn, a, *args, **kwargs):
    a = np.array(a, copy=True)
    fn(a, *args, **kwargs)
    return a


# (id, functrace function of the array args, NumPy reference of the same args, args)
CASES = [
    ("r_", lambda a, b: fnp.r_[a, 0, b, 1:3, -1:1:4j], lambda a, b: np.r_[a, 0, b, 1:3, -1:1:4j],
     (X5, X23[0])),
    ("r_directive", lambda a, b: fnp.r_["0,2", a, b], lambda a, b: np.r_["0,2", a, b],
     (X5, X5)),
    ("r_trans", lambda a, b: fnp.r_["1,2,0", a, b], lambda a, b: np.r_["1,2,0", a, b],
     (X5, X5)),
    ("c_", lambda a, b: fnp.c_[a, b], lambda a, b: np.c_[a, b], (X5, X5)),
    ("ix_", lambda a, b: fnp.ix_(a, b), lambda a, b: np.ix_(a, b),
     (np.array([0, 1]), np.array([2, 1, 0]))),
    ("fill_diagonal", lambda a, v: fnp.fill_diagonal(a, v, inplace=False),
     lambda a, v: _np_updated(np.fill_diagonal, a, v), (np.zeros((3, 4)), np.array([1.0, 2.0]))),
    ("fill_diagonal_wrap", lambda a: fnp.fill_diagonal(a, 5.0, wrap=True, inplace=False),
     lambda a: _np_updated(np.fill_diagonal, a, 5.0, wrap=True), (np.zeros((7, 3)),)),
    ("fill_diagonal_3d", lambda a: fnp.fill_diagonal(a, 5.0, inplace=False),
     lambda a: _np_updated(np.fill_diagonal, a, 5.0), (np.zeros((3, 3, 3)),)),
    ("insert_flat", lambda a: fnp.insert(a, 1, 9), lambda a: np.insert(a, 1, 9), (X23,)),
    ("insert_list", lambda a, v: fnp.insert(a, [1, 3], v), lambda a, v: np.insert(a, [1, 3], v),
     (X23, np.array([7.0, 8.0]))),
    ("insert_axis", lambda a, v: fnp.insert(a, 1, v, axis=1),
     lambda a, v: np.insert(a, 1, v, axis=1), (X23, np.array([[7.0], [8.0]]))),
    ("insert_slice", lambda a: fnp.insert(a, slice(0, 2), 5.0, axis=0),
     lambda a: np.insert(a, slice(0, 2), 5.0, axis=0), (X23,)),
    ("insert_repeated", lambda a, v: fnp.insert(a, [0, 0, 2], v, axis=1),
     lambda a, v: np.insert(a, [0, 0, 2], v, axis=1), (X23, np.array([1.0, 2.0, 3.0]))),
    ("put", lambda a, v: fnp.put(a, [0, 2], v, inplace=False),
     lambda a, v: _np_updated(np.put, a, [0, 2], v), (X5, np.array([9.0, 8.0]))),
    ("put_wrap", lambda a: fnp.put(a, [-1, 7], 3.0, mode="wrap", inplace=False),
     lambda a: _np_updated(np.put, a, [-1, 7], 3.0, mode="wrap"), (X5,)),
    ("place", lambda a, v: fnp.place(a, np.array([0, 1, 1, 0, 1], bool), v, inplace=False),
     lambda a, v: _np_updated(np.place, a, np.array([0, 1, 1, 0, 1], bool), v),
     (X5, np.array([7.0, 8.0]))),
    ("put_along_axis", lambda a, v: fnp.put_along_axis(a, np.array([[0], [2]]), v, 1,
                                                       inplace=False),
     lambda a, v: _np_updated(np.put_along_axis, a, np.array([[0], [2]]), v, 1),
     (X23, np.array([[5.0], [6.0]]))),
    ("choose", lambda a, b: fnp.choose(np.array([0, 1, 1, 0, 1]), [a, b]),
     lambda a, b: np.choose(np.array([0, 1, 1, 0, 1]), [a, b]), (X5, -X5)),
    ("choose_clip", lambda i, a: fnp.choose(i, [a, 2 * a, 3 * a], mode="clip"),
     lambda i, a: np.choose(i, [a, 2 * a, 3 * a], mode="clip"),
     (np.array([0, 5, 1, -2, 2]), X5)),
    ("extract_size", lambda a: fnp.extract(a > 0, a, size=5, fill_value=-1.0),
     lambda a: np.concatenate([a[a > 0], -np.ones(5 - (a > 0).sum())]), (X5,)),
    ("resize", lambda a: fnp.resize(a, (4, 4)), lambda a: np.resize(a, (4, 4)), (X23,)),
    ("bincount", lambda i: fnp.bincount(i, length=9), lambda i: np.bincount(i, minlength=9),
     (INTS,)),
    ("bincount_weights", lambda i, w: fnp.bincount(i, w, length=8),
     lambda i, w: np.bincount(i, w, minlength=8), (INTS, R.rand(7))),
    ("histogram", lambda a: fnp.histogram(a), lambda a: np.histogram(a), (R.randn(40),)),
    ("histogram_range", lambda a: fnp.histogram(a, 5, range=(-1, 1), density=True),
     lambda a: np.histogram(a, 5, range=(-1, 1), density=True), (R.randn(40),)),
    ("histogram_edges", lambda a, w: fnp.histogram(a, np.array([-2.0, 0.0, 0.5, 2.0]),
                                                   weights=w),
     lambda a, w: np.histogram(a, np.array([-2.0, 0.0, 0.5, 2.0]), weights=w),
     (R.randn(40), R.rand(40))),
    ("histogram_bin_edges", lambda a: fnp.histogram_bin_edges(a, 4),
     lambda a: np.histogram_bin_edges(a, 4), (R.randn(40),)),
    ("packbits", lambda b: fnp.packbits(b), lambda b: np.packbits(b), (BITS,)),
    ("packbits_axis", lambda b: fnp.packbits(b, 1, "little"),
     lambda b: np.packbits(b, 1, bitorder="little"), (BITS,)),
    ("packbits_axis0", lambda b: fnp.packbits(b, 0), lambda b: np.packbits(b, 0), (BITS,)),
    ("unpackbits", lambda a: fnp.unpackbits(a, 1), lambda a: np.unpackbits(a, 1),
     (np.packbits(BITS, axis=1),)),
    ("unpackbits_count", lambda a: fnp.unpackbits(a, count=20, bitorder="little"),
     lambda a: np.unpackbits(a, count=20, bitorder="little"), (np.packbits(BITS, axis=1),)),
    ("bitwise_count", fnp.bitwise_count, np.bitwise_count,
     (np.array([-128, -1, 0, 5, 127], np.int8),)),
    ("bitwise_count64", fnp.bitwise_count, np.bitwise_count, (np.array([2 ** 40 + 3, -7]),)),
    ("kaiser", lambda b: fnp.kaiser(7, b), lambda b: np.kaiser(7, b), (np.float64(3.0),)),
    ("partition", lambda a: fnp.partition(a, 2)[2], lambda a: np.partition(a, 2)[2], (X5,)),
    ("argpartition", lambda a: a[fnp.argpartition(a, 3)[3]],
     lambda a: a[np.argpartition(a, 3)[3]], (X5,)),
    ("unique_all", lambda a: fnp.unique_all(a, size=6),
     lambda a: (np.array([1, 2, 3, 9, 1, 1]), np.array([1, 2, 0, 5, 1, 1]),
                np.unique_inverse(a)[1], np.array([2, 3, 2, 1, 0, 0])),
     (np.array([3, 1, 2, 3, 1, 9, 2, 2]),)),
    ("unique_counts", lambda a: fnp.unique_counts(a, size=4),
     lambda a: tuple(np.unique_counts(a)), (np.array([3, 1, 2, 3, 1, 9, 2, 2]),)),
    ("unique_values_fill", lambda a: fnp.unique_values(a, size=5, fill_value=-1.0),
     lambda a: np.array([1.0, 2.0, 3.0, -1.0, -1.0]), (np.array([3.0, 1.0, 2.0, 3.0]),)),
    ("union1d", lambda a, b: fnp.union1d(a, b, size=8),
     lambda a, b: np.array([1, 3, 4, 5, 7, 8, 1, 1]),
     (np.array([1, 5, 3, 3, 7]), np.array([3, 4, 5, 5, 8]))),
    ("intersect1d", lambda a, b: fnp.intersect1d(a, b, size=4), lambda a, b: np.array([3, 5, 3, 3]),
     (np.array([1, 5, 3, 3, 7]), np.array([3, 4, 5, 5, 8]))),
    ("setdiff1d", lambda a, b: fnp.setdiff1d(a, b, size=4), lambda a, b: np.array([1, 7, 0, 0]),
     (np.array([1, 5, 3, 3, 7]), np.array([3, 4, 5, 5, 8]))),
    ("setxor1d", lambda a, b: fnp.setxor1d(a, b, size=6),
     lambda a, b: np.array([1, 4, 7, 8, 1, 1]),
     (np.array([1, 5, 3, 3, 7]), np.array([3, 4, 5, 5, 8]))),
    ("gcd", fnp.gcd, np.gcd, (np.array([12, 0, -8, 7, 0]), np.array([18, 5, 12, 0, 0]))),
    ("lcm", fnp.lcm, np.lcm, (np.array([12, 0, -8, 7]), np.array([18, 5, 12, 3]))),
    ("frexp", fnp.frexp, np.frexp, (SPECIAL,)),
    ("frexp32", fnp.frexp, np.frexp, (SPECIAL[np.abs(SPECIAL) < 1e30].astype(np.float32),)),
    ("nextafter_up", lambda a: fnp.nextafter(a, np.inf), lambda a: np.nextafter(a, np.inf),
     (SPECIAL,)),
    ("nextafter_down", lambda a: fnp.nextafter(a, -1.0), lambda a: np.nextafter(a, -1.0),
     (SPECIAL,)),
    ("nextafter_pairs", fnp.nextafter, np.nextafter, (SPECIAL, SPECIAL[::-1].copy())),
    ("nextafter32", lambda a: fnp.nextafter(a, np.float32(0)),
     lambda a: np.nextafter(a, np.float32(0)),
     (SPECIAL[np.abs(SPECIAL) < 1e30].astype(np.float32),)),
    ("spacing", fnp.spacing, np.spacing, (SPECIAL,)),
    ("spacing32", fnp.spacing, np.spacing, (SPECIAL[np.abs(SPECIAL) < 1e30].astype(np.float32),)),
    ("i0", fnp.i0, np.i0, (np.linspace(-20, 20, 41),)),
    ("gradient", lambda f: fnp.gradient(f), lambda f: list(np.gradient(f)), (X34,)),
    ("gradient_order2", lambda f: fnp.gradient(f, 0.5, 2.0, edge_order=2),
     lambda f: list(np.gradient(f, 0.5, 2.0, edge_order=2)), (X34,)),
    ("gradient_coords", lambda f, x: fnp.gradient(f, x, axis=0),
     lambda f, x: np.gradient(f, x, axis=0), (X34, np.array([0.0, 0.4, 1.5]))),
    ("gradient_coords2", lambda f, x: fnp.gradient(f, x, edge_order=2),
     lambda f, x: np.gradient(f, x, edge_order=2), (X5, np.cumsum(R.rand(5)))),
    ("gradient_int", fnp.gradient, np.gradient, (np.array([1, 4, 9, 16]),)),
    ("ediff1d", lambda a: fnp.ediff1d(a, to_end=[5.0, 6.0], to_begin=-1.0),
     lambda a: np.ediff1d(a, to_end=[5.0, 6.0], to_begin=-1.0), (X23,)),
    ("vander", fnp.vander, np.vander, (np.array([1, 2, 3]),)),
    ("vander_inc", lambda a: fnp.vander(a, 4, increasing=True),
     lambda a: np.vander(a, 4, increasing=True), (X5.astype(np.float32),)),
    ("piecewise", lambda x: fnp.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t ** 2]),
     lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t ** 2]), (X5,)),
    ("piecewise_default", lambda x: fnp.piecewise(x, [x < -1, x > 1], [0.0, fnp.sin, 7.0]),
     lambda x: np.piecewise(x, [x < -1, x > 1], [0.0, np.sin, 7.0]), (2 * X5,)),
    ("unwrap", fnp.unwrap, np.unwrap, (PHASE,)),
    ("unwrap_axis", lambda p: fnp.unwrap(p, discont=4.0, axis=0),
     lambda p: np.unwrap(p, discont=4.0, axis=0), (PHASE.reshape(4, 3),)),
    ("unwrap_int", lambda p: fnp.unwrap(p, period=3), lambda p: np.unwrap(p, period=3),
     (np.array([0, 1, 2, 0, 1, 2, 0]),)),
    ("polyadd", fnp.polyadd, np.polyadd, (X5, X23[0])),
    ("polysub", fnp.polysub, np.polysub, (X23[0], X5)),
    ("polymul", fnp.polymul, np.polymul, (X5, X23[0])),
    ("polyder", lambda p: fnp.polyder(p, 2), lambda p: np.polyder(p, 2),
     (np.array([1, 2, 3, 4]),)),
    ("polyint", lambda p: fnp.polyint(p, 2, [1, 2]), lambda p: np.polyint(p, 2, [1, 2]),
     (np.array([1, 2, 3]),)),
    ("polydiv", lambda a, b: fnp.polydiv(a, b)[0], lambda a, b: np.polydiv(a, b)[0],
     (X5, np.array([2.0, 1.0]))),
    ("polyfit_traced", lambda x, y: fnp.polyfit(x, y, 3), lambda x, y: np.polyfit(x, y, 3),
     (np.linspace(0, 1, 9), R.randn(9))),
    ("polyfit_weighted_2d", lambda x, y, w: fnp.polyfit(x, y, 2, w=w),
     lambda x, y, w: np.polyfit(x, y, 2, w=w), (np.linspace(0, 1, 9), R.randn(9, 2), R.rand(9))),
    ("poly", fnp.poly, np.poly, (np.array([1, 2, 3]),)),
    ("nanquantile", lambda a: fnp.nanquantile(a, 0.3), lambda a: np.nanquantile(a, 0.3),
     (WITH_NAN,)),
    ("nanquantile_axis", lambda a: fnp.nanquantile(a, [0.1, 0.5, 1.0], axis=1),
     lambda a: np.nanquantile(a, [0.1, 0.5, 1.0], axis=1), (WITH_NAN,)),
    ("nanquantile_f32", lambda a: fnp.nanquantile(a, 0.7, axis=0),
     lambda a: np.nanquantile(a, 0.7, axis=0), (WITH_NAN.astype(np.float32),)),
    ("nanpercentile", lambda a: fnp.nanpercentile(a, 40, axis=1, keepdims=True),
     lambda a: np.nanpercentile(a, 40, axis=1, keepdims=True), (WITH_NAN,)),
    ("nanmedian", lambda a: fnp.nanmedian(a, axis=1), lambda a: np.nanmedian(a, axis=1),
     (WITH_NAN,)),
    ("nanmedian_int", fnp.nanmedian, np.nanmedian, (np.array([3, 1, 2, 8]),)),
    ("nancumprod", lambda a: fnp.nancumprod(a, axis=1), lambda a: np.nancumprod(a, axis=1),
     (WITH_NAN,)),
    ("vectorize", fnp.vectorize(lambda a, b: a * 2 + b),
     np.vectorize(lambda a, b: a * 2 + b), (X23, X23[0])),
    ("vectorize_signature", fnp.vectorize(lambda m, v: m @ v, signature="(m,n),(n)->(m)"),
     np.vectorize(lambda m, v: m @ v, signature="(m,n),(n)->(m)"),
     (R.randn(2, 3, 4), R.randn(2, 1, 4))),
    ("vectorize_excluded", fnp.vectorize(lambda a, p: a ** p, excluded={1}),
     lambda a, _: a ** 3, (X5, 3)),
    ("apply_along_axis", lambda a: fnp.apply_along_axis(lambda r: r[::-1] * r[0], 1, a),
     lambda a: np.apply_along_axis(lambda r: r[::-1] * r[0], 1, a), (X34,)),
    ("apply_along_axis_matrix", lambda a: fnp.apply_along_axis(lambda r: fnp.outer(r, r), 0, a),
     lambda a: np.apply_along_axis(lambda r: np.outer(r, r), 0, a), (X23,)),
    ("apply_over_axes", lambda a: fnp.apply_over_axes(fnp.sum, a, [0, 2]),
     lambda a: np.apply_over_axes(np.sum, a, [0, 2]), (R.randn(2, 3, 4),)),
    ("fromfunction", lambda s: fnp.fromfunction(lambda i, j: i * s + j, (3, 4)),
     lambda s: np.fromfunction(lambda i, j: i * s + j, (3, 4)), (np.float64(10.0),)),
    ("array_equiv", lambda a, b: fnp.array_equiv(a, b), lambda a, b: np.array_equiv(a, b),
     (X23[0], np.stack([X23[0], X23[0]]))),
]


def _assert_same(got, want, exact_dtype=True):
    got_leaves = tree_leaves(got) if isinstance(got, (tuple, list)) else [got]
    want_leaves = tree_leaves(want) if isinstance(want, (tuple, list)) else [want]
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        if exact_dtype:
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-6 if g.dtype == np.float32 else 1e-11,
                                   atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("name,fn,ref,args", CASES, ids=[c[0] for c in CASES])
def test_values_eager_and_traced(name, fn, ref, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ref(*args)
        _assert_same(fn(*args), want)
        traced = [i for i, a in enumerate(args) if isinstance(a, np.ndarray | np.generic)
                  and not isinstance(a, int)]

        def staged(*arrays):
            full = list(args)
            for i, a in zip(traced, arrays):
                full[i] = a
            return fn(*full)

        arrays = [args[i] for i in traced]
        closed = ft.make_jaxpr(staged)(*arrays)
        ft.check_jaxpr(closed)
        outs = ft.eval_jaxpr(closed.jaxpr, closed.consts, *arrays)
    want_leaves = tree_leaves(want) if isinstance(want, (tuple, list)) else [want]
    # the interpreter hands back 0-d arrays where NumPy gives scalars: compare as arrays
    _assert_same(list(outs), [np.asarray(w) for w in want_leaves], exact_dtype=True)


# ---------------------------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------------------------

GRAD_CASES = [
    ("r_", lambda a: fnp.r_[a, 1.0, a * 2], (X5,)),
    ("fill_diagonal", lambda a, v: fnp.fill_diagonal(a, v, inplace=False),
     (R.randn(3, 3), R.randn(3))),
    ("insert", lambda a, v: fnp.insert(a, [0, 2], v, axis=1), (X23, R.randn(2))),
    ("put", lambda a, v: fnp.put(a, np.array([1, 3]), v, inplace=False), (X5, R.randn(2))),
    ("put_along_axis", lambda a, v: fnp.put_along_axis(a, np.array([[2], [0]]), v, 1,
                                                       inplace=False), (X23, R.randn(2, 1))),
    ("choose", lambda a, b: fnp.choose(np.array([0, 1, 1, 0, 1]), [a, b]), (X5, 1 - X5)),
    ("extract", lambda a: fnp.extract(a > 0, a, size=4), (X5,)),
    ("resize", lambda a: fnp.resize(a, (3, 3)), (X23,)),
    ("bincount", lambda w: fnp.bincount(np.array([0, 2, 2, 1, 0]), w, length=4), (R.rand(5),)),
    ("histogram", lambda w: fnp.histogram(np.arange(5.0), 3, weights=w, density=True)[0],
     (R.rand(5) + 0.5,)),
    ("kaiser", lambda b: fnp.kaiser(6, b), (np.float64(2.5),)),
    ("i0", fnp.i0, (np.array([-9.0, -3.0, 0.5, 2.0, 7.5, 8.5, 12.0]),)),
    ("frexp", lambda a: fnp.frexp(a)[0], (np.array([0.3, 5.0, -7.25]),)),
    ("gradient", lambda f: fnp.gradient(f)[1], (R.randn(4, 5),)),
    ("gradient_coords", lambda f, x: fnp.gradient(f, x, edge_order=2),
     (X5, np.cumsum(R.rand(5)) + 0.5)),
    ("ediff1d", lambda a: fnp.ediff1d(a, to_end=a[:1]), (X23,)),
    ("vander", lambda a: fnp.vander(a, 4), (X5,)),
    ("piecewise", lambda x: fnp.piecewise(x, [x < 0, x > 1], [lambda t: t ** 2, fnp.sin, 0.5]),
     (np.array([-1.5, -0.2, 0.4, 1.3, 2.2]),)),
    ("unwrap", fnp.unwrap, (np.array([0.1, 2.0, 4.0, 0.3, 5.9, 1.0]),)),
    ("polymul", fnp.polymul, (X5, X23[0])),
    ("polyint", lambda p, k: fnp.polyint(p, 2, k), (X5, np.float64(0.5))),
    ("polydiv", lambda a, b: fnp.polydiv(a, b), (X5, np.array([2.0, 1.0]))),
    ("polyfit", lambda x, y: fnp.polyfit(x, y, 2), (np.linspace(0, 1, 7), R.randn(7))),
    ("poly", fnp.poly, (X5,)),
    ("nanquantile", lambda a: fnp.nanquantile(a, [0.2, 0.7], axis=1), (WITH_NAN[[0, 2]],)),
    ("nancumprod", fnp.nancumprod, (np.array([1.0, np.nan, 3.0, 0.5, 2.2]),)),
    ("vectorize", fnp.vectorize(lambda a, b: fnp.sum(a * b) ** 2, signature="(n),(n)->()"),
     (R.randn(4, 3), R.randn(3))),
    ("vectorize_scalar", fnp.vectorize(lambda a, b: fnp.sin(a) * b), (X23, X23[1])),
    ("apply_along_axis", lambda a: fnp.apply_along_axis(lambda r: r * fnp.sum(r), 0, a), (X34,)),
    ("fromfunction", lambda s: fnp.fromfunction(lambda i, j: fnp.sin(i * s + j), (3, 2)),
     (np.float64(2.0),)),
    ("unique_values", lambda a: fnp.unique_values(a, size=4, fill_value=0.0),
     (np.array([3.0, 1.0, 2.5]),)),
    ("setdiff1d", lambda a: fnp.setdiff1d(a, np.array([7.0]), size=4),
     (np.array([3.0, 1.0, 2.5]),)),
]


@pytest.mark.parametrize("name,fn,args", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_derivatives(name, fn, args):
    ft.check_grads(fn, args, order=2, modes=("fwd", "rev"))


def test_closed_form_derivatives():
    x = np.array([0.5, 3.0, 9.0])
    # d/dx i0 = i1
    i1 = np.array([0.2578943053908963, 3.953370217402609, 1030.9147225169564])
    np.testing.assert_allclose(ft.vmap(ft.grad(fnp.i0))(x), i1, rtol=1e-10)
    m, e = np.frexp(x)
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda t: fnp.frexp(t)[0]))(x), 2.0 ** -e)
    # gradient() is linear: its VJP is the transpose of the difference matrix
    f = R.randn(6)
    jac = ft.jacrev(fnp.gradient)(f)
    np.testing.assert_allclose(jac, np.stack([np.gradient(np.eye(6)[i]) for i in range(6)], 1))


# ---------------------------------------------------------------------------------------------
# vmap against a loop
# ---------------------------------------------------------------------------------------------

VMAP_CASES = [
    ("nanquantile", lambda a: fnp.nanquantile(a, [0.25, 0.5])),
    ("nextafter", lambda a: fnp.nextafter(a, 0.0)),
    ("gradient", lambda a: fnp.gradient(a)),
    ("insert", lambda a: fnp.insert(a, 1, a[0])),
    ("fill_diagonal", lambda a: fnp.fill_diagonal(fnp.zeros((3, 3)), a[:3], inplace=False)),
    ("unique_counts", lambda a: fnp.unique_counts(fnp.round(a), size=4)),
    ("vectorize", fnp.vectorize(lambda v: fnp.sum(v ** 2), signature="(n)->()")),
    ("polyfit", lambda a: fnp.polyfit(np.linspace(0, 1, 4), a, 1)),
    ("bincount", lambda a: fnp.bincount(fnp.astype(fnp.abs(a) * 2, int), a, length=5)),
    ("histogram", lambda a: fnp.histogram(a, 3, range=(-2, 2))[0]),
]


@pytest.mark.parametrize("in_axis", [0, 1, -1, None])
@pytest.mark.parametrize("name,fn", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
def test_vmap_matches_loop(name, fn, in_axis):
    batch = np.round(R.randn(3, 4) * 4) / 4 if name == "unique_counts" else R.randn(3, 4)
    if in_axis is None:
        out = ft.vmap(lambda b, a: fn(a), in_axes=(0, None))(np.zeros(2), batch[0])
        want = [fn(batch[0])] * 2
    else:
        moved = np.moveaxis(batch, 0, in_axis)
        out = ft.vmap(fn, in_axes=in_axis)(moved)
        want = [fn(b) for b in batch]
    for k, leaf in enumerate(tree_leaves(out)):
        np.testing.assert_allclose(leaf, np.stack([tree_leaves(w)[k] for w in want]),
                                   rtol=1e-11, atol=1e-300)


# ---------------------------------------------------------------------------------------------
# jit
# ---------------------------------------------------------------------------------------------


def test_jit_bit_and_float_helpers():
    def program(x, i, j, b):
        m, e = fnp.frexp(x)
        return (m, e, fnp.nextafter(x, 1.0), fnp.spacing(x), fnp.gcd(i, j), fnp.lcm(i, j),
                fnp.packbits(b, axis=-1), fnp.bitwise_count(i), fnp.i0(m))

    args = (SPECIAL, np.array([12, 0, -8, 7]), np.array([18, 5, 12, 3]), BITS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = program(*args)
        got = ft.jit(program)(*args)
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w) if np.asarray(w).dtype.kind in "iub" else \
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0, equal_nan=True)


def test_jit_statistics_and_sets():
    def program(a, w):
        counts, edges = fnp.histogram(a, 4, weights=w)
        u = fnp.unique_all(fnp.round(a), size=6)
        return (counts, edges, fnp.nanmedian(fnp.where(a > 1.0, fnp.nan, a)), u.values,
                u.counts, fnp.setxor1d(fnp.round(a), np.array([0.0, 1.0]), size=5),
                fnp.vectorize(lambda s, t: s * t + 1)(a, w), fnp.gradient(a))

    args = (R.randn(8), R.rand(8))
    want = program(*args)
    got = ft.jit(program)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Concrete-only functions, static helpers, dtypes
# ---------------------------------------------------------------------------------------------


def test_concrete_set_operations_match_numpy():
    a, b = np.array([1, 5, 3, 3, 7]), np.array([3, 4, 5, 5, 8])
    for name in ("union1d", "intersect1d", "setdiff1d", "setxor1d"):
        np.testing.assert_array_equal(getattr(fnp, name)(a, b), getattr(np, name)(a, b))
    x = np.array([3, 1, 2, 3, 1, 9, 2, 2])
    for name in ("unique_values", "unique_counts", "unique_inverse", "unique_all"):
        got, want = getattr(fnp, name)(x), getattr(np, name)(x)
        for g, w in zip(tree_leaves(tuple(got) if name != "unique_values" else (got,)),
                        tree_leaves(tuple(want) if name != "unique_values" else (want,))):
            np.testing.assert_array_equal(g, w)
    assert fnp.unique_counts(x).counts.tolist() == [2, 3, 2, 1]


def test_concrete_helpers():
    np.testing.assert_array_equal(fnp.trim_zeros(np.array([0, 0, 1, 2, 0])), [1, 2])
    np.testing.assert_array_equal(fnp.trim_zeros(np.array([0, 0, 1, 2, 0]), "f"), [1, 2, 0])
    np.testing.assert_array_equal(fnp.trim_zeros(np.array([[0, 0], [0, 3]])), [[3]])
    np.testing.assert_array_equal(fnp.extract(X5 > 0, X5), X5[X5 > 0])
    np.testing.assert_array_equal(fnp.bincount(INTS), np.bincount(INTS))
    np.testing.assert_allclose(fnp.roots(np.array([1.0, -3.0, 2.0])), [2.0, 1.0])
    np.testing.assert_allclose(fnp.polyfit(np.arange(5.0), np.arange(5.0) ** 2, 2), [1, 0, 0],
                               atol=1e-12)
    q, r = fnp.polydiv(np.array([1.0, 3, 5, 2]), np.array([2.0, 1]), trim_leading_zeros=True)
    qn, rn = np.polydiv(np.array([1.0, 3, 5, 2]), np.array([2.0, 1]))
    np.testing.assert_allclose(q, qn)
    np.testing.assert_allclose(r, rn)
    np.testing.assert_array_equal(fnp.polymul([0, 1, 2], [0, 1], trim_leading_zeros=True),
                                  [1, 2])
    # trim_zeros under grad: the kept block still carries the derivative
    g = ft.grad(lambda v: fnp.sum(fnp.trim_zeros(v) ** 2))(np.array([0.0, 2.0, 3.0, 0.0]))
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0, 0.0])


def test_static_index_helpers():
    assert np.array_equal(fnp.mgrid[0:2, 0:3], np.mgrid[0:2, 0:3])
    assert all(np.array_equal(a, b) for a, b in zip(fnp.ogrid[0:2, 0:3], np.ogrid[0:2, 0:3]))
    assert fnp.s_[1:3, ::2] == np.s_[1:3, ::2] and fnp.index_exp[1] == np.index_exp[1]
    for ours, theirs in [(fnp.triu_indices(4, 1), np.triu_indices(4, 1)),
                         (fnp.tril_indices(3, -1, 4), np.tril_indices(3, -1, 4)),
                         (fnp.diag_indices(3, 3), np.diag_indices(3, 3)),
                         (fnp.mask_indices(3, fnp.triu, 1), np.mask_indices(3, np.triu, 1))]:
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    rows, cols = fnp.mask_indices(3, fnp.triu, 1, size=5)
    assert rows.tolist() == [0, 0, 1, 0, 0] and cols.tolist() == [1, 2, 2, 0, 0]

    def shapes_only(x):  # the *_from helpers need only the (traced) array's shape
        iu = fnp.triu_indices_from(x, 1)
        il = fnp.tril_indices_from(x)
        d = fnp.diag_indices_from(x)
        return x[iu].sum() + x[il].sum() + x[d].sum()

    x = R.randn(4, 4)
    want = x[np.triu_indices(4, 1)].sum() + x[np.tril_indices(4)].sum() + np.trace(x)
    np.testing.assert_allclose(ft.jit(shapes_only)(x), want, rtol=1e-12)
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        np.testing.assert_allclose(getattr(fnp, name)(7), getattr(np, name)(7))
    np.testing.assert_allclose(fnp.kaiser(8, 5.0), np.kaiser(8, 5.0))


def test_dtypes_and_predicates():
    assert fnp.float_ is np.float64 and fnp.complex_ is np.complex128
    assert fnp.cdouble is np.complex128 and fnp.csingle is np.complex64
    assert fnp.object_ is np.object_ and fnp.character is np.character
    assert fnp.flexible is np.flexible
    assert fnp.isdtype(np.float32, "real floating") and not fnp.isdtype(np.int32, "bool")
    assert fnp.isdtype(np.int8, ("integral", "bool"))
    assert fnp.iterable([1]) and not fnp.iterable(3)
    assert fnp.array_equiv([1, 2], [[1, 2], [1, 2]]) is True
    assert fnp.array_equiv([1, 2], [1, 2, 3]) is False
    assert fnp.array_repr(np.arange(3)) == np.array_repr(np.arange(3))
    assert fnp.array_str(np.arange(3.0)) == np.array_str(np.arange(3.0))
    path = fnp.einsum_path("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5)),
                           optimize="greedy")
    want = np.einsum_path("ij,jk,kl->il", np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5)),
                          optimize="greedy")
    assert path[0] == want[0]
    seen = []

    def traced(x):
        seen.extend([fnp.iterable(x), fnp.iterable(x[0]), fnp.array_str(x)])
        return x

    ft.make_jaxpr(traced)(X5)
    assert seen[0] is True and seen[1] is False and "f64[5]" in seen[2]


def test_vectorize_and_apply_details():
    calls = []

    def f(a, b, *, scale):
        calls.append(np.shape(a))
        return a * b * scale

    v = fnp.vectorize(f, excluded={"scale"})
    np.testing.assert_allclose(v(X23, 2.0, scale=3.0), X23 * 6.0)
    assert calls == [()], "the function sees scalars (under vmap), traced once"
    # size-1 broadcast dimensions are kept in the result
    out = fnp.vectorize(lambda a, b: a + b)(np.ones((1, 3)), np.ones((2, 1)))
    assert out.shape == (2, 3)
    out = fnp.vectorize(lambda a: fnp.stack([a, -a]), signature="()->(k)")(X23)
    np.testing.assert_allclose(out, np.stack([X23, -X23], -1))
    two = fnp.vectorize(lambda a: (a, a * 2), signature="()->(),()")(X5)
    np.testing.assert_allclose(two[1], 2 * X5)
    # apply_along_axis on a middle axis of a 3-D array
    x = R.randn(2, 3, 4)
    np.testing.assert_allclose(fnp.apply_along_axis(lambda r: r * r.sum(), 1, x),
                               np.apply_along_axis(lambda r: r * r.sum(), 1, x), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_inplace_updates_are_refused():
    for call in (lambda: fnp.fill_diagonal(np.zeros((2, 2)), 1.0),
                 lambda: fnp.put(np.zeros(3), [0], 1.0),
                 lambda: fnp.place(np.zeros(3), np.ones(3, bool), [1.0]),
                 lambda: fnp.put_along_axis(np.zeros((2, 2)), np.zeros((2, 1), int), 1.0, 1)):
        with pytest.raises(NotImplementedError, match="inplace=False"):
            call()


def test_data_dependent_shapes_need_size():
    with pytest.raises(fnp.ConcretizationTypeError, match="length="):
        ft.jit(lambda i: fnp.bincount(i))(INTS)
    for name in ("unique_values", "unique_counts", "unique_inverse", "unique_all"):
        with pytest.raises(fnp.ConcretizationTypeError, match="size="):
            ft.jit(getattr(fnp, name))(X5)
    with pytest.raises(fnp.ConcretizationTypeError, match="size="):
        ft.jit(lambda a, b: fnp.union1d(a, b))(X5, X5)
    with pytest.raises(fnp.ConcretizationTypeError, match="size="):
        ft.jit(lambda a: fnp.extract(a > 0, a))(X5)
    with pytest.raises(fnp.ConcretizationTypeError, match="trim_zeros"):
        ft.jit(fnp.trim_zeros)(X5)
    with pytest.raises(fnp.ConcretizationTypeError, match="mode='clip'"):
        ft.jit(lambda i: fnp.choose(i, [X5, X5]))(np.zeros(5, int))
    with pytest.raises(fnp.ConcretizationTypeError, match="roots"):
        ft.jit(fnp.roots)(X5)


def test_bad_arguments():
    with pytest.raises(NotImplementedError, match="'out'"):
        fnp.choose(np.array([0]), [X5], out=np.zeros(5))
    with pytest.raises(NotImplementedError, match="'out'"):
        fnp.nanmedian(X5, out=np.zeros(()))
    with pytest.raises(NotImplementedError, match="method='linear'"):
        fnp.nanquantile(X5, 0.5, method="nearest")
    with pytest.raises(TypeError, match="integer type"):
        fnp.bincount(X5)
    with pytest.raises(ValueError, match="invalid entry"):
        fnp.choose(np.array([0, 3]), [X5[:2], X5[:2]])
    with pytest.raises(TypeError, match="unsigned byte"):
        fnp.unpackbits(np.array([1, 2]))
    with pytest.raises(ValueError, match="'little' or 'big'"):
        fnp.packbits(BITS, bitorder="middle")
    with pytest.raises(ValueError, match="special directives"):
        fnp.r_[X5, "0,2"]
    with pytest.raises(NotImplementedError, match="matrix"):
        fnp.r_["r", X5]
    with pytest.raises(ValueError, match="core dimension"):
        fnp.vectorize(lambda a, b: a @ b, signature="(n),(n)->()")(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="signature"):
        fnp.vectorize(lambda a: a, signature="(n->()")
    with pytest.raises(ValueError, match="edge_order"):
        fnp.gradient(X5, edge_order=3)
    with pytest.raises(ValueError, match="too small"):
        fnp.gradient(np.ones(1))
    with pytest.raises(ValueError, match="kth"):
        fnp.partition(X5, 7)
    with pytest.raises(ValueError, match="at least 2-d"):
        fnp.fill_diagonal(X5, 1.0, inplace=False)
    with pytest.raises(ValueError, match="non-negative"):
        fnp.resize(X5, (-1, 2))
