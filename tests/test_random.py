"""functrace.random: JAX's keys and streams.

The generator is checked against Random123's published Threefry-2x32 test vectors, and the
streams against values JAX 0.10.2 (64-bit types enabled) gives for the same key; the
distributions by their moments and frequencies on large samples.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import random
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
    with pytest.raises(TypeError, match="traced key"):
        ft.jit(lambda k: random.uniform(k, (2,)))(KEY42)
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
