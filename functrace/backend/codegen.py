"""Translate a jaxpr into the Python source of a Numba program.

The pipeline (see docs/backend.md for the measurements behind the choices):

1. *Inline* sub-program calls (``jit_call``, custom-derivative wrappers, ``checkpoint``) and
   simplify, so fusion sees through them.
2. *Classify* equations: elementwise (a scalar expression), view (an index mapping: broadcast,
   transpose, slice, pad, ...), reduction, kernel (``dot_general``, cumulative ops, ...), or
   fallback (run with the NumPy implementation).
3. *Fuse*: elementwise equations join the group (one loop nest over one iteration shape) of an
   operand's producer when that creates no cycle; reductions join the group computing their
   operand and accumulate inside its loops. Views never allocate: consumers read through them
   with index arithmetic. A value is stored to memory only when something outside its group
   reads it, so nothing is ever recomputed.
4. *Schedule* the groups and kernels topologically, and *plan memory*: dead buffers of the same
   size and dtype are reused, and an elementwise group writes its result in place of an operand
   it reads for the last time at the same index.
5. *Emit* statements, then either one ``njit`` function (no Python between kernels: the lowest
   latency) or, when some statements must run in Python (NumPy-implemented fallbacks, or
   ``np.matmul`` when so configured), ``njit`` segments called by a Python driver.

This module holds the pipeline, the emission of loop nests and the assembly of modules; the
other steps live beside it: ``fusion`` (steps 2-4: classification, fusion, scheduling),
``memory_plan`` (buffers), ``kernel_context`` and the kernel families ``lower_dot``,
``lower_arrays`` and ``lower_control_flow`` (whose table is ``_KERNELS`` below), and
``codegen_base`` (what they all share).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from .. import core
from ..control_flow import cond_p, scan_p, while_p
from ..core import ClosedJaxpr, Eqn, Jaxpr, Literal, Primitive, Var
from ..jit import jit_call_p
from ..ops import cumulative, indexing, linalg, shapes, sorting
from ..ops import elementwise as ew
from ..remat import optimization_barrier_p
from ..simplify import inlinable_primitives, simplify
from . import kernels, rules
from .codegen_base import (
    HEADER,
    NJIT_OPTIONS,
    CodegenError,
    Stmt,
    _np_dtype,
    _numba_type,
    _shape_tuple,
)
from .fusion import Fusion, Node
from .kernel_context import KernelContext, SubCall
from .kernels import const
from .lower_arrays import (
    _kernel_cumulative,
    _kernel_dynamic_update_slice,
    _kernel_scatter,
    _kernel_sort,
)
from .lower_control_flow import (
    _kernel_cond,
    _kernel_identity,
    _kernel_scan,
    _kernel_subjaxpr,
    _kernel_while,
)
from .lower_dot import _kernel_dot_general
from .memory_plan import MemoryPlanner

# Fused loops containing transcendental functions run in blocks along the innermost axis, with
# the transcendentals done by NumPy's SIMD loops on whole blocks (see ufuncs.py), when the loop
# nest has at least VEC_MIN elements. Blocks hold up to BLOCK elements (they stay in L1).
VEC_MIN = 64
BLOCK = 1024

# Numba and LLVM compile time grows faster than linearly with the size of a function: a longer
# program becomes several compiled segments called from a Python driver (~1 us per call).
MAX_FUNCTION_LINES = 300

# Programs of more than PIECE_MIN_LINES lines are compiled in pieces: segments of at most
# MAX_PIECE_LINES lines, each a module of its own cached by its content (an edited model
# recompiles only the pieces that changed; pieces compile in parallel). A piece ends after at
# least MIN_PIECE_LINES lines at a statement chosen by its content (``_cut_after``), so that
# the cuts do not move when code before them changes.
PIECES = True
PIECE_MIN_LINES = 120
MIN_PIECE_LINES = 24
MAX_PIECE_LINES = 120
_NAME_TOKEN = re.compile(r"\b[A-Za-z_]\w*\b")
_LOCAL_NAME = re.compile(r"(?:x|r|c|t|bi|bo)\d+|[a-z]+\d+_")
_SUBPROGRAM_NAME = re.compile(r"def (\w+)\(")


def _cut_after(stmt: Stmt) -> bool:
    """Whether a piece may end after ``stmt``: about one statement in three, chosen by a hash
    of its code with names left out, so the same statement is a cut point in every program."""
    text = _NAME_TOKEN.sub(lambda m: "_" if _LOCAL_NAME.fullmatch(m.group(0)) else m.group(0),
                           "\n".join(stmt.lines))
    return zlib.crc32(text.encode()) % 3 == 0

def _vector_specs() -> dict[Primitive, tuple]:
    # primitive -> (expression applied before, vectorised function, expression applied after)
    from .ufuncs import UNARY
    specs = {p: (None, uf, None) for p, uf in kernels.by_primitive(UNARY).items()}
    # logistic(x) = 1 / (1 + exp(-x)): the exp runs vectorised, the rest in compiled code
    specs[ew.logistic_p] = ("(-{0})", "exp", "({one} / ({one} + {r}))")
    return specs


_block_kernels: dict[tuple[Primitive, np.dtype], tuple] | None = None


def block_kernels() -> dict[tuple[Primitive, np.dtype], tuple]:
    """``vecblocks.BLOCK_KERNELS`` keyed by (built-in primitive, dtype), built once."""
    global _block_kernels
    if _block_kernels is None:
        from .vecblocks import BLOCK_KERNELS
        by_name: dict[str, dict] = defaultdict(dict)
        for (name, dtype), entry in BLOCK_KERNELS.items():
            by_name[name][dtype] = entry
        _block_kernels = {(p, dtype): entry
                          for p, per_dtype in kernels.by_primitive(by_name).items()
                          for dtype, entry in per_dtype.items()}
    return _block_kernels


def _block_kernel_call(prim: Primitive, dtype: np.dtype) -> str | None:
    """The call of our own block kernel for an elementwise primitive (``vecblocks``: a fast
    path over the block, the special cases patched afterwards), with ``{i}`` standing for its
    comma-separated input blocks and ``{o}`` for the output block."""
    entry = block_kernels().get((prim, dtype))
    if entry is None:
        return None
    kernel, extra = entry
    return f"{kernel.py_func.__name__}({{i}}, {{o}}, bl{''.join(f', {a}' for a in extra)})"


VECTOR_SPECS = _vector_specs()



class Program:
    """Generated source and what the runtime needs to call it."""

    def __init__(self, source: str, mode: str, fallbacks: list, in_avals: list, out_avals: list,
                 extra_consts: list, unlowered: list[str], pieces: list[str] | None = None):
        self.source = source
        self.mode = mode  # "njit": module.main is the compiled function; "driver": make_main
        # "pieces" mode: the segments are modules of their own (sources here, each defining
        # ``piece``), compiled and cached separately; make_main(fallbacks, pieces) drives them
        self.pieces = pieces or []
        self.fallbacks = fallbacks
        self.in_avals = in_avals
        self.out_avals = out_avals
        self.extra_consts = extra_consts
        self.unlowered = unlowered


# ---------------------------------------------------------------------------------------------
# Inlining of call-like primitives
# ---------------------------------------------------------------------------------------------


def _call_param(eqn: Eqn) -> str | None:
    p = eqn.primitive
    if p in rules.call_params:
        return rules.call_params[p]
    if p is jit_call_p:
        return "jaxpr"
    if p in inlinable_primitives:
        return "call_jaxpr"
    return None


def inline_calls(jaxpr: Jaxpr, extra_consts: list) -> Jaxpr:
    """``jaxpr`` with every call-like equation replaced by its sub-program's equations; constants
    of sub-programs become extra trailing inputs (their values appended to ``extra_consts``)."""
    extra_vars: list[Var] = []

    def expand(j: Jaxpr, env: dict, out: list):
        for eqn in j.eqns:
            ins = [env.get(a, a) if isinstance(a, Var) else a for a in eqn.invars]
            param = _call_param(eqn)
            if param is not None:
                sub = eqn.params[param]
                sub_j = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
                consts = sub.consts if isinstance(sub, ClosedJaxpr) else []
                sub_env: dict = {}
                for cv, c in zip(sub_j.constvars, consts):
                    nv = Var(cv.aval)
                    extra_vars.append(nv)
                    extra_consts.append(c)
                    sub_env[cv] = nv
                sub_env.update(zip(sub_j.invars, ins))
                expand(sub_j, sub_env, out)
                for ov, so in zip(eqn.outvars, sub_j.outvars):
                    env[ov] = sub_env.get(so, so) if isinstance(so, Var) else so
                continue
            outs = [Var(v.aval) for v in eqn.outvars]
            env.update(zip(eqn.outvars, outs))
            out.append(eqn.replace(invars=ins, outvars=outs))

    env: dict = {}
    eqns: list[Eqn] = []
    expand(jaxpr, env, eqns)
    outvars = [env.get(v, v) if isinstance(v, Var) else v for v in jaxpr.outvars]
    return Jaxpr(jaxpr.constvars, list(jaxpr.invars) + extra_vars, outvars, eqns)


# ---------------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------------




# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


class Generator(Fusion):
    """Generates the source of one program (see the module docstring for the pipeline)."""

    def __init__(self, closed: ClosedJaxpr, dot_mode: str = "blas", prefix: str = ""):
        if closed.consts:
            raise CodegenError("the backend expects a jaxpr without constants")
        self.prefix = prefix  # names of sub-program functions
        self.subprograms: list[str] = []  # sources of njit functions for control flow
        self.extra_consts: list = []
        jaxpr = inline_calls(closed.jaxpr, self.extra_consts)
        jaxpr = simplify(ClosedJaxpr(jaxpr, [])).jaxpr
        self.jaxpr = jaxpr
        self.eqns = list(jaxpr.eqns)
        self.dot_mode = dot_mode
        self._ids: dict[Var, int] = {}
        self._tmp = 0
        self.fallbacks: list[Callable] = []
        self.unlowered: list[str] = []
        self.name_types: dict[str, tuple[np.dtype, int]] = {}

    # -- names ---------------------------------------------------------------------------------

    def vid(self, v: Var) -> int:
        n = self._ids.get(v)
        if n is None:
            n = self._ids[v] = len(self._ids)
        return n

    def name(self, v: Var) -> str:
        n = f"x{self.vid(v)}"
        if n not in self.name_types:
            self.name_types[n] = (v.aval.dtype, v.aval.ndim if self.mat.get(v) == "array"
                                  else -1)
        return n

    def reg(self, v: Var) -> str:
        return f"r{self.vid(v)}"

    def tmp(self, prefix: str = "t") -> str:
        self._tmp += 1
        return f"{prefix}{self._tmp}_"

    # -- reading values inside a loop nest -----------------------------------------------------

    def store(self, v: Var, expr: str, at: list[str]) -> str:
        """The statement writing ``expr`` to ``v`` at index ``at`` (a plain name if 0-d)."""
        if v.aval.ndim == 0:
            return f"{self.name(v)} = {expr}"
        return f"{self.name(v)}[{', '.join(at)}] = {expr}"

    def read(self, a, idx: list[str]) -> str:
        if isinstance(a, Literal):
            return const(a.val, a.aval.dtype)
        if a.aval.ndim == 0:
            idx = []  # a 0-d operand of an elementwise operation is read as a scalar
        G = self._group
        if G is not None and self.is_register(a, G):
            if self._phase is not None and self._phase_of[a] != self._phase:
                return f"{self._bufname[a]}[jj]"
            return self.reg(a)
        m = self.mat.get(a)
        if m == "scalar":
            return self.name(a)
        if m == "array":
            return f"{self.name(a)}[{', '.join(idx)}]"
        e = self.eqns[self.producer[a]]
        return self.view_expr(e, idx)

    def view_expr(self, e: Eqn, idx: list[str]) -> str:
        fn = kernels.view_lowering(e)
        return fn(e, idx, lambda k, sub: self.read(e.invars[k], sub))

    # -- emission ------------------------------------------------------------------------------

    def vector_op(self, e: Eqn):
        """(pre, ufunc symbol, post) when ``e`` runs blockwise through a NumPy loop."""
        if e.primitive.multiple_results:
            return None
        dt = e.outvars[0].aval.dtype
        if dt not in (np.float32, np.float64) or any(a.aval.dtype != dt for a in e.invars):
            return None
        block = _block_kernel_call(e.primitive, np.dtype(dt))
        if block is not None:
            return None, block, None
        spec = VECTOR_SPECS.get(e.primitive)
        if spec is None or len(e.invars) != 1 or kernels.vecmath_function(e) is not None:
            return None
        from . import ufuncs
        if (spec[1], dt) not in ufuncs.AVAILABLE:
            return None
        isz = dt.itemsize
        return spec[0], ("u_a[0] = ptr({i})\nu_a[1] = ptr({o})\nu_d[0] = bl\n"
                         f"u_s[0] = {isz}\nu_s[1] = {isz}\n"
                         f"npy_{spec[1]}_{dt.name}(ptr(u_a), ptr(u_d), ptr(u_s), 0)"), spec[2]

    def emit_group(self, n: Node, alloc: list[str]) -> list[str]:
        G = n.group
        S = G.shape
        if S and math.prod(S) >= VEC_MIN and any(
                self.kind[m] == "elementwise" and self.vector_op(self.eqns[m]) is not None
                for m in G.members):
            return self.emit_group_blocked(n, alloc)
        self._group = G
        S = G.shape
        r = len(S)
        idx = [f"i{d}" for d in range(r)]
        pre: list[list[str]] = [[] for _ in range(r + 1)]
        post: list[list[str]] = [[] for _ in range(r + 1)]
        body: list[str] = []
        stores: list[str] = []

        for m in G.members:
            e = self.eqns[m]
            if self.kind[m] == "elementwise":
                v = e.outvars[0]
                expr = kernels.elementwise_expr(e, [self.read(a, idx) for a in e.invars])
                body.append(f"{self.reg(v)} = {expr}")
                if v in self.mat:
                    stores.append(self.store(v, self.reg(v), idx))
            else:
                self.emit_reduce(e, idx, pre, post, body)
        for v in G.copies:
            stores.append(self.store(v, self.view_expr(self.eqns[self.producer[v]], idx), idx))
        body.extend(stores)
        self._group = None
        lines = list(alloc)

        def rec(d: int, ind: str):
            lines.extend(ind + s for s in pre[d])
            if d == r:
                lines.extend(ind + s for s in body)
            else:
                lines.append(f"{ind}for i{d} in range({S[d]}):")
                rec(d + 1, ind + "    ")
            lines.extend(ind + s for s in post[d])

        rec(0, "")
        return lines

    def _block_input(self, v: Var, k: int) -> str:
        """The block buffer holding input ``k`` of the vectorised operation computing ``v``."""
        return f"bi{self.vid(v)}" + (f"_{k}" if k else "")

    def emit_group_blocked(self, n: Node, alloc: list[str]) -> list[str]:
        """A loop nest whose innermost axis runs in blocks, in phases: compiled scalar code,
        then NumPy SIMD loops over the block for the transcendentals, then more scalar code."""
        G = n.group
        self._group = G
        S = G.shape
        r = len(S)
        inner = S[-1]
        B = max(1, inner if inner <= 2 * BLOCK else BLOCK)
        idx = [f"i{d}" for d in range(r)]
        phase_of: dict[Var, int] = {}
        mphase: dict[int, int] = {}
        vec: dict[int, tuple] = {}

        def avail(a) -> int:
            return phase_of.get(a, 0) if self.is_register(a, G) else 0

        for m in G.members:
            e = self.eqns[m]
            spec = self.vector_op(e) if self.kind[m] == "elementwise" else None
            if spec is not None:
                p = max(avail(a) for a in e.invars)
                mphase[m] = p
                vec[m] = spec
                phase_of[e.outvars[0]] = p + 1
            else:
                ins = e.invars if self.kind[m] == "elementwise" else e.invars[:1]
                p = max([avail(a) for a in ins] + [0])
                mphase[m] = p
                for v in e.outvars:
                    phase_of[v] = p
        final = max(list(phase_of.values()) + [0])
        nph = final + 1
        # values read in a later phase than the one computing them go through block buffers
        need_buf: dict[Var, None] = {}  # ordered: the generated source is deterministic
        for m in G.members:
            if m in vec:
                continue
            e = self.eqns[m]
            for a in e.invars:
                if self.is_register(a, G) and phase_of[a] < mphase[m]:
                    need_buf[a] = None
        stored = [v for m in G.members for v in self.eqns[m].outvars
                  if self.kind[m] == "elementwise" and v in self.mat]
        for v in stored:
            if phase_of[v] < final:
                need_buf[v] = None
        bufname: dict[Var, str] = {}
        setup = ["u_a = np.empty(2, np.int64)", "u_d = np.empty(1, np.int64)",
                 "u_s = np.empty(2, np.int64)"]
        keep: list[str] = []
        # our own block kernels read an operand that is already a C-contiguous array of the
        # loop's shape in place (a slice), without the copy into a block buffer
        direct: dict[tuple[int, int], str] = {}
        for m, (pre_t, fn, _) in vec.items():
            if pre_t is not None or fn.startswith("u_a"):  # NumPy's loops get buffers
                continue
            for k, a in enumerate(self.eqns[m].invars):
                if (isinstance(a, Var) and not self.is_register(a, G)
                        and self.mat.get(a) == "array" and a.aval.shape == S):
                    direct[m, k] = f"{self.name(a)}[{', '.join(idx[:-1] + ['j0:'])}]"
        # ...and write their result straight into its array when that is a fresh one of the
        # loop's shape (not an operand's buffer taken over in place: the kernel writes a whole
        # block before later phases read the operands of its elements)
        direct_out: dict[int, str] = {}
        for m, (pre_t, fn, post_t) in vec.items():
            v = self.eqns[m].outvars[0]
            if (pre_t is None and post_t is None and not fn.startswith("u_a")
                    and self.mat.get(v) == "array" and v.aval.shape == S
                    and v not in self.written_in_place):
                direct_out[m] = f"{self.name(v)}[{', '.join(idx[:-1] + ['j0:'])}]"
        for m, (_, _, post_t) in vec.items():
            v = self.eqns[m].outvars[0]
            dt = _np_dtype(v.aval.dtype)
            bout = f"bo{self.vid(v)}"
            if m not in direct_out:
                setup.append(f"{bout} = np.empty({B}, {dt})")
                keep.append(bout)
            for k in range(len(self.eqns[m].invars)):
                if (m, k) not in direct:
                    setup.append(f"{self._block_input(v, k)} = np.empty({B}, {dt})")
                    keep.append(self._block_input(v, k))
            if post_t is None:
                bufname[v] = bout
        for v in need_buf:
            if v not in bufname:
                bufname[v] = f"bb{self.vid(v)}"
                setup.append(f"{bufname[v]} = np.empty({B}, {_np_dtype(v.aval.dtype)})")
                keep.append(bufname[v])
        pre: list[list[str]] = [[] for _ in range(r + 1)]
        post: list[list[str]] = [[] for _ in range(r + 1)]
        phases: list[list[str]] = [[] for _ in range(nph)]
        calls: list[list[str]] = [[] for _ in range(nph)]
        self._phase_of, self._bufname = phase_of, bufname
        # vector results become registers at the start of the phase after their call
        for m, (_, _, post_t) in vec.items():
            v = self.eqns[m].outvars[0]
            p = phase_of[v]
            val = f"bo{self.vid(v)}[jj]"
            if post_t is not None:
                val = post_t.format(r=val, one=const(1, v.aval.dtype))
            phases[p].append(f"{self.reg(v)} = {val}")
            if v in need_buf and bufname[v] != f"bo{self.vid(v)}":
                phases[p].append(f"{bufname[v]}[jj] = {self.reg(v)}")

        for m in G.members:
            e = self.eqns[m]
            q = mphase[m]
            self._phase = q
            if m in vec:
                pre_t, fn, post_t = vec[m]
                v = e.outvars[0]
                srcs = []
                for k, a in enumerate(e.invars):
                    src = direct.get((m, k))
                    if src is None:
                        x = self.read(a, idx)
                        if pre_t is not None:
                            x = kernels.cast(pre_t.format(x), v.aval.dtype)
                        src = self._block_input(v, k)
                        phases[q].append(f"{src}[jj] = {x}")
                    srcs.append(src)
                if m in direct_out:
                    calls[q].append(f"bo{self.vid(v)} = {direct_out[m]}")
                calls[q] += fn.format(i=", ".join(srcs), o=f"bo{self.vid(v)}").split("\n")
            elif self.kind[m] == "elementwise":
                v = e.outvars[0]
                expr = kernels.elementwise_expr(e, [self.read(a, idx) for a in e.invars])
                phases[q].append(f"{self.reg(v)} = {expr}")
                if v in need_buf:
                    phases[q].append(f"{bufname[v]}[jj] = {self.reg(v)}")
            else:
                body: list[str] = []
                self.emit_reduce(e, idx, pre, post, body)
                phases[q].extend(body)
        self._phase = final
        already_stored = {self.eqns[m].outvars[0] for m in direct_out}
        for v in stored:
            if v not in already_stored:
                phases[final].append(self.store(v, self.read(v, idx), idx))
        self._phase = None
        self._group = None
        lines = list(alloc) + setup

        def rec(d: int, ind: str):
            lines.extend(ind + s_ for s_ in pre[d])
            if d == r - 1:
                lines.append(f"{ind}for j0 in range(0, {inner}, {B}):")
                ind2 = ind + "    "
                lines.append(f"{ind2}bl = min({B}, {inner} - j0)")
                for q in range(nph):
                    if phases[q]:
                        lines.append(f"{ind2}for jj in range(bl):")
                        lines.append(f"{ind2}    i{r - 1} = j0 + jj")
                        lines.extend(ind2 + "    " + s_ for s_ in phases[q])
                    lines.extend(ind2 + s_ for s_ in calls[q])
            else:
                lines.append(f"{ind}for i{d} in range({S[d]}):")
                rec(d + 1, ind + "    ")
            lines.extend(ind + s_ for s_ in post[d])

        rec(0, "")
        lines.append("keep_alive(u_a, u_d, u_s)")
        for k in range(0, len(keep), 3):
            chunk = keep[k:k + 3]
            chunk += [chunk[-1]] * (3 - len(chunk))
            lines.append(f"keep_alive({', '.join(chunk)})")
        return lines

    def emit_reduce(self, e: Eqn, idx, pre, post, body) -> None:
        red = kernels.reducer_for(e)
        axes = sorted(kernels.reduce_axes(e))
        v, x = e.outvars[0], e.invars[0]
        r = len(idx)
        in_dt, out_dt = x.aval.dtype, v.aval.dtype
        t = f"t{self.vid(v)}"
        body.append(f"{t} = {self.read(x, idx)}")
        kept = [idx[d] for d in range(r) if d not in axes]
        k = len(axes)
        suffix = axes == list(range(r - k, r))
        if red.arg:
            (axis,) = axes
            op = red.combine
            init = red.init(in_dt)
            # a callable: the whole test (complex values: ``kernels._COMPLEX_ORDER_REDUCERS``)
            cond = op(t, "{m}") if callable(op) else \
                f"{t} {op} {{m}} or ({t} != {t} and {{m}} == {{m}})"
            if suffix:
                mv, kv = f"m{self.vid(v)}", f"k{self.vid(v)}"
                pre[r - 1] += [f"{mv} = {init}", f"{kv} = 0"]
                body += [f"if {cond.format(m=mv)}:", f"    {mv} = {t}",
                         f"    {kv} = {idx[axis]}"]
                post[r - 1].append(self.store(v, kernels.cast(kv, out_dt), kept))
            else:
                mv = f"m{self.vid(v)}"
                at = f"[{', '.join(kept)}]"
                shape = _shape_tuple(v.aval.shape)
                pre[0] += [f"{mv} = np.full({shape}, {init})",
                           f"{self.name(v)}[:] = 0"]
                body += [f"if {cond.format(m=mv + at)}:", f"    {mv}{at} = {t}",
                         f"    {self.name(v)}{at} = {idx[axis]}"]
            return
        acc_dt = red.acc_dtype(in_dt) if red.acc_dtype else in_dt
        natural = acc_dt in kernels._NATURAL and (in_dt == acc_dt or in_dt == np.float32)
        if suffix:
            c = f"c{self.vid(v)}"
            expr = red.combine(c, t, acc_dt)
            pre[r - k].append(f"{c} = {red.init(acc_dt)}")
            body.append(f"{c} = {expr if natural else kernels.cast(expr, acc_dt)}")
            res = c if acc_dt == out_dt else kernels.cast(c, out_dt)
            post[r - k].append(self.store(v, res, kept))
        else:
            target = f"{self.name(v)}[{', '.join(kept)}]"
            expr = red.combine(target, t, out_dt)
            natural = out_dt in kernels._NATURAL and in_dt == out_dt
            pre[0].append(f"{self.name(v)}[:] = {red.init(out_dt)}")
            body.append(f"{target} = {expr if natural else kernels.cast(expr, out_dt)}")

    # -- kernels and fallbacks -----------------------------------------------------------------

    def operand(self, a) -> str:
        if isinstance(a, Literal):
            return const(a.val, a.aval.dtype)
        return self.name(a)

    def emit_fallback(self, i: int) -> Stmt:
        e = self.eqns[i]
        impl = core.impl_rules.get(e.primitive)
        if impl is None:
            raise CodegenError(f"primitive {e.primitive} has no implementation")
        odd = sorted({a.aval.dtype.name for a in list(e.invars) + list(e.outvars)
                      if a.aval.dtype not in kernels.NJIT_DTYPES})
        what = e.primitive.name + (f"' on {', '.join(odd)} values" if odd else "'")
        if what not in self.unlowered:
            self.unlowered.append(what)
        k = len(self.fallbacks)
        params = dict(e.params)
        self.fallbacks.append(lambda *args, _impl=impl, _p=params: _impl(*args, **_p))
        args = ", ".join(self.operand(a) for a in e.invars)
        res = self.tmp("f")
        lines = [f"{res} = _fallback[{k}]({args})  # {e.primitive}"]
        outs = e.outvars
        for j, v in enumerate(outs):
            src = f"{res}[{j}]" if e.primitive.multiple_results else res
            conv = "norm_arg" if v.aval.ndim else "as_scalar"
            lines.append(f"{self.name(v)} = {conv}({src}, {_np_dtype(v.aval.dtype)})")
        uses = [self.name(a) for a in e.invars if isinstance(a, Var)]
        return Stmt(lines, [self.name(v) for v in outs], uses, py=True)

    # -- memory planning and the statement list ------------------------------------------------

    def statements(self, order: list[Node]) -> list[Stmt]:
        """The statements of the scheduled nodes, each value given a buffer by the memory
        planner (``memory_plan``) as the nodes are emitted."""
        last_use: dict[Var, int] = {}
        for p, n in enumerate(order):
            for u in n.inputs:
                last_use[u] = p
        end = len(order)
        for v in self.outset:
            last_use[v] = end
        params = set(self.jaxpr.invars)
        plan = MemoryPlanner(self)
        self.alias_of = plan.alias_of
        self.written_in_place = plan.written_in_place
        stmts: list[Stmt] = []

        def allocated(v: Var, inplace: list[Var], alloc: list[str], uses: list[str]) -> None:
            a = plan.allocate(v, inplace)
            alloc.append(a.line)
            if a.reuses is not None and a.reuses not in uses:
                uses.append(a.reuses)  # the statement reads the buffer's earlier name

        for p, n in enumerate(order):
            arrays = [v for v in n.defs if self.mat.get(v) == "array"]
            uses = [self.name(u) for u in n.inputs]
            if n.group is not None:
                dying = [u for u in n.direct_reads if last_use.get(u) == p and u not in params
                         and u not in self.outset]
                elementwise_defs = {e_out for m in n.group.members
                                    if self.kind[m] == "elementwise"
                                    for e_out in self.eqns[m].outvars}
                alloc: list[str] = []
                for v in arrays:
                    allocated(v, dying if v in elementwise_defs else [], alloc, uses)
                lines = self.emit_group(n, alloc)
                stmts.append(Stmt(lines, [self.name(v) for v in n.defs], uses))
            else:
                stmts.append(self._kernel_statement(n, arrays, uses, plan, allocated))
            # values read for the last time here free their buffers for later nodes
            for u in dict.fromkeys(n.inputs):
                if last_use.get(u) == p:
                    plan.release(u)
            # values nobody reads (dead stores of multi-output nodes) free theirs right away
            for v in arrays:
                if v not in last_use:
                    plan.release(v)
        return stmts

    def _kernel_statement(self, n: Node, arrays: list[Var], uses: list[str],
                          plan: MemoryPlanner, allocated) -> Stmt:
        """The statement of a kernel node, or of a fallback when the kernel declines."""
        i = n.eqn
        e = self.eqns[i]
        kctx = None
        if self.kind[i] == "kernel":
            kctx = KernelContext(self, e, [self.operand(a) for a in e.invars],
                                 [self.name(v) for v in e.outvars])
            saved = (len(self.params), len(self.subprograms), len(self.extra_consts))
            try:
                kernel_for(e)(kctx, e)
            except CodegenError:
                # e.g. control flow whose body needs Python: run it with NumPy
                del self.params[saved[0]:], self.subprograms[saved[1]:]
                del self.extra_consts[saved[2]:]
                kctx = None
        if kctx is None:
            st = self.emit_fallback(i)
            same_dtype = [u for u in n.inputs if self.mat.get(u) == "array"]
            for v in arrays:
                # NumPy implementations may return an operand or a view of one
                plan.hold(v, [u for u in same_dtype if u.aval.dtype == v.aval.dtype])
            return st
        alloc: list[str] = []
        for v in arrays:
            if v in kctx.aliases:
                plan.hold(v, [kctx.aliases[v]])
                continue
            allocated(v, [], alloc, uses)
        uses += [self.name(v) for v in self.params[saved[0]:]]  # sub-program consts
        return Stmt(alloc + kctx.lines, [self.name(v) for v in n.defs], uses, py=kctx.py)

    # -- putting the program together ----------------------------------------------------------

    def _prepare(self) -> tuple[list[str], list[Stmt], list]:
        """Run the pipeline; returns parameter names, statements and output descriptions."""
        self.analyze()
        self.fuse()
        self.materialise()
        self._group = None
        self._phase = None
        order = self.build_nodes()
        self.params: list[Var] = list(self.jaxpr.invars)
        stmts = self.statements(order)  # control-flow lowerings may add parameters
        in_names = []
        prelude: list[Stmt] = []
        for k, v in enumerate(self.params):
            if v.aval.ndim or self._scalar_io:
                in_names.append(self.name(v))
            else:
                p = f"a{k}"
                in_names.append(p)
                self.name_types[p] = (v.aval.dtype, 0)
                prelude.append(Stmt([f"{self.name(v)} = {p}[()]"], [self.name(v)], [p]))
        # outputs: fresh arrays (copies of inputs, of repeated outputs, and of values that may
        # share memory with those), 0-d as arrays
        seen: set = set()
        out_exprs = []
        params = set(self.params)
        for v in self.jaxpr.outvars:
            mem = {v} | self.alias_of.get(v, set()) if isinstance(v, Var) else set()
            if isinstance(v, Literal):
                out_exprs.append(("const", const(v.val, v.aval.dtype), v.aval))
            elif v.aval.ndim == 0:
                out_exprs.append(("scalar", self.name(v), v.aval))
            elif mem & params or mem & seen:
                out_exprs.append(("copy", self.name(v), v.aval))
            else:
                out_exprs.append(("array", self.name(v), v.aval))
            seen |= mem
        return in_names, prelude + stmts, out_exprs

    _scalar_io = False

    def generate(self) -> Program:
        in_names, body, out_exprs = self._prepare()
        size = sum(len(s.lines) for s in body)
        pieces: list[str] = []
        if PIECES and size > PIECE_MIN_LINES:
            mode = "pieces"
            source = self._driver_source(in_names, body, out_exprs, pieces)
        else:
            too_big = size > MAX_FUNCTION_LINES
            mode = ("driver" if any(s.py for s in body) or too_big or self._needs_driver()
                    else "njit")
            if mode == "njit":
                source = self._njit_source(in_names, body, out_exprs)
            else:
                source = self._driver_source(in_names, body, out_exprs)
            if self.subprograms:
                source = source.replace(HEADER, HEADER + "\n" + "\n".join(self.subprograms), 1)
        return Program(source, mode, self.fallbacks, [v.aval for v in self.params],
                       [v.aval for v in self.jaxpr.outvars], self.extra_consts, self.unlowered,
                       pieces)

    # -- sub-programs for control flow -----------------------------------------------------------

    def lower_subprogram(self, closed: ClosedJaxpr) -> tuple[str, list[str]]:
        """Compile ``closed`` into an njit function of the same module, for a control-flow
        lowering (``rules.subjaxpr_lowerings``) to call, e.g. in a loop.

        The function takes the sub-program's inputs (arrays for arrays, scalars for 0-d values)
        followed by the returned extra arguments (the sub-program's constants, which become
        inputs of the whole program), and returns a tuple of its outputs (same convention).
        Raises ``CodegenError`` if the sub-program needs the Python driver (then the equation
        runs with its NumPy implementation instead).
        """
        sub, fname, consts = self._sub_generator(closed)
        in_names, body, out_exprs = sub._prepare()
        if any(st.py for st in body):
            raise CodegenError("a sub-program needs Python between compiled parts")
        self.subprograms.extend(sub.subprograms)
        lines = [f"@njit({NJIT_OPTIONS})", f"def {fname}({', '.join(in_names)}):"]
        for st in body:
            lines.extend("    " + ln for ln in st.lines)
        rets = [f"{e}.copy()" if k == "copy" else
                (f"np.full({_shape_tuple(a.shape)}, {e})" if k == "const" and a.ndim else e)
                for k, e, a in out_exprs]
        lines.append(f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        self.subprograms.append("\n".join(lines) + "\n")
        extra = self._consts_as_params(list(consts) + list(sub.extra_consts))
        return fname, extra

    # Set on the generator of a loop body (``lower_subprogram_into``): outputs written into the
    # caller's buffers, and every buffer the body needs allocated once by the caller.
    _out_buffers: dict | None = None
    _workspace: list | None = None

    def _workspace_param(self, shape, dtype) -> str:
        nm = self.tmp("ws")
        self._workspace.append((nm, tuple(shape), np.dtype(dtype)))
        return nm

    def scratch(self, k: KernelContext, shape, dtype) -> str:
        """A buffer for a lowering's own use. In a loop body it is a parameter the caller
        allocates once before its loop (recursively, up to the program); in the program, an
        ``np.empty`` emitted by ``k``."""
        if self._workspace is not None:
            return self._workspace_param(shape, dtype)
        nm = k.tmp("w")
        k.emit(f"{nm} = np.empty({_shape_tuple(tuple(shape))}, {_np_dtype(dtype)})")
        return nm

    def lower_subprogram_into(self, closed: ClosedJaxpr, k: KernelContext) -> SubCall:
        """Compile ``closed`` into an njit function that allocates nothing, for a control-flow
        lowering to call in a loop.

        The function takes the sub-program's inputs (arrays, scalars for 0-d values), its
        constants, one buffer per array output (which it fills: the matmuls and fused loops of
        the body write straight into it), then its workspace (every intermediate buffer,
        allocated once here through ``scratch``). It returns the tuple of its 0-d outputs, or
        nothing if there are none. An output buffer must not share memory with any input.
        Raises ``CodegenError`` if the sub-program needs the Python driver.
        """
        sub, fname, consts = self._sub_generator(closed)
        sub._workspace = []
        sub._out_buffers = {}
        sub._placed = set()
        # the generator simplifies its jaxpr: map output positions through its outvars
        out_params: list[str | None] = []
        for v in sub.jaxpr.outvars:
            if v.aval.ndim:
                p = sub.tmp("ob")
                out_params.append(p)
                if isinstance(v, Var) and v not in sub._out_buffers:
                    sub._out_buffers[v] = p
            else:
                out_params.append(None)
        in_names, body, out_exprs = sub._prepare()
        if any(st.py for st in body):
            raise CodegenError("a sub-program needs Python between compiled parts")
        self.subprograms.extend(sub.subprograms)
        params = in_names + [p for p in out_params if p is not None]
        params += [nm for nm, _, _ in sub._workspace]
        lines = [f"@njit({NJIT_OPTIONS})", f"def {fname}({', '.join(params)}):"]
        for st in body:
            lines.extend("    " + ln for ln in st.lines)
        rets = []
        for v, p, (_, e, _) in zip(sub.jaxpr.outvars, out_params, out_exprs):
            if p is None:
                rets.append(e)
            elif not (sub._out_buffers.get(v) == p and v in sub._placed):
                lines.append(f"    {p}[...] = {e}")  # an input, a constant, a repeated output
        if rets:
            lines.append(f"    return ({', '.join(rets)},)")
        self.subprograms.append("\n".join(lines) + "\n")
        extra = self._consts_as_params(list(consts) + list(sub.extra_consts))
        ws = [self.scratch(k, shape, dt) for _, shape, dt in sub._workspace]
        return SubCall(fname, extra, [p is not None for p in out_params], ws)

    def _sub_generator(self, closed: ClosedJaxpr) -> tuple[Generator, str, list]:
        """A generator for a sub-program of this one (its constants become its last inputs;
        0-d values in and out as scalars), the name of its function, and its constants."""
        j = closed.jaxpr
        jaxpr = ClosedJaxpr(Jaxpr((), list(j.invars) + list(j.constvars), j.outvars, j.eqns), ())
        fname = f"{self.prefix}sub{len(self.subprograms)}"
        sub = Generator(jaxpr, self.dot_mode, prefix=fname + "_")
        sub._scalar_io = True
        return sub, fname, list(closed.consts)

    def _consts_as_params(self, consts: list) -> list[str]:
        """A sub-program's constants (its own and those of what it inlined) as parameters of
        the whole program: their names here."""
        names = []
        for c in consts:
            aval = core.get_aval(c)
            v = Var(aval)
            self.mat[v] = "array" if aval.ndim else "scalar"
            self.params.append(v)
            self.extra_consts.append(c)
            names.append(self.name(v))
        return names

    def _needs_driver(self) -> bool:
        avals = [v.aval for v in self.params] + [v.aval for v in self.jaxpr.outvars]
        return any(a.dtype not in kernels.COMPILED_DTYPES for a in avals)

    def _njit_source(self, in_names, body: list[Stmt], out_exprs) -> str:
        sig = ", ".join(_numba_type(v.aval.dtype, v.aval.ndim) for v in self.params)
        lines = [HEADER, "", f"@njit(({sig}{',' if len(in_names) == 1 else ''}), "
                 f"{NJIT_OPTIONS})", f"def main({', '.join(in_names)}):"]
        for s in body:
            lines.extend("    " + ln for ln in s.lines)
        rets = []
        for kind, expr, aval in out_exprs:
            if kind == "const":
                rets.append(f"np.full((), {expr})" if aval.ndim == 0 else
                            f"np.full({_shape_tuple(aval.shape)}, {expr})")
            elif kind == "scalar":
                rets.append(f"zero_d({expr})")
            elif kind == "copy":
                rets.append(f"{expr}.copy()")
            else:
                rets.append(expr)
        if len(rets) == 1:
            lines.append(f"    return {rets[0]}")
        else:
            lines.append(f"    return ({', '.join(rets)})")
        return "\n".join(lines) + "\n"

    def _driver_source(self, in_names, body: list[Stmt], out_exprs,
                       pieces: list[str] | None = None) -> str:
        # Runs of compiled statements become njit segments; the driver calls them in order.
        # With ``pieces``, each segment is a module of its own (see ``_piece_source``), cut at
        # content-defined points so that an edit elsewhere in the program leaves it unchanged.
        seg_src: list[str] = []
        driver: list[str] = []
        defined_later_use: dict[str, int] = {}
        for p, s in enumerate(body):
            for u in s.uses:
                defined_later_use[u] = p
        out_names = {expr for kind, expr, _ in out_exprs if kind != "const"}
        for j, v in enumerate(self.params):
            nm = in_names[j]
            dt = _np_dtype(v.aval.dtype)
            driver.append(f"{nm} = norm_arg({nm}, {dt})")
        p = 0
        nseg = 0
        while p < len(body):
            if body[p].py:
                driver.extend(body[p].lines)
                p += 1
                continue
            q, size = p, 0
            limit = MAX_FUNCTION_LINES if pieces is None else MAX_PIECE_LINES
            while q < len(body) and not body[q].py and (
                    q == p or size + len(body[q].lines) <= limit):
                size += len(body[q].lines)
                q += 1
                if pieces is not None and size >= MIN_PIECE_LINES and _cut_after(body[q - 1]):
                    break
            run = body[p:q]
            defined: set[str] = set()
            params: list[str] = []
            for s in run:
                for u in s.uses:
                    if u not in defined and u not in params:
                        params.append(u)
                defined.update(s.defs)
            later = set()
            for s in body[q:]:
                later.update(s.uses)
            later |= out_names
            rets = [d for s in run for d in s.defs if d in later]
            p = q
            if not rets:
                continue
            fname = f"seg{nseg}"
            nseg += 1
            sig = ", ".join(self._param_type(u) for u in params)
            if len(params) == 1:
                sig += ","
            seg = [f"@njit(({sig}), {NJIT_OPTIONS})", f"def {fname}({', '.join(params)}):"]
            for s in run:
                seg.extend("    " + ln for ln in s.lines)
            seg += [f"    return ({', '.join(rets)},)", ""]
            if pieces is None:
                seg_src += seg
            else:
                pieces.append(self._piece_source(seg))
                fname = f"_pieces[{len(pieces) - 1}]"
            driver.append(f"({', '.join(rets)},) = {fname}({', '.join(params)})")
            for r_ in rets:
                dt, nd = self.name_types[r_]
                if nd < 0:
                    driver.append(f"{r_} = as_scalar({r_}, {_np_dtype(dt)})")
        rets = []
        for kind, expr, aval in out_exprs:
            dt = _np_dtype(aval.dtype)
            if kind == "const":
                rets.append(f"np.full({_shape_tuple(aval.shape) if aval.ndim else '()'}, "
                            f"{expr}, {dt})")
            elif kind == "scalar":
                rets.append(f"np.asarray({expr}, {dt})")
            elif kind == "copy":
                rets.append(f"{expr}.copy()")
            else:
                rets.append(expr)
        ret = rets[0] if len(rets) == 1 else f"({', '.join(rets)}{',' if len(rets) == 1 else ''})"
        if pieces is not None:
            lines = [HEADER, "", "def make_main(_fallback, _pieces):",
                     f"    def main({', '.join(in_names)}):"]
        else:
            lines = [HEADER, ""] + seg_src + ["", "def make_main(_fallback):",
                                              f"    def main({', '.join(in_names)}):"]
        lines += ["        " + ln for ln in driver]
        lines += [f"        return {ret}", "", "    return main", ""]
        return "\n".join(lines)

    def _piece_source(self, seg: list[str]) -> str:
        """A segment as a module of its own: the function renamed ``piece`` and every name in
        it renamed in order of appearance, with the control-flow sub-programs it calls, so
        that the same code anywhere (another program, the same layer after an edit elsewhere)
        has the same source, hence the same cache entry."""
        text = "\n".join(seg)
        needed: list[str] = []
        subs = {_SUBPROGRAM_NAME.search(src).group(1): src for src in self.subprograms}
        todo = [m.group(0) for m in _NAME_TOKEN.finditer(text) if m.group(0) in subs]
        while todo:
            nm = todo.pop()
            if nm not in needed:
                needed.append(nm)
                todo += [m.group(0) for m in _NAME_TOKEN.finditer(subs[nm]) if m.group(0) in subs]
        order = [nm for nm in subs if nm in needed]  # callees are defined before callers
        text = "\n".join(subs[nm] for nm in order) + "\n" + text
        text = re.sub(r"\bdef seg\d+\(", "def piece(", text, count=1)
        renames: dict[str, str] = {}

        def rename(m: re.Match) -> str:
            tok = m.group(0)
            if tok in subs or _LOCAL_NAME.fullmatch(tok):
                if tok not in renames:
                    renames[tok] = f"{'s' if tok in subs else 'v'}{len(renames)}"
                return renames[tok]
            return tok

        return HEADER + "\n" + _NAME_TOKEN.sub(rename, text) + "\n"

    def _param_type(self, name: str) -> str:
        dt, nd = self.name_types[name]
        return _numba_type(dt, nd)



_KERNELS: dict[Primitive, Callable] = {
    linalg.dot_general_p: _kernel_dot_general,
    cumulative.cumsum_p: _kernel_cumulative,
    cumulative.cumprod_p: _kernel_cumulative,
    cumulative.cummax_p: _kernel_cumulative,
    cumulative.cummin_p: _kernel_cumulative,
    shapes.dynamic_update_slice_p: _kernel_dynamic_update_slice,
    indexing.scatter_add_p: _kernel_scatter,
    indexing.scatter_mul_p: _kernel_scatter,
    indexing.scatter_min_p: _kernel_scatter,
    indexing.scatter_max_p: _kernel_scatter,
    indexing.scatter_p: _kernel_scatter,
    sorting.sort_p: _kernel_sort,
    while_p: _kernel_while,
    cond_p: _kernel_cond,
    scan_p: _kernel_scan,
    optimization_barrier_p: _kernel_identity,
}


def kernel_for(e: Eqn) -> Callable | None:
    p = e.primitive
    if p in rules.subjaxpr_lowerings:
        return _kernel_subjaxpr
    fn = rules.kernel_lowerings.get(p) or _KERNELS.get(p)
    if fn is None:
        return None
    avals = [a.aval for a in e.invars] + [v.aval for v in e.outvars]
    if any(a.dtype not in kernels.NJIT_DTYPES for a in avals) and not kernels.complex_supported(e):
        return None
    if p is shapes.dynamic_update_slice_p and e.invars[0].aval.ndim == 0:
        return None
    if p is linalg.dot_general_p and e.outvars[0].aval.dtype == np.bool_:
        return None
    if p is sorting.sort_p and (e.params.get("num_keys", 1) != 1 or e.invars[0].aval.ndim == 0
                             or e.invars[0].aval.dtype == np.bool_):
        return None
    return fn


def generate(closed: ClosedJaxpr, dot_mode: str = "blas") -> Program:
    """Generate the program for ``closed`` (a jaxpr without constants)."""
    return Generator(closed, dot_mode).generate()
