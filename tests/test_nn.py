"""functrace.nn, functrace.scipy.special, eval_shape and the functrace.tree namespace.

Values are compared with closed forms written in NumPy, derivatives with check_grads and with
hand-derived formulas, and the kink conventions with JAX's documented choices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from jit_check import assert_jit_matches_interpreter

import functrace as ft
import functrace.numpy as fnp
from functrace import nn
from functrace.scipy import special

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)) * 3


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(x, 0)


_erf = np.vectorize(math.erf)

CLOSED_FORMS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "sigmoid": (nn.sigmoid, _sigmoid),
    "log_sigmoid": (nn.log_sigmoid, lambda x: np.log(_sigmoid(x))),
    "softplus": (nn.softplus, _softplus),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "silu": (nn.silu, lambda x: x * _sigmoid(x)),
    "gelu_tanh": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "gelu_erf": (lambda x: nn.gelu(x, approximate=False),
                 lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "celu": (lambda x: nn.celu(x, 2.0), lambda x: np.where(x > 0, x, 2 * np.expm1(
        np.minimum(x, 0) / 2))),
    "selu": (nn.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))),
    "leaky_relu": (lambda x: nn.leaky_relu(x, 0.2), lambda x: np.where(x >= 0, x, 0.2 * x)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "mish": (nn.mish, lambda x: x * np.tanh(_softplus(x))),
    "softmax": (nn.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "softmax_axis0": (lambda x: nn.softmax(x, axis=0),
                      lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    "log_softmax": (nn.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "logsumexp": (nn.logsumexp, lambda x: np.log(np.exp(x).sum())),
    "logsumexp_axis": (lambda x: nn.logsumexp(x, axis=1, keepdims=True),
                       lambda x: np.log(np.exp(x).sum(1, keepdims=True))),
    "logsumexp_b": (lambda x: special.logsumexp(x, axis=0, b=np.arange(1.0, 5.0, dtype=x.dtype)),
                    lambda x: np.log((np.arange(1.0, 5.0) * np.exp(x)).sum(0))),
    "standardize": (nn.standardize, lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-5)),
    "glu": (nn.glu, lambda x: x[:, :2] * _sigmoid(x[:, 2:])),
    "expit": (special.expit, _sigmoid),
    "scipy_softmax": (special.softmax, lambda x: np.exp(x) / np.exp(x).sum()),
    "scipy_log_softmax": (lambda x: special.log_softmax(x, axis=1),
                          lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
    "erf": (special.erf, _erf),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_values_match_closed_forms_and_keep_the_dtype(name, dtype):
    ours, reference = CLOSED_FORMS[name]
    x = X.astype(dtype)
    got = np.asarray(ours(x))
    assert got.dtype == dtype
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, reference(X), rtol=tol, atol=tol)
    ft.check_jaxpr(ft.make_jaxpr(ours)(x))


SMOOTH = ["sigmoid", "log_sigmoid", "softplus", "silu", "gelu_tanh", "gelu_erf", "mish",
          "softmax", "softmax_axis0", "log_softmax", "logsumexp", "logsumexp_axis",
          "logsumexp_b", "standardize", "glu", "expit", "scipy_log_softmax", "erf", "elu",
          "celu", "selu", "soft_sign", "leaky_relu", "relu"]


@pytest.mark.parametrize("name", SMOOTH)
def test_check_grads(name):
    x = X + 0.05  # no input sits on a kink
    ft.check_grads(CLOSED_FORMS[name][0], (x,), order=2)


def test_kinks_follow_jax():
    at = np.array([0.0, 6.0, -1.0, 1.0])
    np.testing.assert_array_equal(ft.vmap(ft.grad(nn.relu))(at), [0, 1, 0, 1])
    np.testing.assert_array_equal(ft.vmap(ft.grad(nn.relu6))(at), [0, 0, 0, 1])
    np.testing.assert_array_equal(ft.vmap(ft.grad(nn.leaky_relu))(at), [1, 1, 0.01, 1])
    np.testing.assert_array_equal(ft.vmap(ft.grad(nn.hard_tanh))(at), [1, 0, 1, 1])


def test_softmax_family_is_stable_for_large_inputs():
    x = np.array([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(nn.softmax(x), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(nn.log_softmax(x), [-math.log(2), -math.log(2), -2000 - math.log(2)])
    np.testing.assert_allclose(nn.logsumexp(x), 1000 + math.log(2))
    g = ft.grad(lambda x: nn.logsumexp(x))(x)
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])  # the softmax weights, no NaN
    assert nn.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert nn.logsumexp(np.array([np.inf, 1.0])) == np.inf


def test_logsumexp_with_signs_and_masks():
    b = np.array([1.0, -2.0, 0.5])
    x = np.array([0.3, 0.1, -0.4])
    total = (b * np.exp(x)).sum()
    value, sign = special.logsumexp(x, b=b, return_sign=True)
    np.testing.assert_allclose(value, math.log(abs(total)))
    assert sign == np.sign(total)
    mask = np.array([True, False, True])
    np.testing.assert_allclose(special.logsumexp(x, where=mask),
                               math.log(np.exp(x[mask]).sum()))
    soft = nn.softmax(x, where=mask)
    np.testing.assert_allclose(soft, np.where(mask, np.exp(x) / np.exp(x[mask]).sum(), 0))


def test_one_hot():
    got = nn.one_hot(np.array([0, 2, 5, -1]), 4)
    np.testing.assert_array_equal(got, np.eye(4)[[0, 2]].tolist() + [[0] * 4, [0] * 4])
    assert got.dtype == np.float64
    labels = np.array([[0, 2], [1, 1]])
    got = nn.one_hot(labels, 3, axis=0, dtype=np.float32)
    assert got.shape == (3, 2, 2) and got.dtype == np.float32
    np.testing.assert_array_equal(np.argmax(got, axis=0), labels)


def test_cross_entropy_gradient_closed_form():
    logits = RNG.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])

    def loss(z):
        return -fnp.mean(fnp.sum(nn.one_hot(labels, 3) * nn.log_softmax(z), axis=-1))

    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(ft.grad(loss)(logits), (p - np.eye(3)[labels]) / 5, rtol=1e-12)


def test_xlogy_family_follows_jax():
    x = np.array([0.0, 0.0, 1.0, 2.0])
    y = np.array([0.0, 2.0, 2.0, 3.0])
    np.testing.assert_allclose(special.xlogy(x, y), [0, 0, math.log(2), 2 * math.log(3)])
    np.testing.assert_allclose(special.xlog1py(x, y - 1), [0, 0, math.log(2), 2 * math.log(3)])
    gx, gy = ft.grad(lambda x, y: fnp.sum(special.xlogy(x, y)), argnums=(0, 1))(x[1:], y[1:])
    np.testing.assert_allclose(gx, np.log(y[1:]))  # d/dx at x = 0 is log(y), not 0
    np.testing.assert_allclose(gy, x[1:] / y[1:])
    np.testing.assert_allclose(special.entr(np.array([0.0, 0.5, -1.0])),
                               [0.0, 0.5 * math.log(2), -np.inf])
    np.testing.assert_allclose(special.logit(np.array([0.25, 0.5])), [math.log(1 / 3), 0.0])
    ft.check_grads(lambda x, y: special.xlogy(x, y), (x[2:], y[2:]), order=2)
    ft.check_grads(special.logit, (np.array([0.2, 0.7]),), order=2)
    ft.check_grads(special.entr, (np.array([0.2, 0.7]),), order=2)


def test_nn_functions_batch_and_compile():
    for name in ("gelu_tanh", "log_softmax", "logsumexp_axis", "selu", "standardize"):
        f = CLOSED_FORMS[name][0]
        batched = ft.vmap(f)(np.stack([X, 2 * X]))
        np.testing.assert_allclose(batched, np.stack([f(X), f(2 * X)]), rtol=1e-12)
        assert_jit_matches_interpreter(f, X)
        assert_jit_matches_interpreter(ft.grad(lambda x, f=f: fnp.sum(f(x) ** 2)), X)


def test_eval_shape_traces_without_computing():
    def f(params, x):
        return {"out": fnp.tanh(x @ params["w"]), "norm": fnp.sum(params["w"] ** 2)}

    params = {"w": ft.ShapeDtypeStruct((10_000, 20_000), np.float32)}  # 800 MB if allocated
    out = ft.eval_shape(f, params, ft.ShapeDtypeStruct((7, 10_000), np.float32))
    assert out["out"] == ft.ShapeDtypeStruct((7, 20_000), np.dtype(np.float32))
    assert out["norm"].shape == () and out["norm"].dtype == np.float32
    grads = ft.eval_shape(ft.grad(lambda p: f(p, np.ones((2, 10_000), np.float32))["norm"]),
                          params)
    assert grads["w"].shape == (10_000, 20_000)
    assert ft.eval_shape(lambda x: x.sum(0), np.ones((3, 2))).shape == (2,)


def test_tree_namespace():
    tree = {"b": [1, 2], "a": (3, None)}
    assert ft.tree.leaves(tree) == [3, 1, 2]
    assert ft.tree.map(lambda x, y: x + y, tree, tree) == {"b": [2, 4], "a": (6, None)}
    leaves, treedef = ft.tree.flatten(tree)
    assert ft.tree.unflatten(treedef, leaves) == tree
    assert ft.tree.structure(tree) == treedef
    assert ft.tree.reduce(lambda a, b: a + b, tree) == 6
    assert ft.tree.all({"x": True, "y": [True, 1]})


def test_device_calls_are_identities_on_the_host():
    tree = {"w": np.ones(3), "b": [np.zeros(2)]}
    assert ft.block_until_ready(tree) is tree
    put = ft.device_put(tree)
    assert isinstance(put["w"], ft.Array) and np.shares_memory(put["w"], tree["w"])
    assert put["w"].at[0].set(5.0)[0] == 5.0
    got = ft.device_get(put)
    assert type(got["b"][0]) is np.ndarray
    np.testing.assert_array_equal(got["w"], tree["w"])
    assert ft.devices() == ["cpu"]


# --- nn.initializers --------------------------------------------------------------------------

KEY = ft.random.PRNGKey(0)


def test_initializers_are_draws_of_functrace_random_with_jax_formulas():
    init = nn.initializers
    shape = (3, 5, 4)  # receptive field 3, fan_in 5 * 3 = 15, fan_out 4 * 3 = 12
    fan_in, fan_out = 15.0, 12.0
    r = ft.random
    cases = [
        (init.glorot_uniform(), r.uniform(KEY, shape, np.float64, -1, 1)
         * np.sqrt(3 * 2 / (fan_in + fan_out))),
        (init.lecun_uniform(), r.uniform(KEY, shape, np.float64, -1, 1) * np.sqrt(3 / fan_in)),
        (init.he_uniform(), r.uniform(KEY, shape, np.float64, -1, 1) * np.sqrt(3 * 2 / fan_in)),
        (init.variance_scaling(2.0, "fan_out", "normal"),
         r.normal(KEY, shape) * np.sqrt(2.0 / fan_out)),
        (init.variance_scaling(1.0, "fan_geo_avg", "normal"),
         r.normal(KEY, shape) * np.sqrt(1.0 / np.sqrt(fan_in * fan_out))),
        (init.he_normal(), r.truncated_normal(KEY, -2, 2, shape)
         * (np.sqrt(2 / fan_in) / 0.87962566103423978)),
        (init.glorot_normal(), r.truncated_normal(KEY, -2, 2, shape)
         * (np.sqrt(2 / (fan_in + fan_out)) / 0.87962566103423978)),
        (init.normal(0.5), r.normal(KEY, shape) * 0.5),
        (init.uniform(0.5), r.uniform(KEY, shape) * 0.5),
        (init.truncated_normal(0.5, lower=-1.0, upper=3.0),
         r.truncated_normal(KEY, -1.0, 3.0, shape) * 0.5),
    ]
    for fn, want in cases:
        got = fn(KEY, shape)
        assert got.dtype == np.float64 and got.shape == shape
        np.testing.assert_allclose(got, want, rtol=1e-14)
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal
    assert init.xavier_normal is init.glorot_normal and init.kaiming_uniform is init.he_uniform
    assert init.lecun_normal()(KEY, (4, 3), np.float32).dtype == np.float32


def test_initializer_statistics():
    w = nn.initializers.glorot_uniform()(KEY, (300, 200))
    bound = np.sqrt(6 / 500)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.var(w) == pytest.approx(2 / 500, rel=0.03)
    w = nn.initializers.he_normal()(KEY, (3, 3, 32, 64), np.float32)
    assert w.dtype == np.float32
    assert np.var(w) == pytest.approx(2 / (9 * 32), rel=0.05)
    assert np.abs(w).max() <= 2 * np.sqrt(2 / (9 * 32)) / 0.87962566103423978 * (1 + 1e-6)


def test_constant_zeros_ones_and_batch_axes():
    init = nn.initializers
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(KEY, (2,), np.float32), np.ones(2, np.float32))
    got = init.constant(-1.5, np.float32)(KEY, (2, 2))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.full((2, 2), -1.5, np.float32))
    # batch_axis is left out of the fans; in_axis/out_axis may be tuples
    w = init.variance_scaling(1.0, "fan_in", "normal", in_axis=(1, 2), out_axis=-1,
                              batch_axis=0)(KEY, (7, 2, 3, 4))
    np.testing.assert_allclose(w, ft.random.normal(KEY, (7, 2, 3, 4)) / np.sqrt(6.0),
                               rtol=1e-14)


def test_orthogonal_and_delta_orthogonal():
    init = nn.initializers
    for shape in [(4, 6), (6, 4), (5, 5)]:
        q = np.asarray(init.orthogonal(scale=2.0)(KEY, shape))
        small = min(shape)
        gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
        np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    q = np.asarray(init.orthogonal(column_axis=0)(KEY, (3, 2, 4)))  # 3 columns, 8 rows
    m = np.moveaxis(q, 0, -1).reshape(8, 3)
    np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-12)
    k = np.asarray(init.delta_orthogonal()(KEY, (3, 3, 4, 4)))
    centre = k[1, 1]
    np.testing.assert_allclose(centre @ centre.T, np.eye(4), atol=1e-12)
    k[1, 1] = 0
    assert not k.any()


def test_initializer_errors():
    init = nn.initializers
    with pytest.raises(ValueError, match="mode must be one of fan_in"):
        init.variance_scaling(1.0, "fan_sum", "normal")
    with pytest.raises(ValueError, match="distribution must be one of"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="with the default in_axis=-2"):
        init.glorot_uniform()(KEY, (5,))
    with pytest.raises(TypeError, match="real floating dtype"):
        init.normal()(KEY, (2,), np.int32)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal()(KEY, (3,))
    with pytest.raises(ValueError, match="3-D, 4-D or 5-D"):
        init.delta_orthogonal()(KEY, (3, 3))
    with pytest.raises(ValueError, match="must not exceed the output size"):
        init.delta_orthogonal()(KEY, (3, 5, 4))
