"""The jaxpr printer. Its grammar is documented in docs/ir.md; keep the two in step.

    { lambda c1:f64[3] ; a:f64[3] b:f64[]. let
        d:f64[3] = mul a c1
        e:f64[] = reduce_sum[axes=(0,)] d
      in (e,) }
"""

from __future__ import annotations

import numpy as np

from .core import ClosedJaxpr, Eqn, Jaxpr, Literal, Var


def _names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


class _Namer:
    def __init__(self):
        self.names: dict[Var, str] = {}
        self.gen = _names()

    def __call__(self, v) -> str:
        if isinstance(v, Literal):
            return f"{_fmt_literal(v.val)}:{v.aval.str_short()}"
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = next(self.gen)
        return name

    def binder(self, v: Var) -> str:
        return f"{self(v)}:{v.aval.str_short()}"


def _fmt_literal(val) -> str:
    if np.issubdtype(val.dtype, np.bool_):
        return "True" if val else "False"
    if np.issubdtype(val.dtype, np.floating):
        return repr(float(val))
    if np.issubdtype(val.dtype, np.complexfloating):
        return repr(complex(val))
    return str(int(val))


def _fmt_param(v, indent: int) -> str:
    if isinstance(v, ClosedJaxpr):
        v = v.jaxpr
    if isinstance(v, Jaxpr):
        return "\n" + _pp(v, _Namer(), indent + 4)
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, tuple) and any(isinstance(w, (Jaxpr, ClosedJaxpr)) for w in v):
        return "(" + ", ".join(_fmt_param(w, indent) for w in v) + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v)


def _pp_eqn(eqn: Eqn, namer: _Namer, indent: int) -> str:
    lhs = " ".join(namer.binder(v) for v in eqn.outvars)
    params = ""
    if eqn.params:
        params = "[" + " ".join(f"{k}={_fmt_param(v, indent)}"
                                for k, v in sorted(eqn.params.items())) + "]"
    args = " ".join(namer(a) for a in eqn.invars)
    return f"{lhs} = {eqn.primitive.name}{params} {args}".rstrip()


def _pp(jaxpr: Jaxpr, namer: _Namer, indent: int) -> str:
    pad = " " * indent
    consts = " ".join(namer.binder(v) for v in jaxpr.constvars)
    ins = " ".join(namer.binder(v) for v in jaxpr.invars)
    head = f"{pad}{{ lambda {consts}{' ' if consts else ''}; {ins}. let"
    body = [f"{pad}    {_pp_eqn(e, namer, indent + 4)}" for e in jaxpr.eqns]
    outs = ", ".join(namer(v) for v in jaxpr.outvars)
    tail = f"{pad}  in ({outs}{',' if len(jaxpr.outvars) == 1 else ''}) }}"
    return "\n".join([head, *body, tail])


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    """Render a jaxpr in functrace's IR syntax (see docs/ir.md)."""
    return _pp(jaxpr, _Namer(), 0)


def pp_eqn(eqn: Eqn) -> str:
    return _pp_eqn(eqn, _Namer(), 0)
