"""Property tests over random programs (tests/program_strategies.py): functrace against NumPy.

Each random program runs as NumPy (the oracle) and through functrace; the properties:

1. NumPy == functrace eager == ``make_jaxpr`` + ``eval_jaxpr`` (values, shapes, dtypes: float32
   programs stay float32, NEP 50 promotion with int32/float32/float64 inputs) and
   ``check_jaxpr`` accepts the traced program;
2. ``jit`` (the Numba backend) agrees with the interpreter, for any input memory layout;
3. ``vmap`` equals stacking per-example results (batch axis anywhere, or unbatched inputs);
4. ``grad`` and ``jvp``/``vjp`` agree with finite differences (float64, first order for all
   programs, second order for small ones);
5. compositions: vmap(grad), grad(vmap), jacfwd == jacrev, vmap(jvp), jit(grad), jit(vmap),
   value_and_grad, grad(checkpoint), linearize, hessian; derivative dtypes in mixed programs.

Under the default ``ci`` profile each property runs a few dozen derandomised examples (the
file takes well under a minute); ``HYPOTHESIS_PROFILE=fuzz`` scales every count by 80
(docs/fuzzing.md). Failures print the program's source and inputs (``note``).
"""

from __future__ import annotations

import importlib
import types
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from program_strategies import (
    F32,
    F64,
    I32,
    Program,
    array_for,
    control_flow_available,
    default_op_kinds,
    int_edge_programs,
    programs,
    programs_with_inputs,
    random_inputs,
)

import functrace as ft
import functrace.numpy as fnp
from functrace.tree_util import tree_flatten

# Input dtypes of the value properties (derivative properties use floats only).
VALUE_DTYPES = (F32, F64, I32)

# Op kinds reverse-mode differentiation supports (no while_loop, as in JAX).
REVERSE = default_op_kinds(reverse_mode=True)

# What the ci profile runs; other profiles (fuzz) scale these counts up.
_CI_DEFAULT = 25


def examples(ci: int) -> int:
    """``ci`` examples under the ci profile, proportionally more under a bigger profile."""
    default = settings.default.max_examples
    return ci if default <= _CI_DEFAULT else max(ci, ci * default // _CI_DEFAULT)


def get_jit():
    """``functrace.jit`` (the function) once it exists, else None."""
    obj = getattr(ft, "jit", None)
    if obj is None:
        try:
            obj = importlib.import_module("functrace.jit")
        except ImportError:
            return None
    if isinstance(obj, types.ModuleType):
        obj = getattr(obj, "jit", None)
    return obj if callable(obj) else None


# ---------------------------------------------------------------------------------------------
# Comparison helpers
# ---------------------------------------------------------------------------------------------


def _outs(result) -> list[np.ndarray]:
    assert isinstance(result, (tuple, list)), f"expected a tuple of outputs, got {type(result)}"
    return [np.asarray(r) for r in result]


def assert_outputs_close(prog: Program, got, want, what: str, k: float = 16.0) -> None:
    """Same number of outputs, same shapes and dtypes, values within rounding tolerances."""
    got, want = _outs(got), _outs(want)
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    for n, (g, w, tol) in enumerate(zip(got, want, prog.value_tolerance(k))):
        assert g.shape == w.shape, f"{what}: output {n} has shape {g.shape}, expected {w.shape}"
        assert g.dtype == w.dtype, f"{what}: output {n} has dtype {g.dtype}, expected {w.dtype}"
        err = np.abs(g.astype(np.float64) - w.astype(np.float64))
        bad = ~(err <= tol)
        if np.any(bad):
            i = np.unravel_index(np.argmax(np.where(bad, err, -1)), g.shape) if g.ndim else ()
            raise AssertionError(
                f"{what}: output {n} differs at {i}: got {g[i]!r}, expected {w[i]!r} "
                f"(|diff| {err[i]:.3g} > tol {tol:.3g}; {int(bad.sum())} of {g.size} entries)")


def _numpy_run(prog: Program, args) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the generator promises no overflow, no invalid values
        return _outs(prog.function(np)(*args))


def _check_generator(prog: Program, want: list[np.ndarray]) -> None:
    """The generator's static knowledge holds on the NumPy run (else the test is meaningless)."""
    for n, (w, v) in enumerate(zip(want, prog.out_vals)):
        assert w.shape == v.shape and w.dtype == v.dtype, \
            f"generator bug: output {n} is {w.dtype}{w.shape}, predicted {v.dtype}{v.shape}"
        slack = 1e-3 * (1 + v.bound)
        assert np.all(w >= v.lo - slack) and np.all(w <= v.hi + slack), \
            f"generator bug: output {n} outside its predicted interval [{v.lo}, {v.hi}]"


# ---------------------------------------------------------------------------------------------
# 1. NumPy == eager == make_jaxpr + eval_jaxpr, and check_jaxpr accepts the trace
# ---------------------------------------------------------------------------------------------


@settings(max_examples=examples(150))
@given(programs_with_inputs(dtypes=VALUE_DTYPES))
def test_numpy_eager_and_jaxpr_agree(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    want = _numpy_run(prog, args)
    _check_generator(prog, want)
    assume(not prog.too_close_to_kink(*args))
    f = prog.function(fnp)
    assert_outputs_close(prog, f(*args), want, "functrace eager vs NumPy")

    closed = ft.make_jaxpr(f)(*args)
    note(str(closed))
    ft.check_jaxpr(closed)
    outs = ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    assert_outputs_close(prog, outs, want, "eval_jaxpr(make_jaxpr(f)) vs NumPy")
    for n, (var, w) in enumerate(zip(closed.jaxpr.outvars, want)):
        assert (var.aval.shape, var.aval.dtype) == (w.shape, w.dtype), \
            f"jaxpr output {n} typed {var.aval}, NumPy gives {w.dtype}{w.shape}"


# ---------------------------------------------------------------------------------------------
# 2. jit (Numba) == interpreter
# ---------------------------------------------------------------------------------------------


def _with_layout(a, layout: str):
    """The same values as ``a`` in a non-C-contiguous memory layout (compiled code must not
    assume C order)."""
    a = np.asarray(a)
    if a.ndim == 0 or layout == "C":
        return a
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "reversed":
        return np.flip(np.flip(a).copy())
    return np.repeat(a, 2, axis=-1)[..., ::2]  # strided


@pytest.mark.skipif(get_jit() is None, reason="functrace.jit not available yet")
@settings(max_examples=examples(5))
@given(programs_with_inputs(max_ops=15, dtypes=VALUE_DTYPES),
       st.lists(st.sampled_from(["C", "F", "reversed", "strided"]), min_size=3, max_size=3))
def test_jit_agrees_with_interpreter(prog_args, layouts):
    prog, args = prog_args
    note(prog.describe(args))
    assume(not prog.too_close_to_kink(*args))
    f = prog.function(fnp)
    want = f(*args)
    strided = [_with_layout(a, lay) for a, lay in zip(args, layouts)]
    note(f"argument layouts: {layouts[:len(args)]}")
    got = get_jit()(f)(*strided)
    assert_outputs_close(prog, got, want, "jit vs interpreter")


# ---------------------------------------------------------------------------------------------
# 3. vmap == stacking per-example results
# ---------------------------------------------------------------------------------------------


@st.composite
def batched_call(draw, dtypes=VALUE_DTYPES, random_values: bool = False, max_ops: int = 20,
                 op_kinds=None):
    """A program, a batch of 1-3 examples and how they are laid out for ``vmap``.

    Returns ``(prog, args, in_axes, per_example)``: ``args`` are the batched arguments (batch
    axis ``in_axes[k]``, or None for an argument shared by every example) and ``per_example``
    the argument lists of the individual examples.
    """
    prog = draw(programs(max_ops=max_ops, dtypes=dtypes, op_kinds=op_kinds))
    n_in = len(prog.inputs)
    size = draw(st.integers(1, 3), label="batch size")
    batched = draw(st.lists(st.booleans(), min_size=n_in, max_size=n_in), label="batched")
    if not any(batched):
        batched[draw(st.integers(0, n_in - 1))] = True
    if random_values:
        seed = draw(st.integers(0, 2 ** 32 - 1))
        rows = [random_inputs(prog, seed + b) for b in range(size)]
    else:
        rows = [[array_for(draw, v) for v in prog.inputs] for _ in range(size)]
    args, in_axes = [], []
    for k, v in enumerate(prog.inputs):
        if not batched[k]:
            args.append(rows[0][k])
            in_axes.append(None)
            continue
        # the batch axis anywhere, counted from either end
        ax = draw(st.integers(0, v.ndim), label=f"in_axis {k}")
        args.append(np.stack([r[k] for r in rows], axis=ax))
        in_axes.append(ax - v.ndim - 1 if ax and draw(st.booleans()) else ax)
    per_example = [[np.take(a, b, axis=ax) if ax is not None else a
                    for a, ax in zip(args, in_axes)] for b in range(size)]
    return prog, args, tuple(in_axes), per_example


def _stack_results(results: list[list[np.ndarray]], out_axis: int) -> list[np.ndarray]:
    return [np.stack([r[n] for r in results], axis=out_axis if out_axis >= 0
                     else np.ndim(results[0][n]) + 1 + out_axis)
            for n in range(len(results[0]))]


@settings(max_examples=examples(60))
@given(batched_call(), st.sampled_from([0, -1]))
def test_vmap_equals_per_example_loop(call, out_axis):
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    note(f"vmap(program, in_axes={in_axes}, out_axes={out_axis})")
    for ex in per_example:
        _numpy_run(prog, ex)
        assume(not prog.too_close_to_kink(*ex))
    f = prog.function(fnp)
    want = _stack_results([_outs(f(*ex)) for ex in per_example], out_axis)
    vf = ft.vmap(f, in_axes=in_axes, out_axes=out_axis)
    assert_outputs_close(prog, vf(*args), want, f"vmap(in_axes={in_axes}) vs per-example loop")
    ft.check_jaxpr(ft.make_jaxpr(vf)(*args))


# ---------------------------------------------------------------------------------------------
# 4. derivatives against finite differences
# ---------------------------------------------------------------------------------------------

FD_STEP = 1e-5  # check_grads' float64 step


def float_outputs(prog: Program, fun):
    """``fun`` restricted to the program's floating-point outputs (the differentiable ones)."""
    keep = [n for n, v in enumerate(prog.out_vals) if v.dtype.kind == "f"]
    assume(keep)
    return lambda *xs: tuple(o for n, o in enumerate(fun(*xs)) if n in keep)


def _grad_tolerance(prog: Program) -> float:
    # central differences err by ~step^2 * f''' and ~eps * |f| / step: loosen with the scales
    scale = max(1.0, *(v.lip for v in prog.out_vals))
    return 1e-5 * scale


@settings(max_examples=examples(60))
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=20, op_kinds=REVERSE))
def test_first_derivatives_match_finite_differences(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=FD_STEP))
    f = float_outputs(prog, prog.function(fnp))
    tol = _grad_tolerance(prog)
    ft.check_grads(f, args, order=1, modes=("fwd", "rev"), atol=tol, rtol=1e-5)

    # grad of the sum of the outputs, against central differences of the NumPy program
    f_np = float_outputs(prog, prog.function(np))

    def total(np_module, fun):
        return lambda *xs: sum(np_module.sum(o) for o in fun(*xs))

    grads = ft.grad(total(fnp, f), argnums=tuple(range(len(args))))(*args)
    rng = np.random.default_rng(0)
    for _ in range(2):
        v = [rng.standard_normal(a.shape) for a in args]
        t = total(np, f_np)
        plus = t(*[a + FD_STEP * d for a, d in zip(args, v)])
        minus = t(*[a - FD_STEP * d for a, d in zip(args, v)])
        fd = (plus - minus) / (2 * FD_STEP)
        ad = sum(float(np.sum(np.asarray(g) * d)) for g, d in zip(grads, v))
        assert abs(ad - fd) <= tol + 1e-5 * abs(fd), \
            f"<grad(sum of outputs), v> = {ad!r} but central differences give {fd!r}"
    for g, a in zip(grads, args):
        assert np.shape(g) == a.shape and np.asarray(g).dtype == a.dtype


@settings(max_examples=examples(15))
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=8, op_kinds=REVERSE))
def test_second_derivatives_match_finite_differences(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=10 * FD_STEP))
    f = float_outputs(prog, prog.function(fnp))
    ft.check_grads(f, args, order=2, modes=("fwd", "rev"), atol=10 * _grad_tolerance(prog),
                   rtol=1e-4)


def test_float32_programs_stay_float32():
    """A sanity check of the generator: float32 inputs give float32 values (unless integers,
    which NumPy turns into float64, enter the program)."""
    kinds = [k for k in default_op_kinds() if k != "integer"]

    @settings(max_examples=20, database=None)
    @given(programs(dtypes=(F32,), op_kinds=kinds))
    def check(prog):
        assert prog.dtypes == {F32}, prog.describe()
    check()


def test_control_flow_detection_is_consistent():
    """The generator only emits ``lax`` control flow that functrace.lax provides."""
    have = control_flow_available()
    assert set(have) == {"cond", "switch", "fori_loop", "while_loop", "scan", "map"}
    for name, present in have.items():
        assert present == callable(getattr(ft.lax, name, None))


# ---------------------------------------------------------------------------------------------
# 5. compositions: transformations of transformations against loops and each other
# ---------------------------------------------------------------------------------------------


def _total(prog: Program, np_module):
    """The sum of all floating-point outputs of ``prog`` (a scalar to differentiate)."""
    f = float_outputs(prog, prog.function(np_module))
    return lambda *xs: sum(np_module.sum(o) for o in f(*xs))


def _assert_trees_close(got, want, what: str, atol: float, rtol: float = 1e-9) -> None:
    got_leaves, got_tree = tree_flatten(got)
    want_leaves, want_tree = tree_flatten(want)
    assert got_tree == want_tree, f"{what}: structure {got_tree} != {want_tree}"
    for n, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}: leaf {n} has shape {g.shape}, expected {w.shape}"
        assert g.dtype == w.dtype, f"{what}: leaf {n} has dtype {g.dtype}, expected {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}: leaf {n}")


# derivatives at the same point by two exact methods differ only by rounding, unless rounding
# moves an intermediate across a kink: skip points within this "step" of one
_ROUNDING_STEP = 1e-8


def _derivative_atol(prog: Program) -> float:
    return 1e-9 * max(1.0, *(v.lip for v in prog.out_vals)) * len(prog.out_vals)


@settings(max_examples=examples(30))
@given(batched_call(dtypes=(F64,), random_values=True, max_ops=15, op_kinds=REVERSE))
def test_vmap_of_grad_equals_per_example_grads(call):
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    note(f"vmap(grad(sum of outputs), in_axes={in_axes})")
    for ex in per_example:
        _numpy_run(prog, ex)
        assume(not prog.too_close_to_kink(*ex, fd_step=_ROUNDING_STEP))
    g = ft.grad(_total(prog, fnp), argnums=tuple(range(len(args))))
    want = tuple(np.stack(gs) for gs in zip(*[g(*ex) for ex in per_example]))
    got = ft.vmap(g, in_axes=in_axes)(*args)
    _assert_trees_close(got, want, "vmap(grad) vs per-example grads", _derivative_atol(prog))


@settings(max_examples=examples(30))
@given(batched_call(dtypes=(F64,), random_values=True, max_ops=15, op_kinds=REVERSE))
def test_grad_of_vmap_equals_per_example_grads(call):
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    note(f"grad(sum of vmap(program, in_axes={in_axes}))")
    for ex in per_example:
        _numpy_run(prog, ex)
        assume(not prog.too_close_to_kink(*ex, fd_step=_ROUNDING_STEP))
    f = float_outputs(prog, prog.function(fnp))
    vf = ft.vmap(f, in_axes=in_axes)

    def batched_total(*xs):
        return sum(fnp.sum(o) for o in vf(*xs))

    got = ft.grad(batched_total, argnums=tuple(range(len(args))))(*args)
    g = ft.grad(_total(prog, fnp), argnums=tuple(range(len(args))))
    per = [g(*ex) for ex in per_example]
    # a batched argument gets each example's gradient along its batch axis; a shared one the sum
    want = tuple(np.stack([p[k] for p in per], axis=ax) if ax is not None
                 else np.sum([p[k] for p in per], axis=0)
                 for k, ax in enumerate(in_axes))
    _assert_trees_close(got, want, "grad(vmap) vs per-example grads", _derivative_atol(prog))


@settings(max_examples=examples(30))
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=15, op_kinds=REVERSE))
def test_jacfwd_equals_jacrev(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=_ROUNDING_STEP))
    f = float_outputs(prog, prog.function(fnp))
    argnums = tuple(range(len(args)))
    fwd = ft.jacfwd(f, argnums=argnums)(*args)
    rev = ft.jacrev(f, argnums=argnums)(*args)
    _assert_trees_close(fwd, rev, "jacfwd vs jacrev", _derivative_atol(prog))


@settings(max_examples=examples(30))
@given(batched_call(dtypes=(F64,), random_values=True, max_ops=15), st.integers(0, 2 ** 31))
def test_vmap_of_jvp_equals_per_example_jvps(call, seed):
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    note(f"vmap(jvp(program), in_axes={in_axes})")
    for ex in per_example:
        _numpy_run(prog, ex)
        assume(not prog.too_close_to_kink(*ex, fd_step=_ROUNDING_STEP))
    f = float_outputs(prog, prog.function(fnp))
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    ex_tangents = [[np.take(t, b, axis=ax) if ax is not None else t
                    for t, ax in zip(tangents, in_axes)] for b in range(len(per_example))]

    def jvp_fun(xs, ts):
        return ft.jvp(f, tuple(xs), tuple(ts))

    per = [jvp_fun(ex, ts) for ex, ts in zip(per_example, ex_tangents)]
    want = tuple(tuple(np.stack([p[i][n] for p in per]) for n in range(len(per[0][i])))
                 for i in (0, 1))
    got = ft.vmap(jvp_fun, in_axes=(list(in_axes), list(in_axes)))(list(args), tangents)
    _assert_trees_close(got, want, "vmap(jvp) vs per-example jvps", _derivative_atol(prog))


@pytest.mark.skipif(get_jit() is None, reason="functrace.jit not available yet")
@settings(max_examples=examples(3))
@given(batched_call(dtypes=(F64,), random_values=True, max_ops=10, op_kinds=REVERSE))
def test_jit_of_grad_and_vmap_agree_with_interpreter(call):
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    _numpy_run(prog, per_example[0])
    assume(not prog.too_close_to_kink(*per_example[0], fd_step=_ROUNDING_STEP))
    for ex in per_example:
        assume(not prog.too_close_to_kink(*ex))
    jit = get_jit()
    g = ft.grad(_total(prog, fnp), argnums=tuple(range(len(args))))
    _assert_trees_close(jit(g)(*per_example[0]), g(*per_example[0]), "jit(grad) vs grad",
                        _derivative_atol(prog))
    vf = ft.vmap(prog.function(fnp), in_axes=in_axes)
    assert_outputs_close(prog, jit(vf)(*args), vf(*args), "jit(vmap) vs vmap")


@settings(max_examples=examples(30))
@given(programs_with_inputs(random_values=True, dtypes=(F32, F64), max_ops=15,
                            op_kinds=REVERSE), st.integers(0, 2 ** 31))
def test_derivative_dtypes_follow_primal_dtypes(prog_args, seed):
    """jvp tangents have the outputs' dtypes, vjp cotangents the inputs' (float32 stays float32
    in mixed programs), and the two agree: <vjp(c), t> == <c, jvp(t)>."""
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=1e-4))
    f = float_outputs(prog, prog.function(fnp))
    rng = np.random.default_rng(seed)
    tangents = tuple(np.asarray(rng.standard_normal(np.shape(a)), np.asarray(a).dtype)
                     for a in args)
    outs, out_tangents = ft.jvp(f, tuple(args), tangents)
    for n, (o, t) in enumerate(zip(outs, out_tangents)):
        assert np.shape(t) == np.shape(o) and np.asarray(t).dtype == np.asarray(o).dtype, \
            f"jvp: tangent {n} is {np.asarray(t).dtype}{np.shape(t)}, output is " \
            f"{np.asarray(o).dtype}{np.shape(o)}"
    outs2, vjp_fn = ft.vjp(f, *args)
    cts = tuple(np.asarray(rng.standard_normal(np.shape(o)), np.asarray(o).dtype) for o in outs2)
    in_cts = vjp_fn(cts)
    for k, (a, c) in enumerate(zip(args, in_cts)):
        assert np.shape(c) == np.shape(a) and np.asarray(c).dtype == np.asarray(a).dtype, \
            f"vjp: cotangent {k} is {np.asarray(c).dtype}{np.shape(c)}, input is " \
            f"{np.asarray(a).dtype}{np.shape(a)}"

    def inner(xs, ys):
        terms = [np.asarray(x, np.float64) * np.asarray(y, np.float64) for x, y in zip(xs, ys)]
        return sum(float(np.sum(t)) for t in terms), sum(float(np.sum(np.abs(t)))
                                                         for t in terms)

    lhs, lhs_scale = inner(in_cts, tangents)
    rhs, rhs_scale = inner(cts, out_tangents)
    eps = 1e-4 if F32 in prog.dtypes else 1e-10
    assert abs(lhs - rhs) <= eps * (1.0 + lhs_scale + rhs_scale), \
        f"<vjp(c), t> = {lhs!r} but <c, jvp(t)> = {rhs!r}"


@settings(max_examples=examples(25))
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=15, op_kinds=REVERSE),
       st.integers(0, 2 ** 31))
def test_value_and_grad_checkpoint_and_linearize_agree(prog_args, seed):
    """value_and_grad, grad(checkpoint(f)) and linearize against grad, NumPy and jvp."""
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=_ROUNDING_STEP))
    argnums = tuple(range(len(args)))
    total = _total(prog, fnp)
    atol = _derivative_atol(prog)
    value, grads = ft.value_and_grad(total, argnums=argnums)(*args)
    np.testing.assert_allclose(value, _total(prog, np)(*args), rtol=1e-12,
                               atol=prog.value_tolerance()[0] * len(prog.outputs))
    _assert_trees_close(ft.grad(total, argnums=argnums)(*args), grads, "grad vs value_and_grad",
                        atol)
    _assert_trees_close(ft.grad(ft.checkpoint(total), argnums=argnums)(*args), grads,
                        "grad(checkpoint(f)) vs grad(f)", atol)
    f = float_outputs(prog, prog.function(fnp))
    rng = np.random.default_rng(seed)
    tangents = tuple(rng.standard_normal(np.shape(a)) for a in args)
    _, f_jvp = ft.linearize(f, *args)
    _assert_trees_close(tuple(f_jvp(*tangents)), tuple(ft.jvp(f, tuple(args), tangents)[1]),
                        "linearize vs jvp", atol)


@settings(max_examples=examples(10))
@given(programs_with_inputs(random_values=True, dtypes=(F64,), max_ops=8, max_inputs=1,
                            op_kinds=REVERSE))
def test_hessian_is_symmetric_and_matches_jacrev_of_jacrev(prog_args):
    prog, args = prog_args
    note(prog.describe(args))
    _numpy_run(prog, args)
    assume(not prog.too_close_to_kink(*args, fd_step=_ROUNDING_STEP))
    total = _total(prog, fnp)
    (x,) = args
    hess = np.asarray(ft.hessian(total)(x))
    assert hess.shape == x.shape * 2
    atol = 10 * _derivative_atol(prog)
    np.testing.assert_allclose(hess, np.asarray(ft.jacrev(ft.jacrev(total))(x)), rtol=1e-9,
                               atol=atol, err_msg="hessian vs jacrev(jacrev)")
    flat = hess.reshape(x.size, x.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-9, atol=atol, err_msg="hessian symmetry")


def _pack(args):
    """The inputs as a nested pytree: {"a": x0, "rest": (x1, {"c": x2})} (as far as they go)."""
    tree: dict = {"a": args[0]}
    if len(args) > 1:
        tree["rest"] = (args[1],) + (({"c": args[2]},) if len(args) > 2 else ())
    return tree


def _unpack(tree) -> list:
    out = [tree["a"]]
    if "rest" in tree:
        out.append(tree["rest"][0])
        if len(tree["rest"]) > 1:
            out.append(tree["rest"][1]["c"])
    return out


@settings(max_examples=examples(25))
@given(batched_call(dtypes=(F64,), random_values=True, max_ops=12, op_kinds=REVERSE))
def test_pytree_arguments_grad_and_vmap(call):
    """Inputs packed in dicts and tuples: grad returns the same tree as the positional grads,
    and vmap with a pytree in_axes prefix equals the positional vmap."""
    prog, args, in_axes, per_example = call
    note(prog.describe(args))
    ex = per_example[0]
    _numpy_run(prog, ex)
    assume(not prog.too_close_to_kink(*ex, fd_step=_ROUNDING_STEP))
    total = _total(prog, fnp)
    grads_tree = ft.grad(lambda tree: total(*_unpack(tree)))(_pack(ex))
    grads = ft.grad(total, argnums=tuple(range(len(ex))))(*ex)
    _assert_trees_close(grads_tree, _pack(list(grads)), "grad of a pytree argument",
                        _derivative_atol(prog))
    f = prog.function(fnp)
    for e in per_example:
        assume(not prog.too_close_to_kink(*e))
    got = ft.vmap(lambda tree: f(*_unpack(tree)), in_axes=(_pack(list(in_axes)),))(_pack(args))
    want = ft.vmap(f, in_axes=in_axes)(*args)
    assert_outputs_close(prog, got, want, "vmap with a pytree in_axes")


# ---------------------------------------------------------------------------------------------
# Integer edge values (0, +-1, min, max) and closed-over constants: NumPy == eager == jit
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(get_jit() is None, reason="functrace.jit not available yet")
@settings(max_examples=examples(4))
@given(int_edge_programs())
def test_integer_edge_values_and_closed_over_constants(prog_in):
    prog, args, const = prog_in
    note(prog.source())
    note(f"inputs: {args!r}; closed-over constant: {const!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow warnings
        want = _outs(prog.function(np, const)(*args))
        eager = _outs(prog.function(fnp, const)(*args))
        captured = const.copy()
        jitted = get_jit()(prog.function(fnp, captured))
        got = _outs(jitted(*args))
        captured[...] = captured[::-1] ^ 5  # constants are captured when traced (as in JAX)
        again = _outs(jitted(*args))
    for what, res in (("eager", eager), ("jit", got), ("jit after mutating the constant", again)):
        assert len(res) == len(want)
        for n, (r, w) in enumerate(zip(res, want)):
            assert r.dtype == w.dtype, f"{what}: output {n} is {r.dtype}, NumPy gives {w.dtype}"
            np.testing.assert_array_equal(r, w, err_msg=f"{what} vs NumPy, output {n}")
