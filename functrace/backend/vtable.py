"""Small constant tables that stay in vector registers inside vectorised Numba loops.

Table-driven elementary functions (a reduction by a tabulated 1/c, polynomial coefficients per
interval) are how NumPy's SIMD loops beat polynomial-only code. Written as scalar Numba code, a
table read ``T[i]`` becomes a gather when LLVM vectorises the loop, which costs more than the
table saves. :func:`table_lookup` makes a table read a call that LLVM's loop vectorizer replaces
by a vector function (the ``vector-function-abi-variant`` mechanism LLVM uses for vector math
libraries); on AVX-512 CPUs that function is a single in-register permute (``vpermi2pd`` with 16
float64 entries, ``vpermi2ps`` with 32 float32 entries). Elsewhere the call reads the table from
memory, which is correct but no faster than a gather: callers choose table-driven algorithms
only when :data:`IN_REGISTER` is true.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numba
import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["IN_REGISTER", "scalef", "table_lookup"]


def _has_avx512f() -> bool:
    # Numba compiles for the host unless NUMBA_CPU_NAME/NUMBA_CPU_FEATURES say otherwise; the
    # permute intrinsics only lower where the target has AVX-512F.
    features = numba.config.CPU_FEATURES
    if features:
        return "+avx512f" in features.split(",")
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    return bool(llvm.get_host_cpu_features().get("avx512f", False))


def _inline_after_vectorizing() -> bool:
    """Make Numba's final optimisation pipeline end with an always-inline pass.

    Numba vectorises loops only in its last module pipeline, after the inliner has run, so the
    vector variants the vectorizer substitutes would stay out-of-line calls (every vector
    register is caller-saved: each call spills them all). Appending LLVM's always-inliner inlines
    them, and nothing else (everything else marked always-inline is inlined already). Returns
    False, leaving Numba untouched, where its pass-manager API differs from the one expected.
    """
    from numba.core.registry import cpu_target

    codegen = cpu_target.target_context.codegen()
    original = getattr(codegen, "_module_pass_manager", None)
    if original is None or getattr(original, "_functrace_inliner", False):
        return original is not None
    try:
        probe = original()
    except Exception:  # pragma: no cover - other Numba versions
        return False
    if not (isinstance(probe, tuple) and hasattr(probe[0], "add_always_inliner_pass")):
        return False  # pragma: no cover

    def module_pass_manager(**kwargs):
        pm, pb = original(**kwargs)
        if kwargs.get("cost") is None:  # the full pipeline, the one that vectorises
            pm.add_always_inliner_pass()
        return pm, pb

    module_pass_manager._functrace_inliner = True
    codegen._module_pass_manager = module_pass_manager
    return True


IN_REGISTER: bool = _has_avx512f() and _inline_after_vectorizing()
"""True when :func:`table_lookup` tables live in vector registers (AVX-512 targets)."""

# The vectorizer picks its vectorisation factor before it looks at our call, so a variant exists
# for every width it may choose.
_WIDTHS = (2, 4, 8, 16, 32)
# dtype -> (LLVM float type, native lanes, index width, permute intrinsic)
_NATIVE = {
    np.dtype(np.float64): (ir.DoubleType(), 8, 64, "llvm.x86.avx512.vpermi2var.pd.512"),
    np.dtype(np.float32): (ir.FloatType(), 16, 32, "llvm.x86.avx512.vpermi2var.ps.512"),
}
_ONE_TABLE = {np.dtype(np.float64): "llvm.x86.avx512.permvar.df.512",
              np.dtype(np.float32): "llvm.x86.avx512.permvar.sf.512"}
_I32 = ir.IntType(32)
# Every module using a table defines its functions, under a name derived from the table's
# contents; when Numba links modules together, one-definition linkage merges the copies.
# (Internal linkage made the linker rename the second copy, which then no longer matched the
# names in its vector-function-abi-variant attribute: its calls stayed scalar, 3.5x slower.)
_LINKAGE = "linkonce_odr"


def _mask(indices) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, len(indices)), [int(i) for i in indices])


def _keep_alive(mod: ir.Module, fn: ir.Function) -> None:
    """Add ``fn`` to the module's ``llvm.compiler.used`` list: nothing calls a vector variant
    before the vectorizer runs, and dead-function elimination must not drop it first."""
    ptr = ir.IntType(8).as_pointer()
    used = mod.globals.get("llvm.compiler.used")
    if used is None:
        used = ir.GlobalVariable(mod, ir.ArrayType(ptr, 0), "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
        used.initializer = ir.Constant(ir.ArrayType(ptr, 0), [])
    members = list(used.initializer.constant) + [fn.bitcast(ptr)]
    # llvmlite has no API to grow a global's array type: replace both type fields
    used.value_type = ir.ArrayType(ptr, len(members))
    used.type = used.value_type.as_pointer()
    used.initializer = ir.Constant(used.value_type, members)


def _vectorised_function(mod: ir.Module, name: str, ret: ir.Type, params: list[ir.Type],
                         lanes: int, native, scalar=None) -> ir.Function:
    """Define (once per module) the scalar function ``name`` with vector variants for every
    width the vectorizer may pick, all computed by ``native(builder, args)``: the same
    operation on vectors of ``lanes`` elements (widened or split into such vectors). Without
    AVX-512, ``scalar(builder, args)`` defines the scalar function alone."""
    if name in mod.globals:
        return mod.globals[name]
    variants = []
    for n in _WIDTHS if IN_REGISTER else ():
        fn = ir.Function(mod, ir.FunctionType(ir.VectorType(ret, n),
                                              [ir.VectorType(p, n) for p in params]),
                         f"{name}_v{n}")
        fn.linkage = _LINKAGE
        fn.attributes.add("alwaysinline")
        b = ir.IRBuilder(fn.append_basic_block())
        if n <= lanes:  # widen, compute, narrow
            wide = [b.shuffle_vector(a, a, _mask(list(range(n)) + [0] * (lanes - n)))
                    for a in fn.args]
            val = native(b, wide)
            out = b.shuffle_vector(val, val, _mask(range(n))) if n < lanes else val
        else:  # compute each native chunk, then concatenate
            parts = [native(b, [b.shuffle_vector(a, a, _mask(range(c, c + lanes)))
                                for a in fn.args]) for c in range(0, n, lanes)]
            while len(parts) > 1:
                w = parts[0].type.count
                parts = [b.shuffle_vector(parts[k], parts[k + 1], _mask(range(2 * w)))
                         for k in range(0, len(parts), 2)]
            out = parts[0]
        b.ret(out)
        variants.append(f"_ZGV_LLVM_N{n}{'v' * len(params)}_{name}({name}_v{n})")
        _keep_alive(mod, fn)

    fn = ir.Function(mod, ir.FunctionType(ret, params), name)
    fn.linkage = _LINKAGE
    # noinline: the loop vectorizer must see the call (inlined, it would see scalar code: for a
    # table, a load, which vectorises into a gather)
    for attr in ("noinline", "nounwind", "readnone"):
        fn.attributes.add(attr)
    b = ir.IRBuilder(fn.append_basic_block())
    # scalar calls (remainder loops, loops that do not vectorise) take the portable code: a
    # plain load or ldexp, cheaper one element at a time than a vector permute
    b.ret(scalar(b, list(fn.args)))
    if variants:
        # string attributes are outside llvmlite's whitelist; they print verbatim
        set.add(fn.attributes, f'"vector-function-abi-variant"="{",".join(variants)}"')
    return fn


def _define_lookup(mod: ir.Module, name: str, table: list[float], dtype: np.dtype,
                   index_type: ir.IntType) -> ir.Function:
    fty, lanes, iwidth, permute_name = _NATIVE[dtype]
    native_idx = ir.VectorType(ir.IntType(iwidth), lanes)
    native_val = ir.VectorType(fty, lanes)

    def permute(b: ir.IRBuilder, args) -> ir.Value:
        (idx,) = args
        if index_type.width < iwidth:
            idx = b.zext(idx, native_idx)
        elif index_type.width > iwidth:
            idx = b.trunc(idx, native_idx)
        if table[:lanes] == table[lanes:]:
            # one register's worth: the one-table permute, which keeps its index operand (the
            # two-table one overwrites an operand, costing a register copy per lookup)
            perm = mod.declare_intrinsic(_ONE_TABLE[dtype], fnty=ir.FunctionType(
                native_val, [native_val, native_idx]))
            return b.call(perm, [ir.Constant(native_val, table[:lanes]), idx])
        perm = mod.declare_intrinsic(permute_name, fnty=ir.FunctionType(
            native_val, [native_val, native_idx, native_val]))
        return b.call(perm, [ir.Constant(native_val, table[:lanes]), idx,
                             ir.Constant(native_val, table[lanes:])])

    def load(b: ir.IRBuilder, args) -> ir.Value:
        n = len(table)
        arr = ir.GlobalVariable(mod, ir.ArrayType(fty, n), f"{name}_data")
        arr.linkage = _LINKAGE
        arr.global_constant = True
        arr.initializer = ir.Constant(ir.ArrayType(fty, n), table)
        i = b.and_(args[0], ir.Constant(index_type, n - 1))
        return b.load(b.gep(arr, [ir.Constant(index_type, 0), i], inbounds=True))

    return _vectorised_function(mod, name, fty, [index_type], lanes, permute, load)


def table_lookup(values: Sequence[float], dtype) -> intrinsic:
    """A Numba intrinsic ``lookup(i) -> values[i % len(values)]`` (an integer ``i`` of any
    width, a float of ``dtype``) that vectorised loops compute with one register permute.

    ``values`` holds at most 16 float64 or 32 float32 numbers (one two-register permute), a
    power of two (a shorter table repeats, so indices still wrap).
    """
    dtype = np.dtype(dtype)
    if dtype not in _NATIVE:
        raise TypeError(f"table_lookup: float64 or float32 tables, not {dtype}")
    lanes = _NATIVE[dtype][1]
    n = len(values)
    if n > 2 * lanes or n & (n - 1):
        raise ValueError(f"table_lookup: a {dtype} table has a power-of-two length of at most "
                         f"{2 * lanes} entries, not {n}")
    table = [float(dtype.type(v)) for v in values] * (2 * lanes // n)
    digest = hashlib.sha1(struct.pack(f"{len(table)}d", *table)).hexdigest()[:12]
    result_type = numba.from_dtype(dtype)

    @intrinsic
    def lookup(typingctx, i):
        if not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            index_type = ir.IntType(i.bitwidth)
            name = f"functrace_table_{dtype.name}_{digest}_i{i.bitwidth}"
            fn = _define_lookup(builder.module, name, table, dtype, index_type)
            return builder.call(fn, args)

        return result_type(i), codegen

    return lookup


_SCALEF = {np.dtype(np.float64): ("llvm.x86.avx512.mask.scalef.pd.512", 8),
           np.dtype(np.float32): ("llvm.x86.avx512.mask.scalef.ps.512", 16)}


@intrinsic
def scalef(typingctx, m, e):
    """m * 2**floor(e) for floats of one type, correctly rounded into overflow and subnormals:
    AVX-512's vscalefpd/ps, one instruction where ``ldexp`` needs the exponent converted to an
    integer first. ``e`` must be finite and within +-2**31."""
    if m != e or m not in (types.float64, types.float32):
        return None
    dtype = np.dtype(np.float64 if m == types.float64 else np.float32)
    fty = ir.DoubleType() if dtype == np.float64 else ir.FloatType()
    name_v, lanes = _SCALEF[dtype]

    def native(b: ir.IRBuilder, args) -> ir.Value:
        vty = ir.VectorType(fty, lanes)
        mask = ir.IntType(lanes)
        fn = b.module.declare_intrinsic(name_v, fnty=ir.FunctionType(
            vty, [vty, vty, vty, mask, _I32]))
        return b.call(fn, [args[0], args[1], ir.Constant(vty, [0.0] * lanes),
                           ir.Constant(mask, -1), _I32(4)])  # 4: the current rounding mode

    def portable(b: ir.IRBuilder, args) -> ir.Value:
        floor = b.module.declare_intrinsic("llvm.floor", [fty])
        ldexp = b.module.declare_intrinsic("llvm.ldexp", [fty, _I32],
                                           fnty=ir.FunctionType(fty, [fty, _I32]))
        return b.call(ldexp, [args[0], b.fptosi(b.call(floor, [args[1]]), _I32)])

    def codegen(context, builder, sig, args):
        fn = _vectorised_function(builder.module, f"functrace_scalef_{dtype.name}", fty,
                                  [fty, fty], lanes, native, portable)
        return builder.call(fn, args)

    return m(m, e), codegen
