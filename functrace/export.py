"""Programs as portable data: save a traced program to bytes and load it elsewhere.

``serialize(closed_jaxpr) -> bytes`` and ``deserialize(bytes)`` move a program between
processes or machines (a Dask worker, a file, a later session). ``export(jit(f))(*args)``
traces a function into an ``Exported`` (the program plus its argument and result structure,
after ``jax.export``); ``Exported.serialize()`` and ``deserialize`` round-trip it, and
``Exported.call`` runs it (compiled by ``jit``'s backend, and differentiable, batchable and
jittable like any other function).

The format is plain data, versioned, and loading executes nothing from the payload:

- a fixed header: the magic ``b"FTEXPORT"``, a format version, the lengths of the two parts
  and a CRC-32 of them (so a truncated or corrupted file fails with a clear ``ValueError``);
- a UTF-8 JSON document describing the programs;
- the raw bytes of every array (constants, array parameters), referenced from the JSON by
  offset and length.

Primitives are stored by name and resolved on load from the primitives functrace (and any
module that registered a shape rule) knows; parameters are written with a type-tagged schema
(ints, floats, complex numbers, bools, strings, ``None``, tuples, lists, dicts, dtypes,
abstract values, NumPy scalars and arrays, sub-programs, and a few named functrace objects:
enums, namedtuples and the ``checkpoint_policies``). Anything else, in particular a Python
function held by a custom-derivative equation, is refused when serialising, with the reason.
Every loaded program is type-checked (``check_jaxpr``) before it is returned.
"""

from __future__ import annotations

import collections
import enum
import json
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import core
from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Primitive, ShapedArray, Var
from .tree_util import PyTreeDef, tree_flatten, tree_map, tree_structure, tree_unflatten

__all__ = ["Exported", "deserialize", "export", "serialize", "FORMAT_VERSION"]

FORMAT_VERSION = 1
"""The version written by ``serialize``; ``deserialize`` reads this version only."""

_MAGIC = b"FTEXPORT"
# magic, version (u32), JSON length (u64), data length (u64), CRC-32 of JSON + data (u32)
_HEAD = struct.Struct("<8sIQQI")
_MAX_DEPTH = 200  # nesting of parameters / pytrees a payload may use
_MAX_PROGRAM_DEPTH = 100  # nesting of sub-programs (control flow in control flow ...)

# the dtypes a payload may name (np.dtype of an arbitrary string could be an object dtype)
_DTYPES = {np.dtype(n).name: np.dtype(n) for n in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}


class _ExportError(ValueError):
    """Internal marker for errors found while writing (re-raised as ValueError/TypeError)."""


# ---------------------------------------------------------------------------------------------
# Registries of what a payload may name
# ---------------------------------------------------------------------------------------------


def _primitives() -> dict[str, Primitive]:
    """Primitive name -> primitive, over every primitive that has a shape rule."""
    from . import _public_api  # noqa: F401 - make sure every primitive of functrace is registered
    table: dict[str, Primitive] = {}
    for p in list(core.shape_rules):
        table.setdefault(p.name, p)
    return table


def _functrace_objects(pred: Callable[[Any], bool]) -> dict[str, Any]:
    """``module.qualname`` -> object, for functrace's loaded modules' top-level names."""
    out: dict[str, Any] = {}
    for modname, mod in list(sys.modules.items()):
        if not (modname == "functrace" or modname.startswith("functrace.")) or mod is None:
            continue
        for obj in list(vars(mod).values()):
            if pred(obj) and getattr(obj, "__module__", "") == modname:
                out[f"{modname}.{obj.__qualname__}"] = obj
    return out


def _is_namedtuple_class(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def _is_enum_class(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, enum.Enum)


def _named_functions() -> dict[str, Callable]:
    """Functions a parameter may hold by name: the checkpoint policies."""
    from .remat import checkpoint_policies
    return {f"functrace.remat.checkpoint_policies.{n}": getattr(checkpoint_policies, n)
            for n in vars(checkpoint_policies) if not n.startswith("_")}


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


class _Writer:
    def __init__(self):
        self.entries: list = []          # the program table (children before parents)
        self.index: dict[int, int] = {}  # id(Jaxpr or ClosedJaxpr) -> entry
        self.keep: list = []             # keeps the indexed objects alive while writing
        self.chunks: list[bytes] = []
        self.nbytes = 0
        self.prims = _primitives()
        self.functions = {id(f): n for n, f in _named_functions().items()}

    def buffer(self, arr: np.ndarray) -> list:
        arr = np.asarray(arr)
        dt = self.dtype_name(arr.dtype)
        data = np.ascontiguousarray(arr).tobytes()
        self.chunks.append(data)
        self.nbytes += len(data)
        return [dt, list(arr.shape), self.nbytes - len(data), len(data)]

    @staticmethod
    def dtype_name(dt) -> str:
        dt = np.dtype(dt)
        if dt.name not in _DTYPES or _DTYPES[dt.name] != dt:
            raise _ExportError(f"the dtype {dt} cannot be exported")
        return dt.name

    def aval(self, a: ShapedArray) -> list:
        return [self.dtype_name(a.dtype), list(a.shape), bool(a.weak_type)]

    def program(self, j: Jaxpr | ClosedJaxpr, where: str) -> int:
        hit = self.index.get(id(j))
        if hit is not None:
            return hit
        if isinstance(j, ClosedJaxpr):
            inner = self.program(j.jaxpr, where)
            consts = []
            for k, c in enumerate(j.consts):
                if isinstance(c, core.Tracer):
                    raise _ExportError(f"{where}: constant {k} is a traced value; a program "
                                       "can be exported only once its constants are known")
                consts.append(self.buffer(np.asarray(c)))
            entry = {"closed": inner, "consts": consts}
        else:
            entry = self.jaxpr(j, where)
        self.entries.append(entry)
        self.keep.append(j)
        self.index[id(j)] = len(self.entries) - 1
        return len(self.entries) - 1

    def jaxpr(self, j: Jaxpr, where: str) -> dict:
        ids: dict[Var, int] = {}

        def define(v: Var) -> list:
            ids[v] = len(ids)
            return self.aval(v.aval)

        def atom(a) -> Any:
            if isinstance(a, Literal):
                val = np.asarray(a.val, a.aval.dtype)
                return ["L", self.dtype_name(a.aval.dtype), val.tobytes().hex(),
                        bool(a.aval.weak_type)]
            return ids[a]

        constvars = [define(v) for v in j.constvars]
        invars = [define(v) for v in j.invars]
        eqns = []
        for n, e in enumerate(j.eqns):
            here = f"{where}{', ' if where else ''}equation {n} ({e.primitive.name})"
            if self.prims.get(e.primitive.name) is not e.primitive:
                raise _ExportError(
                    f"{here}: the primitive {e.primitive.name!r} is not registered under that "
                    "name (no shape rule in functrace.core.shape_rules, or another primitive "
                    "has the same name), so a loader could not find it")
            ins = [atom(a) for a in e.invars]
            params = {k: self.param(v, f"{here}, parameter {k!r}", 0)
                      for k, v in sorted(e.params.items())}
            outs = [define(v) for v in e.outvars]
            eqns.append([e.primitive.name, ins, outs, params, e.source_info])
        return {"constvars": constvars, "invars": invars, "eqns": eqns,
                "outvars": [atom(a) for a in j.outvars]}

    def param(self, v: Any, where: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _ExportError(f"{where}: nested more than {_MAX_DEPTH} levels deep")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return ["i", str(v)]
        if t is float:
            return ["f", v.hex()]
        if t is complex:
            return ["c", v.real.hex(), v.imag.hex()]
        if t is tuple or t is list:
            return ["t" if t is tuple else "l", [self.param(w, where, depth + 1) for w in v]]
        if t is dict:
            return ["d", [[self.param(k, where, depth + 1), self.param(w, where, depth + 1)]
                          for k, w in v.items()]]
        if isinstance(v, np.dtype):
            return ["dt", self.dtype_name(v)]
        if isinstance(v, type) and issubclass(v, np.generic):
            return ["st", self.dtype_name(v)]  # a scalar type (np.float32) used as a dtype
        if t is ShapedArray:
            return ["av", *self.aval(v)]
        if isinstance(v, np.generic):
            return ["ng", self.dtype_name(v.dtype), np.asarray(v).tobytes().hex()]
        if t is np.ndarray:
            return ["nd", self.buffer(v)]
        if t is ClosedJaxpr or t is Jaxpr:
            return ["cj" if t is ClosedJaxpr else "j", self.program(v, where)]
        if isinstance(v, Primitive):
            if self.prims.get(v.name) is not v:
                raise _ExportError(f"{where}: the primitive {v.name!r} is not registered")
            return ["p", v.name]
        if isinstance(v, enum.Enum):
            name = _qualname(t)
            if _functrace_objects(_is_enum_class).get(name) is not t:
                raise _ExportError(f"{where}: the enum {name} is not one of functrace's")
            return ["e", name, v.name]
        if _is_namedtuple_class(t):
            name = _qualname(t)
            if _functrace_objects(_is_namedtuple_class).get(name) is not t:
                raise _ExportError(f"{where}: the namedtuple {name} is not one of functrace's")
            return ["nt", name, [self.param(w, where, depth + 1) for w in v]]
        if callable(v):
            name = self.functions.get(id(v))
            if name is not None:
                return ["fn", name]
            raise _ExportError(
                f"{where} is the Python function {_qualname(v)}: functions are code, and an "
                "exported program carries data only (loading it must not run code from the "
                "payload). Custom derivative rules (custom_jvp/custom_vjp) keep their rules as "
                "functions: export the program after differentiating it (grad, jvp and vjp "
                "replace the rule by its equations), or trace a version without the custom "
                "rule")
        raise _ExportError(f"{where} is a {t.__name__} ({v!r:.60}), which the export format "
                           "cannot represent (ints, floats, complex, bools, strings, None, "
                           "tuples, lists, dicts, dtypes, NumPy scalars and arrays, programs)")

    def finish(self, doc: dict) -> bytes:
        doc = {"format": "functrace.export", "version": FORMAT_VERSION,
               "programs": self.entries, **doc}
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
        data = b"".join(self.chunks)
        crc = zlib.crc32(data, zlib.crc32(text))
        return _HEAD.pack(_MAGIC, FORMAT_VERSION, len(text), len(data), crc) + text + data


def _write(build: Callable[[_Writer], dict], what: str) -> bytes:
    w = _Writer()
    try:
        return w.finish(build(w))
    except _ExportError as e:
        raise ValueError(f"cannot export {what}: {e}") from None


def serialize(closed_jaxpr: ClosedJaxpr) -> bytes:
    """The program ``closed_jaxpr`` (from ``make_jaxpr``, ``jit(f).trace(...).jaxpr``, ...) as
    bytes that ``deserialize`` turns back into an equal program.

    Raises ``ValueError`` (saying which equation and parameter) for what the format cannot
    hold: Python functions (custom derivative rules), traced constants, unsupported dtypes.
    """
    if isinstance(closed_jaxpr, Jaxpr):
        closed_jaxpr = ClosedJaxpr(closed_jaxpr, [])
    if not isinstance(closed_jaxpr, ClosedJaxpr):
        raise TypeError(f"serialize expects a ClosedJaxpr (from make_jaxpr) or an Exported, "
                        f"got {type(closed_jaxpr).__name__}")
    return _write(lambda w: {"kind": "closed_jaxpr",
                             "root": w.program(closed_jaxpr, "")}, "the program")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise _Malformed(msg)


def _is_int(x) -> bool:
    return type(x) is int


class _Reader:
    def __init__(self, doc: dict, data: memoryview):
        self.doc = doc
        self.data = data
        self.prims = _primitives()
        self.programs: list = []
        self.depths: list[int] = []  # how deeply each program's sub-programs nest
        self._ref_depth = 0
        self._enums: dict | None = None
        self._tuples: dict | None = None
        self._functions: dict | None = None

    def dtype(self, name) -> np.dtype:
        _need(type(name) is str and name in _DTYPES, f"unknown dtype {name!r:.40}")
        return _DTYPES[name]

    def aval(self, x) -> ShapedArray:
        _need(type(x) is list and len(x) == 3, "an abstract value is [dtype, shape, weak]")
        dt, shape, weak = x
        _need(type(shape) is list and all(_is_int(d) and 0 <= d < 2 ** 62 for d in shape)
              and len(shape) <= 64, f"invalid shape {shape!r:.60}")
        _need(type(weak) is bool, "weak_type must be a bool")
        return ShapedArray(shape, self.dtype(dt), weak)

    def array(self, x) -> np.ndarray:
        _need(type(x) is list and len(x) == 4, "an array is [dtype, shape, offset, length]")
        dt, shape, off, n = x
        dt = self.dtype(dt)
        _need(type(shape) is list and all(_is_int(d) and 0 <= d < 2 ** 62 for d in shape)
              and len(shape) <= 64, f"invalid array shape {shape!r:.60}")
        _need(_is_int(off) and _is_int(n) and 0 <= off and 0 <= n
              and off + n <= len(self.data), "an array's bytes lie outside the data section")
        size = int(np.prod(shape, dtype=object))
        _need(size * dt.itemsize == n, f"an array of shape {shape} and dtype {dt} does not "
                                       f"take {n} bytes")
        return np.frombuffer(self.data[off:off + n], dt).reshape(shape).copy()

    def scalar(self, dt, hexbytes) -> np.ndarray:
        dt = self.dtype(dt)
        _need(type(hexbytes) is str and len(hexbytes) == 2 * dt.itemsize,
              "a scalar's bytes have the wrong length")
        try:
            raw = bytes.fromhex(hexbytes)
        except ValueError:
            raise _Malformed("a scalar's bytes are not hexadecimal") from None
        return np.frombuffer(raw, dt)[0]

    def program_ref(self, i, closed: bool | None):
        _need(_is_int(i) and 0 <= i < len(self.programs),
              f"reference to program {i!r:.20} which is not defined before it")
        p = self.programs[i]
        self._ref_depth = max(self._ref_depth, self.depths[i])
        if closed is not None:
            _need(isinstance(p, ClosedJaxpr) == closed,
                  f"program {i} is {'not ' if closed else ''}a closed program")
        return p

    def program(self, entry) -> Jaxpr | ClosedJaxpr:
        _need(type(entry) is dict, "a program entry is an object")
        if "closed" in entry:
            inner = self.program_ref(entry["closed"], False)
            consts = entry.get("consts")
            _need(type(consts) is list and len(consts) == len(inner.constvars),
                  "a closed program needs one constant per constvar")
            return ClosedJaxpr(inner, [self.array(c) for c in consts])
        env: list[Var] = []

        def define(t) -> Var:
            v = Var(self.aval(t))
            env.append(v)
            return v

        def atom(a):
            if _is_int(a):
                _need(0 <= a < len(env), f"variable {a} used before it is defined")
                return env[a]
            _need(type(a) is list and len(a) == 4 and a[0] == "L", "invalid operand")
            _, dt, hexbytes, weak = a
            _need(type(weak) is bool, "weak_type must be a bool")
            val = self.scalar(dt, hexbytes)
            return Literal(val, ShapedArray((), val.dtype, weak))

        for k in ("constvars", "invars", "eqns", "outvars"):
            _need(type(entry.get(k)) is list, f"a program needs a list {k!r}")
        constvars = [define(t) for t in entry["constvars"]]
        invars = [define(t) for t in entry["invars"]]
        eqns = []
        for e in entry["eqns"]:
            _need(type(e) is list and len(e) == 5, "an equation is [primitive, inputs, outputs, "
                                                   "params, source]")
            name, ins, outs, params, src = e
            _need(type(name) is str, "a primitive name is a string")
            prim = self.prims.get(name)
            if prim is None:
                raise _Malformed(f"unknown primitive {name!r:.60}: this functrace has no "
                                 "primitive of that name (a newer version, or a primitive "
                                 "registered by a module that is not imported here)")
            _need(type(ins) is list and type(outs) is list and type(params) is dict,
                  "invalid equation")
            _need(src is None or type(src) is str, "invalid source information")
            invals = [atom(a) for a in ins]
            decoded = {k: self.param(v, 0) for k, v in params.items()}
            eqns.append(Eqn(prim, invals, [define(t) for t in outs], decoded, src))
        outvars = [atom(a) for a in entry["outvars"]]
        return Jaxpr(constvars, invars, outvars, eqns)

    def param(self, v, depth: int) -> Any:
        _need(depth <= _MAX_DEPTH, "parameters nested too deeply")
        if v is None or type(v) is bool or type(v) is str:
            return v
        _need(type(v) is list and v and type(v[0]) is str, f"invalid parameter {v!r:.60}")
        tag, args = v[0], v[1:]

        def arity(n):
            _need(len(args) == n, f"parameter tag {tag!r} takes {n} fields")

        if tag == "i":
            arity(1)
            _need(type(args[0]) is str and len(args[0]) <= 400, "invalid int")
            try:
                return int(args[0])
            except ValueError:
                raise _Malformed("invalid int") from None
        if tag in ("f", "c"):
            arity(1 if tag == "f" else 2)
            try:
                parts = [float.fromhex(a) for a in args]
            except (TypeError, ValueError):
                raise _Malformed("invalid float") from None
            return parts[0] if tag == "f" else complex(*parts)
        if tag in ("t", "l", "nt"):
            arity(1 if tag != "nt" else 2)
            items = args[-1]
            _need(type(items) is list, "a sequence parameter holds a list")
            vals = [self.param(w, depth + 1) for w in items]
            if tag == "t":
                return tuple(vals)
            if tag == "l":
                return vals
            if self._tuples is None:
                self._tuples = _functrace_objects(_is_namedtuple_class)
            cls = self._tuples.get(args[0]) if type(args[0]) is str else None
            _need(cls is not None, f"unknown namedtuple {args[0]!r:.60}")
            _need(len(vals) == len(cls._fields), f"{args[0]} takes {len(cls._fields)} fields")
            return cls(*vals)
        if tag == "d":
            arity(1)
            _need(type(args[0]) is list and all(type(kv) is list and len(kv) == 2
                                                for kv in args[0]), "invalid dict")
            out = {}
            for k, w in args[0]:
                k = self.param(k, depth + 1)
                _need(isinstance(k, collections.abc.Hashable), "unhashable dict key")
                out[k] = self.param(w, depth + 1)
            return out
        if tag == "dt":
            arity(1)
            return self.dtype(args[0])
        if tag == "st":
            arity(1)
            return self.dtype(args[0]).type
        if tag == "av":
            arity(3)
            return self.aval(list(args))
        if tag == "ng":
            arity(2)
            return self.scalar(*args)
        if tag == "nd":
            arity(1)
            return self.array(args[0])
        if tag in ("j", "cj"):
            arity(1)
            return self.program_ref(args[0], tag == "cj")
        if tag == "p":
            arity(1)
            prim = self.prims.get(args[0]) if type(args[0]) is str else None
            _need(prim is not None, f"unknown primitive {args[0]!r:.60}")
            return prim
        if tag == "e":
            arity(2)
            if self._enums is None:
                self._enums = _functrace_objects(_is_enum_class)
            cls = self._enums.get(args[0]) if type(args[0]) is str else None
            _need(cls is not None and type(args[1]) is str and args[1] in cls.__members__,
                  f"unknown enum value {args[0]!r:.60}.{args[1]!r:.30}")
            return cls[args[1]]
        if tag == "fn":
            arity(1)
            if self._functions is None:
                self._functions = _named_functions()
            f = self._functions.get(args[0]) if type(args[0]) is str else None
            _need(f is not None, f"unknown named function {args[0]!r:.80}")
            return f
        raise _Malformed(f"unknown parameter tag {tag!r:.20}")

    def read_programs(self) -> None:
        entries = self.doc.get("programs")
        _need(type(entries) is list, "the document has no program table")
        for entry in entries:
            self._ref_depth = 0
            program = self.program(entry)
            depth = self._ref_depth + (0 if isinstance(program, ClosedJaxpr) else 1)
            _need(depth <= _MAX_PROGRAM_DEPTH,
                  f"sub-programs nested more than {_MAX_PROGRAM_DEPTH} deep")
            self.programs.append(program)
            self.depths.append(depth)


def _parse(payload: bytes) -> tuple[dict, memoryview]:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"deserialize expects bytes, got {type(payload).__name__}")
    payload = memoryview(payload).cast("B")
    if len(payload) < _HEAD.size or bytes(payload[:8]) != _MAGIC:
        raise ValueError("not a functrace export: the payload does not start with the "
                         f"{_MAGIC!r} header (is it truncated, or some other file?)")
    magic, version, n_text, n_data, crc = _HEAD.unpack_from(payload)
    if version != FORMAT_VERSION:
        raise ValueError(f"functrace export format version {version} is not supported: this "
                         f"functrace reads version {FORMAT_VERSION} (re-export the program "
                         "with this version)")
    if len(payload) != _HEAD.size + n_text + n_data:
        raise ValueError(f"truncated or padded functrace export: the header announces "
                         f"{_HEAD.size + n_text + n_data} bytes but the payload has "
                         f"{len(payload)}")
    text = payload[_HEAD.size:_HEAD.size + n_text]
    data = payload[_HEAD.size + n_text:]
    if zlib.crc32(data, zlib.crc32(text)) != crc:
        raise ValueError("corrupted functrace export: the checksum does not match the content")
    try:
        doc = json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"corrupted functrace export: its description is not valid JSON "
                         f"({type(e).__name__})") from None
    if type(doc) is not dict or doc.get("format") != "functrace.export" \
            or doc.get("version") != FORMAT_VERSION:
        raise ValueError("corrupted functrace export: the description is not a functrace "
                         "program")
    return doc, data


def deserialize(payload: bytes) -> ClosedJaxpr | Exported:
    """Load what ``serialize`` (a ``ClosedJaxpr``) or ``Exported.serialize`` (an ``Exported``)
    wrote. Nothing in the payload is executed; the program is type-checked.

    Raises ``ValueError`` for payloads that are truncated, corrupted, of another format
    version, or describe an ill-typed program or unknown primitives.
    """
    doc, data = _parse(payload)
    reader = _Reader(doc, data)
    try:
        reader.read_programs()
        root = reader.program_ref(doc.get("root"), True)
        result: ClosedJaxpr | Exported = root
        if doc.get("kind") == "exported":
            meta = doc.get("exported")
            _need(type(meta) is dict, "missing the exported function's description")
            in_tree = _decode_tree(meta.get("in_tree"), reader, 0)
            out_tree = _decode_tree(meta.get("out_tree"), reader, 0)
            name = meta.get("fun_name")
            _need(type(name) is str, "invalid function name")
            _need(in_tree.num_leaves == len(root.in_avals)
                  and out_tree.num_leaves == len(root.out_avals),
                  "the argument/result structure does not match the program")
            result = Exported(name, in_tree, out_tree, root)
        else:
            _need(doc.get("kind") == "closed_jaxpr", f"unknown payload kind "
                                                     f"{doc.get('kind')!r:.40}")
    except _Malformed as e:
        raise ValueError(f"malformed functrace export: {e}") from None
    except (RecursionError, OverflowError, MemoryError) as e:
        raise ValueError(f"malformed functrace export ({type(e).__name__})") from None
    for n, p in enumerate(reader.programs):
        try:
            _check_one(p)
        except core.JaxprTypeError as e:
            raise ValueError(f"the exported program is not well typed (program {n} of the "
                             f"payload): {e}") from None
        except RecursionError:
            raise ValueError(f"malformed functrace export: program {n} is nested too "
                             "deeply") from None
    return result


def _check_one(p: Jaxpr | ClosedJaxpr) -> None:
    """What ``core.check_jaxpr`` checks, for one program of the table without descending
    into its sub-programs: they are entries of the table too, checked on their own.
    (Descending would check a sub-program once per reference: exponential time for a payload
    whose programs each use the previous one twice.)"""
    if isinstance(p, ClosedJaxpr):
        for v, c in zip(p.jaxpr.constvars, p.consts):
            if core.get_aval(c) != v.aval:
                raise core.JaxprTypeError(f"constant for {v} has type {core.get_aval(c)}")
        return
    defined: set[Var] = set()

    def use(a, where: str) -> None:
        if isinstance(a, Literal):
            if a.aval.shape != ():
                raise core.JaxprTypeError(f"{where}: literal {a} is not a scalar")
        elif a not in defined:
            raise core.JaxprTypeError(f"{where}: variable {a} used before it is defined")

    defined.update(p.constvars)
    defined.update(p.invars)
    for i, e in enumerate(p.eqns):
        where = f"equation {i} ({e.primitive})"
        for a in e.invars:
            use(a, where)
        try:
            want = core.abstract_eval(e.primitive, [a.aval for a in e.invars], e.params)
        except Exception as err:  # noqa: BLE001 - any failure of a rule on loaded input
            raise core.JaxprTypeError(f"{where}: shape rule rejects its inputs: "
                                      f"{type(err).__name__}: {err}") from err
        got = [v.aval for v in e.outvars]
        if want != got:
            raise core.JaxprTypeError(f"{where}: outputs typed {got} but the rule gives {want}")
        defined.update(e.outvars)
    for a in p.outvars:
        use(a, "outvars")


# ---------------------------------------------------------------------------------------------
# Pytree structures
# ---------------------------------------------------------------------------------------------


class _Leaf:
    pass


_LEAF = _Leaf()


def _encode_tree(treedef: PyTreeDef, w: _Writer) -> Any:
    """The structure as a JSON value (tuples, lists, dicts, None, functrace namedtuples)."""
    example = tree_unflatten(treedef, [_LEAF] * treedef.num_leaves)
    known = _functrace_objects(_is_namedtuple_class)

    def enc(x, depth):
        if depth > _MAX_DEPTH:
            raise _ExportError("the argument structure is nested too deeply")
        if x is _LEAF:
            return "*"
        if x is None:
            return None
        t = type(x)
        if t is tuple or t is list:
            return ["t" if t is tuple else "l", [enc(c, depth + 1) for c in x]]
        if t is dict:
            return ["d", [[w.param(k, "a dict key", 0), enc(c, depth + 1)]
                          for k, c in x.items()]]
        if t is collections.OrderedDict:
            return ["od", [[w.param(k, "a dict key", 0), enc(c, depth + 1)]
                           for k, c in x.items()]]
        if _is_namedtuple_class(t) and known.get(_qualname(t)) is t:
            return ["nt", _qualname(t), [enc(c, depth + 1) for c in x]]
        raise _ExportError(f"the argument or result structure contains a {_qualname(t)} node; "
                           "exported functions take and return tuples, lists, dicts, None and "
                           "functrace's own namedtuples (flatten other containers first)")

    return enc(example, 0)


def _decode_tree(x, r: _Reader, depth: int) -> PyTreeDef:
    known = _functrace_objects(_is_namedtuple_class)

    def dec(x, depth):
        _need(depth <= _MAX_DEPTH, "structure nested too deeply")
        if x == "*":
            return _LEAF
        if x is None:
            return None
        _need(type(x) is list and len(x) in (2, 3) and type(x[-1]) is list,
              "invalid structure")
        tag = x[0]
        if tag in ("t", "l"):
            kids = [dec(c, depth + 1) for c in x[1]]
            return tuple(kids) if tag == "t" else kids
        if tag in ("d", "od"):
            _need(all(type(kv) is list and len(kv) == 2 for kv in x[1]), "invalid dict")
            items = []
            for k, c in x[1]:
                k = r.param(k, depth + 1)
                _need(isinstance(k, collections.abc.Hashable), "unhashable dict key")
                items.append((k, dec(c, depth + 1)))
            return dict(items) if tag == "d" else collections.OrderedDict(items)
        if tag == "nt":
            cls = known.get(x[1]) if type(x[1]) is str else None
            _need(cls is not None, f"unknown namedtuple {x[1]!r:.60}")
            kids = [dec(c, depth + 1) for c in x[2]]
            _need(len(kids) == len(cls._fields), "wrong number of namedtuple fields")
            return cls(*kids)
        raise _Malformed(f"unknown structure tag {tag!r:.20}")

    return tree_structure(dec(x, depth), is_leaf=lambda v: v is _LEAF)


# ---------------------------------------------------------------------------------------------
# Exported functions
# ---------------------------------------------------------------------------------------------


class Exported:
    """A function traced for one signature, as data (``jax.export.Exported``).

    ``in_tree``/``out_tree`` are the structures of ``(args, kwargs)`` and of the result,
    ``in_avals``/``out_avals`` the flat argument and result types, ``fun_name`` the function's
    name. ``call(*args, **kwargs)`` runs it (compiled once per process); ``serialize()`` gives
    bytes for ``functrace.export.deserialize``.
    """

    def __init__(self, fun_name: str, in_tree: PyTreeDef, out_tree: PyTreeDef,
                 jaxpr: ClosedJaxpr):
        from .jit import hoist_consts
        self.fun_name = fun_name
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.jaxpr = jaxpr
        # the form jit_call binds: constants as leading arguments (one compiled program)
        self._hoisted, self._consts = hoist_consts(jaxpr)

    @property
    def in_avals(self) -> tuple[ShapedArray, ...]:
        return tuple(self.jaxpr.in_avals)

    @property
    def out_avals(self) -> tuple[ShapedArray, ...]:
        return tuple(self.jaxpr.out_avals)

    def call_flat(self, flat_args: Sequence[Any]) -> list:
        """Run the program on flat arguments (the leaves of ``(args, kwargs)``)."""
        from .jit import jit_call_p
        if len(flat_args) != len(self.in_avals):
            raise TypeError(f"exported function {self.fun_name!r} takes {len(self.in_avals)} "
                            f"array arguments but got {len(flat_args)}")
        for k, (x, want) in enumerate(zip(flat_args, self.in_avals)):
            got = core.get_aval(x)
            if got != want:
                raise TypeError(f"exported function {self.fun_name!r}: argument {k} has type "
                                f"{got.str_short()} but it was exported for "
                                f"{want.str_short()}")
        return jit_call_p.bind(*self._consts, *flat_args, jaxpr=self._hoisted,
                               name=self.fun_name)

    def call(self, *args, **kwargs) -> Any:
        """Run the exported function on arguments of the exported structure and types."""
        flat, in_tree = tree_flatten((args, kwargs))
        if in_tree != self.in_tree:
            raise TypeError(f"exported function {self.fun_name!r} expects arguments with "
                            f"structure {self.in_tree} but got {in_tree}")
        return tree_unflatten(self.out_tree, self.call_flat(flat))

    __call__ = call

    def serialize(self) -> bytes:
        """Bytes that ``functrace.export.deserialize`` turns back into this ``Exported``."""
        def build(w: _Writer) -> dict:
            root = w.program(self.jaxpr, "")
            return {"kind": "exported", "root": root,
                    "exported": {"fun_name": self.fun_name,
                                 "in_tree": _encode_tree(self.in_tree, w),
                                 "out_tree": _encode_tree(self.out_tree, w)}}
        return _write(build, f"the function {self.fun_name!r}")

    def __repr__(self):
        ins = ", ".join(a.str_short() for a in self.in_avals)
        outs = ", ".join(a.str_short() for a in self.out_avals)
        return f"Exported({self.fun_name}: ({ins}) -> ({outs}))"


def _abstract(x):
    from .shape_eval import _placeholder
    return _placeholder(x)


def export(fun: Callable) -> Callable[..., Exported]:
    """``export(jit(f))(*args, **kwargs)``: trace ``f`` for arguments of these shapes and
    dtypes (arrays, scalars or ``ShapeDtypeStruct``) into an ``Exported``.

    A plain function is jitted first; static arguments of ``jit`` are fixed by the values
    passed. The result can be serialised, shipped and ``call``-ed elsewhere.
    """
    from .jit import Jitted, jit
    from .shape_eval import ShapeDtypeStruct
    jitted = fun if isinstance(fun, Jitted) else jit(fun)

    def do_export(*args, **kwargs) -> Exported:
        args, kwargs = tree_map(_abstract, (args, kwargs),
                                is_leaf=lambda x: isinstance(x, ShapeDtypeStruct))
        traced = jitted.trace(*args, **kwargs)
        inner = traced._traced
        return Exported(inner.name, traced._in_tree, inner.out_tree, inner.closed)

    return do_export
