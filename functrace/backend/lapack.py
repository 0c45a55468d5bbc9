"""Compiled matrix decompositions: NumPy's own LAPACK called from generated code.

NumPy 2 wheels bundle ``scipy-openblas`` (64-bit integers, symbols prefixed ``scipy_``), whose
LAPACKE entry points (``scipy_LAPACKE_dpotrf64_``, ...) and ``cblas_?trsm`` we register with
LLVM by name, as ``blas.py`` does for the GEMMs, and declare here as external functions: code
calling them stays cacheable on disk (it names symbols, not this process's addresses).

The ``lp_*`` functions are the kernels that the lowerings in ``functrace.ops.linalg_decomp``
emit calls to. Each takes C-contiguous stacks of matrices ``(batch, rows, cols)`` (the
generated code reshapes its buffers), never writes its inputs (LAPACK factors in place, so
inputs are copied into the outputs first) and loops over the batch. A matrix whose
factorisation fails gets what the NumPy implementation gives it (NaNs, as JAX does).

Kernels take float64 and complex128 (the lowerings pass float32 and complex64 through wider
copies, as NumPy's ``linalg`` computes); a complex matrix calls the routine NumPy calls for it
(``zpotrf``, ``zheevd``, ``zgeqrf`` + ``zungqr``, ``zgesdd``, ``zgesv``, ``zgetrf``, and
``cblas_ztrsm`` for triangular solves), dispatched on the dtype while Numba compiles the
kernel. ``lp_eig`` runs the general eigenproblem through ``dgeev`` (real input) or ``zgeev``
(complex input), giving NumPy's complex eigenvalues and unit-norm eigenvectors in the same
order (``lower_eig`` emits it for the ``eig`` primitive).

``LAPACK_AVAILABLE`` is False when the library or a symbol is missing; the lowerings then do
not register and the primitives keep running with NumPy.
"""

from __future__ import annotations

import numpy as np

from .blas import register_symbols

_PREFIXED = ("potrf", "getrf", "gesv", "syevd", "geqrf", "orgqr", "gesdd")


# complex128 routines (complex64 operands are widened first, as NumPy's linalg does); the
# Hermitian and unitary ones stand where the real kernels call syevd and orgqr
_COMPLEX = ("gesv", "getrf", "geev", "potrf", "heevd", "geqrf", "ungqr", "gesdd")


def _symbols() -> list[str]:
    syms = [f"scipy_LAPACKE_{t}{r}64_" for r in _PREFIXED for t in "sd"]
    return syms + ["scipy_cblas_strsm64_", "scipy_cblas_dtrsm64_"]


def _complex_symbols() -> list[str]:
    return (["scipy_LAPACKE_dgeev64_", "scipy_cblas_ztrsm64_"]
            + [f"scipy_LAPACKE_z{r}64_" for r in _COMPLEX])


def _register() -> bool:
    return register_symbols(_symbols()) is not None


LAPACK_AVAILABLE = _register()
# registered on their own: without them the real kernels still work, and the complex
# decompositions and eig run with NumPy
COMPLEX_LAPACK_AVAILABLE = LAPACK_AVAILABLE and register_symbols(_complex_symbols()) is not None

__all__ = ["LAPACK_AVAILABLE", "COMPLEX_LAPACK_AVAILABLE"]


def lower_eig(k, eqn) -> None:
    """The ``eig`` primitive's compiled lowering: ``lp_eig`` on the operand viewed as a stack
    of matrices (float32/complex64 through float64/complex128 copies, as NumPy computes), the
    results rounded into the outputs. ``CodegenError`` keeps the NumPy implementation when the
    routines are missing or the matrices empty."""
    from .codegen import CodegenError
    if not COMPLEX_LAPACK_AVAILABLE:
        raise CodegenError("NumPy's bundled LAPACK has no dgeev/zgeev")
    a = eqn.invars[0].aval
    if any(d == 0 for d in a.shape):
        raise CodegenError("empty matrices run with NumPy")
    n = a.shape[-1]
    nb = int(np.prod(a.shape[:-2], dtype=np.int64))
    cplx = a.dtype.kind == "c"
    wide = "np.complex128" if cplx else "np.float64"
    src = f"{k.ins[0]}.reshape(({nb}, {n}, {n}))"
    if a.dtype not in (np.float64, np.complex128):
        t = k.tmp("u")
        k.emit(f"{t} = {src}.astype({wide})")
        src = t
    vectors = bool(eqn.params["compute_eigenvectors"])
    shapes = [(nb, n), (nb, n, n)][:len(eqn.outvars)]
    args, after = [], []
    for name, v, shape in zip(k.outs, eqn.outvars, shapes):
        if v.aval.dtype == np.complex128:
            args.append(f"{name}.reshape({shape})")
            continue
        t = k.tmp("u")
        k.emit(f"{t} = np.empty({shape}, np.complex128)")
        args.append(t)
        after.append(f"{name}.reshape({shape})[:] = {t}")
    if not vectors:
        t = k.tmp("u")
        k.emit(f"{t} = np.empty((1, 1, 1), np.complex128)")
        args.append(t)
    k.emit(f"lp_eig({src}, {', '.join(args)}, {vectors})", *after)

if LAPACK_AVAILABLE:
    from numba import njit, types
    from numba.extending import overload

    _i64, _i32, _ch = types.int64, types.int32, types.int8  # pointers travel as int64

    def _ext(name: str, *args):
        return types.ExternalFunction(name, types.int64(*args))

    _EXT: dict[tuple[str, str], object] = {}
    for _t, _ft in (("s", types.float32), ("d", types.float64)):
        _EXT[_t, "potrf"] = _ext(f"scipy_LAPACKE_{_t}potrf64_", _i32, _ch, _i64, _i64, _i64)
        _EXT[_t, "getrf"] = _ext(f"scipy_LAPACKE_{_t}getrf64_", _i32, _i64, _i64, _i64, _i64,
                                 _i64)
        _EXT[_t, "gesv"] = _ext(f"scipy_LAPACKE_{_t}gesv64_", _i32, _i64, _i64, _i64, _i64,
                                _i64, _i64, _i64)
        _EXT[_t, "syevd"] = _ext(f"scipy_LAPACKE_{_t}syevd64_", _i32, _ch, _ch, _i64, _i64,
                                 _i64, _i64)
        _EXT[_t, "geqrf"] = _ext(f"scipy_LAPACKE_{_t}geqrf64_", _i32, _i64, _i64, _i64, _i64,
                                 _i64)
        _EXT[_t, "orgqr"] = _ext(f"scipy_LAPACKE_{_t}orgqr64_", _i32, _i64, _i64, _i64, _i64,
                                 _i64, _i64)
        _EXT[_t, "gesdd"] = _ext(f"scipy_LAPACKE_{_t}gesdd64_", _i32, _ch, _i64, _i64, _i64,
                                 _i64, _i64, _i64, _i64, _i64, _i64)
        _EXT[_t, "trsm"] = types.ExternalFunction(
            f"scipy_cblas_{_t}trsm64_",
            types.void(_i32, _i32, _i32, _i32, _i32, _i64, _i64, _ft, _i64, _i64, _i64, _i64))
    if COMPLEX_LAPACK_AVAILABLE:
        _EXT["z", "gesv"] = _ext("scipy_LAPACKE_zgesv64_", _i32, _i64, _i64, _i64, _i64, _i64,
                                 _i64, _i64)
        _EXT["z", "getrf"] = _ext("scipy_LAPACKE_zgetrf64_", _i32, _i64, _i64, _i64, _i64, _i64)
        # (layout, jobvl, jobvr, n, a, lda, wr, wi, vl, ldvl, vr, ldvr); z: w instead of wr, wi
        _EXT["d", "geev"] = _ext("scipy_LAPACKE_dgeev64_", _i32, _ch, _ch, _i64, _i64, _i64,
                                 _i64, _i64, _i64, _i64, _i64, _i64)
        _EXT["z", "geev"] = _ext("scipy_LAPACKE_zgeev64_", _i32, _ch, _ch, _i64, _i64, _i64,
                                 _i64, _i64, _i64, _i64, _i64)
        # the complex routines take the real ones' arguments (zheevd's eigenvalues are real);
        # keyed by the real names so that each kernel is one source for every dtype
        _EXT["z", "potrf"] = _ext("scipy_LAPACKE_zpotrf64_", _i32, _ch, _i64, _i64, _i64)
        _EXT["z", "syevd"] = _ext("scipy_LAPACKE_zheevd64_", _i32, _ch, _ch, _i64, _i64, _i64,
                                  _i64)
        _EXT["z", "geqrf"] = _ext("scipy_LAPACKE_zgeqrf64_", _i32, _i64, _i64, _i64, _i64, _i64)
        _EXT["z", "orgqr"] = _ext("scipy_LAPACKE_zungqr64_", _i32, _i64, _i64, _i64, _i64,
                                  _i64, _i64)
        _EXT["z", "gesdd"] = _ext("scipy_LAPACKE_zgesdd64_", _i32, _ch, _i64, _i64, _i64,
                                  _i64, _i64, _i64, _i64, _i64, _i64)
        # alpha by pointer (to a complex128)
        _EXT["z", "trsm"] = types.ExternalFunction(
            "scipy_cblas_ztrsm64_",
            types.void(_i32, _i32, _i32, _i32, _i32, _i64, _i64, _i64, _i64, _i64, _i64, _i64))
    _LETTER = {types.float32: "s", types.float64: "d", types.complex64: "c",
               types.complex128: "z"}

    _ROW, _COL = 101, 102  # LAPACK_ROW_MAJOR, LAPACK_COL_MAJOR

    # Dtype dispatch: ``_call(name, like, *args)`` calls the routine of ``like``'s dtype. It is
    # resolved while compiling the caller, which stays one cacheable function for both dtypes.
    def _call(name, like, *args):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_call)
    def _call_overload(name, like, *args):
        if not isinstance(name, types.StringLiteral):
            return None  # Numba retries with the literal routine name
        routine = _EXT[_LETTER[like.dtype], name.literal_value]

        def impl(name, like, *args):
            return routine(*args)

        return impl

    @njit(cache=True)
    def _ptr(a):
        return np.int64(a.ctypes.data)

    @njit(cache=True)
    def _keep(*arrays):
        # Numba frees an array after its last use in the source; raw pointers do not count
        pass

    @njit(cache=True)
    def lp_cholesky(a, out):
        """Lower Cholesky factors of ``a`` (b, n, n) into ``out``; NaNs (lower triangle) where
        a matrix is not positive definite. Only the lower triangle of ``a`` is read."""
        nb, n = a.shape[0], a.shape[1]
        out[:] = a
        for b in range(nb):
            m = out[b]
            info = _potrf(m, n)
            for i in range(n):
                for j in range(n):
                    if j > i:
                        m[i, j] = 0
                    elif info != 0:
                        m[i, j] = np.nan
        _keep(out)

    def _potrf(m, n):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_potrf)
    def _potrf_overload(m, n):
        if isinstance(m.dtype, types.Complex):
            # NumPy's path exactly: zpotrf 'L' on the column-major copy (LAPACKE's row-major
            # layout makes it), so the factors are the interpreter's bit for bit
            def impl(m, n):
                return _call("potrf", m, _ROW, np.int8(76), n, _ptr(m), max(n, 1))
            return impl

        def impl_real(m, n):
            # the row-major lower triangle is the column-major upper one: no transposition
            return _call("potrf", m, _COL, np.int8(85), n, _ptr(m), max(n, 1))
        return impl_real

    def _trsm(out, side, uplo, tr, diag, r, c, pa, lda, pb, ldb):  # pragma: no cover
        raise NotImplementedError

    @overload(_trsm)
    def _trsm_overload(out, side, uplo, tr, diag, r, c, pa, lda, pb, ldb):
        if isinstance(out.dtype, types.Complex):
            def impl(out, side, uplo, tr, diag, r, c, pa, lda, pb, ldb):
                one = np.ones(1, np.complex128)
                _call("trsm", out, _ROW, side, uplo, tr, diag, r, c, _ptr(one), pa, lda, pb,
                      ldb)
                _keep(one)
            return impl

        def impl_real(out, side, uplo, tr, diag, r, c, pa, lda, pb, ldb):
            _call("trsm", out, _ROW, side, uplo, tr, diag, r, c, 1.0, pa, lda, pb, ldb)
        return impl_real

    @njit(cache=True)
    def lp_triangular_solve(a, b, out, left, lower, trans, unit, conj):
        """``op(a) x = b`` (``left``) or ``x op(a) = b`` for triangular ``a`` (nb, m, m) and
        ``b`` (nb, r, c), ``op`` transposing (``trans``) and conjugating (``conj``, complex
        only); a matrix with a zero on its (read) diagonal gives NaNs."""
        nb, r, c = b.shape[0], b.shape[1], b.shape[2]
        m = a.shape[1]
        out[:] = b
        side = 141 if left else 142
        uplo = 122 if lower else 121
        # CblasConjTrans; conjugation alone has no cblas flag: a conjugated copy instead
        tr = (113 if conj else 112) if trans else 111
        diag = 132 if unit else 131
        for k in range(nb):
            singular = False
            if not unit:
                for i in range(m):
                    if a[k, i, i] == 0:
                        singular = True
            if singular:
                out[k] = np.nan
            elif r > 0 and c > 0:
                ak = np.conj(a[k]) if conj and not trans else a[k]
                _trsm(out, side, uplo, tr, diag, r, c, _ptr(ak), max(m, 1), _ptr(out[k]),
                      max(c, 1))
                _keep(ak)
        _keep(a, out)

    @njit(cache=True)
    def lp_solve(a, b, out):
        """``a x = b`` for ``a`` (nb, n, n), ``b`` (nb, n, k); NaNs for singular matrices."""
        nb, n, k = b.shape[0], b.shape[1], b.shape[2]
        out[:] = b
        work = np.empty((n, n), a.dtype)
        piv = np.empty(max(n, 1), np.int64)
        for i in range(nb):
            work[:] = a[i]
            info = _call("gesv", work, _ROW, n, k, _ptr(work), max(n, 1), _ptr(piv),
                         _ptr(out[i]), max(k, 1))
            if info != 0:
                out[i] = np.nan
        _keep(work, piv, out)

    def _sign_of(d):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_sign_of)
    def _sign_of_overload(d):
        # a pivot's contribution to the determinant's sign: -1/+1 (a NaN pivot counts as
        # positive, as in NumPy), or d/|d| for complex pivots
        if isinstance(d, types.Complex):
            def impl(d):
                m = abs(d)
                return complex(d.real / m, d.imag / m)
        else:
            def impl(d):
                return -1.0 if d < 0 else 1.0
        return impl

    @njit(cache=True)
    def lp_slogdet(a, sign, logdet):
        """Signs and log|det| of ``a`` (nb, n, n) into ``sign``/``logdet`` (nb,), by LU with
        partial pivoting; a singular matrix gives sign 0 and logdet -inf (as NumPy). Complex
        matrices get the complex sign (the product of the pivots' d/|d|)."""
        nb, n = a.shape[0], a.shape[1]
        work = np.empty((n, n), a.dtype)
        piv = np.empty(max(n, 1), np.int64)
        for i in range(nb):
            work[:] = a[i]
            info = _call("getrf", work, _ROW, n, n, _ptr(work), max(n, 1), _ptr(piv))
            if info != 0:
                sign[i] = 0
                logdet[i] = -np.inf
                continue
            s = 1.0  # Numba widens it to complex for complex pivots
            acc = 0.0
            for j in range(n):
                d = work[j, j]
                if piv[j] != j + 1:
                    s = -s
                s = s * _sign_of(d)
                acc += np.log(abs(d))
            sign[i] = s
            logdet[i] = acc
        _keep(work, piv)

    @njit(cache=True)
    def lp_det(a, out):
        """Determinants of ``a`` (nb, n, n) into ``out`` (nb,): sign * exp(log|det|)."""
        nb = a.shape[0]
        sign = np.empty(nb, out.dtype)
        logdet = np.empty(nb, np.float64)  # real kernels run in float64 (float32 is widened)
        lp_slogdet(a, sign, logdet)
        for i in range(nb):
            out[i] = sign[i] * np.exp(logdet[i])

    @njit(cache=True)
    def lp_eigh(a, v, w, lower):
        """Eigenvectors (columns of ``v``, (nb, n, n)) and ascending eigenvalues ``w`` (nb, n)
        of symmetric ``a``, reading its lower or upper triangle; NaNs if LAPACK fails."""
        nb, n = a.shape[0], a.shape[1]
        v[:] = a
        uplo = np.int8(76) if lower else np.int8(85)
        for i in range(nb):
            info = _call("syevd", v, _ROW, np.int8(86), uplo, n, _ptr(v[i]), max(n, 1),
                         _ptr(w[i]))
            if info != 0:
                v[i] = np.nan
                w[i] = np.nan
        _keep(v, w)

    @njit(cache=True)
    def lp_qr(a, q, r):
        """QR of ``a`` (nb, m, n): ``q`` (nb, m, mc) and ``r`` (nb, mc, n), with mc = m
        (complete) or min(m, n) (reduced), Householder as NumPy (geqrf, then orgqr)."""
        nb, m, n = a.shape[0], a.shape[1], a.shape[2]
        mc = q.shape[2]
        k = min(m, n)
        wd = max(n, mc, 1)
        work = np.zeros((m, wd), a.dtype)
        tau = np.empty(max(k, 1), a.dtype)
        for b in range(nb):
            work[:, :n] = a[b]
            _call("geqrf", work, _ROW, m, n, _ptr(work), wd, _ptr(tau))
            for i in range(mc):
                for j in range(n):
                    r[b, i, j] = work[i, j] if j >= i else 0
            _call("orgqr", work, _ROW, m, mc, k, _ptr(work), wd, _ptr(tau))
            q[b] = work[:, :mc]
        _keep(work, tau)

    @njit(cache=True)
    def lp_svd(a, u, s, vh, jobz):
        """SVD of ``a`` (nb, m, n) by divide and conquer (gesdd, as NumPy): ``jobz`` 65 ('A':
        full), 83 ('S': reduced) or 78 ('N': singular values only; ``u``/``vh`` unused)."""
        nb, m, n = a.shape[0], a.shape[1], a.shape[2]
        work = np.empty((m, n), a.dtype)
        ldu = max(u.shape[2], 1)
        ldvt = max(vh.shape[2], 1)
        for b in range(nb):
            work[:] = a[b]
            if jobz == 78:
                info = _call("gesdd", work, _ROW, np.int8(jobz), m, n, _ptr(work), max(n, 1),
                             _ptr(s[b]), _ptr(u), 1, _ptr(vh), 1)
            else:
                info = _call("gesdd", work, _ROW, np.int8(jobz), m, n, _ptr(work), max(n, 1),
                             _ptr(s[b]), _ptr(u[b]), ldu, _ptr(vh[b]), ldvt)
            if info != 0:
                s[b] = np.nan
                if jobz != 78:
                    u[b] = np.nan
                    vh[b] = np.nan
        _keep(work, u, s, vh)

    @njit(cache=True)
    def lp_svdvals(a, s):
        """Singular values only (descending) of ``a`` (nb, m, n) into ``s`` (nb, min(m, n))."""
        dummy = np.empty((1, 1, 1), a.dtype)
        lp_svd(a, dummy, s, dummy, 78)

    def _cj(x):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_cj)
    def _cj_overload(x):
        if isinstance(x, types.Complex):
            return lambda x: x.conjugate()
        return lambda x: x

    @njit(cache=True)
    def lp_adjugate(a, out):
        """Adjugates of ``a`` (nb, n, n) from the SVD: adj(a) = det(u) det(vh) v diag(p) u^H,
        p_i the product of the other singular values (defined at rank n - 1 too)."""
        nb, n = a.shape[0], a.shape[1]
        u = np.empty((nb, n, n), a.dtype)
        vh = np.empty((nb, n, n), a.dtype)
        s = np.empty((nb, n), np.float64)  # real also for complex matrices
        lp_svd(a, u, s, vh, 65)
        du = np.empty(nb, a.dtype)
        dv = np.empty(nb, a.dtype)
        lp_det(u, du)
        lp_det(vh, dv)
        p = np.empty(n, np.float64)
        for b in range(nb):
            acc = 1.0
            for i in range(n):
                p[i] = acc
                acc *= s[b, i]
            acc = 1.0
            for i in range(n - 1, -1, -1):
                p[i] *= acc
                acc *= s[b, i]
            sg = du[b] * dv[b]
            for i in range(n):
                for j in range(n):
                    t = 0.0
                    for q in range(n):
                        t += _cj(vh[b, q, i]) * p[q] * _cj(u[b, j, q])
                    out[b, i, j] = t * sg

    @njit(cache=True)
    def lp_eig(a, w, v, vectors):
        """Eigenvalues ``w`` (nb, n) and, with ``vectors``, right eigenvectors (columns of
        ``v``, (nb, n, n)) of general ``a`` (nb, n, n; float64 or complex128), both complex128,
        by geev as NumPy's ``linalg.eig``/``eigvals``: unit-norm vectors, LAPACK's order, a
        complex pair of a real matrix as v_j = x + iy, v_j+1 = x - iy. A matrix with a NaN or
        infinity, or one whose iteration fails, gives NaNs (the interpreter's result)."""
        nb, n = a.shape[0], a.shape[1]
        work = np.empty((n, n), a.dtype)
        vr = np.empty((n, n) if vectors else (1, 1), a.dtype)
        ldv = n if vectors else 1
        jobvr = np.int8(86) if vectors else np.int8(78)
        wr = np.empty(n, a.dtype)
        wi = np.empty(n, a.dtype)
        for b in range(nb):
            work[:] = a[b]
            info = 1
            if np.all(np.isfinite(work)):
                info = _geev(work, wr, wi, vr, jobvr, ldv)
            if info != 0:
                w[b] = np.nan
                if vectors:
                    v[b] = np.nan
                continue
            _unpack_eig(wr, wi, vr, w[b], v[b] if vectors else v[0], vectors)
        _keep(work, vr, wr, wi)

    def _geev(a, wr, wi, vr, jobvr, ldv):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_geev)
    def _geev_overload(a, wr, wi, vr, jobvr, ldv):
        # right eigenvectors only (jobvl 'N'); zgeev returns w, dgeev its real and imaginary
        # parts separately
        if isinstance(a.dtype, types.Complex):
            def impl(a, wr, wi, vr, jobvr, ldv):
                n = a.shape[0]
                return _call("geev", a, _ROW, np.int8(78), jobvr, n, _ptr(a), n, _ptr(wr),
                             _ptr(vr), 1, _ptr(vr), ldv)
            return impl

        def impl_real(a, wr, wi, vr, jobvr, ldv):
            n = a.shape[0]
            return _call("geev", a, _ROW, np.int8(78), jobvr, n, _ptr(a), n, _ptr(wr),
                         _ptr(wi), _ptr(vr), 1, _ptr(vr), ldv)
        return impl_real

    def _unpack_eig(wr, wi, vr, w, v, vectors):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    @overload(_unpack_eig)
    def _unpack_eig_overload(wr, wi, vr, w, v, vectors):
        if isinstance(wr.dtype, types.Complex):
            def impl(wr, wi, vr, w, v, vectors):
                w[:] = wr
                if vectors:
                    v[:] = vr
            return impl

        def impl_real(wr, wi, vr, w, v, vectors):
            n = wr.shape[0]
            j = 0
            while j < n:
                if wi[j] == 0 or j + 1 == n:
                    w[j] = complex(wr[j], wi[j])
                    if vectors:
                        for i in range(n):
                            v[i, j] = complex(vr[i, j], 0.0)
                    j += 1
                else:
                    w[j] = complex(wr[j], wi[j])
                    w[j + 1] = complex(wr[j + 1], wi[j + 1])
                    if vectors:
                        for i in range(n):
                            v[i, j] = complex(vr[i, j], vr[i, j + 1])
                            v[i, j + 1] = complex(vr[i, j], -vr[i, j + 1])
                    j += 2
        return impl_real

    __all__ += ["lp_cholesky", "lp_triangular_solve", "lp_solve", "lp_slogdet", "lp_det",
                "lp_eigh", "lp_qr", "lp_svd", "lp_svdvals", "lp_adjugate", "lp_eig"]
