"""Find NumPy's bundled OpenBLAS and make its GEMMs callable from compiled code by name.

Numba's own ``np.dot`` goes through SciPy's BLAS, which brings a second OpenBLAS into the
process; two OpenBLAS thread pools competing for the same cores were measured four times slower
than one. NumPy 2 wheels ship ``scipy-openblas`` (64-bit integer interface, symbols prefixed
``scipy_``) in ``numpy.libs``: we register its ``cblas_?gemm`` (s, d, c, z) with LLVM under
their own names so generated code declares them as external functions (see ``_support.py``),
which also keeps that code cacheable on disk (it refers to symbols, not to this process's
addresses).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

from .._openblas import candidate_libraries

GEMM_SYMBOLS = ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_")
# registered on their own: a library without them still serves the real GEMMs
COMPLEX_GEMM_SYMBOLS = ("scipy_cblas_cgemm64_", "scipy_cblas_zgemm64_")


_THREAD_CALLS: tuple | None = None  # (get, set) of the library's thread count, if found


def blas_threads(n: int | None = None) -> int | None:
    """The number of threads NumPy's OpenBLAS uses (None if unknown); with ``n``, set it and
    return the previous number. Tiered execution lowers it while compile workers run: a
    multi-threaded GEMM whose threads must wait for cores busy compiling was measured 50x
    slower (24 ms instead of 0.45 ms for a 128x784x512 float32 product)."""
    if _THREAD_CALLS is None:
        return None
    get, set_ = _THREAD_CALLS
    old = int(get())
    if n is not None and n != old:
        set_(int(n))
    return old


def register_symbols(symbols: Sequence[str]):
    """Find the library of ``_openblas.candidate_libraries`` exporting every one of ``symbols``,
    register them with LLVM under their own names (so compiled code calls them by name and
    stays cacheable), and return it as a ``ctypes.CDLL``; None if there is none."""
    try:
        import llvmlite.binding as llb
    except ImportError:  # pragma: no cover - numba always brings llvmlite
        return None
    for path in candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
            addrs = [ctypes.cast(getattr(lib, s), ctypes.c_void_p).value for s in symbols]
        except (OSError, AttributeError):
            continue
        for sym, addr in zip(symbols, addrs):
            llb.add_symbol(sym, addr)
        return lib
    return None


def _register() -> bool:
    global _THREAD_CALLS
    lib = register_symbols(GEMM_SYMBOLS)
    if lib is None:
        return False
    try:
        get = lib.scipy_openblas_get_num_threads64_
        set_ = lib.scipy_openblas_set_num_threads64_
        get.restype, get.argtypes = ctypes.c_int, []
        set_.restype, set_.argtypes = None, [ctypes.c_int]
        _THREAD_CALLS = (get, set_)
    except AttributeError:
        pass
    return True


BLAS_AVAILABLE = _register()
COMPLEX_GEMM_AVAILABLE = BLAS_AVAILABLE and register_symbols(COMPLEX_GEMM_SYMBOLS) is not None
