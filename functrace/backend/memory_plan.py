"""Memory planning (step 4 of ``codegen``'s pipeline): which buffer each stored value lives in.

Buffers are reference-counted by the values living in them. A value read for the last time
frees its buffer for a later value of the same dtype and size; an elementwise group may write
its result into the buffer of an operand it reads for the last time at the same index (never
one read through a view, at other indices); a value that may share memory with others (a
kernel's aliased output, a NumPy fallback's result) *holds* their buffers, which are then
neither reused nor written in place while it lives.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, NamedTuple

from ..core import Var
from .codegen_base import _np_dtype, _shape_tuple

if TYPE_CHECKING:
    from .codegen import Generator


class Allocation(NamedTuple):
    """Where a value was put: the statement binding it, and the buffer it reuses (the name of
    an earlier value's buffer, or a caller's output buffer; None for a new allocation)."""
    line: str
    reuses: str | None


class MemoryPlanner:
    """The buffers of one program (or loop body) while its statements are emitted in order."""

    def __init__(self, gen: Generator):
        self.gen = gen
        self.free: dict[tuple, list[str]] = defaultdict(list)  # (dtype, size) -> free buffers
        self.root: dict[Var, str] = {}  # value -> the buffer it lives in
        self.live: dict[str, int] = defaultdict(int)  # buffer -> number of values using it
        self.reusable: set[str] = set()  # buffers we allocated ourselves
        self.root_shape: dict[str, tuple] = {}
        self.root_key: dict[str, tuple] = {}  # buffer -> its free-list key
        self.held: dict[Var, list[str]] = {}
        self.alias_of: dict[Var, set[Var]] = {}  # the values whose memory a value may share
        self.written_in_place: set[Var] = set()  # values given the buffer of a dying operand

    def hold(self, v: Var, sources: list[Var]) -> None:
        """``v`` may share memory with ``sources``: keep their buffers while it lives."""
        shared = self.alias_of.setdefault(v, set())
        for u in sources:
            shared |= {u} | self.alias_of.get(u, set())
            for r in ([self.root[u]] if u in self.root else []) + self.held.get(u, []):
                self.held.setdefault(v, []).append(r)
                self.live[r] += 1

    def release(self, v: Var) -> None:
        """``v`` is dead: its buffers may be reused once no other value uses them."""
        for r in ([self.root.pop(v)] if v in self.root else []) + self.held.pop(v, []):
            self.live[r] -= 1
            if self.live[r] == 0 and r in self.reusable:
                self.free[self.root_key[r]].append(r)

    def _take(self, v: Var, buf: str) -> Allocation:
        self.root[v] = buf
        self.live[buf] += 1
        name = self.gen.name(v)
        if self.root_shape[buf] == v.aval.shape:
            return Allocation(f"{name} = {buf}", buf)
        return Allocation(f"{name} = {buf}.reshape({_shape_tuple(v.aval.shape)})", buf)

    def allocate(self, v: Var, inplace: list[Var]) -> Allocation:
        """A buffer for ``v``: a caller's output buffer (loop bodies), the buffer of one of
        ``inplace`` (operands read for the last time, same dtype and shape; the one used is
        removed from the list), a free one of the same dtype and size, or a new one."""
        gen = self.gen
        key = (v.aval.dtype, v.aval.size)
        out = gen._out_buffers.get(v) if gen._out_buffers else None
        if out is not None:  # a sub-program output: the caller's buffer, never reused
            gen._placed.add(v)
            self.root[v] = nm = gen.name(v)
            self.live[nm] += 1
            self.root_shape[nm] = v.aval.shape
            return Allocation(f"{nm} = {out}", out)
        for u in inplace:
            ru = self.root.get(u)
            if ru is not None and ru in self.reusable and self.live[ru] == 1 and \
                    u.aval.dtype == v.aval.dtype and u.aval.shape == v.aval.shape:
                inplace.remove(u)
                self.written_in_place.add(v)
                return self._take(v, ru)
        if self.free[key]:
            return self._take(v, self.free[key].pop())
        nm = gen.name(v)
        self.root[v] = nm
        self.live[nm] += 1
        self.reusable.add(nm)
        self.root_shape[nm] = v.aval.shape
        self.root_key[nm] = key
        if gen._workspace is not None:  # a loop body: allocated once, by the caller
            return Allocation(f"{nm} = {gen._workspace_param(v.aval.shape, v.aval.dtype)}",
                              None)
        return Allocation(f"{nm} = np.empty({_shape_tuple(v.aval.shape)}, "
                          f"{_np_dtype(v.aval.dtype)})", None)
