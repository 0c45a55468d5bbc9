"""Compiled LAPACK lowerings of the decompositions (functrace.backend.lapack): jit against the
interpreter (NumPy's LAPACK) for every primitive, dtype and a batch, the failure semantics
(NaNs) and a Gaussian-process likelihood under jit(value_and_grad) with no NumPy fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
import functrace.scipy.linalg as fsl
from functrace.backend import lapack
from functrace.ops import linalg_decomp as ld

RNG = np.random.default_rng(7)
TOL = {np.float32: 2e-4, np.float64: 1e-10}


def _mat(shape, dtype):
    return RNG.standard_normal(shape).astype(dtype)


def _spd(shape, dtype):
    a = RNG.standard_normal(shape)
    n = shape[-1]
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


# Each case: (name, function of the operands, operand makers). Outputs that are defined only up
# to signs (eigenvectors, singular vectors, q/r) are compared through the same LAPACK routine,
# so they agree exactly up to rounding, signs included.
CASES = [
    ("cholesky", lambda a: ld.cholesky_p.bind(a), [_spd]),
    ("solve", lambda a, b: ld.linalg_solve(a, b), [_mat, lambda s, d: _mat(s[:-1] + (2,), d)]),
    ("det", ld.det, [_mat]),
    ("slogdet", ld.slogdet, [_mat]),
    ("adjugate", lambda a: ld.adjugate_p.bind(a), [_mat]),
    ("eigh_lower", lambda a: ld.eigh(a), [_spd]),
    ("eigh_upper", lambda a: ld.eigh(a, lower=False, symmetrize_input=False), [_spd]),
    ("qr_full", lambda a: ld.qr(a), [_mat]),
    ("qr_reduced_tall", lambda a: ld.qr(a[..., :2], full_matrices=False), [_mat]),
    ("qr_wide", lambda a: ld.qr(a[..., :2, :]), [_mat]),
    ("svd_full_wide", lambda a: ld.svd(a[..., :2, :]), [_mat]),
    ("svd_reduced_tall", lambda a: ld.svd(a[..., :2], full_matrices=False), [_mat]),
    ("svd_values", lambda a: ld.svd(a, compute_uv=False), [_mat]),
]
# triangular_solve: each flag both ways (left_side, lower, transpose_a, unit_diagonal)
for _flags in ((True, True, False, False), (False, False, True, False),
               (True, False, True, True), (False, True, False, True)):
    def _ts(a, b, _f=_flags):
        left, lower, trans, unit = _f
        if not left:
            b = np.swapaxes(b, -1, -2) if isinstance(b, np.ndarray) else b.mT
        return ld.triangular_solve(a + 3 * np.eye(a.shape[-1], dtype=a.dtype), b,
                                   left_side=left, lower=lower, transpose_a=trans,
                                   unit_diagonal=unit)
    CASES.append(("trsolve_" + "".join(str(int(f)) for f in _flags), _ts,
                  [_mat, lambda s, d: _mat(s[:-1] + (3,), d)]))


def _no_fallback_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "no compiled lowering" in str(w.message)]


def _all_cases(*flat):
    """Every case in one program (one compilation per dtype and batch keeps the tests fast)."""
    out, i = [], 0
    for _, fn, makers in CASES:
        out.append(fn(*flat[i:i + len(makers)]))
        i += len(makers)
    return out


_all_cases_jit = ft.jit(_all_cases)


# one compilation each (they are the slow part): a batched float64 stack, a lone float32 matrix
@pytest.mark.parametrize("batch,dtype", [((2,), np.float64), ((), np.float32)])
def test_jit_matches_interpreter(batch, dtype):
    args = [mk(batch + (4, 4), dtype) for _, _, makers in CASES for mk in makers]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = _all_cases_jit(*args)
    assert _no_fallback_warnings(rec) == []
    want = _all_cases(*args)
    for (name, _, _), g_case, w_case in zip(CASES, got, want):
        got_l, want_l = ft.tree_util.tree_leaves(g_case), ft.tree_util.tree_leaves(w_case)
        assert len(got_l) == len(want_l), name
        for g, w in zip(got_l, want_l):
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype == np.dtype(dtype), name
            assert g.shape == w.shape, name
            np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype], err_msg=name)


def test_lapack_symbols_registered():
    # the library NumPy bundles has every routine the kernels call
    assert lapack.LAPACK_AVAILABLE
    assert all(s.startswith("scipy_") for s in lapack._symbols())


_chol = ft.jit(lambda a: ld.cholesky_p.bind(a))
_solve = ft.jit(ld.linalg_solve)
_slogdet = ft.jit(ld.slogdet)


def test_failures_give_the_interpreters_nans():
    a = _spd((3, 4, 4), np.float64)
    a[1] = -a[1]  # not positive definite: NaNs on and below the diagonal, zeros above
    got, want = _chol(a), ld.cholesky_p.bind(a)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[1][np.tril_indices(4)]).all() and (got[1][np.triu_indices(4, 1)] == 0).all()
    np.testing.assert_allclose(got[[0, 2]], want[[0, 2]], rtol=1e-12)

    s = _mat((2, 4, 4), np.float64)
    s[0, :, 0] = 0  # singular: solve gives NaNs, slogdet sign 0 and -inf
    b = _mat((2, 4, 1), np.float64)
    x = _solve(s, b)
    assert np.isnan(x[0]).all() and np.isfinite(x[1]).all()
    np.testing.assert_allclose(x, ld.linalg_solve(s, b), rtol=1e-12)
    sign, logdet = _slogdet(s)
    assert sign[0] == 0 and logdet[0] == -np.inf
    np.testing.assert_allclose(logdet[1], np.linalg.slogdet(s[1])[1], rtol=1e-12)


def test_zero_on_triangular_diagonal_gives_nans():
    a = np.triu(_mat((4, 4), np.float64)) + 3 * np.eye(4)
    a[2, 2] = 0
    b = _mat((4, 2), np.float64)
    f = ft.jit(lambda a, b: ld.triangular_solve(a, b, left_side=True))
    assert np.isnan(f(a, b)).all()
    assert np.isnan(ld.triangular_solve(a, b, left_side=True)).all()


# --- a Gaussian-process negative log-likelihood --------------------------------------------------

_X = np.linspace(-3, 3, 25)[:, None]
_Y = np.sin(_X[:, 0]) + 0.1 * np.cos(7 * _X[:, 0])


def gp_nll(p, x, y):
    """-log N(y | 0, K) for an RBF kernel with log length-scale, log amplitude, log noise."""
    ls, sf, sn = fnp.exp(p[0]), fnp.exp(p[1]), fnp.exp(p[2])
    d = (x[:, None, 0] - x[None, :, 0]) ** 2
    k = sf ** 2 * fnp.exp(-0.5 * d / ls ** 2) + sn ** 2 * fnp.eye(x.shape[0])
    low = fnp.linalg.cholesky(k)
    alpha = fsl.solve_triangular(low, y, lower=True)
    return (0.5 * fnp.sum(alpha * alpha) + fnp.sum(fnp.log(fnp.diagonal(low)))
            + 0.5 * x.shape[0] * np.log(2 * np.pi))


def _gp_closed_form(p, x, y):
    ls, sf, sn = np.exp(p)
    d = (x[:, None, 0] - x[None, :, 0]) ** 2
    kf = sf ** 2 * np.exp(-0.5 * d / ls ** 2)
    k = kf + sn ** 2 * np.eye(len(y))
    kinv = np.linalg.inv(k)
    a = kinv @ y
    val = 0.5 * y @ a + 0.5 * np.linalg.slogdet(k)[1] + 0.5 * len(y) * np.log(2 * np.pi)
    # d nll / d theta = 0.5 tr((K^-1 - a a^T) dK/dtheta)
    w = kinv - np.outer(a, a)
    dks = [kf * d / ls ** 2, 2 * kf, 2 * sn ** 2 * np.eye(len(y))]
    return val, np.array([0.5 * np.sum(w * dk) for dk in dks])


_gp_vg = ft.jit(ft.value_and_grad(gp_nll))


def test_gp_nll_under_jit_matches_closed_form_without_fallback():
    p = np.array([0.2, 0.1, -1.5])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        val, grad = _gp_vg(p, _X, _Y)
    assert _no_fallback_warnings(rec) == []
    want_val, want_grad = _gp_closed_form(p, _X, _Y)
    np.testing.assert_allclose(val, want_val, rtol=1e-10)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-9)
    # and against numerical differentiation of the jitted value
    eps = 1e-6
    fd = [(_gp_vg(p + eps * e, _X, _Y)[0] - _gp_vg(p - eps * e, _X, _Y)[0]) / (2 * eps)
          for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_without_lapack_the_numpy_implementation_runs(monkeypatch):
    # a missing library means no lowering: the primitive runs with NumPy between compiled parts
    from functrace.backend import codegen

    def fn(m):
        return ld.cholesky_p.bind(m) * 2.0

    a = _spd((3, 3), np.float64)
    closed = ft.make_jaxpr(fn)(a)
    assert codegen.generate(closed).unlowered == []
    monkeypatch.setattr(lapack, "LAPACK_AVAILABLE", False)
    prog = codegen.generate(closed)
    assert prog.unlowered == ["cholesky'"] and "lp_cholesky" not in prog.source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = ft.jit(fn)(a)
    np.testing.assert_allclose(got, 2 * np.linalg.cholesky(a), rtol=1e-12)


# --- complex routines: eig (dgeev/zgeev) and complex128 solve/det/slogdet ---------------------


def test_complex_lapack_symbols_registered():
    assert lapack.COMPLEX_LAPACK_AVAILABLE
    assert all(s.startswith("scipy_") for s in lapack._complex_symbols())


@pytest.mark.parametrize("vectors", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_lp_eig_kernel_equals_numpy_on_a_batch(dtype, vectors):
    # the kernel on its own: a batch with a symmetric, a rotation-like (complex pair), a random
    # and a non-finite matrix; NumPy's eig/eigvals (same routine) exactly, NaNs for the last
    a = RNG.standard_normal((4, 4, 4))
    if dtype == np.complex128:
        a = a + 1j * RNG.standard_normal((4, 4, 4))
    a[0] = a[0] + a[0].T
    a[1] = np.diag([1.0, 2.0, 3.0, 4.0])
    a[1, 0, 1], a[1, 1, 0] = -5.0, 5.0
    a[3, 2, 2] = np.inf
    w = np.empty((4, 4), np.complex128)
    v = np.empty((4, 4, 4) if vectors else (1, 1, 1), np.complex128)
    lapack.lp_eig(a.astype(dtype), w, v, vectors)
    for b in range(3):
        if vectors:
            rw, rv = np.linalg.eig(a[b])
            np.testing.assert_array_equal(v[b], rv)
        else:
            rw = np.linalg.eigvals(a[b])
        np.testing.assert_array_equal(w[b], rw)
    assert np.isnan(w[3]).all() and (not vectors or np.isnan(v[3]).all())


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_solve_and_determinants_match_numpy(dtype):
    # complex64 goes through complex128 copies, as NumPy's linalg computes it
    a = (_mat((2, 4, 4), np.float64) + 1j * _mat((2, 4, 4), np.float64)).astype(dtype)
    b = (_mat((2, 4, 3), np.float64) + 1j * _mat((2, 4, 3), np.float64)).astype(dtype)
    a[1, :, 0] = 0  # singular: NaN solution, sign 0, logdet -inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = _solve(a[:1], b[:1])
        sign, logdet = _slogdet(a)
    real = np.float32 if dtype == np.complex64 else np.float64
    tol = 1e-5 if dtype == np.complex64 else 1e-12
    np.testing.assert_allclose(x, np.linalg.solve(a[:1], b[:1]), rtol=tol)
    rs, rl = np.linalg.slogdet(a)
    np.testing.assert_allclose(sign, rs, rtol=tol)
    np.testing.assert_array_equal(logdet[1], -np.inf)
    np.testing.assert_allclose(logdet[0], rl[0], rtol=tol)
    assert x.dtype == sign.dtype == dtype and logdet.dtype == real
    assert "lp_slogdet(" in _slogdet.lower(a).as_text()
    assert "lp_solve(" in _solve.lower(a[:1], b[:1]).as_text()


# --- complex decompositions: zpotrf, zheevd, zgeqrf + zungqr, zgesdd, ztrsm --------------------


def _cmat(shape, dtype):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _hpd(shape, dtype):
    a = _cmat(shape, np.complex128)
    n = shape[-1]
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


# (left_side, lower, transpose_a, conjugate_a, unit_diagonal): conjugation with and without
# the transposition (cblas's ConjTrans, or a conjugated copy), each side and triangle
_TS_FLAGS = ((True, True, False, False, False), (False, False, True, False, False),
             (True, False, True, True, False), (False, True, False, True, True),
             (True, True, False, True, False), (False, False, True, True, True))


def _decompositions(flags):
    def complex_decompositions(h, a, b, t):
        out = [ld.cholesky_p.bind(h), ld.eigh(h),
               ld.eigh(h, lower=False, symmetrize_input=False),
               ld.qr(a), ld.qr(a[..., :2], full_matrices=False), ld.qr(a[..., :2, :]),
               ld.svd(a[..., :2, :]), ld.svd(a[..., :2], full_matrices=False),
               ld.svd(a, compute_uv=False)]
        for left, lower, trans, conj, unit in flags:
            rhs = b if left else b.mT
            out.append(ld.triangular_solve(t, rhs, left_side=left, lower=lower,
                                           transpose_a=trans, conjugate_a=conj,
                                           unit_diagonal=unit))
        out.append(ld.adjugate_p.bind(a))  # det's derivative: from the SVD, then loops
        return out

    return complex_decompositions


_N_SAME_ROUTINE = 9  # outputs before the triangular solves: NumPy calls the same routine
_CONJ_TRANS = (True, False, True, True, False)  # t^H x = b
# complex64 runs the same complex128 kernels after widening (its program compiles in pieces,
# the slow part): the two conjugating solves are enough there
_DECOMPOSITIONS = {np.complex128: (_TS_FLAGS, ft.jit(_decompositions(_TS_FLAGS))),
                   np.complex64: (_TS_FLAGS[2:4], ft.jit(_decompositions(_TS_FLAGS[2:4])))}


@pytest.mark.parametrize("batch,dtype", [((2,), np.complex128), ((), np.complex64)])
def test_complex_decompositions_compile_and_equal_the_interpreter(batch, dtype):
    h, a, b = _hpd(batch + (4, 4), dtype), _cmat(batch + (4, 4), dtype), \
        _cmat(batch + (4, 3), dtype)
    t = a + 3 * np.eye(4, dtype=dtype)  # triangles far from singular
    flags, _complex_decompositions = _DECOMPOSITIONS[dtype]
    complex_decompositions = _decompositions(flags)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no compiled lowering" warning
        got = _complex_decompositions(h, a, b, t)
    assert "_fallback[" not in _complex_decompositions.lower(h, a, b, t).as_text()
    from functrace.backend import codegen
    prog = codegen.generate(ft.make_jaxpr(complex_decompositions)(h, a, b, t))
    assert prog.unlowered == []
    text = "\n".join([prog.source] + prog.pieces)  # a long program compiles in pieces
    for kernel in ("lp_cholesky(", "lp_eigh(", "lp_qr(", "lp_svd(", "lp_svdvals(",
                   "lp_triangular_solve(", "lp_adjugate("):
        assert kernel in text, kernel
    want = complex_decompositions(h, a, b, t)
    real = np.float32 if dtype == np.complex64 else np.float64
    tol = 2e-5 if dtype == np.complex64 else 1e-12
    for k, (g_case, w_case) in enumerate(zip(got, want)):
        for g, w in zip(ft.tree_util.tree_leaves(g_case), ft.tree_util.tree_leaves(w_case)):
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype and g.shape == w.shape, k
            assert g.dtype in (np.dtype(dtype), np.dtype(real)), k
            if k < _N_SAME_ROUTINE:
                # the same LAPACK routine on the same (widened) copy: bit for bit
                np.testing.assert_array_equal(g, w, err_msg=str(k))
            else:
                # the interpreter solves triangular systems with gesv, the kernel with trsm;
                # its adjugate multiplies the SVD's factors with BLAS, the kernel with loops
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=str(k))
    # and they are the decompositions NumPy defines
    lo, (v, w), _, (q, r) = got[0], got[1], got[2], got[3]
    np.testing.assert_allclose(lo @ np.conj(np.swapaxes(lo, -1, -2)), h, rtol=tol * 10,
                               atol=tol * 10)
    np.testing.assert_array_equal(np.triu(lo, 1), 0)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(h), rtol=tol, atol=tol)
    np.testing.assert_allclose(h @ v, v * w[..., None, :].astype(dtype), rtol=tol * 10,
                               atol=tol * 10)
    np.testing.assert_allclose(q @ r, a, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(got[8], np.linalg.svd(a, compute_uv=False), rtol=tol)
    x = got[_N_SAME_ROUTINE + flags.index(_CONJ_TRANS)]
    np.testing.assert_allclose(np.conj(np.swapaxes(np.triu(t), -1, -2)) @ x, b,
                               rtol=tol * 10, atol=tol * 10)
    adj = got[-1]  # det(a) inv(a)
    np.testing.assert_allclose(adj, np.linalg.det(a)[..., None, None] * np.linalg.inv(a),
                               rtol=tol * 100, atol=tol * 100)


def test_complex_failures_give_the_interpreters_nans():
    h = _hpd((3, 4, 4), np.complex128)
    h[1] = -h[1]  # not positive definite: NaNs on and below the diagonal, zeros above
    got, want = _chol(h), ld.cholesky_p.bind(h)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[1][np.tril_indices(4)]).all()
    assert (got[1][np.triu_indices(4, 1)] == 0).all() and np.isfinite(got[[0, 2]]).all()

    t = np.triu(_cmat((4, 4), np.complex128)) + 3 * np.eye(4)
    t[2, 2] = 0
    b = _cmat((4, 2), np.complex128)
    f = ft.jit(lambda a, b: ld.triangular_solve(a, b, left_side=True, conjugate_a=True))
    assert np.isnan(f(t, b)).all()
    assert np.isnan(ld.triangular_solve(t, b, left_side=True, conjugate_a=True)).all()


def test_without_complex_lapack_complex_decompositions_run_with_numpy(monkeypatch):
    # the complex routines are registered on their own: without them the complex equations
    # keep the NumPy implementation (with the warning), the real ones still compile
    from functrace.backend import codegen

    def fn(m, r):
        return ld.cholesky_p.bind(m) * 2.0, ld.qr(m)[1], ld.cholesky_p.bind(r)

    h, s = _hpd((3, 3), np.complex128), _spd((3, 3), np.float64)
    closed = ft.make_jaxpr(fn)(h, s)
    assert codegen.generate(closed).unlowered == []
    monkeypatch.setattr(lapack, "COMPLEX_LAPACK_AVAILABLE", False)
    prog = codegen.generate(closed)
    assert sorted(prog.unlowered) == ["cholesky' on complex128 values", "qr' on complex128 values"]
    assert "lp_cholesky(" in prog.source  # the real matrix's
    with pytest.warns(RuntimeWarning, match="'cholesky' on complex128 values"):
        got = ft.jit(fn)(h, s)
    np.testing.assert_allclose(got[0], 2 * np.linalg.cholesky(h), rtol=1e-12)
    np.testing.assert_allclose(got[2], np.linalg.cholesky(s), rtol=1e-12)
