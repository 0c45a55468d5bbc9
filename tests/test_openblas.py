"""The NumPy reference implementations calling NumPy's bundled OpenBLAS (``functrace._openblas``):
the triangular solve is O(n^2) substitution, and gives the compiled lowering's bits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import functrace as ft
from functrace import _openblas
from functrace.ops import linalg_decomp as ld

pytestmark = pytest.mark.skipif(_openblas._trsm_functions() is None,
                                reason="NumPy's wheel bundles no scipy-openblas here")

FLAGS = list(itertools.product([False, True], repeat=5))  # left, lower, trans, unit, conj


def _operands(dtype, seed=0, batch=(2,)):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=batch + (4, 4)) + 4 * np.eye(4)
    b = rng.normal(size=batch + (4, 3))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.normal(size=a.shape)
        b = b + 1j * rng.normal(size=b.shape)
    return a.astype(dtype), b.astype(dtype)


def _reference(a, b, left, lower, trans, unit, conj):
    t = np.tril(a) if lower else np.triu(a)
    if unit:
        t = t.copy()
        t[..., range(4), range(4)] = 1
    if conj:
        t = np.conj(t)
    if trans:
        t = np.swapaxes(t, -1, -2)
    if left:
        return np.linalg.solve(t, b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
def test_triangular_solve_matches_a_dense_solve_of_the_triangle(dtype):
    for left, lower, trans, unit, conj in FLAGS:
        a, b = _operands(dtype)
        if not left:
            b = np.swapaxes(b, -1, -2).copy()
        got = ld.triangular_solve(a, b, left_side=left, lower=lower, transpose_a=trans,
                                  conjugate_a=conj, unit_diagonal=unit)
        conj_ = conj and np.dtype(dtype).kind == "c"
        want = _reference(a.astype(np.complex128 if conj_ else np.float64 if
                                   np.dtype(dtype).kind == "f" else np.complex128),
                          b, left, lower, trans, unit, conj_)
        assert got.dtype == dtype
        tol = 1e-12 if np.dtype(dtype).itemsize >= 8 and dtype != np.complex64 else 1e-5
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol,
                                   err_msg=f"left={left} lower={lower} trans={trans} "
                                           f"unit={unit} conj={conj}")


# every flag both ways, in one program per dtype (one compile each)
MIXED = [(True, True, False, False, False), (False, False, True, True, True),
         (True, False, True, False, True), (False, True, False, True, False)]


def _all_mixed(a, b, bt):
    return [ld.triangular_solve(a, b if left else bt, left_side=left, lower=lower,
                                transpose_a=trans, unit_diagonal=unit, conjugate_a=conj)
            for left, lower, trans, unit, conj in MIXED]


_compiled_mixed = ft.jit(_all_mixed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_eager_and_compiled_triangular_solve_agree_bit_for_bit(dtype):
    a, b = _operands(dtype, seed=1)
    bt = np.swapaxes(b, -1, -2).copy()
    with ft.config.override(tiered_compile=False):
        compiled = _compiled_mixed(a, b, bt)
    for flags, e, c in zip(MIXED, _all_mixed(a, b, bt), compiled):
        np.testing.assert_array_equal(e, c, err_msg=str(flags))


def test_a_zero_on_the_read_diagonal_gives_nans_for_that_matrix_only():
    a, b = _operands(np.float64)
    a[1, 2, 2] = 0.0
    x = ld.triangular_solve(a, b, left_side=True, lower=True)
    assert np.isnan(x[1]).all() and np.isfinite(x[0]).all()
    # with a unit diagonal the zero is not read
    assert np.isfinite(ld.triangular_solve(a, b, left_side=True, lower=True,
                                           unit_diagonal=True)).all()


def test_the_upper_triangle_is_never_read():
    a, b = _operands(np.float64, batch=())
    garbage = a + np.triu(np.full((4, 4), np.nan), 1)
    np.testing.assert_array_equal(ld.triangular_solve(garbage, b, left_side=True, lower=True),
                                  ld.triangular_solve(np.tril(a), b, left_side=True,
                                                      lower=True))
