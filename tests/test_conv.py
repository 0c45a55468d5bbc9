"""Convolutions, reduce_window pooling and the small lax functions of ``functrace/windowed.py``:
values against direct NumPy loops, derivatives (check_grads, JAX's choices at ties and clamp
boundaries), vmap against loops, jit against the interpreter, and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jit_check import assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float64, seed=None):
    rng = RNG if seed is None else np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# NumPy references: direct loops over output positions
# ---------------------------------------------------------------------------------------------


def ref_pads(padding, in_sizes, window_sizes, strides):
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    if padding == "VALID":
        return [(0, 0)] * len(in_sizes)
    pads = []
    for n, k, s in zip(in_sizes, window_sizes, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        small = total // 2
        pads.append((small, total - small) if padding == "SAME" else (total - small, small))
    return pads


def dilate_and_pad(x, lead, dilation, pads, fill):
    """``x`` with entries of its trailing axes spread ``dilation`` apart and padded (negative
    pads crop); holes and padding hold ``fill``; ``lead`` leading axes untouched."""
    shape = x.shape[:lead] + tuple((n - 1) * d + 1 if n else 0
                                   for n, d in zip(x.shape[lead:], dilation))
    spread = np.full(shape, fill, x.dtype)
    spread[(slice(None),) * lead + tuple(slice(None, None, d) for d in dilation)] = x
    widths = [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    out = np.pad(spread, widths, constant_values=fill)
    crop = tuple(slice(max(-lo, 0), out.shape[lead + i] - max(-hi, 0))
                 for i, (lo, hi) in enumerate(pads))
    return out[(slice(None),) * lead + crop]


def ref_conv(x, w, strides, padding, lhs_dil=None, rhs_dil=None, groups=1, batch_groups=1):
    """Convolution of ``x`` (N, C, spatial...) with ``w`` (O, I, spatial...)."""
    nsp = x.ndim - 2
    lhs_dil, rhs_dil = lhs_dil or (1,) * nsp, rhs_dil or (1,) * nsp
    in_sizes = [(n - 1) * d + 1 for n, d in zip(x.shape[2:], lhs_dil)]
    k_sizes = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rhs_dil)]
    xp = dilate_and_pad(x, 2, lhs_dil, ref_pads(padding, in_sizes, k_sizes, strides), 0)
    out_sp = [max((p - k) // s + 1, 0) for p, k, s in zip(xp.shape[2:], k_sizes, strides)]
    n, c = x.shape[:2]
    o, i = w.shape[:2]
    out = np.zeros((n // batch_groups, o) + tuple(out_sp), np.result_type(x, w))
    g_out = o // max(groups, batch_groups)
    for pos in itertools.product(*(range(m) for m in out_sp)):
        index = tuple(p * s + np.arange(k) * d
                      for p, s, k, d in zip(pos, strides, w.shape[2:], rhs_dil))
        patch = xp[np.ix_(range(n), range(c), *index)]  # N, C, window...
        for g in range(max(groups, batch_groups)):
            ws = w[g * g_out:(g + 1) * g_out]
            if batch_groups > 1:
                nb = n // batch_groups
                part = patch[g * nb:(g + 1) * nb]
            else:
                part = patch[:, g * i:(g + 1) * i]
            out[(slice(None), slice(g * g_out, (g + 1) * g_out)) + pos] = np.tensordot(
                part, ws, axes=(list(range(1, x.ndim)), list(range(1, x.ndim))))
    return out


def ref_reduce_window(x, init, kind, window, strides, padding, base_dil=None, win_dil=None):
    """Windows of ``x``; padding and base-dilation holes do not contribute; ``init`` is
    combined once per window."""
    ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[kind]
    n = x.ndim
    base_dil, win_dil = base_dil or (1,) * n, win_dil or (1,) * n
    in_sizes = [(m - 1) * d + 1 for m, d in zip(x.shape, base_dil)]
    w_sizes = [(k - 1) * d + 1 for k, d in zip(window, win_dil)]
    pads = ref_pads(padding, in_sizes, w_sizes, strides)
    real = dilate_and_pad(np.ones(x.shape, bool), 0, base_dil, pads, False)
    xp = dilate_and_pad(x, 0, base_dil, pads, 0)
    out_shape = [max((p - k) // s + 1, 0) for p, k, s in zip(xp.shape, w_sizes, strides)]
    out = np.empty(out_shape, x.dtype)
    for pos in itertools.product(*(range(m) for m in out_shape)):
        index = np.ix_(*(p * s + np.arange(k) * d
                         for p, s, k, d in zip(pos, strides, window, win_dil)))
        out[pos] = ufunc.reduce(np.append(xp[index][real[index]], x.dtype.type(init)))
    return out


def assert_close(got, want, dtype=np.float64):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


# ---------------------------------------------------------------------------------------------
# conv_general_dilated values
# ---------------------------------------------------------------------------------------------

# (lhs shape, rhs shape, strides, padding, lhs_dilation, rhs_dilation, feature/batch groups)
CONV_CASES = {
    "1d_valid": ((2, 3, 9), (4, 3, 3), (1,), "VALID", None, None, 1, 1),
    "1d_same_stride": ((2, 2, 9), (3, 2, 4), (2,), "SAME", None, None, 1, 1),
    "1d_same_lower": ((1, 2, 8), (2, 2, 4), (3,), "SAME_LOWER", None, None, 1, 1),
    "2d_valid": ((2, 3, 6, 5), (4, 3, 3, 2), (1, 1), "VALID", None, None, 1, 1),
    "2d_same_strides": ((2, 3, 7, 6), (2, 3, 3, 3), (2, 3), "SAME", None, None, 1, 1),
    "2d_explicit": ((1, 2, 5, 6), (3, 2, 2, 3), (1, 2), [(2, 1), (0, 3)], None, None, 1, 1),
    "2d_negative_pad": ((1, 2, 7, 6), (2, 2, 2, 2), (1, 1), [(-1, 2), (1, -2)], None, None,
                        1, 1),
    "2d_lhs_dilation": ((1, 2, 4, 3), (2, 2, 3, 2), (1, 1), [(2, 2), (1, 0)], (2, 3), None,
                        1, 1),
    "2d_rhs_dilation": ((2, 2, 8, 7), (3, 2, 3, 2), (1, 2), "SAME", None, (2, 3), 1, 1),
    "2d_both_dilations": ((1, 2, 5, 5), (2, 2, 2, 2), (2, 1), [(1, 1), (0, -1)], (2, 1),
                          (1, 2), 1, 1),
    "2d_feature_groups": ((2, 6, 5, 5), (4, 3, 2, 2), (1, 1), "SAME", None, None, 2, 1),
    "2d_depthwise": ((2, 3, 5, 4), (6, 1, 3, 3), (1, 1), "SAME", None, None, 3, 1),
    "2d_batch_groups": ((4, 3, 5, 5), (4, 3, 2, 2), (1, 1), "VALID", None, None, 1, 2),
    "3d": ((1, 2, 4, 5, 3), (2, 2, 2, 3, 2), (1, 2, 1), "SAME", None, (2, 1, 1), 1, 1),
    "window_too_big": ((1, 1, 3), (1, 1, 5), (1,), "VALID", None, None, 1, 1),
}


def conv_args(case, dtype=np.float64, seed=1):
    lhs_shape, rhs_shape = CONV_CASES[case][:2]
    return normal(*lhs_shape, dtype=dtype, seed=seed), normal(*rhs_shape, dtype=dtype,
                                                                seed=seed + 1)


def conv_fn(case):
    _, _, strides, padding, lhs_dil, rhs_dil, groups, bgroups = CONV_CASES[case]
    return lambda x, w: lax.conv_general_dilated(
        x, w, strides, padding, lhs_dil, rhs_dil, feature_group_count=groups,
        batch_group_count=bgroups)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_general_dilated_matches_loops(case, dtype):
    x, w = conv_args(case, dtype)
    _, _, strides, padding, lhs_dil, rhs_dil, groups, bgroups = CONV_CASES[case]
    want = ref_conv(x.astype(np.float64), w.astype(np.float64), strides, padding, lhs_dil,
                    rhs_dil, groups, bgroups)
    assert_close(conv_fn(case)(x, w), want, dtype)


@st.composite
def conv_configs(draw):
    """A small random convolution: rank, sizes, strides, padding, dilations, groups."""
    nsp = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 1, 2]))
    n, i, o_per = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    in_sp = tuple(draw(st.lists(st.integers(1, 6), min_size=nsp, max_size=nsp)))
    k_sp = tuple(draw(st.lists(st.integers(1, 3), min_size=nsp, max_size=nsp)))
    ints = st.lists(st.integers(1, 3), min_size=nsp, max_size=nsp)
    strides, lhs_dil, rhs_dil = (tuple(draw(ints)) for _ in range(3))
    if draw(st.booleans()):
        padding = [tuple(draw(st.lists(st.integers(-1, 2), min_size=2, max_size=2)))
                   for _ in range(nsp)]
    else:
        padding = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER"]))
        lhs_dil = (1,) * nsp
    seed = draw(st.integers(0, 2**16))
    x = normal(n, i * groups, *in_sp, seed=seed)
    w = normal(o_per * groups, i, *k_sp, seed=seed + 1)
    return x, w, strides, padding, lhs_dil, rhs_dil, groups


@settings(max_examples=25)
@given(conv_configs())
def test_conv_random_configs_match_loops(config):
    x, w, strides, padding, lhs_dil, rhs_dil, groups = config
    want = ref_conv(x, w, strides, padding, lhs_dil, rhs_dil, groups)
    got = lax.conv_general_dilated(x, w, strides, padding, lhs_dil, rhs_dil,
                                   feature_group_count=groups)
    assert_close(got, want)


def test_conv_and_pool_trace_to_valid_jaxprs():
    def f(x, w):
        y = lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fnp.sum(lax.reduce_window(y, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                         "VALID"))

    x, w = normal(2, 4, 4, 3), normal(3, 3, 3, 2)
    for g, args in [(f, (x, w)), (ft.grad(f, argnums=(0, 1)), (x, w)),
                    (ft.vmap(f, in_axes=(0, None)), (np.stack([x, x]), w))]:
        ft.check_jaxpr(ft.make_jaxpr(g)(*args))


def test_conv_known_values():
    # a 1-D difference kernel: out[j] = x[j + 1] - x[j]
    x = np.array([[[1.0, 4.0, 9.0, 16.0]]])
    w = np.array([[[-1.0, 1.0]]])
    np.testing.assert_array_equal(lax.conv(x, w, (1,), "VALID"), [[[3.0, 5.0, 7.0]]])
    np.testing.assert_array_equal(lax.conv(x, w, (2,), "SAME"), [[[3.0, 7.0]]])
    np.testing.assert_array_equal(lax.conv(x, w, (1,), "SAME"), [[[3.0, 5.0, 7.0, -16.0]]])


LAYOUTS = [("NHWC", "HWIO", "NHWC"), ("NHWC", "HWIO", "NCHW"), ("NCHW", "IOHW", "NHWC"),
           ("NHWC", "WHIO", "NHWC"), ("HWNC", "OHWI", "CNWH")]


@pytest.mark.parametrize("dn", LAYOUTS)
def test_conv_layouts(dn):
    lhs_spec, rhs_spec, out_spec = dn
    x = normal(2, 3, 6, 5, dtype=np.float32)  # N C H W
    w = normal(4, 3, 3, 2, dtype=np.float32)  # O I H W
    spatial = [c for c in rhs_spec if c not in "OI"]  # strides/padding follow this order
    strides = {"H": 2, "W": 1}
    pads = {"H": (1, 0), "W": (0, 2)}
    want = ref_conv(x.astype(np.float64), w.astype(np.float64), (2, 1), [(1, 0), (0, 2)])
    xt = np.transpose(x, ["NCHW".index(c) for c in lhs_spec])
    wt = np.transpose(w, ["OIHW".index(c) for c in rhs_spec])
    got = lax.conv_general_dilated(xt, wt, [strides[c] for c in spatial],
                                   [pads[c] for c in spatial], dimension_numbers=dn)
    assert_close(got, np.transpose(want, ["NCHW".index(c) for c in out_spec]), np.float32)


def test_conv_dimension_numbers():
    dn = lax.conv_dimension_numbers((1, 5, 6, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), None) == ((0, 1, 2),) * 3
    assert lax.conv_dimension_numbers((1, 2, 3, 4), (1, 2, 3, 4), ("NHWC", "OIWH", "NHWC")) \
        == ((0, 3, 2, 1), (0, 1, 2, 3), (0, 3, 2, 1))
    # index tuples are used as they are
    x, w = normal(2, 5, 6, 3), normal(3, 3, 3, 4)
    by_name = lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    by_index = lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                        dimension_numbers=dn._replace(rhs_spec=(3, 2, 0, 1)))
    np.testing.assert_array_equal(by_name, by_index)


def test_conv_and_conv_with_general_padding():
    x, w = normal(2, 3, 6, 5), normal(4, 3, 3, 2)
    assert_close(lax.conv(x, w, (1, 2), "SAME"), ref_conv(x, w, (1, 2), "SAME"))
    assert_close(lax.conv_with_general_padding(x, w, (1, 1), [(1, 1), (2, 0)], (2, 1), (1, 2)),
                 ref_conv(x, w, (1, 1), [(1, 1), (2, 0)], (2, 1), (1, 2)))


def test_preferred_element_type():
    x, w = normal(1, 2, 4, dtype=np.float32), normal(3, 2, 2, dtype=np.float32)
    out = lax.conv_general_dilated(x, w, (1,), "VALID", preferred_element_type=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref_conv(x.astype(np.float64), w.astype(np.float64), (1,),
                                             "VALID"), rtol=1e-6)


def ref_patches(x, filter_shape, strides, padding, lhs_dil=None, rhs_dil=None):
    """The patches as a depthwise convolution with one-hot kernels: output feature
    ``c * taps + t`` is input feature ``c`` at tap ``t``."""
    taps, c = int(np.prod(filter_shape)), x.shape[1]
    one_hot = np.tile(np.eye(taps).reshape((taps, 1) + tuple(filter_shape)), (c, 1) + (1,) *
                      len(filter_shape))
    return ref_conv(x, one_hot, strides, padding, lhs_dil, rhs_dil, groups=c)


@pytest.mark.parametrize("args", [((2, 3), (1, 1), "VALID", None, None),
                                  ((3, 2), (2, 1), "SAME", None, (1, 2)),
                                  ((2, 2), (1, 1), [(1, 0), (2, -1)], (2, 1), None)])
def test_conv_general_dilated_patches(args):
    filter_shape, strides, padding, lhs_dil, rhs_dil = args
    x = normal(2, 3, 6, 5)
    got = lax.conv_general_dilated_patches(x, filter_shape, strides, padding, lhs_dil, rhs_dil)
    assert_close(got, ref_patches(x, filter_shape, strides, padding, lhs_dil, rhs_dil))
    ft.check_grads(lambda x: lax.conv_general_dilated_patches(
        x, filter_shape, strides, padding, lhs_dil, rhs_dil), (x,), order=1)


def test_conv_general_dilated_patches_layout():
    x = normal(2, 6, 5, 3, dtype=np.float32)  # NHWC
    got = lax.conv_general_dilated_patches(x, (3, 2), (1, 2), "SAME",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
    want = ref_patches(np.transpose(x, (0, 3, 1, 2)).astype(np.float64), (3, 2), (1, 2), "SAME")
    assert_close(got, np.transpose(want, (0, 2, 3, 1)), np.float32)
    # a convolution is the patches contracted with the flattened kernel
    w = normal(3, 2, 3, 4, dtype=np.float32)  # HWIO
    conv = lax.conv_general_dilated(x, w, (1, 2), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    flat = np.transpose(w, (2, 0, 1, 3)).reshape(18, 4)  # feature c * taps + t
    np.testing.assert_allclose(np.asarray(got) @ flat, conv, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# conv_transpose
# ---------------------------------------------------------------------------------------------


# output spatial sizes JAX gives for an input of 5x6, kernel 3x3 (HWIO), strides (2, 3)
@pytest.mark.parametrize("padding, shape", [("SAME", (10, 18)), ("VALID", (11, 18)),
                                            ([(1, 2), (0, 1)], (10, 15))])
def test_conv_transpose_shapes(padding, shape):
    out = lax.conv_transpose(normal(2, 5, 6, 3), normal(3, 3, 3, 4), (2, 3), padding)
    assert out.shape == (2,) + shape + (4,)


@pytest.mark.parametrize("padding", ["SAME", "VALID", [(1, 2), (0, 1)]])
def test_conv_transpose_is_the_gradient_of_a_strided_conv(padding):
    # with transpose_kernel, conv_transpose is the VJP of the forward strided convolution
    # (when the strides divide the padded input size minus the kernel size); explicit pairs
    # are the forward padding with use_consistent_padding
    dn = ("NHWC", "HWIO", "NHWC")
    x = normal(2, 7, 9, 3) if padding == "VALID" else normal(2, 8, 10, 3)
    w = normal(3, 3, 3, 4)
    y, pullback = ft.vjp(lambda x: lax.conv_general_dilated(x, w, (2, 2), padding,
                                                            dimension_numbers=dn), x)
    ct = normal(*y.shape)
    got = lax.conv_transpose(ct, w, (2, 2), padding, dimension_numbers=dn,
                             transpose_kernel=True, use_consistent_padding=True)
    np.testing.assert_allclose(got, pullback(ct)[0], atol=1e-12)


def test_conv_transpose_matches_dilated_conv():
    # 'VALID' with stride s: the input dilated by s, padded by k - 1 + max(k - s, 0) in all
    x, w = normal(1, 4, 3, 2), normal(2, 3, 2, 5)  # NHWC, HWIO
    got = lax.conv_transpose(x, w, (2, 1), "VALID")
    want = ref_conv(np.transpose(x, (0, 3, 1, 2)), np.transpose(w, (3, 2, 0, 1)), (1, 1),
                    [(1, 1), (2, 2)], (2, 1))
    assert_close(got, np.transpose(want, (0, 2, 3, 1)))


# ---------------------------------------------------------------------------------------------
# conv derivatives, vmap, jit
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["1d_same_stride", "2d_negative_pad", "2d_both_dilations",
                                  "2d_feature_groups", "2d_batch_groups", "3d"])
def test_conv_grads(case):
    x, w = conv_args(case)
    f = conv_fn(case)
    ft.check_grads(f, (x, w), order=2, modes=("fwd", "rev"))


def test_conv_grad_closed_form():
    # d/dw of sum(conv(x, w)) is the sum of each tap's input window
    x, w = normal(2, 3, 5), normal(4, 3, 2)
    g = ft.grad(lambda w: fnp.sum(lax.conv(x, w, (1,), "VALID")))(w)
    want = np.stack([x[:, :, :4].sum((0, 2)), x[:, :, 1:].sum((0, 2))], -1)
    np.testing.assert_allclose(g, np.broadcast_to(want, w.shape), atol=1e-12)


@pytest.mark.parametrize("x_axis, w_axis", [(0, None), (1, None), (-1, None), (None, 0),
                                            (1, -1)])
def test_conv_vmap_matches_loop(x_axis, w_axis):
    xs, ws = normal(2, 3, 6, 5), normal(4, 3, 3, 2)
    if x_axis is not None:
        xs = np.stack([normal(2, 3, 6, 5) for _ in range(3)], x_axis)
    if w_axis is not None:
        ws = np.stack([normal(4, 3, 3, 2) for _ in range(3)], w_axis)

    def f(x, w):
        return lax.conv_general_dilated(x, w, (2, 1), "SAME", rhs_dilation=(1, 2))

    got = ft.vmap(f, in_axes=(x_axis, w_axis))(xs, ws)
    want = np.stack([f(np.take(xs, b, x_axis) if x_axis is not None else xs,
                       np.take(ws, b, w_axis) if w_axis is not None else ws)
                     for b in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_conv_vmap_of_grad():
    xs, w = normal(3, 1, 2, 6), normal(2, 2, 3)

    def g(x):
        return ft.grad(lambda w: fnp.sum(fnp.tanh(lax.conv(x, w, (1,), "SAME"))))(w)

    np.testing.assert_allclose(ft.vmap(g)(xs), np.stack([g(x) for x in xs]), atol=1e-12)


@pytest.mark.parametrize("case", ["2d_same_strides", "2d_both_dilations", "2d_feature_groups",
                                  "2d_batch_groups", "3d"])
def test_conv_jit_matches_interpreter(case):
    x, w = conv_args(case, np.float32)
    assert_jit_matches_interpreter(conv_fn(case), x, w)


def test_conv_grad_jit_matches_interpreter():
    x, w = normal(2, 5, 5, 3), normal(3, 3, 3, 4)

    def f(x, w):
        y = lax.conv_general_dilated(x, w, (2, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fnp.sum(fnp.sin(y))

    assert_jit_matches_interpreter(ft.grad(f, argnums=(0, 1)), x, w)


# ---------------------------------------------------------------------------------------------
# conv errors
# ---------------------------------------------------------------------------------------------


def test_conv_errors():
    x, w = normal(2, 3, 6), normal(4, 2, 3)
    with pytest.raises(TypeError, match="feature dimension size 3 .* rhs input feature "
                                        "dimension size 2"):
        lax.conv(x, w, (1,), "VALID")
    with pytest.raises(ValueError, match="padding must be 'SAME', 'SAME_LOWER', 'VALID'"):
        lax.conv(x, normal(4, 3, 3), (1,), "FULL")
    with pytest.raises(TypeError, match="equal rank"):
        lax.conv(x, normal(4, 3, 3, 3), (1,), "VALID")
    with pytest.raises(TypeError, match="rank >= 2"):
        lax.conv(np.ones(3), np.ones(3), (), "VALID")
    with pytest.raises(TypeError, match="window_strides must have 1 entries"):
        lax.conv(x, normal(4, 3, 3), (1, 1), "VALID")
    with pytest.raises(TypeError, match="padding needs 1"):
        lax.conv(x, normal(4, 3, 3), (1,), [(0, 0), (1, 1)])
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.conv(x.astype(np.float32), normal(4, 3, 3), (1,), "VALID")
    with pytest.raises(TypeError, match="must be a multiple of feature_group_count"):
        lax.conv_general_dilated(normal(1, 4, 5), normal(3, 2, 2), (1,), "VALID",
                                 feature_group_count=2)
    with pytest.raises(ValueError, match="not supported with lhs_dilation"):
        lax.conv_general_dilated(x, normal(4, 3, 3), (1,), "SAME", lhs_dilation=(2,))
    with pytest.raises(TypeError, match="must contain 'O' and 'I'"):
        lax.conv_general_dilated(x, normal(4, 3, 3), (1,), "SAME",
                                 dimension_numbers=("NCH", "OXH", "NCH"))


# ---------------------------------------------------------------------------------------------
# reduce_window and pooling
# ---------------------------------------------------------------------------------------------

INITS = {"add": 0.0, "mul": 1.0, "max": -np.inf, "min": np.inf}
# (shape, window, strides, padding, base_dilation, window_dilation)
WINDOW_CASES = {
    "1d_valid": ((7,), (3,), (2,), "VALID", None, None),
    "2d_same": ((5, 6), (2, 3), (2, 1), "SAME", None, None),
    "2d_same_lower": ((5, 6), (2, 2), (1, 3), "SAME_LOWER", None, None),
    "2d_explicit_negative": ((5, 6), (2, 2), (1, 1), [(1, -1), (-2, 2)], None, None),
    "2d_dilations": ((4, 5), (2, 2), (1, 2), [(0, 1), (1, 1)], (2, 1), (1, 2)),
    "3d_pool": ((2, 4, 5), (1, 2, 2), (1, 2, 2), "SAME", None, None),
}


@pytest.mark.parametrize("kind", sorted(INITS))
@pytest.mark.parametrize("case", sorted(WINDOW_CASES))
def test_reduce_window_matches_loops(case, kind):
    shape, window, strides, padding, base_dil, win_dil = WINDOW_CASES[case]
    x = normal(*shape)
    for init in (INITS[kind], 0.5):
        got = lax.reduce_window(x, init, getattr(lax, kind), window, strides, padding,
                                base_dil, win_dil)
        assert_close(got, ref_reduce_window(x, init, kind, window, strides, padding, base_dil,
                                            win_dil))


def test_reduce_window_dtypes():
    x = normal(4, 5, dtype=np.float32)
    out = lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1), "SAME")
    assert_close(out, ref_reduce_window(x, -np.inf, "max", (2, 2), (1, 1), "SAME"), np.float32)
    xi = RNG.integers(-9, 9, (4, 5)).astype(np.int32)
    for kind in ("add", "max", "min"):
        init = {"add": 0, "max": np.iinfo(np.int32).min, "min": np.iinfo(np.int32).max}[kind]
        got = lax.reduce_window(xi, np.int32(init), getattr(lax, kind), (2, 3), (2, 1), "SAME")
        assert got.dtype == np.int32
        np.testing.assert_array_equal(
            got, ref_reduce_window(xi, init, kind, (2, 3), (2, 1), "SAME"))


def test_reduce_window_known_values():
    x = np.array([1.0, 5.0, 2.0])
    # padding does not contribute; init is combined once per window (as in JAX)
    np.testing.assert_array_equal(
        lax.reduce_window(x, 3.0, lax.max, (2,), (1,), [(1, 1)]), [3.0, 5.0, 5.0, 3.0])
    np.testing.assert_array_equal(
        lax.reduce_window(x, 3.0, lax.mul, (2,), (1,), [(1, 1)]), [3.0, 15.0, 30.0, 6.0])
    np.testing.assert_array_equal(
        lax.reduce_window(np.arange(5.0), 10.0, lax.add, (2,), (1,), "VALID"),
        [11.0, 13.0, 15.0, 17.0])


def test_max_pool_tie_gradient_goes_to_first_max():
    # JAX's select_and_scatter: the first maximum in row-major window order gets it all
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]])

    def pool(x):
        return lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1), "VALID")

    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(pool(x)))(x),
                                  [[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    _, t = ft.jvp(lambda x: lax.reduce_window(x, -np.inf, lax.max, (3, 3), (1, 1), "VALID"),
                  (np.ones((3, 3)),), (np.arange(9.0).reshape(3, 3),))
    np.testing.assert_array_equal(t, [[0.0]])  # the tangent of entry (0, 0)
    g = ft.grad(lambda x: fnp.sum(lax.reduce_window(x, np.inf, lax.min, (2,), (1,), "VALID")))
    np.testing.assert_array_equal(g(np.array([2.0, 2.0, 2.0])), [1.0, 1.0, 0.0])


def test_max_pool_gradient_on_random_ties():
    x = np.round(normal(6, 7, seed=5))  # many ties
    window, strides = (3, 2), (1, 2)
    g = ft.grad(lambda x: fnp.sum(lax.reduce_window(x, -np.inf, lax.max, window, strides,
                                                    "SAME")))(x)
    pads = ref_pads("SAME", x.shape, window, strides)
    xp = dilate_and_pad(x, 0, (1, 1), pads, -np.inf)
    want = np.zeros_like(xp)
    for i in range(0, xp.shape[0] - window[0] + 1, strides[0]):
        for j in range(0, xp.shape[1] - window[1] + 1, strides[1]):
            a, b = np.unravel_index(np.argmax(xp[i:i + 3, j:j + 2]), window)
            want[i + a, j + b] += 1
    np.testing.assert_array_equal(g, want[pads[0][0]:pads[0][0] + 6, pads[1][0]:pads[1][0] + 7])


def test_max_pool_nan_propagates():
    out = lax.reduce_window(np.array([1.0, np.nan, 2.0, 0.0]), -np.inf, lax.max, (2,), (2,),
                            "VALID")
    assert np.isnan(out[0]) and out[1] == 2.0


@pytest.mark.parametrize("kind", sorted(INITS))
def test_reduce_window_grads(kind):
    x = RNG.permutation(20).reshape(4, 5) / 7.0 + 0.5  # distinct, positive

    def f(x):
        return lax.reduce_window(x, INITS[kind], getattr(lax, kind), (2, 2), (1, 2),
                                 [(1, 0), (0, 1)], window_dilation=(1, 2))

    ft.check_grads(f, (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_reduce_window_vmap_matches_loop(axis):
    xs = normal(3, 4, 5)

    def f(x):
        return lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 2), "SAME")

    got = ft.vmap(f, in_axes=axis)(xs)
    want = np.stack([f(np.take(xs, b, axis)) for b in range(xs.shape[axis])])
    np.testing.assert_array_equal(got, want)


def test_reduce_window_jit_matches_interpreter():
    x = normal(2, 6, 5, 3, dtype=np.float32)

    def f(x):
        mx = lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
        s = lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1), "VALID",
                              window_dilation=(1, 1, 2, 1))
        return mx, s, ft.grad(lambda x: fnp.sum(lax.reduce_window(
            x, -np.inf, lax.max, (1, 2, 2, 1), (1, 1, 1, 1), "VALID") ** 2))(x)

    assert_jit_matches_interpreter(f, x)


def test_reduce_window_errors():
    x = normal(4, 5)
    with pytest.raises(TypeError, match="computation must be lax.add"):
        lax.reduce_window(x, 0.0, lambda a, b: a - b, (2, 2), (1, 1), "VALID")
    with pytest.raises(TypeError, match="window_dimensions must have 2 entries"):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1, 1), "VALID")
    with pytest.raises(ValueError, match="padding must be"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "same-ish")
    with pytest.raises(TypeError, match="init_value must be a scalar"):
        lax.reduce_window(x, np.zeros(2), lax.add, (2, 2), (1, 1), "VALID")


def test_max_and_avg_pool():
    x = normal(2, 5, 6, 3)  # N H W C
    got = lax.max_pool(x, (2, 3), (2, 2), "SAME")
    want = ref_reduce_window(x, -np.inf, "max", (1, 2, 3, 1), (1, 2, 2, 1), "SAME")
    assert_close(got, want)
    got = lax.avg_pool(x, (2, 2), (1, 1), [(1, 0), (0, 1)])
    want = ref_reduce_window(x, 0.0, "add", (1, 2, 2, 1), (1, 1, 1, 1),
                             [(0, 0), (1, 0), (0, 1), (0, 0)]) / 4
    assert_close(got, want)
    got = lax.avg_pool(x, (2, 2), (1, 1), [(1, 0), (0, 1)], count_include_pad=False)
    counts = ref_reduce_window(np.ones((1, 5, 6, 1)), 0.0, "add", (1, 2, 2, 1), (1, 1, 1, 1),
                               [(0, 0), (1, 0), (0, 1), (0, 0)])
    assert_close(got, want * 4 / counts)


# ---------------------------------------------------------------------------------------------
# A tiny CNN: conv -> relu -> max pool -> dense -> log-softmax cross-entropy
# ---------------------------------------------------------------------------------------------


def cnn_loss(params, images, labels):
    w_conv, b_conv, w_dense = params
    h = lax.conv_general_dilated(images, w_conv, (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC")) + b_conv
    h = fnp.maximum(h, 0.0)
    h = lax.reduce_window(h, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    logits = fnp.reshape(h, (h.shape[0], -1)) @ w_dense
    logp = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = logp - fnp.log(fnp.sum(fnp.exp(logp), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(logp * labels, axis=1))


CNN_DATA = (normal(3, 6, 6, 2, seed=11), np.eye(4)[[0, 3, 1]])
CNN_PARAMS = (0.5 * normal(3, 3, 2, 3, seed=12), 0.1 * normal(3, seed=13),
              0.3 * normal(27, 4, seed=14))


def test_cnn_grad_matches_numerical_differences():
    images, labels = CNN_DATA
    ft.check_grads(lambda *p: cnn_loss(p, images, labels), CNN_PARAMS, order=1,
                   modes=("rev",))
    # and against central differences on a few coordinates of each parameter
    grads = ft.grad(cnn_loss)(CNN_PARAMS, images, labels)
    for k, p in enumerate(CNN_PARAMS):
        for flat in (0, p.size // 2, p.size - 1):
            e = np.zeros(p.size)
            e[flat] = 1e-6
            plus = list(CNN_PARAMS)
            minus = list(CNN_PARAMS)
            plus[k] = p + e.reshape(p.shape)
            minus[k] = p - e.reshape(p.shape)
            num = (cnn_loss(plus, images, labels) - cnn_loss(minus, images, labels)) / 2e-6
            np.testing.assert_allclose(grads[k].reshape(-1)[flat], num, rtol=1e-5, atol=1e-8)


def test_cnn_training_step_jit_matches_interpreter():
    images, labels = CNN_DATA

    def step(params, images, labels):
        loss, grads = ft.value_and_grad(cnn_loss)(params, images, labels)
        return loss, tuple(p - 0.1 * g for p, g in zip(params, grads))

    loss, new = assert_jit_matches_interpreter(step, CNN_PARAMS, images, labels)
    assert cnn_loss(new, images, labels) < loss


# ---------------------------------------------------------------------------------------------
# Small lax functions
# ---------------------------------------------------------------------------------------------


def test_clamp_values_and_jax_derivatives():
    x = np.array([-2.0, 1.0, 1.5, 2.0, 3.0])
    np.testing.assert_array_equal(lax.clamp(1.0, x, 2.0), [1.0, 1.0, 1.5, 2.0, 2.0])
    assert lax.clamp(np.float32(0), np.float32(5), np.float32(1)).dtype == np.float32
    grads = ft.grad(lambda lo, x, hi: lax.clamp(lo, x, hi), argnums=(0, 1, 2))
    # JAX: x's derivative is 1 strictly inside, 0 on the ends; lo gets it below, hi above
    for xv, want in [(0.0, (1, 0, 0)), (1.0, (0, 0, 0)), (1.5, (0, 1, 0)), (2.0, (0, 0, 0)),
                     (3.0, (0, 0, 1))]:
        np.testing.assert_array_equal(grads(1.0, xv, 2.0), want)
    np.testing.assert_array_equal(grads(2.0, 1.5, 1.0), (0, 0, 1))  # lo > hi: the value is hi
    lo, hi = np.full(5, -1.0), np.full(5, 2.5)
    ft.check_grads(lambda lo, x, hi: lax.clamp(lo, x, hi), (lo, x, hi), order=2)


def test_clamp_vmap():
    xs = normal(4, 3)
    got = ft.vmap(lambda x: lax.clamp(-0.5, x, 0.5))(xs)
    np.testing.assert_array_equal(got, np.clip(xs, -0.5, 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_square_reciprocal_exp2(dtype):
    x = (normal(5) + 3).astype(dtype)
    assert_close(lax.square(x), x * x, dtype)
    assert_close(lax.reciprocal(x), 1 / x, dtype)
    out = lax.exp2(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, np.exp2(x), rtol=1e-6 if dtype == np.float32 else 1e-14)
    x64 = x.astype(np.float64)
    for f in (lax.square, lax.reciprocal, lax.exp2):
        ft.check_grads(f, (x64,), order=2)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(lax.exp2(x)))(x64),
                               np.log(2) * np.exp2(x64))


def test_batch_matmul_broadcast_collapse():
    a, b = normal(2, 3, 4, 5), normal(2, 3, 5, 2)
    np.testing.assert_allclose(lax.batch_matmul(a, b), a @ b, atol=1e-12)
    ft.check_grads(lax.batch_matmul, (a, b), order=2)
    with pytest.raises(TypeError, match="equal batch axes"):
        lax.batch_matmul(a, normal(3, 2, 5, 2))
    x = normal(3, 4)
    np.testing.assert_array_equal(lax.broadcast(x, (2, 5)), np.broadcast_to(x, (2, 5, 3, 4)))
    assert lax.broadcast(1.5, (3,)).shape == (3,)
    np.testing.assert_array_equal(lax.collapse(a, 1, 3), a.reshape(2, 12, 5))
    np.testing.assert_array_equal(lax.collapse(a, 1), a.reshape(2, 60))
    np.testing.assert_array_equal(lax.collapse(a, 0, -1), a.reshape(24, 5))


def test_top_k():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 0.0], [5.0, 5.0, 5.0, 1.0, 6.0]])
    values, indices = lax.top_k(x, 3)
    np.testing.assert_array_equal(values, [[3.0, 3.0, 2.0], [6.0, 5.0, 5.0]])
    np.testing.assert_array_equal(indices, [[1, 2, 3], [4, 0, 1]])  # ties: lower index first
    assert indices.dtype == np.int32
    values, indices = lax.top_k(x, 1, axis=0)
    np.testing.assert_array_equal(indices, [[1, 1, 1, 0, 1]])
    g = ft.grad(lambda x: fnp.sum(lax.top_k(x, 2)[0] * np.array([1.0, 2.0])))(x[0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 2.0, 0.0, 0.0])
    y = RNG.permutation(12).reshape(3, 4).astype(np.float64)
    ft.check_grads(lambda y: lax.top_k(y, 2)[0], (y,), order=2)
    got = ft.vmap(lambda y: lax.top_k(y, 2)[1], in_axes=1)(y)
    np.testing.assert_array_equal(got, np.argsort(-y.T, axis=1, kind="stable")[:, :2])
    xi = np.array([3, -128, 5, 5, 127, -1], np.int8)  # no overflow at the extremes
    values, indices = lax.top_k(xi, 4)
    np.testing.assert_array_equal(values, [127, 5, 5, 3])
    np.testing.assert_array_equal(indices, [4, 2, 3, 0])
    with pytest.raises(TypeError, match="k=6"):
        lax.top_k(x, 6)


def test_associative_scan():
    x = normal(7, 3)
    np.testing.assert_allclose(lax.associative_scan(lax.add, x), np.cumsum(x, 0), atol=1e-12)
    np.testing.assert_allclose(lax.associative_scan(lax.max, x, axis=1),
                               np.maximum.accumulate(x, 1))
    np.testing.assert_allclose(lax.associative_scan(lax.add, x, reverse=True),
                               np.cumsum(x[::-1], 0)[::-1], atol=1e-12)

    # a pytree recurrence h[t] = a[t] * h[t - 1] + b[t] (composition of affine maps)
    def compose(first, then):
        return {"a": first["a"] * then["a"], "b": first["b"] * then["a"] + then["b"]}

    for n in (1, 2, 5, 8):
        a, b = normal(n) * 0.5, normal(n)
        out = lax.associative_scan(compose, {"a": a, "b": b})
        h, want = 0.0, []
        for t in range(n):
            h = a[t] * h + b[t]
            want.append(h)
        np.testing.assert_allclose(out["b"], want, atol=1e-12)
        # reverse: fn(later accumulation, current)
        out = lax.associative_scan(compose, {"a": a, "b": b}, reverse=True)
        h, want = 0.0, []
        for t in reversed(range(n)):
            h = a[t] * h + b[t]
            want.append(h)
        np.testing.assert_allclose(out["b"], want[::-1], atol=1e-12)
    a, b = normal(6) * 0.5, normal(6)
    ft.check_grads(lambda a, b: lax.associative_scan(compose, {"a": a, "b": b})["b"], (a, b),
                   order=2)
    with pytest.raises(TypeError, match="equal sizes"):
        lax.associative_scan(compose, {"a": a, "b": b[:4]})


def test_cumlogsumexp():
    x = normal(6, 3)
    np.testing.assert_allclose(lax.cumlogsumexp(x), np.logaddexp.accumulate(x, 0), atol=1e-12)
    np.testing.assert_allclose(lax.cumlogsumexp(x, axis=1, reverse=True),
                               np.logaddexp.accumulate(x[:, ::-1], 1)[:, ::-1], atol=1e-12)
    big = np.array([1000.0, 1000.0, -np.inf, 999.0])
    np.testing.assert_allclose(lax.cumlogsumexp(big), np.logaddexp.accumulate(big))
    np.testing.assert_array_equal(lax.cumlogsumexp(np.array([-np.inf, -np.inf])),
                                  [-np.inf, -np.inf])
    ft.check_grads(lambda x: lax.cumlogsumexp(x, axis=0), (x,), order=2)
    g = ft.grad(lambda x: fnp.sum(lax.cumlogsumexp(x)))(np.array([-np.inf, 0.0, 1.0]))
    np.testing.assert_allclose(g, [1.0, 1 + 1 / (1 + np.e), np.e / (1 + np.e)])  # as JAX


def test_select_n():
    cases = [np.zeros(3), np.ones(3), np.full(3, 2.0)]
    np.testing.assert_array_equal(lax.select_n(np.array([0, 2, 1], np.int32), *cases),
                                  [0.0, 2.0, 1.0])
    np.testing.assert_array_equal(lax.select_n(np.array([True, False, True]), *cases[:2]),
                                  [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(lax.select_n(True, *cases[:2]), np.ones(3))
    g = ft.grad(lambda a, b: fnp.sum(lax.select_n(np.array([0, 1, 1]), a, b)),
                argnums=(0, 1))(np.ones(3), np.ones(3))
    np.testing.assert_array_equal(g, [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    with pytest.raises(TypeError, match="2 cases"):
        lax.select_n(np.array([True, False, True]), *cases)


def test_small_functions_jit_matches_interpreter():
    x = RNG.permutation(12).reshape(3, 4).astype(np.float32) / 3

    def f(x):
        values, indices = lax.top_k(x, 2)
        affine = lax.associative_scan(lambda p, q: (p[0] * q[0], p[1] * q[0] + q[1]),
                                      (x * 0.5, x), axis=1)
        return (lax.clamp(0.5, x, 2.0), lax.exp2(x), lax.square(x), lax.reciprocal(x + 1),
                values, indices, affine, lax.cumlogsumexp(x, axis=1, reverse=True),
                lax.select_n(fnp.broadcast_to(indices[:, :1] % 3, x.shape), x, -x, 2 * x),
                lax.conv_general_dilated_patches(x[None, None], (2, 2), (1, 1), "SAME"),
                lax.batch_matmul(lax.broadcast(x, (2,)), lax.broadcast(x.T, (2,))))

    assert_jit_matches_interpreter(f, x)


def test_reduce_split_barrier_precision():
    x = normal(3, 4)
    np.testing.assert_allclose(lax.reduce(x, 0.0, lax.add, (1,)), x.sum(1), atol=1e-12)
    np.testing.assert_allclose(lax.reduce(x, 10.0, lax.add, (0, 1)), x.sum() + 10)  # as JAX
    np.testing.assert_array_equal(lax.reduce(x, -np.inf, lax.max, (0,)), x.max(0))
    np.testing.assert_array_equal(lax.reduce(x, 0.5, lax.min, (-1,)), np.minimum(x.min(1), 0.5))
    np.testing.assert_allclose(lax.reduce(x, 1.0, lax.mul, (0,)), x.prod(0))
    ft.check_grads(lambda x: lax.reduce(x, 0.0, lax.add, (0,)), (x,), order=2)
    with pytest.raises(TypeError, match="computation lax.add"):
        lax.reduce(x, 0.0, lambda a, b: a + 2 * b, (0,))
    a, b, c = lax.split(x, (1, 0, 3), axis=-1)
    np.testing.assert_array_equal(a, x[:, :1])
    assert b.shape == (3, 0)
    np.testing.assert_array_equal(c, x[:, 1:])
    g = ft.grad(lambda x: fnp.sum(lax.split(x, (2, 2), 1)[1] ** 2))(x)
    np.testing.assert_allclose(g, np.concatenate([np.zeros((3, 2)), 2 * x[:, 2:]], 1))
    with pytest.raises(TypeError, match="add up to"):
        lax.split(x, (2, 3), 1)
    assert lax.optimization_barrier(x) is x
    assert lax.Precision("highest") is lax.Precision.HIGHEST
    out = lax.conv(x[None, None], x[None, None, :2, :2], (1, 1), "VALID",
                   precision=lax.Precision.HIGHEST)
    assert out.shape == (1, 1, 2, 3)
