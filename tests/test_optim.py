"""Tests for functrace.optim against step-by-step NumPy references of each update rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import optim
from functrace.tree_util import tree_leaves, tree_map

STEPS = 4


def _params(dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(3, 2)).astype(dtype), "b": rng.normal(size=2).astype(dtype)}


def _grads(dtype=np.float32):
    rng = np.random.default_rng(1)
    return [{"w": rng.normal(size=(3, 2)).astype(dtype), "b": rng.normal(size=2).astype(dtype)}
            for _ in range(STEPS)]


def _run(opt, params, grads):
    """Apply ``opt`` over the gradient sequence; return the parameters and updates per step."""
    state = opt.init(params)
    history = []
    for g in grads:
        updates, state = opt.update(g, state, params)
        params = optim.apply_updates(params, updates)
        history.append((params, updates))
    return history, state


def _check(history, reference, dtype):
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for (params, updates), (ref_params, ref_updates) in zip(history, reference, strict=True):
        for k in ("w", "b"):
            assert updates[k].dtype == dtype and params[k].dtype == dtype
            np.testing.assert_allclose(updates[k], ref_updates[k], rtol=rtol, atol=rtol * 1e-2)
            np.testing.assert_allclose(params[k], ref_params[k], rtol=rtol, atol=rtol * 1e-2)


# ---------------------------------------------------------------------------------------------
# NumPy references (float64, written out step by step)
# ---------------------------------------------------------------------------------------------


def _ref_loop(params, grads, rule):
    p = {k: v.astype(np.float64) for k, v in params.items()}
    state: dict = {}
    out = []
    for t, g in enumerate(grads, start=1):
        u = {k: rule(k, g[k].astype(np.float64), p[k], t, state) for k in p}
        p = {k: p[k] + u[k] for k in p}
        out.append((p, u))
    return out


def _ref_sgd(lr, momentum=0.0, nesterov=False):
    def rule(k, g, p, t, state):
        if not momentum:
            return -lr * g
        tr = g + momentum * state.get(k, 0.0)
        state[k] = tr
        return -lr * (g + momentum * tr if nesterov else tr)
    return rule


def _ref_adam(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    def rule(k, g, p, t, state):
        m, v = state.get(k, (0.0, 0.0))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        state[k] = (m, v)
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return -lr * (m_hat / (np.sqrt(v_hat) + eps) + wd * p)
    return rule


def _ref_rmsprop(lr, decay=0.9, eps=1e-8, momentum=0.0, centered=False):
    def rule(k, g, p, t, state):
        nu, mu, tr = state.get(k, (0.0, 0.0, 0.0))
        nu = decay * nu + (1 - decay) * g * g
        mu = decay * mu + (1 - decay) * g
        scaled = g / np.sqrt(nu - mu * mu + eps) if centered else g / np.sqrt(nu + eps)
        tr = scaled + momentum * tr
        state[k] = (nu, mu, tr)
        return -lr * (tr if momentum else scaled)
    return rule


# ---------------------------------------------------------------------------------------------
# Optimisers over several steps
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd(dtype, momentum, nesterov):
    opt = optim.sgd(0.1, momentum=momentum, nesterov=nesterov)
    history, _ = _run(opt, _params(dtype), _grads(dtype))
    _check(history, _ref_loop(_params(dtype), _grads(dtype), _ref_sgd(0.1, momentum, nesterov)),
           dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_and_adamw(dtype, wd):
    opt = optim.adam(0.05, b1=0.8, b2=0.95, eps=1e-6, weight_decay=wd)
    history, state = _run(opt, _params(dtype), _grads(dtype))
    _check(history, _ref_loop(_params(dtype), _grads(dtype),
                              _ref_adam(0.05, 0.8, 0.95, 1e-6, wd)), dtype)
    adam_state = state[0]
    assert adam_state.count.dtype == np.int32 and int(adam_state.count) == STEPS
    assert all(x.dtype == dtype for x in tree_leaves((adam_state.mu, adam_state.nu)))


def test_adamw_defaults_match_adam_with_weight_decay():
    a, _ = _run(optim.adamw(0.01), _params(), _grads())
    b, _ = _run(optim.adam(0.01, weight_decay=1e-4), _params(), _grads())
    for (pa, _), (pb, _) in zip(a, b):
        np.testing.assert_array_equal(pa["w"], pb["w"])
    c, _ = _run(optim.adam(0.01), _params(), _grads())
    assert not np.array_equal(a[-1][0]["w"], c[-1][0]["w"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True)])
def test_rmsprop(dtype, momentum, centered):
    opt = optim.rmsprop(0.01, decay=0.8, eps=1e-6, momentum=momentum, centered=centered)
    history, _ = _run(opt, _params(dtype), _grads(dtype))
    _check(history, _ref_loop(_params(dtype), _grads(dtype),
                              _ref_rmsprop(0.01, 0.8, 1e-6, momentum, centered)), dtype)


def test_first_adam_step_is_lr_times_sign():
    # with zero moments, bias correction makes the first step -lr * g / (|g| + eps)
    g = {"w": np.array([3.0, -0.5], np.float32)}
    updates, _ = optim.adam(0.1).update(g, optim.adam(0.1).init(g), g)
    np.testing.assert_allclose(updates["w"], [-0.1, 0.1], rtol=2e-5)  # 1 - b2 in float32


# ---------------------------------------------------------------------------------------------
# Clipping and chains
# ---------------------------------------------------------------------------------------------


def test_clip_by_global_norm():
    g = {"a": np.array([3.0, 0.0], np.float32), "b": np.array([[4.0]], np.float32)}  # norm 5
    clip = optim.clip_by_global_norm(1.0)
    out, _ = clip.update(g, clip.init(g))
    np.testing.assert_allclose(float(optim.global_norm(out)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["a"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["b"], [[0.8]], rtol=1e-6)
    assert out["a"].dtype == np.float32 and out["b"].dtype == np.float32
    loose = optim.clip_by_global_norm(10.0)
    same, _ = loose.update(g, loose.init(g))
    np.testing.assert_array_equal(same["a"], g["a"])
    np.testing.assert_array_equal(same["b"], g["b"])


def test_chain_clip_then_sgd():
    opt = optim.chain(optim.clip_by_global_norm(0.5), optim.sgd(0.1))
    g = {"x": np.array([0.0, 2.0])}
    state = opt.init(g)
    assert isinstance(state, tuple) and len(state) == 2
    updates, _ = opt.update(g, state)
    np.testing.assert_allclose(updates["x"], [0.0, -0.05])


def test_mixed_precision_pytree_keeps_each_dtype():
    params = {"half": np.ones(2, np.float32), "full": np.ones(2, np.float64)}
    opt = optim.chain(optim.clip_by_global_norm(0.1),
                      optim.adam(optim.exponential_decay(0.1, 0.5, 2)))
    history, _ = _run(opt, params, [params, params])
    for p, u in history:
        assert p["half"].dtype == u["half"].dtype == np.float32
        assert p["full"].dtype == u["full"].dtype == np.float64


def test_errors():
    with pytest.raises(ValueError, match="params"):
        opt = optim.adam(0.1, weight_decay=0.1)
        opt.update(_grads()[0], opt.init(_params()))
    with pytest.raises(ValueError, match="nesterov"):
        optim.sgd(0.1, nesterov=True)
    opt = optim.chain(optim.sgd(0.1), optim.sgd(0.1))
    with pytest.raises(ValueError, match="state for 1"):
        opt.update(_grads()[0], (optim.EmptyState(),))
    with pytest.raises(ValueError, match="decay_steps"):
        optim.cosine_decay_schedule(1.0, 0)
    with pytest.raises(ValueError, match="boundaries"):
        optim.join_schedules([optim.constant_schedule(1.0)] * 2, [])


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


def _values(schedule, steps):
    return np.array([float(schedule(np.int32(s))) for s in steps])


def test_constant_and_exponential_decay():
    assert optim.constant_schedule(0.3)(np.int32(7)) == 0.3
    steps = [0, 1, 5, 10]
    np.testing.assert_allclose(_values(optim.exponential_decay(2.0, 0.5, 10), steps),
                               [2.0 * 0.5 ** (s / 10) for s in steps], rtol=1e-12)
    stair = optim.exponential_decay(2.0, 0.5, 4, staircase=True)
    np.testing.assert_allclose(_values(stair, [0, 3, 4, 9]), [2.0, 2.0, 1.0, 0.5])
    delayed = optim.exponential_decay(1.0, 0.1, 1, transition_begin=3, end_value=0.01)
    np.testing.assert_allclose(_values(delayed, [0, 3, 4, 5, 9]), [1.0, 1.0, 0.1, 0.01, 0.01],
                               rtol=1e-12)
    assert float(optim.exponential_decay(1.0, 0.5, 2)(4)) == 0.25  # Python ints work too


def test_cosine_decay():
    s = optim.cosine_decay_schedule(1.0, 10, alpha=0.1)
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(k, 10) / 10))
                for k in (0, 2, 5, 10, 20)]
    np.testing.assert_allclose(_values(s, [0, 2, 5, 10, 20]), expected, rtol=1e-12)
    np.testing.assert_allclose(_values(s, [5]), [0.55], rtol=1e-12)


def test_warmup_cosine_decay():
    s = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=14,
                                           end_value=0.1)
    got = _values(s, [0, 1, 2, 4, 9, 14, 30])
    expected = [0.0, 0.25, 0.5, 1.0, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 10)),
                0.1, 0.1]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_learning_rate_schedule_drives_the_steps():
    lr = optim.linear_schedule(1.0, 0.0, 4)  # 1, 0.75, 0.5, 0.25
    params = {"x": np.zeros(1, np.float32)}
    grads = [{"x": np.ones(1, np.float32)}] * 3
    history, state = _run(optim.sgd(lr), params, grads)
    np.testing.assert_allclose([u["x"][0] for _, u in history], [-1.0, -0.75, -0.5])
    assert history[-1][0]["x"].dtype == np.float32
    assert int(state[-1].count) == 3 and state[-1].count.dtype == np.int32


# ---------------------------------------------------------------------------------------------
# Inside transformations
# ---------------------------------------------------------------------------------------------


def _loss(params, x, y):
    pred = fnp.tanh(x * params["w"] + params["b"])
    return fnp.sum((pred - y) * (pred - y))


def _train_step(opt):
    def step(params, state, x, y):
        loss, g = ft.value_and_grad(_loss)(params, x, y)
        updates, state = opt.update(g, state, params)
        return optim.apply_updates(params, updates), state, loss
    return step


def _data():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    return x, np.tanh(0.7 * x - 0.2).astype(np.float32)


@pytest.mark.parametrize("make_opt", [
    lambda: optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.1, 2, 10), weight_decay=1e-3),
    lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1, 0.9, nesterov=True)),
    lambda: optim.rmsprop(optim.exponential_decay(0.01, 0.9, 3), momentum=0.5),
])
def test_staged_training_step_matches_eager(make_opt):
    opt = make_opt()
    step = _train_step(opt)
    params = {"w": np.ones(5, np.float32), "b": np.zeros(5, np.float32)}
    state = opt.init(params)
    x, y = _data()
    closed = ft.make_jaxpr(step)(params, state, x, y)
    ft.check_jaxpr(closed)
    flat_in = tree_leaves((params, state, x, y))
    # a step count is an input of the program (so a jitted step never retraces)
    n_counts = sum(np.asarray(leaf).dtype == np.int32 for leaf in tree_leaves(state))
    assert n_counts == sum(v.aval.dtype == np.int32 and v.aval.shape == ()
                           for v in closed.jaxpr.invars)
    for _ in range(3):
        eager = step(params, state, x, y)
        staged = ft.eval_jaxpr(closed.jaxpr, closed.consts, *flat_in)
        for a, b in zip(tree_leaves(eager), staged, strict=True):
            assert np.asarray(a).dtype == np.asarray(b).dtype
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        params, state = eager[0], eager[1]
        flat_in = tree_leaves((params, state, x, y))


def test_jitted_training_step():
    jit = pytest.importorskip("functrace.jit").jit
    opt = optim.adam(optim.cosine_decay_schedule(0.05, 10))
    step = jit(_train_step(opt))
    params = {"w": np.ones(5, np.float32), "b": np.zeros(5, np.float32)}
    state = opt.init(params)
    x, y = _data()
    eager_params, eager_state = params, state
    for _ in range(3):
        params, state, loss = step(params, state, x, y)
        eager_params, eager_state, _ = _train_step(opt)(eager_params, eager_state, x, y)
    assert params["w"].dtype == np.float32 and state[0].count.dtype == np.int32
    assert int(state[0].count) == 3
    np.testing.assert_allclose(params["w"], eager_params["w"], rtol=1e-5)
    np.testing.assert_allclose(params["b"], eager_params["b"], rtol=1e-5, atol=1e-7)


def test_grad_through_an_optimiser_step():
    # one SGD step on f(p) = p**2 / 2 gives p' = p - lr * p; d f(p') / d lr = -p'(p) * p
    def after_step(lr, p):
        opt = optim.sgd(lr)
        updates, _ = opt.update({"p": p}, opt.init({"p": p}))
        new = optim.apply_updates({"p": p}, updates)["p"]
        return 0.5 * new * new

    lr, p = 0.3, 2.0
    g = ft.grad(after_step)(lr, p)
    np.testing.assert_allclose(g, -(p - lr * p) * p, rtol=1e-12)


@pytest.mark.parametrize("opt", [optim.sgd(0.05, momentum=0.9), optim.adam(0.1),
                                 optim.rmsprop(0.02)], ids=["sgd", "adam", "rmsprop"])
def test_training_loop_decreases_a_quadratic(opt):
    a = np.array([[3.0, 1.0], [1.0, 2.0]], np.float32)
    target = np.array([1.0, -2.0], np.float32)

    def loss(p):
        r = fnp.sum(a * p["x"], axis=1) - target
        return fnp.sum(r * r)

    params = {"x": np.zeros(2, np.float32)}
    state = opt.init(params)
    first = float(loss(params))
    for _ in range(150):
        g = ft.grad(loss)(params)
        updates, state = opt.update(g, state, params)
        params = optim.apply_updates(params, updates)
    assert params["x"].dtype == np.float32
    assert float(loss(params)) < 1e-2 * first
    np.testing.assert_allclose(params["x"], np.linalg.solve(a, target), atol=0.1)
    tree_map(lambda v: v, state)  # the state is a pytree
