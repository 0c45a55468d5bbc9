"""The backend finds a primitive's lowering by the primitive object, never by its name.

A user's ``Primitive("floor")`` is not ``functrace``'s floor: under ``jit`` it must run its own
scalar rule (or its NumPy implementation), never a built-in lowering registered for the name.
Also: every built-in primitive has a compiled lowering or is on the documented list of those
that run with NumPy, and ``functrace.errors`` does not import the NumPy frontend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import ad, backend, batching, core, lax
from functrace.backend import codegen, kernels, rules
from functrace.core import Primitive, ShapedArray
from functrace.ops import elementwise as ew


def _elementwise(name: str, impl, scalar: str | None = None, jvp=None) -> Primitive:
    """A user-defined unary elementwise primitive called ``name``."""
    p = Primitive(name)
    core.shape_rules[p] = lambda x: ShapedArray(x.shape, x.dtype)
    core.impl_rules[p] = impl
    batching.defvectorized(p)
    if scalar is not None:
        rules.defscalar(p, scalar)
    if jvp is not None:
        ad.defjvp(p, jvp)
    return p


# The reproducer of the issue: a scalar rule for a primitive that happens to be called "floor".
my_floor = _elementwise("floor", lambda x: x + 100.0, "({0} + 100.0)", jvp=lambda t, ans, x: t)
_jit_floor = ft.jit(lambda x: my_floor.bind(x))
_jit_floor_grad = ft.jit(ft.grad(lambda x: my_floor.bind(x) * 2.0))
_jit_both = ft.jit(lambda x: fnp.floor(x) + my_floor.bind(x))


def test_user_floor_keeps_its_own_rule_eagerly_and_under_jit():
    assert my_floor.bind(1.5) == 101.5
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # compiled: no "no lowering" warning
        assert float(_jit_floor(1.5)) == 101.5
        got = _jit_floor(np.array([1.5, -2.5, 3.0]))
    np.testing.assert_array_equal(got, [101.5, 97.5, 103.0])
    src = _jit_floor.lower(np.array([1.5, -2.5, 3.0])).as_text()
    assert "+ 100.0" in src and "floor" not in src.split("def ", 1)[1]


def test_user_floor_derivative_is_its_jvp_rule():
    # the built-in floor's derivative is 0; this one's is 1
    assert float(ft.grad(lambda x: my_floor.bind(x) * 2.0)(1.5)) == 2.0
    assert float(_jit_floor_grad(1.5)) == 2.0
    ft.check_grads(lambda x: my_floor.bind(x) ** 2, (np.array([0.3, 1.7]),), order=1)


def test_built_in_and_user_floor_in_one_program():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = _jit_both(np.array([1.5, -2.5]))
    np.testing.assert_array_equal(got, [1.0 + 101.5, -3.0 + 97.5])


# Built-in names whose lowerings take several routes: scalar overrides (floor, abs, neg,
# logistic), inlined vecmath functions (exp, tanh, log1p), block kernels in large loops (sin,
# cos, log, erf), NumPy's SIMD loops (sinh, atan) and vecmath's softplus (no built-in primitive).
_NAMES = ("exp", "sin", "cos", "log", "log1p", "tanh", "logistic", "erf", "sinh", "atan",
          "floor", "abs", "neg", "softplus", "stop_gradient", "convert_element_type")


def _scaled(k: int):
    return lambda x: (x * (k + 2)).astype(x.dtype)


_WITH_RULE = [_elementwise(n, _scaled(k), f"({{0}} * {k + 2}.0)") for k, n in enumerate(_NAMES)]
_WITHOUT_RULE = [_elementwise(n, _scaled(k)) for k, n in enumerate(_NAMES)]
_SUM_OF_SCALES = sum(k + 2 for k in range(len(_NAMES)))


def _apply_all(prims):
    def f(x):
        out = prims[0].bind(x)
        for p in prims[1:]:
            out = out + p.bind(x)
        return out
    return f


_jit_with_rule = ft.jit(_apply_all(_WITH_RULE))
_jit_without_rule = ft.jit(_apply_all(_WITHOUT_RULE))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_user_primitives_named_like_built_ins_use_their_own_scalar_rules(dtype):
    # 256 elements: large enough for the blocked loops with vectorised kernels
    x = np.linspace(0.1, 2.0, 256).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = _jit_with_rule(x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, x * _SUM_OF_SCALES, rtol=1e-6)
    src = _jit_with_rule.lower(x).as_text()
    for marker in ("vm_", "npy_", "_block_", "f_logistic", "np.floor", "math.exp"):
        assert marker not in src, marker


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_user_primitives_without_lowering_run_their_implementation(dtype):
    x = np.linspace(0.1, 2.0, 256).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "no compiled lowering", once each
        got = _jit_without_rule(x)
    np.testing.assert_allclose(got, x * _SUM_OF_SCALES, rtol=1e-6)
    assert "_fallback[" in _jit_without_rule.lower(x).as_text()


def _user_like(name: str, multiple_results: bool) -> Primitive:
    return Primitive(name, multiple_results=multiple_results)


def test_no_built_in_lowering_is_reachable_by_name():
    """For every built-in primitive, a user primitive of the same name has no lowering."""
    builtins = kernels.primitives_by_name()
    assert len(builtins) > 100
    for name, prim in builtins.items():
        twin = _user_like(name, prim.multiple_results)
        assert kernels.lowerings_of(twin) == {}, name
        try:
            found = kernels.builtin_primitive(name)
        except LookupError:
            found = None
        assert found is prim, f"{name}: add its module to kernels.BUILTIN_MODULES"
        assert kernels.builtin_primitive(name) is not twin


def test_builtin_primitive_accepts_only_functrace_names():
    assert kernels.builtin_primitive("floor") is ew.floor_p
    with pytest.raises(LookupError, match="no built-in primitive named 'softplus'"):
        kernels.builtin_primitive("softplus")
    # the name-keyed function libraries reach only built-in primitives
    from functrace.backend.vecblocks import INLINE_MATH
    assert "softplus" in INLINE_MATH
    assert all(p is kernels.builtin_primitive(p.name) for p in kernels.inline_math())
    assert all(p is kernels.builtin_primitive(p.name) for p, _ in codegen.block_kernels())
    assert all(p is kernels.builtin_primitive(p.name) for p in codegen.VECTOR_SPECS)


def _eqn(prim: Primitive, invars, outs, **params) -> core.Eqn:
    return core.Eqn(prim, list(invars), [core.Var(a) for a in outs], params)


def test_lookups_of_a_user_eqn_find_nothing():
    f64 = np.dtype(np.float64)
    m = core.Var(ShapedArray((3, 3), f64))
    dn = (((1,), (0,)), ((), ()))
    dot = _eqn(Primitive("dot_general"), [m, m], [ShapedArray((3, 3), f64)],
               dimension_numbers=dn, precision=None, preferred_element_type=None)
    assert codegen.kernel_for(dot) is None
    red = _eqn(Primitive("reduce_sum"), [m], [ShapedArray((3,), f64)], axes=(0,))
    assert kernels.reducer_for(red) is None
    tr = _eqn(Primitive("transpose"), [m], [ShapedArray((3, 3), f64)], permutation=(1, 0))
    assert kernels.view_lowering(tr) is None
    ex = _eqn(Primitive("exp"), [m], [ShapedArray((3, 3), f64)])
    assert kernels.vecmath_function(ex) is None
    assert kernels.elementwise_expr(ex, ["a"]) is None
    call = _eqn(Primitive("jit_call", multiple_results=True), [m], [m.aval], jaxpr=None)
    assert codegen._call_param(call) is None


# A reduction-shaped "reduce_sum" and a "dot_general" with the built-ins' parameters, without
# lowerings: jit runs their implementations (a max and a difference), not the built-in kernels.
user_sum = Primitive("reduce_sum")
core.shape_rules[user_sum] = lambda x, *, axes: ShapedArray(
    tuple(n for d, n in enumerate(x.shape) if d not in axes), x.dtype)
core.impl_rules[user_sum] = lambda x, *, axes: np.max(x, axis=axes)
user_dot = Primitive("dot_general")
core.shape_rules[user_dot] = lambda a, b, **params: ShapedArray(a.shape, a.dtype)
core.impl_rules[user_dot] = lambda a, b, **params: a - b
_jit_user_reductions = ft.jit(lambda a, b: (
    user_sum.bind(a, axes=(0,)),
    user_dot.bind(a, b, dimension_numbers=(((1,), (0,)), ((), ())), precision=None,
                  preferred_element_type=None),
    fnp.sum(a, axis=0) + (a @ b)[0]))


def test_user_reduction_and_dot_general_run_their_implementations():
    a = np.arange(9.0).reshape(3, 3)
    b = np.eye(3) * 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s, d, builtin = _jit_user_reductions(a, b)
    np.testing.assert_array_equal(s, a.max(axis=0))
    np.testing.assert_array_equal(d, a - b)
    np.testing.assert_array_equal(builtin, a.sum(axis=0) + (a @ b)[0])


def test_every_built_in_primitive_is_lowered_or_a_documented_fallback():
    without = {name for name, p in kernels.primitives_by_name().items()
               if not kernels.lowerings_of(p)}
    assert without == set(kernels.NUMPY_FALLBACKS), (
        "a built-in primitive without a compiled lowering must be listed, with the reason, in "
        "functrace.backend.kernels.NUMPY_FALLBACKS (and one that gained a lowering removed)")
    for name, reason in kernels.NUMPY_FALLBACKS.items():
        assert isinstance(reason, str) and len(reason) > 20, name
    assert not set(kernels.NUMPY_ONLY_DTYPES) & without
    for name, reason in kernels.NUMPY_ONLY_DTYPES.items():
        assert len(reason) > 20, name
    # ... and those of complex values are reported as unlowered when a program uses them
    closed = ft.make_jaxpr(lambda z, x: (lax.real(z) + lax.imag(lax.conj(z)),
                                         lax.complex(x, x)))(np.ones(3, complex), np.ones(3))
    unlowered = {w.split("'")[0] for w in codegen.generate(closed).unlowered}
    assert unlowered == set(kernels.NUMPY_ONLY_DTYPES)


def test_fallback_primitives_still_compute_under_jit(monkeypatch):
    # igamma is on the list: jit runs its NumPy implementation between compiled parts. The
    # warning is once per process: forget earlier ones (tests run in any order)
    monkeypatch.setattr(backend, "_warned", set())
    a, x = np.array([0.5, 2.0, 3.0]), np.array([1.0, 1.5, 4.0])
    f = ft.jit(lambda a, x: lax.igamma(a, x) * 2.0)
    with pytest.warns(RuntimeWarning, match="igamma"):
        got = f(a, x)
    np.testing.assert_allclose(got, 2.0 * np.asarray(lax.igamma(a, x)), rtol=1e-12)


def test_errors_module_does_not_import_the_numpy_frontend():
    # ``import functrace.errors`` also runs the package's __init__, which imports everything
    # (functrace.numpy included: it installs the tracer's operators); what must hold is that
    # functrace.errors itself needs nothing of the NumPy frontend, so import it on its own.
    code = (
        "import os, sys, types\n"
        "pkg = types.ModuleType('functrace')\n"
        f"pkg.__path__ = [{os.path.dirname(ft.__file__)!r}]\n"
        "sys.modules['functrace'] = pkg\n"
        "import functrace.errors as e\n"
        "assert issubclass(e.TracerBoolConversionError, e.ConcretizationTypeError)\n"
        "print(sorted(m for m in sys.modules if m.startswith('functrace.numpy')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_error_classes_importable_from_both_places():
    from functrace.numpy import _errors
    for name in ("ConcretizationTypeError", "TracerBoolConversionError",
                 "TracerIntegerConversionError", "TracerArrayConversionError",
                 "NonConcreteBooleanIndexError"):
        assert getattr(_errors, name) is getattr(ft.errors, name)
    assert fnp.ConcretizationTypeError is ft.errors.ConcretizationTypeError
    assert ft.errors.ConcretizationTypeError.__module__ == "functrace.errors"
    with pytest.raises(ft.errors.TracerBoolConversionError, match="bool\\(\\) of a traced"):
        ft.jit(lambda x: 1.0 if x > 0 else 0.0)(1.0)


def test_simplifier_identities_apply_to_built_in_arithmetic_only():
    # jit's simplifier drops ``x * 1``; a user primitive called "mul" (here: a difference) is
    # not functrace's mul, so ``user_mul(x, 1)`` must stay
    user_mul = Primitive("mul")
    core.shape_rules[user_mul] = lambda a, b: ShapedArray(a.shape, a.dtype)
    core.impl_rules[user_mul] = lambda a, b: a - b
    rules.defscalar(user_mul, "({0} - {1})")
    f = ft.jit(lambda x: user_mul.bind(x, lax.full_like(x, 1.0)) + x * lax.full_like(x, 1.0))
    x = np.array([5.0, -2.0])
    np.testing.assert_array_equal(f(x), (x - 1.0) + x)
