"""Reverse mode for the outermost, eager case: record a tape while evaluating, no linear jaxpr.

``grad``/``vjp`` outside any transformation (plain NumPy inputs, no ``jit``/``make_jaxpr``/
``vmap`` around them) would otherwise run three interpreters per primitive: the JVP trace, the
partial evaluator that stages the tangent program, and the evaluation of its transpose. Here one
trace (``EagerLinearizeTrace``) does the forward pass: each primitive application with a
differentiated input is looked up in a cache keyed by the primitive, its input types, params
and which inputs carry tangents. A cache entry holds two small programs made once from the
primitive's own JVP and transpose rules (``jvp_jaxpr`` -> ``partial_eval_jaxpr`` -> a traced
``backward_pass``):

  known:  primal inputs -> (primal outputs, residuals)       run now, in the forward pass
  bwd:    (residuals, output cotangents) -> input cotangents  run by the backward pass

Both are run by a straight-line evaluator that calls the NumPy impls directly (the types were
checked when the program was traced). The tape is a list of records (program, residuals,
input and output nodes); the backward pass walks it in reverse. Cotangents are accumulated in
the same order as the staged path's transposition (equations in creation order), so results
are bit-identical to it.

Anything the cache cannot hold (primitives with sub-programs or callables in their params,
rules that need concrete values) goes through the general machinery for that one application
(``linearize_flat`` of the single primitive), so control flow, custom rules and checkpointing
keep their semantics. Nested transformations inside the function (``grad`` of ``grad``,
``vmap``, ``jit``) see this trace as an ordinary outer JVP trace: its tracers are
``JVPTracer``s with a non-zero tangent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ad, core
from .ad import JVPTracer, Zero
from .config import config as _config
from .core import ClosedJaxpr, Literal, ShapedArray, Tracer

# ---------------------------------------------------------------------------------------------
# Small programs and their evaluator
# ---------------------------------------------------------------------------------------------


class _Program:
    """A closed jaxpr compiled to a straight-line Python function of concrete values.

    ``run(args)`` calls each equation's NumPy impl directly, as ``EvalTrace`` would after its
    shape check (the types were checked when the program was traced), including turning weakly
    typed scalar results back into Python scalars. Equations holding sub-programs are bound.
    """

    __slots__ = ("closed", "run")

    def __init__(self, closed: ClosedJaxpr):
        self.closed = closed
        self.run = _compile(closed)

    def bind_eval(self, args: Sequence[Any]) -> list:
        """Evaluate by binding every equation (works on tracers of other transformations)."""
        return core.eval_jaxpr(self.closed.jaxpr, self.closed.consts, *args)


def _item(x):
    return np.asarray(x).item()


def _compile(closed: ClosedJaxpr) -> Callable[[Sequence[Any]], list]:
    jaxpr = closed.jaxpr
    ns: dict[str, Any] = {"_item": _item, "_bind": core.bind}
    names: dict = {}

    def name(a) -> str:
        n = names.get(a)
        if n is None:
            n = names[a] = f"v{len(names)}"
            if isinstance(a, Literal):
                ns[n] = a.val.item() if a.aval.weak_type else a.val
        return n

    for v, c in zip(jaxpr.constvars, closed.consts):
        ns[name(v)] = c
    ins = [name(v) for v in jaxpr.invars]
    lines = ["def run(args):", f"    [{', '.join(ins)}] = args"]
    for i, eqn in enumerate(jaxpr.eqns):
        prim = eqn.primitive
        ns[f"p{i}"] = eqn.params
        args = ", ".join(name(a) for a in eqn.invars)
        fn = core.impl_rules.get(prim)
        if fn is None or any(True for _ in core.subjaxprs(eqn.params)):
            ns[f"P{i}"] = prim
            call = f"_bind(P{i}, {args}, **p{i})" if args else f"_bind(P{i}, **p{i})"
        else:
            ns[f"f{i}"] = fn
            call = f"f{i}({args}, **p{i})" if args else f"f{i}(**p{i})"
        if prim.multiple_results:
            lines.append(f"    [{', '.join(name(v) for v in eqn.outvars)}] = {call}")
        else:
            out = eqn.outvars[0]
            if out.aval.weak_type and not out.aval.shape:
                call = f"_item({call})"
            lines.append(f"    {name(out)} = {call}")
    lines.append(f"    return [{', '.join(name(a) for a in jaxpr.outvars)}]")
    exec(compile("\n".join(lines), "<functrace eager_vjp program>", "exec"), ns)  # noqa: S102
    return ns["run"]


class _Entry:
    """The linearization of one primitive application type (see the module docstring)."""

    __slots__ = ("known", "unknown", "n_out", "out_nz", "n_res", "n_in", "bwd")

    def __init__(self, known, unknown, n_out, out_nz, n_res, n_in):
        self.known = known          # _Program: primals -> outs + residuals
        self.unknown = unknown      # ClosedJaxpr: (residuals, nonzero tangents) -> touts
        self.n_out = n_out
        self.out_nz = out_nz        # which outputs have a (nonzero) tangent
        self.n_res = n_res
        self.n_in = n_in            # number of nonzero input tangents
        self.bwd: dict = {}         # cotangent types -> (_Program, which inputs get one)


_FALLBACK = object()
_entries: dict = {}
_CACHE_LIMIT = 4096
_PLAIN_PARAM_TYPES = (int, float, bool, str, type(None), np.dtype)
core.rule_change_callbacks.append(_entries.clear)  # entries are made from the rules


def _plain(v) -> bool:
    """Params the cache may hold: values that stand for themselves (no programs, callables)."""
    if isinstance(v, tuple):
        return all(_plain(w) for w in v)
    return isinstance(v, _PLAIN_PARAM_TYPES)


def _build_entry(prim, in_avals, params, pattern, nonzero) -> _Entry:
    from .partial_eval import partial_eval_jaxpr
    from .tracing import trace_to_jaxpr

    def prim_fun(*uniq):
        out = core.bind(prim, *[uniq[i] for i in pattern], **params)
        return list(out) if prim.multiple_results else [out]

    closed = trace_to_jaxpr(prim_fun, in_avals)
    n_out = len(closed.out_avals)
    jvp_closed, out_nz = ad.jvp_jaxpr(closed, list(nonzero), instantiate_out=False)
    n_in = sum(nonzero)
    n_tout = sum(out_nz)
    known, unknown, out_unknowns, n_res = partial_eval_jaxpr(
        jvp_closed, [False] * len(in_avals) + [True] * n_in, [False] * n_out + [True] * n_tout)
    if any(out_unknowns[:n_out]) or not all(out_unknowns[n_out:]):
        raise NotImplementedError("a primal output depends on the tangents")
    return _Entry(_Program(known), unknown, n_out, out_nz, n_res, n_in)


def _build_bwd(entry: _Entry, ct_avals: tuple) -> tuple[_Program, list[int]]:
    """The transpose of ``entry.unknown`` for cotangents of the given types (None: none).

    Its outputs are the contributions to the input cotangents, unsummed and in the order the
    transposition produced them; the second result says which input each one is for."""
    from .tracing import trace_to_jaxpr
    jaxpr = entry.unknown.jaxpr
    n_res = entry.n_res
    res_avals = [v.aval for v in jaxpr.invars[:n_res]]
    tout_avals = [v.aval for v in jaxpr.outvars]
    ct_avals = [None if k is None else ShapedArray(*k) for k in ct_avals]
    given = [a for a in ct_avals if a is not None]
    nz_box: list = []

    def bwd_fun(*args):
        res, it = args[:n_res], iter(args[n_res:])
        cts = [Zero(a) if c is None else next(it) for a, c in zip(tout_avals, ct_avals)]
        parts = ad.backward_pass(jaxpr, [], [False] * n_res + [True] * entry.n_in,
                                 list(res) + [None] * entry.n_in, cts, split_inputs=True)
        nz_box.append([i for i, p in enumerate(parts[n_res:]) for _ in p])
        return [c for p in parts[n_res:] for c in p]

    try:
        closed = trace_to_jaxpr(bwd_fun, res_avals + given)
    except Exception:  # noqa: BLE001 - a rule that needs values: transpose on them each time
        return None, None
    return _Program(closed), nz_box[0]


def _transpose_now(entry: _Entry, res: list, cts: list) -> tuple[list, list[int]]:
    """``entry``'s transposition evaluated directly on the values (as the staged path does),
    for rules that cannot be traced ahead of time; same result layout as ``_build_bwd``."""
    jaxpr = entry.unknown.jaxpr
    n_res = entry.n_res
    cts = [Zero(v.aval) if c is None else c for v, c in zip(jaxpr.outvars, cts)]
    parts = ad.backward_pass(jaxpr, [], [False] * n_res + [True] * entry.n_in,
                             list(res) + [None] * entry.n_in, cts, split_inputs=True)[n_res:]
    return [c for p in parts for c in p], [i for i, p in enumerate(parts) for _ in p]


# ---------------------------------------------------------------------------------------------
# The forward trace
# ---------------------------------------------------------------------------------------------


class _Node:
    """The tangent of one differentiated value: a name in the tape, never an array."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"TangentNode({self.aval.str_short()})"


# A tape record is a tuple (entry, residuals, in_nodes, out_nodes, lin): the cached entry and
# the residuals its backward program reads, the nodes of the unique inputs with a tangent and
# of the outputs with one, and for applications outside the cache (entry None) the
# ``LinearFunction`` made by ``linearize_flat``.


class EagerTracer(JVPTracer):
    """A concrete primal value and the tape node of its tangent (or ``Zero``)."""

    __slots__ = ("aval",)  # the primal's, computed once (read often by functrace.numpy)

    def __init__(self, trace, primal, tangent, aval=None):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self.aval = core.get_aval(primal) if aval is None else aval

    def __repr__(self):
        # what users see is a JVP trace (its tangents just live on a tape)
        return f"Traced<{self.aval.str_short()}>with<JVPTrace>"


_EVAL = core.EvalTrace(core.MainTrace(0, core.EvalTrace))  # level 0's interpreter


def _zero(x) -> Zero:
    return Zero(core.get_aval(x))


def _new_entry(key, primitive, params, pattern, avals, nonzero):
    """Build (and cache) the entry for ``key``; ``_FALLBACK`` when the cache cannot hold it."""
    if key is None or not _plain(key[1]):
        return _FALLBACK
    try:
        entry = _build_entry(primitive, avals, params, pattern, tuple(nonzero))
    except Exception:  # noqa: BLE001 - the general path runs it (and raises what it raises)
        entry = _FALLBACK
    if len(_entries) > _CACHE_LIMIT:
        _entries.clear()
    _entries[key] = entry
    return entry


class EagerLinearizeTrace(core.Trace):
    """Evaluates primitives on concrete values and records their linearization on a tape."""

    __slots__ = ()

    def pure(self, val):
        return EagerTracer(self, val, Zero(core.get_aval(val)))

    lift = pure

    raw_args = True  # bind hands over its arguments unraised: constants stay plain values

    def process_primitive(self, primitive, args, params):
        # Operands: this trace's tracers, or plain values (Python scalars, NumPy arrays), which
        # have a zero tangent. Only this trace's tracers can reach it: it runs at level 1.
        # One pass collects the unique inputs (the same value with the same tangent is one
        # input: rules such as mul's ``x * x`` test identity) and the cache key's signature:
        # per unique input its type, weak flag and whether its tangent is nonzero.
        primals, tangents, sig, pattern, in_nodes = [], [], [], [], []
        for a in args:
            if type(a) is EagerTracer:
                p, t = a.primal, a.tangent
                for j, q in enumerate(primals):
                    if q is p and tangents[j] is t:
                        pattern.append(j)
                        break
                else:
                    pattern.append(len(primals))
                    primals.append(p)
                    tangents.append(t)
                    aval = a.aval
                    # (shape, dtype) rather than the aval: hashed without Python calls
                    if type(t) is Zero:
                        sig += (aval.shape, aval.dtype, aval.weak_type, False)
                    else:  # the nodes of the unique inputs with a tangent, in order
                        in_nodes.append(t)
                        sig += (aval.shape, aval.dtype, aval.weak_type, True)
            else:  # a constant: its own input, with a zero tangent
                pattern.append(len(primals))
                primals.append(a)
                tangents.append(None)
                aval = core.get_aval(a)
                sig += (aval.shape, aval.dtype, aval.weak_type, False)
        if not in_nodes:
            return self._no_tangents(primitive, primals, pattern, params)
        key = (primitive, tuple(params.items()), tuple(sig), tuple(pattern))
        try:
            entry = _entries.get(key)
        except TypeError:  # an unhashable param
            entry = key = None
        if entry is None:
            avals = [ShapedArray(*t) for t in zip(sig[0::4], sig[1::4], sig[2::4])]
            entry = _new_entry(key, primitive, params, pattern, avals, sig[3::4])
        if entry is _FALLBACK:
            return self._general(primitive, params, pattern, primals, sig[3::4], in_nodes)
        vals = entry.known.run(primals)
        n_out = entry.n_out
        if n_out == 1 and entry.out_nz[0]:  # the common case
            o = vals[0]
            aval = core.get_aval(o)
            node = _Node(aval)
            self.main.global_data.append((entry, vals[1:], in_nodes, [node], None))
            return [EagerTracer(self, o, node, aval)]
        out_nodes = []
        tracers_out = []
        for o, nz in zip(vals[:n_out], entry.out_nz):
            aval = core.get_aval(o)
            if nz:
                node = _Node(aval)
                out_nodes.append(node)
                tracers_out.append(EagerTracer(self, o, node, aval))
            else:  # no tangent: the plain value, as JAX's JVP trace returns it
                tracers_out.append(o)
        if out_nodes:
            self.main.global_data.append((entry, vals[n_out:], in_nodes, out_nodes, None))
        return tracers_out

    def _no_tangents(self, primitive, primals, pattern, params):
        """Nothing to differentiate: evaluate (as ``EvalTrace``) and return the plain values,
        as JAX's JVP trace does; operations on them then skip the tape altogether (index
        arithmetic in a simulation, masks, shapes)."""
        return _EVAL.process_primitive(primitive, [primals[j] for j in pattern], params)

    def _general(self, primitive, params, pattern, u_primals, nonzero, in_nodes):
        """One application through ``linearize_flat`` (sub-programs, custom rules...)."""
        from .partial_eval import linearize_flat

        def fun(*uniq):
            out = core.bind(primitive, *[uniq[i] for i in pattern], **params)
            return list(out) if primitive.multiple_results else [out]

        outs, lin = linearize_flat(fun, u_primals, list(nonzero))
        out_nodes = [_Node(a) if nz else None for a, nz in zip(lin.out_avals, lin.out_nonzero)]
        if any(n is not None for n in out_nodes):
            self.main.global_data.append(
                (None, None, in_nodes, [n for n in out_nodes if n is not None], lin))
        tracers_out = [EagerTracer(self, o, Zero(core.get_aval(o)) if n is None else n)
                       for o, n in zip(outs, out_nodes)]
        return tracers_out if primitive.multiple_results else tracers_out[:1]


# ---------------------------------------------------------------------------------------------
# Linearize and transpose
# ---------------------------------------------------------------------------------------------


# Switch for tests that compare this path with the staged one.
enabled = True


def eager_ok(primals: Sequence[Any]) -> bool:
    """Whether the fast path applies: no transformation around, concrete inputs, no NaN/inf
    checking (those name the primitive and line, which the staged path records)."""
    st = core._thread_state
    if not enabled or len(st.trace_stack) != 1 or st.dynamic_trace is not None:
        return False
    if st.source_info is not None or _config.debug_nans or _config.debug_infs:
        return False
    for p in primals:
        if isinstance(p, Tracer):
            return False
    return True


class EagerLinearFunction:
    """The transposable linearization recorded by ``eager_linearize`` (``LinearFunction``'s
    ``transpose`` interface)."""

    def __init__(self, tape: list, in_nodes: list, out_nodes: list,
                 in_avals: list[ShapedArray], out_avals: list[ShapedArray]):
        self.tape = tape
        self.in_nodes = in_nodes
        self.out_nodes = out_nodes
        self.in_avals = in_avals
        self.out_avals = out_avals
        self.in_nonzero = [n is not None for n in in_nodes]
        self.out_nonzero = [n is not None for n in out_nodes]

    def transpose(self, cts_out: Sequence[Any]) -> list:
        """Input cotangents (``Zero`` where nothing flows) for the output cotangents."""
        fast = eager_ok(cts_out)
        ct_env: dict = {}
        for node, ct in zip(self.out_nodes, cts_out):
            if node is not None and ct is not None and type(ct) is not Zero:
                _accumulate(ct_env, node, ct)
        pop = ct_env.pop
        for entry, res, in_nodes, out_nodes, lin in reversed(self.tape):
            if len(out_nodes) == 1:
                ct = pop(out_nodes[0], None)
                if ct is None:
                    continue
                cts = [ct]
                if lin is None:  # the common case: one cotangent, a cached entry
                    aval = core.get_aval(ct)
                    ct_key = (aval.shape, aval.dtype, aval.weak_type)
                    hit = entry.bwd.get(ct_key)
                    if hit is None:
                        hit = entry.bwd[ct_key] = _build_bwd(entry, (ct_key,))
                    prog, where = hit
                    if prog is None:
                        parts, where = _transpose_now(entry, res, cts)
                    else:
                        parts = prog.run(res + cts) if fast else prog.bind_eval(res + cts)
                    for i, ct in zip(where, parts):
                        _accumulate(ct_env, in_nodes[i], ct)
                    continue
            else:
                cts = [pop(n, None) for n in out_nodes]
                if all(c is None for c in cts):
                    continue
            if lin is not None:
                parts, where = _general_transpose(lin, cts)
            else:
                bwd = entry.bwd
                # (the key of one cotangent is its _ct_key, of several a tuple of them)
                ct_key = tuple([None if c is None else _ct_key(c) for c in cts])
                hit = bwd.get(ct_key)
                if hit is None:
                    hit = bwd[ct_key] = _build_bwd(entry, ct_key)
                prog, where = hit
                if prog is None:
                    parts, where = _transpose_now(entry, res, cts)
                else:
                    args = res + [c for c in cts if c is not None]
                    parts = prog.run(args) if fast else prog.bind_eval(args)
            for i, ct in zip(where, parts):
                _accumulate(ct_env, in_nodes[i], ct)
        return [Zero(a) if n is None else ct_env.get(n, Zero(a))
                for n, a in zip(self.in_nodes, self.in_avals)]


def _accumulate(ct_env: dict, node: _Node, ct) -> None:
    """Add ``ct`` to the cotangent of ``node`` (``ad.add_tangents``; NumPy's add directly for
    two arrays of one type, which is what that would run)."""
    prev = ct_env.get(node)
    if prev is None:
        ct_env[node] = ct
    elif (type(prev) is np.ndarray and type(ct) is np.ndarray and prev.dtype == ct.dtype
          and prev.shape == ct.shape):
        ct_env[node] = np.add(prev, ct)
    else:
        ct_env[node] = ad.add_tangents(prev, ct)


def _ct_key(c) -> tuple:
    """A cotangent's type: shape, dtype and weak flag (``ShapedArray`` equality ignores it)."""
    aval = core.get_aval(c)
    return aval.shape, aval.dtype, aval.weak_type


def _general_transpose(lin, cts: list) -> tuple[list, list[int]]:
    """Transpose a record made by ``EagerLinearizeTrace._general``: the contributions to its
    input cotangents (unsummed, see ``_build_bwd``) and which input each is for."""
    it = iter(cts)
    cts_nz = [next(it) for nz in lin.out_nonzero if nz]
    cts_nz = [Zero(v.aval) if c is None else c for v, c in zip(lin.jaxpr.outvars, cts_nz)]
    n = len(lin.jaxpr.invars)
    split = ad.backward_pass(lin.jaxpr, lin.residuals, [True] * n, [None] * n, cts_nz,
                             split_inputs=True)
    return [c for p in split for c in p], [i for i, p in enumerate(split) for _ in p]


def eager_linearize(fun: Callable, primals: Sequence[Any], differentiable: Sequence[bool]
                    ) -> tuple[list, EagerLinearFunction]:
    """``linearize_flat`` for concrete inputs outside any transformation (see module doc)."""
    in_avals = [core.get_aval(p) for p in primals]
    tape: list = []
    with core.new_main(EagerLinearizeTrace, tape) as main:
        trace = main.trace = EagerLinearizeTrace(main)
        in_nodes = [_Node(a) if d else None for a, d in zip(in_avals, differentiable)]
        tracers = [EagerTracer(trace, p, Zero(a) if n is None else n)
                   for p, a, n in zip(primals, in_avals, in_nodes)]
        outs = [trace.full_raise(o) for o in fun(*tracers)]
        primals_out = [o.primal for o in outs]
        out_nodes = [None if isinstance(o.tangent, Zero) else o.tangent for o in outs]
    out_avals = [core.get_aval(p) for p in primals_out]
    return primals_out, EagerLinearFunction(tape, in_nodes, out_nodes, in_avals, out_avals)

