"""A block interpreter for programs with thousands of elementwise equations.

Numba's compile time grows with a program's length: about 30 ms per elementwise equation
(type inference, lowering and LLVM on straight-line code), so a chain of 5000 operations
compiled as fused loops takes minutes. Above ``MIN_PROGRAM_EQNS`` equations, every run of at
least ``MIN_SEGMENT_EQNS`` consecutive elementwise equations over one shape and one float dtype
(a *segment*) becomes a program of a small interpreter instead, in the manner of numexpr:
instructions ``(opcode, destination, operands)`` over a register file of blocks of ``BLOCK``
elements. Each instruction runs a vectorised loop over one block, so the data stays in the
cache and dispatch costs one branch per block.

The interpreter is generated from the distinct *operations* the program uses (primitive,
parameters, dtypes), with the same scalar lowerings and block kernels as fused loops, and it
is cached by its source like every module: its compile cost depends on how many different
operations there are, not on how many times they occur. A segment becomes one equation of the
private ``block_program`` primitive, which the Python driver calls between compiled parts
(``backend.python_primitives``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from .. import core
from ..core import ClosedJaxpr, Eqn, Jaxpr, Literal, Primitive, ShapedArray, Var
from ..ops.structural import broadcast_in_dim_p

MIN_PROGRAM_EQNS = 1500
MIN_SEGMENT_EQNS = 64
BLOCK = 256
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_BOOL = np.dtype(np.bool_)
# opcodes below FIRST_OP move data; an operation's opcode is FIRST_OP + its index
LOAD, LOAD_BOOL, LOAD_SCALAR, STORE, STORE_BOOL, CONST, CONST_BOOL = range(7)
FIRST_OP = 7


class SegmentProgram:
    """One segment's instructions, constants and compiled interpreter."""

    def __init__(self, code: np.ndarray, consts: np.ndarray, n_regs: tuple[int, int],
                 ins: list[str], out_avals: list[ShapedArray], dtype: np.dtype,
                 source: str, size: int):
        self.code = code            # int64 (n, 5): opcode, destination, three operands
        self.consts = consts        # literal values, in the segment's dtype
        self.n_regs = n_regs        # float and bool registers
        self.ins = ins              # per input: "array", "bool" or "scalar"
        self.out_avals = out_avals
        self.dtype = dtype
        self.source = source        # the interpreter's module source
        self.size = size            # elements per array of the segment
        self.run = None             # the compiled interpreter, set by ``compile``

    def compile(self) -> None:
        from . import cache
        module, _ = cache.load(self.source)
        self.run = module.run
        self._module = module  # keep the module's native code while this program exists

    def __call__(self, *args):
        if self.run is None:
            self.compile()
        n, dt = self.size, self.dtype
        arrays = [np.asarray(a, dt).reshape(n) for a, k in zip(args, self.ins) if k == "array"]
        bools = [np.asarray(a, _BOOL).reshape(n) for a, k in zip(args, self.ins) if k == "bool"]
        scalars = [a for a, k in zip(args, self.ins) if k == "scalar"]
        n_f = sum(a.dtype == dt for a in self.out_avals)
        outs_f = np.empty((n_f, n), dt)
        outs_b = np.empty((len(self.out_avals) - n_f, n), _BOOL)
        self.run(self.code, self.consts,
                 np.stack(arrays) if arrays else np.empty((0, n), dt),
                 np.asarray(scalars, dt).reshape(-1),
                 np.stack(bools) if bools else np.empty((0, n), _BOOL),
                 outs_f, outs_b, n, self.n_regs[0], self.n_regs[1])
        results, i_f, i_b = [], 0, 0
        for a in self.out_avals:
            if a.dtype == dt:
                results.append(outs_f[i_f].reshape(a.shape))
                i_f += 1
            else:
                results.append(outs_b[i_b].reshape(a.shape))
                i_b += 1
        return results

    # equations compare params; two segments are the same program only if they are one object
    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


block_program_p = Primitive("block_program")
block_program_p.multiple_results = True
core.shape_rules[block_program_p] = lambda *avals, program: list(program.out_avals)
core.impl_rules[block_program_p] = lambda *args, program: program(*args)


# ---------------------------------------------------------------------------------------------
# Finding segments
# ---------------------------------------------------------------------------------------------

def _is_fill(e: Eqn) -> bool:
    """A scalar broadcast to an array (how ``x + 1.0`` stages its ``1.0``)."""
    return e.primitive is broadcast_in_dim_p and e.invars[0].aval.shape == ()


def _eligible(e: Eqn, shape: tuple | None, dtype: np.dtype | None):
    """``(shape, dtype)`` of the segment ``e`` can join (given the current one), or None."""
    from . import kernels  # (not at import: the backend package loads this module)
    if e.primitive.multiple_results:
        return None
    fill = _is_fill(e)
    if not (fill or kernels.is_elementwise(e.primitive)):
        return None
    out = e.outvars[0].aval
    if not out.shape or len(e.invars) > 3:
        return None
    shape = out.shape if shape is None else shape
    if out.shape != shape:
        return None
    dts = {np.dtype(a.aval.dtype) for a in e.invars} | {np.dtype(out.dtype)}
    floats = dts - {_BOOL}
    if len(floats) > 1 or not floats <= set(_FLOATS):
        return None
    f = next(iter(floats)) if floats else dtype
    if f is None or (dtype is not None and f != dtype):
        return None
    for a in e.invars:
        if isinstance(a, Literal):
            if np.ndim(a.val):
                return None
        elif a.aval.shape not in ((), shape) or (a.aval.shape == () and a.aval.dtype == _BOOL):
            return None
    if fill:
        return shape, f
    names = [f"x{i}" for i in range(len(e.invars))]
    try:
        if kernels.elementwise_expr(e, names) is None:
            return None
    except Exception:  # noqa: BLE001 - not lowerable: the fused loops (or NumPy) run it
        return None
    return shape, f


def segment(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``closed`` with each long run of elementwise equations replaced by one
    ``block_program`` equation (unchanged when the program is short)."""
    jaxpr = closed.jaxpr
    if len(jaxpr.eqns) < MIN_PROGRAM_EQNS:
        return closed
    runs: list[tuple[int, int, tuple, np.dtype]] = []  # [start, stop) of each segment
    i, eqns = 0, jaxpr.eqns
    while i < len(eqns):
        key = _eligible(eqns[i], None, None)
        if key is None:
            i += 1
            continue
        j = i + 1
        while j < len(eqns) and (k := _eligible(eqns[j], *key)) is not None:
            key = k
            j += 1
        if j - i >= MIN_SEGMENT_EQNS:
            runs.append((i, j, *key))
        i = j
    if not runs:
        return closed
    used_after = _uses_after(jaxpr)
    new_eqns: list[Eqn] = []
    prev = 0
    for start, stop, shape, dtype in runs:
        new_eqns.extend(eqns[prev:start])
        new_eqns.append(_segment_eqn(eqns[start:stop], stop, used_after, shape, dtype))
        prev = stop
    new_eqns.extend(eqns[prev:])
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, new_eqns),
                       closed.consts)


def _uses_after(jaxpr: Jaxpr) -> dict[Var, int]:
    """The index of the last equation reading each variable (len(eqns) for outputs)."""
    last: dict[Var, int] = {}
    for i, e in enumerate(jaxpr.eqns):
        for a in e.invars:
            if isinstance(a, Var):
                last[a] = i
    for v in jaxpr.outvars:
        if isinstance(v, Var):
            last[v] = len(jaxpr.eqns)
    return last


# ---------------------------------------------------------------------------------------------
# Compiling a segment into instructions
# ---------------------------------------------------------------------------------------------

def _kind_key(e: Eqn) -> tuple:
    """What makes two equations the same operation of the interpreter."""
    return (e.primitive, repr(sorted(e.params.items())),
            tuple(a.aval.dtype == _BOOL for a in e.invars), e.outvars[0].aval.dtype == _BOOL)


class _Registers:
    """Registers of one file, reused once their value is dead."""

    def __init__(self):
        self.free: list[int] = []
        self.count = 0

    def take(self) -> int:
        if self.free:
            return self.free.pop()
        self.count += 1
        return self.count - 1

    def give(self, r: int) -> None:
        self.free.append(r)


def _input_kind(v: Var) -> str:
    if v.aval.shape == ():
        return "scalar"
    return "bool" if v.aval.dtype == _BOOL else "array"


def _is_bool(a) -> bool:
    return a.aval.dtype == _BOOL


class _Assembler:
    """Turns one segment's equations into instructions, allocating registers as it goes."""

    def __init__(self, eqns: Sequence[Eqn], outs: list[Var], ins: list[Var]):
        self.files = {False: _Registers(), True: _Registers()}  # keyed by "holds bools"
        self.code: list[tuple[int, int, int, int, int]] = []
        self.consts: list = []
        self.kinds: dict[tuple, int] = {}
        self.kind_eqns: list[Eqn] = []
        self.where: dict[Var, int] = {}  # values held in a register now
        self.last_use: dict[Var, int] = {}
        for i, e in enumerate(eqns):
            for a in e.invars:
                if isinstance(a, Var):
                    self.last_use[a] = i
        counts = {"array": 0, "bool": 0, "scalar": 0}
        self.slots: dict[Var, tuple[str, int]] = {}
        for v in ins:
            k = _input_kind(v)
            self.slots[v] = (k, counts[k])
            counts[k] += 1
        n_out = {False: 0, True: 0}
        self.out_slot: dict[Var, int] = {}
        for v in outs:
            self.out_slot[v] = n_out[_is_bool(v)]
            n_out[_is_bool(v)] += 1

    def emit(self, op: int, d: int, a: int = 0, b: int = 0, c: int = 0) -> None:
        self.code.append((op, d, a, b, c))

    def constant(self, value, is_bool: bool, d: int) -> None:
        self.consts.append(value)
        self.emit(CONST_BOOL if is_bool else CONST, d, len(self.consts) - 1)

    def operand(self, a, temps: list) -> int:
        """The register holding ``a`` (loaded or filled first if needed)."""
        if isinstance(a, Literal):
            b = np.dtype(a.aval.dtype) == _BOOL
            r = self.files[b].take()
            self.constant(a.val, b, r)
            temps.append((b, r))
            return r
        if a in self.where:
            return self.where[a]
        k, slot = self.slots[a]
        r = self.files[k == "bool"].take()
        self.emit({"array": LOAD, "bool": LOAD_BOOL, "scalar": LOAD_SCALAR}[k], r, slot)
        self.where[a] = r
        return r

    def define(self, v: Var, d: int, i: int) -> None:
        """``v`` is now in register ``d``: store it if the segment exports it, free the
        register if nothing in the segment reads it later."""
        self.where[v] = d
        if v in self.out_slot:
            self.emit(STORE_BOOL if _is_bool(v) else STORE, d, self.out_slot[v])
        if self.last_use.get(v, -1) <= i:
            self.files[_is_bool(v)].give(self.where.pop(v))

    def equation(self, e: Eqn, i: int) -> None:
        v = e.outvars[0]
        if _is_fill(e):
            a = e.invars[0]
            d = self.files[_is_bool(v)].take()
            if isinstance(a, Literal):
                self.constant(a.val, _is_bool(v), d)
            else:
                self.emit(LOAD_SCALAR, d, self.slots[a][1])
            self.define(v, d, i)
            return
        temps: list = []
        regs = [self.operand(a, temps) for a in e.invars]
        key = _kind_key(e)
        op = self.kinds.get(key)
        if op is None:
            op = self.kinds[key] = len(self.kind_eqns)
            self.kind_eqns.append(e)
        d = self.files[_is_bool(v)].take()  # before freeing: never one of the operands
        self.emit(FIRST_OP + op, d, *regs)
        for b, r in temps:
            self.files[b].give(r)
        for a in e.invars:  # registers whose value is read for the last time here
            if isinstance(a, Var) and self.last_use.get(a) == i and a in self.where:
                self.files[_is_bool(a)].give(self.where.pop(a))
        self.define(v, d, i)

    def canonical(self) -> tuple[np.ndarray, list[Eqn]]:
        """The code with opcodes numbered in a canonical order of the operations, so that
        programs using the same operations share one interpreter (compiled once)."""
        order = sorted(range(len(self.kind_eqns)),
                       key=lambda k: repr((self.kind_eqns[k].primitive.name,
                                           *_kind_key(self.kind_eqns[k])[1:])))
        renumber = np.arange(FIRST_OP + len(order), dtype=np.int64)
        for new, old in enumerate(order):
            renumber[FIRST_OP + old] = FIRST_OP + new
        code = np.asarray(self.code, np.int64).reshape(-1, 5)
        code[:, 0] = renumber[code[:, 0]]
        return code, [self.kind_eqns[k] for k in order]


def _segment_eqn(eqns: Sequence[Eqn], stop: int, used_after: dict[Var, int], shape: tuple,
                 dtype: np.dtype) -> Eqn:
    """The ``block_program`` equation computing ``eqns`` (which end before equation
    ``stop`` of the program; ``used_after`` says which of their results it reads later)."""
    defined = {v for e in eqns for v in e.outvars}
    outs = [v for e in eqns for v in e.outvars if used_after.get(v, -1) >= stop]
    ins: list[Var] = []
    for e in eqns:
        ins.extend(a for a in e.invars
                   if isinstance(a, Var) and a not in defined and a not in ins)
    asm = _Assembler(eqns, outs, ins)
    for i, e in enumerate(eqns):
        asm.equation(e, i)
    code, kind_eqns = asm.canonical()
    consts = np.asarray([np.asarray(c).item() for c in asm.consts] or [0], dtype)
    program = SegmentProgram(
        code, consts, (max(asm.files[False].count, 1), max(asm.files[True].count, 1)),
        [_input_kind(v) for v in ins], [v.aval for v in outs], dtype,
        interpreter_source(kind_eqns, dtype), int(np.prod(shape)))
    return Eqn(block_program_p, ins, outs, {"program": program})


# ---------------------------------------------------------------------------------------------
# The interpreter's source
# ---------------------------------------------------------------------------------------------

def _operation(e: Eqn, dtype: np.dtype) -> list[str]:
    """The body of one opcode's branch: operands ``r0..r2`` and destination ``rd`` are
    register rows, ``bl`` the block's length."""
    from . import kernels
    from .codegen import _block_kernel_call
    # a name has one type in the whole function: rows of the float file are f*, of the bool
    # file b*
    files = ["b" if a.aval.dtype == _BOOL else "f" for a in e.invars]
    out_file = "b" if e.outvars[0].aval.dtype == _BOOL else "f"
    names = [f"{fl}{i}" for i, fl in enumerate(files)]
    lines = [f"{out_file}d = R{out_file.upper()}[d]"]
    lines += [f"{nm} = R{fl.upper()}[{'abc'[i]}]" for i, (nm, fl) in enumerate(zip(names, files))]
    block = None
    if out_file == "f" and all(fl == "f" for fl in files):
        block = _block_kernel_call(e.primitive, dtype)
    if block is not None:
        lines.append(block.format(i=", ".join(names), o="fd"))
    else:
        expr = kernels.elementwise_expr(e, [f"{nm}[k]" for nm in names])
        lines += ["for k in range(bl):", f"    {out_file}d[k] = {expr}"]
    return lines


def interpreter_source(kind_eqns: Sequence[Eqn], dtype: np.dtype) -> str:
    """The module of the interpreter running instructions of ``kind_eqns``' operations."""
    from .codegen import HEADER, NJIT_OPTIONS, _np_dtype
    f = _np_dtype(dtype)
    ft = {np.dtype(np.float32): "nt.float32", np.dtype(np.float64): "nt.float64"}[dtype]
    sig = (f"(nt.int64[:, ::1], {ft}[::1], {ft}[:, ::1], {ft}[::1], nt.boolean[:, ::1], "
           f"{ft}[:, ::1], nt.boolean[:, ::1], nt.int64, nt.int64, nt.int64)")
    body = [
        f"@njit({sig}, {NJIT_OPTIONS})",
        "def run(code, consts, ins, scalars, ins_b, outs, outs_b, n, n_f, n_b):",
        f"    RF = np.empty((n_f, {BLOCK}), {f})",
        f"    RB = np.empty((n_b, {BLOCK}), np.bool_)",
        f"    for j0 in range(0, n, {BLOCK}):",
        f"        bl = min({BLOCK}, n - j0)",
        "        for pc in range(code.shape[0]):",
        "            op = code[pc, 0]",
        "            d = code[pc, 1]",
        "            a = code[pc, 2]",
        "            b = code[pc, 3]",
        "            c = code[pc, 4]",
        f"            if op == {LOAD}:",
        "                RF[d, :bl] = ins[a, j0:j0 + bl]",
        f"            elif op == {LOAD_BOOL}:",
        "                RB[d, :bl] = ins_b[a, j0:j0 + bl]",
        f"            elif op == {LOAD_SCALAR}:",
        "                RF[d, :bl] = scalars[a]",
        f"            elif op == {STORE}:",
        "                outs[a, j0:j0 + bl] = RF[d, :bl]",
        f"            elif op == {STORE_BOOL}:",
        "                outs_b[a, j0:j0 + bl] = RB[d, :bl]",
        f"            elif op == {CONST}:",
        "                RF[d, :bl] = consts[a]",
        f"            elif op == {CONST_BOOL}:",
        "                RB[d, :bl] = consts[a] != 0",
    ]
    for k, e in enumerate(kind_eqns):
        body.append(f"            elif op == {FIRST_OP + k}:  # {e.primitive}")
        body.extend("                " + ln for ln in _operation(e, dtype))
    body.append("    return 0")
    src = HEADER + "\n\n" + "\n".join(body) + "\n"
    # the same operations in another order are another module; name it by content
    return src + f"# interpreter {zlib.crc32(src.encode()):08x}\n"
