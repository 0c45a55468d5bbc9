"""Control flow in compiled code: ``while``, ``cond`` and ``scan`` as native loops and branches
calling their bodies (compiled as sub-programs that fill caller-provided buffers, so nothing
is allocated per iteration), plus identity and generic sub-program calls."""

from __future__ import annotations

from ..core import Eqn, Var
from . import rules
from .kernel_context import KernelContext


def _assign_out(name: str, aval, value: str) -> str:
    """Copy a value computed in a loop into a pre-allocated output (0-d: a scalar)."""
    return f"{name}[...] = {value}" if aval.ndim else f"{name} = {value}"


def _call(fname: str, args: list[str], extra: list[str]) -> str:
    return f"{fname}({', '.join(list(args) + list(extra))})"


def _double_buffer(k: KernelContext, carry: list[str], outs: list[str], avals, last: int):
    """Carries of a loop: the current value and, for arrays, a spare buffer the body writes the
    next value into (then the two swap), so that an iteration never overwrites what it reads
    and nothing is allocated per iteration. Arrays start as a copy of the initial value in
    buffer 0; the output buffer is the one holding the value after an iteration count of
    parity ``last`` (-1: unknown, buffer 0). Returns (current names, spare names or None)."""
    cur, nxt = [], []
    for x, o, a in zip(carry, outs, avals):
        c = k.tmp("c")
        cur.append(c)
        if not a.ndim:
            k.emit(f"{c} = {x}")
            nxt.append(None)
            continue
        n = k.tmp("n")
        spare = k.gen.scratch(k, a.shape, a.dtype)
        first, second = (spare, o) if last == 1 else (o, spare)
        k.emit(f"{c} = {first}", f"{n} = {second}", f"{c}[...] = {x}")
        nxt.append(n)
    return cur, nxt


def _swap(cur: list[str], nxt: list) -> list[str]:
    return [f"{c}, {n} = {n}, {c}" for c, n in zip(cur, nxt) if n is not None]


def _kernel_while(k: KernelContext, e: Eqn) -> None:
    nc, nb = e.params["cond_nconsts"], e.params["body_nconsts"]
    cc, bc, carry = k.ins[:nc], k.ins[nc:nc + nb], k.ins[nc + nb:]
    cond_fn = k.gen.lower_subprogram_into(e.params["cond_jaxpr"], k)
    body_fn = k.gen.lower_subprogram_into(e.params["body_jaxpr"], k)
    avals = [v.aval for v in e.outvars]
    cv, nv = _double_buffer(k, carry, k.outs, avals, -1)
    arrays = [n for n in nv if n is not None]
    par = k.tmp("wp")
    k.emit(f"{par} = 0")
    # Ctrl-C: every ``stride`` iterations (adapted to the loop's speed) ``loop_poll`` may run
    # Python's signal handlers and raise KeyboardInterrupt (backend/interrupts.py); an endless
    # loop is stopped like an eager one, for a fraction of a nanosecond per iteration.
    n, stride, last, checked = k.tmp("wn"), k.tmp("ws"), k.tmp("wl"), k.tmp("wc")
    k.emit(f"{n} = 0", f"{stride} = 16", f"{last} = 0", f"{checked} = 0")
    k.emit(f"while {cond_fn.call(cc + cv, [])}[0]:",
           f"    {body_fn.assign(bc + cv, arrays, [c for c, x in zip(cv, nv) if x is None])}",
           *["    " + ln for ln in _swap(cv, nv)],
           f"    {par} ^= 1",
           f"    {n} += 1",
           f"    if {n} >= {stride}:",
           f"        {n} = 0",
           f"        {stride}, {last}, {checked} = loop_poll({stride}, {last}, {checked})")
    for o, a, c, x in zip(k.outs, avals, cv, nv):
        if x is None:
            k.emit(_assign_out(o, a, c))
        else:  # after an odd number of iterations the value is in the spare buffer
            k.emit(f"if {par}:", f"    {o}[...] = {c}")


def _kernel_cond(k: KernelContext, e: Eqn) -> None:
    branches = e.params["branches"]
    index, ops = k.ins[0], k.ins[1:]
    arrays = [o for o, v in zip(k.outs, e.outvars) if v.aval.ndim]
    scalars = [o for o, v in zip(k.outs, e.outvars) if not v.aval.ndim]
    idx = k.tmp("ix")
    k.emit(f"{idx} = min(max(np.int64({index}), 0), {len(branches) - 1})")
    # every branch first: lowering one may emit its workspace allocations, which must not land
    # between the arms of the if/elif/else chain
    fns = [k.gen.lower_subprogram_into(branch, k) for branch in branches]  # fill the outputs
    for b, fn in enumerate(fns):
        head = "if" if b == 0 else ("elif" if b < len(branches) - 1 else "else")
        k.emit(f"{head} {idx} == {b}:" if head != "else" else "else:",
               f"    {fn.assign(ops, arrays, scalars)}")


def _kernel_scan(k: KernelContext, e: Eqn) -> None:
    nconst, ncarry = e.params["num_consts"], e.params["num_carry"]
    length, reverse = e.params["length"], e.params["reverse"]
    consts, carry, xs = k.ins[:nconst], k.ins[nconst:nconst + ncarry], k.ins[nconst + ncarry:]
    body_fn = k.gen.lower_subprogram_into(e.params["jaxpr"], k)
    cav = [v.aval for v in e.outvars[:ncarry]]
    cv, nv = _double_buffer(k, carry, k.outs[:ncarry], cav, length % 2)
    stacked = list(zip(k.outs[ncarry:], e.outvars[ncarry:]))
    ys = {out: k.tmp("y") for out, v in stacked if v.aval.ndim == 1}  # 0-d per step
    i, t = k.tmp("i"), k.tmp("t")

    def step(at: int) -> list[str]:
        # one iteration, at step ``t + at`` (the index runs backwards when reversed): the body
        # writes the next carry into the spare buffers and its outputs into the stacked ones
        fwd = t if at == 0 else f"{t} + {at}"
        outs = [n for n in nv if n is not None] + [f"{out}[{i}]" for out, _ in stacked
                                                   if out not in ys]
        scalars = [c for c, n in zip(cv, nv) if n is None] + list(ys.values())
        args = consts + cv + [f"{x}[{i}]" for x in xs]
        return ([f"{i} = {length - 1 - at} - {t}" if reverse else f"{i} = {fwd}",
                 body_fn.assign(args, outs, scalars)]
                + [f"{out}[{i}] = {y}" for out, y in ys.items()] + _swap(cv, nv))

    # ``unroll`` copies of the body per iteration of the native loop, then the remainder; the
    # source (hence the compile time) does not depend on the trip count
    unroll = max(1, min(int(e.params.get("unroll", 1)), length)) if length else 1
    full = length - length % unroll
    if full:
        k.emit(f"for {t} in range(0, {full}, {unroll}):")
        for u in range(unroll):
            k.emit(*["    " + ln for ln in step(u)])
    if full < length:
        k.emit(f"for {t} in range({full}, {length}):", *["    " + ln for ln in step(0)])
    # array carries end in their output buffer (chosen by the parity of ``length``)
    k.emit(*[_assign_out(o, a, c) for o, a, c, n in zip(k.outs, cav, cv, nv) if n is None])


def _kernel_identity(k: KernelContext, e: Eqn) -> None:
    # optimization_barrier: its outputs are its inputs (fusion never crosses it). Array outputs
    # are the operands' buffers themselves, which the memory planner then keeps alive.
    for j, (o, v, x, a) in enumerate(zip(k.outs, e.outvars, k.ins, e.invars)):
        if v.aval.ndim and isinstance(a, Var):
            k.alias(j, j)
            k.emit(f"{o} = {x}")
        else:
            k.emit(_assign_out(o, v.aval, x))


def _kernel_subjaxpr(k: KernelContext, e: Eqn) -> None:
    lines, py = rules.subjaxpr_lowerings[e.primitive](k.gen, e, k.ins, k.outs)
    k.emit(*lines)
    k.py = py
