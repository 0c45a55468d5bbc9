"""One test record per primitive: how to call it, on what inputs, and what it should give.

``tests/test_primitive_registry.py`` runs every record through the same checks (values against
NumPy, ``check_grads``, ``vmap`` against a loop, the adjoint identity of linear primitives,
``jit`` against the interpreter), and fails when a primitive of
``functrace.backend.kernels.primitives_by_name()`` has neither a record here nor a reasoned
entry in that file's exclusion list. To add a primitive, add a ``Record`` below.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

import functrace.lax as L
from functrace.ops.linalg_decomp import adjugate_p

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
C128, C64 = np.dtype(np.complex128), np.dtype(np.complex64)
I64, I32, BOOL = np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_)
FLOATS = (F64, F32)


# ---------------------------------------------------------------------------------------------
# Input domains: ``gen(rng, shape, dtype) -> array``
# ---------------------------------------------------------------------------------------------

def _real(rng, shape, dtype):
    return (rng.standard_normal(shape) * 1.5).astype(dtype)


def _uniform(lo, hi):
    return lambda rng, shape, dtype: rng.uniform(lo, hi, shape).astype(dtype)


def _nonzero(rng, shape, dtype):
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)).astype(dtype)


def _off_grid(rng, shape, dtype):
    """Away from integers and halves: floor, ceil and round have no ties or jumps nearby."""
    frac = rng.choice([0.2, 0.35, 0.65, 0.8], shape) + rng.uniform(-0.05, 0.05, shape)
    return (rng.integers(-3, 3, shape) + frac).astype(dtype)


def _ints(lo, hi):
    return lambda rng, shape, dtype: rng.integers(lo, hi, shape).astype(dtype)


def _nonzero_ints(rng, shape, dtype):
    return (rng.integers(1, 4, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def _bools(rng, shape, dtype):
    return rng.random(shape) < 0.5


def _special(rng, shape, dtype):
    x = _real(rng, shape, dtype).ravel()
    x[:3] = [np.inf, -np.inf, np.nan]
    return x.reshape(shape)


def _spd(rng, shape, dtype):
    a = rng.standard_normal(shape)
    n = shape[-1]
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def _well_conditioned(rng, shape, dtype):
    return (rng.standard_normal(shape) + 3 * np.eye(shape[-1])).astype(dtype)


def _lower(rng, shape, dtype):
    return np.tril(_well_conditioned(rng, shape, dtype))


def _complex(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


DOMAINS: dict[str, Callable] = {
    "real": _real, "pos": _uniform(0.5, 3.0), "unit": _uniform(-0.9, 0.9),
    "prob": _uniform(0.05, 0.95), "ge1": _uniform(1.2, 3.0), "nonzero": _nonzero,
    "off_grid": _off_grid, "int": _ints(-5, 6), "bool": _bools, "special": _special,
    "spd": _spd, "well_conditioned": _well_conditioned, "lower": _lower, "complex": _complex,
}


@dataclass(frozen=True)
class Arg:
    """One operand: its shape, its domain (a ``DOMAINS`` key or a generator) and its dtype
    (``None``: the record's dtype under test)."""
    shape: tuple[int, ...]
    domain: str | Callable = "real"
    dtype: Any = None


@dataclass(frozen=True)
class Record:
    """How to test one primitive.

    ``fn`` calls the primitive (through its ``functrace.lax`` wrapper, with static parameters
    fixed) on the operands ``args``; ``ref`` is its NumPy twin on the same operands (``None``:
    the primitive's own NumPy implementation is the reference, so only jit and the
    transformations are checked against it). ``dtypes`` are the dtypes tried for the operands
    whose ``Arg.dtype`` is ``None``; ``tol`` maps a dtype to the value check's ``(rtol, atol)``.
    ``grad``: run ``check_grads`` (order 2) in float64, differentiating the float operands (or
    those in ``grad_argnums``). ``linear``: operand positions the primitive is linear in
    (holding the others fixed), each checked for ``<ct, J t> == <J^T ct, t>``; every primitive
    with a transpose rule needs one, or a reason in ``linear_reason``. ``vmap``: compared with a
    Python loop for ``in_axes`` 0, 1, -1 and None. ``jit_dtypes``: the dtypes compiled by the
    jit check (``None``: all of ``dtypes``).
    """
    name: str
    fn: Callable
    args: tuple[Arg, ...]
    ref: Callable | None
    dtypes: tuple = FLOATS
    tol: dict = field(default_factory=dict)
    grad: bool = False
    grad_argnums: tuple[int, ...] | None = None
    linear: tuple[int, ...] = ()
    linear_reason: str = ""
    vmap: bool = True
    jit_dtypes: tuple | None = None
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")

    def make_args(self, dtype, seed: int = 0) -> list[np.ndarray]:
        """Derandomised operands for ``dtype`` (a different draw per ``seed``)."""
        rng = np.random.default_rng(zlib.crc32(f"{self.id}/{seed}".encode()))
        out = []
        for a in self.args:
            gen = DOMAINS[a.domain] if isinstance(a.domain, str) else a.domain
            dt = np.dtype(dtype if a.dtype is None else a.dtype)
            out.append(np.asarray(gen(rng, a.shape, dt)).astype(dt))
        return out


S = (3, 4)
DEFAULT_TOL = {F64: (1e-12, 1e-14), F32: (2e-6, 1e-7), C128: (1e-12, 1e-14),
                C64: (2e-6, 1e-7)}


def _mp(fn, *, cast_from: int = 0):
    """A NumPy reference from an mpmath function, elementwise, in the operand's dtype."""
    def ref(*xs):
        out = np.vectorize(lambda *v: float(fn(*[mpmath.mpf(float(t)) for t in v])))(*xs)
        return np.asarray(out).astype(xs[cast_from].dtype)
    return ref


def _unary(name, ref, domain="real", grad=True, tol=None, **kw) -> Record:
    return Record(name, getattr(L, name), (Arg(S, domain),), ref, grad=grad,
                  tol=tol or {}, **kw)


def _binary(name, ref, domains=("real", "real"), grad=True, **kw) -> Record:
    return Record(name, getattr(L, name), (Arg(S, domains[0]), Arg(S, domains[1])), ref,
                  grad=grad, **kw)


_SPECIAL_TOL = {F64: (1e-10, 1e-12), F32: (5e-5, 1e-6)}
mpmath.mp.dps = 30

RECORDS: list[Record] = [
    # -- elementwise, unary ------------------------------------------------------------------
    _unary("neg", np.negative, linear=(0,)),
    _unary("exp", np.exp),
    _unary("log", np.log, "pos"),
    _unary("log1p", np.log1p, "pos"),
    _unary("expm1", np.expm1),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tan", np.tan, "unit"),
    _unary("asin", np.arcsin, "unit"),
    _unary("acos", np.arccos, "unit"),
    _unary("atan", np.arctan),
    _unary("sinh", np.sinh),
    _unary("cosh", np.cosh),
    _unary("tanh", np.tanh),
    _unary("asinh", np.arcsinh),
    _unary("acosh", np.arccosh, "ge1"),
    _unary("atanh", np.arctanh, "unit"),
    _unary("logistic", lambda x: (1 / (1 + np.exp(-x))).astype(x.dtype)),
    _unary("sqrt", np.sqrt, "pos"),
    _unary("rsqrt", lambda x: (1 / np.sqrt(x)).astype(x.dtype), "pos"),
    _unary("cbrt", np.cbrt, "nonzero"),
    _unary("abs", np.abs, "nonzero"),
    _unary("sign", np.sign, "nonzero"),
    _unary("floor", np.floor, "off_grid"),
    _unary("ceil", np.ceil, "off_grid"),
    _unary("round", np.round, "off_grid"),
    _unary("is_finite", np.isfinite, "special", grad=False),
    _unary("erf", _mp(mpmath.erf), tol=_SPECIAL_TOL),
    _unary("erfc", _mp(mpmath.erfc), tol=_SPECIAL_TOL),
    _unary("erf_inv", _mp(mpmath.erfinv), "unit", tol=_SPECIAL_TOL),
    _unary("lgamma", _mp(mpmath.loggamma), "pos", tol=_SPECIAL_TOL),
    _unary("digamma", _mp(mpmath.digamma), "pos", tol=_SPECIAL_TOL),
    _unary("ndtri", _mp(lambda p: mpmath.sqrt(2) * mpmath.erfinv(2 * p - 1)), "prob",
           tol=_SPECIAL_TOL),
    # stop_gradient's derivative is zero by design, not the numerical one
    _unary("stop_gradient", lambda x: x, grad=False),
    Record("not", L.not_, (Arg(S, "bool"),), np.logical_not, dtypes=(BOOL,)),
    Record("not", L.not_, (Arg(S, "int"),), np.invert, dtypes=(I64, I32), label="int"),
    Record("real", L.real, (Arg(S, "complex"),), np.real, dtypes=(C128, C64), linear=(0,)),
    Record("imag", L.imag, (Arg(S, "complex"),), np.imag, dtypes=(C128, C64), linear=(0,)),
    Record("conj", L.conj, (Arg(S, "complex"),), np.conj, dtypes=(C128, C64), linear=(0,)),
    Record("integer_pow", lambda x: L.integer_pow(x, 3), (Arg(S),), lambda x: x ** 3,
           grad=True),
    Record("integer_pow", lambda x: L.integer_pow(x, -2), (Arg(S, "nonzero"),),
           lambda x: (x ** -2).astype(x.dtype), grad=True, label="negative"),
    Record("convert_element_type", lambda x: L.convert_element_type(x, np.float32),
           (Arg(S, dtype=F64),), lambda x: x.astype(np.float32), dtypes=(F64,), linear=(0,)),
    Record("convert_element_type", lambda x: L.convert_element_type(x, np.float64),
           (Arg(S, dtype=F32),), lambda x: x.astype(np.float64), dtypes=(F32,), grad=True,
           linear=(0,), label="widen"),
    Record("convert_element_type", lambda x: L.convert_element_type(x, np.float64),
           (Arg(S, "int"),), lambda x: x.astype(np.float64), dtypes=(I64, I32), label="int"),
    Record("iota", lambda: L.iota(np.float64, (3, 4), 1), (),
           lambda: np.broadcast_to(np.arange(4.0), (3, 4)), dtypes=(F64,), vmap=False),
    # -- elementwise, binary -----------------------------------------------------------------
    _binary("add", np.add, linear=(0, 1)),
    _binary("add", np.add, dtypes=(I64, I32), domains=("int", "int"), grad=False, label="int"),
    _binary("sub", np.subtract, linear=(0, 1)),
    _binary("mul", np.multiply, linear=(0, 1)),
    _binary("mul", np.multiply, dtypes=(I64, I32), domains=("int", "int"), grad=False,
            label="int"),
    _binary("div", np.divide, ("real", "nonzero"), linear=(0,)),
    _binary("div", lambda x, y: (np.sign(x) * np.sign(y) * (np.abs(x) // np.abs(y))).astype(
        x.dtype), ("int", _nonzero_ints),
            dtypes=(I64, I32), grad=False, label="int"),
    _binary("rem", np.fmod, ("real", "nonzero")),
    _binary("rem", np.fmod, ("int", _nonzero_ints), dtypes=(I64, I32), grad=False,
            label="int"),
    _binary("pow", np.power, ("pos", "real")),
    _binary("max", np.maximum),
    _binary("min", np.minimum),
    _binary("atan2", np.arctan2),
    *[_binary(n, f, ("int", "int"), grad=False, dtypes=(F64, F32, I64))
      for n, f in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal))],
    *[Record(n, getattr(L, n), (Arg(S, d), Arg(S, d)), f, dtypes=dt, label=lab)
      for n, f in (("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor))
      for d, dt, lab in (("bool", (BOOL,), ""), ("int", (I64, I32), "int"))],
    Record("complex", L.complex, (Arg(S), Arg(S)), lambda x, y: x + 1j * y, linear=(0, 1)),
    _binary("igamma", _mp(lambda a, x: mpmath.gammainc(a, 0, x, regularized=True)),
            ("pos", "pos"), grad_argnums=(1,), tol=_SPECIAL_TOL),
    _binary("igammac", _mp(lambda a, x: mpmath.gammainc(a, x, mpmath.inf, regularized=True)),
            ("pos", "pos"), grad_argnums=(1,), tol=_SPECIAL_TOL),
    Record("polygamma", L.polygamma, (Arg(S, _ints(0, 3)), Arg(S, "pos")),
           _mp(mpmath.polygamma, cast_from=1), grad=True, grad_argnums=(1,),
           tol=_SPECIAL_TOL),
    Record("select_n", L.select_n, (Arg(S, "bool", BOOL), Arg(S), Arg(S)),
           lambda p, a, b: np.where(p, b, a), grad=True, grad_argnums=(1, 2), linear=(1, 2)),
    # -- shapes and data movement ------------------------------------------------------------
    Record("broadcast_in_dim", lambda x: L.broadcast_in_dim(x, (2, 3, 4), (0, 2)),
           (Arg((2, 4)),), lambda x: np.broadcast_to(x[:, None, :], (2, 3, 4)), grad=True,
           linear=(0,)),
    Record("reshape", lambda x: L.reshape(x, (2, 6)), (Arg(S),), lambda x: x.reshape(2, 6),
           grad=True, linear=(0,)),
    Record("transpose", lambda x: L.transpose(x, (1, 0)), (Arg(S),), lambda x: x.T, grad=True,
           linear=(0,)),
    Record("squeeze", lambda x: L.squeeze(x, 1), (Arg((3, 1, 4)),), lambda x: x[:, 0],
           grad=True, linear=(0,)),
    Record("expand_dims", lambda x: L.expand_dims(x, 1), (Arg(S),), lambda x: x[:, None],
           grad=True, linear=(0,)),
    Record("rev", lambda x: L.rev(x, 1), (Arg(S),), lambda x: x[:, ::-1], grad=True,
           linear=(0,)),
    Record("roll", lambda x: L.roll(x, (1, -3), (0, 1)), (Arg(S),),
           lambda x: np.roll(x, (1, -3), (0, 1)), grad=True, linear=(0,)),
    Record("slice", lambda x: L.slice(x, (1, 0), (3, 4), (1, 2)), (Arg(S),),
           lambda x: x[1:3, 0:4:2], grad=True, linear=(0,)),
    Record("pad", lambda x, v: L.pad(x, v, [(1, -1, 1), (0, 2, 0)]), (Arg(S), Arg(())),
           lambda x, v: np.pad(np.insert(x, [1, 2], v, axis=0), [(1, 0), (0, 2)],
                               constant_values=v)[:-1], grad=True, linear=(0, 1)),
    Record("concatenate", lambda x, y: L.concatenate([x, y], 1), (Arg(S), Arg((3, 2))),
           lambda x, y: np.concatenate([x, y], 1), grad=True, linear=(0, 1)),
    Record("dynamic_slice", lambda x, i: L.dynamic_slice(x, (i, 1), (2, 2)),
           (Arg(S), Arg((), _ints(-2, 3), I64)),
           lambda x, i: x[min(max(i % 3 if i < 0 else i, 0), 1):][:2, 1:3],
           grad=True, grad_argnums=(0,), linear=(0,)),
    Record("dynamic_update_slice", lambda x, u, i: L.dynamic_update_slice(x, u, (i, 1)),
           (Arg(S), Arg((2, 2)), Arg((), _ints(0, 3), I64)),
           lambda x, u, i: _dus_ref(x, u, int(i)), grad=True, grad_argnums=(0, 1),
           linear=(0, 1)),
    Record("gather", lambda x, idx: L.gather(x, idx, 0), (Arg(S), Arg((2, 1), _ints(0, 3), I64)),
           lambda x, idx: x[idx[:, 0]], grad=True, grad_argnums=(0,), linear=(0,)),
    *[Record(n, lambda x, idx, u, n=n: getattr(L, n)(x, idx, u, 0),
             (Arg(S, dom), Arg((2, 1), lambda rng, s, d: np.array([[2], [0]]), I64),
              Arg((2, 4), dom)),
             lambda x, idx, u, f=f: _scatter_ref(f, x, idx, u), grad=g,
             grad_argnums=(0, 2), linear=lin, linear_reason=why)
      for n, f, dom, g, lin, why in (
          ("scatter", None, "real", True, (),
           "linear only jointly in (operand, updates): checked by the mul-free scatter_add"),
          ("scatter_add", np.add, "real", True, (0, 2), ""),
          ("scatter_mul", np.multiply, "real", True, (0,), ""),
          ("scatter_min", np.minimum, "real", True, (), ""),
          ("scatter_max", np.maximum, "real", True, (), ""))],
    # -- reductions and scans ----------------------------------------------------------------
    Record("reduce_sum", lambda x: L.reduce_sum(x, 1), (Arg(S),), lambda x: x.sum(1),
           grad=True, linear=(0,)),
    Record("reduce_sum", lambda x: L.reduce_sum(x, (0, 1)), (Arg(S, "int"),),
           lambda x: x.sum((0, 1)).astype(x.dtype), dtypes=(I64, I32), label="int"),
    Record("reduce_max", lambda x: L.reduce_max(x, 1), (Arg(S),), lambda x: x.max(1),
           grad=True),
    Record("reduce_min", lambda x: L.reduce_min(x, 0), (Arg(S),), lambda x: x.min(0),
           grad=True),
    Record("reduce_prod", lambda x: L.reduce_prod(x, 1), (Arg(S, "nonzero"),),
           lambda x: x.prod(1), grad=True),
    Record("reduce_and", lambda x: L.reduce_and(x, 1), (Arg(S, "bool"),),
           lambda x: x.all(1), dtypes=(BOOL,)),
    Record("reduce_or", lambda x: L.reduce_or(x, 0), (Arg(S, "bool"),),
           lambda x: x.any(0), dtypes=(BOOL,)),
    Record("argmax", lambda x: L.argmax(x, 1), (Arg(S),), lambda x: np.argmax(x, 1)),
    Record("argmin", lambda x: L.argmin(x, 0), (Arg(S),), lambda x: np.argmin(x, 0)),
    Record("cumsum", lambda x: L.cumsum(x, 1), (Arg(S),), lambda x: np.cumsum(x, 1),
           grad=True, linear=(0,)),
    Record("cumsum", lambda x: L.cumsum(x, 0, reverse=True), (Arg(S),),
           lambda x: np.cumsum(x[::-1], 0)[::-1], grad=True, linear=(0,), label="reverse"),
    Record("cumprod", lambda x: L.cumprod(x, 1), (Arg(S, "nonzero"),),
           lambda x: np.cumprod(x, 1), grad=True),
    Record("cummax", lambda x: L.cummax(x, 1), (Arg(S),),
           lambda x: np.maximum.accumulate(x, 1), grad=True),
    Record("cummin", lambda x: L.cummin(x, 0), (Arg(S),),
           lambda x: np.minimum.accumulate(x, 0), grad=True),
    Record("sort", lambda x: L.sort(x, 1), (Arg(S),), lambda x: np.sort(x, 1), grad=True),
    Record("dot_general", lambda x, y: L.dot_general(x, y, (((1,), (0,)), ((), ()))),
           (Arg(S), Arg((4, 2))), lambda x, y: x @ y, grad=True, linear=(0, 1),
           tol={F64: (1e-12, 1e-13), F32: (1e-5, 1e-6)}),
    Record("dot_general", lambda x, y: L.dot_general(x, y, (((2,), (1,)), ((0,), (0,)))),
           (Arg((2, 3, 4)), Arg((2, 4, 2))), lambda x, y: x @ y, grad=True, linear=(0, 1),
           tol={F64: (1e-12, 1e-13), F32: (1e-5, 1e-6)}, label="batched"),
    Record("optimization_barrier", L.optimization_barrier, (Arg(S),), lambda x: x, grad=True,
           linear=(0,)),
]


def _dus_ref(x, u, i):
    out = x.copy()
    i = min(max(i, 0), x.shape[0] - u.shape[0])
    out[i:i + u.shape[0], 1:1 + u.shape[1]] = u
    return out


def _scatter_ref(f, x, idx, u):
    out = x.copy()
    for k, i in enumerate(idx[:, 0]):
        out[i] = u[k] if f is None else f(out[i], u[k])
    return out


_LINALG_TOL = {F64: (1e-10, 1e-12), F32: (2e-4, 1e-5)}
M = (3, 3)


def _linalg(*args, **kw) -> Record:
    # compiled in float64 only: each float32 LAPACK kernel takes seconds to compile, and
    # tests/test_lapack.py compiles them in float32
    return Record(*args, jit_dtypes=(F64,), tol=_LINALG_TOL, grad=True, **kw)

RECORDS += [
    _linalg("cholesky", L.cholesky, (Arg(M, "spd"),), np.linalg.cholesky),
    _linalg("triangular_solve",
            lambda a, b: L.triangular_solve(a, b, left_side=True, lower=True),
            (Arg(M, "lower"), Arg((3, 2))), np.linalg.solve, linear=(1,)),
    _linalg("linalg_solve", L.linalg_solve, (Arg(M, "well_conditioned"), Arg((3, 2))),
            np.linalg.solve, linear=(1,)),
    _linalg("det", L.det, (Arg(M, "well_conditioned"),), np.linalg.det),
    _linalg("slogdet", L.slogdet, (Arg(M, "well_conditioned"),),
            lambda a: tuple(np.linalg.slogdet(a))),
    _linalg("adjugate", lambda a: adjugate_p.bind(a), (Arg(M, "well_conditioned"),),
            lambda a: (np.linalg.det(a)[..., None, None] * np.linalg.inv(a)).astype(a.dtype)),
    # decompositions: gauge-free results (eigenvalues, singular values, reconstructions), so
    # that the NumPy reference and the derivatives are well defined
    _linalg("eigh", lambda a: L.eigh(a)[1], (Arg(M, "spd"),), np.linalg.eigvalsh),
    _linalg("qr", lambda a: _qr_parts(L.qr(a, full_matrices=False)), (Arg((3, 2)),),
            lambda a: (a, np.abs(np.linalg.qr(a)[1]))),
    _linalg("svd", lambda a: L.svd(a, full_matrices=False)[1], (Arg((3, 2)),),
            lambda a: np.linalg.svd(a, compute_uv=False)),
]


def _qr_parts(qr):
    q, r = qr
    return L.dot_general(q, r, (((1,), (0,)), ((), ()))), L.abs(r)


def records_by_id() -> dict[str, Record]:
    """Every record by its id (unique)."""
    out = {r.id: r for r in RECORDS}
    assert len(out) == len(RECORDS), "two records share an id: give one a label"
    return out


# floats per call of the mpmath references: keeps them to small operands
assert all(math.prod(a.shape) <= 24 for r in RECORDS for a in r.args)
