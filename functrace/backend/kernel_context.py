"""What a kernel lowering works with: ``KernelContext`` (operand expressions, output names, a
line sink), ``SubCall`` (a compiled sub-program to call from a loop) and small source helpers
shared by the kernel families (``lower_dot``, ``lower_arrays``, ``lower_control_flow``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import Eqn, Var

if TYPE_CHECKING:
    from .codegen import Generator

class KernelContext:
    """What a kernel lowering sees: operand expressions, output names, and a line sink."""

    def __init__(self, gen: Generator, eqn: Eqn, ins: list[str], outs: list[str]):
        self.gen = gen
        self.eqn = eqn
        self.ins = ins
        self.outs = outs
        self.lines: list[str] = []
        self.py = False  # set when the lines must run in the Python driver
        self.aliases: dict[Var, Var] = {}  # outputs that are operands (no buffer of their own)

    def tmp(self, prefix: str = "k") -> str:
        return self.gen.tmp(prefix)

    def alias(self, out: int, operand: int) -> None:
        """Declare that output ``out`` is operand ``operand`` itself (the kernel emits
        ``out = operand``): the memory planner allocates nothing for it and keeps the operand's
        buffer alive, never overwritten, for as long as the output is."""
        self.aliases[self.eqn.outvars[out]] = self.eqn.invars[operand]

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)


class SubCall:
    """A sub-program compiled by ``Generator.lower_subprogram_into``: call it with
    ``call(args, outs)``."""

    def __init__(self, fname: str, extra: list[str], is_array: list[bool], workspace: list[str]):
        self.fname = fname
        self.extra = extra  # its constants (program inputs)
        self.is_array = is_array  # per output: filled in a buffer (else returned, 0-d)
        self.workspace = workspace

    def call(self, args: list[str], outs: list[str]) -> str:
        """The call expression; ``outs`` are the buffers of the array outputs, in order."""
        return f"{self.fname}({', '.join(list(args) + self.extra + list(outs) + self.workspace)})"

    def assign(self, args: list[str], outs: list[str], scalars: list[str]) -> str:
        """The call statement, binding the 0-d outputs to ``scalars``."""
        if not scalars:
            return self.call(args, outs)
        return f"({', '.join(scalars)},) = {self.call(args, outs)}"


def _loops(shape, names: list[str], body: list[str], ind: str = "") -> list[str]:
    lines = []
    for d, n in enumerate(shape):
        lines.append(f"{ind}{'    ' * d}for {names[d]} in range({n}):")
    inner = ind + "    " * len(shape)
    lines.extend(inner + b for b in body)
    return lines


def _at(name: str, idx: list[str]) -> str:
    return f"{name}[{', '.join(idx)}]" if idx else name


def _free(ndim: int, contract, batch) -> tuple[int, ...]:
    return tuple(d for d in range(ndim) if d not in contract and d not in batch)
