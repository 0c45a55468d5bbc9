"""Ctrl-C for compiled loops: ``loop_poll``, called by every compiled ``while_loop``.

Compiled code runs without the GIL and never returns to the interpreter while it loops, so
Python's SIGINT handler (which only sets a flag at the C level) would not run until the loop
ends, and an endless loop could only be killed. Every few iterations the loop calls
``loop_poll``, which reads the CPU's cycle counter (a few nanoseconds, no system call) and, at
most every ~30 ms, takes the GIL and calls ``PyErr_CheckSignals``: the Python-level handlers
run there, and if one raises (the default SIGINT handler raises ``KeyboardInterrupt``) the loop
raises ``functrace.errors.CompiledLoopInterrupted``, a ``KeyboardInterrupt``, in the caller.

The number of iterations between polls adapts to the loop's speed (doubling while polls come
less than ~1 ms apart, halving when they are further apart), so a tight loop pays a fraction
of a nanosecond per iteration and a loop with slow iterations still stops promptly. The
Python C-API functions are registered with LLVM under their own names, so compiled programs
refer to symbols (and stay cacheable on disk), not to this process's addresses.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llb
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..errors import CompiledLoopInterrupted

__all__ = ["loop_poll", "interrupt_pending", "CompiledLoopInterrupted"]

_API = ("PyErr_CheckSignals", "PyGILState_Ensure", "PyGILState_Release", "PyErr_Clear")
for _name in _API:
    llb.add_symbol(f"functrace_{_name}",
                   ctypes.cast(getattr(ctypes.pythonapi, _name), ctypes.c_void_p).value)

_check_signals = types.ExternalFunction("functrace_PyErr_CheckSignals", types.intc())
_gil_ensure = types.ExternalFunction("functrace_PyGILState_Ensure", types.intc())
_gil_release = types.ExternalFunction("functrace_PyGILState_Release", types.void(types.intc))
_err_clear = types.ExternalFunction("functrace_PyErr_Clear", types.void())

_JIT = dict(cache=True, nogil=True)
# in cycles of the CPU's counter (1-4 GHz): polls closer than _FAST apart double the stride,
# further apart halve it; signals are checked when _CHECK cycles have passed since the last time
_FAST = 1 << 21
_CHECK = 1 << 26
_MAX_STRIDE = 1 << 20


@intrinsic
def _cycles(typingctx):
    """The CPU's cycle counter (0 where the target has none)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), []), "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.int64(), codegen


@njit(**_JIT)
def interrupt_pending():
    """Run Python's pending signal handlers (with the GIL, from any compiled code); True if
    one raised (its exception is then cleared: the caller raises its own)."""
    state = _gil_ensure()
    failed = _check_signals() != 0
    if failed:
        _err_clear()
    _gil_release(state)
    return failed


@njit(**_JIT)
def loop_poll(stride, last, checked):
    """One poll of a compiled loop: ``(stride, last, checked) -> new values``; raises
    ``CompiledLoopInterrupted`` when a signal handler raised. Loops start with
    ``last = checked = 0``."""
    now = _cycles()
    if now == 0:  # no cycle counter: check at a fixed, growing stride
        if stride < 65536:
            stride *= 2
        elif interrupt_pending():
            raise CompiledLoopInterrupted("a compiled while_loop was interrupted (SIGINT)")
        return stride, 0, 0
    if last == 0:
        return stride, now, now
    if now - last < _FAST:
        if stride < _MAX_STRIDE:
            stride *= 2
    elif stride > 1:
        stride //= 2
    if now - checked >= _CHECK:
        checked = now
        if interrupt_pending():
            raise CompiledLoopInterrupted("a compiled while_loop was interrupted (SIGINT)")
    return stride, now, checked
