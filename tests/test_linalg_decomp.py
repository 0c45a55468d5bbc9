"""Linear-algebra primitives (solve, det, slogdet, cholesky, triangular_solve, eigh, qr, svd) and
the ``functrace.numpy.linalg`` functions built on them: values against NumPy, derivatives
(check_grads and closed forms), vmap against a loop, jit against the interpreter, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from jit_check import assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
import functrace.scipy.linalg as fsl
from functrace import core, lax
from functrace.checking import check_grads
from functrace.tree_util import tree_leaves, tree_map

LA = fnp.linalg
N = 3


def _rng(seed=0):
    return np.random.RandomState(seed)


def _general(rng, shape=(N, N), dtype=np.float64):
    """Well-conditioned square matrices (diagonally boosted)."""
    n = shape[-1]
    return (rng.standard_normal(shape) + 3 * np.eye(n)).astype(dtype)


def _spd(rng, shape=(N, N), dtype=np.float64):
    """Symmetric positive definite ``M M^T + n I`` with distinct eigenvalues."""
    n = shape[-1]
    m = rng.standard_normal(shape)
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(dtype)


def _grads(f, *args):
    check_grads(f, args, order=2, modes=("fwd", "rev"))


@pytest.fixture(autouse=True)
def _quiet_fallback():
    # jit runs these primitives with their NumPy (LAPACK) implementation, by design
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "functrace.jit has no compiled lowering",
                                RuntimeWarning)
        yield


# ---------------------------------------------------------------------------------------------
# Values against NumPy, float64 and float32, batched stacks
# ---------------------------------------------------------------------------------------------

DTYPES = [np.float64, np.float32]


def _close(got, want, dtype):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_solvers_match_numpy(dtype):
    rng = _rng()
    a = _general(rng, (2, N, N), dtype)
    b_vec = rng.standard_normal(N).astype(dtype)
    b_mat = rng.standard_normal((2, N, 2)).astype(dtype)
    _close(LA.solve(a, b_vec), np.linalg.solve(a, b_vec), dtype)
    _close(LA.solve(a, b_mat), np.linalg.solve(a, b_mat), dtype)
    _close(LA.solve(a[0], b_mat), np.linalg.solve(a[0], b_mat), dtype)  # broadcast batch
    _close(LA.inv(a), np.linalg.inv(a), dtype)
    _close(LA.det(a), np.linalg.det(a), dtype)
    for got, want in zip(LA.slogdet(a), np.linalg.slogdet(a)):
        _close(got, want, dtype)
    _close(LA.matrix_power(a, -2), np.linalg.matrix_power(a, -2), dtype)
    _close(LA.pinv(a), np.linalg.pinv(a), dtype)
    _close(LA.cond(a), np.linalg.cond(a), dtype)
    _close(LA.cond(a, 1), np.linalg.cond(a, 1), dtype)
    _close(LA.norm(a[0], 2), np.linalg.norm(a[0], 2), dtype)
    _close(LA.norm(a[0], "nuc"), np.linalg.norm(a[0], "nuc"), dtype)
    assert np.array_equal(LA.matrix_rank(a), np.linalg.matrix_rank(a))


@pytest.mark.parametrize("dtype", DTYPES)
def test_decompositions_match_numpy(dtype):
    rng = _rng(1)
    s = _spd(rng, (2, N, N), dtype)
    _close(LA.cholesky(s), np.linalg.cholesky(s), dtype)
    _close(LA.cholesky(s, upper=True), np.linalg.cholesky(s, upper=True), dtype)
    w, v = LA.eigh(s)
    _close(w, np.linalg.eigh(s).eigenvalues, dtype)
    _close(v @ (w[..., :, None] * np.swapaxes(v, -1, -2)), s, dtype)  # signs are free
    _close(LA.eigvalsh(s), np.linalg.eigvalsh(s), dtype)
    for shape in [(2, 4, 3), (2, 3, 4), (2, 3, 3)]:
        a = rng.standard_normal(shape).astype(dtype)
        q, r = LA.qr(a)
        _close(q @ r, a, dtype)
        _close(np.abs(r), np.abs(np.linalg.qr(a).R), dtype)
        q_full, r_full = LA.qr(a, mode="complete")
        _close(np.abs(q_full), np.abs(np.linalg.qr(a, mode="complete").Q), dtype)
        _close(q_full @ r_full, a, dtype)
        _close(np.abs(LA.qr(a, mode="r")), np.abs(r), dtype)
        u, sv, vh = LA.svd(a, full_matrices=False)
        _close(sv, np.linalg.svd(a).S, dtype)
        _close((u * sv[..., None, :]) @ vh, a, dtype)
        assert LA.svd(a).U.shape == np.linalg.svd(a).U.shape
        _close(LA.svdvals(a), np.linalg.svd(a, compute_uv=False), dtype)


def test_lstsq_tensor_functions_match_numpy():
    rng = _rng(2)
    a = rng.standard_normal((5, 3))
    for b in (rng.standard_normal(5), rng.standard_normal((5, 2))):
        for got, want in zip(LA.lstsq(a, b, numpy_resid=True), np.linalg.lstsq(a, b)):
            np.testing.assert_allclose(got, want, atol=1e-12)
        # JAX's default: the residuals are always returned
        x, resid, rank, _ = LA.lstsq(a.T, b[:3])
        np.testing.assert_allclose(x, np.linalg.lstsq(a.T, b[:3])[0], atol=1e-12)
        assert rank == 3 and np.allclose(resid, 0)
    t = rng.standard_normal((6, 2, 3, 4))
    rhs = rng.standard_normal((6, 2))
    np.testing.assert_allclose(LA.tensorsolve(t, rhs), np.linalg.tensorsolve(t, rhs))
    t = _general(rng, (12, 12)).reshape(4, 3, 6, 2)
    np.testing.assert_allclose(LA.tensorinv(t), np.linalg.tensorinv(t), atol=1e-12)


def test_float32_derivatives_stay_float32():
    rng = _rng(20)
    a, s = _general(rng, dtype=np.float32), _spd(rng, dtype=np.float32)

    def f(a, s):
        return (LA.slogdet(a)[1] + LA.det(a) + fnp.sum(LA.inv(a)) + fnp.sum(LA.cholesky(s))
                + fnp.sum(LA.eigvalsh(s)) + fnp.sum(LA.svdvals(a)))

    for g in ft.grad(f, argnums=(0, 1))(a, s):
        assert g.dtype == np.float32
    g64 = ft.grad(f, argnums=(0, 1))(a.astype(np.float64), s.astype(np.float64))
    for g, want in zip(ft.grad(f, argnums=(0, 1))(a, s), g64):
        np.testing.assert_allclose(g, want, rtol=1e-3, atol=1e-3)


def test_eigh_and_cholesky_read_one_triangle_without_symmetrize():
    s = _spd(_rng(21))
    junk = s + np.triu(np.ones((N, N)), 1)  # only the lower triangle is right
    w, _ = LA.eigh(junk, symmetrize_input=False)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), rtol=1e-12)
    w, _ = LA.eigh(s + np.tril(np.ones((N, N)), -1), UPLO="U", symmetrize_input=False)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), rtol=1e-12)
    np.testing.assert_allclose(LA.cholesky(junk, symmetrize_input=False),
                               np.linalg.cholesky(s), rtol=1e-12)


def test_integer_input_computes_in_float64():
    a = np.array([[2, 1], [1, 3]])
    assert LA.inv(a).dtype == np.float64
    np.testing.assert_allclose(LA.det(a), 5.0)
    np.testing.assert_allclose(LA.solve(a, np.array([1, 2])), np.linalg.solve(a, [1, 2]))


@pytest.mark.parametrize("left_side, lower, transpose_a, unit_diagonal",
                         list(itertools.product([True, False], repeat=4)))
def test_triangular_solve_values_and_grads(left_side, lower, transpose_a, unit_diagonal):
    rng = _rng(3)
    a = _general(rng)
    b = rng.standard_normal((N, 2) if left_side else (2, N))
    flags = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                 unit_diagonal=unit_diagonal)

    def f(a, b):
        return lax.linalg.triangular_solve(a, b, **flags)

    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        np.fill_diagonal(t, 1.0)
    op = t.T if transpose_a else t
    want = np.linalg.solve(op, b) if left_side else np.linalg.solve(op.T, b.T).T
    np.testing.assert_allclose(f(a, b), want, rtol=1e-12)
    _grads(f, a, b)


# ---------------------------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------------------------


def test_solve_inv_grads():
    rng = _rng(4)
    a, b = _general(rng), rng.standard_normal((N, 2))
    _grads(LA.solve, a, b)
    _grads(LA.solve, a, b[:, 0])
    _grads(LA.inv, a)
    _grads(lambda a: LA.matrix_power(a, -2), a)


def test_det_slogdet_grads_and_closed_forms():
    rng = _rng(5)
    a = _general(rng)
    _grads(LA.det, a)
    _grads(lambda a: LA.slogdet(a).logabsdet, a)
    inv_t = np.linalg.inv(a).T
    np.testing.assert_allclose(ft.grad(LA.det)(a), np.linalg.det(a) * inv_t, rtol=1e-10)
    np.testing.assert_allclose(ft.grad(lambda a: LA.slogdet(a)[1])(a), inv_t, rtol=1e-10)
    # at singular matrices the derivative is the transposed adjugate (as in JAX)
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(ft.grad(LA.det)(sing), [[4.0, -2.0], [-2.0, 1.0]], rtol=1e-12)
    np.testing.assert_allclose(ft.grad(LA.det)(np.zeros((N, N))), np.zeros((N, N)), atol=0)
    np.testing.assert_allclose(ft.vmap(ft.grad(LA.det))(np.stack([sing, 2 * np.eye(2)])),
                               [[[4.0, -2.0], [-2.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]],
                               rtol=1e-12)
    # the sign is piecewise constant: no derivative flows through it
    np.testing.assert_array_equal(ft.grad(lambda a: LA.slogdet(a)[0])(a), np.zeros((N, N)))
    neg = a.copy()
    neg[0] *= -1
    assert LA.slogdet(neg).sign == -1
    np.testing.assert_allclose(ft.grad(lambda a: LA.slogdet(a)[1])(neg), np.linalg.inv(neg).T,
                               rtol=1e-10)


def test_cholesky_grads():
    rng = _rng(6)
    s = _spd(rng)
    _grads(LA.cholesky, s)
    _grads(lambda s: LA.cholesky(s, upper=True), s)
    # the input is symmetrised, so the gradient is symmetric
    g = ft.grad(lambda s: fnp.sum(LA.cholesky(s) * np.arange(N * N).reshape(N, N)))(s)
    np.testing.assert_allclose(g, g.T, rtol=1e-12)


def test_eigh_grads():
    rng = _rng(7)
    s = _spd(rng)

    def invariant(s):  # independent of the signs of the eigenvectors
        w, v = LA.eigh(s)
        return w, v @ (fnp.sin(w)[:, None] * v.T), v[:, 0] * v[:, 0]

    _grads(invariant, s)
    _grads(LA.eigvalsh, s)
    # d lambda_i = v_i^T dA v_i
    w, v = np.linalg.eigh(s)
    np.testing.assert_allclose(ft.grad(lambda s: LA.eigvalsh(s)[-1])(s),
                               np.outer(v[:, -1], v[:, -1]), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3)])
def test_qr_grads(shape):
    a = _rng(8).standard_normal(shape)
    _grads(lambda a: tuple(LA.qr(a)), a)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4)])
def test_svd_grads(shape):
    a = _rng(9).standard_normal(shape)

    def invariant(a):  # sign flips of u_i and v_i cancel
        u, s, vh = LA.svd(a, full_matrices=False)
        return s, u @ vh, (u * fnp.cos(s)) @ vh

    _grads(invariant, a)
    _grads(LA.svdvals, a)
    _grads(lambda a: LA.norm(a, 2), a)
    _grads(LA.pinv, a)
    _grads(LA.cond, a)


def test_pinv_derivative_with_repeated_singular_values():
    # at an orthogonal matrix all singular values are 1; pinv = inv there
    q = np.linalg.qr(_rng(19).standard_normal((N, N))).Q
    inv_t = q  # inv(q)^T
    want = -inv_t @ np.ones((N, N)) @ inv_t
    np.testing.assert_allclose(ft.grad(lambda a: fnp.sum(LA.pinv(a)))(q), want, rtol=1e-10)
    _grads(LA.pinv, q)


def test_lstsq_grads():
    rng = _rng(10)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    _grads(lambda a, b: LA.lstsq(a, b)[0], a, b)


def test_non_square_full_matrices_derivative_is_refused():
    a = _rng(11).standard_normal((4, 3))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        ft.grad(lambda a: fnp.sum(LA.svd(a).U))(a)
    with pytest.raises(NotImplementedError, match="qr"):
        ft.grad(lambda a: fnp.sum(LA.qr(a.T).Q))(a)


def test_gaussian_negative_log_likelihood():
    """A user program: Gaussian NLL with covariance ``A A^T + I``, via cholesky,
    triangular_solve and slogdet; gradients against the closed form and check_grads."""
    rng = _rng(12)
    d, n = 3, 5
    x = rng.standard_normal((n, d))

    def nll(mu, a):
        cov = a @ a.T + fnp.eye(d)
        chol = LA.cholesky(cov)
        z = lax.linalg.triangular_solve(chol, (x - mu).T, left_side=True, lower=True)
        logdet = LA.slogdet(cov)[1]
        return 0.5 * fnp.sum(z * z) + 0.5 * n * logdet + 0.5 * n * d * np.log(2 * np.pi)

    mu, a = rng.standard_normal(d), rng.standard_normal((d, d))
    cov = a @ a.T + np.eye(d)
    want = -np.sum([_logpdf(xi, mu, cov) for xi in x])
    np.testing.assert_allclose(nll(mu, a), want, rtol=1e-12)
    g_mu, g_a = ft.grad(nll, argnums=(0, 1))(mu, a)
    prec = np.linalg.inv(cov)
    np.testing.assert_allclose(g_mu, -prec @ np.sum(x - mu, axis=0), rtol=1e-10)
    # dNLL/dcov = (n prec - prec S prec) / 2 with S the scatter matrix; cov = a a^T
    scatter = (x - mu).T @ (x - mu)
    g_cov = 0.5 * (n * prec - prec @ scatter @ prec)
    np.testing.assert_allclose(g_a, 2 * g_cov @ a, rtol=1e-9)
    _grads(nll, mu, a)
    g_jit = ft.jit(ft.grad(nll, argnums=(0, 1)))(mu, a)
    for got, want in zip(g_jit, (g_mu, g_a)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _logpdf(x, mu, cov):
    r = x - mu
    return -0.5 * (r @ np.linalg.solve(cov, r) + np.linalg.slogdet(cov)[1]
                   + len(x) * np.log(2 * np.pi))


# ---------------------------------------------------------------------------------------------
# vmap, jit, jaxprs
# ---------------------------------------------------------------------------------------------


def _stack(outs):
    return tree_map(lambda *xs: np.stack(xs), *outs)


def _assert_tree_close(got, want):
    for g, w in zip(tree_leaves(got), tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


VMAP_CASES = {
    "solve": (lambda a, b: LA.solve(a, b), [_general, lambda r: r.standard_normal(N)]),
    "inv": (LA.inv, [_general]),
    "det": (LA.det, [_general]),
    "slogdet": (lambda a: tuple(LA.slogdet(a)), [_general]),
    "cholesky": (LA.cholesky, [_spd]),
    "triangular_solve": (lambda a, b: lax.linalg.triangular_solve(a, b, lower=True),
                         [_general, lambda r: r.standard_normal((2, N))]),
    "eigh": (lambda s: LA.eigh(s).eigenvalues, [_spd]),
    "qr": (lambda a: tuple(LA.qr(a)), [_general]),
    "svd": (lambda a: tuple(LA.svd(a)), [_general]),
    "grad_logdet": (ft.grad(lambda a: LA.slogdet(a)[1]), [_general]),
}


@pytest.mark.parametrize("name, axis", [
    (name, axis) for name in sorted(VMAP_CASES) for axis in (0, 1, -1, None)
    if axis is not None or len(VMAP_CASES[name][1]) > 1])
def test_vmap_matches_loop(name, axis):
    f, makers = VMAP_CASES[name]
    rng = _rng(13)
    size = 3
    args = [np.stack([mk(rng) for _ in range(size)]) for mk in makers]
    # the first argument is batched at ``axis``; the others at 0, or unbatched for ``None``
    if axis is None:
        args = [args[0]] + [a[0] for a in args[1:]]
        in_axes = (0,) + (None,) * (len(args) - 1)
        want = _stack([f(args[0][i], *args[1:]) for i in range(size)])
        got = ft.vmap(f, in_axes=in_axes)(*args)
    else:
        want = _stack([f(*(a[i] for a in args)) for i in range(size)])
        moved = [np.moveaxis(args[0], 0, axis)] + args[1:]
        got = ft.vmap(f, in_axes=(axis,) + (0,) * (len(args) - 1))(*moved)
    _assert_tree_close(got, want)


def test_vmap_of_unbatched_matrix_with_batched_rhs():
    rng = _rng(14)
    a, bs = _general(rng), rng.standard_normal((4, N))
    got = ft.vmap(LA.solve, in_axes=(None, 0))(a, bs)
    np.testing.assert_allclose(got, np.linalg.solve(a, bs.T).T, rtol=1e-12)
    g = ft.vmap(ft.grad(lambda a, b: fnp.sum(LA.solve(a, b))), in_axes=(None, 0))(a, bs)
    want = np.stack([ft.grad(lambda a, b: fnp.sum(LA.solve(a, b)))(a, b) for b in bs])
    np.testing.assert_allclose(g, want, rtol=1e-12)
    # the shared matrix is factored once: the batch becomes extra right-hand sides
    jaxpr = ft.make_jaxpr(ft.vmap(LA.solve, in_axes=(None, 0)))(a, bs)
    solves = [e for e in jaxpr.eqns if e.primitive.name == "linalg_solve"]
    assert [e.invars[0].aval.shape for e in solves] == [(N, N)]
    for left in (True, False):
        rhs = rng.standard_normal((2, N, 4) if left else (2, 4, N))
        for axis in (0, 1, 2):
            def f(b, left=left):
                return lax.linalg.triangular_solve(a, b, left_side=left, lower=True)
            got = ft.vmap(f, in_axes=axis)(np.moveaxis(rhs, 0, axis))
            np.testing.assert_allclose(got, np.stack([f(r) for r in rhs]), rtol=1e-12)


def test_jit_matches_interpreter():
    rng = _rng(15)
    a, s = _general(rng, (2, N, N)), _spd(rng, (2, N, N))

    def program(a, s):
        chol = LA.cholesky(s)
        w, v = LA.eigh(s)
        u, sv, vh = LA.svd(a)
        q, r = LA.qr(a)
        return (LA.solve(a, fnp.ones(N)), LA.inv(a) * 2.0, LA.det(a) + 1.0, LA.slogdet(a)[1],
                chol, lax.linalg.triangular_solve(chol, a, left_side=True, lower=True),
                w, sv, fnp.abs(r), LA.pinv(a))

    assert_jit_matches_interpreter(program, a, s)
    grad_prog = ft.grad(lambda a, s: fnp.sum(program(a, s)[1]) + fnp.sum(program(a, s)[6]),
                        argnums=(0, 1))
    assert_jit_matches_interpreter(grad_prog, a[0], s[0])


def test_jaxprs_type_check():
    rng = _rng(16)
    a, s = _general(rng), _spd(rng)

    def f(a, s):
        return (LA.slogdet(a)[1] + fnp.sum(LA.eigh(s)[0]) + fnp.sum(LA.svd(a)[1])
                + fnp.sum(LA.qr(a)[1]) + fnp.sum(LA.cholesky(s)) + fnp.sum(LA.inv(a)))

    second = ft.grad(lambda a: fnp.sum(ft.grad(f)(a, s)))
    for prog, args in [(f, (a, s)), (ft.grad(f, argnums=(0, 1)), (a, s)), (second, (a,))]:
        core.check_jaxpr(ft.make_jaxpr(prog)(*args))


def test_numpy_linalg_on_tracers_routes_here():
    a = _general(_rng(17))
    g = ft.grad(lambda a: np.linalg.slogdet(a)[1] + np.linalg.det(a))(a)
    inv_t = np.linalg.inv(a).T
    np.testing.assert_allclose(g, inv_t + np.linalg.det(a) * inv_t, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# Failures and errors
# ---------------------------------------------------------------------------------------------


def test_failed_factorisations_give_nans_per_matrix():
    good = _spd(_rng(18))
    stack = np.stack([good, -np.eye(N)])
    chol = LA.cholesky(stack)
    np.testing.assert_allclose(chol[0], np.linalg.cholesky(good))
    assert np.isnan(chol[1][np.tril_indices(N)]).all() and (np.triu(chol[1], 1) == 0).all()
    x = LA.solve(np.stack([good, np.ones((N, N))]), np.ones((2, N, 1)))
    np.testing.assert_allclose(x[0], np.linalg.solve(good, np.ones((N, 1))))
    assert np.isnan(x[1]).all()


def test_clear_errors():
    with pytest.raises(TypeError, match=r"square matrices.*\(2, 3\)"):
        lax.linalg.cholesky(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"square matrices.*\(2, 3\)"):
        lax.linalg.eigh(np.ones((2, 3)))
    with pytest.raises(TypeError, match="det needs a matrix"):
        lax.det(np.ones(3))
    with pytest.raises(TypeError, match="float32, float64, complex64 or complex128 operands, got "
                                        "int64"):
        lax.linalg_solve(np.eye(2, dtype=np.int64), np.ones((2, 1), np.int64))
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.linalg_solve(np.eye(2), np.ones((2, 1), np.float32))
    with pytest.raises(TypeError, match="needs 3 rows"):
        lax.linalg.triangular_solve(np.eye(3), np.ones((2, 3)), left_side=True)
    with pytest.raises(TypeError, match="batch"):
        lax.linalg_solve(np.ones((2, 3, 3)), np.ones((3, 3, 1)))
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        LA.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="square"):  # LinAlgError is a ValueError
        ft.grad(lambda a: LA.det(a))(np.ones((2, 3)))
    with pytest.raises(ValueError, match="needs 3 rows"):
        LA.solve(np.eye(3), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="two-dimensional"):
        LA.det(np.ones(3))
    with pytest.raises(NotImplementedError, match="does not support complex"):
        LA.pinv(np.eye(2, dtype=np.complex128))  # the decompositions take complex, pinv not
    with pytest.raises(NotImplementedError, match="right eigenvectors only"):
        lax.linalg.eig(np.eye(2), compute_left_eigenvectors=True)
    with pytest.raises(NotImplementedError, match="generalized problem"):
        fsl.eig(np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="mode must be 'full', 'economic' or 'r'"):
        fsl.qr(np.eye(2), mode="raw")
    with pytest.raises(TypeError, match="eig needs square matrices"):
        lax.linalg.eig(np.ones((2, 3)))


# --- complex matrices and the general eigenproblem ----------------------------------------------

def _cplx(rng, shape=(N, N), dtype=np.complex128):
    n = shape[-1]
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
            + 3 * np.eye(n)).astype(dtype)


def _herm(rng, shape=(N, N), dtype=np.complex128):
    z = _cplx(rng, shape)
    return (z @ np.conj(np.swapaxes(z, -1, -2)) + shape[-1] * np.eye(shape[-1])).astype(dtype)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_decompositions_match_numpy(dtype):
    rng = _rng(11)
    tol = 1e-10 if dtype == np.complex128 else 2e-4
    h, z = _herm(rng, (2, N, N), dtype), _cplx(rng, (2, N, N), dtype)
    rdt = np.float64 if dtype == np.complex128 else np.float32

    def close(got, want, out_dtype):
        assert np.asarray(got).dtype == out_dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)

    close(LA.cholesky(h), np.linalg.cholesky(h), dtype)
    close(LA.cholesky(h, upper=True), np.linalg.cholesky(h, upper=True), dtype)
    w, v = LA.eigh(h)
    w0, v0 = np.linalg.eigh(h)
    close(w, w0, rdt)
    close(v, v0, dtype)  # same LAPACK routine: same phases
    for mode in ("reduced", "complete"):
        q, r = LA.qr(z[..., :2], mode=mode)
        q0, r0 = np.linalg.qr(z[..., :2], mode=mode)
        close(q, q0, dtype)
        close(r, r0, dtype)
    u, s, vh = LA.svd(z)
    u0, s0, vh0 = np.linalg.svd(z)
    close(s, s0, rdt)
    close(u, u0, dtype)
    close(vh, vh0, dtype)
    close(LA.svdvals(z), s0, rdt)
    we, ve = LA.eig(z)
    we0, ve0 = np.linalg.eig(z)
    close(we, we0, dtype)
    close(ve, ve0, dtype)
    close(LA.eigvals(z), we0, dtype)
    close(LA.det(z), np.linalg.det(z), dtype)
    sign, logdet = LA.slogdet(z)
    close(sign, np.linalg.slogdet(z)[0], dtype)
    close(logdet, np.linalg.slogdet(z)[1], rdt)
    close(LA.solve(z, h), np.linalg.solve(z, h), dtype)
    close(LA.inv(z), np.linalg.inv(z), dtype)
    lo = np.linalg.cholesky(h)
    b = z[..., :2]
    for trans in (0, 1, 2):
        op = [lo, np.swapaxes(lo, -1, -2), np.conj(np.swapaxes(lo, -1, -2))][trans]
        close(fsl.solve_triangular(lo, b, trans=trans, lower=True), np.linalg.solve(op, b), dtype)
    close(fsl.cholesky(h[0]), np.conj(np.linalg.cholesky(h[0]).T), dtype)


def test_eig_of_real_matrices_is_complex():
    rot = np.array([[0.0, -2.0], [2.0, 0.0]])
    w = LA.eigvals(rot)
    assert w.dtype == np.complex128
    np.testing.assert_allclose(np.sort_complex(w), [-2j, 2j], atol=1e-14)
    w32, v32 = LA.eig(rot.astype(np.float32))
    assert w32.dtype == v32.dtype == np.complex64
    a = _general(_rng(3))
    w, v = fsl.eig(a)
    np.testing.assert_allclose(a @ v, v * w, atol=1e-12)
    np.testing.assert_allclose(fsl.eigvals(a), np.linalg.eigvals(a), atol=1e-12)


_W9 = np.arange(1.0, 10.0).reshape(3, 3) / 9


# Real-valued functions of complex matrices that do not depend on the eigen/singular vectors'
# phases, checked to second order against central differences (check_grads' complex convention).
COMPLEX_GRADS = [
    ("cholesky", lambda a: fnp.sum(fnp.abs(LA.cholesky(a @ fnp.conj(a.T) + 3 * fnp.eye(N))) ** 2
                                   * _W9), _cplx),
    ("cholesky_lin", lambda a: fnp.real(fnp.sum(LA.cholesky(a @ fnp.conj(a.T) + 3 * fnp.eye(N))
                                                * (1 + 2j) * _W9)), _cplx),
    ("eigh_w", lambda a: fnp.sum(LA.eigh(a + fnp.conj(a.T))[0] ** 3), _cplx),
    ("eigh_v", lambda a: fnp.sum(fnp.abs(LA.eigh(a + fnp.conj(a.T))[1]) ** 4 * _W9), _cplx),
    ("svd_s", lambda a: fnp.sum(LA.svd(a, compute_uv=False) ** 3), _cplx),
    ("svd_uv", lambda a: (lambda u, s, vh: fnp.sum(fnp.abs(u) ** 4 * _W9)
                          + fnp.sum(fnp.abs(vh) ** 4 * _W9)
                          + fnp.real(fnp.sum((u * s) @ vh * _W9)))(*LA.svd(a)), _cplx),
    ("svd_tall", lambda a: (lambda u, s, vh: fnp.sum(fnp.abs(u) ** 4) + fnp.sum(
        fnp.abs(vh) ** 4))(*LA.svd(a[:, :2], full_matrices=False)), _cplx),
    ("svd_wide", lambda a: (lambda u, s, vh: fnp.sum(fnp.abs(u) ** 4) + fnp.sum(
        fnp.abs(vh) ** 4))(*LA.svd(a[:2], full_matrices=False)), _cplx),
    ("qr", lambda a: (lambda q, r: fnp.real(fnp.sum(q * _W9)) + fnp.imag(fnp.sum(r * r)))(
        *LA.qr(a)), _cplx),
    ("qr_tall", lambda a: (lambda q, r: fnp.real(fnp.sum(q * q)) + fnp.imag(fnp.sum(r * r)))(
        *LA.qr(a[:, :2])), _cplx),
    ("det", lambda a: fnp.real(LA.det(a)) + fnp.imag(LA.det(a)) ** 2, _cplx),
    ("slogdet", lambda a: (lambda s, ld: 2 * fnp.real(s) + fnp.imag(s) + ld)(*LA.slogdet(a)),
     _cplx),
    ("solve", lambda a: fnp.sum(fnp.abs(LA.solve(a, _W9 * 1j)) ** 2), _cplx),
    ("eigvals", lambda a: fnp.sum(fnp.real(LA.eigvals(a)) ** 2 + fnp.imag(LA.eigvals(a))),
     _cplx),
    ("eigvals_real_input", lambda a: fnp.sum(fnp.imag(LA.eigvals(a)) ** 2
                                             + fnp.real(LA.eigvals(a)) ** 3), _general),
    ("eig_v", lambda a: fnp.sum(fnp.abs(LA.eig(a)[1]) ** 4 * _W9), _cplx),
    ("eig_v_real_input", lambda a: fnp.sum(fnp.abs(LA.eig(a)[1]) ** 4 * _W9), _general),
]


@pytest.mark.parametrize("name,f,make", COMPLEX_GRADS, ids=[c[0] for c in COMPLEX_GRADS])
def test_complex_grads(name, f, make):
    check_grads(f, (make(_rng(5)),), order=2)


def test_complex_grads_follow_the_library_convention():
    # grad of a real function of z = x + iy is df/dx - i df/dy (docs/autodiff.md): for
    # log det(a a^H + I) that is 2 conj((a a^H + I)^-1 a) (its derivative in x plus i times y)
    a = _cplx(_rng(2))
    g = ft.grad(lambda a: LA.slogdet(a @ fnp.conj(a.T) + fnp.eye(N))[1])(a)
    m = a @ a.conj().T + np.eye(N)
    np.testing.assert_allclose(g, 2 * np.conj(np.linalg.solve(m, a)), rtol=1e-10)
    # holomorphic: d det / da = adj(a)^T
    gh = ft.grad(lambda a: LA.det(a), holomorphic=True)(a)
    np.testing.assert_allclose(gh, (np.linalg.det(a) * np.linalg.inv(a)).T, rtol=1e-10)


def test_complex_vmap_and_jit_match_loop():
    rng = _rng(9)
    z = _cplx(rng, (3, N, N))

    def f(a):
        u, s, vh = lax.linalg.svd(a, full_matrices=False)
        w, _ = lax.linalg.eig(a)
        return s, fnp.sum(fnp.abs(u), axis=0), w * 2

    got = ft.vmap(f)(z)
    for i in range(3):
        for g, w in zip(got, f(z[i])):
            np.testing.assert_allclose(g[i], w, rtol=1e-12)
    # complex arrays are not compiled: jit runs these with NumPy, with the same values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jitted = ft.jit(f)(z[0])
    for g, w in zip(jitted, f(z[0])):
        np.testing.assert_allclose(g, w, rtol=1e-12)
