"""functrace.random: JAX's keys and streams, on concrete and traced keys.

The generator is checked against Random123's published Threefry-2x32 test vectors, and the
streams against values JAX 0.10.2 (64-bit types enabled) gives for the same key; the
distributions by their moments and frequencies on large samples. Traced keys (jit, vmap, scan,
fori_loop, grad) must give the numbers their concrete values give.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, random
from functrace.ops.random_bits import threefry2x32, threefry2x32_numpy, threefry2x32_p
from functrace.random import _threefry2x32

KEY42 = random.PRNGKey(42)


@pytest.mark.parametrize(("key", "counter", "want"), [
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_known_answers(key, counter, want):
    a, b = _threefry2x32(np.array(key, np.uint32), np.array([counter[0]], np.uint32),
                         np.array([counter[1]], np.uint32))
    assert (int(a[0]), int(b[0])) == want


def test_keys_and_streams_are_jaxs():
    assert KEY42.dtype == np.uint32 and KEY42.tolist() == [0, 42]
    assert random.PRNGKey(-1).tolist() == [4294967295, 4294967295]
    assert random.PRNGKey(2**40 + 3).tolist() == [256, 3]
    assert random.split(KEY42, 3).tolist() == [[1832780943, 270669613], [64467757, 2916123636],
                                              [2465931498, 255383827]]
    assert random.fold_in(KEY42, 7).tolist() == [2547012911, 1371500959]
    assert random.bits(KEY42, (2,)).tolist() == [7871734211187709741, 276886910877598708]
    assert [float(v).hex() for v in random.uniform(KEY42, (3,))] == [
        "0x1.b4f8123c40884p-2", "0x1.ebd996d6e8400p-7", "0x1.25f641d41e71ap-1"]
    u32 = random.uniform(KEY42, (3,), np.float32, -2.0, 3.5)
    assert u32.dtype == np.float32
    assert [float(v).hex() for v in u32] == ["0x1.6034c60000000p-1", "0x1.bd27880000000p+0",
                                             "0x1.63b5d40000000p+0"]
    np.testing.assert_allclose(random.normal(KEY42, (4,)), [
        -0.18471174528191162, -2.169824560397754, 0.18693555179382582, 0.6122653570510959],
        rtol=1e-14)
    np.testing.assert_allclose(random.normal(KEY42, (4,), np.float32), [
        -0.02830461598932743, 0.4671318531036377, 0.2957029640674591, 0.15354591608047485],
        rtol=2e-7)
    assert random.bernoulli(KEY42, 0.3, (8,)).tolist() == [False, True] + [False] * 6
    logits = np.array([[0.1, 0.5, -1.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    assert random.categorical(KEY42, logits).tolist() == [0, 0, 2]


def test_split_keys_give_independent_streams():
    k1, k2 = random.split(KEY42)
    a, b = random.uniform(k1, (20000,)), random.uniform(k2, (20000,))
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    np.testing.assert_array_equal(random.uniform(k1, (5,)), random.uniform(k1, (5,)))


def test_distributions():
    n = 200000
    keys = random.split(KEY42, 6)
    u = random.uniform(keys[0], (n,), minval=-1.0, maxval=3.0)
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.02 and abs(u.var() - 16 / 12) < 0.02
    z = random.normal(keys[1], (n,))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01 and abs((z**3).mean()) < 0.03
    assert abs((np.abs(z) < 1.0).mean() - 0.6827) < 0.005
    z32 = random.normal(keys[1], (n,), np.float32)
    assert z32.dtype == np.float32 and abs(z32.std() - 1) < 0.01
    e = random.exponential(keys[2], (n,))
    assert e.min() >= 0 and abs(e.mean() - 1) < 0.01
    g = random.gumbel(keys[3], (n,))
    assert abs(g.mean() - np.euler_gamma) < 0.01
    p = np.array([0.1, 0.5, 0.9])
    b = random.bernoulli(keys[4], p, (n // 10, 3))
    np.testing.assert_allclose(b.mean(axis=0), p, atol=0.01)
    logits = np.log(np.array([0.2, 0.3, 0.5]))
    c = random.categorical(keys[5], logits, shape=(n,))
    np.testing.assert_allclose(np.bincount(c, minlength=3) / n, [0.2, 0.3, 0.5], atol=0.01)


def test_bits_widths():
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        b = random.bits(KEY42, (1000,), dtype)
        assert b.dtype == dtype and b.max() > np.iinfo(dtype).max // 2
    assert random.bits(KEY42, (3,), np.uint32).tolist() == (
        random.bits(KEY42, (3,), np.uint64) >> np.uint64(32)
        ^ (random.bits(KEY42, (3,), np.uint64) & np.uint64(0xFFFFFFFF))).astype(
            np.uint32).tolist()


def test_random_numbers_feed_transformations():
    w = random.normal(KEY42, (3, 2))
    x = random.uniform(random.fold_in(KEY42, 1), (4, 3))
    g = ft.grad(lambda w: fnp.sum(fnp.tanh(x @ w)))(w)
    np.testing.assert_allclose(g, x.T @ (1 - np.tanh(x @ w) ** 2), rtol=1e-12)


def test_bad_input_errors():
    with pytest.raises(TypeError, match="uint32 array of shape \\(2,\\)"):
        random.normal(np.array([1, 2, 3], np.uint32))
    with pytest.raises(TypeError, match="seed must be an integer"):
        random.PRNGKey(1.5)
    with pytest.raises(OverflowError, match="64 bits"):
        random.PRNGKey(2**64)
    with pytest.raises(OverflowError, match="uint32"):
        random.fold_in(KEY42, -1)
    with pytest.raises(TypeError, match="float32 or float64"):
        random.uniform(KEY42, (2,), np.int32)
    with pytest.raises(ValueError, match="batch shape"):
        random.categorical(KEY42, np.zeros((2, 3)), shape=(4,))


def test_threefry_primitive_compiled_known_answers():
    vectors = np.array([[0, 0, 0, 0], [0xFFFFFFFF] * 4,
                        [0x13198A2E, 0x03707344, 0x243F6A88, 0x85A308D3]], np.uint32)
    want = [[0x6B200159, 0x99BA4EFE], [0x1CB996FC, 0xBB002BE7], [0xC4923A9C, 0x483DF7A0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy fallback inside jit would warn
        got = _JIT_THREEFRY(*vectors.T)
    assert np.stack(got, axis=-1).tolist() == want
    jaxpr = ft.make_jaxpr(threefry2x32)(*vectors.T)
    ft.check_jaxpr(jaxpr.jaxpr)
    assert [e.primitive for e in jaxpr.jaxpr.eqns] == [threefry2x32_p]


_JIT_THREEFRY = ft.jit(threefry2x32)


@pytest.mark.parametrize("in_axes", [(0, 0, None, None), (None, None, 0, 0), (0, None, 1, None),
                                     (0, None, None, 1), (None, 0, None, None)])
def test_threefry_batching_matches_a_loop(in_axes):
    rng = np.random.default_rng(0)
    ops = []
    for j, ax in enumerate(in_axes):
        # key words 0-d unbatched, counters (3,); batched ones get the batch of 4
        base = () if j < 2 else (3,)
        shape = base if ax is None else (base[:ax] + (4,) + base[ax:])
        ops.append(rng.integers(0, 2**32, shape, dtype=np.uint32))
    got = ft.vmap(threefry2x32, in_axes=in_axes)(*ops)
    # compiled only for a few layouts (each compile costs a second)
    got_jit = ft.jit(ft.vmap(threefry2x32, in_axes=in_axes))(*ops) if in_axes[0] == 0 else got
    for b in range(4):
        args = [o if ax is None else np.take(o, b, axis=ax) for o, ax in zip(ops, in_axes)]
        want = threefry2x32_numpy(*args)
        for w, g, gj in zip(want, got, got_jit):
            np.testing.assert_array_equal(g[b], np.broadcast_to(w, (3,)))
            np.testing.assert_array_equal(gj[b], np.broadcast_to(w, (3,)))


def test_threefry_has_no_derivative_and_checks_its_operands():
    out, tangents = ft.jvp(lambda x: threefry2x32(np.uint32(1), np.uint32(2), np.uint32(0), x),
                           (np.arange(3, dtype=np.uint32),), (np.zeros(3, np.uint32),))
    assert np.array_equal(out[0], threefry2x32_numpy(1, 2, 0, np.arange(3, dtype=np.uint32))[0])
    with pytest.raises(TypeError, match="must be uint32"):
        threefry2x32(np.uint32(1), np.uint32(2), np.uint32(0), np.arange(3))
    with pytest.raises(TypeError, match="0-d or all of one shape"):
        threefry2x32(np.zeros(2, np.uint32), np.uint32(2), np.uint32(0),
                     np.arange(3, dtype=np.uint32))


# --- traced keys give the numbers concrete keys give -------------------------------------------

_LOGITS = np.array([[0.1, 0.5, -1.0], [2.0, 0.0, 0.0]])
_X = np.arange(12.0).reshape(3, 4)
_P = np.array([0.1, 0.2, 0.3, 0.05, 0.35])


def _draw_everything(k):
    """One of each sampler, so that one compiled program covers them all."""
    return dict(
        split=random.split(k, 3), fold_in=random.fold_in(k, 7),
        fold_in_traced=random.fold_in(k, k[1]),
        bits64=random.bits(k, (5,)), bits32=random.bits(k, (2, 3), np.uint32),
        bits8=random.bits(k, (7,), np.uint8), uniform=random.uniform(k, (50,)),
        uniform32=random.uniform(k, (50,), np.float32, -2.0, 3.5),
        uniform_ab=random.uniform(k, (50,), np.float64, -2.0, 3.3),
        normal=random.normal(k, (50,)), normal_scalar=random.normal(k),
        normal32=random.normal(k, (50,), np.float32),
        bernoulli=random.bernoulli(k, 0.3, (40,)),
        bernoulli_p=random.bernoulli(k, np.array([0.2, 0.9])),
        exponential=random.exponential(k, (20,)), gumbel=random.gumbel(k, (20,)),
        categorical=random.categorical(k, _LOGITS),
        randint=random.randint(k, (20,), -3, 100),
        randint8=random.randint(k, (20,), -128, 1000, np.int8),
        randint_u64=random.randint(k, (20,), 0, 2**63 + 5, np.uint64),
        permutation=random.permutation(k, 10), permutation_x=random.permutation(k, _X, 1),
        permutation_ind=random.permutation(k, _X, 1, independent=True),
        shuffle=random.shuffle(k, _X), choice=random.choice(k, 10, (5,)),
        choice_x=random.choice(k, _X, (2,), axis=1),
        choice_norep=random.choice(k, _X, (2,), replace=False),
        choice_p=random.choice(k, 5, (20,), p=_P),
        choice_p_norep=random.choice(k, 5, (3,), replace=False, p=_P),
        truncated=random.truncated_normal(k, -1.0, 2.0, (20,)),
        truncated32=random.truncated_normal(k, -1.0, 2.0, (20,), np.float32),
    )


# compiled transcendental functions (log, log1p) may differ from NumPy's in the last bit
_ULP_TOLERANT = {"normal32", "exponential", "gumbel", "truncated", "truncated32"}
# one compiled program for a representative subset (compiling all of them takes half a minute)
_JIT_NAMES = ("split", "fold_in_traced", "bits64", "bits8", "uniform32", "uniform_ab", "normal",
              "normal32", "bernoulli", "gumbel", "categorical", "randint", "permutation_x",
              "choice_p", "truncated")
_JIT_DRAW = ft.jit(lambda k: {n: v for n, v in _draw_everything(k).items() if n in _JIT_NAMES})
_KEYS3 = random.split(KEY42, 3)


def _assert_same(got, want, name, exact):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, name
    if exact or name not in _ULP_TOLERANT:
        np.testing.assert_array_equal(got, want, err_msg=name)
    else:
        np.testing.assert_array_max_ulp(got, want, maxulp=8)


def test_jit_draws_what_eager_draws():
    want = _draw_everything(KEY42)
    got = _JIT_DRAW(KEY42)
    assert set(got) == set(_JIT_NAMES)
    for name in _JIT_NAMES:
        _assert_same(got[name], want[name], name, exact=False)


def test_vmap_over_keys_draws_what_a_loop_draws():
    loop = [_draw_everything(k) for k in _KEYS3]
    got = ft.vmap(_draw_everything)(_KEYS3)
    for name in loop[0]:
        _assert_same(got[name], np.stack([d[name] for d in loop]), name, exact=True)
    # the brief's example: a batch of keys, one normal vector each
    keys = random.split(KEY42, 4)
    np.testing.assert_array_equal(ft.vmap(lambda k: random.normal(k, (3,)))(keys),
                                  np.stack([random.normal(k, (3,)) for k in keys]))


def test_jit_of_vmap_over_keys():
    f = ft.jit(ft.vmap(lambda k: (random.uniform(k, (4,)), random.randint(k, (3,), 0, 9),
                                  random.permutation(k, 6))))
    got = f(_KEYS3)
    for i, k in enumerate(_KEYS3):
        np.testing.assert_array_equal(got[0][i], random.uniform(k, (4,)))
        np.testing.assert_array_equal(got[1][i], random.randint(k, (3,), 0, 9))
        np.testing.assert_array_equal(got[2][i], random.permutation(k, 6))


def _scan_draws(key):
    def body(k, _):
        k, sub = random.split(k)
        return k, random.normal(sub, (3,))
    return lax.scan(body, key, None, length=4)


def test_scan_and_fori_loop_carry_keys():
    k, want = KEY42, []
    for _ in range(4):
        k, sub = random.split(k)
        want.append(random.normal(sub, (3,)))
    for fn in (_scan_draws, ft.jit(_scan_draws)):
        last, ys = fn(KEY42)
        np.testing.assert_array_equal(ys, np.stack(want))
        np.testing.assert_array_equal(last, k)

    def fori(key):
        return lax.fori_loop(0, 5, lambda i, acc: acc + random.uniform(random.fold_in(key, i),
                                                                          (2,)), np.zeros(2))
    total = sum(random.uniform(random.fold_in(KEY42, i), (2,)) for i in range(5))
    np.testing.assert_array_equal(fori(KEY42), total)
    np.testing.assert_array_equal(ft.jit(fori)(KEY42), total)


def test_grad_through_samplers_treats_the_key_as_constant():
    w = np.array([0.5, -1.0, 2.0])

    def f(w, k):
        return fnp.sum(w * random.normal(k, (3,))) + fnp.sum(w ** 2 * random.uniform(k, (3,)))
    want = random.normal(KEY42, (3,)) + 2 * w * random.uniform(KEY42, (3,))
    np.testing.assert_array_equal(ft.grad(f)(w, KEY42), want)
    np.testing.assert_array_equal(ft.jit(ft.grad(f))(w, KEY42), want)
    np.testing.assert_array_equal(ft.vmap(ft.grad(f), in_axes=(None, 0))(w, _KEYS3),
                                  np.stack([ft.grad(f)(w, k) for k in _KEYS3]))

    # a key carried through a differentiated scan next to the parameters
    def g(w):
        def body(carry, _):
            acc, k = carry
            k, sub = random.split(k)
            return (acc + fnp.sum(w * random.normal(sub, (3,))), k), None
        (acc, _), _ = lax.scan(body, (0.0, KEY42), None, length=3)
        return acc
    k, draws = KEY42, np.zeros(3)
    for _ in range(3):
        k, sub = random.split(k)
        draws = draws + random.normal(sub, (3,))
    np.testing.assert_allclose(ft.grad(g)(w), draws, rtol=1e-14)
    np.testing.assert_allclose(ft.jit(ft.grad(g))(w), draws, rtol=1e-14)


def test_a_jitted_sampler_is_a_handful_of_equations():
    x = np.ones((8, 16))
    jaxpr = ft.make_jaxpr(lambda k, x: x * random.bernoulli(k, 0.9, x.shape))(KEY42, x).jaxpr
    names = [e.primitive.name for e in jaxpr.eqns]
    assert names.count("threefry2x32") == 1 and len(names) <= 24, names
    normal = ft.make_jaxpr(lambda k: random.normal(k, (3,)))(KEY42).jaxpr
    assert len(normal.eqns) <= 30


# --- training steps with randomness inside jit -------------------------------------------------

def _mlp_loss(params, key, x, y, rate=0.25):
    w1, b1, w2, b2 = params
    h = fnp.tanh(x @ w1 + b1)
    keep = random.bernoulli(key, 1.0 - rate, h.shape)
    h = fnp.where(keep, h / (1.0 - rate), 0.0)
    return fnp.mean((h @ w2 + b2 - y) ** 2)


@ft.jit
def _dropout_step(params, key, x, y):
    key, sub = random.split(key)
    loss, grads = ft.value_and_grad(_mlp_loss)(params, sub, x, y)
    return [p - 0.1 * g for p, g in zip(params, grads)], key, loss


def test_dropout_mlp_training_step_under_jit():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 1))
    params = [rng.normal(size=(4, 8)) * 0.5, np.zeros(8), rng.normal(size=(8, 1)) * 0.5,
              np.zeros(1)]
    # one step against the same step eagerly (the same dropout mask from the same key)
    new, key, loss = _dropout_step(params, KEY42, x, y)
    k2, sub = random.split(KEY42)
    eager_loss, eager_grads = ft.value_and_grad(_mlp_loss)(params, sub, x, y)
    np.testing.assert_array_equal(key, k2)
    np.testing.assert_allclose(loss, eager_loss, rtol=1e-12)
    for p, n, g in zip(params, new, eager_grads):
        np.testing.assert_allclose(n, p - 0.1 * g, rtol=1e-12, atol=1e-14)
    # the gradient with the mask fixed is the derivative of the loss (numerical check)
    w1 = params[0]
    num = ft.numerical_jacobian(lambda w: _mlp_loss([w] + params[1:], sub, x, y), w1)
    np.testing.assert_allclose(eager_grads[0], num, rtol=1e-6, atol=1e-9)
    # and training makes progress
    losses = []
    for _ in range(30):
        params, key, loss = _dropout_step(params, key, x, y)
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def _vae_loss(params, key, x):
    """A one-layer Gaussian VAE: the reparameterisation z = mu + sigma * eps."""
    we, wmu, wlv, wd = params
    h = fnp.tanh(x @ we)
    mu, logvar = h @ wmu, h @ wlv
    eps = random.normal(key, mu.shape)
    z = mu + fnp.exp(0.5 * logvar) * eps
    recon = fnp.sum((fnp.tanh(z @ wd) - x) ** 2)
    kl = -0.5 * fnp.sum(1.0 + logvar - mu ** 2 - fnp.exp(logvar))
    return (recon + kl) / x.shape[0]


_VAE_GRAD = ft.jit(ft.grad(_vae_loss))


def test_vae_step_gradient_matches_numerical_differentiation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4))
    params = [rng.normal(size=s) * 0.4 for s in ((4, 3), (3, 2), (3, 2), (2, 4))]
    key = random.fold_in(KEY42, 3)
    grads = _VAE_GRAD(params, key, x)
    for i, p in enumerate(params):
        num = ft.numerical_jacobian(
            lambda v, i=i: _vae_loss(params[:i] + [v] + params[i + 1:], key, x), p)
        np.testing.assert_allclose(grads[i], num, rtol=1e-6, atol=1e-8)
    # another key, other noise: another gradient
    other = _VAE_GRAD(params, random.fold_in(KEY42, 4), x)
    assert not np.allclose(other[0], grads[0])


# --- the samplers JAX has that came later: values (JAX's) and distributions --------------------

def test_new_samplers_give_jaxs_numbers():
    # the literals below were computed with jax.random (0.10.2, jax_enable_x64) and PRNGKey(42)
    x = np.arange(12).reshape(3, 4)
    assert random.key_data(random.key(7)).tolist() == [0, 7]
    assert random.randint(KEY42, (6,), -3, 100).tolist() == [76, 55, 3, 83, 71, 26]
    r8 = random.randint(KEY42, (6,), -128, 1000, np.int8)
    assert r8.dtype == np.int8 and r8.tolist() == [68, -110, 55, 65, 13, -21]
    assert random.randint(KEY42, (2, 3), np.array([0, 10, 20]), 50, np.int32).tolist() == [
        [44, 44, 41], [19, 39, 29]]
    assert random.permutation(KEY42, 10).tolist() == [7, 4, 2, 5, 3, 6, 8, 9, 0, 1]
    assert random.permutation(KEY42, x, axis=1).tolist() == [[2, 3, 0, 1], [6, 7, 4, 5],
                                                            [10, 11, 8, 9]]
    assert random.permutation(KEY42, x, axis=1, independent=True).tolist() == [
        [2, 3, 0, 1], [7, 4, 5, 6], [10, 11, 8, 9]]
    assert random.choice(KEY42, 10, (5,)).tolist() == [5, 8, 3, 1, 5]
    assert random.choice(KEY42, 10, (5,), replace=False).tolist() == [7, 4, 2, 5, 3]
    assert random.choice(KEY42, 5, (8,), p=_P).tolist() == [2, 4, 2, 1, 2, 2, 2, 2]
    assert random.choice(KEY42, 5, (3,), replace=False, p=_P).tolist() == [4, 2, 3]
    assert random.choice(KEY42, x, (2,), axis=1).tolist() == [[1, 2], [5, 6], [9, 10]]
    np.testing.assert_allclose(random.truncated_normal(KEY42, -1.0, 2.0, (4,)), [
        0.01998452592513169, -0.9504476695340623, 0.32827144083703297, 0.693751830608632],
        rtol=1e-13)
    np.testing.assert_allclose(random.truncated_normal(KEY42, -1.0, 2.0, (3,), np.float32), [
        0.14770005643367767, 0.5684449076652527, 0.42102551460266113], rtol=1e-6)


def test_new_samplers_distributions():
    n = 60000
    keys = random.split(KEY42, 5)
    r = random.randint(keys[0], (n,), -2, 3)
    assert r.dtype == np.int64 and r.min() == -2 and r.max() == 2
    np.testing.assert_allclose(np.bincount(r + 2) / n, [0.2] * 5, atol=0.01)
    full = random.randint(keys[0], (4000,), 0, 256, np.uint8)  # maxval beyond uint8: full range
    assert full.max() > 250 and full.min() < 5
    assert (random.randint(keys[0], (5,), 4, 4) == 4).all()
    perms = np.stack([random.permutation(k, 5) for k in random.split(keys[1], 3000)])
    assert (np.sort(perms, axis=1) == np.arange(5)).all()
    np.testing.assert_allclose((perms == 0).mean(axis=0), [0.2] * 5, atol=0.03)
    c = random.choice(keys[2], 5, (n,), p=_P)
    np.testing.assert_allclose(np.bincount(c, minlength=5) / n, _P, atol=0.01)
    first = np.array([random.choice(k, 5, (2,), replace=False, p=_P)
                      for k in random.split(keys[3], 3000)])
    assert (first[:, 0] != first[:, 1]).all()
    np.testing.assert_allclose(np.bincount(first[:, 0], minlength=5) / 3000, _P, atol=0.03)
    t = random.truncated_normal(keys[4], -0.5, 1.5, (n,))
    assert t.min() > -0.5 and t.max() < 1.5
    # the mean of a standard normal truncated to (a, b): (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    from math import erf, exp, pi, sqrt
    phi = lambda v: exp(-v * v / 2) / sqrt(2 * pi)
    cdf = lambda v: 0.5 * (1 + erf(v / sqrt(2)))
    assert abs(t.mean() - (phi(-0.5) - phi(1.5)) / (cdf(1.5) - cdf(-0.5))) < 0.01
    s = random.shuffle(keys[4], np.arange(20))
    assert sorted(s.tolist()) == list(range(20)) and s.tolist() != list(range(20))


def test_keys_new_style_and_traced_seeds():
    assert random.key(5).tolist() == random.PRNGKey(5).tolist()
    np.testing.assert_array_equal(random.wrap_key_data(random.split(KEY42)),
                                  random.split(KEY42))
    np.testing.assert_array_equal(ft.jit(random.PRNGKey)(np.int64(-1)), random.PRNGKey(-1))
    np.testing.assert_array_equal(ft.vmap(random.PRNGKey)(np.array([2**40 + 3, 7])),
                                  [random.PRNGKey(2**40 + 3), random.PRNGKey(7)])
    # a 32-bit seed fills the low word only, as in JAX
    assert ft.jit(random.key)(np.int32(-1)).tolist() == [0, 4294967295]


def test_new_bad_input_errors():
    with pytest.raises(TypeError, match=r"random\.normal: a key is a uint32 array of shape"):
        ft.jit(lambda k: random.normal(k, (2,)))(np.zeros(2, np.int32))
    with pytest.raises(TypeError, match=r"random\.uniform: .*batch of keys: map over it"):
        random.uniform(random.split(KEY42, 3), (2,))
    with pytest.raises(TypeError, match=r"random\.permutation: .* must be concrete"):
        ft.jit(lambda n: random.permutation(KEY42, n))(5)
    with pytest.raises(ValueError, match="without replacement"):
        random.choice(KEY42, 3, (4,), replace=False)
    with pytest.raises(ValueError, match=r"p must have shape \(5,\)"):
        random.choice(KEY42, 5, (2,), p=np.ones(4) / 4)
    with pytest.raises(TypeError, match="integer type"):
        random.randint(KEY42, (2,), 0, 5, np.float64)
    with pytest.raises(TypeError, match="last axis has size 2"):
        random.key_data(np.zeros(3, np.uint32))
    with pytest.raises(ValueError, match="threefry2x32"):
        random.wrap_key_data(KEY42, impl="rbg")
