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

Ctrl-C during a foreground compile (``interruptible_compile``): Numba's compiler is Python code,
so a ``KeyboardInterrupt`` normally stops it at once; but LLVM reports each emitted object
through a ctypes callback (llvmlite's object-cache hook), and a signal handler that runs inside
it raises where ctypes prints "Exception ignored" and carries on: the interruption was lost and
the compile went on for seconds. While a compile runs in the main thread, the SIGINT handler is
wrapped so that what it raises is also remembered; ``check_interrupted`` raises it again at the
start of every Numba compiler pass, after every piece of a program, and when the compile ends
(and ctypes' "Exception ignored" report of it is not printed: the caller gets the traceback).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
import threading
from collections.abc import Iterator

import llvmlite.binding as llb
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core import event as numba_event
from numba.extending import intrinsic

from ..errors import CompiledLoopInterrupted

__all__ = ["loop_poll", "interrupt_pending", "CompiledLoopInterrupted", "interruptible_compile",
           "check_interrupted"]

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


# State of the guarded compile; only the main thread (the one receiving signals) touches it.
_depth = 0
_previous = None  # the SIGINT handler in place when the outermost guarded compile began
_pending: BaseException | None = None  # what that handler raised during the compile
_unraisable_before = None


def _quiet_unraisable(info) -> None:
    """Drop the report of an interruption a callback swallowed (it is raised again), pass on
    everything else."""
    if _pending is not None and info.exc_value is _pending:
        return
    (_unraisable_before or sys.__unraisablehook__)(info)


def _on_sigint(signum, frame) -> None:
    """The previous SIGINT handler, remembering what it raises (see the module docstring)."""
    global _pending
    try:
        if callable(_previous):
            _previous(signum, frame)
    except BaseException as e:
        _pending = e
        raise


def check_interrupted() -> None:
    """Raise again an interruption of the guarded compile that a callback swallowed (no-op in
    other threads and when there was none)."""
    e = _pending
    if e is not None and _depth and threading.current_thread() is threading.main_thread():
        raise e.with_traceback(None)


class _PassCheckpoint(numba_event.Listener):
    """Checks for a lost interruption when each Numba compiler pass starts (raising there is
    safe: no lock is held and the pass has not begun)."""

    def on_start(self, event) -> None:
        if _pending is not None:
            check_interrupted()

    def on_end(self, event) -> None:
        pass


numba_event.register("numba:run_pass", _PassCheckpoint())


@contextlib.contextmanager
def interruptible_compile() -> Iterator[None]:
    """Make Ctrl-C stop a compile run inside this block in the main thread reliably: what the
    SIGINT handler raises reaches the caller even when a ctypes callback swallowed it. Other
    threads, and a SIGINT that is ignored or left to the OS, are not affected."""
    global _depth, _previous, _pending, _unraisable_before
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        try:
            current = signal.getsignal(signal.SIGINT)
            if callable(current) and current is not _on_sigint:
                _previous = current
                signal.signal(signal.SIGINT, _on_sigint)
                _unraisable_before, sys.unraisablehook = sys.unraisablehook, _quiet_unraisable
        except (ValueError, OSError):  # e.g. signals unavailable in this interpreter
            pass
    _depth += 1
    try:
        yield
        check_interrupted()  # swallowed after the last checkpoint: the caller still gets it
    finally:
        _depth -= 1
        if _depth == 0:
            try:
                if signal.getsignal(signal.SIGINT) is _on_sigint:
                    signal.signal(signal.SIGINT, _previous)
            except (ValueError, OSError):
                pass
            if sys.unraisablehook is _quiet_unraisable:
                sys.unraisablehook = _unraisable_before or sys.__unraisablehook__
            _previous = _unraisable_before = None
            _pending = None
