"""Run programs through ``jit`` and through the reference interpreter, and compare.

Other test modules use it to put their programs through the compiler systematically::

    from jit_check import assert_jit_matches_interpreter

    def test_my_op_compiles():
        assert_jit_matches_interpreter(lambda x: fnp.cumsum(x * 2), np.arange(5.0))

The reference is ``eval_jaxpr`` of the very jaxpr ``jit`` compiles (with nested ``jit_call``s
interpreted too), so a mismatch is a backend bug, not a tracing difference. Floating-point
results must agree to a few ulps (the backend may sum in another order and uses its own
vectorised sin/cos); integers and booleans exactly; NaN where NaN, infinities with their sign.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrace import core
from functrace.config import config
from functrace.jit import jit
from functrace.tree_util import tree_flatten, tree_unflatten

# (rtol, atol) per dtype kind when the caller gives none
TOLERANCES = {np.dtype(np.float32): (2e-5, 1e-6), np.dtype(np.float64): (1e-11, 1e-13),
              np.dtype(np.float16): (2e-3, 1e-4), np.dtype(np.complex64): (2e-5, 1e-6),
              np.dtype(np.complex128): (1e-11, 1e-13)}


def assert_close(got: Any, want: Any, rtol: float | None = None, atol: float | None = None,
                 what: str = "output") -> None:
    """``got`` equals ``want`` in shape and dtype, and in value up to the dtype's tolerance."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.shape == want_a.shape, f"{what}: shape {got_a.shape} != {want_a.shape}"
    assert got_a.dtype == want_a.dtype, f"{what}: dtype {got_a.dtype} != {want_a.dtype}"
    if got_a.dtype.kind in "biu":
        np.testing.assert_array_equal(got_a, want_a, err_msg=what)
        return
    r, a = TOLERANCES.get(got_a.dtype, (1e-7, 0.0))
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    # NaN where NaN, infinities equal (with sign); the finite rest within tolerance
    np.testing.assert_array_equal(np.isnan(got_a), np.isnan(want_a), err_msg=f"{what}: NaNs")
    inf = np.isinf(want_a)
    np.testing.assert_array_equal(got_a[inf], want_a[inf], err_msg=f"{what}: infinities")
    fin = np.isfinite(want_a)
    scale = max(float(np.max(np.abs(want_a[fin]), initial=0.0)), 1.0)
    np.testing.assert_allclose(got_a[fin], want_a[fin], rtol=rtol, atol=atol * scale,
                               err_msg=what)


def interpret(f: Callable, *args, static_argnums=(), **kwargs):
    """``f(*args)`` by the reference interpreter on the jaxpr ``jit(f)`` would compile."""
    traced = jit(f, static_argnums=static_argnums).trace(*args, **kwargs)
    closed = traced.jaxpr
    core.check_jaxpr(closed)
    statics = set(static_argnums if not isinstance(static_argnums, int) else (static_argnums,))
    dyn = [a for i, a in enumerate(args) if i not in statics]
    flat, _ = tree_flatten((tuple(dyn), kwargs))
    with config.override(disable_jit=True):
        outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *flat)
    return tree_unflatten(traced._traced.out_tree, outs)


def assert_jit_matches_interpreter(f: Callable, *args, rtol: float | None = None,
                                   atol: float | None = None, static_argnums=(),
                                   **kwargs) -> Any:
    """Compile ``f`` with ``jit``, run it on ``args``, and compare every output with the
    reference interpreter's; returns the compiled result."""
    got = jit(f, static_argnums=static_argnums)(*args, **kwargs)
    want = interpret(f, *args, static_argnums=static_argnums, **kwargs)
    got_leaves, got_tree = tree_flatten(got)
    want_leaves, want_tree = tree_flatten(want)
    assert got_tree == want_tree, f"output structure {got_tree} != {want_tree}"
    for k, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        assert isinstance(g, np.ndarray), f"output {k} is a {type(g).__name__}, not an array"
        assert_close(g, w, rtol, atol, what=f"output {k}")
    return got


# ---------------------------------------------------------------------------------------------
# Every primitive the op tests apply, compiled too: a pytest plugin
# ---------------------------------------------------------------------------------------------
#
# While a module of ``JIT_CHECKED_MODULES`` runs, every primitive applied eagerly (to concrete
# values, by the tests themselves or inside transformations' eager evaluation) is recorded with
# its inputs and the reference implementation's outputs, once per signature (primitive, params,
# operand dtypes and ranks). When the module ends, the recorded applications become one program
# (independent equations, a batch of at most BATCH) compiled by the backend, and each output is
# compared with the reference; float64 applications are also checked in float32 (operands
# cast, when the primitive accepts that). A program Numba cannot compile is split until the
# culprits are found. ``FUNCTRACE_JIT_CHECK=0`` turns the plugin off.

import os  # noqa: E402
import warnings  # noqa: E402

import pytest  # noqa: E402

from functrace.core import ClosedJaxpr, Eqn, Jaxpr, Var  # noqa: E402

JIT_CHECKED_MODULES = ("test_ops_", "test_numpy_api", "test_numpy_indexing",
                       "test_control_flow", "test_autodiff")
BATCH = 120  # equations per compiled program
DETAIL = os.environ.get("FUNCTRACE_JIT_CHECK_DETAIL", "dtypes")
MAX_SIZE = 4096  # operands larger than this are not recorded
_CHECKABLE_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float32, np.float64))

STATS = {"applications": 0, "signatures": 0, "checked": 0, "float32_variants": 0,
         "not_compiled": 0, "primitives": set()}
_seen: set = set()
_pending: list = []
_recording = [False]


def _params_key(prim, params: dict):
    items = []
    for k, v in sorted(params.items()):
        subs = list(core.subjaxprs({k: v}))
        if subs:  # sub-programs: one check per primitive and size of its body
            v = ("sub", tuple(len((s.jaxpr if isinstance(s, ClosedJaxpr) else s).eqns)
                              for s in subs))
        items.append((k, v))
    key = (prim, tuple(items))
    hash(key)
    return key


def _signature(prim, params, avals):
    if DETAIL == "full":
        return (_params_key(prim, params), tuple((a.dtype, a.ndim, a.weak_type) for a in avals))
    # floats by precision, integers and booleans by kind: the lowerings differ along these
    return (prim, tuple(a.dtype.name if a.dtype.kind == "f" else a.dtype.kind for a in avals))


def _record(prim, values, params, outs) -> None:
    STATS["applications"] += 1
    try:
        if list(core.subjaxprs(params)):
            return  # control flow and calls: compiled by test_jit_control_flow.py and others
        avals = [core.get_aval(v) for v in values]
        if any(a.dtype not in _CHECKABLE_DTYPES or a.size > MAX_SIZE for a in avals):
            return
        key = _signature(prim, params, avals)
    except Exception:  # noqa: BLE001 - unhashable params, odd values: not recorded
        return
    if key in _seen:
        return
    _seen.add(key)
    STATS["signatures"] += 1
    outs = list(outs) if prim.multiple_results or isinstance(outs, (list, tuple)) else [outs]
    _pending.append((prim, dict(params), [np.array(v, copy=True) if isinstance(v, np.ndarray)
                                          else v for v in values], outs))


def _install() -> Callable[[], None]:
    original = core.EvalTrace.process_primitive

    def process_primitive(self, primitive, values, params):
        outs = original(self, primitive, values, params)
        if _recording[0]:
            _recording[0] = False  # nothing the recorder does is recorded
            try:
                _record(primitive, values, params, outs)
            finally:
                _recording[0] = True
        return outs

    core.EvalTrace.process_primitive = process_primitive

    def uninstall():
        core.EvalTrace.process_primitive = original

    return uninstall


def _f32_variant(prim, params, values):
    """The application with its float64 operands cast to float32 (None if not well typed)."""
    if not any(core.get_aval(v).dtype == np.float64 for v in values):
        return None
    if list(core.subjaxprs(params)):  # a sub-program is typed for its float64 operands
        return None
    cast = [v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64
            else np.float32(v) if isinstance(v, np.float64) else v for v in values]
    try:
        core.abstract_eval(prim, [core.get_aval(v) for v in cast], params)
        with config.override(disable_jit=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = core.impl_rules[prim](*cast, **params)
    except Exception:  # noqa: BLE001 - not defined on float32
        return None
    return prim, params, cast, list(out) if prim.multiple_results else [out]


def _describe(prim, params, values) -> str:
    shown = {k: v for k, v in params.items() if not list(core.subjaxprs({k: v}))}
    avals = ", ".join(core.get_aval(v).str_short() for v in values)
    return f"{prim.name}[{shown}]({avals})"


def _program(apps) -> ClosedJaxpr:
    invars, outvars, eqns = [], [], []
    for prim, params, values, _ in apps:
        ins = [Var(core.get_aval(v)) for v in values]
        out_avals = core.abstract_eval(prim, [v.aval for v in ins], params)
        outs = [Var(a) for a in out_avals]
        invars += ins
        outvars += outs
        eqns.append(Eqn(prim, ins, outs, params))
    return ClosedJaxpr(Jaxpr((), invars, outvars, eqns), ())


def _run_batch(apps, failures: list) -> None:
    from functrace import backend
    closed = _program(apps)
    args = [v for _, _, values, _ in apps for v in values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exe = backend.executable_for(closed, "jit_check")
        try:
            got = exe.call_flat(args) if isinstance(exe, backend.Executable) else None
        except Exception:  # noqa: BLE001 - located below by splitting the batch
            got = None
    if got is None:
        if len(apps) > 1:
            half = len(apps) // 2
            _run_batch(apps[:half], failures)
            _run_batch(apps[half:], failures)
            return
        (prim, params, values, _), = apps
        STATS["not_compiled"] += 1
        failures.append(f"{_describe(prim, params, values)}: the backend could not compile or "
                        f"run it; generated source:\n{getattr(exe, 'source', '')}")
        return
    k = 0
    for prim, params, values, want in apps:
        n = len(want)
        outs, k = got[k:k + n], k + n
        STATS["checked"] += 1
        STATS["primitives"].add(prim.name)
        for j, (g, w, v) in enumerate(zip(outs, want, closed.jaxpr.outvars[k - n:k])):
            try:
                assert_close(g, np.asarray(w, v.aval.dtype), what=f"output {j}")
            except AssertionError as e:
                failures.append(f"{_describe(prim, params, values)}: {e}")


def check_pending() -> list[str]:
    """Compile and compare every recorded application; returns the failure messages."""
    apps = list(_pending)
    _pending.clear()
    for prim, params, values, _ in list(apps):
        variant = _f32_variant(prim, params, values)
        if variant is None:
            continue
        key = _signature(prim, params, [core.get_aval(v) for v in variant[2]])
        if key not in _seen:  # the suite did not apply it in float32 itself
            _seen.add(key)
            STATS["float32_variants"] += 1
            apps.append(variant)
    failures: list[str] = []
    for i in range(0, len(apps), BATCH):
        _run_batch(apps[i:i + BATCH], failures)
    return failures


@pytest.fixture(autouse=True, scope="module")
def jit_every_primitive(request):
    """Autouse (imported by conftest.py): the module's primitives, compiled and compared."""
    name = request.module.__name__.rpartition(".")[2]
    if os.environ.get("FUNCTRACE_JIT_CHECK", "1") == "0" or not name.startswith(
            JIT_CHECKED_MODULES):
        yield
        return
    uninstall = _install()
    _recording[0] = True
    try:
        yield
    finally:
        _recording[0] = False
        uninstall()
    if os.environ.get("FUNCTRACE_JIT_CHECK") == "count":
        _pending.clear()
        return
    failures = check_pending()
    if failures:
        pytest.fail(f"{len(failures)} primitive applications of {name} disagree between jit "
                    "and the interpreter:\n" + "\n".join(failures[:20]), pytrace=False)


def pytest_terminal_summary(terminalreporter) -> None:
    if STATS["signatures"]:
        terminalreporter.write_line(
            f"jit check: {STATS['applications']} eager primitive applications, "
            f"{STATS['signatures']} distinct signatures, {STATS['checked']} compiled and "
            f"compared ({STATS['float32_variants']} float32 variants), "
            f"{len(STATS['primitives'])} primitives")
