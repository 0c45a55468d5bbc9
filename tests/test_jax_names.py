"""Names JAX programs import, checked against NumPy/closed forms: flatten_util.ravel_pytree,
closure_convert, lax.conv_general_shape_tuple / reduce_window_shape_tuple,
default_matmul_precision, precision= / preferred_element_type= on the products, complex
isclose/allclose, real_if_close, the diagonal family, einsum with zero-size axes, hypot's
second-order derivative and public error classes for convolutions.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.flatten_util import ravel_pytree

RNG = np.random.default_rng(0)


# --- ravel_pytree -----------------------------------------------------------------------------


def test_ravel_pytree_round_trip_and_dtypes():
    tree = {"w": RNG.normal(size=(2, 3)).astype(np.float32),
            "b": (np.arange(2, dtype=np.float32), 2.5)}
    flat, unravel = ravel_pytree(tree)
    # leaves in tree_flatten order (dict keys sorted): b[0], b[1], w
    want = np.concatenate([tree["b"][0], [2.5], tree["w"].ravel()]).astype(np.float32)
    assert flat.dtype == np.float32  # a Python float is weak: it takes the arrays' dtype
    np.testing.assert_array_equal(flat, want)
    back = unravel(flat)
    assert back["w"].dtype == np.float32 and back["w"].shape == (2, 3)
    np.testing.assert_array_equal(back["w"], tree["w"])
    np.testing.assert_array_equal(back["b"][0], tree["b"][0])
    assert float(back["b"][1]) == 2.5

    flat, unravel = ravel_pytree([np.ones(2, np.float32), np.arange(3)])  # int64 + float32
    assert flat.dtype == np.result_type(np.float32, np.int64)
    back = unravel(flat)
    assert back[1].dtype == np.int64
    np.testing.assert_array_equal(back[1], np.arange(3))

    flat, unravel = ravel_pytree({})
    assert flat.shape == (0,) and unravel(flat) == {}


def test_ravel_pytree_under_grad_and_jit():
    params = {"a": np.array([1.0, 2.0]), "c": np.array(3.0)}
    flat, unravel = ravel_pytree(params)

    def loss(v):
        p = unravel(v)
        return fnp.sum(p["a"] ** 2) * p["c"]

    np.testing.assert_allclose(ft.grad(loss)(flat), [6.0, 12.0, 5.0])
    np.testing.assert_allclose(ft.jit(ft.grad(loss))(flat), [6.0, 12.0, 5.0])
    # and the other way: the gradient of a tree-valued function, raveled
    g = ft.grad(lambda p: fnp.sum(p["a"] ** 2) * p["c"])(params)
    np.testing.assert_allclose(ravel_pytree(g)[0], [6.0, 12.0, 5.0])


def test_unravel_rejects_wrong_length_and_dtype():
    _, unravel = ravel_pytree([np.ones(2, np.float32)])
    with pytest.raises(ValueError, match="expected a 1-D array of length 2"):
        unravel(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="expected an array of dtype float32.*got float64"):
        unravel(np.ones(2))


# --- closure_convert --------------------------------------------------------------------------


def _fixed_point_solver():
    """A custom_vjp fixed-point solver taking the function as a static argument: its closed-
    over values reach the rules through closure_convert."""

    def solve(f, x0, *consts):
        x = x0
        for _ in range(60):
            x = f(x, *consts)
        return x

    solve_cv = ft.custom_vjp(solve, nondiff_argnums=(0,))

    def fwd(f, x0, *consts):
        x = solve(f, x0, *consts)
        return x, (x, consts)

    def bwd(f, res, g):
        x, consts = res
        # implicit function theorem for x = f(x, c): dx/dc = (1 - df/dx)^-1 df/dc
        dfdx = ft.grad(lambda x: f(x, *consts))(x)
        _, vjp_c = ft.vjp(lambda *c: f(x, *c), *consts)
        return (None, *vjp_c(g / (1 - dfdx)))

    solve_cv.defvjp(fwd, bwd)

    def fixed_point(f, x0):
        converted, consts = ft.closure_convert(f, x0)
        return solve_cv(converted, x0, *consts)

    return fixed_point


def test_closure_convert_hoists_differentiated_closures():
    fixed_point = _fixed_point_solver()

    def sqrt_via_fixed_point(a):
        # x = (x + a / x) / 2 converges to sqrt(a); ``a`` is closed over
        return fixed_point(lambda x: 0.5 * (x + a / x), 1.0)

    assert sqrt_via_fixed_point(2.0) == pytest.approx(np.sqrt(2.0), rel=1e-14)
    assert ft.grad(sqrt_via_fixed_point)(2.0) == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)

    w = np.array([1.0, 2.0])
    converted, consts = ft.closure_convert(lambda x: x * w, 3.0)
    assert consts == []  # a plain array is not hoisted: it cannot carry a derivative
    np.testing.assert_allclose(converted(2.0), [2.0, 4.0])
    with pytest.raises(TypeError, match="was made for arguments of structure"):
        converted((2.0, 1.0))


def test_closure_convert_under_grad_hoists_the_tracer():
    seen = []

    def f(y):
        converted, consts = ft.closure_convert(lambda x: x * y, 1.0)
        seen.append(len(consts))
        return converted(3.0, *consts)

    assert ft.grad(f)(2.0) == 3.0
    assert seen == [1]


# --- lax shape helpers, precision -------------------------------------------------------------


@pytest.mark.parametrize("lhs,rhs,strides,padding,dn", [
    ((2, 3, 10, 12), (5, 3, 3, 4), (1, 2), "SAME", None),
    ((2, 10, 12, 3), (3, 4, 3, 5), (2, 3), [(1, 1), (0, 2)], ("NHWC", "HWIO", "NHWC")),
    ((2, 3, 10, 12), (3, 4, 3, 5), (2, 3), "VALID", ("NCHW", "HWIO", "NHWC")),
    ((1, 2, 7), (4, 2, 3), (2,), "SAME_LOWER", None),
])
def test_conv_general_shape_tuple_matches_the_convolution(lhs, rhs, strides, padding, dn):
    got = lax.conv_general_shape_tuple(lhs, rhs, strides, padding, dn)
    out = lax.conv_general_dilated(np.ones(lhs), np.ones(rhs), strides, padding,
                                   dimension_numbers=dn)
    assert got == out.shape
    assert all(type(d) is int for d in got)


def test_conv_general_shape_tuple_closed_form():
    # NCHW: out spatial = (in + lo + hi - k) // stride + 1
    assert lax.conv_general_shape_tuple((2, 3, 10, 12), (5, 3, 3, 4), (1, 2),
                                        [(1, 0), (2, 2)], None) == (2, 5, 9, 7)


@pytest.mark.parametrize("shape,window,strides,padding,base,wdil", [
    ((4, 9), (2, 3), (1, 2), ((0, 0), (1, 1)), None, None),
    ((4, 9), (2, 3), (1, 2), ((0, 0), (1, 1)), (2, 1), (1, 2)),
    ((5, 6, 7), (1, 2, 3), (1, 1, 2), "SAME", None, None),
])
def test_reduce_window_shape_tuple(shape, window, strides, padding, base, wdil):
    got = lax.reduce_window_shape_tuple(shape, window, strides, padding, base, wdil)
    out = lax.reduce_window(np.ones(shape), 0.0, lax.add, window, strides, padding,
                            base_dilation=base, window_dilation=wdil)
    assert got == out.shape


def test_reduce_window_shape_tuple_closed_form():
    # dilated operand 2*(4-1)+1 = 7 rows, window 2 with dilation 1; 9 columns padded to 11,
    # window 3 dilated by 2 to 5, stride 2
    assert lax.reduce_window_shape_tuple((4, 9), (2, 3), (1, 2), ((0, 0), (1, 1)),
                                         (2, 1), (1, 2)) == (6, 4)


def test_conv_dimension_numbers_is_exported():
    dn = lax.conv_dimension_numbers((2, 10, 12, 3), (3, 4, 3, 5), ("NHWC", "HWIO", "NHWC"))
    assert dn == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def test_default_matmul_precision_is_a_no_op_context_manager():
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    with ft.default_matmul_precision("highest"):
        got = fnp.dot(a, a.T)
    np.testing.assert_allclose(got, a @ a.T, rtol=1e-6)
    with ft.default_matmul_precision(lax.Precision.HIGH):
        pass
    decorated = ft.default_matmul_precision("float32")(lambda x: x * 2)
    assert decorated(3) == 6
    with pytest.raises(ValueError, match="unknown precision 'bogus'"):
        ft.default_matmul_precision("bogus")


A32 = RNG.normal(size=(3, 4)).astype(np.float32)
B32 = RNG.normal(size=(4, 2)).astype(np.float32)


@pytest.mark.parametrize("name,args,want", [
    ("dot", (A32, B32), A32.astype(np.float64) @ B32),
    ("matmul", (A32, B32), A32.astype(np.float64) @ B32),
    ("inner", (A32, A32), np.inner(A32.astype(np.float64), A32)),
    ("vdot", (A32, A32), np.vdot(A32.astype(np.float64), A32)),
    ("tensordot", (A32, B32), np.tensordot(A32.astype(np.float64), B32, 1)),
])
def test_products_take_precision_and_preferred_element_type(name, args, want):
    fn = getattr(fnp, name)
    extra = (1,) if name == "tensordot" else ()
    out = fn(*args, *extra, precision=lax.Precision.HIGHEST)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-5)
    out = fn(*args, *extra, precision="highest", preferred_element_type=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, want, rtol=1e-13)


def test_einsum_and_lax_preferred_element_type():
    out = fnp.einsum("ij,jk->ik", A32, B32, precision=lax.Precision.HIGH,
                     preferred_element_type=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, A32.astype(np.float64) @ B32, rtol=1e-13)
    i32 = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = fnp.dot(i32, i32.T, preferred_element_type=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (i32 @ i32.T).astype(np.float32))
    out = lax.dot(A32, B32, precision=lax.Precision.HIGHEST, preferred_element_type=np.float64)
    assert out.dtype == np.float64
    out = lax.dot_general(A32, B32, (((1,), (0,)), ((), ())), precision="highest")
    assert out.dtype == np.float32
    # the derivative goes back to the operands' dtype
    g = ft.grad(lambda a: fnp.sum(fnp.dot(a, B32, preferred_element_type=np.float64)))(A32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.broadcast_to(B32.sum(1), (3, 4)), rtol=1e-6)


@pytest.mark.parametrize("sub,shapes", [
    ("ij,jk->ik", [(0, 3), (3, 4)]),
    ("bi,bj->bij", [(0, 3), (0, 4)]),
    ("ij,jk->ik", [(2, 0), (0, 4)]),
    ("bij,bjk->bik", [(0, 2, 3), (1, 3, 4)]),
    ("i,i->", [(0,), (0,)]),
])
def test_einsum_with_zero_size_axes(sub, shapes):
    ops = [RNG.normal(size=s) for s in shapes]
    got = fnp.einsum(sub, *ops)
    want = np.einsum(sub, *ops)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# --- complex isclose, real_if_close, the diagonal family ---------------------------------------


def test_isclose_and_allclose_on_complex():
    a = np.array([1 + 1j, 2 + 0j, np.inf + 0j, np.nan + 1j, 1e-9j, 1 + 2j])
    b = np.array([1 + 1.000001j, 2.1 + 0j, np.inf + 0j, np.nan + 1j, 0j, 1 - 2j])
    for equal_nan in (False, True):
        np.testing.assert_array_equal(fnp.isclose(a, b, equal_nan=equal_nan),
                                      np.isclose(a, b, equal_nan=equal_nan))
    np.testing.assert_array_equal(ft.jit(fnp.isclose)(a, b), np.isclose(a, b))
    assert fnp.allclose(a[:1], b[:1]) is True
    assert fnp.allclose(np.array([1 + 1j]), 1 + 1j) is True
    assert fnp.allclose(a[:2], b[:2]) is False
    assert fnp.allclose(np.array([1 + 1e-9j], np.complex64), np.array([1.0]), atol=1e-6)


def test_real_if_close():
    for a, tol in [(np.array([1 + 1e-15j, 2]), 100), (np.array([1 + 1e-3j]), 100),
                   (np.array([1.0, 2.0]), 100), (np.array([1 + 1e-8j], np.complex64), 100),
                   (np.array([1 + 1e-3j]), 0.01)]:
        got, want = fnp.real_if_close(a, tol=tol), np.real_if_close(a, tol=tol)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ft.errors.ConcretizationTypeError, match="real_if_close"):
        ft.jit(fnp.real_if_close)(np.array([1 + 0j]))


def test_diagonal_family():
    a = RNG.normal(size=(4, 5))
    np.testing.assert_array_equal(fnp.diagonal(a, 1), np.diagonal(a, 1))
    np.testing.assert_array_equal(fnp.diagonal(a, -1, 1, 0), np.diagonal(a, -1, 1, 0))
    for got, want in zip(fnp.diag_indices(3, 3), np.diag_indices(3, 3)):
        np.testing.assert_array_equal(got, want)
    sq = np.zeros((3, 3))
    for got, want in zip(fnp.diag_indices_from(sq), np.diag_indices_from(sq)):
        np.testing.assert_array_equal(got, want)
    want = a.copy()
    np.fill_diagonal(want, [7.0, 8.0])
    np.testing.assert_array_equal(fnp.fill_diagonal(a, np.array([7.0, 8.0]), inplace=False),
                                  want)
    np.testing.assert_array_equal(
        ft.jit(lambda x: fnp.fill_diagonal(x, 0.0, inplace=False))(a),
        np.where(np.eye(4, 5, dtype=bool), 0.0, a))


# --- derivatives and errors -------------------------------------------------------------------


def test_hypot_second_order_with_a_python_float():
    ft.check_grads(lambda x: fnp.hypot(x, 2.0), (1.5,), order=2, modes=["rev"])
    ft.check_grads(lambda x: fnp.hypot(2.0, x), (1.5,), order=2, modes=["fwd", "rev"])
    # d2/dx2 hypot(x, c) = c^2 / (x^2 + c^2)^(3/2)
    assert ft.grad(ft.grad(lambda x: fnp.hypot(x, 2.0)))(1.5) == pytest.approx(
        4.0 / (1.5 ** 2 + 4.0) ** 1.5, rel=1e-14)


def test_convolution_errors_are_public_classes():
    with pytest.raises(TypeError, match="equal dtypes") as info:
        lax.conv_general_dilated(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2)), (1,),
                                 "VALID")
    err = info.value
    assert isinstance(err, ft.errors.WindowShapeError) and isinstance(err, ValueError)
    assert not type(err).__name__.startswith("_")
    with pytest.raises(ft.errors.PaddingError, match="padding must be 'SAME'") as info:
        lax.conv_general_dilated(np.ones((1, 1, 4)), np.ones((1, 1, 2)), (1,), "FULL")
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
